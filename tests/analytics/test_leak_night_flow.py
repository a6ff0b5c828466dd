"""Minimum-night-flow leak detector (the water_main_v1 profile's configuration):
a leak growing in the first week, and one night's burst that is not a leak."""

from __future__ import annotations

from analytics.config import detector_specs
from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded
from device_profiles import load_profiles

NS = 1_000_000_000
DAY = 86400 * NS
T0 = 1_781_000_000 * NS - (1_781_000_000 + 9 * 3600) % 86400 * NS   # a local midnight
# a quiet district's night flow (m³/h) varies a few per cent from night to night
NORMAL = (2.0, 2.04, 1.98, 2.02, 1.96, 2.0, 2.03, 1.99, 2.01, 1.97)


def _leak_detector() -> Thresholded:
    prof = load_profiles()["water_main_v1"]
    return Thresholded(detector_specs("water_main", prof.detectors, 300)["leak_night_flow"]())


def _opened_and_cleared(night_flow: list[float]) -> list[tuple[int, str]]:
    """(night, "opened"/"cleared") of the leak finding; one reading every 5
    minutes, the night's flow in the 02:00–04:00 window, day flow outside."""
    det = _leak_detector()
    out = []
    for night, q in enumerate(night_flow):
        for i in range(288):
            h = i / 12
            flow = q if 2 <= h < 4 else 20.0
            change = det.step(Sample(T0 + night * DAY + i * 300 * NS,
                                     {"flow_m3h": flow, "pressure_mpa": 0.4}))
            if change in ("opened", "cleared"):
                out.append((night, change))
    return out


def _opened_nights(night_flow: list[float]) -> list[int]:
    """Nights (index) on whose morning a leak finding opens."""
    return [n for n, c in _opened_and_cleared(night_flow) if c == "opened"]


def test_a_leak_growing_from_the_second_night_is_found_although_the_week_had_a_burst():
    # night 1 on: leak +0.3 m³/h a night up to +2.5; night 4: a burst all night
    nights = [NORMAL[i % len(NORMAL)] + min(2.5, 0.3 * max(0, i - 1)) for i in range(20)]
    nights[4] = 25.0
    opened = _opened_nights(nights)
    assert opened and opened[0] <= 12   # within days of the warm-up week


def test_a_night_burst_then_normal_nights_is_no_leak():
    # a burst on night 10; the nights after it a little high (demand), then normal
    nights = [NORMAL[i % len(NORMAL)] for i in range(30)]
    nights[10] = 25.0
    nights[11] = nights[12] = 2.1
    assert _opened_nights(nights) == []


def test_a_leak_after_the_warm_up_is_found_within_nights():
    nights = [NORMAL[i % len(NORMAL)] + min(2.0, 0.2 * max(0, i - 12)) for i in range(25)]
    opened = _opened_nights(nights)
    assert opened and 13 <= opened[0] <= 16


def test_a_second_leak_after_a_repaired_one_that_grew_through_the_warm_up_is_found():
    # seed 6180339 watermain-0048: a leak from night 1 grows through the whole
    # warm-up week (its median and spread are the leak's), is repaired on
    # night 11 — the night flow falls back to ~1.65 m³/h — and a second leak
    # begins on night 24, +0.2, +0.6, +1.1 m³/h; before, the baseline (2.35 ±
    # 1.05) held the first leak and the second scored z = 1 on its third night
    quiet = [1.625, 1.609, 1.618, 1.614, 1.651, 1.66, 1.635, 1.732, 1.658, 1.653]
    nights = quiet[:1] + [1.609 + 0.45 * min(i, 4) for i in range(1, 11)] + \
        [quiet[i % len(quiet)] for i in range(11, 24)] + [1.85, 2.29, 2.75]
    found = _opened_and_cleared(nights)
    assert any(n >= 24 and c == "opened" for n, c in found)
    # and the first leak's finding cleared once it was repaired
    assert any(2 <= n <= 13 and c == "cleared" for n, c in found)


def test_a_quiet_district_whose_night_flow_dips_is_no_leak():
    # two low nights (a holiday week, 12 % less night use) restart the
    # warm-up; the normal nights after them raise no finding
    nights = [NORMAL[i % len(NORMAL)] for i in range(30)]
    nights[14] = nights[15] = 1.75
    assert _opened_and_cleared(nights) == []


def test_a_leak_that_begins_in_the_evening_is_found_on_its_second_night():
    # seed 5201314 watermain-0015: a leak two nights before the end of the
    # data, young on its first night (+8 %, z 2.8) and +37 % on the second
    nights = [NORMAL[i % len(NORMAL)] for i in range(25)] + [2.17, 2.75]
    assert _opened_nights(nights) == [26]


def test_one_high_night_then_a_burst_night_days_later_is_no_leak():
    # the rise needs the nights in a row: a high night, normal ones, a burst
    nights = [NORMAL[i % len(NORMAL)] for i in range(30)]
    nights[15] = 2.17
    nights[18] = 25.0
    assert _opened_nights(nights) == []


def _acoustic_changes(levels_db: list[tuple[int, float]]) -> list[str]:
    """(hours, dB) segments of a logger's readings every 5 minutes, ±1 dB."""
    prof = load_profiles()["water_main_v1"]
    det = Thresholded(detector_specs("water_main", prof.detectors, 300)["leak_acoustic"]())
    out, i = [], 0
    for hours, db in levels_db:
        for _ in range(hours * 12):
            c = det.step(Sample(T0 + i * 300 * NS, {"acoustic_db": db + (i % 3 - 1) * 1.0}))
            if c is not None:
                out.append(c)
            i += 1
    return out


def test_a_quieter_pipe_after_a_repaired_leak_is_no_leak():
    # seed 1414213 watermain-0045: a leak's noise (42 dB) from the first days
    # became the baseline; after the repair the pipe sounds 33.6 dB again
    assert _acoustic_changes([(240, 42.4), (72, 33.6)]) == []


def test_a_louder_pipe_is_still_a_leak():
    assert _acoustic_changes([(240, 33.6), (24, 42.4)]) == ["opened"]


def test_an_ordinary_high_night_then_a_burst_night_is_no_leak():
    # seeds 2718 watermain-0028 / 8675309 watermain-0025: a night 2–3 σ up,
    # then a burst through the next night's window (+260 %): not a leak's growth
    nights = [NORMAL[i % len(NORMAL)] for i in range(30)]
    nights[15] = 2.17
    nights[16] = 6.3
    assert _opened_nights(nights) == []
