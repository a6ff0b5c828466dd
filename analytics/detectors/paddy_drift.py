"""A paddy level sensor that drifts (fouling, a pressure-probe offset).

A field gives the sensor two references it cannot fake (DOMAIN.md §3):

* **the farmer's fill** — at the morning or evening round, a field below
  the stage minimum gets water until it reaches the stage *target*; the
  inlet is then closed, so the level where a steady rise that began at a
  round stops is the target (plus a little overshoot). A sensor whose fills
  keep stopping ``offset_cm`` away from the target is off by that much.
  Only rises from near the minimum (below it + ``start_above_min``) count,
  and none that stops at the weir (± ``weir_band``: rain overflowing, not
  the farmer's fill).
* **the outlet weir** — water cannot stand above the weir board (it
  overflows), so a smoothed level above the stage's weir by ``offset_cm``
  for ``weir_hours`` is a sensor reading high.

The stage (target, weir) comes from the field's crop calendar
(:func:`~analytics.detectors.paddy.stage_for`). Rises are found with a
least-squares slope over the last hour; the stop level is the highest
3-reading mean of the rise and the hour after it; a rise that resumes
within that hour is the same fill (``merge``: a slow inlet's rise reads
as pauses in the noise), and a rise starts at the lowest point of the hour
before it was seen (that is when the round opened the inlet). It is a
round's fill if that point, or the last reading still at the bottom (within
0.3 cm of it: the probe's noise puts the lowest reading anywhere on a flat
bottom), is in a round's hours. The median of
the last ``fills`` fill offsets is
the drift estimate. O(1) per reading (a few short lists).

**Clean fills** (``clean_fills=1``; a field whose farming area has a rain
gauge: readings carry ``area_dry_h``, :mod:`analytics.area_drift`). The
farmer closes the inlet at the target, and opens it only below the minimum:
so a fill while the gauge counted no rain (from ``dry_before_h`` before its
foot until it is recorded) whose foot, with the offset taken off, is below
the minimum (± ``foot_tol_cm``) and whose stop is within ``max_clean_cm`` of
the target — ``max_fast_cm`` if it rose as an opened inlet does, at least
``fast_cm_h`` from foot to stop (a rise that a breach or a failing canal
slows stalls short of the target; a drifting probe's fill does not slow) — is
a reference on its own: one such fill off by ``offset_cm``
opens the finding (or the last two clean fills off the same way, the earlier
by ``pair_prev_cm``: a drift grows). A clean stop at the weir (± ``weir_band``)
may be an inlet left open, which holds the field there (it overflows): it
decides alone only if the level, ``hold_h`` after the stop, is ``fall_cm``
below the hour after it (the field loses water again), else only as one of
a pair, and never in the three-fill median. Without a gauge, or with rain,
the median of three fills stands.

>>> d = LevelDriftDetector()
>>> ctx = {"transplant": "2026-04-20"}   # intermittent irrigation in June: target 4 cm
>>> t0 = 1_781_000_000 * NS - (1_781_000_000 + 9 * 3600) % 86400 * NS   # a local midnight
>>> def day(d0, offset):   # a fill at 06:30 from 0.5 cm to just over the target, then a slow fall
...     out = []
...     for i in range(144):
...         h = i / 6
...         lv = 0.5 + min(max(h - 6.5, 0) * 1.5, 3.8) - max(h - 9, 0) * 0.1
...         ts = t0 + (d0 * 86400 + i * 600) * NS
...         out.append(Sample(ts, {"water_level_cm": lv + offset}, ctx))
...     return out
>>> for x in day(0, 0.0) + day(1, 0.0):
...     d.learn_one(x)
>>> d.score_one(day(2, 0.0)[0])
0.0
>>> for x in day(3, -1.5) + day(4, -1.5):
...     d.learn_one(x)
>>> d.score_one(day(5, -1.5)[0]), d.evidence()["drift_cm"]
(1.0, -1.53)
"""

from __future__ import annotations

from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample
from .baseline import local_day, local_hour
from .paddy import AREA_DRY, ROUNDS, StageOfDay, stage_for

NS = 1_000_000_000
H_NS = 3600 * NS


