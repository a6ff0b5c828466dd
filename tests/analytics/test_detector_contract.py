"""One contract suite over every registered detector (STYLE.md habit 3):
scoring is pure, missing fields are tolerated, the state round-trips
through JSON, and each detector beats chance on a tiny labelled stream."""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import pytest

from analytics.detectors import DETECTORS, Sample

NS = 10**9
H = 3600
T0 = 1_780_000_000 * NS  # 2026-05-28 (a Thursday) 20:26 UTC
ROUTE = [[34.4880, 136.6290], [34.4970, 136.6290], [34.4970, 136.6380]]
CHILD_CTX = {"route": ROUTE, "school_latlon": ROUTE[0], "home": ROUTE[-1], "arrive_by": "08:10"}


def local_ns(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    """A Japan local time as ns UTC."""
    jst = dt.timezone(dt.timedelta(hours=9))
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=jst).timestamp()) * NS


MONDAY_15H = local_ns(2026, 6, 15, 15)   # a school day, after school
MONDAY_7H = local_ns(2026, 6, 15, 7)


def _ts(step_s: float, i: int) -> int:
    return T0 + int(i * step_s * NS)


def stream_range(rnd):
    return [(Sample(_ts(600, i), {"v": rnd.gauss(5, 1) + (20 if 150 <= i < 160 else 0)}),
             150 <= i < 160) for i in range(200)]


def stream_rate(rnd):
    out, level = [], 5.0
    for i in range(200):
        if 150 <= i < 170:
            level -= 0.3
        out.append((Sample(_ts(600, i), {"v": level + rnd.gauss(0, 0.05)}), 152 <= i < 170))
    return out


def stream_stuck(rnd):
    return [(Sample(_ts(600, i), {"v": 3.0 if 150 <= i < 190 else round(rnd.gauss(3, 0.3), 1)}),
             165 <= i < 190) for i in range(200)]


def stream_battery(rnd):
    return [(Sample(_ts(600, i), {"battery_pct": 60 - i * 0.3}), 60 - i * 0.3 < 15)
            for i in range(200)]


def stream_flag(rnd):
    return [(Sample(_ts(600, i), {"sos": i in (50, 120)}), i in (50, 120)) for i in range(200)]


def stream_baseline(rnd):
    return [(Sample(_ts(600, i), {"v": rnd.gauss(70, 3) if not 250 <= i < 260 else 135.0}),
             250 <= i < 260) for i in range(300)]


def stream_nightly(rnd):
    out = []
    for i in range(30 * 48):  # 30 days, every 30 min
        day = i // 48
        out.append((Sample(_ts(1800, i), {"v": rnd.gauss(10, 0.3) + (max(0, day - 20) * 1.0)}),
                    day >= 24))
    return out


def stream_wearable(rnd):
    out = []
    for i in range(400):
        fall = i == 300
        lying = 300 <= i < 306
        f = {"fall": fall, "worn": True, "steps": 0 if lying else rnd.randint(20, 60),
             "activity": 1 if lying else rnd.randint(20, 80), "sos": False}
        out.append((Sample(_ts(600, i), f), lying))
    return out


def stream_inactivity(rnd):
    out = []
    for i in range(24 * 6 * 6):  # 6 days every 10 min
        t = _ts(600, i)
        still = 4 * 144 + 60 <= i < 4 * 144 + 100
        f = {"worn": True, "steps": 0 if still else rnd.randint(5, 40), "activity": 3}
        out.append((Sample(t, f), still and i >= 4 * 144 + 80))
    return out


def stream_not_worn(rnd):
    return [(Sample(_ts(600, i), {"worn": not 100 <= i < 180}), 120 <= i < 180)
            for i in range(200)]


