"""What a page says about a person, a field or a district — pure logic, no I/O.

>>> NOW = 1_800_000_000 * 10**9
>>> person_state({"battery_pct": 80.0}, NOW - 60 * 10**9, 600, [], NOW).level
'ok'
>>> s = person_state({"battery_pct": 12.0}, NOW - 5 * 3600 * 10**9, 600, [], NOW)
>>> s.level, s.reasons
('check', ['silent', 'battery_low'])
>>> band_for_day([{"stage": "heading", "from": "07-10", "to": "08-10", "min_cm": 5, "max_cm": 10}],
...              7, 20).stage
'heading'
>>> field_state(3.0, WaterBand("heading", 5, 10))
'low'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SILENT_AFTER_INTERVALS = 3
BATTERY_LOW_PCT = 20.0
SEVERITY_RANK = {"info": 0, "low": 1, "warning": 2, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True)
class PersonState:
    level: str  # ok | check | unknown
    reasons: list[str] = field(default_factory=list)
    last_seen_ns: int | None = None
    battery_pct: float | None = None


def person_state(latest: dict[str, Any] | None, last_seen_ns: int | None, interval_s: float,
                 active_alerts: list[Any], now_ns: int) -> PersonState:
    """元気です (ok) unless something needs a look: an open alert, silence for
    more than three reporting intervals, a low battery, or the device not worn."""
    if latest is None or last_seen_ns is None:
        return PersonState("unknown", ["no_data"])
    reasons = []
    if any(getattr(a, "state", "open") == "open" for a in active_alerts):
        reasons.append("alert_open")
    elif active_alerts:
        reasons.append("alert_acknowledged")
    if now_ns - last_seen_ns > SILENT_AFTER_INTERVALS * interval_s * 1e9:
        reasons.append("silent")
    battery = latest.get("battery_pct")
    if isinstance(battery, (int, float)) and battery < BATTERY_LOW_PCT:
        reasons.append("battery_low")
    if latest.get("worn") is False:
        reasons.append("not_worn")
    level = "check" if [r for r in reasons if r != "alert_acknowledged"] else "ok"
    return PersonState(level, reasons, last_seen_ns,
                       float(battery) if isinstance(battery, (int, float)) else None)


@dataclass(frozen=True)
class WaterBand:
    stage: str
    min_cm: float
    max_cm: float


# Koshihikari, early season in Mie (DOMAIN.md §3): transplant 4–7 cm, tillering
# 2–3 cm, mid-season drain (中干し) ~0, heading 5–10 cm, then drained.
DEFAULT_CROP_CALENDAR: list[dict[str, Any]] = [
    {"stage": "transplant", "from": "04-25", "to": "05-15", "min_cm": 4, "max_cm": 7},
    {"stage": "tillering", "from": "05-16", "to": "06-10", "min_cm": 2, "max_cm": 3},
    {"stage": "midseason_drain", "from": "06-11", "to": "06-25", "min_cm": 0, "max_cm": 1},
    {"stage": "booting", "from": "06-26", "to": "07-10", "min_cm": 3, "max_cm": 6},
    {"stage": "heading", "from": "07-11", "to": "08-05", "min_cm": 5, "max_cm": 10},
    {"stage": "ripening", "from": "08-06", "to": "08-25", "min_cm": 1, "max_cm": 4},
]


def _md(s: str) -> tuple[int, int]:
    m, d = s.split("-")
    return int(m), int(d)


def band_for_day(calendar: list[dict[str, Any]] | None, month: int, day: int) -> WaterBand | None:
    """The crop stage and target band on a calendar day (ranges may wrap the year end)."""
    today = (month, day)
    for st in calendar if calendar is not None else DEFAULT_CROP_CALENDAR:
        a, b = _md(st["from"]), _md(st["to"])
        inside = a <= today <= b if a <= b else (today >= a or today <= b)
        if inside:
            return WaterBand(st["stage"], float(st["min_cm"]), float(st["max_cm"]))
    return None


def field_state(level_cm: float | None, band: WaterBand | None) -> str:
    """low / ok / high against the band; unknown without a reading, no_target off-season."""
    if level_cm is None:
        return "unknown"
    if band is None:
        return "no_target"
    if level_cm < band.min_cm:
        return "low"
    if level_cm > band.max_cm:
        return "high"
    return "ok"


def district_state(active_alerts: list[Any], pressure_mpa: float | None,
                   low_mpa: float = 0.15, high_mpa: float = 0.74) -> str:
    """alert (an open burst/leak/pressure alert), warn (pressure outside the
    standard 0.15–0.74 MPa), ok, or unknown without data."""
    if any(getattr(a, "state", "open") in ("open", "acknowledged") for a in active_alerts):
        return "alert"
    if pressure_mpa is None:
        return "unknown"
    if not (low_mpa <= pressure_mpa <= high_mpa):
        return "warn"
    return "ok"


def min_night_flow(points: list[tuple[int, float]], tz_offset_h: int = 9,
                   hours: tuple[int, int] = (2, 4)) -> list[tuple[int, float]]:
    """Per local day, the minimum of hourly flow between 02:00 and 04:59 (the
    night window where a growing leak shows); ``points`` are (ts_ns, m³/h).

    >>> H = 3600 * 10**9
    >>> pts = [(h * H, 5.0 + (h % 24 == 18)) for h in range(48)]
    >>> [v for _, v in min_night_flow(pts, tz_offset_h=0)]
    [5.0, 5.0]
    """
    per_day: dict[int, float] = {}
    lo, hi = hours
    for ts, v in points:
        if v is None:
            continue
        local_s = ts // 10**9 + tz_offset_h * 3600
        day, hour = divmod(local_s, 86400)
        if lo <= hour // 3600 <= hi:
            per_day[day] = min(v, per_day.get(day, v))
    return [((d * 86400 - tz_offset_h * 3600) * 10**9, v) for d, v in sorted(per_day.items())]
