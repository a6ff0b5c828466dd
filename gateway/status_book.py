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
>>> slow = StatusBook(Topics("t"), min_interval_s=5)
>>> slow.due(r, 0), slow.due(r, 10**9), slow.due(r, 6 * 10**9)
(True, False, True)
"""

from __future__ import annotations

from typing import Any

import orjson

from mimamori.contracts import Reading
from mimamori.topics import Topics


class StatusBook:
    """``min_interval_s``: a device's status is republished at most this
    often (the first reading, and a changed gateway set, always are), so a
    busy fleet does not double the broker's message rate."""

    def __init__(self, topics: Topics, min_interval_s: float = 0.0) -> None:
        self.topics = topics
        self.min_interval_ns = int(min_interval_s * 1e9)
        self._battery: dict[str, float] = {}
        self._last: dict[str, tuple[int, tuple]] = {}  # device → (published at, gateways)

    def due(self, r: Reading, now_ns: int) -> bool:
        """Whether this reading's status should be published now."""
        gws = tuple(sorted(str(g.get("id") if isinstance(g, dict) else g)
                           for g in (r.meta or {}).get("gateways") or []))
        last = self._last.get(r.device_id)
        if last is not None and now_ns - last[0] < self.min_interval_ns and last[1] == gws:
            bat = r.fields.get("battery_pct")
            if isinstance(bat, (int, float)) and not isinstance(bat, bool):
                self._battery[r.device_id] = float(bat)
            return False
        self._last[r.device_id] = (now_ns, gws)
        return True

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
