"""Tipping-bucket rain gauge (転倒ます型雨量計), one per farming area: it
measures the scenario's town weather (:class:`simulators.weather.Weather`,
the same rain that fills the paddies), so a gauge and the fields around it
agree.

Rain runs into a 0.5 mm bucket; each time the bucket is full it tips and
the logger counts one tip. Every 10 minutes the gauge sends the tips since
its last uplink (``rain_mm`` = tips × 0.5 mm); water short of a full bucket
stays in it for the next interval, so no rain is lost to rounding. Profiles
``rain_gauge_v1`` (LoRaWAN binary) and ``rain_gauge_json_v1`` (MQTT JSON).

Anomalies: ``battery_dead``, ``silent`` (every family's).

>>> from simulators.weather import Weather
>>> from simulators.timebase import parse_time
>>> t0 = parse_time("2026-06-01T00:00:00")
>>> w = Weather(5)
>>> g = RainGauge("raingauge-0001", "field-raingauge-0001", seed=5, start_ns=t0,
...               end_ns=t0 + 30 * 86400 * 10**9, weather=w)
>>> out = []
>>> g.run_until(t0 + 30 * 86400 * 10**9, out)
>>> len(out), all(f["rain_mm"] * 2 == int(f["rain_mm"] * 2) for _, f in out)
(4320, True)
>>> fell = w.rain_mm(t0, out[-1][0])  # up to the last uplink
>>> sent = sum(f["rain_mm"] for _, f in out)
>>> sent > 50, 0 <= fell - sent < 0.5 + 1e-9
(True, True)
"""

from __future__ import annotations

from mimamori.contracts import Family

from .geo import random_point
from .model import BATTERY_DEAD, SILENT, DeviceModel, Fields

BUCKET_MM = 0.5  # JMA's standard tipping-bucket resolution


class RainGauge(DeviceModel):
    family = Family.PADDY  # stored beside the fields' water (measurement ``paddy``)
    default_profile = "rain_gauge_v1"
    default_interval_s = 600
    PROFILES = ("rain_gauge_v1", "rain_gauge_json_v1")
    ANOMALIES = {"battery_dead": BATTERY_DEAD, "silent": SILENT}

    def setup(self) -> None:
        r, p = self.rng, self.params
        self.battery = r.uniform(70, 100)
        self.latlon = tuple(p["latlon"]) if "latlon" in p else random_point(
            p.get("zone", "paddy_belt"), r)
        self.bucket_mm = 0.0

    def describe(self) -> dict:
        return {"lat": round(self.latlon[0], 6), "lon": round(self.latlon[1], 6),
                "params": {"bucket_mm": BUCKET_MM}}

    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        fell = self.weather.rain_mm(ts_ns - int(dt_s * 10**9), ts_ns)
        self.bucket_mm += fell
        tips = int(self.bucket_mm / BUCKET_MM + 1e-9)
        self.bucket_mm = max(0.0, self.bucket_mm - tips * BUCKET_MM)
        if not self.drain(ts_ns, dt_s, 0.03):
            return None
        if self.truth is not None:
            self.truth.append((ts_ns, {"rain_mm": fell}))
        return {"rain_mm": tips * BUCKET_MM, "battery_pct": round(self.battery, 1)}