class LevelDriftDetector(Detector):
    name = "level_drift"
    kind = EventKind.SENSOR_DRIFT
    severity = Severity.INFO
    STATE = ("recent", "rise", "settle", "held", "offsets", "clean", "smooth", "last_ns",
             "above_since")

    def __init__(self, field: str = "water_level_cm", offset_cm: float = 0.8,
                 overshoot_cm: float = 0.3, fills: int = 3, rise_cm_h: float = 0.6,
                 stop_cm_h: float = 0.25, min_rise_cm: float = 1.0,
                 rounds: tuple[tuple[float, float], ...] = ROUNDS,
                 weir_hours: float = 3.0, smooth_s: float = 3600, start_above_min: float = 1.5,
                 weir_band: float = 0.4, merge: bool = True, clean_fills: int = 1,
                 dry_before_h: float = 1.0, max_clean_cm: float = 2.5,
                 foot_tol_cm: float = 0.3, hold_h: float = 10.0, fall_cm: float = 0.3,
                 pair_prev_cm: float | None = 0.5, fast_cm_h: float = 0.8,
                 max_fast_cm: float = 5.0) -> None:
        self.merge = merge
        # the clean-fill rule's settings in one attribute (instance-dict key sharing:
        # CPython 3.11 stops sharing keys at 30 attributes): fills needed (0: off),
        # dry time before the foot (ns), largest offset, foot tolerance, how long a
        # stop at the weir is watched (ns), the fall that shows it was no overflow,
        # the smaller offset the earlier fill of a pair may show
        self.clean_cfg = (clean_fills, int(dry_before_h * H_NS), max_clean_cm, foot_tol_cm,
                          int(hold_h * H_NS), fall_cm,
                          offset_cm if pair_prev_cm is None else pair_prev_cm,
                          fast_cm_h, max_fast_cm)
        # a clean fill that stopped at the weir, watched: [stop_ns, mean level of the
        # hour after the stop, offset, foot level, foot_ns, stage minimum] or []
        self.held: list[float] = []
        self.start_above_min, self.weir_band = start_above_min, weir_band
        self.field, self.offset, self.overshoot, self.fills = field, offset_cm, overshoot_cm, fills
        self.rise_cm_h, self.stop_cm_h, self.min_rise = rise_cm_h, stop_cm_h, min_rise_cm
        self.rounds = tuple(tuple(r) for r in rounds)
        self.weir_ns, self.smooth_s = int(weir_hours * H_NS), smooth_s
        self.recent: list[list[float]] = []   # [ts_ns, level] of the last hour
        # a rise in progress: [foot_ns, peak, start_level, from_a_round (0/1), foot level]
        # or [] (the foot: the lowest point of the hour before the rise was seen)
        self.rise: list[float] = []
        # the hour after a rise: [end_ns, peak, start_level, from_a_round, foot_ns,
        # foot level] or [] (checkpoints from before foot_ns/foot level still load)
        self.settle: list[float] = []
        self.offsets: list[float] = []        # stop level − target of the last fills
        # per fill in offsets: 1 if the area's gauge counted no rain from before its foot
        # to its record (a clean reference), 0 if it did or no gauge was heard
        self.clean: list[int] = []
        self.smooth: float | None = None
        self.last_ns = 0
        self.above_since = 0
        self._memo: tuple[Sample, int, float] | None = None
        self._drift: float | None | bool = False   # False: not computed yet
        self._stage = StageOfDay()

    # -- the estimate ------------------------------------------------------
    def drift_cm(self) -> float | None:
        if self._drift is False:
            self._drift = self._drift_now()
        return self._drift  # type: ignore[return-value]

    def _clean_estimate(self) -> float | None:
        """The offset from the last clean fills: one away from the weir, or
        two in a row (any) off the same way; None if they do not show one."""
        need, cs, ov = self.clean_cfg[0], self.clean, self.overshoot
        if not need or not cs:
            return None
        last = self.offsets[-1] - ov
        if need == 1 and cs[-1] == 1 and abs(last) >= self.offset:
            return last
        if len(cs) >= 2 and cs[-1] and cs[-2]:
            prev = self.offsets[-2] - ov
            if prev * last > 0 and abs(last) >= self.offset and abs(prev) >= self.clean_cfg[6]:
                return last
        return None

    def _drift_now(self) -> float | None:
        d = self._clean_estimate()
        if d is not None:
            return d
        offsets = self.offsets
        if 2 in self.clean:   # a stop at the weir that did not fall is no fill stop here
            cs = [0] * (len(offsets) - len(self.clean)) + self.clean
            offsets = [o for o, c in zip(offsets, cs) if c != 2]
        if len(offsets) < self.fills:
            return None
        xs = sorted(offsets[-self.fills:])
        n = len(xs)
        med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
        return med - self.overshoot

    def _smooth_with(self, x: Sample, v: float) -> float:
        if self.smooth is None or not self.last_ns:
            return v
        a = min(1.0, max(0.0, (x.ts_ns - self.last_ns) / NS / self.smooth_s))
        return self.smooth + a * (v - self.smooth)

    def _above_since_with(self, x: Sample, v: float) -> int:
        memo = self._memo
        if memo is not None and memo[0] is x:
            return memo[1]
        st = self._stage.at(x.ctx, x.ts_ns)
        since = 0
        sm = self._smooth_with(x, v)
        if st.irrigated and st.weir_cm > 0 and sm > st.weir_cm + self.offset:
            since = self.above_since or x.ts_ns
        self._memo = (x, since, sm)
        return since

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._drift = False

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        since = self._above_since_with(x, v)
        if since and x.ts_ns - since >= self.weir_ns:
            return 1.0
        d = self.drift_cm()
        if d is None:
            return 0.0
        if abs(d) >= self.offset:
            return 1.0
        return 0.5 if abs(d) >= 0.5 * self.offset else 0.0

    # -- learning ------------------------------------------------------------
    def _slope(self) -> float | None:
        """Least-squares slope (cm/h) of the last hour, in one pass."""
        pts = self.recent
        n = len(pts)
        if n < 4:
            return None
        t0 = pts[0][0]
        st = sy = stt = sty = 0.0
        for t, y in pts:
            t = (t - t0) / H_NS
            st += t
            sy += y
            stt += t * t
            sty += t * y
        sxx = stt - st * st / n
        if sxx <= 1e-12:
            return None
        return (sty - st * sy / n) / sxx

    def _at_round(self, ts_ns: int) -> bool:
        h = local_hour(ts_ns)
        return any(a <= h < b for a, b in self.rounds)

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        self.above_since = self._above_since_with(x, v)
        memo = self._memo
        self._memo = None
        self.smooth, self.last_ns = memo[2] if memo is not None else v, x.ts_ns
        recent = self.recent
        recent.append([x.ts_ns, v])
        while recent and x.ts_ns - recent[0][0] > H_NS:
            recent.pop(0)
        tail = recent[-3:]
        if self.held:
            self._judge_held(x, tail)
        if self.settle:
            end_ns, peak, start, from_round = self.settle[:4]
            foot_ns = int(self.settle[4]) if len(self.settle) > 4 else int(end_ns) - H_NS
            foot = self.settle[5] if len(self.settle) > 5 else start
            if x.ts_ns - end_ns <= H_NS:
                self.settle[1] = max(peak, sum(y for _, y in tail) / len(tail))
                s = self._slope() if self.merge else None
                if s is not None and s >= self.rise_cm_h:   # the same fill, resumed
                    self.rise = [foot_ns, self.settle[1], start, from_round,
                                 self.settle[5] if len(self.settle) > 5 else start]
                    self.settle = []
                return
            self.settle = []
            st = stage_for(x.ctx, local_day(int(end_ns)))
            if from_round and st.irrigated and st.target_cm > 0 and peak - start >= self.min_rise:
                o = peak - st.target_cm
                fast = (peak - foot) / max(1e-9, (end_ns - foot_ns) / H_NS) >= self.clean_cfg[7]
                clean = self._clean(x, st.min_cm, o - self.overshoot, foot, foot_ns, fast)
                if not clean and start >= st.min_cm + self.start_above_min:
                    pass   # a rise from well above the minimum: rain, not the farmer
                elif abs(peak - st.weir_cm) > self.weir_band:
                    self._record(o, clean)
                elif clean:   # at the weir: rain did not stop it; an inlet left open can
                    after = sum(y for _, y in recent) / len(recent)
                    self.held = [float(end_ns), after, o, foot, float(foot_ns), st.min_cm]
        s = self._slope()
        if s is None:
            return
        if not self.rise:
            if s >= self.rise_cm_h:
                last3 = sum(y for _, y in tail) / len(tail)
                if self.merge:   # the foot of the rise: the lowest point of the hour
                    first = min(self.recent, key=lambda p: p[1])
                else:
                    first = self.recent[0]
                i = self.recent.index(first)
                near = self.recent[max(0, i - 1):i + 2]
                # the rise began after the last reading still at the bottom
                # (within the probe's noise of the lowest): a round opened it then
                began = max(t for t, y in self.recent if y <= first[1] + 0.3)
                self.rise = [first[0], last3, min(y for _, y in self.recent[:2]),
                             1.0 if self._at_round(int(first[0])) or self._at_round(int(began))
                             else 0.0,
                             sum(y for _, y in near) / len(near)]
        elif s < self.stop_cm_h:
            last3 = sum(y for _, y in tail) / len(tail)
            self.settle = [x.ts_ns, max(self.rise[1], last3), self.rise[2], self.rise[3],
                           self.rise[0], self.rise[4] if len(self.rise) > 4 else self.rise[2]]
            self.rise = []
        else:
            self.rise[1] = max(self.rise[1], sum(y for _, y in tail) / len(tail))

    def _record(self, o: float, clean: int) -> None:
        self.offsets = (self.offsets + [o])[-self.fills:]
        self.clean = (self.clean + [clean])[-self.fills:]
        self._drift = False

    def _judge_held(self, x: Sample, tail: list[list[float]]) -> None:
        """A clean fill that stopped at the weir: an inlet left open holds the
        level there (it overflows), a field the farmer filled loses water at
        once — if its hourly mean fell ``fall_cm`` from the hour after the stop
        to ``hold_h`` after it, the fill decides alone; if not (or a new rise
        came first), only with a second clean fill."""
        stop_ns, after, o, foot, foot_ns, min_cm = self.held
        hold_ns, fall = self.clean_cfg[4], self.clean_cfg[5]
        waited = x.ts_ns - stop_ns >= hold_ns
        if not waited and not self.rise:
            return
        self.held = []
        now = sum(y for _, y in self.recent) / len(self.recent)
        fell = waited and now <= after - fall and \
            self._clean(x, min_cm, o - self.overshoot, foot, int(foot_ns))   # still no rain
        self._record(o, 1 if fell else 2)

    def _clean(self, x: Sample, min_cm: float, d: float, foot: float, foot_ns: int,
               fast: bool = False) -> int:
        """1 if a fill is a clean reference: the area's gauge counted no rain
        from ``dry_before_h`` before its foot until now (no rain lifted the
        field or stopped the rise), it stopped within ``max_clean_cm`` of the
        target, and its foot is where the farmer fills: below the minimum once
        the offset is taken off (± ``foot_tol_cm``; a fill that began at a
        reading near the minimum and stopped 1 cm short of the target was not
        the farmer's fill to the target — a breach or a stuck probe stopped it)."""
        need, dry_before_ns, max_clean, foot_tol = self.clean_cfg[:4]
        if fast:
            max_clean = self.clean_cfg[8]
        dry = x.num(AREA_DRY)
        if not need or dry is None or abs(d) > max_clean:
            return 0
        if x.ts_ns - int(dry * H_NS) > foot_ns - dry_before_ns:
            return 0
        return int(foot - d <= min_cm + foot_tol)

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        d = self.drift_cm()
        ev: dict[str, Any] = {"field": self.field,
                              "drift_cm": None if d is None else round(d, 2),
                              "fill_offsets_cm": [round(o, 2) for o in self.offsets],
                              "clean_fills": list(self.clean)}
        if x is not None:
            st = stage_for(x.ctx, local_day(x.ts_ns))
            ev.update(stage=st.name, target_cm=st.target_cm, weir_cm=st.weir_cm,
                      value=x.fields.get(self.field))
        return ev
