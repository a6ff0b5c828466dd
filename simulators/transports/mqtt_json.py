"""MQTT JSON: one JSON object per uplink on ``{root}/up/{profile}/{device}``
(QoS 1), canonical field names plus ``ts`` (the device's own time, integer
ns) — what the ``*_json_v1`` profiles decode."""

from __future__ import annotations

import os
from typing import Any

import orjson

from mimamori.bus import Bus
from mimamori.topics import Topics

from ..model import DeviceModel
from .base import Transport


def json_payload(ts_ns: int, fields: dict[str, Any]) -> bytes:
    """The payload of one uplink.

    >>> json_payload(1767225600000000000, {"water_level_cm": 4.5})
    b'{"ts":1767225600000000000,"water_level_cm":4.5}'
    """
    return orjson.dumps({"ts": ts_ns, **fields})


def _encoder_for(profile_id: str):
    try:
        from .payloads import profile

        p = profile(profile_id)
    except (KeyError, ImportError):
        return json_payload
    if p.codec.kind != "json" or not hasattr(p, "encode"):
        return json_payload
    try:
        p.encode({}, None, ts_ns=1)
    except (NotImplementedError, TypeError, ValueError):
        return json_payload
    return lambda ts_ns, fields: p.encode(fields, None, ts_ns=ts_ns)


class MqttJsonTransport(Transport):
    name = "mqtt_json"

    def open(self, devices: list[DeviceModel]) -> None:
        self.topics = Topics(self.settings.bus.topic_root)
        self.bus = Bus(self.settings.mqtt, f"{self.client_id}-{self.name}-{os.getpid()}",
                       persistent=False).connect()
        self._infos: list = []
        self._older: list = []
        self._encoders: dict = {}

    def send(self, device: DeviceModel, ts_ns: int, fields: dict[str, Any]) -> None:
        payload = self._encode(device.profile, ts_ns, fields)
        self._infos.append(self.bus.publish(self.topics.up(device.profile, device.device_id),
                                            payload))
        self.sent += 1

    def _encode(self, profile_id: str, ts_ns: int, fields: dict[str, Any]) -> bytes:
        """The profile's own JSON (e.g. ``level_mm`` for ``paddy_json_v1``)
        when it can encode, else canonical names plus ``ts``."""
        enc = self._encoders.get(profile_id)
        if enc is None:
            enc = self._encoders[profile_id] = _encoder_for(profile_id)
        return enc(ts_ns, fields)

    def flush(self) -> None:
        infos, self._infos, self._older = self._older + self._infos, [], []
        self.bus.wait_published(infos)

    def settle(self) -> None:
        older, self._older, self._infos = self._older, self._infos, []
        self.bus.wait_published(older)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.bus.close()
