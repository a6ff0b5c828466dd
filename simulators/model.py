"""What every simulated device shares: a seeded random stream of its own, a
reporting cadence, injected anomalies (:class:`Injection`) and the ground-
truth labels they leave (:class:`mimamori.offline.Label`).

A family model subclasses :class:`DeviceModel` and implements
:meth:`~DeviceModel.sample` — the physics of one uplink — and, if an anomaly
must happen at a particular time of day, :meth:`~DeviceModel.place`.
Everything is pure: no I/O, no wall clock; the same seed gives the same
numbers.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field, replace
from typing import Any

from mimamori.contracts import EventKind, Family, Severity
from mimamori.offline import Label

from .timebase import DAY_S, NS
from .weather import Weather

Fields = dict[str, Any]


@dataclass(frozen=True)
class AnomalySpec:
    """An injectable anomaly of a family: the label it leaves (``None`` for
    hard negatives such as a false fall candidate), its severity, its usual
    duration range in seconds, and whether the model itself decides the
    label's span (``dynamic``: e.g. 'water low' starts when the level falls
    below the stage minimum, not when the farmer left)."""

    label: EventKind | None
    severity: Severity = Severity.WARNING
    duration_s: tuple[int, int] = (3600, 3600)
    dynamic: bool = False


@dataclass(order=True)
class Injection:
    start_ns: int
    end_ns: int
    kind: str = field(compare=False)
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def active(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns < self.end_ns


# Every family can fall silent (dead, out of coverage, switched off).
SILENT = AnomalySpec(EventKind.DEVICE_SILENT, Severity.WARNING, (6 * 3600, 24 * 3600))
# The battery fails and empties over the injection's duration; labelled when it dies.
BATTERY_DEAD = AnomalySpec(EventKind.DEVICE_SILENT, Severity.WARNING, (6 * 3600, 2 * 86400),
                           dynamic=True)
# A measuring device's own faults (applied by :meth:`DeviceModel.sensor_faults`), its
# battery and silence: the tail of the paddy and water-main anomaly tables.
SENSOR_FAULTS = {
    "sensor_stuck": AnomalySpec(EventKind.SENSOR_STUCK, Severity.INFO, (12 * 3600, 48 * 3600)),
    # labelled by sensor_faults once the offset exceeds the sensor's accuracy
    "sensor_drift": AnomalySpec(EventKind.SENSOR_DRIFT, Severity.INFO, (14 * DAY_S, 30 * DAY_S),
                                dynamic=True),
    "battery_dead": BATTERY_DEAD,
    "silent": SILENT,
}


class DeviceModel:
    family: Family = Family.GENERIC
    default_profile = ""
    default_interval_s = 600
    ANOMALIES: dict[str, AnomalySpec] = {"silent": SILENT, "battery_dead": BATTERY_DEAD}
    # A drifting sensor whose quantity has no steady value of its own (a
    # paddy's water level) is told from the quantity only where it stands at
    # a value known without the sensor: such models call :meth:`reference`.
    drift_needs_reference = False

    def __init__(self, device_id: str, site: str, *, seed: int | str, start_ns: int,
                 end_ns: int, weather: Weather, profile: str | None = None,
                 interval_s: int | None = None, params: dict[str, Any] | None = None,
                 record_truth: bool = False) -> None:
        self.device_id = device_id
        self.site = site
        self.profile = profile or self.default_profile
        self.interval_s = int(interval_s or self.default_interval_s)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.weather = weather
        self.params: dict[str, Any] = dict(params or {})
        self.rng = random.Random(f"{seed}/{device_id}")
        self.labels: list[Label] = []
        self.injections: list[Injection] = []
        self._pending: list[Injection] = []
        self._active: list[Injection] = []
        self.act: dict[str, Injection] = {}  # active injections by kind, for sample()
        self._extra: list[tuple[int, int, str]] = []  # (ts, seq, why) immediate uplinks
        self._seq = 0
        self.truth: list[tuple[int, dict[str, Any]]] | None = [] if record_truth else None
        # devices do not all report on the same second
        self.next_ns = start_ns + int(self.rng.random() * self.interval_s * NS)
        self.last_ns = start_ns
        self.dead = False  # battery empty: silent for good
        self.battery = 100.0
        self._stuck_value: float | None = None  # what a stuck sensor keeps reporting
        self.plan_rng = self.rng  # the stream anomalies are planned with (set by inject)
        self.setup()

    # -- to override ---------------------------------------------------------
    def setup(self) -> None:
        """Draw the device's (or its person's) own parameters from self.rng."""

    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        """Advance the physics by ``dt_s`` to ``ts_ns`` and return the fields
        of the uplink sent then (``None``: the device sends nothing now)."""
        raise NotImplementedError

    def place(self, kind: str, day_start_ns: int, rng: random.Random) -> int | None:
        """Start time of a randomly scheduled anomaly on a given day (None:
        the anomaly cannot happen that day). Default: any time of day."""
        return day_start_ns + int(rng.random() * DAY_S) * NS

    def cadence_s(self) -> float:
        """Seconds until the next regular uplink (may depend on state)."""
        return self.interval_s

    def on_inject(self, inj: Injection) -> None:
        """Hook: schedule immediate uplinks etc. for a new injection."""

    def describe(self) -> dict[str, Any]:
        """Where the device is and what its owner would register about it
        (never the hidden truth, e.g. a person's true HR baseline)."""
        return {"lat": None, "lon": None, "params": {}}

    # -- injections and labels -----------------------------------------------
    def inject(self, kind: str, start_ns: int, duration_s: int | None = None,
               params: dict[str, Any] | None = None, rng: random.Random | None = None) -> Injection:
        spec = self.ANOMALIES.get(kind)
        if spec is None:
            raise ValueError(f"{self.family.value} devices have no anomaly {kind!r}; "
                             f"known: {', '.join(sorted(self.ANOMALIES))}")
        self.plan_rng = rng or self.rng
        if duration_s is None:
            lo, hi = spec.duration_s
            duration_s = int(self.plan_rng.uniform(lo, hi))
        inj = Injection(start_ns, start_ns + int(duration_s) * NS, kind, dict(params or {}))
        self.injections.append(inj)
        heapq.heappush(self._pending, inj)
        if spec.label is not None and not spec.dynamic:
            self.add_label(spec.label, inj.start_ns, inj.end_ns, spec.severity)
        self.on_inject(inj)
        return inj

    def add_label(self, kind: EventKind, start_ns: int, end_ns: int,
                  severity: Severity = Severity.WARNING) -> None:
        end_ns = min(end_ns, self.end_ns)
        if start_ns < self.end_ns and end_ns >= start_ns:
            self.labels.append(Label(self.device_id, kind, start_ns, end_ns, severity))

    def uplink_now(self, ts_ns: int, why: str) -> None:
        """Schedule an immediate (event) uplink, e.g. a fall flag or SOS."""
        self._seq += 1
        heapq.heappush(self._extra, (ts_ns, self._seq, why))

    def active(self, kind: str) -> Injection | None:
        return self.act.get(kind)

    def sensor_faults(self, value: float, ts_ns: int, drift_per_day: str,
                      drift_label_at: float = 0.0) -> float:
        """What the sensor reports for ``value``: under ``sensor_drift`` it is
        off by the injection's ``params[drift_per_day]`` per day since it began
        (labelled ``sensor_drift`` from when the offset reaches
        ``drift_label_at`` — twice the sensor's stated accuracy: before that it
        reads within its specification — until the injection ends); under
        ``sensor_stuck`` it repeats what it reported when it stuck."""
        drift = self.act.get("sensor_drift")
        if drift is not None:
            offset = drift.params[drift_per_day] * (ts_ns - drift.start_ns) / NS / DAY_S
            value += offset
            if abs(offset) >= drift_label_at and "labelled_ns" not in drift.params:
                drift.params["labelled_ns"] = ts_ns
                self.add_label(EventKind.SENSOR_DRIFT, ts_ns, drift.end_ns, Severity.INFO)
        if self.act.get("sensor_stuck"):
            if self._stuck_value is None:
                self._stuck_value = value
            return self._stuck_value
        self._stuck_value = None
        return value

    def reference(self, ts_ns: int) -> None:
        """The measured quantity stands, now, at a value known without the
        sensor (a paddy's farmer closed the inlet at the stage target; the
        weir holds the water). Only models with ``drift_needs_reference``
        call it: their drift labels are observable only if one happened
        during the label (:meth:`finish`)."""
        drift = self.act.get("sensor_drift")
        if drift is not None:
            drift.params["referenced_ns"] = ts_ns

    def _update_active(self, ts_ns: int) -> None:
        changed = False
        if self._active and any(i.end_ns <= ts_ns for i in self._active):
            self._active = [i for i in self._active if i.end_ns > ts_ns]
            changed = True
        while self._pending and self._pending[0].start_ns <= ts_ns:
            inj = heapq.heappop(self._pending)
            if inj.end_ns > ts_ns:
                self._active.append(inj)
                changed = True
        if changed:
            self.act = {}
            for i in self._active:  # the earliest of a kind wins
                self.act.setdefault(i.kind, i)

    def die(self, ts_ns: int) -> None:
        """The battery is empty: silent from now to the end (labelled)."""
        if not self.dead:
            self.dead = True
            self.add_label(EventKind.DEVICE_SILENT, ts_ns, self.end_ns, Severity.WARNING)

    def drain(self, ts_ns: int, dt_s: float, pct_per_day: float) -> bool:
        """Run the battery down; under a ``battery_dead`` injection it empties
        by the injection's end (low-battery label below 15 %, then silence).
        Returns False once the battery is empty."""
        bd = self.active("battery_dead")
        if bd is not None:
            if "rate" not in bd.params:
                bd.params["rate"] = self.battery / max(60.0, (bd.end_ns - ts_ns) / NS)
            rate = bd.params["rate"]
            self.battery -= rate * dt_s
            if self.battery < 15 and not bd.params.get("low_labelled"):
                bd.params["low_labelled"] = True
                # a battery already empty when the injection starts has no time left
                left_s = max(self.battery, 0) / rate if rate > 0 else 0.0
                self.add_label(EventKind.LOW_BATTERY, ts_ns, ts_ns + int(left_s * NS),
                               Severity.INFO)
        else:
            self.battery -= pct_per_day * dt_s / DAY_S
        if self.battery <= 0:
            self.battery = 0.0
            self.die(ts_ns)
            return False
        return True

    # -- running -------------------------------------------------------------
    def run_until(self, until_ns: int, out: list[tuple[int, Fields]]) -> None:
        """Append the uplinks with ts_ns <= until_ns (and < end) to ``out``."""
        limit = min(until_ns, self.end_ns - 1)
        while True:
            if self._extra and self._extra[0][0] <= self.next_ns:
                ts = self._extra[0][0]
                if ts > limit:
                    return
                why: str | None = heapq.heappop(self._extra)[2]
            else:
                ts, why = self.next_ns, None
                if ts > limit:
                    return
            if ts <= self.last_ns and self.last_ns > self.start_ns:
                ts = self.last_ns + 1_000_000  # one device never sends twice in one ms
            dt = max(0.0, (ts - self.last_ns) / NS)
            self._update_active(ts)
            fields = self.sample(ts, dt, why)
            self.last_ns = ts
            if why is None:
                self.next_ns = ts + int(self.cadence_s() * NS)
            if fields is None or self.dead or "silent" in self.act:
                continue
            out.append((ts, fields))

    def finish(self) -> list[Label]:
        if self.drift_needs_reference:
            self.labels = [self._drift_seen(lb) for lb in self.labels]
        return sorted(self.labels, key=lambda lb: (lb.start_ns, lb.kind.value))

    def _drift_seen(self, lb: Label) -> Label:
        """A drift label during which the quantity never stood at a reference
        is unobservable: what the sensor reads could be the water itself."""
        if lb.kind is not EventKind.SENSOR_DRIFT:
            return lb
        inj = next(i for i in self.injections if i.kind == "sensor_drift"
                   and i.params.get("labelled_ns") == lb.start_ns)
        seen = inj.params.get("referenced_ns", -1) >= lb.start_ns
        return lb if lb.observable == seen else replace(lb, observable=seen)


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def lag(current: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order approach of ``current`` towards ``target``."""
    if dt_s <= 0:
        return current
    return target + (current - target) * math.exp(-dt_s / tau_s)
