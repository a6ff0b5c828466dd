"""The simulated numbers match DOMAIN.md (the [V]/[S] figures quoted in the
simulator modules). Few devices, few days: fast."""

import math
import statistics

from simulators.build import build_models
from simulators.geo import distance_m
from simulators.scenario import Scenario

NS = 10**9
H = 3600 * NS


def _run(doc, record_truth=True):
    sc = Scenario.model_validate({"seed": 3, "start": "2026-06-01T00:00:00+09:00", **doc})
    models = build_models(sc, record_truth=record_truth)
    out = {}
    for m in models:
        rows = []
        m.run_until(sc.end_ns, rows)
        out[m.device_id] = (m, rows)
    return sc, out


def test_wearable_resting_heart_rate_nocturnal_dip_skin_temperature_and_steps():
    _, devs = _run({"duration": "4d", "groups": [{"family": "wearable", "count": 16}]})
    resting, dips, sleep_t, wake_t, steps_day = [], [], [], [], []
    for m, rows in devs.values():
        truth = dict(m.truth)
        awake_hr = [f["heart_rate_bpm"] for ts, f in rows
                    if "heart_rate_bpm" in f and not truth[ts]["asleep"]
                    and truth[ts]["steps_per_min"] < 5]
        sleep_hr = [f["heart_rate_bpm"] for ts, f in rows
                    if "heart_rate_bpm" in f and truth[ts]["asleep"]]
        a, s = statistics.mean(awake_hr), statistics.mean(sleep_hr)
        resting.append(a)
        dips.append((a - s) / a)
        h = lambda ts: ((ts / NS + 9 * 3600) % 86400) / 3600  # noqa: E731
        sleep_t += [f["skin_temp_c"] for ts, f in rows if 1 <= h(ts) < 4 and f["worn"]]
        wake_t += [f["skin_temp_c"] for ts, f in rows if 11 <= h(ts) < 17 and f["worn"]]
        steps_day.append(sum(f["steps"] for _, f in rows) / 4)
    # resting HR 60–100 bpm (DOMAIN §1.2): personal baselines, population mean in the 70s
    assert all(55 <= r <= 100 for r in resting)
    assert 65 <= statistics.mean(resting) <= 80
    # nocturnal dip: normal ≥ 10 %, sleep HR 10–30 % below daytime
    assert 0.10 <= statistics.mean(dips) <= 0.30
    assert sum(d >= 0.10 for d in dips) >= 0.75 * len(dips)
    # wrist skin temperature: sleep 34.97 ± 0.34 °C, wake 32.94 ± 0.67 °C (PMC8207254)
    assert abs(statistics.mean(sleep_t) - 34.97) < 0.4
    assert abs(statistics.mean(wake_t) - 32.94) < 0.6
    # steps, 65+: men 5,329, women 4,419 a day
    assert 3500 <= statistics.mean(steps_day) <= 6500


