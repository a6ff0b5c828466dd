"""The analytics stage against the real Mosquitto: readings in, findings out,
state kept across a restart."""

from __future__ import annotations

import time

from analytics.stage import AnalyticsStage
from mimamori.contracts import (
    EventKind,
    Family,
    Finding,
    FindingState,
    Reading,
    encode_envelope,
    partition,
)
from mimamori.topics import Topics
from tests.helpers import Collector, wait_for

NS = 10**9


def _wearable(ts_ns: int, **fields) -> Reading:
    base = {"worn": True, "steps": 25, "activity": 40, "fall": False, "sos": False,
            "heart_rate_bpm": 72, "battery_pct": 80.0}
    return Reading("wear-st-1", "wearable_v1", Family.WEARABLE, "hh-1", ts_ns, {**base, **fields})


def _send(bus, settings, readings):
    t = Topics(settings.bus.topic_root)
    p = partition(readings[0].device_id, settings.bus.partitions)
    bus.publish_durably([(t.readings(p), encode_envelope(readings))])


def _send_until_judged(bus, settings, stage, readings, timeout=30.0):
    """The stage subscribes asynchronously: resend until it has judged the
    readings (it skips duplicates, so a resend never counts twice)."""
    want = stage.engine.readings + len(readings)
    deadline = time.monotonic() + timeout
    while stage.engine.readings < want:
        assert time.monotonic() < deadline, "the stage never saw the readings"
        _send(bus, settings, readings)
        try:
            wait_for(lambda: stage.engine.readings >= want, timeout=3.0)
        except AssertionError:
            continue


def test_sos_fall_and_restart_with_restored_state(settings, bus_factory):
    t = Topics(settings.bus.topic_root)
    findings = Collector(bus_factory(), t.findings_filter)
    pub = bus_factory()
    stage = AnalyticsStage(settings, client_id="analytics-test-1").start()
    now = time.time_ns()
    try:
        _send_until_judged(pub, settings, stage,
                           [_wearable(now - 600 * NS), _wearable(now - 300 * NS, sos=True)])
        msgs = findings.wait(1)
        f = Finding.decode(msgs[0].payload)
        assert (f.kind, f.state, f.device_id) == (EventKind.SOS, FindingState.OPENED, "wear-st-1")
        assert msgs[0].topic == t.findings(partition("wear-st-1", settings.bus.partitions))
        # a fall flag while the wearer still moves: only a candidate, no finding yet
        _send(pub, settings, [_wearable(now - 200 * NS), _wearable(now - 100 * NS, fall=True)])
        msgs = findings.wait(2)
        assert Finding.decode(msgs[1].payload).state == FindingState.CLEARED  # the SOS
        # a bad envelope is dead-lettered and the stage goes on
        pub.publish_durably([(t.readings(0), b"not json")])
        wait_for(lambda: stage.deadlettered == 1, what="dead letter")
    finally:
        stage.stop()
    assert stage.checkpoint_path.exists()

    # a new process: the pending fall candidate survived in the checkpoint, so
    # stillness at the next uplink confirms the fall
    stage2 = AnalyticsStage(settings, client_id="analytics-test-1").start()
    try:
        _send_until_judged(pub, settings, stage2, [_wearable(now - 50 * NS, steps=0, activity=1)])
        msgs = findings.wait(3)
        f = Finding.decode(msgs[2].payload)
        assert (f.kind, f.state) == (EventKind.FALL, FindingState.OPENED)
        # a duplicate delivery of an old reading is not judged twice
        _send(pub, settings, [_wearable(now - 100 * NS, fall=True)])
        wait_for(lambda: stage2.engine.skipped >= 1, what="duplicate skipped")
    finally:
        stage2.stop()
    assert len(findings.messages) == 3


