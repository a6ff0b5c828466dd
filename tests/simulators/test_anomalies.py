"""Injected anomalies change the readings the way the label says, and the
labels tell real fall candidates from false ones."""

import statistics

from mimamori.contracts import EventKind
from simulators.build import build_models
from simulators.scenario import Scenario

NS = 10**9
H = 3600 * NS


def _one(family, anomalies, duration="3d", start="2026-06-01T00:00:00+09:00", params=None,
         seed=5):
    sc = Scenario.model_validate({
        "seed": seed, "start": start, "duration": duration,
        "groups": [{"family": family, "count": 1, "params": params or {}}],
        "anomalies": anomalies})
    (m,) = build_models(sc)
    rows = []
    m.run_until(sc.end_ns, rows)
    return sc, m, rows, m.finish()


def _between(rows, a, b):
    return [f for ts, f in rows if a <= ts < b]


def test_fall_candidates_real_missed_and_false_are_told_apart_by_labels():
    anomalies = [
        {"device": "wearable-0001", "kind": "fall", "at": "10h", "duration": "90m",
         "params": {"detected": True}},
        {"device": "wearable-0001", "kind": "fall", "at": "1d10h", "duration": "40m",
         "params": {"detected": False}},  # the device misses this one
        {"device": "wearable-0001", "kind": "false_fall", "at": "1d15h"},
        {"device": "wearable-0001", "kind": "false_fall", "at": "2d9h"},
    ]
    sc, m, rows, labels = _one("wearable", anomalies)
    flagged = [ts for ts, f in rows if f["fall"]]
    assert len(flagged) == 3  # one real detected + two false candidates
    falls = [lb for lb in labels if lb.kind is EventKind.FALL]
    assert len(falls) == 2  # both real falls are labelled, detected or not
    real = [ts for ts in flagged if any(lb.covers(ts) for lb in falls)]
    assert len(real) == 1 and real[0] - sc.start_ns < 10 * H + 60 * NS
    # while lying after a fall: no steps, little activity
    lying = _between(rows, sc.start_ns + 10 * H + 5 * 60 * NS, sc.start_ns + 11 * H)
    assert lying and all(f["steps"] == 0 and f["activity"] <= 3 for f in lying)


def test_not_worn_has_no_vitals_and_skin_cools_to_room_temperature():
    sc, m, rows, labels = _one("wearable", [
        {"device": "wearable-0001", "kind": "not_worn", "at": "1d8h", "duration": "14h"}])
    off = _between(rows, sc.start_ns + 1 * 24 * H + 10 * H, sc.start_ns + 1 * 24 * H + 22 * H)
    assert off and all(not f["worn"] and "heart_rate_bpm" not in f for f in off)
    assert statistics.mean(f["skin_temp_c"] for f in off[-10:]) < 30
    assert [lb.kind for lb in labels] == [EventKind.NOT_WORN]


def test_wandering_at_night_leaves_the_safe_zone_with_gps_fixes():
    from simulators.geo import distance_m

    sc, m, rows, labels = _one("wearable", [
        {"device": "wearable-0001", "kind": "wandering", "at": "1d1h", "duration": "60m"}])
    out = _between(rows, sc.start_ns + 25 * H, sc.start_ns + 26 * H)
    fixes = [f for f in out if "lat" in f]
    assert len(fixes) >= 20  # a fix every 2 minutes outdoors
    far = max(distance_m(m.home[0], m.home[1], f["lat"], f["lon"]) for f in fixes)
    assert far > 1000 and labels[0].kind is EventKind.WANDERING


def test_silent_and_dead_devices_send_nothing_and_are_labelled():
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "silent", "at": "6h", "duration": "10h"},
        {"device": "paddy-0001", "kind": "battery_dead", "at": "1d12h", "duration": "12h"}])
    assert not _between(rows, sc.start_ns + 6 * H, sc.start_ns + 16 * H)
    kinds = [lb.kind for lb in labels]
    assert kinds == [EventKind.DEVICE_SILENT, EventKind.LOW_BATTERY, EventKind.DEVICE_SILENT]
    dead = labels[-1]
    assert dead.end_ns == sc.end_ns
    assert not [ts for ts, _ in rows if ts >= dead.start_ns]
    assert _between(rows, sc.start_ns + 16 * H, sc.start_ns + 30 * H)


