"""The checkpoint, taken in slices of devices, is the engine's whole state
(plus the area drift check's own, under ``area``)."""

from __future__ import annotations

from analytics.stage import AnalyticsStage, load_checkpoint
from mimamori.contracts import Family, Reading


def test_checkpoint_in_slices_equals_the_engine_state(settings):
    stage = AnalyticsStage(settings, client_id="cp-slices")  # never connected
    for i in range(1234):
        stage.engine.process(Reading(f"w-{i}", "wearable_json_v1", Family.WEARABLE, "home",
                                     10**18 + i, {"heart_rate_bpm": 60.0 + i % 30,
                                                  "sos": i % 7 == 0, "battery_pct": 80.0}))
    stage.checkpoint()
    saved = load_checkpoint(stage.checkpoint_path)
    assert {k: v for k, v in saved.items() if k != "area"} == stage.engine.state()
    assert stage.area is not None and saved["area"] == stage.area.state()
    assert len(saved["devices"]) == 1234
