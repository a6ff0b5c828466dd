"""Watch-over wearable detectors (DOMAIN.md §1).

* :class:`FallDetector` — the device's own fall flag (an impact) confirmed by
  inactivity: still at the flagged uplink or at the next one. A false
  candidate (sitting down hard, a dropped device) is followed by motion or
  by "not worn", and is dropped. **A fall the band did not flag** shows as a
  person who stops moving at once and whose heart rate rises while lying
  still (pain, stress — sitting down or falling asleep lowers it). A band on
  the wrist with no steps and activity ≤ ``max_activity`` is *still*; the
  reference is the person's **resting-awake** heart rate (EW mean, weight
  ``rest_alpha`` per reading, of readings with steps but at most
  ``rest_spm`` steps a minute — pottering about, not a walk, which would
  lift it). A still spell that began within ``moved_s`` of a reading with
  steps is a fall when the mean heart rate of its still readings so far is
  ``moving_rise_bpm[k-1]`` above that reference after k readings (the last
  entry for more; one noisy reading below does not end the spell), for
  its first ``moving_max`` readings (2 h: the person is resting or asleep
  by then, and judged as in bed). A person already still (in bed: the
  heart rate is the sleeping one) needs
  two readings in a row each ``each_bpm`` above the recent level (EW
  mean over ``ref_s``) and not below the resting-awake one, on average
  ``rise_still_bpm`` above the recent level and ``rise_rest_bpm`` above the
  resting-awake one — the bar of a two-reading spell after motion (before
  any resting-awake level is known: ``n_still`` readings, on average
  ``rise_still_bpm`` above the recent level). The same two-in-a-row test
  also decides inside a spell that began after motion: a person who sat or
  lay down and fell later in the spell has calm readings first, which keep
  the spell's mean down (the recent level is not learned in such a spell,
  so it is the level before it). Heart
  rates outside the 50–120 bpm guard rails are the
  heart-rate detector's; they are not learned and end a spell.
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


_NO_RUN = (0, 0.0, False, 0.0, False)


class FallDetector(Detector):
    name = "fall"
    kind = EventKind.FALL
    severity = Severity.CRITICAL
    STATE = ("pending_ns", "confirmed", "hr_ref", "ref_ns", "moved_at_ns", "run", "run_sum",
             "run_moving", "run_last", "rest_ref", "last_ns")

    def __init__(self, confirm_s: float = 1200, max_activity: float = 2.0,
                 min_confidence: float = 0.0, still_falls: bool = True, ref_s: float = 3600,
                 each_bpm: float = 3.0,
                 moving_rise_bpm: tuple[float, ...] = (10.0, 5.0, 4.5, 4.0),
                 rise_still_bpm: float = 10.0, rise_rest_bpm: float = 5.0, n_still: int = 3,
                 moving_max: int = 12, moved_s: float = 1200, rest_spm: float = 20.0,
                 rest_alpha: float = 0.05,
                 guard_bpm: tuple[float, float] = (50.0, 120.0)) -> None:
        self.confirm_ns, self.max_activity = int(confirm_s * NS), max_activity
        self.min_confidence = min_confidence
        self.pending_ns = 0       # time of an unconfirmed fall flag
        self.confirmed = False    # a confirmed fall whose person has not moved yet
        self.still_falls, self.ref_s, self.each = still_falls, ref_s, each_bpm
        self.moving_rise, self.moving_max = tuple(moving_rise_bpm), moving_max
        self.rise_still, self.rise_rest, self.n_still = rise_still_bpm, rise_rest_bpm, n_still
        self.moved_window_ns, self.guard = int(moved_s * NS), tuple(guard_bpm)
        self.rest_spm, self.rest_alpha = rest_spm, rest_alpha
        self.hr_ref: float | None = None   # the person's recent heart rate (EW mean)
        self.ref_ns = 0
        self.rest_ref: float | None = None  # resting-awake heart rate (EW per reading)
        self.last_ns = 0          # the previous reading
        self.moved_at_ns = 0      # the last reading with steps
        self.run = 0              # still readings in the current spell
        self.run_sum = 0.0        # their heart rates, summed
        self.run_moving = False   # the spell began right after steps
        self.run_last = 0.0       # the previous still reading's heart rate (in bed)
        self._memo: tuple[Sample, Any] | None = None

    def _flagged(self, x: Sample) -> bool:
        conf = x.num("fall_confidence")
        return bool(x.flag("fall")) and (conf is None or conf >= self.min_confidence)

    def _in_bed_rise(self, hr: float) -> bool:
        """A still reading in bed raised ``each`` above the recent level and
        not below the resting-awake one."""
        ref, rest = self.hr_ref, self.rest_ref
        return ref is not None and hr >= ref + self.each and (rest is None or hr >= rest)

    def _raised_pair(self, last: float, hr: float) -> bool:
        """Two still readings in a row, each raised (:meth:`_in_bed_rise`),
        on average ``rise_still`` above the recent level and ``rise_rest``
        above the resting-awake one (needs both references)."""
        ref, rest = self.hr_ref, self.rest_ref
        return ref is not None and rest is not None and self._in_bed_rise(last) \
            and self._in_bed_rise(hr) \
            and (last + hr) / 2 >= max(ref + self.rise_still, rest + self.rise_rest)

    def _still_fall(self, x: Sample, still: bool) -> tuple[int, float, bool, float, bool]:
        """(run, run_sum, run_moving, last hr, confirmed now) after this reading."""
        hr = x.num("heart_rate_bpm")
        if not (self.still_falls and still and hr is not None and x.flag("worn") is True
                and self.guard[0] <= hr <= self.guard[1] and self.hr_ref is not None):
            return _NO_RUN
        if self.run:
            run, total, moving = self.run + 1, self.run_sum + hr, self.run_moving
        else:
            moving = x.ts_ns - self.moved_at_ns <= self.moved_window_ns
            run, total = 1, hr
        rest = self.rest_ref
        if moving and rest is not None and run <= self.moving_max:
            rise = self.moving_rise[min(run, len(self.moving_rise)) - 1]
            ok = total / run >= rest + rise or (run >= 2 and self._raised_pair(self.run_last, hr))
            return run, total, True, hr, ok
        # already still (in bed), or no resting-awake level yet: consecutive
        # readings raised above both references
        if not self._in_bed_rise(hr):
            return _NO_RUN
        if self.run and not self.run_moving:
            run, total = self.run + 1, self.run_sum + hr
        else:
            run, total = 1, hr
        ref = self.hr_ref
        if rest is None:      # the recent level only: n_still readings
            ok = run >= self.n_still and total / run >= ref + self.rise_still
        else:                 # above both: the last two readings
            ok = run >= 2 and self._raised_pair(self.run_last, hr)
        return run, total, False, hr, ok

    def _eval(self, x: Sample) -> tuple[float, bool, bool, tuple[int, float, bool, float, bool]]:
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
            score = 1.0 if run[4] else 0.0
        out = (score, flag, still, run)
        self._memo = (x, out)
        return out

    def score_one(self, x: Sample) -> float | None:
        return self._eval(x)[0]

    def learn_one(self, x: Sample) -> None:
        s, flagged, still, (run, total, moving, last, _) = self._eval(x)
        self._memo = None
        hr = x.num("heart_rate_bpm")
        guarded = hr is not None and self.guard[0] <= hr <= self.guard[1]
        steps = x.num("steps")
        if steps is not None and steps > 0 and x.flag("worn") is not False:
            dt_min = (x.ts_ns - self.last_ns) / NS / 60 if self.last_ns else 0.0
            if guarded and dt_min > 0 and steps / max(dt_min, 1.0) <= self.rest_spm:
                rest = self.rest_ref
                self.rest_ref = hr if rest is None else rest + self.rest_alpha * (hr - rest)
            self.moved_at_ns = x.ts_ns
        self.last_ns = x.ts_ns
        self.run, self.run_sum, self.run_moving, self.run_last = run, total, moving, last
        # the recent level learns everything but a spell's raised readings
        if guarded and not (moving and run) and not (run and last):
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
                if self.rest_ref is not None:
                    ev["heart_rate_rest_bpm"] = round(self.rest_ref, 1)
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
