"""Paddy-field detectors (DOMAIN.md §3): the water band of the crop stage.

The stage comes from the field's settings (``ctx``): ``transplant``
(ISO date) and optionally ``calendar`` — a list of ``{stage, from_day,
target_cm, min_cm, weir_cm, critical}`` (days after transplanting). Without
them the early-season Mie calendar below (transplant 1 May) is assumed.

* :class:`WaterBandDetector` ``side="low"`` — the smoothed level below the
  stage minimum for ``low_hours`` (longer than the farmer's twice-daily
  round lets a normal dip last), or still below it when a morning or evening
  round (``ROUNDS``) has passed the field ``round_below_cm`` below the
  minimum without the level rising by ``round_rise_cm``, and the level is
  (then or later, before it is back at the minimum) ``round_margin_cm``
  below it (the field was found low and no water came); or when water came
  at the round but ``fill_hours`` after it the level is still
  ``round_margin_cm`` below the minimum and has not risen ``round_rise_cm``
  since the round (the inlet's 10–25 mm/h would have filled it: the water
  leaves as fast as it comes — a levee breach); or, at once when the round
  ends, when water came but the hour-smoothed level, still
  ``stall_below_cm`` below the minimum, has made no new high for
  ``stall_minutes`` and the latest reading is not ``round_margin_cm`` above
  it (the open inlet's water stopped raising the field).
* ``side="high"`` — at or above target + ``high_margin_cm`` for
  ``high_hours`` without falling (an inlet left open keeps the water pinned
  at the outlet weir; rain water drains away).
* :class:`HeatRiskDetector` — water-temperature daily mean above
  ``mean_c`` for ``days`` days in a row during heading/ripening.

>>> stage_for({"transplant": "2026-05-01"}, 20644).name  # 2026-07-10, 70 days after
'intermittent'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample, shared
from .baseline import JST_S, local_day
from .generic import RateDetector

NS = 1_000_000_000
H_NS = 3600 * NS
# The farmer's morning and evening rounds (local hours, DOMAIN.md §3): a field
# found below the stage minimum gets water then.
ROUNDS = ((5.5, 8.5), (16.5, 19.5))
# A derived field the analytics stage adds to a paddy reading when the field's
# farming area has a live rain gauge: hours since the gauge last counted rain
# (analytics.area_drift.AreaDrift.annotate).
AREA_DRY = "area_dry_h"


@dataclass(frozen=True)
class Stage:
    name: str
    from_day: int
    target_cm: float
    min_cm: float
    weir_cm: float
    critical: bool = False
    irrigated: bool = True


# DOMAIN.md §3.1 (early-season Mie): days after transplanting → depths.
DEFAULT_CALENDAR = (
    Stage("before", -9999, 0.0, -99.0, 0.0, irrigated=False),
    Stage("puddling", -4, 5.0, 3.0, 7.0),
    Stage("rooting", 0, 5.0, 3.0, 7.0),
    Stage("tillering", 10, 3.0, 2.0, 5.0),
    Stage("midseason_drain", 30, 0.0, -99.0, 0.0, irrigated=False),
    Stage("intermittent", 40, 4.0, 1.0, 6.0),
    Stage("heading", 75, 6.0, 4.0, 9.0, critical=True),
    Stage("ripening", 100, 3.0, 1.0, 5.0),
    Stage("drained", 110, 0.0, -99.0, 0.0, irrigated=False),
)


def _calendar(ctx: dict[str, Any]) -> tuple[Stage, ...]:
    cal = ctx.get("calendar")
    if not cal:
        return DEFAULT_CALENDAR
    out = [DEFAULT_CALENDAR[0]]
    for c in cal:
        irrigated = float(c.get("min_cm", -99)) > -50
        out.append(Stage(str(c.get("stage", "")), int(c["from_day"]), float(c["target_cm"]),
                         float(c["min_cm"]), float(c["weir_cm"]), bool(c.get("critical")),
                         irrigated))
    return tuple(sorted(out, key=lambda s: s.from_day))


_STAGE_CACHE: dict[tuple[int, int], tuple[dict[str, Any], Stage]] = {}


def stage_for(ctx: dict[str, Any], day: int) -> Stage:
    """The crop stage of a field on a local day (memoised per settings object)."""
    key = (id(ctx), day)
    hit = _STAGE_CACHE.get(key)
    if hit is not None and hit[0] is ctx:
        return hit[1]
    st = _stage_for(ctx, day)
    if len(_STAGE_CACHE) > 50_000:
        _STAGE_CACHE.clear()
    _STAGE_CACHE[key] = (ctx, st)
    return st


class StageOfDay:
    """The stage of one detector's field on a reading's local day, remembered
    for the day (a detector asks for it on every reading: the day's bounds in
    ns make the usual answer two integer comparisons, no division)."""

    __slots__ = ("back", "ctx", "day", "hi_ns", "lo_ns", "stage")

    def __init__(self) -> None:
        self.ctx: dict[str, Any] | None = None
        self.day = -1
        self.back = 0
        self.lo_ns = self.hi_ns = 0   # the remembered local day: lo_ns <= ts_ns < hi_ns
        self.stage: Stage = DEFAULT_CALENDAR[0]

    def at(self, ctx: dict[str, Any], ts_ns: int, days_back: int = 0) -> Stage:
        if self.lo_ns <= ts_ns < self.hi_ns and ctx is self.ctx and days_back == self.back:
            return self.stage
        day = (ts_ns // NS + JST_S) // 86400
        self.lo_ns = (day * 86400 - JST_S) * NS
        self.hi_ns = self.lo_ns + 86400 * NS
        self.day, self.back, self.ctx = day - days_back, days_back, ctx
        self.stage = stage_for(ctx, self.day)
        return self.stage


def _stage_for(ctx: dict[str, Any], day: int) -> Stage:
    t = ctx.get("transplant")
    year = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).year
    tp = dt.date.fromisoformat(str(t)) if t else dt.date(year, 5, 1)
    dat = day - (tp - dt.date(1970, 1, 1)).days
    st = DEFAULT_CALENDAR[0]
    for s in _calendar(ctx):
        if dat >= s.from_day:
            st = s
    return st


class WaterBandDetector(Detector):
    name = "water_band"
    kind = EventKind.WATER_LOW
    STATE = ("smooth", "low_since", "high_since", "high_ref", "last_ns", "recent", "rnd",
             "missed", "at_target", "watch")

    def __init__(self, side: str = "low", field: str = "water_level_cm", low_hours: float = 15.0,
                 low_margin_cm: float = 0.3, high_margin_cm: float = 1.5, high_hours: float = 10.0,
                 high_fall_cm: float = 0.4, smooth_s: float = 3600, flat_cm_h: float = 0.03,
                 flat_hours: float = 4.0, round_rise_cm: float = 0.5, round_margin_cm: float = 0.5,
                 round_below_cm: float = 0.2, fill_hours: float = 2.0,
                 stall_minutes: float = 45.0, stall_below_cm: float = 1.0,
                 rounds: tuple[tuple[float, float], ...] | None = ROUNDS,
                 rain_before_hours: float = 2.0, dry_high_hours: float = 1.0,
                 target_band_cm: float = 0.5) -> None:
        self.side, self.field = side, field
        # the inlet-left-open rule's settings, as one attribute: CPython 3.11
        # stops sharing instance-dict keys at 30 attributes (+1.3 kB a detector)
        self.dry_rule = (int(rain_before_hours * H_NS), int(dry_high_hours * H_NS),
                         target_band_cm)
        self.rounds = tuple(tuple(r) for r in rounds or ())
        # (rise that is "water came", margin of the alarm, below that is "low", fill
        # time, time without a new high that is "stalled", how far below the minimum)
        rule = (round_rise_cm, round_margin_cm, round_below_cm, int(fill_hours * H_NS),
                int(stall_minutes * 60 * NS), stall_below_cm)
        self.round_rule = shared(rule)   # one tuple for all fields, not one a field
        # a round left the field low though water came: [round end, level then]
        self.watch: list[float] | None = None
        # the round in progress: [id, start level, highest level, when it was highest]
        self.rnd: list[float] | None = None
        self._stage = StageOfDay()
        # a round passed the low field without water: 0.5 = it was below the minimum
        # (watched), True = it is now round_margin_cm below it (alarm)
        self.missed: bool | float = False
        self.kind = EventKind.WATER_LOW if side == "low" else EventKind.WATER_HIGH  # type: ignore
        self.low_ns, self.low_margin = int(low_hours * 3600 * NS), low_margin_cm
        self.high_margin, self.high_ns = high_margin_cm, int(high_hours * 3600 * NS)
        self.high_fall, self.smooth_s = high_fall_cm, smooth_s
        self.flat_cm_h, self.flat_ns = flat_cm_h, int(flat_hours * 3600 * NS)
        self.recent: list[list[float]] = []  # [ts_ns, value] of the last flat_hours
        self.smooth: float | None = None
        self.low_since = 0
        self.high_since = 0
        self.at_target = 0   # (high side) the last reading at or below the stage's target
        self.high_ref: float | None = None   # smoothed level when the high run began
        self.last_ns = 0
        self._memo: tuple[Sample, Any] | None = None
        # running sums of ``recent`` for the flatness slope (derived, not state)
        self._sums: list[float] | None = None

    def _round_id(self, ts_ns: int) -> int:
        s = ts_ns // NS + JST_S
        h = (s % 86400) / 3600.0   # local_hour, inline (every reading)
        for i, (a, b) in enumerate(self.rounds):
            if a <= h < b:
                return s // 86400 * 4 + i
        return -1

    def _next_uncached(self, x: Sample) -> tuple[float, int, int, float | None] | None:
        v = x.num(self.field)
        if v is None:
            return None
        if self.smooth is None or not self.last_ns:
            sm = v
        else:
            a = min(1.0, max(0.0, (x.ts_ns - self.last_ns) / NS / self.smooth_s))
            sm = self.smooth + a * (v - self.smooth)
        st = self._stage.at(x.ctx, x.ts_ns)
        low_since = high_since = 0
        high_ref = None
        rnd, missed, at_target, watch = self.rnd, self.missed, self.at_target, self.watch
        if self.side == "high":   # each side keeps only its own state
            if st.irrigated and sm >= st.target_cm + self.high_margin:
                high_since = self.high_since or x.ts_ns
                high_ref = self.high_ref if self.high_since else sm
                if high_ref is not None and sm > high_ref:
                    high_ref = sm   # falling is measured from the highest point
            elif sm <= st.target_cm + self.dry_rule[2]:
                at_target = x.ts_ns
            return sm, low_since, high_since, high_ref, rnd, missed, at_target, watch
        if st.irrigated and sm < st.min_cm - self.low_margin:
            low_since = self.low_since or x.ts_ns
        if self.rounds:
            rise, margin, below, fill_ns, stall_ns, far = self.round_rule
            rid = self._round_id(x.ts_ns)
            if rid >= 0:
                if rnd is None or rnd[0] != rid:
                    rnd = [rid, sm, sm, x.ts_ns]
                elif sm > rnd[2]:
                    rnd = [rid, rnd[1], sm, x.ts_ns]
                watch = None
            elif rnd is not None:   # a round just ended: did the low field get water?
                if st.irrigated and sm < st.min_cm - below:
                    if rnd[2] - rnd[1] < rise:
                        missed = missed or 0.5   # passed low, no water came: watch it
                    else:
                        watch = [x.ts_ns, sm]    # water came: does it reach the minimum?
                        # ... but it stopped rising, far below the minimum: the
                        # inlet stays open until the target, and a field gaining
                        # its 10–25 mm/h sets a new hour-smoothed high every
                        # reading (its latest reading leads that level by ≥ 0.6 cm);
                        # no new high for 45 minutes and the reading not above
                        # it: the water leaves as fast as it comes (a breach
                        # that outruns the inlet — the shortage the simulator
                        # labels). Seed 6180339 paddy-0013: the evening inlet
                        # lifted a breached field from −2.7 to −2.05 cm by
                        # 19:00, then it stood; the breach closed at 20:12 and
                        # the field filled before the 2-hour test below.
                        since_high = x.ts_ns - (rnd[3] if len(rnd) > 3 else x.ts_ns)
                        if sm < st.min_cm - far and since_high > stall_ns and v - sm < margin:
                            missed = True
                rnd = None
            if not (st.irrigated and sm < st.min_cm):
                missed, watch = False, None
            elif missed and sm < st.min_cm - margin:
                missed = True            # ... and it has fallen clearly below the minimum
            elif watch is not None and x.ts_ns - watch[0] >= fill_ns:
                # the opened inlet (10–25 mm/h) fills a field in an hour or two;
                # still clearly below the minimum and hardly risen since the
                # round: the water leaves as fast as it comes (a breach)
                if sm < st.min_cm - margin and sm - watch[1] < rise:
                    missed = True
                watch = None
        return sm, low_since, high_since, high_ref, rnd, missed, at_target, watch

    def score_one(self, x: Sample) -> float | None:
        # self._next(x), inline (every reading): scoring is pure, so always computed
        n = self._next_uncached(x)
        self._memo = (x, n)
        if n is None:
            return None
        sm, low_since, high_since, high_ref, _, missed, at_target, _ = n
        if self.side == "low":
            if missed is True:
                return 1.0
            if not low_since:
                return 0.0
            return 1.0 if x.ts_ns - low_since >= self.low_ns else 0.5
        if not high_since:
            return 0.0
        fell = high_ref is not None and high_ref - sm > self.high_fall
        if fell:
            return 0.5
        dry = x.num(AREA_DRY)
        if dry is not None and at_target and \
                dry * H_NS >= x.ts_ns - at_target + self.dry_rule[0]:
            # the area's gauge counted no rain since the field was last at the
            # stage's target: the water that lifted it came through the inlet,
            # and the farmer closes that at the target — it was left open (if
            # the level is not falling: a field draining after it was closed)
            if x.ts_ns - high_since < self.dry_rule[1]:
                return 0.5
            slope = self._slope_with(x)
            return 1.0 if slope is not None and slope >= -self.flat_cm_h else 0.5
        if x.ts_ns - high_since < self.high_ns:
            return 0.5
        slope = self._slope_with(x)
        # pinned at the weir (an open inlet overflowing) — rain water drains away
        return 1.0 if slope is not None and slope >= -self.flat_cm_h else 0.5

    def _slope_with(self, x: Sample) -> float | None:
        """Least-squares slope (cm/h) of the last ``flat_hours`` with this reading.

        From running sums over ``recent`` (O(1) amortised): times in hours
        and levels in cm relative to a reference point of the window, which
        is moved (and the sums recomputed exactly) once it is more than
        ``flat_hours`` old, so the sums neither lose precision nor drift."""
        v = x.num(self.field)
        if v is None:
            return None
        now, flat, recent = x.ts_ns, self.flat_ns, self.recent
        s = self._sums
        if s is None:
            s = self._sums = self._sums_of(recent)
        ref, yref, n, st, sy, stt, sty = s
        i = 0
        while i < len(recent) and now - recent[i][0] > flat:   # leaves with this reading
            t, y = (recent[i][0] - ref) / H_NS, recent[i][1] - yref
            n, st, sy, stt, sty = n - 1, st - t, sy - y, stt - t * t, sty - t * y
            i += 1
        n += 1
        if n < 8:
            return None
        t, y = (now - ref) / H_NS, v - yref
        st, sy, stt, sty = st + t, sy + y, stt + t * t, sty + t * y
        sxx = stt - st * st / n
        if sxx <= 1e-12:
            return None
        return (sty - st * sy / n) / sxx

    @staticmethod
    def _sums_of(recent: list[list[float]]) -> list[float]:
        """[ref_ns, ref level, n, Σt, Σy, Σt², Σty] of the window, exactly."""
        if not recent:
            return [0, 0.0, 0, 0.0, 0.0, 0.0, 0.0]
        ref, yref = recent[0][0], recent[0][1]
        st = sy = stt = sty = 0.0
        for p in recent:
            t, y = (p[0] - ref) / H_NS, p[1] - yref
            st += t
            sy += y
            stt += t * t
            sty += t * y
        return [ref, yref, len(recent), st, sy, stt, sty]

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._sums = None

    def learn_one(self, x: Sample) -> None:
        m = self._memo   # self._next(x), inline (every reading)
        n = m[1] if m is not None and m[0] is x else self._next_uncached(x)
        if n is None:
            return
        self._memo = None
        if self.side == "high":
            if not n[2]:
                self._sums = None   # not high: no slope is asked, so keep no sums
            self._window_add(x.ts_ns, x.num(self.field))  # type: ignore[arg-type]
        (self.smooth, self.low_since, self.high_since, self.high_ref, self.rnd, self.missed,
         self.at_target, self.watch) = n
        if self.high_since and self.high_ref is not None and self.high_ref - self.smooth > \
                self.high_fall:
            self.high_since, self.high_ref = x.ts_ns, self.smooth  # draining: restart the clock
            self.at_target = 0   # ... and a draining field is no inlet rise until it is back
        self.last_ns = x.ts_ns

    def _window_add(self, ts_ns: int, v: float) -> None:
        """``recent`` (and its running sums, while kept) gains a point and
        loses the ones older than ``flat_hours``."""
        recent, s = self.recent, self._sums
        recent.append([ts_ns, v])
        if s is not None:
            ref, yref, n, st, sy, stt, sty = s
            t, y = (ts_ns - ref) / H_NS, v - yref
            n, st, sy, stt, sty = n + 1, st + t, sy + y, stt + t * t, sty + t * y
        while recent and ts_ns - recent[0][0] > self.flat_ns:
            p = recent.pop(0)
            if s is not None:
                t, y = (p[0] - ref) / H_NS, p[1] - yref
                n, st, sy, stt, sty = n - 1, st - t, sy - y, stt - t * t, sty - t * y
        if s is not None:
            # re-base (recomputed exactly, when next asked) once the reference is old
            self._sums = [ref, yref, n, st, sy, stt, sty] \
                if recent and recent[0][0] - ref <= self.flat_ns else None

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {"field": self.field,
                              "smoothed": None if self.smooth is None else round(self.smooth, 2)}
        if x is not None:
            st = stage_for(x.ctx, local_day(x.ts_ns))
            ev.update(stage=st.name, min_cm=st.min_cm, target_cm=st.target_cm,
                      weir_cm=st.weir_cm, value=x.fields.get(self.field))
        return ev


class SuddenDropDetector(RateDetector):
    """A fall faster than ``max_drop_per_h`` (the rate detector), except on
    the day the crop calendar lowers the water on purpose (中干し, final
    drainage, a lower weir), and except a stuck sensor coming back: a step
    down that ends ``stuck_repeats`` identical readings in a row (a live
    probe's noise moves every reading; water that leaves through a breach
    was falling before, not frozen) is the sensor catching up with the water
    it stopped measuring — the slope starts again from the new reading.

    >>> d = SuddenDropDetector()
    >>> ctx = {"transplant": "2026-04-20"}
    >>> t0 = 1_781_000_000 * NS
    >>> levels = [4.0 + 0.1 * (i % 3) for i in range(12)] + [4.0] * 12 + [1.5, 1.45, 1.5]
    >>> scores = []
    >>> for i, v in enumerate(levels):
    ...     x = Sample(t0 + i * 600 * NS, {"water_level_cm": v}, ctx)
    ...     scores.append(d.score_one(x))
    ...     d.learn_one(x)
    >>> max(scores)
    0.0
    """

    name = "sudden_drop"
    STATE = RateDetector.STATE + ("same",)

    def __init__(self, field: str = "water_level_cm", max_drop_per_h: float = 0.5,
                 window_s: float = 7200, min_points: int = 8, min_duration: int = 2,
                 stuck_repeats: int = 6) -> None:
        super().__init__(field, max_drop_per_h=max_drop_per_h, window_s=window_s,
                         min_points=min_points, min_duration=min_duration,
                         kind=EventKind.SUDDEN_DROP)
        self.stuck_repeats = stuck_repeats
        self.same = 0   # readings in a row equal to the one before
        self._today, self._before = StageOfDay(), StageOfDay()

    def _unstuck(self, v: float) -> bool:
        """``v`` steps down from a value the sensor had repeated."""
        return self.same >= self.stuck_repeats and bool(self.vs) and v < self.vs[-1]

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        today, before = self._today.at(x.ctx, x.ts_ns), self._before.at(x.ctx, x.ts_ns, 1)
        if today is not before and (not today.irrigated or today.weir_cm < before.weir_cm):
            return 0.0 if v is not None else None
        if v is not None and self._unstuck(v):
            return 0.0
        return super().score_one(x)

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        if self._unstuck(v):
            self.ts, self.vs = [], []
        self.same = self.same + 1 if self.vs and v == self.vs[-1] else 0
        super().learn_one(x)


class HeatRiskDetector(Detector):
    name = "heat_risk"
    kind = EventKind.HEAT_RISK
    severity = Severity.WARNING
    STATE = ("day", "acc", "n", "hot_days")

    def __init__(self, field: str = "water_temp_c", mean_c: float = 30.0, days: int = 3) -> None:
        self.field, self.mean_c, self.days = field, mean_c, days
        self.day, self.acc, self.n, self.hot_days = -1, 0.0, 0, 0
        self._stage = StageOfDay()

    def _hot_days_after(self, x: Sample) -> int:
        day = local_day(x.ts_ns)
        if day != self.day and self.n:
            hot = self.acc / self.n > self.mean_c
            return self.hot_days + 1 if hot else 0
        return self.hot_days

    def score_one(self, x: Sample) -> float | None:
        if x.num(self.field) is None:
            return None
        st = self._stage.at(x.ctx, x.ts_ns)
        if st.name not in ("heading", "ripening"):
            return 0.0
        return 1.0 if self._hot_days_after(x) >= self.days else 0.0

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        day = local_day(x.ts_ns)
        if day != self.day:
            self.hot_days = self._hot_days_after(x)
            self.day, self.acc, self.n = day, 0.0, 0
        self.acc += v
        self.n += 1
