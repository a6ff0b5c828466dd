"""Watch-over wearable detectors (DOMAIN.md §1).

* :class:`FallDetector` — the device's own fall flag (an impact) confirmed by
  inactivity: still at the flagged uplink or at the next one. A false
  candidate (sitting down hard, a dropped device) is followed by motion or
  by "not worn", and is dropped. **A fall the band did not flag** shows as a
  person who stops moving at once and whose heart rate rises while lying
  still (pain, stress — sitting down or falling asleep lowers it): a band on
  the wrist with no steps and activity ≤ ``max_activity`` whose heart rate
  stays ``each_bpm`` above the person's recent level (EW mean over
  ``ref_s``, readings outside the 50–120 bpm guard rails are not learned) and
  on average ``rise_moving_bpm`` above it over ``n_moving`` readings when
  they were moving within ``moved_s`` before — or ``rise_still_bpm`` over
  ``n_still`` readings when they were already still (in bed: a fall at night
  lifts a sleeping heart rate by far more) — is a fall too.
* :class:`InactivityDetector` — no steps for ``hours`` of the person's
  normally-awake hours (learned per hour of day).
* :class:`NotWornDetector` — ``worn`` false for ``hours``.
* :class:`WanderingDetector` — GPS fixes in the person's usual sleep hours
  outside the home's safe zone (radius max(50 m, 2 × accuracy), DOMAIN §1.5).

>>> d = FallDetector()
>>> x = Sample(0, {"fall": True, "fall_confidence": 0.8, "worn": True, "steps": 0, "activity": 1})
>>> d.score_one(x)
1.0
>>> d.score_one(Sample(0, {"fall": True, "worn": True, "steps": 30, "activity": 40}))
0.5
"""

from __future__ import annotations

import math
from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample
from .baseline import local_hour

NS = 1_000_000_000


def _still(x: Sample, max_activity: float) -> bool:
    worn = x.flag("worn")
    steps, act = x.num("steps"), x.num("activity")
    return worn is not False and steps is not None and steps == 0 and act is not None \
        and act <= max_activity


_NO_RUN = (0, 0.0, False, False)


