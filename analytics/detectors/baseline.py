"""Personal baselines and change detection.

* :class:`BaselineDetector` — robust EW baseline of one field per hour of the
  (local) day: EW mean and EW mean absolute deviation per hour bucket (a
  global bucket until an hour has enough history). Robust z beyond
  ``z_guard`` (3.5) while outside absolute guard rails → anomalous (without
  guard rails: beyond ``z_alarm``); outside the guard rails the z against
  the learned bucket whose mean is nearest the value counts too (an hour's
  bucket can be wide from one odd night). Anomalous readings are kept out of the
  baseline by the threshold wrapper.
* :class:`NightlyCusum` — one value per night (the mean of a field over local
  hours [start, end)), standardised against the learned nights, into a
  one-sided or two-sided CUSUM (k = 0.5 σ, h = 5: ARL₀ ≈ 930 nights one-sided,
  DOMAIN.md §5.3). Minimum night flow creeping up (a leak), a sensor drifting.
  Options (the leak uses them): ``robust_warmup`` — the warm-up's baseline is
  the median of the nights so far, scored from night ``score_after``; ``forgive_spike``
  — a night at the clip followed by a normal one leaves the CUSUM as it was;
  ``cap`` — the CUSUM's ceiling, so a repaired leak's finding clears;
  ``rewarm_drop`` — two nights in a row that far (a share of the baseline)
  below it restart the warm-up (a leak repaired that the baseline had held);
  ``rise_clip`` — a night at the clip after a night already 2 σ up counts up
  to this z (the night flow rising night on night is a growing leak).

>>> d = BaselineDetector("hr", z_alarm=4, guard_low=50, guard_high=120, buckets=1)
>>> import random; rnd = random.Random(3)
>>> for t in range(300):
...     d.learn_one(Sample(t * 600 * NS, {"hr": rnd.gauss(70, 3)}))
>>> d.score_one(Sample(301 * 600 * NS, {"hr": 71})), d.score_one(Sample(301 * 600 * NS, {"hr": 140}))
(0.0, 1.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample, shared

NS = 1_000_000_000
JST_S = 9 * 3600
# NightlyCusum(rise_clip=...): a night this many σ up makes the next night's
# jump to the clip the second night of a rise — if that night is below
# RISE_MAX × the baseline (see NightlyCusum._close).
RISE_FROM_Z = 2.0
RISE_MAX = 2.0
# shared by every NightlyCusum with no trend yet (memory a device)
_NO_TREND = (0.0,)


def local_hour(ts_ns: int, utc_offset_s: int = JST_S) -> float:
    return ((ts_ns // NS + utc_offset_s) % 86400) / 3600.0


def local_day(ts_ns: int, utc_offset_s: int = JST_S) -> int:
    return (ts_ns // NS + utc_offset_s) // 86400


class BaselineDetector(Detector):
    name = "baseline"
    kind = EventKind.HEART_RATE_ABNORMAL
    protect_baseline = True
    STATE = ("mean", "dev", "count")

    def __init__(self, field: str, z_alarm: float = 4.0, guard_low: float | None = None,
                 guard_high: float | None = None, buckets: int = 24, alpha: float = 0.02,
                 min_count: int = 12, min_dev: float = 0.5, min_duration: int = 2,
                 hard_low: float | None = None, hard_high: float | None = None,
                 kind: EventKind | str | None = None, z_guard: float = 3.5,
                 up_only: bool = False) -> None:
        # only values above the baseline are anomalous (a leak's noise adds to
        # a pipe's sound: a quieter logger is no leak, see score_one)
        self.up_only = up_only
        self.field, self.z_alarm, self.guard_low, self.guard_high = field, z_alarm, guard_low, \
            guard_high
        self.buckets, self.alpha, self.min_count, self.min_dev = buckets, alpha, min_count, min_dev
        self.min_duration = min_duration
        self.hard_low, self.hard_high = hard_low, hard_high  # while still learning
        # outside the guard rails a smaller personal z is enough: the guard is
        # the clinical criterion, the z only says it is unusual for this person
        self.has_guards = guard_low is not None or guard_high is not None
        self.z_guard = min(z_alarm, z_guard)
        if kind is not None:
            self.kind = EventKind(kind)  # type: ignore[misc]
        n = buckets + 1  # the last one is global
        self.mean = [0.0] * n
        self.dev = [0.0] * n
        self.count = [0] * n

    def _bucket(self, ts_ns: int) -> int:
        return int(local_hour(ts_ns) * self.buckets / 24) % self.buckets if self.buckets else 0

    def z(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        b = self._bucket(x.ts_ns)
        if self.count[b] < self.min_count:
            b = self.buckets
        if self.count[b] < self.min_count:
            return None
        sd = max(1.2533 * self.dev[b], self.min_dev)
        return (v - self.mean[b]) / sd

    def _outside_guards(self, v: float) -> bool:
        if self.guard_low is None and self.guard_high is None:
            return True
        return (self.guard_low is not None and v < self.guard_low) or \
            (self.guard_high is not None and v > self.guard_high)

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        z = self.z(x)
        if z is None:  # still learning: the hard limits alone
            return 1.0 if (self.hard_low is not None and v < self.hard_low) or \
                (self.hard_high is not None and v > self.hard_high) else 0.0
        if self.up_only:
            # A quieter pipe is no leak. Without this a leak that had grown
            # into the baseline (learned from the first days) was "found"
            # again once repaired: seed 1414213 watermain-0045 learned
            # 42.4 dB from a leak in its first ten days, then sounded 33.6 dB
            # (z = -7) for 18 days, one open leak finding after the repair —
            # and, kept out of the baseline as anomalous, it never relearned.
            z = max(z, 0.0)
        outside = self._outside_guards(v)
        if outside and abs(z) >= (self.z_guard if self.has_guards else self.z_alarm):
            return 1.0
        if outside and self.has_guards and abs(self._z_nearest(v)) >= self.z_guard:
            return 1.0
        return 0.5 if abs(z) >= self.z_alarm / 2 else 0.0

    def _z_nearest(self, v: float) -> float:
        """Outside the guard rails: z against the learned bucket (any hour, or
        the global one) whose mean is nearest the value — the person's most
        similar normal state. An hour's bucket can be wide (a night walk at
        that hour once, 30 readings at 87 bpm, makes 03:00 read 79 ± 11), but
        41 bpm is far from every hour of a person who sleeps at 65; a person
        who sleeps at 45 bpm has a bucket near 41 and is not alarmed."""
        best, gap = -1, math.inf
        for b, (c, m) in enumerate(zip(self.count, self.mean)):
            if c >= self.min_count and abs(m - v) < gap:
                best, gap = b, abs(m - v)
        if best < 0:
            return 0.0
        return (v - self.mean[best]) / max(1.2533 * self.dev[best], self.min_dev)

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        for b in (self._bucket(x.ts_ns), self.buckets):
            c = self.count[b]
            a = max(self.alpha, 1.0 / (c + 1))
            if c == 0:
                self.mean[b], self.dev[b] = v, 0.0
            else:
                self.dev[b] += a * (abs(v - self.mean[b]) - self.dev[b])
                self.mean[b] += a * (v - self.mean[b])
            self.count[b] = c + 1

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {"field": self.field}
        if x is not None:
            z = self.z(x)
            ev["value"] = x.fields.get(self.field)
            ev["z"] = None if z is None else round(z, 2)
        return ev


class NightlyCusum(Detector):
    name = "nightly_cusum"
    kind = EventKind.LEAK
    STATE = ("night", "acc_sum", "acc_n", "mu", "var", "nights", "hi", "lo", "alarmed",
             "warm", "spike", "trend")

    def __init__(self, field: str, start_h: float = 2.0, end_h: float = 4.0,
                 direction: str = "up", k: float = 0.5, h: float = 5.0, clip: float = 3.0,
                 warmup_nights: int = 4, alpha: float = 0.1, rel_sd_floor: float = 0.02,
                 abs_sd_floor: float = 0.0, kind: EventKind | str | None = None,
                 severity: Severity | str | None = None, robust_warmup: bool = False,
                 score_after: int | None = None, forgive_spike: bool = False,
                 cap: float | None = None, rewarm_drop: float | None = None,
                 rise_clip: float | None = None) -> None:
        self.field, self.start_h, self.end_h, self.direction = field, start_h, end_h, direction
        self.robust_warmup, self.forgive_spike = robust_warmup, forgive_spike
        # with a robust warm-up, nights are scored from night ``score_after`` on
        self.score_after = warmup_nights if score_after is None or not robust_warmup \
            else min(score_after, warmup_nights)
        # (cap, rewarm_drop, rise_clip) as one attribute: CPython 3.11 shares
        # instance-dict keys up to 30 attributes (+0.5 kB a detector beyond)
        rules = (cap, rewarm_drop, rise_clip)
        self.rules = shared(rules)
        self.k, self.h, self.clip, self.warmup, self.alpha = k, h, clip, warmup_nights, alpha
        self.rel_sd_floor, self.abs_sd_floor = rel_sd_floor, abs_sd_floor
        if kind is not None:
            self.kind = EventKind(kind)  # type: ignore[misc]
        if severity is not None:
            self.severity = Severity(severity)  # type: ignore[misc]
        self.night = -1        # local day of the window being accumulated
        self.acc_sum = 0.0
        self.acc_n = 0
        self.mu = 0.0
        self.var = 0.0
        self.nights = 0
        self.hi = 0.0
        self.lo = 0.0
        self.alarmed = False
        self.warm: list[float] = []   # the warm-up nights' values (robust_warmup)
        # the CUSUM before a night that jumped to the clip: [hi, lo] (forgive_spike)
        self.spike: list[float] | None = None
        # [the last scored night's z (rise_clip), the nights in a row
        # rewarm_drop below the baseline ...]
        self.trend: Sequence[float] = _NO_TREND

    def _in_window(self, ts_ns: int) -> bool:
        h = local_hour(ts_ns)
        return self.start_h <= h < self.end_h

    def _close(self) -> tuple[float, float, bool] | None:
        """The CUSUM after closing the accumulated night (hi, lo, used-for-baseline).

        The clip bounds what one odd night (a burst, a hydrant flushed, a
        meter glitch) adds, so a leak needs two nights at the clip. With
        ``rise_clip``, a night at the clip that follows a night already
        ``RISE_FROM_Z`` σ up counts up to ``rise_clip``: two nights rising in
        a row are no one-night event (a burst lasts hours, never two night
        windows 22 h apart) but the leak's flow growing night on night. A leak
        that begins in the evening is young on its first night (seed 5201314
        watermain-0015: +0.24 m³/h, z 2.8, then +1.05 m³/h, z 10): clipped at
        3 the CUSUM stood at 4.8 after the second night and the run ended.
        A second night above ``RISE_MAX`` × the baseline is a burst's, not a
        leak's growth: the night minimum is the residents' night use plus
        background leakage, about a tenth of the mean demand; a burst adds
        0.5–1.5 × the mean demand (several times the night flow even if it
        covers a fifth of the window: 2718 watermain-0028 +260 %, 8675309
        watermain-0025 +880 %, each after an ordinary high night), a leak
        grows to 0.1–0.3 × over days (+27 % and +37 % on the second nights
        above)."""
        if self.acc_n == 0:
            return None
        value = self.acc_sum / self.acc_n
        if self.nights < self.score_after:
            return self.hi, self.lo, True
        z = self._z(value)
        cap, _, rise_clip = self.rules
        if rise_clip is not None and z >= self.clip and self.trend[0] >= RISE_FROM_Z \
                and value < RISE_MAX * self.mu:
            z = self._z(value, rise_clip)   # the second night of a rise
        hi0, lo0 = self.hi, self.lo
        if self.forgive_spike and self.spike is not None and abs(z) < self.clip - 1:
            hi0, lo0 = self.spike   # last night jumped and this one is normal again
        hi = max(0.0, hi0 + z - self.k) if self.direction in ("up", "both") else 0.0
        lo = max(0.0, lo0 - z - self.k) if self.direction in ("down", "both") else 0.0
        if cap is not None:
            hi, lo = min(hi, cap), min(lo, cap)
        warming = self.robust_warmup and self.nights < self.warmup
        return hi, lo, warming or max(hi, lo) < self.h / 2

    def _z(self, value: float, clip: float | None = None) -> float:
        sd = max(math.sqrt(self.var), self.rel_sd_floor * abs(self.mu), self.abs_sd_floor, 1e-9)
        c = self.clip if clip is None else clip
        return max(-c, min(c, (value - self.mu) / sd))

    def _score(self, hi: float, lo: float) -> float:
        m = max(hi, lo)
        return 1.0 if m >= self.h else 0.5 if m >= self.h / 2 else 0.0

    def score_one(self, x: Sample) -> float | None:
        if x.num(self.field) is None:
            return None
        if self.acc_n and not self._in_window(x.ts_ns):
            r = self._close()
            if r is not None:
                return self._score(r[0], r[1])
        return self._score(self.hi, self.lo)

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        if self._in_window(x.ts_ns):
            day = local_day(x.ts_ns)
            if day != self.night:
                self.night, self.acc_sum, self.acc_n = day, 0.0, 0
            self.acc_sum += v
            self.acc_n += 1
            return
        if not self.acc_n:
            return
        r = self._close()
        value = self.acc_sum / self.acc_n
        self.acc_sum, self.acc_n = 0.0, 0
        if r is None:
            return
        if self.rules[1] is not None and self._rewarm(value):
            return
        if self.rules[2] is not None:
            z = self._z(value) if self.nights >= self.score_after else 0.0
            self._set_trend(z if z >= RISE_FROM_Z else 0.0, self.trend[1:])
        if self.forgive_spike and self.nights >= self.score_after:
            # a night at the clip is remembered until the next: back to normal
            # then, and it was one night's event (a burst, a fire hydrant), not
            # a leak's creeping rise, and it leaves the CUSUM as it found it
            z = self._z(value)
            self.spike = [self.hi, self.lo] if abs(z) >= self.clip and self.spike is None \
                else None
        self.hi, self.lo, use = r
        if use and self.robust_warmup and self.nights < self.warmup:
            self._learn_warm(value)
        elif use:  # anomalous nights stay out of the baseline
            if self.nights == 0:
                self.mu, self.var = value, 0.0
            else:
                a = max(self.alpha, 1.0 / (self.nights + 1))
                d = value - self.mu
                self.mu += a * d
                self.var = (1 - a) * (self.var + a * d * d)
            self.nights += 1

    def _rewarm(self, value: float) -> bool:
        """Restart the warm-up on the second night in a row ``rewarm_drop``
        (a share of the baseline) below the baseline; True if it did.

        The minimum night flow is the residents' night use plus background
        leakage; a leak only adds to it. Night flow well below the learned
        baseline two nights running means the baseline itself held leakage
        that is gone — a leak that grew through the warm-up (the median of the
        warm-up nights was a leaking night and their spread the leak's growth)
        and has been repaired. Measured against that baseline and spread the
        next leak would need to double the night flow before it showed (seed
        6180339 watermain-0048: warm-up median 2.35 m³/h and σ 1.05 from a leak
        in nights 1–6; after the repair the nights were 1.65 ± 0.04 and a
        second leak to 2.75 m³/h scored z = 1). So the warm-up starts again
        from the low nights: median baseline, the floors as spread, the MAD
        once ``warmup_nights`` are in — and the CUSUM of the old baseline is
        dropped (its leak is repaired). Legitimate night use varies a few per
        cent from night to night; a tenth below two nights running does not
        happen while the baseline is right."""
        drop = self.rules[1] or 0.0
        if self.nights < self.score_after or value >= self.mu * (1 - drop):
            self._set_trend(self.trend[0], ())
            return False
        self._set_trend(self.trend[0], (*self.trend[1:], value))
        if len(self.trend) < 3:
            return False
        lows, self.warm, self.trend = self.trend[1:], [], _NO_TREND
        self.nights, self.hi, self.lo, self.spike = 0, 0.0, 0.0, None
        for v in lows:
            self._learn_warm(v)
        return True

    def _set_trend(self, z: float, lows: Sequence[float]) -> None:
        """``trend`` = [the last night's z if it was RISE_FROM_Z up, else 0, the
        low nights ...]; the shared ``_NO_TREND`` when there is nothing."""
        self.trend = [z, *lows] if z or lows else _NO_TREND

    def _learn_warm(self, value: float) -> None:
        """Warm-up nights: the baseline is the median of the nights so far and the spread the floors alone; at the end of
        the warm-up the spread is their MAD (× 1.4826). A leak already growing
        in the first week, or a burst night, neither lifts the baseline nor
        widens the spread the CUSUM is measured in (with mean and variance
        they would: the leak would become the normal)."""
        self.warm.append(value)
        self.nights += 1
        self.mu = statistics.median(self.warm)
        self.var = 0.0
        if self.nights >= self.warmup:
            self.var = (1.4826 * statistics.median(abs(v - self.mu) for v in self.warm)) ** 2
            self.warm = []

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        return {"field": self.field, "night_mean_baseline": round(self.mu, 4),
                "cusum": round(max(self.hi, self.lo), 2), "h": self.h}
