"""Water-main detectors at a district inlet (DOMAIN.md §4).

* :class:`BurstDetector` — a burst is a flow surge with a pressure drop at
  the same time: the step from the previous reading (flow up by
  ``flow_step`` × the learned mean flow, pressure down by ``pressure_step``
  MPa) or, once the hour-of-day baseline is learned, the residual against
  it. One reading is enough (bursts must be seen within one interval); the
  finding stays open while the flow stays above the pre-burst baseline.
* :class:`TransientDetector` — a pressure jump of ``min_jump_mpa`` or more
  between readings with no matching flow step (a surge, not a burst).
* Pressure outside 0.15–0.74 MPa is a :class:`~.generic.RangeDetector`;
  the minimum-night-flow trend (a leak) and a drifting pressure sensor are
  :class:`~.baseline.NightlyCusum`; a louder acoustic logger (a leak's noise)
  is a :class:`~.baseline.BaselineDetector` held for hours.

>>> d = BurstDetector()
>>> for t in range(0, 3000 * 600, 600):
...     d.learn_one(Sample(t * NS, {"flow_m3h": 20.0, "pressure_mpa": 0.4}))
>>> d.score_one(Sample(3000 * 600 * NS, {"flow_m3h": 30.0, "pressure_mpa": 0.35}))
1.0
>>> d.score_one(Sample(3000 * 600 * NS, {"flow_m3h": 20.5, "pressure_mpa": 0.401}))
0.0
"""

from __future__ import annotations

from typing import Any

from mimamori.contracts import EventKind, Severity

from .base import Detector, Sample
from .baseline import local_hour

NS = 1_000_000_000


class BurstDetector(Detector):
    name = "burst"
    kind = EventKind.BURST
    severity = Severity.CRITICAL
    STATE = ("mean_flow", "n", "prev_flow", "prev_p", "slot_flow", "slot_p", "slot_n",
             "in_burst", "burst_base", "burst_since")

    def __init__(self, flow_step: float = 0.2, pressure_step: float = 0.02,
                 resid_flow: float = 0.25, resid_pressure: float = 0.025, slots: int = 48,
                 alpha: float = 0.1, min_slot_n: int = 4, max_hours: float = 24.0) -> None:
        self.flow_step, self.pressure_step = flow_step, pressure_step
        self.resid_flow, self.resid_pressure = resid_flow, resid_pressure
        self.slots, self.alpha, self.min_slot_n = slots, alpha, min_slot_n
        self.max_ns = int(max_hours * 3600 * NS)
        self.mean_flow = 0.0
        self.n = 0
        self.prev_flow: float | None = None
        self.prev_p: float | None = None
        self.slot_flow = [0.0] * slots
        self.slot_p = [0.0] * slots
        self.slot_n = [0] * slots
        self.in_burst = False
        self.burst_base = 0.0
        self.burst_since = 0

    def _slot(self, ts_ns: int) -> int:
        return int(local_hour(ts_ns) * self.slots / 24) % self.slots

    def _onset(self, q: float, p: float, ts_ns: int) -> bool:
        if self.n < 12 or self.prev_flow is None or self.prev_p is None:
            return False
        m = max(self.mean_flow, 1e-6)
        if q - self.prev_flow >= self.flow_step * m and self.prev_p - p >= self.pressure_step:
            return True
        s = self._slot(ts_ns)
        if self.slot_n[s] >= self.min_slot_n:
            return q - self.slot_flow[s] >= self.resid_flow * m and \
                self.slot_p[s] - p >= self.resid_pressure
        return False

    def _ongoing(self, q: float, ts_ns: int) -> bool:
        if not self.in_burst or ts_ns - self.burst_since > self.max_ns:
            return False
        m = max(self.mean_flow, 1e-6)
        return q - self.burst_base >= 0.5 * self.flow_step * m

    def score_one(self, x: Sample) -> float | None:
        q, p = x.num("flow_m3h"), x.num("pressure_mpa")
        if q is None or p is None:
            return None
        if self._ongoing(q, x.ts_ns):
            return 0.5
        return 1.0 if self._onset(q, p, x.ts_ns) else 0.0

    def learn_one(self, x: Sample) -> None:
        q, p = x.num("flow_m3h"), x.num("pressure_mpa")
        if q is None or p is None:
            return
        ongoing = self._ongoing(q, x.ts_ns)
        if not ongoing and self._onset(q, p, x.ts_ns):
            self.in_burst, self.burst_since = True, x.ts_ns
            s = self._slot(x.ts_ns)
            self.burst_base = self.slot_flow[s] if self.slot_n[s] >= self.min_slot_n \
                else (self.prev_flow or q)
            ongoing = True
        elif not ongoing:
            self.in_burst = False
        if not ongoing:  # burst readings stay out of the baseline
            a = max(0.002, 1.0 / (self.n + 1))
            self.mean_flow += a * (q - self.mean_flow)
            s = self._slot(x.ts_ns)
            b = max(self.alpha, 1.0 / (self.slot_n[s] + 1))
            self.slot_flow[s] += b * (q - self.slot_flow[s])
            self.slot_p[s] += b * (p - self.slot_p[s])
            self.slot_n[s] += 1
            self.n += 1
        self.prev_flow, self.prev_p = q, p

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        ev: dict[str, Any] = {"mean_flow_m3h": round(self.mean_flow, 2)}
        if x is not None:
            ev.update(flow_m3h=x.fields.get("flow_m3h"), pressure_mpa=x.fields.get("pressure_mpa"))
        return ev


class TransientDetector(Detector):
    name = "transient"
    kind = EventKind.PRESSURE_TRANSIENT
    STATE = ("prev_p", "prev_q", "mean_flow", "n")

    def __init__(self, min_jump_mpa: float = 0.1, max_flow_step: float = 0.15) -> None:
        self.min_jump, self.max_flow_step = min_jump_mpa, max_flow_step
        self.prev_p: float | None = None
        self.prev_q: float | None = None
        self.mean_flow = 0.0
        self.n = 0

    def score_one(self, x: Sample) -> float | None:
        p, q = x.num("pressure_mpa"), x.num("flow_m3h")
        if p is None:
            return None
        if self.prev_p is None or self.n < 12:
            return 0.0
        if abs(p - self.prev_p) < self.min_jump:
            return 0.0
        if q is not None and self.prev_q is not None and \
                abs(q - self.prev_q) >= self.max_flow_step * max(self.mean_flow, 1e-6):
            return 0.0  # the flow moved too: a burst or its repair, not a surge
        return 1.0

    def learn_one(self, x: Sample) -> None:
        p, q = x.num("pressure_mpa"), x.num("flow_m3h")
        if p is None:
            return
        self.prev_p = p
        if q is not None:
            self.prev_q = q
            self.mean_flow += max(0.002, 1.0 / (self.n + 1)) * (q - self.mean_flow)
        self.n += 1
