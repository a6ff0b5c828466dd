"""Generic detectors every family can use: range, rate of change, stuck
sensor, low battery, a boolean flag (SOS), silence against the learned
cadence. Scores are 0 (normal) … 1 (anomalous); 0.5 marks the hysteresis
band where an open finding stays open.

>>> d = StuckDetector("level", min_repeats=3)
>>> s = []
>>> for t, v in enumerate([1.0, 1.2, 1.2, 1.2, 1.2, 1.3]):
...     x = Sample(t, {"level": v}); s.append(d.score_one(x)); d.learn_one(x)
>>> s
[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample

NS = 1_000_000_000
HOUR_NS = 3600 * NS


class RangeDetector(Detector):
    """Outside [low, high] (``hysteresis`` inside the band keeps it open)."""

    name = "range"
    kind = EventKind.OUT_OF_RANGE
    STATE = ()

    def __init__(self, field: str, low: float | None = None, high: float | None = None,
                 hysteresis: float = 0.0, min_duration: int = 1,
                 kind: EventKind | str | None = None, unless_ctx: str | None = None) -> None:
        self.field, self.low, self.high, self.hysteresis = field, low, high, hysteresis
        self.min_duration = min_duration
        # a device setting that makes this fixed band moot (e.g. a crop calendar)
        self.unless_ctx = unless_ctx
        if kind is not None:
            self.kind = EventKind(kind)  # type: ignore[misc]

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None or (self.unless_ctx and self.unless_ctx in x.ctx):
            return None
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            return 1.0
        if (self.low is not None and v < self.low + self.hysteresis) or \
                (self.high is not None and v > self.high - self.hysteresis):
            return 0.5
        return 0.0

    def learn_one(self, x: Sample) -> None:
        pass

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {"field": self.field, "low": self.low, "high": self.high}
        if x is not None:
            ev["value"] = x.fields.get(self.field)
        return ev


class RateDetector(Detector):
    """Least-squares slope over the last ``window_s`` seconds beyond limits
    (per hour, in the field's unit): a sudden drop or rise. Running sums
    keep each reading O(1) amortised."""

    name = "rate"
    kind = EventKind.SUDDEN_DROP
    STATE = ("ts", "vs", "sums")

    def __init__(self, field: str, max_drop_per_h: float | None = None,
                 max_rise_per_h: float | None = None, window_s: float = 7200,
                 min_points: int = 8, min_duration: int = 2,
                 kind: EventKind | str | None = None) -> None:
        self.field, self.max_drop, self.max_rise = field, max_drop_per_h, max_rise_per_h
        self.window_ns, self.min_points, self.min_duration = int(window_s * NS), min_points, \
            min_duration
        if kind is not None:
            self.kind = EventKind(kind)  # type: ignore[misc]
        self.ts: list[float] = []   # hours relative to the first point kept (numerically tame)
        self.vs: list[float] = []
        self.sums = [0.0, 0.0, 0.0, 0.0, 0.0]  # n, Σt, Σy, Σtt, Σty (t in hours from t0)
        self.t0_ns = 0

    def _t(self, ts_ns: int) -> float:
        return (ts_ns - self.t0_ns) / HOUR_NS

    def slope(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        n, st, sy, stt, sty = self.sums
        ts, vs, t0 = self.ts, self.vs, self.t0_ns
        lo = (x.ts_ns - self.window_ns - t0) / HOUR_NS   # self._t(), inline (every reading)
        i = 0
        while i < len(ts) and ts[i] < lo:  # points that will have left the window
            t, y = ts[i], vs[i]
            n, st, sy, stt, sty = n - 1, st - t, sy - y, stt - t * t, sty - t * y
            i += 1
        t = (x.ts_ns - t0) / HOUR_NS
        n, st, sy, stt, sty = n + 1, st + t, sy + v, stt + t * t, sty + t * v
        if n < self.min_points:
            return None
        sxx = stt - st * st / n
        if sxx <= 1e-12:
            return None
        return (sty - st * sy / n) / sxx

    def score_one(self, x: Sample) -> float | None:
        s = self.slope(x)
        if s is None:
            return None if x.num(self.field) is None else 0.0
        if self.max_drop is not None and s < -self.max_drop:
            return 1.0
        if self.max_rise is not None and s > self.max_rise:
            return 1.0
        if self.max_drop is not None and s < -0.5 * self.max_drop:
            return 0.5
        return 0.0

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        if not self.ts:
            self.t0_ns, self.sums = x.ts_ns, [0.0] * 5
        ts, vs, s = self.ts, self.vs, self.sums
        lo = self._t(x.ts_ns - self.window_ns)
        # self._add(t, y, ∓1.0), inline (every reading; the same sums bit for bit)
        while ts and ts[0] < lo:
            t, y = ts.pop(0), vs.pop(0)
            s[0] -= 1.0
            s[1] -= t
            s[2] -= y
            s[3] -= t * t
            s[4] -= t * y
        t = self._t(x.ts_ns)
        ts.append(t)
        vs.append(v)
        s[0] += 1.0
        s[1] += t
        s[2] += v
        s[3] += t * t
        s[4] += t * v
        if len(ts) == 1:
            return
        if ts[0] > 1000.0:  # re-base the clock now and then (precision)
            shift = ts[0]
            self.t0_ns += int(shift * HOUR_NS)
            self.ts = [t - shift for t in ts]
            self.sums = [0.0] * 5
            for t, y in zip(self.ts, self.vs):
                self._add(t, y, 1.0)

    def _add(self, t: float, y: float, sign: float) -> None:
        s = self.sums
        s[0] += sign
        s[1] += sign * t
        s[2] += sign * y
        s[3] += sign * t * t
        s[4] += sign * t * y

    def state(self) -> dict[str, Any]:
        return {"ts": self.ts, "vs": self.vs, "sums": self.sums, "t0_ns": self.t0_ns}

    def load_state(self, s: dict[str, Any]) -> None:
        self.ts, self.vs = [float(t) for t in s["ts"]], [float(v) for v in s["vs"]]
        self.sums, self.t0_ns = [float(v) for v in s["sums"]], int(s["t0_ns"])

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {"field": self.field}
        if x is not None:
            s = self.slope(x)
            ev["slope_per_h"] = None if s is None else round(s, 3)
        return ev


class StuckDetector(Detector):
    """The same value ``min_repeats`` times in a row (after the first): a
    stuck or frozen sensor. Noise normally moves a live sensor's reading."""

    name = "stuck"
    kind = EventKind.SENSOR_STUCK
    severity = Severity.INFO
    STATE = ("last", "repeats")

    def __init__(self, field: str, min_repeats: int = 12, tolerance: float = 0.0) -> None:
        self.field, self.min_repeats, self.tolerance = field, min_repeats, tolerance
        self.last: float | None = None
        self.repeats = 0

    def _repeats_with(self, v: float) -> int:
        if self.last is not None and abs(v - self.last) <= self.tolerance:
            return self.repeats + 1
        return 0

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        return 1.0 if self._repeats_with(v) >= self.min_repeats else 0.0

    def learn_one(self, x: Sample) -> None:
        v = x.num(self.field)
        if v is None:
            return
        self.repeats = self._repeats_with(v)
        self.last = v


class LowBatteryDetector(Detector):
    """Battery below ``low`` % (clears above ``low + hysteresis``)."""

    name = "low_battery"
    kind = EventKind.LOW_BATTERY
    severity = Severity.INFO
    STATE = ()

    def __init__(self, field: str = "battery_pct", low: float = 15.0,
                 hysteresis: float = 5.0) -> None:
        self.field, self.low, self.hysteresis = field, low, hysteresis

    def score_one(self, x: Sample) -> float | None:
        v = x.num(self.field)
        if v is None:
            return None
        return 1.0 if v < self.low else 0.5 if v < self.low + self.hysteresis else 0.0

    def learn_one(self, x: Sample) -> None:
        pass

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        return {"field": self.field, "low": self.low,
                **({"value": x.fields.get(self.field)} if x is not None else {})}


class FlagDetector(Detector):
    """A boolean field that is true (e.g. the SOS button): one finding per
    press, cleared by the next reading without the flag."""

    name = "flag"
    kind = EventKind.SOS
    severity = Severity.CRITICAL
    STATE = ()

    def __init__(self, field: str = "sos", kind: EventKind | str | None = None,
                 severity: Severity | str | None = None) -> None:
        self.field = field
        if kind is not None:
            self.kind = EventKind(kind)  # type: ignore[misc]
        if severity is not None:
            self.severity = Severity(severity)  # type: ignore[misc]

    def score_one(self, x: Sample) -> float | None:
        f = x.flag(self.field)
        return None if f is None else (1.0 if f else 0.0)

    def learn_one(self, x: Sample) -> None:
        pass


class SilenceDetector(Detector):
    """No reading for longer than ``factor`` × the learned cadence.

    The cadence is learned from the gaps between readings: the ``quantile``
    (0.95) of an exponentially decaying histogram of gaps (48 log-spaced
    bins, 10 s … 1 day, memory ≈ ``memory`` gaps), so a device that reports
    every 10 minutes indoors and every 2 minutes outdoors is judged by its
    10 minutes, and one long walk does not shrink it. Until ``min_gaps``
    gaps are seen the profile's interval is used. Time-driven:
    :meth:`score_at` is asked at :meth:`deadline_ns`; the next reading clears.

    >>> d = SilenceDetector(default_interval_s=600)
    >>> for t in range(0, 6000, 600):
    ...     d.learn_one(Sample(t * NS, {}))
    >>> d.score_at(6000 * NS), d.score_at(5400 * NS + 1100 * NS)
    (0.0, 1.0)
    """

    name = "silence"
    kind = EventKind.DEVICE_SILENT
    STATE = ("last_ns", "hist", "seen", "weight")
    BINS = 48
    LO, HI = 10.0, 86400.0

    def __init__(self, default_interval_s: float = 600, factor: float = 1.5,
                 slack_s: float = 30, quantile: float = 0.95, memory: int = 288,
                 min_gaps: int = 8) -> None:
        self.factor, self.slack_s, self.quantile = factor, slack_s, quantile
        self.default_interval_s, self.decay, self.min_gaps = default_interval_s, \
            1.0 - 1.0 / memory, min_gaps
        self.last_ns = 0
        self.hist = [0.0] * self.BINS
        self.weight = 1.0
        self.seen = 0
        self._ratio = math.log(self.HI / self.LO) / self.BINS
        self._cad: float | None = None
        self._limit_ns: int | None = None   # int(limit_s() * NS), kept with _cad

    def _bin(self, gap: float) -> int:
        return max(0, min(self.BINS - 1, int(math.log(max(gap, self.LO) / self.LO) / self._ratio)))

    @property
    def cadence_s(self) -> float:
        if self.seen < self.min_gaps:
            return float(self.default_interval_s)
        if self._cad is None:
            total = sum(self.hist)
            acc, b = 0.0, self.BINS - 1
            for i, c in enumerate(self.hist):
                acc += c
                if acc >= self.quantile * total:
                    b = i
                    break
            self._cad = self.LO * math.exp((b + 1) * self._ratio)  # the bin's upper edge
        return self._cad

    def limit_s(self) -> float:
        return self.factor * self.cadence_s + self.slack_s

    def _limit(self) -> int:
        lim = self._limit_ns
        if lim is None:
            lim = self._limit_ns = int(self.limit_s() * NS)
        return lim

    def deadline_ns(self, now_ns: int | None = None) -> int | None:
        if not self.last_ns:
            return None
        lim = self._limit_ns   # self._limit(), inline: the engine asks on every reading
        return self.last_ns + (lim if lim is not None else self._limit())

    def score_one(self, x: Sample) -> float | None:
        return 0.0  # a reading means the device is not silent

    def score_at(self, now_ns: int) -> float | None:
        if not self.last_ns:
            return None
        return 1.0 if now_ns - self.last_ns >= self._limit() else 0.0

    def learn_one(self, x: Sample) -> None:
        if self.last_ns and x.ts_ns > self.last_ns:
            gap = (x.ts_ns - self.last_ns) / NS
            # decay without touching every bin: later gaps weigh more instead
            self.weight /= self.decay
            if self.weight > 1e12:
                self.hist = [c / self.weight for c in self.hist]
                self.weight = 1.0
            self.hist[self._bin(gap)] += self.weight
            self.seen += 1
            if self.seen <= 2 * self.min_gaps or self.seen % 16 == 0:
                # the quantile moves slowly: recompute now and then
                self._cad = self._limit_ns = None
        self.last_ns = max(self.last_ns, x.ts_ns)

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._cad = self._limit_ns = None

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        return {"last_ns": self.last_ns, "cadence_s": round(self.cadence_s, 1),
                "limit_s": round(self.limit_s(), 1)}