def test_paddy_daily_water_loss_is_ten_to_twenty_mm_a_day():
    # dry weather; days on which the inlet stayed shut: the fall is ET + percolation
    sc, devs = _run({"duration": "6d", "start": "2026-06-20T00:00:00+09:00",
                     "dry_weather": True,
                     "groups": [{"family": "paddy", "count": 24,
                                 "params": {"transplant": "2026-05-01", "leaky": False}}]})
    losses = []
    for m, _ in devs.values():
        by_day: dict[int, list] = {}
        for ts, t in m.truth:
            by_day.setdefault(int((ts / NS + 9 * 3600) // 86400), []).append(t)
        for day, ts_truth in sorted(by_day.items())[1:-1]:
            if len(ts_truth) < 140 or any(t["inlet"] for t in ts_truth):
                continue
            if min(t["level_cm"] for t in ts_truth) <= 0.2:
                continue
            losses.append((ts_truth[0]["level_cm"] - ts_truth[-1]["level_cm"]) * 10)
    assert len(losses) >= 10
    # 減水深: Niigata stage means 11.0 → 17.5 mm/day (§3.2); simulator default 10–20 mm/day
    assert 10 <= statistics.mean(losses) <= 20
    assert min(losses) > 4


def test_leaky_paddies_lose_25_to_50_mm_a_day():
    _, devs = _run({"duration": "3d", "start": "2026-06-20T00:00:00+09:00",
                    "dry_weather": True,
                    "groups": [{"family": "paddy", "count": 4,
                                "params": {"transplant": "2026-05-01", "leaky": True}}]})
    for m, _ in devs.values():
        assert 25 <= m.perc_mm_day + 3 <= 50


def test_water_main_minimum_night_flow_share_and_pressures():
    sc, devs = _run({"duration": "7d", "groups": [{"family": "water_main", "count": 6}]})
    for m, rows in devs.values():
        hourly: dict[int, list[float]] = {}
        p_night, p_peak = [], []
        for ts, f in rows:
            h = int(((ts / NS + 9 * 3600) % 86400) // 3600)
            hourly.setdefault(h, []).append(f["flow_m3h"])
            if 2 <= h < 4:
                p_night.append(f["pressure_mpa"])
            if 7 <= h < 8:
                p_peak.append(f["pressure_mpa"])
        means = {h: statistics.mean(v) for h, v in hourly.items()}
        daily_mean = statistics.mean(f["flow_m3h"] for _, f in rows)
        mnf_hour = min(means, key=means.get)
        mnf = means[mnf_hour]
        # minimum night flow between 2 and 5 am (§4.3)
        assert 2 <= mnf_hour <= 4
        # MNF = legitimate night use (6 % of residents × 10 L in that hour) + background
        # leakage (≈ 5 % of supply): about a tenth of the mean flow
        legit = 0.06 * 10 * m.population / 1000
        assert 0.06 <= mnf / daily_mean <= 0.16
        assert 0.5 * legit < mnf - m.bg_leak_m3h * 0.9 < 1.6 * legit
        # leakage share of the supply: 有効率 ≥ 90 %, national leakage ≈ 5 %
        leak = statistics.mean(t["bg_leak_m3h"] for _, t in m.truth)
        assert 0.02 <= leak / daily_mean <= 0.10
        # static 0.3–0.5 MPa at night, dynamic 0.25–0.4 MPa in the morning peak,
        # always within 0.15–0.74 MPa (省令)
        assert 0.3 <= statistics.mean(p_night) <= 0.5
        assert 0.25 <= statistics.mean(p_peak) <= 0.4
        assert statistics.mean(p_peak) < statistics.mean(p_night)
        # evening peak larger than the morning one (SHASE)
        assert max(means[h] for h in (18, 19, 20)) > max(means[h] for h in (6, 7, 8))


def test_child_tag_gps_error_is_about_five_metres_outdoors():
    _, devs = _run({"duration": "3d", "groups": [{"family": "child_tag", "count": 10}]})
    errors = []
    for m, rows in devs.values():
        truth = dict(m.truth)
        for ts, f in rows:
            t = truth[ts]
            if t["outdoors"]:
                errors.append(distance_m(t["lat"], t["lon"], f["lat"], f["lon"]))
    errors.sort()
    p95 = errors[int(0.95 * len(errors))]
    # ~4.9 m horizontal (95 %) open sky (GPS SPS PS 2020, §0)
    assert len(errors) > 300
    assert 3.5 <= p95 <= 6.5
    assert statistics.median(errors) < p95


def test_child_walks_to_school_on_school_days_and_stays_home_on_sunday():
    sc, devs = _run({"duration": "7d", "groups": [{"family": "child_tag", "count": 3}]})
    for m, rows in devs.values():
        school = m.school_ll
        for day in range(7):  # 2026-06-01 is a Monday
            at_11 = [f for ts, f in rows
                     if day * 24 * H + 11 * H <= ts - sc.start_ns < day * 24 * H + 12 * H]
            if not at_11:
                continue
            d = distance_m(school[0], school[1], at_11[0]["lat"], at_11[0]["lon"])
            if day < 5:
                assert d < 60, (m.device_id, day, d)
            elif day == 6 and m.truth:  # Sunday: home or a park, never school
                assert d > 300
        # the route on the street grid is 0.5–2 km long
        route = m.route_ll()
        length = sum(distance_m(*a, *b) for a, b in zip(route, route[1:]))
        assert 450 <= length <= 2050 and not math.isnan(length)
