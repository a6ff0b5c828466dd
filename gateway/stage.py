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
        self.auth_watcher = None
        if settings.mqtt.auth and settings.mqtt.managed:
            # keep the broker's users and ACLs in step with the registry
            from mimamori.mqtt_auth import MqttAuthWatcher

            self.auth_watcher = MqttAuthWatcher(settings, self.registry)
        if settings.lorawan.enabled:
            from .lorawan.udp_server import LorawanGateway

            self.lorawan = LorawanGateway(settings, self.registry)

    @property
    def published(self) -> int:
        return self.mqtt.published + (self.lorawan.published if self.lorawan else 0)

    def start(self) -> GatewayStage:
        if self.auth_watcher is not None:
            self.auth_watcher.start()
        self.mqtt.start()
        if self.lorawan is not None:
            try:
                self.lorawan.start()
            except BaseException:
                self.mqtt.stop()
                raise
        return self

    def stop(self) -> None:
        if self.auth_watcher is not None:
            self.auth_watcher.stop()
        if self.lorawan is not None and self.lorawan.sock is not None:
            self.lorawan.stop()
        self.mqtt.stop()
