"""The univariate detector keeps quiet about what happens at the same time every day."""

from __future__ import annotations

import json
import random

from analytics.detectors.univariate import UnivariateNovelty

DAY = 288  # 5-minute readings


def _series(det: UnivariateNovelty) -> list[float]:
    """Six days of noise with a spike at 03:00 every day and one at 15:00 on day 6."""
    rnd = random.Random(3)
    scores = []
    for i in range(DAY * 6):
        day, slot = divmod(i, DAY)
        v = 10 + rnd.gauss(0, 0.3)
        if slot == 36:
            v += 8 + rnd.random()
        if day == 5 and slot == 180:
            v += 8.5
        scores.append(det.update(v, 1_700_000_000 + 300 * i))
    return scores


def _peak(scores: list[float], day: int, slot: int) -> float:
    start = day * DAY + slot
    return max(scores[start:start + 10])


def test_a_daily_routine_stops_alarming_but_an_off_hours_spike_still_does():
    scores = _series(UnivariateNovelty())
    alarm = UnivariateNovelty.alarm
    assert all(_peak(scores, d, 36) < alarm for d in range(2, 6))
    assert _peak(scores, 5, 180) >= alarm
    # without the recurrence rule the same routine spikes do alarm
    plain = _series(UnivariateNovelty(recur_periods_s=()))
    assert any(_peak(plain, d, 36) >= alarm for d in range(2, 6))
    assert _peak(plain, 5, 180) >= alarm


def test_recurrence_memory_survives_a_checkpoint():
    det = UnivariateNovelty()
    rnd = random.Random(5)
    for i in range(DAY * 2):
        det.update(10 + rnd.gauss(0, 0.3) + (9 if i % DAY == 36 else 0), 1_700_000_000 + 300 * i)
    assert det.events
    copy = UnivariateNovelty()
    copy.load_state(json.loads(json.dumps(det.state())))
    assert list(copy.events) == list(det.events)
    t = 1_700_000_000 + 300 * DAY * 2
    for v in (10.1, 19.5, 10.0):
        assert copy.update(v, t) == det.update(v, t)
        t += 300


def test_a_missed_routine_alarms_soon_after_it_was_due():
    rnd = random.Random(4)
    det = UnivariateNovelty()
    scores = []
    for i in range(DAY * 7):
        day, slot = divmod(i, DAY)
        v = 10 + rnd.gauss(0, 0.3)
        if slot == 36 and day != 5:  # 03:00 every day but day 6
            v += 8 + rnd.random()
        scores.append(det.update(v, 1_700_000_000 + 300 * i))
    due = 5 * DAY + 36
    late = [i for i in range(due, due + 24) if scores[i] >= det.alarm]
    assert late and late[0] <= due + 12  # within an hour of the missed 03:00
    # on the days the routine ran nothing alarms around 03:00
    assert all(_peak(scores, d, 36) < det.alarm for d in (3, 4, 6))