def test_paddy_sudden_drop_falls_faster_than_any_normal_day():
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "1d9h", "duration": "6h",
         "params": {"rate_mm_h": 20}}], start="2026-05-18T00:00:00+09:00",
        params={"transplant": "2026-05-01"})
    lvl = [(ts, f["water_level_cm"]) for ts, f in rows]
    a = sc.start_ns + 33 * H
    during = [v for ts, v in lvl if a <= ts < a + 4 * H]
    # 3 cm gone within hours, against 1–2 cm a day normally (10–20 mm/day)
    assert during[0] - min(during) > 3
    assert [lb.kind for lb in labels] == [EventKind.SUDDEN_DROP]


def test_inlet_left_open_overflows_and_is_labelled_water_high_once_high():
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "inlet_left_open", "at": "1d6h", "duration": "20h"}],
        start="2026-05-15T00:00:00+09:00", params={"transplant": "2026-05-01"})
    (high,) = labels
    assert high.kind is EventKind.WATER_HIGH and high.start_ns > sc.start_ns + 30 * H
    during = [f["water_level_cm"] for ts, f in rows if high.covers(ts)]
    assert max(during) >= 4.5  # at the weir board (5 cm in tillering)


def test_stuck_sensor_repeats_one_value():
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "sensor_stuck", "at": "1d", "duration": "6h"}])
    (lb,) = labels
    stuck = {f["pressure_mpa"] for ts, f in rows if lb.covers(ts) and ts > lb.start_ns}
    assert len(stuck) == 1
    assert len({f["pressure_mpa"] for ts, f in rows if not lb.covers(ts)}) > 50


def test_burst_raises_flow_and_drops_pressure_and_a_leak_raises_night_flow():
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "burst", "at": "1d11h", "duration": "3h"},
        {"device": "watermain-0001", "kind": "leak", "at": "2d", "duration": "5d",
         "params": {"grow_s": 172800}}], duration="6d")
    day = 24 * H

    def window(d, h0, h1, field):
        return statistics.mean(f[field] for f in _between(
            rows, sc.start_ns + d * day + h0 * H, sc.start_ns + d * day + h1 * H))

    assert window(1, 11.5, 13.5, "flow_m3h") > window(0, 11.5, 13.5, "flow_m3h") + 5
    assert window(1, 11.5, 13.5, "pressure_mpa") < window(0, 11.5, 13.5, "pressure_mpa") - 0.02
    # minimum night flow creeps up as the leak grows
    mnf = [window(d, 2, 4, "flow_m3h") for d in range(6)]
    assert mnf[5] > mnf[3] > mnf[1] and mnf[5] > 1.5 * mnf[1]
    assert {lb.kind for lb in labels} == {EventKind.BURST, EventKind.LEAK}


def test_child_off_route_and_late_arrival_labels_match_the_track():
    from simulators.child_tag import OFF_ROUTE_M, distance_to_path
    from simulators.geo import to_local

    sc, m, rows, labels = _one("child_tag", [
        {"device": "childtag-0001", "kind": "off_route", "at": "15h", "duration": "20m"},
        {"device": "childtag-0001", "kind": "late_arrival", "at": "1d7h", "duration": "45m"}],
        duration="2d")
    off = next(lb for lb in labels if lb.kind is EventKind.OFF_ROUTE)
    late = next(lb for lb in labels if lb.kind is EventKind.LATE_ARRIVAL)
    dists = [distance_to_path(to_local(m.school_ll[0], m.school_ll[1], f["lat"], f["lon"]),
                              m.route) for ts, f in rows if off.covers(ts)]
    assert dists and max(dists) > 300 and sum(d > OFF_ROUTE_M for d in dists) > 0.6 * len(dists)
    assert 40 * 60 * NS <= late.end_ns - late.start_ns <= 50 * 60 * NS


