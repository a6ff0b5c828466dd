"""Readings for the pages and the API: the latest point of a device and its
history, read from InfluxDB with InfluxQL (the v1 ``/query`` API).

A thin adapter: the rest of ``dashboards/`` talks to :class:`Telemetry`
only, so the storage query layer can change underneath it.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.influx import InfluxClient, InfluxError, InfluxUnavailable

FAMILIES = ("wearable", "child_tag", "paddy", "water_main")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
# resolution → (GROUP BY interval or None for raw points)
RESOLUTIONS = {"raw": None, "1m": "1m", "1h": "1h"}


def family_of(profile: str) -> str:
    """The measurement of a device's readings, from its profile id.

    >>> family_of("paddy_json_v1"), family_of("child_tag_v1"), family_of("thermo_x")
    ('paddy', 'child_tag', 'generic')
    """
    for fam in FAMILIES:
        if profile == fam or profile.startswith(fam + "_"):
            return fam
    return "generic"


def _lit(s: str) -> str:
    if not _NAME.match(s):
        raise ValueError(f"not a plain id: {s!r}")
    return "'" + s + "'"


def _ident(s: str) -> str:
    if not _NAME.match(s):
        raise ValueError(f"not a plain name: {s!r}")
    return '"' + s + '"'


def choose_resolution(span_s: float) -> str:
    """raw up to 6 hours, 1-minute means up to 2 days, hourly beyond.

    >>> choose_resolution(3600), choose_resolution(86400), choose_resolution(7 * 86400)
    ('raw', '1m', '1h')
    """
    if span_s <= 6 * 3600:
        return "raw"
    if span_s <= 2 * 86400:
        return "1m"
    return "1h"


class Telemetry:
    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def _rows(self, q: str) -> list[dict[str, Any]]:
        try:
            return self.client.points(q)
        except InfluxError as exc:
            if "database not found" in str(exc):
                return []
            raise

    def latest(self, device_id: str, measurement: str) -> dict[str, Any] | None:
        """The newest value of each field (each may come from a different
        point) and ``time`` = the newest point's time in ns; None if silent."""
        rows = self._rows(f"SELECT last(*) FROM {_ident(measurement)} "
                          f"WHERE device_id = {_lit(device_id)} AND time > now() - 30d")
        if not rows:
            return None
        row = rows[0]
        out: dict[str, Any] = {k.removeprefix("last_"): v for k, v in row.items()
                               if k.startswith("last_") and v is not None}
        newest = self._rows(f"SELECT * FROM {_ident(measurement)} WHERE device_id = "
                            f"{_lit(device_id)} AND time > now() - 30d ORDER BY time DESC LIMIT 1")
        out["time"] = newest[0]["time"] if newest else row.get("time")
        return out

    def history(self, device_id: str, measurement: str, fields: list[str], since_s: float,
                resolution: str | None = None) -> dict[str, list[tuple[int, float]]]:
        """field → [(ts_ns, value)] over the last ``since_s`` seconds; means per
        minute or hour when ``resolution`` says so (default: by the span)."""
        res = resolution or choose_resolution(since_s)
        if res not in RESOLUTIONS:
            raise ValueError(f"resolution is one of {', '.join(RESOLUTIONS)}")
        every = RESOLUTIONS[res]
        where = f"WHERE device_id = {_lit(device_id)} AND time > now() - {int(since_s)}s"
        if every:
            sel = ", ".join(f"mean({_ident(f)}) AS {_ident(f)}" for f in fields)
            q = f"SELECT {sel} FROM {_ident(measurement)} {where} GROUP BY time({every}) fill(none)"
        else:
            sel = ", ".join(_ident(f) for f in fields)
            q = f"SELECT {sel} FROM {_ident(measurement)} {where}"
        rows = self._rows(q)
        return {f: [(r["time"], r[f]) for r in rows if r.get(f) is not None] for f in fields}


__all__ = ["InfluxUnavailable", "Telemetry", "choose_resolution", "family_of"]