class FallDetector(Detector):
    name = "fall"
    kind = EventKind.FALL
    severity = Severity.CRITICAL
    STATE = ("pending_ns", "confirmed", "hr_ref", "ref_ns", "moved_at_ns", "run", "run_sum",
             "run_moving")

    def __init__(self, confirm_s: float = 1200, max_activity: float = 2.0,
                 min_confidence: float = 0.0, still_falls: bool = True, ref_s: float = 3600,
                 each_bpm: float = 3.0, rise_moving_bpm: float = 7.0, n_moving: int = 2,
                 rise_still_bpm: float = 10.0, n_still: int = 3, moved_s: float = 1200,
                 guard_bpm: tuple[float, float] = (50.0, 120.0)) -> None:
        self.confirm_ns, self.max_activity = int(confirm_s * NS), max_activity
        self.min_confidence = min_confidence
        self.pending_ns = 0       # time of an unconfirmed fall flag
        self.confirmed = False    # a confirmed fall whose person has not moved yet
        self.still_falls, self.ref_s, self.each = still_falls, ref_s, each_bpm
        self.rise_moving, self.n_moving = rise_moving_bpm, n_moving
        self.rise_still, self.n_still = rise_still_bpm, n_still
        self.moved_window_ns, self.guard = int(moved_s * NS), tuple(guard_bpm)
        self.hr_ref: float | None = None   # the person's recent heart rate (EW mean)
        self.ref_ns = 0
        self.moved_at_ns = 0       # the last reading with motion
        self.run = 0              # still readings in a row with a raised heart rate
        self.run_sum = 0.0        # their heart rates, summed
        self.run_moving = False   # the run began right after moving
        self._memo: tuple[Sample, Any] | None = None

    def _flagged(self, x: Sample) -> bool:
        conf = x.num("fall_confidence")
        return bool(x.flag("fall")) and (conf is None or conf >= self.min_confidence)

    def _still_fall(self, x: Sample, still: bool) -> tuple[int, float, bool, bool]:
        """(run, run_sum, run_moving, confirmed now) after this reading."""
        hr = x.num("heart_rate_bpm")
        ref = self.hr_ref
        if not (self.still_falls and still and hr is not None and ref is not None
                and x.flag("worn") is True and hr >= ref + self.each):
            return 0, 0.0, False, False
        if self.run:
            run, total, moving = self.run + 1, self.run_sum + hr, self.run_moving
        else:
            moving = x.ts_ns - self.moved_at_ns <= self.moved_window_ns
            run, total = 1, hr
        n, rise = (self.n_moving, self.rise_moving) if moving else (self.n_still, self.rise_still)
        return run, total, moving, run >= n and total / run >= ref + rise

    def _eval(self, x: Sample) -> tuple[float, bool, bool, tuple[int, float, bool, bool]]:
        """(score, flagged, still, still-fall run) of a reading, once per reading."""
        memo = self._memo
        if memo is not None and memo[0] is x:
            return memo[1]
        flag = self._flagged(x)
        still = _still(x, self.max_activity)
        run = self._still_fall(x, still) if still else _NO_RUN
        if flag:
            score = 1.0 if still else 0.5
        elif self.pending_ns and x.ts_ns - self.pending_ns <= self.confirm_ns:
            score = 1.0 if still else 0.0
        elif self.confirmed and still:
            score = 0.5   # still lying: keep the finding open
        else:
            score = 1.0 if run[3] else 0.0
        out = (score, flag, still, run)
        self._memo = (x, out)
        return out

    def score_one(self, x: Sample) -> float | None:
        return self._eval(x)[0]

    def learn_one(self, x: Sample) -> None:
        s, flagged, still, (run, total, moving, _) = self._eval(x)
        self._memo = None
        if not still:
            self.moved_at_ns = x.ts_ns
        if run:
            self.run, self.run_sum, self.run_moving = run, total, moving
        else:
            self.run, self.run_sum, self.run_moving = 0, 0.0, False
            hr = x.num("heart_rate_bpm")
            if hr is not None and self.guard[0] <= hr <= self.guard[1]:
                if self.hr_ref is None:
                    self.hr_ref = hr
                else:
                    a = min(1.0, max(0.0, (x.ts_ns - self.ref_ns) / NS / self.ref_s))
                    self.hr_ref += a * (hr - self.hr_ref)
                self.ref_ns = x.ts_ns
        if flagged:
            self.pending_ns = 0 if s == 1.0 else x.ts_ns
            self.confirmed = s == 1.0
            return
        if self.pending_ns and x.ts_ns - self.pending_ns <= self.confirm_ns:
            self.confirmed = s == 1.0
            self.pending_ns = 0
            return
        self.pending_ns = 0
        self.confirmed = (self.confirmed and s == 0.5) or s == 1.0

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {}
        if x is not None:
            for k in ("fall_confidence", "activity", "steps", "heart_rate_bpm"):
                if k in x.fields:
                    ev[k] = x.fields[k]
            if not self._flagged(x) and self.hr_ref is not None:
                ev["unflagged"] = True
                ev["heart_rate_ref_bpm"] = round(self.hr_ref, 1)
        return ev


class _AwakeProfile:
    """Per local hour, the EW share of readings with steps (awake or not)."""

    def __init__(self, default_wake_h: float = 7.0, default_bed_h: float = 21.0,
                 alpha: float = 0.05, min_per_hour: int = 12) -> None:
        self.frac = [0.0] * 24
        self.count = [0] * 24
        self.default = (default_wake_h, default_bed_h)
        self.alpha, self.min_per_hour = alpha, min_per_hour

    def awake(self, ts_ns: int) -> float:
        """How surely the person is normally awake at this hour (0..1)."""
        h = int(local_hour(ts_ns))
        if self.count[h] < self.min_per_hour:
            w, b = self.default
            return 1.0 if w <= h < b else 0.0
        return self.frac[h]

    def learn(self, ts_ns: int, moving: bool) -> None:
        h = int(local_hour(ts_ns))
        c = self.count[h]
        a = max(self.alpha, 1.0 / (c + 1))
        self.frac[h] += a * ((1.0 if moving else 0.0) - self.frac[h])
        self.count[h] = c + 1

    def state(self) -> dict[str, Any]:
        return {"frac": list(self.frac), "count": list(self.count)}

    def load(self, s: dict[str, Any]) -> None:
        self.frac, self.count = list(s["frac"]), list(s["count"])