def test_battery_dead_on_an_already_empty_battery_does_not_crash():
    # Two battery_dead injections: the second starts when the battery is
    # already empty (its drain rate is 0) — it must still label, not divide by 0.
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "battery_dead", "at": "6h", "duration": "6h"},
        {"device": "paddy-0001", "kind": "battery_dead", "at": "1d", "duration": "6h"}])
    assert EventKind.LOW_BATTERY in [lb.kind for lb in labels]
    assert not [ts for ts, _ in rows if ts >= sc.start_ns + 12 * H]


def test_pressure_high_is_labelled_only_while_the_pressure_is_above_the_standard():
    # a failed pressure-reducing valve: the label spans the readings above
    # 0.74 MPa (the head loss at the daytime peaks may keep it below)
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "pressure_high", "at": "1d", "duration": "12h",
         "params": {"extra_mpa": 0.36}}], params={"static_mpa": 0.45})
    (lb,) = [lb for lb in labels if lb.kind is EventKind.PRESSURE_OUT_OF_RANGE]
    high = [ts for ts, f in rows if f["pressure_mpa"] > 0.745]
    assert high and lb.start_ns - 600 * NS <= high[0] and high[-1] <= lb.end_ns + 600 * NS
    # a valve that never lifts the pressure above the standard leaves no label
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "pressure_high", "at": "1d", "duration": "12h",
         "params": {"extra_mpa": 0.1}}], params={"static_mpa": 0.45})
    assert not [lb for lb in labels if lb.kind is EventKind.PRESSURE_OUT_OF_RANGE]


def test_a_burst_that_pulls_the_pressure_below_the_standard_is_out_of_range_too():
    # the burst's flow and head loss take the node below 0.15 MPa at the
    # evening peak: pressure_out_of_range from the first to the last moment
    # below it (the burst is labelled burst all the same)
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "burst", "at": "1d12h", "duration": "10h",
         "params": {"flow_m3h": 1.5 * 40, "local_drop_mpa": 0.08}}],
        params={"static_mpa": 0.4, "population": 3000})
    assert [lb for lb in labels if lb.kind is EventKind.BURST]
    (lb,) = [lb for lb in labels if lb.kind is EventKind.PRESSURE_OUT_OF_RANGE]
    low = [ts for ts, f in rows if f["pressure_mpa"] < 0.145]
    assert low and lb.start_ns - 600 * NS <= low[0] and low[-1] <= lb.end_ns + 600 * NS
    assert all(f["pressure_mpa"] > 0.14 for ts, f in rows if ts < lb.start_ns - 600 * NS)
    # a small burst in the night keeps the node above the minimum: no such label
    sc, m, rows, labels = _one("water_main", [
        {"device": "watermain-0001", "kind": "burst", "at": "1d01h", "duration": "2h",
         "params": {"flow_m3h": 5.0, "local_drop_mpa": 0.03}}], params={"static_mpa": 0.45})
    assert [lb for lb in labels if lb.kind is EventKind.BURST]
    assert not [lb for lb in labels if lb.kind is EventKind.PRESSURE_OUT_OF_RANGE]


def test_out_of_range_is_labelled_from_two_reports_in_a_row():
    # one report outside the standard is a moment of the demand's spread;
    # the label starts at the first of two in a row and ends at the last
    # moment outside while the same injection lasts
    sc, m, rows, labels = _one("water_main", [], duration="1d")
    cause = object()
    t = [sc.start_ns + i * 300 * NS for i in range(8)]
    for ts, out in zip(t[:6], (True, False, True, True, False, True)):
        m._label_out("low", cause, out, ts)
    m._label_out("low", None, False, t[6])   # the burst is isolated
    m._label_out("high", cause, True, t[6])  # one report only: never labelled
    m._label_out("high", None, False, t[7])
    got = [(lb.start_ns, lb.end_ns) for lb in m.labels
           if lb.kind is EventKind.PRESSURE_OUT_OF_RANGE]
    assert got == [(t[2], t[5])]


def test_sensor_drift_is_labelled_once_the_offset_exceeds_the_sensor_accuracy():
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sensor_drift", "at": "1d", "duration": "10d",
         "params": {"cm_per_day": 0.25}}], duration="12d")
    (lb,) = [lb for lb in labels if lb.kind is EventKind.SENSOR_DRIFT]
    # 1 cm at 0.25 cm/day: four days after the drift began, until it ends
    assert abs((lb.start_ns - sc.start_ns) / H - 5 * 24) < 0.5
    assert lb.end_ns == sc.start_ns + 11 * 24 * H


