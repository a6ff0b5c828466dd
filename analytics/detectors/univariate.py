"""A generic univariate streaming anomaly detector (the NAB-grade one).

One configuration for every series. Per reading, O(window) numpy work with
fixed-size windows (bounded cost, bounded memory):

1. **KNN novelty at two scales.** The last ``dim`` values form a point; its
   non-conformity is the mean distance to its ``k`` nearest neighbours among
   the last ``ref`` such points (lagged so a point is never compared with
   itself), divided by the running value range. Scale ``dim=1`` sees values
   never seen before (spikes, level shifts); a longer ``dim`` sees shapes
   never seen before (a daily pattern that changes or goes flat).
2. **Conformal calibration.** Each non-conformity becomes a p-value against
   the last ``calib`` non-conformities of the same scale, so scores of
   different series mean the same thing; surprise = -log10(1 - p).
3. **Anomaly likelihood** (as Numenta's HTM post-processing): the mean
   surprise of the last ``short`` readings is compared with the distribution
   of that mean over the last ``long`` readings; the score is the Gaussian
   tail probability 1 - Q(z).
4. **Alarm suppression.** After a score >= ``alarm`` the next readings are
   capped at 0.5: one anomaly, one alarm. The quiet spell is ``suppress``
   readings, or ``suppress_frac`` of the readings seen so far when that is
   longer (an incident in a long history spans more readings), at most
   ``suppress_max``.
5. **Routines are not anomalies.** An alarm is withheld when the evidence
   already reached ``recur_level`` (z) one, two or three days earlier at the
   same time of day (within ``recur_tol_s``, or one reading interval when
   readings are sparser): a nightly job's spike alarms once,
   not every night. And the reverse: when strong evidence came at this time
   of day on each of the last ``missed_days`` days and today nothing came
   (not even ``recur_level``) by one tolerance past the usual time, that
   missed routine is an alarm (``missed_score``): a nightly job that did not
   run. Both need the readings' timestamps.

>>> import random
>>> rnd = random.Random(1)
>>> det = UnivariateNovelty()
>>> scores = []
>>> for t in range(1200):
...     v = 10 + rnd.gauss(0, 1) + (40 if t == 1000 else 0)
...     scores.append(det.update(v))
>>> scores[1000] >= det.alarm, scores[1001]  # an alarm at the spike, then quiet
(True, 0.5)
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

import numpy as np

from .base import Detector, Sample

DAY_S = 86400.0


def _norm_ppf(p: float) -> float:
    """Inverse of the standard normal CDF (bisection; called once)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


class _Ring:
    """A fixed-size float ring with a fill count."""

    __slots__ = ("buf", "i", "n")

    def __init__(self, size: int, width: int = 0) -> None:
        self.buf = np.zeros((size, width) if width else size)
        self.i = 0
        self.n = 0

    def push(self, v: Any) -> None:
        self.buf[self.i] = v
        self.i = (self.i + 1) % len(self.buf)
        self.n = min(self.n + 1, len(self.buf))

    def view(self) -> np.ndarray:
        return self.buf[: self.n]

    def last(self, m: int) -> np.ndarray:
        """The last m pushed values in order (m <= n)."""
        idx = (self.i - m + np.arange(m)) % len(self.buf)
        return self.buf[idx]

    def state(self) -> dict[str, Any]:
        return {"buf": self.buf.tolist(), "i": self.i, "n": self.n}

    def load(self, s: dict[str, Any]) -> None:
        self.buf = np.asarray(s["buf"], dtype=float).reshape(self.buf.shape)
        self.i, self.n = int(s["i"]), int(s["n"])