def stream_wandering(rnd):
    out = []
    for i in range(24 * 6 * 3):
        t = _ts(600, i)
        hour = ((t // NS + 9 * H) % 86400) / H
        f = {"steps": 0 if (hour < 6 or hour >= 22) else 30, "worn": True}
        bad = i > 2 * 144 and (hour >= 23 or hour < 1)
        if bad:
            f.update(lat=34.49 + 0.002 * (i % 7), lon=136.63, gps_accuracy_m=5.0)
        out.append((Sample(t, f, {"home": [34.48, 136.63]}), bad))
    return out


def stream_child(rnd):
    out = []
    for i in range(120):
        off = 60 <= i < 80
        lat = 34.4880 + 0.009 * (i % 40) / 40
        lon = 136.6290 + (0.006 if off else 0.0) + rnd.gauss(0, 0.00003)
        out.append((Sample(MONDAY_15H + i * 60 * NS,
                           {"lat": lat, "lon": lon, "gps_accuracy_m": 5.0}, CHILD_CTX), off))
    return out


def stream_dwell(rnd):
    out = []
    day0 = MONDAY_15H
    for i in range(40):
        still = 10 <= i < 20
        lat = 34.4930 if still else 34.4880 + 0.0005 * i
        out.append((Sample(day0 + i * 300 * NS, {"lat": lat, "lon": 136.6290,
                                                  "gps_accuracy_m": 5.0}, CHILD_CTX),
                    still and i >= 13))
    return out


def stream_late(rnd):
    day = MONDAY_7H
    home = {"lat": ROUTE[-1][0], "lon": ROUTE[-1][1], "gps_accuracy_m": 5.0}
    return [(Sample(day + i * 300 * NS, home, CHILD_CTX), i * 300 >= 75 * 60) for i in range(30)]


def stream_paddy_low(rnd):
    out, level = [], 5.0
    for i in range(6 * 24 * 4):
        if i > 6 * 24:
            level = max(-3.0, level - 0.02)
        out.append((Sample(_ts(600, i), {"water_level_cm": level + rnd.gauss(0, 0.1)},
                           {"transplant": "2026-05-20"}), level < 2.0 and i > 6 * 24 * 2.5))
    return out


def stream_sudden_drop(rnd):
    return [(Sample(x.ts_ns, {"water_level_cm": x.fields["v"]}, {"transplant": "2026-05-01"}), a)
            for x, a in stream_rate(rnd)]


def stream_level_drift(rnd):
    """Intermittent irrigation (target 4 cm): a daily fill at the 06:30
    round from about 0.6 cm to the target, a slow fall until the next; from
    day 8 the sensor reads 1.5 cm low."""
    out = []
    t0 = local_ns(2026, 6, 10, 0)
    for i in range(16 * 144):
        day, h = i // 144, (i % 144) / 6
        if 6.5 <= h < 8.9:
            lv = 0.63 + 1.6 * (h - 6.5)
        else:
            lv = 4.3 - 0.17 * ((h - 8.9) % 24)
        off = -1.5 if day >= 8 else 0.0
        out.append((Sample(t0 + i * 600 * NS, {"water_level_cm": lv + off + rnd.gauss(0, 0.1)},
                           {"transplant": "2026-04-20"}), day >= 8))
    return out


def stream_heat(rnd):
    out = []
    for i in range(24 * 10):
        day = i // 24
        out.append((Sample(_ts(3600, i), {"water_temp_c": 33.0 if day >= 5 else 25.0},
                           {"transplant": "2026-03-10"}), day >= 8))
    return out


def stream_burst(rnd):
    out = []
    for i in range(2000):
        b = 1800 <= i < 1830
        q = 20 * (1 + 0.3 * math.sin(i / 288 * 2 * math.pi)) * (1 + rnd.gauss(0, 0.02)) + \
            (10 if b else 0)
        p = 0.4 - 0.0002 * q + (-0.04 if b else 0) + rnd.gauss(0, 0.003)
        out.append((Sample(_ts(300, i), {"flow_m3h": q, "pressure_mpa": p}), b))
    return out


def stream_transient(rnd):
    return [(Sample(_ts(300, i), {"flow_m3h": 20 + rnd.gauss(0, 0.2),
                                  "pressure_mpa": 0.4 + (0.25 if i == 100 else 0)}), i in (100, 101))
            for i in range(200)]


def stream_univariate(rnd):
    return [(Sample(_ts(300, i), {"value": math.sin(i / 10) + rnd.gauss(0, 0.1)
                                  + (5 if i == 700 else 0)}), i in (700, 701))
            for i in range(900)]


CASES = {
    "range": ({"field": "v", "low": 0, "high": 12}, stream_range),
    "rate": ({"field": "v", "max_drop_per_h": 0.5, "min_points": 6}, stream_rate),
    "stuck": ({"field": "v", "min_repeats": 12}, stream_stuck),
    "low_battery": ({}, stream_battery),
    "flag": ({"field": "sos"}, stream_flag),
    "silence": ({}, None),
    "baseline": ({"field": "v", "guard_low": 50, "guard_high": 120}, stream_baseline),
    "nightly_cusum": ({"field": "v", "start_h": 2, "end_h": 4}, stream_nightly),
    "fall": ({}, stream_wearable),
    "inactivity": ({}, stream_inactivity),
    "not_worn": ({}, stream_not_worn),
    "wandering": ({}, stream_wandering),
    "off_route": ({}, stream_child),
    "late_arrival": ({}, stream_late),
    "unusual_dwell": ({}, stream_dwell),
    "water_band": ({"side": "low"}, stream_paddy_low),
    "sudden_drop": ({"min_points": 6}, stream_sudden_drop),
    "heat_risk": ({}, stream_heat),
    "level_drift": ({}, stream_level_drift),
    "burst": ({}, stream_burst),
    "transient": ({}, stream_transient),
    "univariate": ({}, stream_univariate),
}


def stream_silence(rnd):
    return [(Sample(_ts(600, i) + (20 * 600 * NS if i >= 100 else 0), {"battery_pct": 50}), False)
            for i in range(150)]


def test_every_registered_detector_has_a_case():
    assert set(DETECTORS) == set(CASES)


def _stream(name):
    kwargs, make = CASES[name]
    rnd = random.Random(11)
    return DETECTORS[name](**kwargs), (make or stream_silence)(rnd)


def _dump(det):
    return json.dumps(det.state(), sort_keys=True, default=str)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scoring_is_pure(name):
    det, stream = _stream(name)
    for x, _ in stream[: len(stream) // 2]:
        det.learn_one(x)
    x = stream[len(stream) // 2][0]
    before = _dump(det)
    a, b = det.score_one(x), det.score_one(x)
    assert a == b
    assert _dump(det) == before


@pytest.mark.parametrize("name", sorted(CASES))
def test_missing_fields_are_tolerated(name):
    det, stream = _stream(name)
    for x, _ in stream[:20]:
        det.learn_one(x)
    empty = Sample(stream[20][0].ts_ns, {})
    assert det.score_one(empty) in (None, 0.0)
    det.learn_one(empty)
    det.score_one(stream[21][0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_round_trips(name):
    det, stream = _stream(name)
    half = len(stream) // 2
    for x, _ in stream[:half]:
        det.score_one(x)
        det.learn_one(x)
    clone = DETECTORS[name](**CASES[name][0])
    clone.load_state(json.loads(json.dumps(det.state())))
    for x, _ in stream[half:]:
        assert clone.score_one(x) == det.score_one(x)
        det.learn_one(x)
        clone.learn_one(x)


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n][1] is not None))
def test_better_than_chance_on_a_labelled_stream(name):
    det, stream = _stream(name)
    hot, cold = [], []
    for x, anomalous in stream:
        s = det.score_one(x)
        det.learn_one(x)
        (hot if anomalous else cold).append(-1.0 if s is None else s)
    assert hot and cold
    # the anomalous part scores higher than almost all of the normal part
    assert max(hot) >= det.alarm
    share_cold_alarms = sum(c >= det.alarm for c in cold) / len(cold)
    assert share_cold_alarms < 0.05
    assert sum(h >= det.alarm for h in hot) / len(hot) > share_cold_alarms


def test_silence_alarms_after_a_gap_and_not_before():
    det, stream = _stream("silence")
    for x, _ in stream[:100]:
        det.learn_one(x)
    last = stream[99][0].ts_ns
    assert det.score_at(last + 600 * NS) == 0.0
    assert det.score_at(last + 2 * 600 * NS) == 1.0   # within two expected intervals
    assert last + 1.5 * 600 * NS <= det.deadline_ns(last) <= last + 2 * 600 * NS
