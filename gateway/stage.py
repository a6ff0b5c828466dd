"""The gateway stage as the runtime starts it: the MQTT gateway (device
topics, ChirpStack/TTS integration topics) and, unless disabled, the
LoRaWAN packet-forwarder listener."""

from __future__ import annotations

from mimamori.config import Settings
from mimamori.registry import Registry

from .mqtt_gateway import MqttGateway


class GatewayStage:
    def __init__(self, settings: Settings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or Registry(settings.registry)
        self.mqtt = MqttGateway(settings, self.registry)
        self.lorawan = None
        if settings.lorawan.enabled:
            from .lorawan.udp_server import LorawanGateway

            self.lorawan = LorawanGateway(settings, self.registry)

    @property
    def published(self) -> int:
        return self.mqtt.published + (self.lorawan.published if self.lorawan else 0)

    def start(self) -> GatewayStage:
        self.mqtt.start()
        if self.lorawan is not None:
            try:
                self.lorawan.start()
            except BaseException:
                self.mqtt.stop()
                raise
        return self

    def stop(self) -> None:
        if self.lorawan is not None and self.lorawan.sock is not None:
            self.lorawan.stop()
        self.mqtt.stop()
