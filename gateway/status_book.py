"""Retained status messages the gateway keeps up to date (DESIGN.md):

* ``{root}/status/device/{device_id}`` — last seen, RSSI/SNR, battery, the
  gateways that heard it, the transport;
* ``{root}/status/gateway/{gateway_id}`` — a LoRa gateway online/offline
  from its keepalives, its last ``stat``.

Pure: returns (topic, payload) pairs; the stage publishes them retained.
Deciding that a device has gone silent is analytics' job, not this one.

>>> from mimamori.contracts import Family, Reading
>>> from mimamori.topics import Topics
>>> b = StatusBook(Topics("t"))
>>> r = Reading("d1", "p", Family.PADDY, "s", 5, {"battery_pct": 80.0},
...             {"transport": "lorawan", "rssi": -80, "snr": 7.5, "gateways": [{"id": "g1"}]})
>>> topic, body = b.device(r)
>>> topic, orjson.loads(body)["battery_pct"], orjson.loads(body)["gateways"]
('t/status/device/d1', 80.0, ['g1'])
"""

from __future__ import annotations

from typing import Any

import orjson

from mimamori.contracts import Reading
from mimamori.topics import Topics


class StatusBook:
    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self._battery: dict[str, float] = {}

    def device(self, r: Reading, received_ns: int | None = None) -> tuple[str, bytes]:
        bat = r.fields.get("battery_pct")
        if isinstance(bat, (int, float)) and not isinstance(bat, bool):
            self._battery[r.device_id] = float(bat)
        m = r.meta or {}
        gws = [g.get("id") if isinstance(g, dict) else g for g in m.get("gateways") or []]
        doc: dict[str, Any] = {
            "device_id": r.device_id,
            "profile": r.profile,
            "site": r.site,
            "last_seen_ns": r.ts_ns,
            "received_ns": received_ns,
            "transport": m.get("transport", "mqtt"),
            "rssi": m.get("rssi"),
            "snr": m.get("snr"),
            "battery_pct": self._battery.get(r.device_id),
            "gateways": [g for g in gws if g],
        }
        if "fcnt" in m:
            doc["fcnt"] = m["fcnt"]
        return self.topics.device_status(r.device_id), orjson.dumps(doc)

    def gateway(self, gateway_id: str, online: bool, last_seen_ns: int,
                stat: dict[str, Any] | None = None) -> tuple[str, bytes]:
        doc = {"gateway_id": gateway_id, "online": online, "last_seen_ns": last_seen_ns,
               "stat": stat or {}}
        return self.topics.gateway_status(gateway_id), orjson.dumps(doc)