class InactivityDetector(Detector):
    name = "inactivity"
    kind = EventKind.INACTIVITY
    STATE = ("still_s", "last_ns")

    def __init__(self, hours: float = 3.0, awake_level: float = 0.6,
                 max_activity: float = 10.0) -> None:
        self.limit_s, self.awake_level, self.max_activity = hours * 3600, awake_level, max_activity
        self.profile = _AwakeProfile()
        self.still_s = 0.0
        self.last_ns = 0

    def _still_after(self, x: Sample) -> float | None:
        worn, steps = x.flag("worn"), x.num("steps")
        if worn is False or steps is None:
            return None  # no information
        if steps > 0:
            return 0.0
        dt = (x.ts_ns - self.last_ns) / NS if self.last_ns else 0.0
        awake = self.profile.awake(x.ts_ns) >= self.awake_level
        return self.still_s + (min(dt, 3600.0) if awake else 0.0)

    def score_one(self, x: Sample) -> float | None:
        s = self._still_after(x)
        if s is None:
            return None
        return 1.0 if s >= self.limit_s else 0.5 if s >= self.limit_s / 2 else 0.0

    def learn_one(self, x: Sample) -> None:
        s = self._still_after(x)
        if s is not None:
            self.still_s = s
            steps = x.num("steps") or 0
            if self.still_s < 3600:  # long stillness stays out of the profile
                self.profile.learn(x.ts_ns, steps > 0)
        self.last_ns = x.ts_ns

    def state(self) -> dict[str, Any]:
        return {"still_s": self.still_s, "last_ns": self.last_ns, "profile": self.profile.state()}

    def load_state(self, s: dict[str, Any]) -> None:
        self.still_s, self.last_ns = float(s["still_s"]), int(s["last_ns"])
        self.profile.load(s["profile"])

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        return {"still_h": round(self.still_s / 3600, 2)}


class NotWornDetector(Detector):
    name = "not_worn"
    kind = EventKind.NOT_WORN
    severity = Severity.INFO
    STATE = ("since_ns",)

    def __init__(self, hours: float = 3.0) -> None:
        self.limit_ns = int(hours * 3600 * NS)
        self.since_ns = 0

    def score_one(self, x: Sample) -> float | None:
        worn = x.flag("worn")
        if worn is None:
            return None
        if worn:
            return 0.0
        since = self.since_ns or x.ts_ns
        return 1.0 if x.ts_ns - since >= self.limit_ns else 0.5

    def learn_one(self, x: Sample) -> None:
        worn = x.flag("worn")
        if worn is None:
            return
        self.since_ns = 0 if worn else (self.since_ns or x.ts_ns)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance in metres (fine at town scale)."""
    lat = math.radians((a[0] + b[0]) / 2)
    dn = (a[0] - b[0]) * 111_320.0
    de = (a[1] - b[1]) * 111_320.0 * math.cos(lat)
    return math.hypot(dn, de)


class WanderingDetector(Detector):
    name = "wandering"
    kind = EventKind.WANDERING
    severity = Severity.CRITICAL
    min_duration = 2
    STATE = ()

    def __init__(self, safe_radius_m: float = 50.0, asleep_level: float = 0.25,
                 max_accuracy_m: float = 50.0) -> None:
        self.safe_radius_m, self.asleep_level = safe_radius_m, asleep_level
        self.max_accuracy_m = max_accuracy_m
        self.profile = _AwakeProfile(default_wake_h=5.0, default_bed_h=22.0)

    def score_one(self, x: Sample) -> float | None:
        lat, lon = x.num("lat"), x.num("lon")
        if lat is None or lon is None:
            return None
        acc = x.num("gps_accuracy_m") or 10.0
        if acc > self.max_accuracy_m or self.profile.awake(x.ts_ns) > self.asleep_level:
            return 0.0
        home = x.ctx.get("home")
        if home:
            radius = max(float(x.ctx.get("safe_radius_m", self.safe_radius_m)), 2 * acc)
            return 1.0 if distance_m((lat, lon), (float(home[0]), float(home[1]))) > radius \
                else 0.0
        return 1.0  # outdoors at night, home unknown

    def learn_one(self, x: Sample) -> None:
        steps = x.num("steps")
        if steps is not None and x.flag("worn") is not False and x.num("lat") is None:
            self.profile.learn(x.ts_ns, steps > 0)

    def state(self) -> dict[str, Any]:
        return {"profile": self.profile.state()}

    def load_state(self, s: dict[str, Any]) -> None:
        self.profile.load(s["profile"])

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        if x is None:
            return {}
        return {k: x.fields[k] for k in ("lat", "lon", "gps_accuracy_m") if k in x.fields}
