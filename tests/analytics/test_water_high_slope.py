"""The water-high detector's flatness test: the least-squares slope (cm/h)
over the last ``flat_hours`` including the reading being scored."""

from analytics.detectors.base import Sample
from analytics.detectors.paddy import NS, WaterBandDetector

T0 = 1_780_000_000 * NS


def _fed(points: list[tuple[int, float]]) -> WaterBandDetector:
    d = WaterBandDetector("high", flat_hours=4.0)
    d.recent = [[t, v] for t, v in points]
    return d


def test_slope_of_a_straight_rise_is_its_rate_per_hour():
    step = 600 * NS   # 10-minute readings rising 0.1 cm each: 0.6 cm/h
    pts = [(T0 + i * step, 5.0 + 0.1 * i) for i in range(20)]
    d = _fed(pts)
    s = d._slope_with(Sample(T0 + 20 * step, {"water_level_cm": 7.0}))
    assert s is not None and abs(s - 0.6) < 1e-9


def test_points_older_than_the_window_do_not_count():
    step = 600 * NS
    old = [(T0 + i * step, 20.0) for i in range(10)]            # 5-7 h before: far off the line
    now = T0 + 40 * step
    flat = [(now - (12 - i) * step, 6.0) for i in range(12)]     # last 2 h: flat at 6 cm
    d = _fed(old + flat)
    assert d._slope_with(Sample(now, {"water_level_cm": 6.0})) == 0.0


def test_too_few_points_or_no_value_says_nothing():
    step = 600 * NS
    d = _fed([(T0 + i * step, 6.0) for i in range(6)])           # 6 + this one = 7 < 8
    assert d._slope_with(Sample(T0 + 6 * step, {"water_level_cm": 6.0})) is None
    d = _fed([(T0 + i * step, 6.0 + i) for i in range(12)])
    assert d._slope_with(Sample(T0 + 12 * step, {"battery_pct": 80.0})) is None
