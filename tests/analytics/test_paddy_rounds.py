"""water_low: a round passed the low field, no water came, and it sank further."""

from __future__ import annotations

from analytics.detectors.base import Sample
from analytics.detectors.paddy import WaterBandDetector
from analytics.detectors.threshold import Thresholded

NS = 1_000_000_000
CTX = {"transplant": "2026-04-20"}   # June: intermittent irrigation, minimum 1 cm
T0 = 1_781_000_000 * NS - (1_781_000_000 + 9 * 3600) % 86400 * NS   # a local midnight


def _run(level_at) -> list[float]:
    """Hours (local) at which a water_low finding opens over one day."""
    w = Thresholded(WaterBandDetector())
    out = []
    for i in range(144):
        h = i / 6
        if w.step(Sample(T0 + i * 600 * NS, {"water_level_cm": level_at(h)}, CTX)) == "opened":
            out.append(h)
    return out


def test_a_low_field_passed_by_the_round_that_keeps_sinking_opens():
    # 0.7 cm at the morning round (0.3 below the minimum), no water, then it sinks
    opened = _run(lambda h: 0.7 if h < 9 else 0.7 - 0.08 * (h - 9))
    assert opened and 9 < opened[0] < 13   # the hour-smoothed level is 0.5 cm below by ~12:20


def test_a_field_that_hovers_near_the_minimum_does_not_open():
    assert _run(lambda h: 0.9) == []


def test_a_field_that_gets_water_at_the_round_does_not_open():
    assert _run(lambda h: 0.5 if h < 6.5 else min(4.0, 0.5 + 1.5 * (h - 6.5))) == []


def _breach(h: float) -> float:
    """A levee breach at 10:00 drains the field to −2.4 cm; the evening round
    opens the inlet at 17:00, which lifts it only 1 cm: the breach takes
    the water as fast as it comes (seed 424242 paddy-0015)."""
    if h < 10:
        return 4.0
    if h < 12.5:
        return 4.0 - 2.56 * (h - 10)
    if h < 17:
        return -2.4
    return -2.4 + min(1.0, 0.5 * (h - 17))


def test_water_came_but_the_field_stays_far_below_the_minimum_opens():
    opened = _run(_breach)
    assert opened and 21 <= opened[0] < 22.5   # two hours after the evening round ended


def test_a_slow_fill_from_below_the_soil_does_not_open():
    # the same low field; the round's inlet fills it at 1 cm/h to the target
    assert _run(lambda h: _breach(h) if h < 17 else min(4.0, -2.4 + 1.0 * (h - 17))) == []
