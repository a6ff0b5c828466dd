"""Simulated time: integer nanoseconds UTC, Japan local time (JST, UTC+9,
no daylight saving) for daily rhythms, and the duration/time strings used in
scenario files.

>>> parse_duration("1h30m")
5400
>>> parse_duration("2d")
172800
>>> local_hour(parse_time("2026-06-01T07:30:00+09:00"))
7.5
>>> weekday(parse_time("2026-06-01T12:00:00+09:00"))  # a Monday
0
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

NS = 1_000_000_000
JST = timezone(timedelta(hours=9))
JST_OFFSET_S = 9 * 3600
DAY_S = 86400

_DUR = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNIT = {"w": 7 * DAY_S, "d": DAY_S, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str | int | float) -> int:
    """``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"``, ``"1w"`` or a number of
    seconds → whole seconds."""
    if isinstance(text, (int, float)):
        return int(text)
    s = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for m in _DUR.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h30m, 2d")
    return int(total)


def parse_time(text: str | datetime) -> int:
    """An ISO 8601 time (JST when it carries no zone) → ns UTC."""
    dt = text if isinstance(text, datetime) else datetime.fromisoformat(str(text))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=JST)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def local_seconds(ts_ns: int) -> float:
    """Seconds since 1970-01-01 00:00 JST."""
    return ts_ns / NS + JST_OFFSET_S


def local_hour(ts_ns: int) -> float:
    return (local_seconds(ts_ns) % DAY_S) / 3600


def day_index(ts_ns: int) -> int:
    """Days since 1970-01-01 in JST (changes at local midnight)."""
    return int(local_seconds(ts_ns) // DAY_S)


def day_start_ns(day: int) -> int:
    return (day * DAY_S - JST_OFFSET_S) * NS


def weekday(ts_ns: int) -> int:
    """Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return (day_index(ts_ns) + 3) % 7


def local_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


def day_of_year(day: int) -> int:
    return local_date(day).timetuple().tm_yday


def iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS, JST).isoformat(timespec="seconds")
