"""Backtest: run the detectors over stored InfluxDB history and report the
findings they would have produced (nothing is published).

Readings are rebuilt from the family measurements (``wearable``,
``child_tag``, ``paddy``, ``water_main``) and the people's ``location``
measurement (lat/lon/accuracy of the same device and time), then replayed
per device in time order through :class:`~analytics.engine.Engine` with the
registry's settings as context.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from mimamori.contracts import Family, FindingState, Reading

from .engine import Engine

MEASUREMENTS = {"wearable": Family.WEARABLE, "child_tag": Family.CHILD_TAG,
                "paddy": Family.PADDY, "water_main": Family.WATER_MAIN}
TAGS = ("time", "device_id", "site", "profile")


def parse_time(text: str) -> int:
    """ISO 8601 (JST when no zone) → ns UTC."""
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone(dt.timedelta(hours=9)))
    return int(t.timestamp() * 1_000_000_000)


def load_readings(influx: Any, start_ns: int, end_ns: int) -> list[Reading]:
    where = f"time >= {start_ns} AND time < {end_ns}"
    locs: dict[tuple[str, int], dict[str, Any]] = {}
    for row in influx.points(f'SELECT * FROM "location" WHERE {where}'):
        locs[(row.get("device_id"), row["time"])] = {
            k: v for k, v in row.items() if k not in TAGS and v is not None}
    out: list[Reading] = []
    for meas, fam in MEASUREMENTS.items():
        for row in influx.points(f'SELECT * FROM "{meas}" WHERE {where}'):
            fields = {k: v for k, v in row.items() if k not in TAGS and v is not None}
            fields.update(locs.pop((row.get("device_id"), row["time"]), {}))
            if fields and row.get("device_id"):
                out.append(Reading(row["device_id"], row.get("profile") or "", fam,
                                   row.get("site") or "", int(row["time"]), fields))
    out.sort(key=lambda r: (r.device_id, r.ts_ns))
    return out


def backtest(readings: list[Reading], profiles: dict[str, Any],
             settings_for: Any = None, end_ns: int | None = None) -> dict[str, Any]:
    by_device: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_device[r.device_id].append(r)
    findings: list[dict[str, Any]] = []
    for device_id, rs in sorted(by_device.items()):
        eng = Engine(profiles, settings_for)
        for r in rs:
            findings += [f.to_dict() for f in eng.process(r)]
        if end_ns is not None:
            findings += [f.to_dict() for f in eng.advance(end_ns)]
    opened = [f for f in findings if f["state"] == FindingState.OPENED.value]
    return {"devices": len(by_device), "readings": len(readings),
            "opened": len(opened),
            "opened_by_kind": dict(sorted(Counter(f["kind"] for f in opened).items())),
            "opened_by_device": dict(sorted(Counter(f["device_id"] for f in opened).items())),
            "findings": findings}