def test_water_low_is_labelled_from_the_farmers_round_that_finds_no_water():
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "water_low", "at": "1d", "duration": "4d"}],
        duration="6d", params={"transplant": "2026-04-25"}, seed=8)
    lows = [lb for lb in labels if lb.kind is EventKind.WATER_LOW]
    assert lows
    for lb in lows:   # each starts at a morning or evening round, below the minimum
        hour = ((lb.start_ns // NS + 9 * 3600) % 86400) / 3600
        assert 5.5 <= hour <= 8 or 16.5 <= hour <= 19
        during = _between(rows, lb.start_ns, lb.end_ns)
        assert during and statistics.median(f["water_level_cm"] for f in during) < 1.5


def test_a_band_off_the_wrist_does_not_flag_its_wearers_fall():
    sc, m, rows, labels = _one("wearable", [
        {"device": "wearable-0001", "kind": "not_worn", "at": "1d8h", "duration": "14h"},
        {"device": "wearable-0001", "kind": "fall", "at": "1d10h", "duration": "40m",
         "params": {"detected": True}}])
    assert [lb for lb in labels if lb.kind is EventKind.FALL]   # the fall happened
    assert not [ts for ts, f in rows if f["fall"]]               # the band on the table felt nothing


def test_a_water_shortage_too_short_or_too_shallow_to_show_is_not_labelled():
    import random

    from simulators.paddy import CALENDAR, PaddyField

    m = PaddyField("paddy-0001", random.Random(3)).model
    st = next(s for s in CALENDAR if s.name == "intermittent")   # minimum 1 cm
    t0 = m.start_ns + 24 * H

    def shortage(levels_cm, minutes):
        n0 = len(m.labels)
        m.level_mm = levels_cm[0] * 10
        m._labels_for_state(t0, st, None, failed_check=True)   # the round that finds no water
        for i, lv in enumerate(levels_cm[1:], 1):
            m.level_mm = lv * 10
            m._labels_for_state(t0 + i * minutes * 60 * NS // len(levels_cm), st, None)
        m.level_mm = 15.0                                       # back above the minimum
        m._labels_for_state(t0 + minutes * 60 * NS, st, None)
        return [lb for lb in m.labels[n0:] if lb.kind is EventKind.WATER_LOW]

    assert shortage([0.0, -0.5, -1.0], 120) == []     # rain refilled it within 2 h
    assert shortage([0.8, 0.7, 0.8], 600) == []       # never 0.5 cm below the minimum
    (lb,) = shortage([0.0, -0.5, -1.0], 600)          # 10 h, 2 cm below: a shortage
    assert (lb.end_ns - lb.start_ns) / NS == 600 * 60
    # the round finds the field 0.3 cm below the minimum — within the probe's
    # accuracy, as every field the farmer left at its minimum reads: not from
    # that round; from the next round that finds it clearly low, if it lasts
    assert shortage([0.7, 0.0, -1.0], 600) == []
    n0 = len(m.labels)
    m.level_mm = 7.0
    m._labels_for_state(t0, st, None, failed_check=True)
    m.level_mm = -5.0
    m._labels_for_state(t0 + 6 * H, st, None, failed_check=True)   # the evening round
    m.level_mm = 15.0
    m._labels_for_state(t0 + 16 * H, st, None)
    (lb,) = [lb for lb in m.labels[n0:] if lb.kind is EventKind.WATER_LOW]
    assert (lb.start_ns, lb.end_ns) == (t0 + 6 * H, t0 + 16 * H)


def test_a_breach_that_moves_no_reading_is_not_labelled_sudden_drop():
    # 中干し (drained, no farmer's water): the first breach takes the last water
    # down to 2 cm below the soil surface; the second finds nothing left to lose
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "1d9h", "duration": "6h",
         "params": {"rate_mm_h": 20}},
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "2d9h", "duration": "6h",
         "params": {"rate_mm_h": 20}}], params={"transplant": "2026-04-25"})
    second = [f["water_level_cm"] for f in _between(rows, sc.start_ns + 57 * H,
                                                       sc.start_ns + 63 * H)]
    assert statistics.mean(second[:6]) - statistics.mean(second[-6:]) < 0.5   # noise only
    (lb,) = [lb for lb in labels if lb.kind is EventKind.SUDDEN_DROP]
    assert lb.start_ns == sc.start_ns + 33 * H
    assert m.unlabelled_breaches == 1


