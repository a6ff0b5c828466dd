"""MQTT binary: the device's compact payload (its profile's default layout;
MQTT carries no FPort) on ``{root}/up/{profile}/{device}``, QoS 1. The
gateway stamps receive time (binary payloads carry no clock)."""

from __future__ import annotations

from typing import Any

from ..model import DeviceModel
from .mqtt_json import MqttJsonTransport
from .payloads import encode, frames_for


class MqttBinaryTransport(MqttJsonTransport):
    name = "mqtt_binary"

    def send(self, device: DeviceModel, ts_ns: int, fields: dict[str, Any]) -> None:
        for port, _confirmed, f in frames_for(device.profile, fields, with_fport=False):
            payload = encode(device.profile, f, port)
            self._infos.append(self.bus.publish(
                self.topics.up(device.profile, device.device_id), payload))
            self.sent += 1
