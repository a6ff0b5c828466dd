"""Water-main monitor at a district (DMA) inlet: flow, pressure, acoustic level.

Demand (DOMAIN.md §4): 200–350 L/person/day; a daily pattern with the night
minimum 02:00–04:00 and morning and (larger) evening peaks, later mornings
at weekends. The night minimum holds only legitimate night use — about 6 % of
residents active in that hour, one 10-L cistern each (McKenzie, via IWA) —
plus background leakage, which follows pressure with exponent 1.5 (SANFLOW)
and is a few per cent of the supply (national leakage ≈ 5 %, 有効率 ≥ 90 %).
Pressure at the monitoring node: static head minus a Hazen–Williams head loss
(∝ Q^1.852); 0.3–0.5 MPa static at night, 0.25–0.4 MPa at the morning peak.
One summary every 5 minutes.

Anomalies: ``burst`` (flow surge with a pressure drop, until isolated; also
labelled ``pressure_out_of_range`` while it pulls the node below 0.15 MPa),
``leak`` (incipient: leak flow grows linearly over days — night flow creeps
up), ``pressure_transient`` (a surge of ±0.15–0.35 MPa for minutes, reported
by an immediate uplink), ``pressure_high`` (a failed pressure-reducing valve,
above 0.74 MPa; labelled while the pressure is above it), ``sensor_stuck``,
``sensor_drift`` (labelled once the offset reaches ``DRIFT_LABEL_MPA``), ``battery_dead``,
``silent``.

>>> from simulators.weather import Weather
>>> from simulators.timebase import parse_time
>>> t0 = parse_time("2026-06-01T00:00:00")
>>> m = WaterMain("watermain-0001", "district-01", seed=4, start_ns=t0,
...               end_ns=t0 + 86400 * 10**9, weather=Weather(4))
>>> out = []
>>> m.run_until(t0 + 86400 * 10**9, out)
>>> len(out), all(0.15 < f["pressure_mpa"] < 0.74 for _, f in out)
(288, True)
"""

from __future__ import annotations

import math

from mimamori.contracts import EventKind, Family, Severity

from .geo import random_point
from .model import SENSOR_FAULTS, AnomalySpec, DeviceModel, Fields, Injection, clamp
from .timebase import DAY_S, NS, day_index, local_date, local_hour

H = 3600
CISTERN_L = 10.0  # one flush
MAX_MPA = 0.74  # maximum static pressure of the Japanese standard (DOMAIN.md §4.1)
MIN_MPA = 0.15  # minimum dynamic pressure at the customer's tap (DOMAIN.md §4.1)
# Out of the standard means out by more than a pressure transmitter's stated
# accuracy (±0.5 % of a 1 MPa span) on two reports in a row: a node at
# 0.148 MPa reads as "at the minimum", and one 5-minute report is a moment of
# the demand's own spread, not a condition anyone could act on.
OUT_MARGIN_MPA = 0.005
# A drifting pressure sensor is labelled once its offset exceeds 0.01 MPa —
# twice the ±0.5 % of a 1 MPa transmitter; before that it reads within spec.
DRIFT_LABEL_MPA = 0.01
NIGHT_ACTIVE = 0.06  # share of residents active in the minimum-night-flow hour

# Relative demand by hour (0…23), before scaling; hours 2–4 are the night minimum.
WEEKDAY = (0.45, 0.2, 0, 0, 0, 0.35, 1.2, 1.65, 1.45, 1.15, 1.0, 1.05,
           1.15, 1.0, 0.9, 0.9, 1.0, 1.3, 1.65, 1.85, 1.7, 1.35, 1.0, 0.7)
WEEKEND = (0.55, 0.25, 0, 0, 0, 0.2, 0.6, 1.05, 1.45, 1.45, 1.3, 1.2,
           1.2, 1.05, 0.95, 0.95, 1.05, 1.35, 1.7, 1.85, 1.7, 1.4, 1.1, 0.8)


def demand_pattern(shape: tuple[float, ...], night: float) -> list[float]:
    """Hourly multipliers of the mean consumption: the zero hours get
    ``night``, the others are scaled so the day averages 1."""
    fixed = sum(1 for v in shape if v == 0)
    k = (24 - fixed * night) / sum(shape)
    return [night if v == 0 else v * k for v in shape]


