"""Readings for the pages and the API: the latest point of a device and its
history — a thin adapter over ingest's query layer
(:class:`ingest.query.ReadingsQuery`: raw, 1-minute or 1-hour series, bound
parameters), so the rest of ``dashboards/`` talks to :class:`Telemetry` only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.influx import InfluxError, InfluxUnavailable
from ingest.query import QueryError, ReadingsQuery
from ingest.query import choose_resolution as _choose
from mimamori.config import Settings

FAMILIES = ("wearable", "child_tag", "paddy", "water_main")
LATEST_WITHIN_S = 30 * 86400


@dataclass(frozen=True)
class ProfileFacts:
    family: str
    interval_s: int
    fields: frozenset[str]


@lru_cache(maxsize=1)
def profile_facts() -> dict[str, ProfileFacts]:
    """What the pages need to know of each installed profile (empty when the
    profiles cannot be loaded: a broken profile file must not stop the pages)."""
    try:
        from device_profiles.profile import load_profiles

        return {pid: ProfileFacts(p.family.value, int(p.interval_s), frozenset(p.fields))
                for pid, p in load_profiles().items()}
    except Exception:  # noqa: BLE001
        return {}


def is_rain_gauge(profile: str) -> bool:
    """A device that measures rain (a ``rain_mm`` field), not water in a field.

    >>> is_rain_gauge("rain_gauge_v1"), is_rain_gauge("paddy_v1")
    (True, False)
    """
    from device_profiles.profile import measures_rain

    facts = profile_facts().get(profile)
    return facts is not None and measures_rain(facts.fields)


def family_of(profile: str) -> str:
    """The measurement of a device's readings: its profile's family, else
    guessed from the profile id.

    >>> family_of("paddy_json_v1"), family_of("child_tag_v1"), family_of("thermo_x")
    ('paddy', 'child_tag', 'generic')
    >>> family_of("rain_gauge_v1")  # a rain gauge is stored beside the fields' water
    'paddy'
    """
    facts = profile_facts().get(profile)
    if facts is not None:
        return facts.family
    for fam in FAMILIES:
        if profile == fam or profile.startswith(fam + "_"):
            return fam
    return "generic"


def choose_resolution(span_s: float, measurement: str = "paddy") -> str:
    """ingest's rule: raw up to 6 h, 1-minute means up to 8 days, hourly beyond.

    >>> choose_resolution(3600), choose_resolution(86400), choose_resolution(30 * 86400)
    ('raw', '1m', '1h')
    """
    return _choose(int(span_s * 1e9), measurement)


def _missing(exc: InfluxError) -> bool:
    text = str(exc)
    return "database not found" in text or "retention policy not found" in text


class Telemetry:
    def __init__(self, settings: Settings) -> None:
        self.query = ReadingsQuery(settings)

    def close(self) -> None:
        self.query.close()

    def latest(self, device_id: str, measurement: str) -> dict[str, Any] | None:
        """The device's newest point (``time`` in ns and its fields) in the last
        30 days, or None."""
        since = time.time_ns() - LATEST_WITHIN_S * 10**9
        try:
            row = self.query.latest(measurement, [device_id], since_ns=since).get(device_id)
        except InfluxError as exc:
            if _missing(exc):
                return None
            raise
        if row is not None:
            row = {k: v for k, v in row.items() if k not in ("site", "profile")}
        return row

    def history(self, device_id: str, measurement: str, fields: list[str], since_s: float,
                resolution: str | None = None) -> dict[str, list[tuple[int, float]]]:
        """field → [(ts_ns, value)] over the last ``since_s`` seconds, raw or the
        means per minute or hour (``resolution`` None: chosen by the span)."""
        end = time.time_ns()
        try:
            h = self.query.history(device_id, measurement, end - int(since_s * 1e9), end, fields,
                                   resolution or "auto")
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        except InfluxError as exc:
            if _missing(exc):
                return {f: [] for f in fields}
            raise
        return {f: [(p["time"], p[f]) for p in h.points if p.get(f) is not None] for f in fields}

    def totals(self, device_id: str, measurement: str, field: str, since_s: float,
               every: str = "1h") -> list[tuple[int, float]]:
        """[(bucket start ns, sum)] of an amount (e.g. ``rain_mm``) per hour
        over the last ``since_s`` seconds; hours without readings left out."""
        end = time.time_ns()
        try:
            return self.query.totals(device_id, measurement, end - int(since_s * 1e9), end,
                                     field, every)
        except QueryError as exc:
            raise ValueError(str(exc)) from None
        except InfluxError as exc:
            if _missing(exc):
                return []
            raise


__all__ = ["InfluxUnavailable", "Telemetry", "choose_resolution", "family_of", "is_rain_gauge",
           "profile_facts"]
