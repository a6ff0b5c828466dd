"""The first detector: a value outside its profile's band (``detectors.range``
in the profile), with hysteresis so a value hovering at the edge does not
flap. Pure logic; the stage feeds it.

>>> d = RangeDetector(low=1.0, high=12.0, hysteresis=0.5)
>>> d.update(5.0), d.update(0.5), d.update(1.2), d.update(2.0)
(None, 'low', None, 'clear')
"""

from __future__ import annotations


class RangeDetector:
    __slots__ = ("high", "hysteresis", "low", "state")

    def __init__(self, low: float | None = None, high: float | None = None,
                 hysteresis: float = 0.0) -> None:
        self.low, self.high, self.hysteresis = low, high, hysteresis
        self.state: str | None = None  # None | "low" | "high"

    def update(self, value: float) -> str | None:
        """Returns "low"/"high" when a breach opens, "clear" when it ends."""
        if self.state is None:
            if self.low is not None and value < self.low:
                self.state = "low"
                return "low"
            if self.high is not None and value > self.high:
                self.state = "high"
                return "high"
            return None
        if self.state == "low" and value >= self.low + self.hysteresis:
            self.state = None
            return "clear"
        if self.state == "high" and value <= self.high - self.hysteresis:
            self.state = None
            return "clear"
        return None
