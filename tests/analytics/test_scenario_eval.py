"""A small simulated scenario with ground truth through the detectors (the
same path as ``mimamori evaluate scenario``): SOS presses, device-flagged
falls, bursts and a silence are all found, in time; false fall candidates
stay quiet."""

from __future__ import annotations

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
        "duration": "3d", "mode": "offline", "anomalies": ANOMALIES,
        "groups": [{"family": "wearable", "count": 3}, {"family": "water_main", "count": 2},
                   {"family": "paddy", "count": 2}]})
    run_offline(sc, tmp_path)
    report = evaluate_dir(tmp_path)
    c = report["classes"]
    for kind in ("sos", "fall_flagged", "burst"):
        assert c[kind]["labels"] == 2, kind
        assert c[kind]["recall_within_interval"] == 1.0, kind
    assert c["device_silent"]["recall"] == 1.0
    assert c["device_silent"]["delay_p95_intervals"] <= 2.0
    assert c["fall"]["false_alerts"] == 0       # the two false candidates are not falls
    assert c["burst"]["false_alerts"] == 0

    # the command prints the same report as a table
    out = CliRunner().invoke(app, ["evaluate", "scenario", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "fall_flagged" in out.output and "recall" in out.output
