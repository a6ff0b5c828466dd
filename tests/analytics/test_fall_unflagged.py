"""A fall the band did not flag: sudden stillness with a rising heart rate."""

from __future__ import annotations

import random

from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded
from analytics.detectors.wearable import FallDetector

NS = 1_000_000_000
STEP = 600 * NS


def _reading(i: int, hr: float, moving: bool, steps: int = 40) -> Sample:
    return Sample(i * STEP, {"worn": True, "fall": False, "heart_rate_bpm": int(round(hr)),
                             "steps": steps if moving else 0, "activity": 30 if moving else 1})


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
    stream += [_reading(30 + i, 80 + rnd.gauss(0, 1), False) for i in range(4)]
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


def _day(n: int = 30, hr: float = 72.0) -> list[Sample]:
    """Pottering about indoors (4 steps a minute): the resting-awake level."""
    return [_reading(i, hr + (i % 3) - 1, True) for i in range(n)]


def test_a_large_rise_right_after_moving_is_a_fall_at_once():
    day = _day()
    assert _opened(day + [_reading(30, 84, False)]) == [30]     # +12 bpm, one reading
    assert _opened(day + [_reading(30, 79, False)]) == []       # +7: wait for a second


def test_a_fall_after_a_walk_is_measured_against_the_resting_heart_rate():
    # a walk (70 steps a minute) lifts the heart rate to ~84; it is not the reference
    stream = _day() + [_reading(30 + i, 84, True, steps=700) for i in range(5)]
    stream += [_reading(35 + i, 78 + (i % 2), False) for i in range(6)]   # lying: ~+6.5
    assert _opened(stream) == [36]


def test_one_lower_reading_does_not_end_the_spell():
    stream = _day() + [_reading(30 + i, hr, False) for i, hr in enumerate((79, 74, 79, 78))]
    assert _opened(stream) == [32]        # +4.5 over two, +5.3 over three still readings


def test_a_racing_heart_at_rest_is_the_heart_rate_alert_not_a_fall():
    stream = _day() + [_reading(30 + i, 135, False) for i in range(4)]
    assert _opened(stream) == []


def test_back_in_bed_after_the_toilet_is_not_a_fall():
    rnd = random.Random(8)
    night = [_reading(30 + i, 58 + rnd.gauss(0, 1.5), False) for i in range(20)]
    toilet = [_reading(50, 59, True, steps=30)]
    back = [_reading(51 + i, 62 + rnd.gauss(0, 1.5), False) for i in range(12)]
    assert _opened(_day() + night + toilet + back) == []


def test_a_fall_in_bed_rising_above_the_resting_awake_level_needs_two_readings():
    rnd = random.Random(9)
    night = [_reading(30 + i, 58 + rnd.gauss(0, 1.5), False) for i in range(20)]
    fall = [_reading(50 + i, 81, False) for i in range(3)]   # resting-awake + 9, sleep + 23
    assert _opened(_day(hr=72) + night + fall) == [51]
    wake = [_reading(50 + i, 74, False) for i in range(6)]    # awake in bed: its usual level
    assert _opened(_day(hr=72) + night + wake) == []


def test_a_fall_late_in_a_still_spell_that_began_after_moving():
    # lay down after pottering about (heart rate falls to the sleeping level),
    # fell out of bed 40 minutes later: the calm readings keep the spell's mean
    # down, but two raised readings in a row decide (seed 362 wearable-0050)
    calm = [_reading(30 + i, 63 + (i % 2), False) for i in range(4)]
    fall = [_reading(34 + i, 84, False) for i in range(4)]
    assert _opened(_day() + calm + fall) == [35]
    up_again = [_reading(34 + i, hr, False) for i, hr in enumerate((75, 77, 74, 76))]
    assert _opened(_day() + calm + up_again) == []    # back at the resting-awake level


def test_a_fall_in_bed_a_few_beats_above_the_resting_awake_level():
    # asleep at 58, awake at rest 72; lying on the floor at 78-79 bpm: +20 over
    # the sleeping level, +6.5 over the resting-awake one (seed 362 wearable-0048)
    rnd = random.Random(10)
    night = [_reading(30 + i, 58 + rnd.gauss(0, 1.5), False) for i in range(20)]
    fall = [_reading(50 + i, hr, False) for i, hr in enumerate((78, 79, 77))]
    assert _opened(_day(hr=72) + night + fall) == [51]
    wake = [_reading(50 + i, hr, False) for i, hr in enumerate((75, 76, 74, 76, 75, 73))]
    assert _opened(_day(hr=72) + night + wake) == []   # awake in bed, at its usual level
