"""Town-wide weather shared by every simulated device of a scenario: air
temperature and rain, deterministic for the scenario seed.

Climate (DOMAIN.md §7): annual mean 15.5 °C, January 5.1 °C, August 26.3 °C,
about 1,856 mm of rain a year, wettest in the rainy season and September.

>>> w = Weather(seed=1)
>>> from simulators.timebase import parse_time
>>> 20 < w.air_temp_c(parse_time("2026-08-10T14:00:00")) < 40
True
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

from .timebase import DAY_S, NS, day_index, day_of_year, local_hour

# Chance of a rainy day by month (Jan…Dec) [A]: 梅雨 in June–July, typhoons in September.
RAIN_DAY_P = (0.22, 0.25, 0.3, 0.3, 0.32, 0.45, 0.38, 0.28, 0.42, 0.32, 0.25, 0.2)


class Weather:
    def __init__(self, seed: int | str, dry: bool = False) -> None:
        self.seed = seed
        self.dry = dry
        self._day = lru_cache(maxsize=64)(self._make_day)

    def _make_day(self, day: int) -> tuple[float, float, float, float]:
        """(temperature anomaly °C, rain mm, rain start hour, rain hours)."""
        rng = random.Random(f"{self.seed}/weather/{day}")
        anomaly = rng.gauss(0.0, 1.5)
        month = _month(day)
        rain = 0.0
        start, hours = 0.0, 1.0
        if not self.dry and rng.random() < RAIN_DAY_P[month - 1]:
            rain = rng.lognormvariate(math.log(9.0), 1.0)
            start = rng.uniform(0, 20)
            hours = rng.uniform(2, 10)
        return anomaly, rain, start, hours

    def mean_temp_c(self, day: int) -> float:
        doy = day_of_year(day)
        return 15.5 + 10.6 * math.cos(2 * math.pi * (doy - 215) / 365.25) + self._day(day)[0]

    def air_temp_c(self, ts_ns: int) -> float:
        day = day_index(ts_ns)
        h = local_hour(ts_ns)
        # diurnal ±4 °C, warmest at 14:00
        return self.mean_temp_c(day) + 4.0 * math.cos(2 * math.pi * (h - 14) / 24)

    def rain_mm(self, t0_ns: int, t1_ns: int) -> float:
        """Rain that fell between two times (mm), spread evenly over the rain hours."""
        total = 0.0
        t = t0_ns
        while t < t1_ns:
            day = day_index(t)
            day_end = (day + 1) * DAY_S * NS - 9 * 3600 * NS
            seg_end = min(t1_ns, day_end)
            _, rain, start, hours = self._day(day)
            if rain:
                a, b = local_hour(t), local_hour(t) + (seg_end - t) / NS / 3600
                lo, hi = max(a, start), min(b, start + hours)
                if hi > lo:
                    total += rain * (hi - lo) / hours
            t = seg_end
        return total

    def rain_day_mm(self, day: int) -> float:
        return self._day(day)[1]


def _month(day: int) -> int:
    from .timebase import local_date

    return local_date(day).month
