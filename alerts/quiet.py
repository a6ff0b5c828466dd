"""Quiet hours: when a recipient does not want non-critical messages.

``quiet_hours`` is ``["22:00", "07:00"]`` in the town's time zone (it may
wrap past midnight). :func:`release_time` says when a message may go out:
now, or the end of the quiet period. Critical alerts override it.

>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Asia/Tokyo")
>>> release_time(["22:00", "07:00"], datetime(2026, 5, 1, 23, 30, tzinfo=tz)).hour
7
>>> now = datetime(2026, 5, 1, 12, 0, tzinfo=tz)
>>> release_time(["22:00", "07:00"], now) == now
True
"""

from __future__ import annotations

from datetime import datetime, time, timedelta


def _t(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def release_time(quiet_hours: list[str] | None, now: datetime) -> datetime:
    """``now`` if outside the quiet period, else when it ends (same tz as now)."""
    if not quiet_hours or len(quiet_hours) != 2:
        return now
    try:
        start, end = _t(quiet_hours[0]), _t(quiet_hours[1])
    except ValueError:
        return now  # a malformed setting never silences anyone
    if start == end:
        return now
    t = now.timetz().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
    else:
        inside = t >= start or t < end
    if not inside:
        return now
    end_dt = now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_dt <= now:
        end_dt += timedelta(days=1)
    return end_dt
