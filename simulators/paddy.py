"""A paddy field's water balance, one step at a time (first cut; the full
physics with crop calendar, rain and injected events builds on it).

Water depth falls by evapotranspiration plus percolation (減水深, about
11–17.5 mm/day on average, DOMAIN.md §3); the farmer's inlet refills the
field when it drops below the lower mark.

>>> import random
>>> f = PaddyField("paddy-001", random.Random(1))
>>> 0 < f.step(600) < 100
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class PaddyField:
    device_id: str
    rng: random.Random
    level_mm: float = 50.0
    loss_mm_per_day: float = field(default=0.0)
    inflow_mm_per_h: float = 6.0
    low_mark_mm: float = 30.0
    high_mark_mm: float = 60.0
    inlet_open: bool = False
    temp_c: float = 24.0
    battery_pct: float = 100.0

    def __post_init__(self) -> None:
        if not self.loss_mm_per_day:
            self.loss_mm_per_day = max(5.0, self.rng.gauss(14.0, 4.0))

    def step(self, dt_s: float) -> float:
        """Advance ``dt_s`` seconds; returns the water depth in mm."""
        days = dt_s / 86400
        if self.level_mm < self.low_mark_mm:
            self.inlet_open = True
        elif self.level_mm > self.high_mark_mm:
            self.inlet_open = False
        self.level_mm -= self.loss_mm_per_day * days
        if self.inlet_open:
            self.level_mm += self.inflow_mm_per_h * dt_s / 3600
        self.level_mm = max(0.0, self.level_mm)
        self.temp_c += self.rng.gauss(0, 0.05) + (24.0 - self.temp_c) * 0.01
        self.battery_pct = max(0.0, self.battery_pct - 0.0001 * dt_s / 600)
        return self.level_mm

    def payload(self, ts_s: float) -> dict:
        measured = self.level_mm + self.rng.gauss(0, 1.0)  # ±1 mm sensor noise
        return {"ts": round(ts_s, 3), "level_mm": round(measured, 1),
                "temp_c": round(self.temp_c, 2), "bat": round(self.battery_pct, 1)}
