"""The water-high detector's flatness test: the least-squares slope (cm/h)
over the last ``flat_hours`` including the reading being scored, kept O(1)
per reading with running sums that must agree with an exact computation."""

import json
import random
from fractions import Fraction

from analytics.detectors.base import Sample
from analytics.detectors.paddy import NS, WaterBandDetector

T0 = 1_780_000_000 * NS
FIELD = "water_level_cm"
# a field flooded all season (target 5 cm): a level far above it is "high" throughout
FLOODED = {"calendar": [{"stage": "flooded", "from_day": -9000, "target_cm": 5.0, "min_cm": 3.0,
                         "weir_cm": 7.0}]}


def _fed(points: list[tuple[int, float]]) -> WaterBandDetector:
    d = WaterBandDetector("high", flat_hours=4.0)
    d.recent = [[t, v] for t, v in points]
    return d


def _exact_slope(points: list[tuple[int, float]], now: int, v: float,
                 flat_ns: int) -> float | None:
    """The definition, in exact arithmetic: the slope through the points of
    the last ``flat_ns`` and this one, in cm per hour."""
    pts = [(Fraction(t), Fraction(y)) for t, y in points if now - t <= flat_ns]
    pts.append((Fraction(now), Fraction(v)))
    n = len(pts)
    if n < 8:
        return None
    mt = sum(t for t, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((t - mt) ** 2 for t, _ in pts)
    if sxx == 0:
        return None
    return float(sum((t - mt) * (y - my) for t, y in pts) / sxx * 3600 * NS)


def test_slope_of_a_straight_rise_is_its_rate_per_hour():
    step = 600 * NS   # 10-minute readings rising 0.1 cm each: 0.6 cm/h
    pts = [(T0 + i * step, 5.0 + 0.1 * i) for i in range(20)]
    d = _fed(pts)
    s = d._slope_with(Sample(T0 + 20 * step, {FIELD: 7.0}))
    assert s is not None and abs(s - 0.6) < 1e-9


def test_points_older_than_the_window_do_not_count():
    step = 600 * NS
    old = [(T0 + i * step, 20.0) for i in range(10)]            # 5-7 h before: far off the line
    now = T0 + 40 * step
    flat = [(now - (12 - i) * step, 6.0) for i in range(12)]     # last 2 h: flat at 6 cm
    d = _fed(old + flat)
    assert abs(d._slope_with(Sample(now, {FIELD: 6.0}))) < 1e-9


def test_too_few_points_or_no_value_says_nothing():
    step = 600 * NS
    d = _fed([(T0 + i * step, 6.0) for i in range(6)])           # 6 + this one = 7 < 8
    assert d._slope_with(Sample(T0 + 6 * step, {FIELD: 6.0})) is None
    d = _fed([(T0 + i * step, 6.0 + i) for i in range(12)])
    assert d._slope_with(Sample(T0 + 12 * step, {"battery_pct": 80.0})) is None


def test_running_sums_match_the_exact_slope_over_a_long_stream(monkeypatch):
    """Thousands of readings (irregular gaps, outages longer than the window,
    jumps, large levels, a checkpoint restore midway): every slope equals the
    exact one, and the window's sums are rebuilt only now and then (O(1)
    amortised), not on every reading."""
    rebuilt = []
    real = WaterBandDetector._sums_of
    monkeypatch.setattr(WaterBandDetector, "_sums_of",
                        staticmethod(lambda recent: rebuilt.append(1) or real(recent)))
    rnd = random.Random(7)
    d = WaterBandDetector("high", flat_hours=4.0)
    flat_ns = d.flat_ns
    ts, level, seen, asked = T0, 250.0, [], 0
    for i in range(1500):
        gap = rnd.choice((600, 600, 600, 300, 900, 1))
        if i % 97 == 0:
            gap = rnd.choice((5, 7)) * 3600   # an outage longer than the window
        ts += gap * NS
        level += rnd.gauss(0, 0.3) + (40.0 if i % 331 == 0 else 0.0)
        v = round(level, 1)
        x = Sample(ts, {FIELD: v}, FLOODED)
        want = _exact_slope(seen, ts, v, flat_ns)
        got = d._slope_with(x)
        asked += 1
        if want is None:
            assert got is None, i
        else:
            assert got is not None and abs(got - want) <= 1e-9 * max(1.0, abs(want)), i
        d.learn_one(x)
        seen = [(t, y) for t, y in seen + [(ts, v)] if ts - t <= flat_ns]
        assert [tuple(p) for p in d.recent] == seen
        if i == 700:   # a restart: the state goes through JSON, the sums are rebuilt
            restored = WaterBandDetector("high", flat_hours=4.0)
            restored.load_state(json.loads(json.dumps(d.state())))
            d = restored
    assert 0 < len(rebuilt) < asked / 8


def test_the_window_sums_are_kept_only_while_high_and_not_checkpointed():
    d = WaterBandDetector("high", flat_hours=4.0)
    for i in range(30):
        x = Sample(T0 + i * 600 * NS, {FIELD: 9.0 + 0.01 * i}, FLOODED)
        d._slope_with(x)
        d.learn_one(x)
    assert d.high_since and d._sums is not None and "_sums" not in d.state()
    for i in range(30, 40):   # the smoothed level falls below target + margin
        x = Sample(T0 + i * 600 * NS, {FIELD: 1.0}, FLOODED)
        d.learn_one(x)
    assert not d.high_since and d._sums is None
    s = d._slope_with(Sample(T0 + 40 * 600 * NS, {FIELD: 1.0}, FLOODED))   # rebuilt when asked
    want = _exact_slope([tuple(p) for p in d.recent], T0 + 40 * 600 * NS, 1.0, d.flat_ns)
    assert s is not None and abs(s - want) < 1e-9