def test_a_breach_overtaken_by_the_calendars_drainage_is_not_labelled():
    # transplanted 3 May: 中干し from 2 June 00:00 — the weir board is pulled and
    # the field empties by plan ten minutes after the breach opened
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "23h50m", "duration": "10h",
         "params": {"rate_mm_h": 20}}], params={"transplant": "2026-05-03"})
    assert not [lb for lb in labels if lb.kind is EventKind.SUDDEN_DROP]


def test_a_breach_the_inlet_cannot_outfill_is_a_water_shortage_too():
    # intermittent irrigation (minimum 1 cm): a breach at 40 mm/h from 05:00 empties
    # the field before the morning round; the opened inlet (10–25 mm/h) cannot fill it
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "1d5h", "duration": "10h",
         "params": {"rate_mm_h": 40}}], start="2026-06-20T00:00:00+09:00",
        params={"transplant": "2026-05-01"})
    kinds = sorted(lb.kind.value for lb in labels)
    assert kinds == ["sudden_drop", "water_low"]
    (low,) = [lb for lb in labels if lb.kind is EventKind.WATER_LOW]
    hour = ((low.start_ns // NS + 9 * 3600) % 86400) / 3600
    assert 5.5 <= hour <= 8   # from the morning round that found it low
    during = _between(rows, low.start_ns, low.end_ns)
    assert min(f["water_level_cm"] for f in during) < 0.5
    assert low.end_ns > sc.start_ns + 39 * H   # until the water is back after the breach


def test_a_breach_closed_soon_after_the_round_is_no_water_shortage():
    # the breach (40 mm/h from 03:00) closes at 09:00, 2.5 h after the
    # morning round found the field low: the opened inlet then refills it like
    # any round's — the breach held the field down for less than 3 h
    sc, m, rows, labels = _one("paddy", [
        {"device": "paddy-0001", "kind": "sudden_drop", "at": "1d3h", "duration": "6h",
         "params": {"rate_mm_h": 40}}], start="2026-06-20T00:00:00+09:00",
        params={"transplant": "2026-05-01"})
    assert [lb.kind.value for lb in labels] == ["sudden_drop"]
    assert m.unlabelled_lows >= 1    # it was short, briefly


def test_a_drift_is_observable_only_if_the_water_stood_at_a_known_level_during_it():
    drift = [{"device": "paddy-0001", "kind": "sensor_drift", "at": "1h", "duration": "9d",
              "params": {"cm_per_day": 0.3}}]

    def drift_label(transplant):
        sc = Scenario.model_validate({
            "seed": 5, "start": "2026-06-01T00:00:00+09:00", "duration": "9d",
            "dry_weather": True, "anomalies": drift,
            "groups": [{"family": "paddy", "count": 1, "params": {"transplant": transplant}}]})
        (m,) = build_models(sc)
        m.truth = []
        m.run_until(sc.end_ns, [])
        (lb,) = [lb for lb in m.finish() if lb.kind is EventKind.SENSOR_DRIFT]
        return lb, [(t, s) for t, s in m.truth if lb.start_ns <= t <= lb.end_ns]

    # intermittent irrigation: the farmer fills the field to its 4 cm target every few days
    lb, truth = drift_label("2026-04-20")
    fills_end = [t for (t, a), (_, b) in zip(truth, truth[1:]) if a["inlet"] and not b["inlet"]]
    assert fills_end and lb.observable
    # 中干し in a dry week: no fill, no standing water at the (open) weir — the
    # probe's offset cannot be told from the water table: unobservable
    lb, truth = drift_label("2026-05-02")
    assert {s["stage"] for _, s in truth} == {"midseason_drain"}
    assert all(s["level_cm"] < 0 and not s["inlet"] for _, s in truth)
    assert not lb.observable
