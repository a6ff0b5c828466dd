"""Reading readings back: the query layer for the web UI and analytics.

* :meth:`ReadingsQuery.latest` — the latest reading of each device.
* :meth:`ReadingsQuery.totals` — one device's amount field (e.g. ``rain_mm``,
  the rain since the previous reading) summed per 10 minutes or hour, from
  the raw series: a mean of the downsampled series is no total.
* :meth:`ReadingsQuery.history` — one device's fields over a time range,
  from the raw, 1-minute or 1-hour series, chosen by :func:`choose_resolution`
  (or asked for). A downsampled series with nothing in the range (e.g. data
  loaded with old timestamps, before any continuous query ran) is computed
  from the raw series instead, while that is still kept.

InfluxQL is built safely: every value that comes from outside (device ids,
times, limits) is a **bound parameter** (``$name``, sent apart from the
query text, never spliced into it); measurement names come from a fixed
list; field names must be plain identifiers and are quoted. Anything else is
refused with :class:`QueryError`.

>>> choose_resolution(3600 * 10**9, "paddy")
'raw'
>>> choose_resolution(3 * 86400 * 10**9, "paddy")
'1m'
>>> choose_resolution(90 * 86400 * 10**9, "paddy")
'1h'
>>> choose_resolution(90 * 86400 * 10**9, "location")
'raw'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mimamori.config import Settings

from .influx import InfluxClient
from .points import LOCATION_MEASUREMENT
from .schema import SENSOR_MEASUREMENTS, InfluxV1Layout, StorageLayout, quote_ident

MEASUREMENTS = frozenset(SENSOR_MEASUREMENTS) | {LOCATION_MEASUREMENT}
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
RAW_MAX_SPAN_NS = 6 * 3600 * 10**9  # up to 6 h: raw points (≤ a few thousand a device)
MIN_MAX_SPAN_NS = 8 * 86400 * 10**9  # up to 8 days: 1-minute means (≤ 11,520)
MAX_DEVICES = 5000
MAX_POINTS = 20000
TOTAL_BUCKETS = ("10m", "1h")


class QueryError(ValueError):
    """A query was refused (bad measurement, field, range or limit)."""


def choose_resolution(span_ns: int, measurement: str) -> str:
    if measurement == LOCATION_MEASUREMENT or span_ns <= RAW_MAX_SPAN_NS:
        return "raw"
    return "1m" if span_ns <= MIN_MAX_SPAN_NS else "1h"


def _measurement(m: str) -> str:
    if m not in MEASUREMENTS:
        raise QueryError(f"unknown measurement {m!r}; one of {sorted(MEASUREMENTS)}")
    return m


def _fields(fields: list[str] | None) -> list[str] | None:
    if fields is None:
        return None
    if not fields:
        raise QueryError("ask for at least one field (or None for all)")
    for f in fields:
        if not isinstance(f, str) or not _FIELD.fullmatch(f):
            raise QueryError(f"field name {f!r} is not a plain identifier")
    return list(dict.fromkeys(fields))


def _device_id(d: Any) -> str:
    if not isinstance(d, str) or not d or len(d) > 200:
        raise QueryError("a device id is a non-empty string")
    return d


def _time(t: Any, what: str) -> int:
    if type(t) is not int or t < 0:
        raise QueryError(f"{what} must be integer nanoseconds UTC")
    return t


@dataclass(slots=True)
class History:
    device_id: str
    measurement: str
    resolution: str  # raw | 1m | 1h
    source: str  # the series read: raw, ds_1m, ds_1h, or raw→1m / raw→1h (computed)
    # Each point: {"time": ns, field: value, ...}; aggregated series add
    # f"{field}_min" and f"{field}_max".
    points: list[dict[str, Any]] = field(default_factory=list)


class ReadingsQuery:
    def __init__(self, settings: Settings, client: InfluxClient | None = None,
                 layout: StorageLayout | None = None) -> None:
        self._own = client is None
        self.client = client or InfluxClient(settings.reader_influx())
        self.layout = layout or InfluxV1Layout(self.client, settings.ingest, settings.influx)

    def close(self) -> None:
        if self._own:
            self.client.close()

    def _from(self, measurement: str, resolution: str) -> tuple[str, str]:
        s = self.layout.series(measurement, resolution)
        return f"{quote_ident(s.retention_policy)}.{quote_ident(s.measurement)}", s.field_prefix

    # -- latest ------------------------------------------------------------------
    def latest(self, measurement: str, device_ids: list[str] | None = None,
               since_ns: int | None = None) -> dict[str, dict[str, Any]]:
        """device id → its last point in ``measurement`` (``time`` in ns, the
        fields, ``site`` and ``profile``). ``device_ids`` None = every device."""
        src, _ = self._from(_measurement(measurement), "raw")
        params: dict[str, Any] = {}
        where = []
        if device_ids is not None:
            ids = [_device_id(d) for d in device_ids]
            if not ids:
                return {}
            if len(ids) > MAX_DEVICES:
                raise QueryError(f"at most {MAX_DEVICES} devices per query")
            ors = []
            for i, d in enumerate(ids):
                params[f"d{i}"] = d
                ors.append(f'"device_id" = $d{i}')
            where.append("(" + " OR ".join(ors) + ")")
        if since_ns is not None:
            params["since"] = _time(since_ns, "since_ns")
            where.append("time >= $since")
        q = f"SELECT * FROM {src}"
        if where:
            q += " WHERE " + " AND ".join(where)
        q += ' GROUP BY "device_id" ORDER BY time DESC LIMIT 1'
        out: dict[str, dict[str, Any]] = {}
        for row in self.client.points(q, params=params):
            dev = row.pop("device_id")
            out[dev] = {k: v for k, v in row.items() if v is not None}
        return out

    # -- history -----------------------------------------------------------------
    def history(self, device_id: str, measurement: str, start_ns: int, end_ns: int,
                fields: list[str] | None = None, resolution: str = "auto",
                limit: int = MAX_POINTS) -> History:
        """Points of one device in [start_ns, end_ns), oldest first."""
        device_id = _device_id(device_id)
        measurement = _measurement(measurement)
        start_ns, end_ns = _time(start_ns, "start_ns"), _time(end_ns, "end_ns")
        if end_ns <= start_ns:
            raise QueryError("end_ns must be after start_ns")
        if type(limit) is not int or not 0 < limit <= MAX_POINTS:
            raise QueryError(f"limit must be 1..{MAX_POINTS}")
        fields = _fields(fields)
        if resolution == "auto":
            resolution = choose_resolution(end_ns - start_ns, measurement)
        if resolution not in ("raw", "1m", "1h"):
            raise QueryError("resolution must be auto, raw, 1m or 1h")
        if measurement == LOCATION_MEASUREMENT:
            resolution = "raw"
        params = {"device": device_id, "start": start_ns, "end": end_ns}
        where = '"device_id" = $device AND time >= $start AND time < $end'
        if resolution == "raw":
            src, _ = self._from(measurement, "raw")
            cols = ", ".join(quote_ident(f) for f in fields) if fields else "*"
            q = f"SELECT {cols} FROM {src} WHERE {where} ORDER BY time ASC LIMIT {limit}"
            rows = self.client.points(q, params=params)
            for r in rows:
                for tag in ("device_id", "site", "profile"):
                    r.pop(tag, None)
            return History(device_id, measurement, "raw", "raw", rows)
        src, prefix = self._from(measurement, resolution)
        if fields:
            cols = ", ".join(quote_ident(f"{a}_{f}") for f in fields
                             for a in ("mean", "min", "max"))
        else:
            cols = "*"
        q = f"SELECT {cols} FROM {src} WHERE {where} ORDER BY time ASC LIMIT {limit}"
        rows = self.client.points(q, params=params)
        source = self.layout.series(measurement, resolution).retention_policy
        if not rows:  # nothing downsampled here: compute it from raw
            raw_src, _ = self._from(measurement, "raw")
            if fields:
                cols = ", ".join(f"{a}({quote_ident(f)}) AS {quote_ident(f'{a}_{f}')}"
                                 for f in fields for a in ("mean", "min", "max"))
            else:
                cols = "mean(*), min(*), max(*)"
            q = (f"SELECT {cols} FROM {raw_src} WHERE {where} "
                 f"GROUP BY time({resolution}) fill(none) ORDER BY time ASC LIMIT {limit}")
            rows = self.client.points(q, params=params)
            source = f"raw→{resolution}"
        return History(device_id, measurement, resolution, source,
                       [_unprefix(r) for r in rows])

    # -- totals ------------------------------------------------------------------
    def totals(self, device_id: str, measurement: str, start_ns: int, end_ns: int,
               field_name: str, every: str = "1h") -> list[tuple[int, float]]:
        """[(bucket start ns, sum of ``field_name``)] in [start_ns, end_ns),
        oldest first; buckets with no reading are left out (no data is not 0)."""
        device_id = _device_id(device_id)
        measurement = _measurement(measurement)
        start_ns, end_ns = _time(start_ns, "start_ns"), _time(end_ns, "end_ns")
        if end_ns <= start_ns:
            raise QueryError("end_ns must be after start_ns")
        fname = _fields([field_name])[0]
        if every not in TOTAL_BUCKETS:
            raise QueryError(f"every must be one of {TOTAL_BUCKETS}")
        src, _ = self._from(measurement, "raw")
        q = (f"SELECT sum({quote_ident(fname)}) AS \"total\" FROM {src} "
             'WHERE "device_id" = $device AND time >= $start AND time < $end '
             f"GROUP BY time({every}) fill(none) ORDER BY time ASC LIMIT {MAX_POINTS}")
        rows = self.client.points(q, params={"device": device_id, "start": start_ns,
                                             "end": end_ns})
        return [(r["time"], r["total"]) for r in rows if r.get("total") is not None]


def _unprefix(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"time": row["time"]}
    for k, v in row.items():
        if k.startswith("mean_"):
            out[k[5:]] = v
        elif k.startswith(("min_", "max_")):
            out[f"{k[4:]}_{k[:3]}"] = v
    return out