class UnivariateNovelty(Detector):
    """Streaming score in [0, 1] for one numeric field (see module doc)."""

    name = "univariate"
    alarm = 0.999

    def __init__(self, field: str = "value", dims: tuple[int, ...] = (1, 10), ref: int = 1200,
                 k: int = 3, calib: int = 3000, floor: float = 1e-3, short: int = 10,
                 long: int = 2000, warmup: int = 150, alarm: float = 0.999,
                 suppress: int = 100, sd_floor: float = 1e-3, spread: float = 0.0,
                 excess: float = 5.0,
                 record: float = 0.0, rec_factor: float = 1.0, repeat_rows: int = 0,
                 repeat_factor: float = 1.0, sum_scales: bool = False,
                 suppress_frac: float = 0.03, suppress_max: int = 1000,
                 recur_periods_s: tuple[float, ...] = (86400.0, 172800.0, 259200.0),
                 recur_tol_s: float = 900.0, recur_level: float = 2.5,
                 recur_keep: int = 4096, missed_days: int = 3,
                 missed_score: float = 0.9995) -> None:
        self.field, self.dims, self.ref, self.k = field, tuple(dims), ref, k
        self.calib, self.floor, self.short, self.long = calib, floor, short, long
        self.warmup, self.alarm, self.suppress = warmup, alarm, suppress
        self.sd_floor, self.spread, self.excess = sd_floor, spread, excess
        self.record, self.rec_factor, self.zmax = record, rec_factor, 0.0
        self.repeat_rows, self.repeat_factor, self.last_alarm_z = repeat_rows, repeat_factor, 0.0
        self.sum_scales, self.suppress_frac = sum_scales, suppress_frac
        self.suppress_max = suppress_max
        self.recur_periods_s, self.recur_tol_s = tuple(recur_periods_s), recur_tol_s
        self.recur_level = recur_level
        self.events: deque[float] = deque(maxlen=recur_keep)  # times (s) of z >= recur_level
        self.missed_days, self.missed_score = missed_days, missed_score
        self.strong: deque[float] = deque(maxlen=recur_keep)  # times (s) of z >= alarm level
        self.due = False                                      # a routine was missed just now
        self.last_ts: float | None = None
        self.interval_s = 0.0                                 # smoothed reading interval
        self._z_alarm = _norm_ppf(alarm)
        self.maxdim = max(self.dims)
        self.n = 0
        self.vmin, self.vmax = math.inf, -math.inf
        self.recent = _Ring(2 * self.maxdim)           # last values (embeddings + lag)
        self.points = {d: _Ring(ref, d) for d in self.dims}
        self.cal = {d: _Ring(calib) for d in self.dims}
        self.surprise = _Ring(short)
        self.means = _Ring(long)
        self.means_sum = 0.0
        self.means_sq = 0.0
        self.since_alarm = 10**9
        self._cache: tuple[float, Any] | None = None

    # -- one step, split into score (pure) and learn -------------------
    def _compute(self, v: float, ts: float | None = None) -> tuple[Any, ...]:
        if self._cache is not None and self._cache[0] == (v, ts):
            return self._cache[1]
        vmin, vmax = min(self.vmin, v), max(self.vmax, v)
        rng = max(vmax - vmin, 1e-9)
        have = self.recent.n
        ncms: dict[int, float] = {}
        s_max = 0.0
        for d in self.dims:
            if have < d - 1:
                continue
            point = np.append(self.recent.last(d - 1), v) if d > 1 else np.array([v])
            pts = self.points[d]
            if pts.n <= self.k + 5:
                continue
            dist = np.sqrt(((pts.view() - point) ** 2).sum(axis=1)) / rng
            ncm = float(np.partition(dist, self.k - 1)[: self.k].mean())
            ncms[d] = ncm
            cal = self.cal[d]
            if cal.n >= 30:
                h = cal.view()
                p = float((h < ncm).mean() + 0.5 * (h == ncm).mean())
                s = -math.log10(max(1.0 - p, self.floor))
                if self.excess:
                    top = float(h.max())
                    if ncm > top > 0:
                        s += self.excess * math.log10(ncm / top)
                s_max = max(s_max, s) if not self.sum_scales else s_max + s / len(self.dims)
        # mean surprise over the short window, including this one
        m_now = (self.surprise.view().sum() - (self.surprise.buf[self.surprise.i]
                 if self.surprise.n == self.short else 0.0) + s_max) / min(self.surprise.n + 1,
                                                                          self.short)
        score = 0.0
        z = None
        if self.n >= self.warmup and self.means.n >= 30:
            k = self.means.n
            mu = self.means_sum / k
            sd = max(math.sqrt(max(self.means_sq / k - mu * mu, 0.0)), self.sd_floor)
            z = (m_now - mu) / sd
            score = 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))
            if self.spread and z > self._z_alarm:
                # above the alarm level keep the strength of the evidence visible
                score = self.alarm + (1.0 - self.alarm) * (
                    1.0 - math.exp(-(z - self._z_alarm) / self.spread))
        if self.record and z is not None and z < self.rec_factor * self.zmax:
            score = min(score, 0.5)   # not as unusual as what this series already did
        raw_score = score
        if self.since_alarm < self._quiet_rows():
            score = min(score, 0.5)
        elif (self.repeat_rows and self.since_alarm < self.repeat_rows and z is not None
              and z < self.repeat_factor * self.last_alarm_z):
            score = min(score, 0.5)  # a later alarm must be stronger than the last one
        if score >= self.alarm and ts is not None and self._recurs(ts):
            score = min(score, 0.5)  # the same happened at this time of day before: routine
        due = ts is not None and self._missed(ts, z)
        if due and not self.due and self.since_alarm >= self._quiet_rows():
            score = max(score, self.missed_score)  # a daily routine did not happen
        out = (score, ncms, s_max, m_now, raw_score, z, due)
        self._cache = ((v, ts), out)
        return out

    def _tol(self) -> float:
        """``recur_tol_s``, or one reading interval when readings are sparser."""
        return max(self.recur_tol_s, self.interval_s)

    def _missed(self, ts: float, z: float | None) -> bool:
        """Is a routine overdue? Strong evidence (z at the alarm level) came
        at this time of day on each of the last ``missed_days`` days, within
        the tolerance, and today not even ``recur_level`` has been reached."""
        if not self.missed_days or (z is not None and z >= self.recur_level):
            return False
        tol = self._tol()
        strong = self.strong
        if not strong or (self.events and self.events[-1] >= ts - 3 * tol):
            return False  # nothing established, or it did happen (at least weakly)
        for d in range(1, self.missed_days + 1):
            hi = ts - d * DAY_S - tol  # overdue by more than the tolerance
            i = bisect.bisect_left(strong, hi - 2 * tol)
            if i == len(strong) or strong[i] > hi:
                return False
        return True

    def _recurs(self, ts: float) -> bool:
        """Did the evidence reach ``recur_level`` one period ago (a day, two
        days), within ``recur_tol_s``? Then this is a routine, not an anomaly
        (a nightly job's spike, a daily ramp)."""
        tol = self._tol()
        return any(abs(ts - e - p) <= tol for p in self.recur_periods_s for e in self.events)

    def _quiet_rows(self) -> int:
        """Readings kept quiet after an alarm: ``suppress``, growing with the
        history seen (``suppress_frac`` of it, so a long series' incidents,
        which last longer in readings, still alarm once), at most
        ``suppress_max``."""
        grown = int(self.suppress_frac * self.n)
        return max(self.suppress, min(grown, self.suppress_max))

    def update(self, v: float, ts: float | None = None) -> float:
        """Score then learn one value (``ts``: its time in seconds, optional);
        returns the score."""
        score = self._compute(v, ts)[0]
        self._learn(v, ts)
        return score

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        return None if v is None else self._compute(v, x.ts_ns / 1e9)[0]

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is not None:
            self._learn(v, x.ts_ns / 1e9)

    def _learn(self, v: float, ts: float | None = None) -> None:
        score, ncms, s_max, m_now, _raw, z, due = self._compute(v, ts)
        if self.record and z is not None:
            self.zmax = max(self.zmax * self.record, z)
        self._cache = None
        for d, ncm in ncms.items():
            self.cal[d].push(ncm)
        self.surprise.push(s_max)
        if self.means.n == self.long:
            old = self.means.buf[self.means.i]
            self.means_sum -= old
            self.means_sq -= old * old
        self.means.push(m_now)
        self.means_sum += m_now
        self.means_sq += m_now * m_now
        self.since_alarm += 1
        if ts is not None and self.last_ts is not None and ts > self.last_ts:
            gap = ts - self.last_ts
            self.interval_s = gap if not self.interval_s else 0.99 * self.interval_s + 0.01 * gap
        if ts is not None:
            self.last_ts = ts
        if ts is not None and z is not None:
            if z >= self.recur_level:
                self.events.append(ts)
            horizon = ts - max(self.recur_periods_s, default=0.0) - 2 * self._tol()
            while self.events and self.events[0] < horizon:
                self.events.popleft()
            if z >= self._z_alarm:
                self.strong.append(ts)
            horizon = ts - self.missed_days * DAY_S - 3 * self._tol()
            while self.strong and self.strong[0] < horizon:
                self.strong.popleft()
        self.due = due
        if score >= self.alarm:  # an alarm went out: quiet for a while
            self.since_alarm = 0
            self.last_alarm_z = z if z is not None else 0.0
        self.vmin, self.vmax = min(self.vmin, v), max(self.vmax, v)
        self.recent.push(v)
        self.n += 1
        # a point enters the reference set only after it has slid out of the
        # current embedding (no self-matches)
        for d in self.dims:
            lag = d
            end = self.recent.n - 1 - lag           # index (from oldest) of its last value
            if end - d + 1 < 0:
                continue
            seq = self.recent.last(self.recent.n)[end - d + 1:end + 1]
            self.points[d].push(seq)

    def evidence(self, x: Sample) -> dict[str, Any]:
        return {"field": self.field, "value": x.fields.get(self.field)}

    def state(self) -> dict[str, Any]:
        return {
            "n": self.n, "vmin": self.vmin if math.isfinite(self.vmin) else None,
            "vmax": self.vmax if math.isfinite(self.vmax) else None,
            "recent": self.recent.state(), "surprise": self.surprise.state(),
            "means": self.means.state(), "means_sum": self.means_sum,
            "means_sq": self.means_sq, "since_alarm": self.since_alarm, "zmax": self.zmax,
            "last_alarm_z": self.last_alarm_z, "events": list(self.events),
            "last_ts": self.last_ts, "interval_s": self.interval_s,
            "strong": list(self.strong), "due": self.due,
            "points": {str(d): r.state() for d, r in self.points.items()},
            "cal": {str(d): r.state() for d, r in self.cal.items()},
        }

    def load_state(self, s: dict[str, Any]) -> None:
        self.n = int(s["n"])
        self.vmin = math.inf if s["vmin"] is None else float(s["vmin"])
        self.vmax = -math.inf if s["vmax"] is None else float(s["vmax"])
        self.recent.load(s["recent"])
        self.surprise.load(s["surprise"])
        self.means.load(s["means"])
        self.means_sum, self.means_sq = float(s["means_sum"]), float(s["means_sq"])
        self.since_alarm = int(s["since_alarm"])
        self.zmax = float(s.get("zmax", 0.0))
        self.last_alarm_z = float(s.get("last_alarm_z", 0.0))
        self.events.clear()
        self.events.extend(float(e) for e in s.get("events", []))
        self.last_ts = None if s.get("last_ts") is None else float(s["last_ts"])
        self.interval_s = float(s.get("interval_s", 0.0))
        self.strong.clear()
        self.strong.extend(float(e) for e in s.get("strong", []))
        self.due = bool(s.get("due", False))
        for d in self.dims:
            self.points[d].load(s["points"][str(d)])
            self.cal[d].load(s["cal"][str(d)])
        self._cache = None
