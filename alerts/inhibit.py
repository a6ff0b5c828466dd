"""Inhibition: an alert that another, wider alert explains is kept but not sent.

* A LoRa gateway is offline → devices heard *only* through offline gateways
  raise no silence alerts of their own; the gateway's alert goes to the
  operator instead.
* A pipe burst in a district → no low-pressure alerts in that district.

Pure logic: the stage feeds it gateway and device status and the open alerts.

>>> inh = Inhibitor()
>>> inh.device_heard_by("tag-1", ["gw-1"])
>>> inh.gateway_state("gw-1", online=False)
>>> inh.reason({"kind": "device_silent", "device_id": "tag-1", "site": "s"}, [])
'gateway_offline:gw-1'
>>> inh.reason({"kind": "pressure_out_of_range", "device_id": "wm-2", "site": "d-1",
...             "evidence": {"value": 0.1, "low": 0.2}},
...            [{"kind": "burst", "site": "d-1", "device_id": "wm-1"}])
'burst:wm-1'
"""

from __future__ import annotations

from typing import Any

SILENCE_KINDS = {"device_silent"}
LOW_PRESSURE_KINDS = {"pressure_out_of_range", "pressure_transient"}
# the only kinds of active alert that :meth:`Inhibitor.reason` looks at
INHIBITING_KINDS = ("gateway_offline", "burst")


def is_low_pressure(alert: dict[str, Any]) -> bool:
    if alert.get("kind") not in LOW_PRESSURE_KINDS:
        return False
    ev = alert.get("evidence") or {}
    if ev.get("direction") in ("low", "drop"):
        return True
    value, low = ev.get("value"), ev.get("low")
    if isinstance(value, (int, float)) and isinstance(low, (int, float)):
        return value < low
    return alert.get("kind") == "pressure_transient"


class Inhibitor:
    def __init__(self) -> None:
        self.offline: set[str] = set()
        self.heard_by: dict[str, set[str]] = {}

    def gateway_state(self, gateway_id: str, online: bool) -> None:
        if online:
            self.offline.discard(gateway_id)
        else:
            self.offline.add(gateway_id)

    def device_heard_by(self, device_id: str, gateways: list[str]) -> None:
        if gateways:
            self.heard_by[device_id] = set(gateways)

    def reason(self, alert: dict[str, Any], active: list[dict[str, Any]]) -> str | None:
        """Why this alert is inhibited, or None. ``active`` = open alerts."""
        kind = alert.get("kind")
        if kind in SILENCE_KINDS:
            offline = set(self.offline)
            offline |= {a["device_id"] for a in active if a.get("kind") == "gateway_offline"}
            heard = self.heard_by.get(alert.get("device_id", ""))
            if heard and heard <= offline:
                return "gateway_offline:" + ",".join(sorted(heard))
        if is_low_pressure(alert):
            for a in active:
                if a.get("kind") == "burst" and a.get("site") == alert.get("site"):
                    return f"burst:{a['device_id']}"
        return None
