"""The level drift detector's clean fills (pure): a farmer's fill while the
area's gauge counted no rain is a reference on its own; rain, a foot the
farmer would not fill from, or no gauge leave the old three-fill rule; a stop
at the weir decides alone only if the field then loses water (an inlet left
open holds it there)."""

from __future__ import annotations

import json

from analytics.detectors.base import Sample
from analytics.detectors.paddy_drift import LevelDriftDetector

NS = 10**9
H_NS = 3600 * NS
CTX = {"transplant": "2026-04-20"}   # intermittent irrigation in June: min 1, target 4, weir 6
# a local midnight (JST) in June 2026
T0 = (1_781_000_000 - (1_781_000_000 + 9 * 3600) % 86400) * NS


def cycle(h: float, foot: float = 0.5, stop: float = 4.2) -> float:
    """One day of a field (true level): falling to ``foot`` by the 06:30 round,
    filled at 1.5 cm/h to ``stop``, then falling again (continuous day to day)."""
    t_stop = 6.5 + (stop - foot) / 1.5
    r = (stop - foot) / (30.5 - t_stop)
    if h < 6.5:
        return foot + r * (6.5 - h)
    if h < t_stop:
        return foot + (h - 6.5) * 1.5
    return stop - r * (h - t_stop)


def days(n: int, *, offset: float = 0.0, dry_h: float | None = 100.0, first: int = 0,
         level=cycle) -> list[Sample]:
    out = []
    for d in range(first, first + n):
        for i in range(144):
            h = i / 6
            fields = {"water_level_cm": round(level(h) + offset + (0.1 if i % 2 else -0.1), 1)}
            if dry_h is not None:
                fields["area_dry_h"] = dry_h
            out.append(Sample(T0 + (d * 86400 + i * 600) * NS, fields, CTX))
    return out


def run(det: LevelDriftDetector, samples: list[Sample]) -> list[float | None]:
    scores = []
    for x in samples:
        scores.append(det.score_one(x))
        det.learn_one(x)
    return scores


def test_one_clean_fill_shows_a_sensor_reading_low():
    det = LevelDriftDetector()
    scores = run(det, days(1, offset=-1.2))
    assert max(scores) == 1.0                       # decided on the first day's fill
    assert -1.5 <= det.evidence()["drift_cm"] <= -1.0
    # a correct sensor: one clean fill says so
    ok = LevelDriftDetector()
    assert max(run(ok, days(2))) == 0.0


def test_a_fill_in_rain_or_without_a_gauge_is_not_enough_alone():
    for dry in (0.3, None):           # rain half an hour ago; no gauge heard
        det = LevelDriftDetector()
        assert max(run(det, days(2, offset=-1.2, dry_h=dry))) == 0.0
        # the three-fill rule still holds
        assert max(run(det, days(2, offset=-1.2, dry_h=dry, first=2))) == 1.0


def test_a_short_fill_from_near_the_minimum_is_not_a_low_sensor():
    # the level falls to 0.9 (just below the 1 cm minimum) and the inlet is shut
    # at 2.9: read as a sensor 1.1 cm low, the farmer would have filled only
    # once it read 2 cm below the minimum — so this is no fill to the target
    det = LevelDriftDetector()
    assert max(run(det, days(1, level=lambda h: cycle(h, foot=0.9, stop=2.9)))) == 0.0
    assert det.clean == [0]


def test_a_stop_at_the_weir_decides_alone_only_if_the_field_then_falls():
    # a sensor 1.8 cm high: the fill to 4.2 reads 6.0, at the 6 cm weir
    det = LevelDriftDetector()
    scores = run(det, days(1, offset=1.8))
    assert det.clean == [1] and max(scores) == 1.0
    assert 1.3 <= det.evidence()["drift_cm"] <= 2.0

    # an inlet left open from the morning round: the field rises to its weir
    # and overflows there all day (a true sensor)
    def left_open(h: float) -> float:
        return cycle(h) if h < 6.5 else min(cycle(6.5) + (h - 6.5) * 1.5, 6.0)
    held = LevelDriftDetector()
    assert max(run(held, days(1, level=left_open))) == 0.0
    assert held.clean == [2]                         # counts only with a second clean fill


def test_state_round_trips_through_json_while_a_stop_is_watched():
    whole = LevelDriftDetector()
    expected = run(whole, days(1, offset=1.8))
    samples = days(1, offset=1.8)
    a = LevelDriftDetector()
    first = run(a, samples[:72])                     # noon: the weir stop is being watched
    assert a.held
    b = LevelDriftDetector()
    b.load_state(json.loads(json.dumps(a.state())))
    assert first + run(b, samples[72:]) == expected


def test_a_checkpoint_from_before_clean_fills_loads():
    det = LevelDriftDetector()
    det.load_state({"recent": [], "rise": [], "settle": [1.0, 2.0, 0.5, 1.0],
                    "offsets": [0.1, 0.2], "smooth": None, "last_ns": 0, "above_since": 0})
    assert det.drift_cm() is None
    run(det, days(1))


def fill(h: float, *, foot: float, stop: float, opened: float, rate: float) -> float:
    """A field flat at ``foot`` (a still night) until the round opens the inlet
    at ``opened``; it rises at ``rate`` cm/h to ``stop``, then holds."""
    return foot if h < opened else min(stop, foot + (h - opened) * rate)


def test_a_fill_from_an_early_round_counts_though_the_noisy_lowest_reading_came_before_it():
    # the farmer's round at 05:40 (the morning window opens 05:30); the probe's
    # lowest reading of the hour before the rise is seen is a dip at 05:20 —
    # the rise began after the last reading still at the bottom (05:40), so
    # the round opened it; a sensor 1.2 cm low shows on this one clean fill
    def samples(offset):
        out = []
        for i in range(144):
            h = i / 6
            v = fill(h, foot=0.5, stop=4.2, opened=5.67, rate=1.5) + offset
            v += -0.25 if i == 32 else (0.1 if i % 2 else -0.1)
            out.append(Sample(T0 + i * 600 * NS, {"water_level_cm": round(v, 2),
                                                  "area_dry_h": 100.0}, CTX))
        return out
    det = LevelDriftDetector()
    assert max(run(det, samples(-1.2))) == 1.0
    assert -1.5 <= det.evidence()["drift_cm"] <= -1.0
    ok = LevelDriftDetector()
    assert max(run(ok, samples(0.0))) == 0.0 and len(ok.offsets) == 1


def test_a_fill_far_from_its_target_is_a_reference_if_it_rose_as_an_opened_inlet_does():
    # a sensor 3 cm low: the fill rises at 1.5 cm/h and stops at 4.2, reading 1.2
    det = LevelDriftDetector()
    assert max(run(det, days(1, offset=-3.0))) == 1.0
    assert det.clean == [1] and -3.3 <= det.evidence()["drift_cm"] <= -2.7
    # a true sensor: a breach drained the field to 2.5 cm below the soil; the
    # opened inlet barely outfills it (0.7 cm/h) and the rise stalls at 1 cm —
    # its foot is where a 3 cm low sensor's would be, but it is no fill to the target
    slow = LevelDriftDetector()
    scores = run(slow, days(1, level=lambda h: fill(h, foot=-2.5, stop=1.0, opened=6.5,
                                                    rate=0.7)))
    assert max(scores) == 0.0 and slow.clean == [0]
