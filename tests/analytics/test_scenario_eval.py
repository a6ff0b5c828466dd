"""A small simulated scenario with ground truth through the detectors (the
same path as ``mimamori evaluate scenario``): SOS presses, device-flagged
falls, bursts and a silence are all found, in time; false fall candidates
stay quiet."""

from __future__ import annotations

from dataclasses import replace

from typer.testing import CliRunner

from analytics.evaluate import evaluate_dir
from mimamori.cli import app
from simulators.offline_run import run_offline
from simulators.scenario import Scenario

ANOMALIES = [
    {"device": "wearable-0001", "kind": "sos", "at": "1d10h"},
    {"device": "wearable-0002", "kind": "sos", "at": "2d15h"},
    {"device": "wearable-0001", "kind": "fall", "at": "2d09h", "duration": "40m",
     "params": {"detected": True}},
    {"device": "wearable-0002", "kind": "fall", "at": "1d16h", "duration": "30m",
     "params": {"detected": True}},
    {"device": "wearable-0003", "kind": "false_fall", "at": "1d11h", "duration": "5m"},
    {"device": "wearable-0003", "kind": "false_fall", "at": "2d14h", "duration": "5m"},
    {"device": "watermain-0001", "kind": "burst", "at": "1d19h", "duration": "3h"},
    {"device": "watermain-0002", "kind": "burst", "at": "2d07h", "duration": "2h"},
    {"device": "paddy-0001", "kind": "silent", "at": "2d03h", "duration": "8h"},
]


def test_small_scenario_classes_are_found(tmp_path):
    sc = Scenario.model_validate({
        "name": "eval_tiny", "seed": 424242, "start": "2026-06-01T00:00:00+09:00",
        "duration": "3d", "run_out": "12h", "mode": "offline", "anomalies": ANOMALIES,
        "groups": [{"family": "wearable", "count": 3}, {"family": "water_main", "count": 2},
                   {"family": "paddy", "count": 2}]})
    run_offline(sc, tmp_path)
    report = evaluate_dir(tmp_path, run_out_s=0)   # every label scored
    c = report["classes"]
    for kind in ("sos", "fall_flagged", "burst"):
        assert c[kind]["labels"] == 2, kind
        assert c[kind]["recall_within_interval"] == 1.0, kind
    assert c["device_silent"]["recall"] == 1.0
    assert c["device_silent"]["delay_p95_intervals"] <= 2.0
    assert c["fall"]["false_alerts"] == 0       # the two false candidates are not falls
    assert c["burst"]["false_alerts"] == 0

    # the scenario's run-out (devices.json): the SOS of 2d15h begins in the last
    # 12 h, so it is counted apart, and the finding on it is not a false alert
    late = evaluate_dir(tmp_path)
    assert late["run_out_s"] == 12 * 3600
    sos = late["classes"]["sos"]
    assert (sos["labels"], sos["run_out"], sos["run_out_detected"]) == (1, 1, 1)
    assert sos["recall"] == 1.0 and sos["false_alerts"] == 0
    assert late["classes"]["burst"]["labels"] == 2   # 2d07h is before the run-out

    # the command prints the same report as a table
    out = CliRunner().invoke(app, ["evaluate", "scenario", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "fall_flagged" in out.output and "recall" in out.output
    assert "runout" in out.output
    every = CliRunner().invoke(app, ["evaluate", "scenario", str(tmp_path), "--json",
                                     "--run-out", "0s"])
    assert every.exit_code == 0, every.output
    assert '"run_out_s": 0.0' in every.output


def test_a_run_out_as_long_as_the_run_is_refused():
    import pytest

    with pytest.raises(ValueError, match="run_out"):
        Scenario.model_validate({"duration": "2d", "run_out": "2d"})


def test_labels_the_sensor_cannot_show_are_unobservable():
    from analytics.evaluate import _observable
    from mimamori.contracts import EventKind, Family, Reading
    from mimamori.offline import Label

    ns = 10**9
    low = Label("p1", EventKind.WATER_LOW, 100 * ns, 200 * ns)
    rs = [Reading("p1", "paddy_v1", Family.PADDY, "f", t * ns, {"water_level_cm": 2.0})
          for t in range(0, 300, 10)]
    assert _observable(low, rs, [])
    assert not _observable(low, rs, [], faulty=[(50 * ns, 250 * ns)])   # a drifting sensor
    assert _observable(low, rs, [], faulty=[(150 * ns, 250 * ns)])      # began after the start
    fall = Label("w1", EventKind.FALL, 100 * ns, 200 * ns)

    def band(worn_at_fall):
        return [Reading("w1", "wearable_v1", Family.WEARABLE, "h", t * ns,
                        {"worn": worn_at_fall if t <= 100 else True}) for t in range(0, 400, 100)]
    assert _observable(fall, band(True), [])
    assert not _observable(fall, band(False), [])   # put on again later: still unobservable
    still = Label("w1", EventKind.INACTIVITY, 100 * ns, 200 * ns)
    assert _observable(still, band(True), [])
    assert not _observable(still, band(False), [])  # a band on the table is always still
    # the simulator's own verdict (a drifting probe whose field met no reference)
    drift = Label("p1", EventKind.SENSOR_DRIFT, 100 * ns, 200 * ns)
    assert _observable(drift, rs, [])
    assert not _observable(replace(drift, observable=False), rs, [])


def test_a_drift_no_reference_could_show_is_counted_apart(tmp_path):
    # two fields in 中干し through a dry week: no fill, no water at the weir —
    # through the offline files, the drift label is unobservable, not a miss
    sc = Scenario.model_validate({
        "seed": 5, "start": "2026-06-01T00:00:00+09:00", "duration": "8d", "mode": "offline",
        "dry_weather": True,
        "groups": [{"family": "paddy", "count": 2, "params": {"transplant": "2026-05-02"}}],
        "anomalies": [{"device": "paddy-0001", "kind": "sensor_drift", "at": "1h",
                       "duration": "8d", "params": {"cm_per_day": 0.3}}]})
    run_offline(sc, tmp_path)
    drift = evaluate_dir(tmp_path, run_out_s=0)["classes"]["sensor_drift"]
    assert (drift["labels"], drift["unobservable"], drift["recall"]) == (0, 1, None)
