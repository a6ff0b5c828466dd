"""water_low: a round passed the low field, no water came, and it sank further."""

from __future__ import annotations

from analytics.detectors.base import Sample
from analytics.detectors.paddy import WaterBandDetector
from analytics.detectors.threshold import Thresholded

NS = 1_000_000_000
CTX = {"transplant": "2026-04-20"}   # June: intermittent irrigation, minimum 1 cm
T0 = 1_781_000_000 * NS - (1_781_000_000 + 9 * 3600) % 86400 * NS   # a local midnight


def _run(level_at, ctx: dict | None = None, offset_s: int = 0) -> list[float]:
    """Hours (local) at which a water_low finding opens over one day."""
    w = Thresholded(WaterBandDetector())
    out = []
    for i in range(144):
        h = i / 6
        if w.step(Sample(T0 + (i * 600 + offset_s) * NS, {"water_level_cm": level_at(h)},
                         ctx or CTX)) == "opened":
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


# Seed 6180339 paddy-0013 (tillering: minimum 2 cm, target 3), its readings
# every 10 minutes from 06:59:48: the morning inlet, a breach from 08:30 that
# drains the field below the soil, the evening round's inlet (17:00) lifting
# it from −2.7 to about −2.0 cm — where it stands: the breach takes the water
# as fast as it comes — until the breach closes at 20:12 and the field fills.
STALLED = (2.1, 2.2, 2.7, 3.2, 2.8, 2.9, 2.9, 2.9, 2.6, 2.2, 1.9, 1.5, 1.5, 0.8, 0.8, 0.4, 0.2,
           -0.9, -0.7, -1.1, -1.7, -2.3, -2.3, -2.3, -2.2, -2.5, -2.6, -2.4, -2.6, -2.3, -2.6,
           -2.3, -2.3, -2.7, -2.5, -2.4, -2.8, -2.5, -2.4, -2.5, -2.6, -2.7, -2.7, -2.9, -2.5,
           -2.7, -2.6, -2.6, -2.5, -2.9, -2.8, -2.5, -2.8, -2.7, -3.1, -2.4, -2.6, -2.9, -2.9,
           -2.3, -2.5, -2.2, -2.1, -1.7, -2.1, -1.9, -2.2, -2.0, -1.7, -2.1, -1.9, -1.9, -2.1,
           -2.1, -2.1, -2.0, -2.2, -2.0, -1.6, -2.0, -1.9, -1.6, -1.2, -1.2)


def _stalled(h: float) -> float:
    i = round((h - 7) * 6)
    if i < 0:
        return 2.2
    return STALLED[i] if i < len(STALLED) else min(3.0, -1.2 + 1.5 * (h - 20.83))


def test_water_came_and_then_the_level_stood_far_below_the_minimum_opens_when_the_round_ends():
    # day 20 after transplanting (tillering); the field's readings came 12 s
    # before the ten-minute marks, so 19:29:48 was still in the round
    opened = _run(_stalled, {"transplant": "2026-05-20"}, offset_s=-12)
    assert opened and 19.6 <= opened[0] <= 19.7   # when the round ends (19:39:48)


def test_a_breached_field_the_inlet_slowly_wins_over_does_not_open():
    # the same field, but the inlet outfills the breach: +0.35 cm/h all evening
    assert _run(lambda h: _breach(h) if h < 17 else min(4.0, -2.4 + 0.35 * (h - 17))) == []