def test_silence_is_found_by_the_clock(settings, bus_factory):
    t = Topics(settings.bus.topic_root)
    findings = Collector(bus_factory(), t.findings_filter)
    pub = bus_factory()
    stage = AnalyticsStage(settings, client_id="analytics-test-2", tick_s=0.2).start()
    try:
        now = time.time_ns()
        # a device that reported every 10 minutes and stopped 20 minutes ago
        rs = [Reading("paddy-st-9", "paddy_json_v1", Family.PADDY, "f-1",
                      now - (20 + 10 * (11 - i)) * 60 * NS,
                      {"water_level_cm": 4.0 + 0.1 * (i % 3), "battery_pct": 90.0})
              for i in range(12)]
        _send_until_judged(pub, settings, stage, rs)
        msgs = findings.wait(1)
        f = Finding.decode(msgs[0].payload)
        assert (f.kind, f.state, f.device_id) == (EventKind.DEVICE_SILENT, FindingState.OPENED,
                                                  "paddy-st-9")
        assert 600 <= f.evidence["cadence_s"] <= 730  # learned from the gaps
    finally:
        stage.stop()


def test_the_area_drift_check_runs_live_and_is_checkpointed(settings, bus_factory):
    """A field and its area's rain gauge in the registry; a storm holds the
    field at its 6 cm weir while its sensor reads 1.5 cm low: after the dry
    hours that follow, the stage's area check opens a sensor_drift finding
    for it, and its state survives a restart."""
    import datetime as dt

    from mimamori.registry import Registry

    now = time.time_ns()
    transplant = (dt.date.today() - dt.timedelta(days=50)).isoformat()  # intermittent: weir 6
    reg = Registry(settings.registry)
    reg.add_site("field-ad-1", "field", "水田", 34.48, 136.60, {})
    reg.add_device("paddy-ad-1", "paddy_json_v1", "field-ad-1", "水位", lat=34.48, lon=136.60,
                   params={"transplant": transplant})
    reg.add_device("rain-ad-1", "rain_gauge_json_v1", "field-ad-1", "雨量計", lat=34.481,
                   lon=136.601)
    t = Topics(settings.bus.topic_root)
    findings = Collector(bus_factory(), t.findings_filter)
    pub = bus_factory()
    stage = AnalyticsStage(settings, client_id="analytics-test-area", site_model=None).start()
    rs, true = [], 4.0
    start = now - 11 * 3600 * NS
    for i in range(66):                      # 11 h; 9 mm/h of rain from hour 1 to 7, then
        ts = start + i * 600 * NS            # the dry hours that show no breach drained it
        raining = 6 <= i < 42
        rs.append(Reading("rain-ad-1", "rain_gauge_json_v1", Family.PADDY, "field-ad-1", ts,
                          {"rain_mm": 1.5 if raining else 0.0, "battery_pct": 90.0}))
        true = min(true + (0.15 if raining else 0.0) - 0.05 / 6, 6.0)
        rs.append(Reading("paddy-ad-1", "paddy_json_v1", Family.PADDY, "field-ad-1",
                          ts + 60 * NS, {"water_level_cm": round(true - 1.5 + 0.1 * (i % 2), 1),
                                         "battery_pct": 80.0}))
    try:
        _send_until_judged(pub, settings, stage, rs)

        def drift():
            while not findings.q.empty():
                findings.messages.append(findings.q.get())
            return [f for f in (Finding.decode(m.payload) for m in findings.messages)
                    if f.kind is EventKind.SENSOR_DRIFT]
        wait_for(drift, what="the area drift finding")
        f = drift()[0]
        assert (f.device_id, f.state) == ("paddy-ad-1", FindingState.OPENED)
        assert f.evidence["detector"] == "area_drift" and f.evidence["gauge"] == "rain-ad-1"
        assert -1.6 <= f.evidence["offset_cm"] <= -1.3
    finally:
        stage.stop()
    stage2 = AnalyticsStage(settings, client_id="analytics-test-area", site_model=None).start()
    try:
        assert stage2.area is not None and stage2.area.fields["paddy-ad-1"].open
    finally:
        stage2.stop()