class WaterMain(DeviceModel):
    family = Family.WATER_MAIN
    default_profile = "water_main_v1"
    default_interval_s = 300
    ANOMALIES = {
        "burst": AnomalySpec(EventKind.BURST, Severity.CRITICAL, (2 * H, 8 * H)),
        "leak": AnomalySpec(EventKind.LEAK, Severity.WARNING, (7 * DAY_S, 21 * DAY_S)),
        "pressure_transient": AnomalySpec(EventKind.PRESSURE_TRANSIENT, Severity.WARNING,
                                          (60, 300)),
        "pressure_high": AnomalySpec(EventKind.PRESSURE_OUT_OF_RANGE, Severity.WARNING,
                                     (2 * H, 12 * H), dynamic=True),
        **SENSOR_FAULTS,
    }

    def setup(self) -> None:
        r, p = self.rng, self.params
        self.population = int(p.get("population", r.randint(800, 3000)))
        self.lpcd = p.get("lpcd", r.uniform(250, 320))  # litres per person per day
        self.mean_use_m3h = self.population * self.lpcd / 1000 / 24
        night = NIGHT_ACTIVE * CISTERN_L / (self.lpcd / 24)
        self.patterns = (demand_pattern(WEEKDAY, night), demand_pattern(WEEKEND, night))
        self.static_mpa = p.get("static_mpa", clamp(r.gauss(0.45, 0.025), 0.38, 0.5))
        self.leak_share = p.get("leak_share", clamp(r.gauss(0.05, 0.012), 0.02, 0.09))
        peak = max(self.patterns[0]) * self.mean_use_m3h
        self.hw_r = clamp(r.gauss(0.12, 0.015), 0.08, 0.16) / peak ** 1.852
        # background leakage at the night pressure, m³/h
        self.bg_leak_m3h = self.leak_share * self.mean_use_m3h
        self.acoustic_base = r.uniform(28, 36)
        self.battery = r.uniform(70, 100)
        self._day = None
        # side ("high"/"low") → [cause injection, first, last, reports out in a row, labelled?]
        self._out: dict[str, list] = {}
        self.latlon = tuple(p["latlon"]) if "latlon" in p else random_point(
            p.get("zone", "east"), r)

    def describe(self) -> dict:
        return {"lat": round(self.latlon[0], 6), "lon": round(self.latlon[1], 6),
                "params": {"population": self.population, "min_pressure_mpa": 0.15,
                           "max_static_pressure_mpa": 0.74}}

    def on_inject(self, inj: Injection) -> None:
        r = self.plan_rng
        if inj.kind == "burst":
            inj.params.setdefault("flow_m3h", r.uniform(0.5, 1.5) * self.mean_use_m3h)
            inj.params.setdefault("local_drop_mpa", r.uniform(0.03, 0.08))
        elif inj.kind == "leak":
            inj.params.setdefault("peak_m3h", r.uniform(0.1, 0.3) * self.mean_use_m3h)
            inj.params.setdefault("grow_s", r.uniform(0.3, 0.7) * (inj.end_ns - inj.start_ns) / NS)
        elif inj.kind == "pressure_transient":
            inj.params.setdefault("surge_mpa", r.choice((1, -1)) * r.uniform(0.15, 0.35))
            self.uplink_now(inj.start_ns + int(r.uniform(1, 20) * NS), "transient")
        elif inj.kind == "pressure_high":
            inj.params.setdefault("extra_mpa", r.uniform(0.32, 0.4))
        elif inj.kind == "sensor_drift":
            inj.params.setdefault("mpa_per_day", r.choice((1, -1)) * r.uniform(0.002, 0.006))

    def demand_m3h(self, ts_ns: int) -> float:
        """Customer use (without leakage) at a time: hourly pattern, linear between hours."""
        day = day_index(ts_ns)
        if day != self._day:
            self._day = day
            self._day_factor = self.rng.gauss(1.0, 0.04)
            mean_t = self.weather.mean_temp_c(day)
            self._day_factor *= 1.0 + 0.008 * (mean_t - 15.5)  # more use in summer
        pat = self.patterns[1 if local_date(day).weekday() >= 5 else 0]
        h = local_hour(ts_ns)
        i = int(h)
        frac = h - i
        m = pat[i] * (1 - frac) + pat[(i + 1) % 24] * frac
        return self.mean_use_m3h * m * self._day_factor

    def _label_out(self, side: str, cause: Injection | None, outside: bool, ts_ns: int) -> None:
        """The node's pressure is out of the standard (0.15–0.74 MPa) because
        of an injection — a failed pressure-reducing valve lifts it above
        ``MAX_MPA``, a burst's flow and head loss pull it below ``MIN_MPA`` —
        labelled ``pressure_out_of_range`` from the first to the last such
        moment of that injection, once it was out (by ``OUT_MARGIN_MPA``) on
        two reports in a row. At the peaks the head loss may keep a failed
        valve's node inside the standard, and a burst at night may leave it
        above the minimum: an injection that never moves the pressure out of
        the standard is no pressure_out_of_range event (the burst is labelled
        ``burst`` all the same)."""
        cur = self._out.get(side)
        if cur is not None and cur[0] is not cause:
            self._close_out(side)
            cur = None
        if cause is None:
            return
        if not outside:
            if cur is not None:
                cur[3] = 0
            return
        if cur is None:
            cur = self._out[side] = [cause, ts_ns, ts_ns, 0, False]
        if not cur[4] and cur[3] == 0:
            cur[1] = ts_ns   # the first moment of the run that may be confirmed
        cur[2] = ts_ns
        cur[3] += 1
        cur[4] = cur[4] or cur[3] >= 2

    def _close_out(self, side: str) -> None:
        cur = self._out.pop(side, None)
        if cur is not None and cur[4]:
            self.add_label(EventKind.PRESSURE_OUT_OF_RANGE, cur[1], cur[2], Severity.WARNING)

    def finish(self):
        for side in list(self._out):
            self._close_out(side)
        return super().finish()

    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        r = self.rng
        use = self.demand_m3h(ts_ns) * (1 + r.gauss(0, 0.04))
        use = max(use, 0.0)
        extra = 0.0
        local_drop = 0.0
        burst = self.act.get("burst")
        if burst is not None:
            extra += burst.params["flow_m3h"]
            local_drop += burst.params["local_drop_mpa"]
        leak = self.act.get("leak")
        leak_flow = 0.0
        if leak is not None:
            age = (ts_ns - leak.start_ns) / NS
            leak_flow = leak.params["peak_m3h"] * min(1.0, age / leak.params["grow_s"])
            extra += leak_flow
        static = self.static_mpa
        prv = self.act.get("pressure_high")
        if prv is not None:
            static += prv.params["extra_mpa"]
        # pressure from a head-loss model; background leakage follows pressure^1.5
        q = use + self.bg_leak_m3h + extra
        p = static - self.hw_r * q ** 1.852 - local_drop
        bg = self.bg_leak_m3h * (max(p, 0.01) / self.static_mpa) ** 1.5
        q = use + bg + extra
        p = static - self.hw_r * q ** 1.852 - local_drop
        self._label_out("high", prv, p > MAX_MPA + OUT_MARGIN_MPA, ts_ns)
        self._label_out("low", burst, p < MIN_MPA - OUT_MARGIN_MPA, ts_ns)
        tr = self.act.get("pressure_transient")
        if tr is not None and event == "transient":
            p += tr.params["surge_mpa"]
        if not self.drain(ts_ns, dt_s, 0.02):
            return None
        reported_p = self.sensor_faults(p + r.gauss(0, 0.003), ts_ns, "mpa_per_day",
                                        DRIFT_LABEL_MPA)
        near = (burst.params["flow_m3h"] if burst else 0.0) + leak_flow
        acoustic = self.acoustic_base + r.gauss(0, 1.5) + 10.0 * math.log10(1 + near / 0.5)
        if self.truth is not None:
            self.truth.append((ts_ns, {"use_m3h": use, "bg_leak_m3h": bg, "extra_m3h": extra,
                                       "pressure_mpa": p}))
        return {"pressure_mpa": round(clamp(reported_p, 0.0, 1.6), 3),
                "flow_m3h": round(q * (1 + r.gauss(0, 0.01)), 2),
                "acoustic_db": round(acoustic, 1),
                "battery_pct": round(self.battery, 1)}
