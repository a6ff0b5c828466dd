"""water_high with the area's rain gauge: a field that rises above its stage's
target while the gauge counts no rain was filled through its inlet, which the
farmer closes at the target — it is an inlet left open, found within hours
instead of after 10 h. With rain during the rise, or no gauge, the 10-hour
rule stands; a field draining after the inlet was closed is no alarm."""

from __future__ import annotations

from analytics.area_drift import AreaDrift, AreaDriftConfig
from analytics.detectors.base import Sample
from analytics.detectors.paddy import AREA_DRY, WaterBandDetector
from analytics.detectors.threshold import Thresholded

NS = 10**9
H = 3600 * NS
CTX = {"transplant": "2026-04-20"}   # intermittent irrigation in June: target 4 cm, weir 6 cm
T0 = 1_781_000_000 * NS              # 2026-06-09, 19:13 JST


def level_at(h: float) -> float:
    """At the target (4 cm) for 6 h, then an open inlet lifts it 1.5 cm/h up
    to the weir (6 cm) and holds it there, overflowing."""
    return 4.0 if h < 6 else min(4.0 + 1.5 * (h - 6), 6.0)


def opened_at(dry_h_of, hours: float = 24.0, level=level_at) -> float | None:
    """Hours into the stream when the water_high finding opens (None: never)."""
    w = Thresholded(WaterBandDetector("high"))
    for i in range(int(hours * 6)):
        h = i / 6
        fields = {"water_level_cm": round(level(h) + (0.1 if i % 2 else -0.1), 2)}
        dry = dry_h_of(h)
        if dry is not None:
            fields[AREA_DRY] = dry
        if w.step(Sample(T0 + int(h * H), fields, CTX)) == "opened":
            return h
    return None


def test_an_inlet_left_open_in_dry_weather_is_found_within_hours():
    dry = opened_at(lambda h: 100.0 + h)            # no rain for days
    no_gauge = opened_at(lambda h: None)            # the 10-hour rule
    assert dry is not None and no_gauge is not None
    assert dry < 10 and no_gauge - dry >= 5


def test_rain_during_the_rise_leaves_the_ten_hour_rule():
    rained = opened_at(lambda h: max(0.0, h - 7.0))   # rain until 7 h, during the rise
    no_gauge = opened_at(lambda h: None)
    assert rained == no_gauge


def test_a_field_draining_from_its_weir_is_no_alarm():
    # rain filled it to the weir long ago (the gauge is dry since); it now falls
    # 0.04 cm/h — from the weir back towards the target
    def draining(h: float) -> float:
        return 6.0 - 0.04 * h
    assert opened_at(lambda h: 30.0 + h, hours=30, level=draining) is None


def test_the_area_annotates_field_readings_with_its_dry_hours():
    area = AreaDrift(AreaDriftConfig())
    area.set_areas({"f1": "g1"})
    t = T0
    area.process("g1", t, {"rain_mm": 1.0, "battery_pct": 90.0}, None)       # rain at t
    area.process("g1", t + 2 * H, {"rain_mm": 0.0, "battery_pct": 90.0}, None)
    fields = {"water_level_cm": 4.0}
    area.annotate("f1", t + 2 * H + 60 * NS, fields)
    assert abs(fields[AREA_DRY] - (2 + 1 / 60)) < 0.01
    silent = {"water_level_cm": 4.0}                   # the gauge unheard for > 1 h
    area.annotate("f1", t + 4 * H, silent)
    other = {"water_level_cm": 4.0}                    # a field outside any area
    area.annotate("f9", t + 2 * H, other)
    assert AREA_DRY not in silent and AREA_DRY not in other
    restored = AreaDrift(AreaDriftConfig())
    restored.set_areas({"f1": "g1"})
    restored.load_state(area.state())
    assert restored.dry_hours("f1", t + 2 * H + 60 * NS) == area.dry_hours("f1", t + 2 * H + 60 * NS)
