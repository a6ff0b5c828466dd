"""The area drift check (pure): a field held at its weir while the area's rain
gauge still counts rain shows its sensor's offset (once the dry hours after
the rain show no breach draining it); a field still rising, a breach, a
stuck sensor, a missing gauge are not judged."""

from __future__ import annotations

import json

from analytics.area_drift import AreaDrift, AreaDriftConfig, area_role, assign_areas

NS = 10**9
H = 3600
CTX = {"transplant": "2026-04-20"}   # intermittent irrigation in June: weir 6 cm
T0 = 1_781_000_000 * NS              # 2026-06-09, 19:13 JST (a day of the scenarios)


def storm(area, *, start_h=0.0, hours=11.0, rain_from_h=1.0, rain_h=6.0, rain_mm_h=9.0,
          true_from=4.0, loss_cm_h=0.05, weir=6.0, offset=0.0, reading=None,
          gauge=True, field="f1", upto=None):
    """Ten-minute readings of the gauge and one field through a rain and the
    dry hours after it: the field rises with the rain minus its loss and is
    capped at its weir; the sensor reads ``offset`` off (± 0.1 cm, alternating).
    ``upto``: (first, last) reading indexes to feed (a checkpoint between)."""
    out = []
    true = true_from
    first, last = upto or (0, int(hours * 6))
    for i in range(int(hours * 6)):
        h = i / 6
        t = T0 + int((start_h + h) * H * NS)
        raining = rain_from_h <= h < rain_from_h + rain_h
        true = min(true + (rain_mm_h / 60 if raining else 0.0) - loss_cm_h / 6, weir)
        if not first <= i < last:
            continue
        if gauge:
            out += area.process("g1", t, {"rain_mm": rain_mm_h / 6 if raining else 0.0,
                                          "battery_pct": 90.0}, None)
        v = reading(h, true) if reading else true + offset + (0.1 if i % 2 else -0.1)
        out += area.process(field, t + 60 * NS, {"water_level_cm": round(v, 1),
                                                 "battery_pct": 80.0}, CTX)
    return out


def fresh() -> AreaDrift:
    a = AreaDrift(AreaDriftConfig())
    a.set_areas({"f1": "g1"})
    return a


def test_a_sensor_reading_low_at_the_weir_opens_and_a_true_reading_clears_it():
    a = fresh()
    out = storm(a, offset=-1.5)
    assert [c.change for c in out] == ["opened"]
    assert out[0].evidence["offset_cm"] == -1.5
    assert out[0].evidence["weir_cm"] == 6.0 and out[0].evidence["detector"] == "area_drift"
    # the next rain, the sensor cleaned: held at the weir, it reads the weir
    out = storm(a, start_h=30, offset=0.0)
    assert [c.change for c in out] == ["cleared"]


def test_a_sensor_reading_high_is_found_too():
    out = storm(fresh(), offset=+1.2)
    assert [(c.change, c.evidence["offset_cm"]) for c in out] == [("opened", 1.2)]


def test_a_field_still_rising_with_the_rain_is_not_judged():
    # from 0 cm, 6 h of 6 mm/h: 3.6 cm of rain, it never reaches its 6 cm weir
    assert storm(fresh(), true_from=0.0, rain_mm_h=6.0, offset=-1.5) == []


def test_a_correct_sensor_at_the_weir_opens_nothing():
    assert storm(fresh(), offset=0.0) == []


def test_a_breach_holding_the_water_below_the_soil_is_not_a_weir():
    # a hole drains the field to 2 cm below the soil; the rain cannot lift it
    def reading(h, _true):
        return -2.0 + (0.1 if int(h * 6) % 2 else -0.1)
    assert storm(fresh(), reading=reading) == []


def test_a_leaky_field_in_light_rain_is_not_held():
    # loses 1.9 mm/h, 2.5 mm/h of rain: a slow rise, well below the weir
    assert storm(fresh(), true_from=1.0, rain_mm_h=2.5, loss_cm_h=0.19, offset=-1.5) == []


def test_a_stuck_sensor_is_not_judged():
    assert storm(fresh(), reading=lambda h, true: 3.0) == []


def test_without_the_gauges_rain_nothing_is_judged():
    assert storm(fresh(), offset=-1.5, gauge=False) == []
    other = AreaDrift(AreaDriftConfig())   # a field in no area
    assert storm(other, offset=-1.5) == []


def test_state_round_trips_through_json_mid_rain():
    whole = storm(fresh(), offset=-1.5)
    for cut in (24, 48):              # in the rain; in the dry hours, the offset waiting
        a = fresh()
        first = storm(a, offset=-1.5, upto=(0, cut))
        b = fresh()
        b.load_state(json.loads(json.dumps(a.state())))
        rest = storm(b, offset=-1.5, upto=(cut, 66))
        assert [(c.change, c.ts_ns) for c in first + rest] == \
            [(c.change, c.ts_ns) for c in whole]


def test_a_breach_that_drains_the_field_after_the_rain_is_no_offset():
    # a levee breach in the rain holds the field flat at 4.5 cm (the rain in, the
    # hole out): it looks held; after the rain it drains at 15 mm/h — no weir did that
    def reading(h, _true):
        lv = min(4.0 + h * 0.5, 4.5) if h < 7.0 else 4.5 - (h - 7.0) * 1.5
        return lv + (0.1 if int(h * 6) % 2 else -0.1)
    assert storm(fresh(), reading=reading) == []
    eager = AreaDrift(AreaDriftConfig(confirm_s=0))   # without the dry hours' check
    eager.set_areas({"f1": "g1"})
    assert [c.change for c in storm(eager, reading=reading)] == ["opened"]


def test_the_offset_opens_only_after_the_dry_hours():
    out = storm(fresh(), offset=-1.5)
    assert len(out) == 1 and out[0].evidence["fall_after_cm"] < 0.5
    # the last tip at 6 h 50; the rain is over 1 h later, then 2 dry hours
    assert out[0].ts_ns >= T0 + int(9.5 * H * NS)


def test_a_field_reads_the_nearest_gauge_within_the_radius():
    from device_profiles import load_profiles

    profiles = load_profiles()
    rows = [(d, area_role(profiles[p]), lat, lon) for d, p, lat, lon in (
        ("g-west", "rain_gauge_v1", 34.48, 136.59),
        ("g-east", "rain_gauge_json_v1", 34.48, 136.63),
        ("f-near-east", "paddy_v1", 34.48, 136.625),
        ("f-far", "paddy_json_v1", 34.60, 136.60),
        ("f-no-place", "paddy_v1", None, None),
        ("w-near-east", "water_main_v1", 34.48, 136.625))]
    assert assign_areas(rows) == {"f-near-east": "g-east"}
    assert assign_areas(rows, radius_m=20_000)["f-far"] == "g-west"
