"""How simulated uplinks reach the platform. A transport is a small class
(:class:`~simulators.transports.base.Transport`) registered here by name;
scenario groups pick one with ``transport:``.

Transports that need other parts of the platform (binary codecs, LoRaWAN
frames, HTTP ingest) register only when those parts are installed.
"""

from __future__ import annotations

import importlib

from .base import Transport, TransportUnavailable

# name → "module:Class"; loaded lazily so a missing optional part only
# matters to scenarios that use it.
TRANSPORTS: dict[str, str] = {
    "mqtt_json": "simulators.transports.mqtt_json:MqttJsonTransport",
    "mqtt_binary": "simulators.transports.mqtt_binary:MqttBinaryTransport",
    "lorawan": "simulators.transports.lorawan:LoraWanTransport",
    "http": "simulators.transports.http:HttpTransport",
}


def transport_class(name: str) -> type[Transport]:
    target = TRANSPORTS.get(name)
    if target is None:
        raise TransportUnavailable(f"unknown transport {name!r}; known: {', '.join(TRANSPORTS)}")
    module, attr = target.split(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        raise TransportUnavailable(f"transport {name!r} is not available here ({exc})") from None


__all__ = ["TRANSPORTS", "Transport", "TransportUnavailable", "transport_class"]
