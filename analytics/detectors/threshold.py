"""Threshold by wrapping (STYLE.md habit 2): scores → findings.

:class:`Thresholded` wraps one detector instance of one device. A reading is
*hot* when its score reaches the detector's ``alarm`` (or, once a finding is
open, stays at or above ``clear_at`` — hysteresis). A finding opens after
``min_duration`` hot readings in a row and clears after ``clear_after``
cool readings in a row. With ``protect_baseline`` a hot reading is not
learned, so a slowly growing leak never becomes the new normal.

>>> from analytics.detectors.generic import RangeDetector
>>> from analytics.detectors.base import Sample
>>> w = Thresholded(RangeDetector("level", low=1.0, high=12.0), min_duration=2)
>>> [w.step(Sample(t, {"level": v})) for t, v in enumerate([5, 0.5, 0.4, 0.8, 3, 3])]
[None, None, 'opened', None, 'cleared', None]
"""

from __future__ import annotations

from typing import Any

from .base import Detector, Sample


class Thresholded:
    __slots__ = (
        "active",
        "alarm",
        "clear_after",
        "clear_at",
        "cool_run",
        "det",
        "hot_run",
        "last_score",
        "min_duration",
        "opened_ns",
        "peak",
        "protect",
    )

    def __init__(self, det: Detector, alarm: float | None = None, clear_at: float | None = None,
                 min_duration: int | None = None, clear_after: int = 1,
                 protect_baseline: bool | None = None) -> None:
        self.det = det
        self.alarm = det.alarm if alarm is None else alarm
        self.clear_at = min(self.alarm, det.clear_at) if clear_at is None else clear_at
        self.min_duration = det.min_duration if min_duration is None else min_duration
        self.clear_after = max(1, clear_after)
        self.protect = det.protect_baseline if protect_baseline is None else protect_baseline
        self.active = False
        self.hot_run = 0
        self.cool_run = 0
        self.last_score: float | None = None
        self.opened_ns = 0
        self.peak = 0.0

    def step(self, x: Sample) -> str | None:
        """Score, decide, learn. Returns 'opened', 'updated', 'cleared' or None."""
        det = self.det
        score = det.score_one(x)
        self.last_score = score
        if score is None:
            det.learn_one(x)
            return None
        if score == 0.0 and not self.active and not self.hot_run:
            det.learn_one(x)  # the common case: nothing going on
            return None
        out = self._decide(score, x.ts_ns)
        if not (self.protect and score >= self.clear_at and (self.active or self.hot_run)):
            det.learn_one(x)
        return out

    def tick(self, now_ns: int) -> str | None:
        """Time-driven check (detectors with ``score_at``, e.g. silence)."""
        score = self.det.score_at(now_ns)
        if score is None:
            return None
        self.last_score = score
        return self._decide(score, now_ns)

    def _decide(self, score: float, ts_ns: int) -> str | None:
        level = self.clear_at if self.active else self.alarm
        if score >= level:
            self.hot_run += 1
            self.cool_run = 0
            if not self.active and self.hot_run >= self.min_duration:
                self.active, self.opened_ns, self.peak = True, ts_ns, score
                return "opened"
            if self.active and score > self.peak:
                self.peak = score
                return "updated" if self.det.report_updates else None
            return None
        self.hot_run = 0
        if self.active:
            self.cool_run += 1
            if self.cool_run >= self.clear_after:
                self.active, self.cool_run = False, 0
                return "cleared"
        return None

    def state(self) -> dict[str, Any]:
        return {"det": self.det.state(), "active": self.active, "hot_run": self.hot_run,
                "cool_run": self.cool_run, "opened_ns": self.opened_ns, "peak": self.peak}

    def load_state(self, s: dict[str, Any]) -> None:
        self.det.load_state(s["det"])
        self.active, self.hot_run = bool(s["active"]), int(s["hot_run"])
        self.cool_run, self.opened_ns = int(s["cool_run"]), int(s["opened_ns"])
        self.peak = float(s["peak"])
