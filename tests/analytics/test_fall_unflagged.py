"""A fall the band did not flag: sudden stillness with a rising heart rate."""

from __future__ import annotations

import random

from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded
from analytics.detectors.wearable import FallDetector

NS = 1_000_000_000
STEP = 600 * NS


def _reading(i: int, hr: float, moving: bool) -> Sample:
    return Sample(i * STEP, {"worn": True, "fall": False, "heart_rate_bpm": int(round(hr)),
                             "steps": 40 if moving else 0, "activity": 30 if moving else 1})


def _opened(stream: list[Sample]) -> list[int]:
    w = Thresholded(FallDetector())
    out = []
    for i, x in enumerate(stream):
        if w.step(x) == "opened":
            out.append(i)
    return out


def test_moving_then_still_with_a_raised_heart_rate_is_a_fall():
    rnd = random.Random(3)
    stream = [_reading(i, 72 + rnd.gauss(0, 2), True) for i in range(30)]
    stream += [_reading(30 + i, 82 + rnd.gauss(0, 1), False) for i in range(4)]
    assert _opened(stream) == [31]        # confirmed by the second still reading


def test_sitting_down_or_falling_asleep_is_not_a_fall():
    rnd = random.Random(4)
    sit = [_reading(i, 72 + rnd.gauss(0, 2), True) for i in range(30)]
    sit += [_reading(30 + i, 70 + rnd.gauss(0, 2), False) for i in range(20)]   # rests, same HR
    assert _opened(sit) == []
    sleep = [_reading(i, 72 + rnd.gauss(0, 2), True) for i in range(30)]
    sleep += [_reading(30 + i, 60 + rnd.gauss(0, 1.5) + (4 if rnd.random() < 0.2 else 0), False)
              for i in range(60)]                                               # REM bumps
    assert _opened(sleep) == []


def test_a_slow_heart_recovering_in_bed_is_not_a_fall():
    rnd = random.Random(5)
    night = [_reading(i, 58 + rnd.gauss(0, 1.5), False) for i in range(20)]
    night += [_reading(20 + i, 42 + rnd.gauss(0, 1), False) for i in range(12)]   # bradycardia
    night += [_reading(32 + i, 58 + rnd.gauss(0, 1.5), False) for i in range(12)]
    assert _opened(night) == []           # readings outside 50–120 bpm are not learned


def test_a_fall_in_bed_needs_a_large_rise_and_three_readings():
    rnd = random.Random(6)
    night = [_reading(i, 56 + rnd.gauss(0, 1.5), False) for i in range(30)]
    fall = night + [_reading(30 + i, 72 + rnd.gauss(0, 1), False) for i in range(4)]
    assert _opened(fall) == [32]
    assert _opened(fall[:32]) == []
    assert _opened([_reading(i, 56, False) for i in range(30)]
                   + [_reading(30 + i, 63, False) for i in range(6)]) == []


def test_switched_off_it_needs_the_flag():
    stream = [_reading(i, 72, True) for i in range(30)] + [_reading(30 + i, 85, False)
                                                           for i in range(4)]
    w = Thresholded(FallDetector(still_falls=False))
    assert [w.step(x) for x in stream].count("opened") == 0
