"""Paddy-field water sensor: a water balance for one field.

Per step (DOMAIN.md §3): depth falls by evapotranspiration (3–6 mm/day, zero
at night, peaking at midday) plus percolation (5–15 mm/day; 25–50 mm/day in
a "leaky" field) — 減水深 10–20 mm/day typical; rises 1 mm per mm of rain and
by 10–25 mm/h while the inlet (水口) is open; water above the outlet weir
board (水尻) overflows. The farmer checks morning and evening and opens the
inlet when the depth is below the stage's minimum; it closes at the stage's
target. The crop calendar (early-season Mie): transplant around 1 May, 2–3 cm
in tillering, 中干し (drained) a month after transplant for 10 days,
intermittent irrigation, 5–10 cm through heading (mid-July, the critical
stage), drained about 30 days after heading. Water temperature follows air
temperature, a little warmer while ponded.

Anomalies: ``sudden_drop`` (levee breach / mole hole; labelled once it has
lowered the water ``BREACH_LABEL_DROP_CM``, up to the calendar's drainage; a
breach the opened inlet cannot outfill is a ``water_low`` shortage too), ``inlet_left_open``
(overflow; labelled ``water_high`` once the water is high), ``water_low``
(no water to be had; labelled from the farmer's round that finds the field
below the stage minimum and cannot fill it, until the water is back at the
minimum), ``sensor_stuck``, ``sensor_drift`` (fouling, 0.5–2 cm/week;
labelled once the offset reaches ``DRIFT_LABEL_CM``; *unobservable* if the
field's water never stood at a level known without the probe during the
label — the end of the farmer's fill, at the stage target, or the weir — since
nothing then tells the offset from the water itself), ``battery_dead``,
``silent``.

>>> from simulators.weather import Weather
>>> from simulators.timebase import parse_time
>>> t0 = parse_time("2026-06-20T00:00:00")
>>> f = PaddyModel("paddy-0001", "field-0001", seed=3, start_ns=t0,
...                end_ns=t0 + 3 * 86400 * 10**9, weather=Weather(3, dry=True))
>>> out = []
>>> f.run_until(t0 + 3 * 86400 * 10**9, out)
>>> len(out), all(-6 < v["water_level_cm"] < 15 for _, v in out)
(432, True)
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from mimamori.contracts import EventKind, Family, Severity

from .geo import random_point
from .model import SENSOR_FAULTS, AnomalySpec, DeviceModel, Fields, Injection, clamp, lag
from .timebase import DAY_S, NS, day_index, day_start_ns, local_date, local_hour
from .weather import Weather

H = 3600
# A drifting level sensor is labelled from when its offset exceeds twice a
# typical level probe's stated accuracy (±0.5 cm): before that the reading is
# within specification and no detector could (or should) call it faulty.
DRIFT_LABEL_CM = 1.0
# A water shortage is labelled only when a reading can tell it from the routine:
# the level must fall at least the probe's accuracy (0.5 cm) below the stage
# minimum (closer, it reads as "at the minimum"; so the label starts at a round
# that finds the field that far below it), and the shortage must outlast
# LOW_LABEL_MIN_S — rain that refills the field within that time after the
# round raises the level just as the opened inlet of a normal round would
# (10–25 mm/h), and the field has its water back before anyone could act.
LOW_LABEL_BELOW_CM = 0.5
LOW_LABEL_MIN_S = 3 * H
# A levee breach is labelled ``sudden_drop`` only once it has lowered the water
# at least twice the probe's accuracy (1 cm) below the level it found, before
# the crop calendar drains the field: a breach whose loss the open inlet or rain
# makes up, or that opens in a field with no water above the soil to lose, moves
# no reading; and once the calendar drains the field (中干し, final drainage: the
# weir board is pulled) the water leaves by plan, a breach or not.
BREACH_LABEL_DROP_CM = 1.0


@dataclass(frozen=True)
class Stage:
    name: str
    from_day: int  # days after transplanting
    target_cm: float
    low_cm: float
    weir_cm: float
    irrigate: bool = True
    critical: bool = False


CALENDAR = (
    Stage("before", -9999, 0.0, -99.0, 0.0, irrigate=False),
    Stage("puddling", -4, 5.0, 3.0, 7.0),
    Stage("rooting", 0, 5.0, 3.0, 7.0),
    Stage("tillering", 10, 3.0, 2.0, 5.0),
    Stage("midseason_drain", 30, 0.0, -99.0, 0.0, irrigate=False),  # 中干し
    Stage("intermittent", 40, 4.0, 1.0, 6.0),
    Stage("heading", 75, 6.0, 4.0, 9.0, critical=True),
    Stage("ripening", 100, 3.0, 1.0, 5.0),
    Stage("drained", 110, 0.0, -99.0, 0.0, irrigate=False),
)


def stage_on(days_after_transplant: int) -> Stage:
    st = CALENDAR[0]
    for s in CALENDAR:
        if days_after_transplant >= s.from_day:
            st = s
    return st


class PaddyModel(DeviceModel):
    family = Family.PADDY
    default_profile = "paddy_v1"
    default_interval_s = 600
    # a drifting level probe shows only against a level known without it:
    # the end of the farmer's fill (the stage target) or the weir (overflow)
    drift_needs_reference = True
    ANOMALIES = {
        "sudden_drop": AnomalySpec(EventKind.SUDDEN_DROP, Severity.WARNING, (4 * H, 16 * H),
                                   dynamic=True),
        "inlet_left_open": AnomalySpec(EventKind.WATER_HIGH, Severity.WARNING, (12 * H, 36 * H),
                                       dynamic=True),
        "water_low": AnomalySpec(EventKind.WATER_LOW, Severity.WARNING, (3 * DAY_S, 5 * DAY_S),
                                 dynamic=True),
        **SENSOR_FAULTS,
    }

    def setup(self) -> None:
        r, p = self.rng, self.params
        if "transplant" in p:
            self.transplant_day = (date.fromisoformat(str(p["transplant"]))
                                   - date(1970, 1, 1)).days
        else:
            year = local_date(day_index(self.start_ns)).year
            self.transplant_day = (date(year, 4, 28) - date(1970, 1, 1)).days + r.randint(-5, 10)
        self.leaky = p.get("leaky", r.random() < 0.07)
        self.perc_mm_day = r.uniform(25, 45) if self.leaky else r.uniform(5, 13)
        self.et_factor = r.uniform(0.9, 1.1)
        self.inflow_mm_h = r.uniform(10, 25)
        self.check_h = (r.gauss(6.5, 0.4), r.gauss(17.5, 0.4))
        self.battery = r.uniform(60, 100)
        self.latlon = tuple(p["latlon"]) if "latlon" in p else random_point(
            p.get("zone", "paddy_belt"), r)
        st = self.stage(day_index(self.start_ns))
        self.level_mm = st.target_cm * 10 if st.irrigate else -5.0
        self.temp = self.weather.air_temp_c(self.start_ns) + 2.0
        self.inlet = False
        self._high_open = False
        self._low_since: int | None = None
        self._low_min_cm = self._low_ref_cm = 0.0   # lowest level / the stage minimum
        self.unlabelled_lows = 0        # shortages too small or short to show (above)
        self._breach: list | None = None   # [injection, level it found (cm), labelled]
        self._low_breach_end: int | None = None   # a shortage the breach holds: its end
        self.unlabelled_breaches = 0    # breaches that moved no reading (above)
        self._checks_done: set[tuple[int, int]] = set()

    def describe(self) -> dict:
        from datetime import timedelta

        transplant = date(1970, 1, 1) + timedelta(days=self.transplant_day)
        return {"lat": round(self.latlon[0], 6), "lon": round(self.latlon[1], 6),
                "params": {"transplant": transplant.isoformat(),
                           "calendar": [{"stage": s.name, "from_day": s.from_day,
                                         "target_cm": s.target_cm, "min_cm": s.low_cm,
                                         "weir_cm": s.weir_cm, "critical": s.critical}
                                        for s in CALENDAR[1:]]}}

    def stage(self, day: int) -> Stage:
        return stage_on(day - self.transplant_day)

    def place(self, kind: str, day_start_ns: int, rng: random.Random) -> int | None:
        st = self.stage(day_index(day_start_ns))
        if kind in ("sudden_drop", "inlet_left_open", "water_low") and not st.irrigate:
            return None
        return day_start_ns + int(rng.uniform(0, 24) * H * NS)

    def on_inject(self, inj: Injection) -> None:
        r = self.plan_rng
        if inj.kind == "sudden_drop":
            inj.params.setdefault("rate_mm_h", r.uniform(10, 30))
        elif inj.kind == "sensor_drift":
            inj.params.setdefault("cm_per_day", r.choice((1, -1)) * r.uniform(0.07, 0.3))

    def et_mm_h(self, ts_ns: int) -> float:
        h = local_hour(ts_ns)
        if not 6.0 < h < 18.0:
            return 0.0
        day = day_index(ts_ns)
        et_day = clamp(1.5 + 0.13 * self.weather.mean_temp_c(day), 2.5, 6.0) * self.et_factor
        if self.weather.rain_day_mm(day) > 1:
            et_day *= 0.5
        return et_day * math.sin(math.pi * (h - 6.0) / 12.0) * math.pi / 24.0

    # -- one uplink ---------------------------------------------------------------------
    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        r = self.rng
        day = day_index(ts_ns)
        st = self.stage(day)
        h = local_hour(ts_ns)
        no_water = self.act.get("water_low") is not None
        drop = self.act.get("sudden_drop")
        self._track_breach(ts_ns, drop)
        # the farmer's checks
        failed_check = False
        for i, ch in enumerate(self.check_h):
            if h >= ch and (day, i) not in self._checks_done:
                self._checks_done.add((day, i))
                if st.irrigate and self.level_mm < st.low_cm * 10:
                    if no_water:
                        failed_check = True  # below the minimum and no water to be had
                    else:
                        self.inlet = True
                        # a breach draining faster than the inlet fills: the
                        # farmer cannot bring the field back — water is short
                        if drop is not None and self._breach_outruns_inlet(drop, ts_ns):
                            failed_check = True
                            self._low_breach_end = drop.end_ns
        if not st.irrigate or no_water or self.level_mm >= st.target_cm * 10:
            if self.inlet and st.irrigate and not no_water:
                self.reference(ts_ns)  # the farmer's fill ends at the target
            self.inlet = False
        left_open = self.act.get("inlet_left_open")
        inflow = self.inflow_mm_h if (self.inlet or left_open) else 0.0
        # the water balance over dt
        hours = dt_s / H
        t_prev = ts_ns - int(dt_s * NS)
        loss = self.et_mm_h(ts_ns) * hours
        if self.level_mm > 0:
            loss += self.perc_mm_day * dt_s / DAY_S
        else:  # below the soil surface the water table falls more slowly
            loss += 0.3 * self.perc_mm_day * dt_s / DAY_S
        if drop is not None and self.level_mm > -20:
            loss += drop.params["rate_mm_h"] * hours
        self.level_mm += self.weather.rain_mm(t_prev, ts_ns) + inflow * hours - loss
        weir_mm = st.weir_cm * 10
        if self.level_mm > weir_mm and (st.weir_cm > 0 or self.level_mm > 0):
            self.level_mm = weir_mm  # overflow at the outlet weir
            self.reference(ts_ns)
        self.level_mm = max(self.level_mm, -60.0)
        self._label_breach(ts_ns, day)
        self._labels_for_state(ts_ns, st, left_open, failed_check)
        # water temperature
        air = self.weather.air_temp_c(ts_ns)
        depth_cm = max(self.level_mm, 0) / 10
        target = air + (2.5 if depth_cm > 1 else 1.0)
        self.temp = lag(self.temp, target, dt_s, (1.5 + 0.3 * depth_cm) * H)
        # the battery
        if not self.drain(ts_ns, dt_s, 0.15):
            return None
        # what the sensor reports
        noise = 0.2 * (3.0 if self.battery < 10 else 1.0)
        reported = self.sensor_faults(max(self.level_mm, -50.0) / 10 + r.gauss(0, noise), ts_ns,
                                      "cm_per_day", DRIFT_LABEL_CM)
        if self.truth is not None:
            self.truth.append((ts_ns, {"level_cm": self.level_mm / 10, "inlet": inflow > 0,
                                       "stage": st.name, "rain": self.weather.rain_day_mm(day)}))
        return {"water_level_cm": round(reported, 1),
                "water_temp_c": round(self.temp + r.gauss(0, 0.1), 1),
                "battery_pct": round(self.battery, 1)}

    def _breach_outruns_inlet(self, drop: Injection, ts_ns: int) -> bool:
        """The breach (plus percolation and evaporation) takes water out faster
        than the opened inlet lets it in."""
        out = drop.params["rate_mm_h"] + self.perc_mm_day / 24 + self.et_mm_h(ts_ns)
        return out >= self.inflow_mm_h

    def _track_breach(self, ts_ns: int, drop: Injection | None) -> None:
        """A breach begins (remember the level it found) or has ended."""
        if self._breach is not None and self._breach[0] is not drop:
            if not self._breach[2]:
                self.unlabelled_breaches += 1
            self._breach = None
        if drop is not None and self._breach is None:
            self._breach = [drop, self.level_mm / 10, False]

    def _drained_from(self, start_ns: int, end_ns: int) -> int:
        """When the crop calendar drains the field between two times (the
        first day that stops irrigating or lowers the weir), else ``end_ns``."""
        first = day_index(start_ns)
        st0 = self.stage(first)
        for d in range(first + 1, day_index(max(end_ns - 1, start_ns)) + 1):
            st = self.stage(d)
            if not st.irrigate or st.weir_cm < st0.weir_cm:
                return min(end_ns, day_start_ns(d))
        return end_ns

    def _label_breach(self, ts_ns: int, day: int) -> None:
        """``sudden_drop`` once the breach has lowered the water
        ``BREACH_LABEL_DROP_CM`` below the level it found, before the calendar
        drains the field; the label covers the breach up to that drainage."""
        b = self._breach
        if b is None or b[2]:
            return
        inj = b[0]
        end = self._drained_from(inj.start_ns, inj.end_ns)
        if ts_ns <= end and b[1] - self.level_mm / 10 >= BREACH_LABEL_DROP_CM:
            b[2] = True
            self.add_label(EventKind.SUDDEN_DROP, inj.start_ns, end, Severity.WARNING)

    def _labels_for_state(self, ts_ns: int, st: Stage, left_open: Injection | None,
                          failed_check: bool = False) -> None:
        level_cm = self.level_mm / 10
        if left_open is not None and not self._high_open and level_cm >= st.target_cm + 1.5:
            self._high_open = True
            self.add_label(EventKind.WATER_HIGH, ts_ns, left_open.end_ns, Severity.WARNING)
        if left_open is None:
            self._high_open = False
        # Water is short once the farmer's round finds the field below the stage
        # minimum and cannot let water in: until then a dip below the minimum is
        # the normal irrigation routine (every field dips until the next check).
        if self._low_since is None:
            # ... and finds it below by more than the probe's accuracy: a round
            # that finds the field within LOW_LABEL_BELOW_CM of the minimum
            # (closer, it reads as "at the minimum") reads like every field the
            # farmer left because it was at the minimum; the shortage is
            # labelled from the next round that finds it clearly low, if it lasts
            if failed_check and level_cm <= st.low_cm - LOW_LABEL_BELOW_CM:
                self._low_since, self._low_min_cm, self._low_ref_cm = ts_ns, level_cm, st.low_cm
            else:
                self._low_breach_end = None
        elif level_cm >= st.low_cm or not st.irrigate:
            self._close_low(ts_ns, st)
        else:
            self._low_min_cm = min(self._low_min_cm, level_cm)

    def _close_low(self, ts_ns: int, st: Stage) -> None:
        sev = Severity.CRITICAL if st.critical else Severity.WARNING
        assert self._low_since is not None
        # a shortage a breach causes lasts, for this rule, while the breach holds
        # the field down: once it is closed the opened inlet refills the field
        # like any round's (no water_low finding can tell that refill apart)
        held_ns = ts_ns if self._low_breach_end is None else min(ts_ns, self._low_breach_end)
        if self._low_ref_cm - self._low_min_cm >= LOW_LABEL_BELOW_CM and \
                held_ns - self._low_since >= LOW_LABEL_MIN_S * NS:
            self.add_label(EventKind.WATER_LOW, self._low_since, ts_ns, sev)
        else:
            self.unlabelled_lows += 1
        self._low_since, self._low_breach_end = None, None

    def finish(self):
        self._track_breach(self.end_ns, None)
        if self._low_since is not None:
            self._close_low(self.end_ns, self.stage(day_index(self.end_ns - 1)))
        return super().finish()


class PaddyField:
    """The first simple interface (kept for callers that step a field by hand
    and publish ``paddy_json_v1`` payloads): a :class:`PaddyModel` underneath.

    >>> f = PaddyField("paddy-001", random.Random(1))
    >>> 0 <= f.step(600) < 200
    True
    """

    def __init__(self, device_id: str, rng: random.Random,
                 start: str = "2026-06-20T00:00:00+09:00") -> None:
        from .timebase import parse_time

        t0 = parse_time(start)
        seed = rng.randrange(2**32)
        self.model = PaddyModel(device_id, "", seed=seed, start_ns=t0,
                                end_ns=t0 + 3650 * DAY_S * NS, weather=Weather(seed))
        self.device_id = device_id
        self._t = t0
        self._last: Fields = {}

    def step(self, dt_s: float) -> float:
        """Advance ``dt_s`` seconds; returns the water depth in mm."""
        self._t += int(dt_s * NS)
        self._last = self.model.sample(self._t, dt_s, None) or self._last
        return max(self.model.level_mm, 0.0)

    def payload(self, ts_s: float) -> dict:
        f = self._last or {"water_level_cm": 0.0, "water_temp_c": 20.0, "battery_pct": 100.0}
        return {"ts": round(ts_s, 3), "level_mm": round(f["water_level_cm"] * 10, 1),
                "temp_c": f["water_temp_c"], "bat": f["battery_pct"]}
