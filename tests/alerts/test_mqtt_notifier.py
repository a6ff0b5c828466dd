"""The MQTT notifier: alert events on {root}/alerts/{severity}/{site}, on the
test's real Mosquitto (lives here because it needs the session broker)."""

from __future__ import annotations

import time

import orjson

from alerts.config import AlertsConfig
from alerts.stage import AlertsStage
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
from mimamori.topics import Topics
from tests.helpers import Collector


def test_alert_events_are_published(settings, bus_factory, family):
    topics = Topics(settings.bus.topic_root)
    got = Collector(bus_factory(), f"{topics.root}/alerts/#")
    stage = AlertsStage(settings, config=AlertsConfig()).start()
    try:
        out = bus_factory()
        topic = topics.findings(partition("w-1", settings.bus.partitions))
        for state in (FindingState.OPENED, FindingState.CLEARED):
            f = Finding("w-1", EventKind.WANDERING, Severity.WARNING, state, time.time_ns(),
                        "home-1", "", Family.WEARABLE, {"distance_m": 420})
            out.publish_durably([(topic, f.encode())])
        # a bad finding is dead-lettered, not fatal
        out.publish_durably([(topic, b"{not json")])
        msgs = got.wait(2, timeout=60)
        assert [m.topic for m in msgs] == [topics.alerts("warning", "home-1")] * 2
        events = [orjson.loads(m.payload) for m in msgs]
        assert [(e["event"], e["kind"], e["device_id"]) for e in events] == [
            ("opened", "wandering", "w-1"), ("resolved", "wandering", "w-1")]
    finally:
        stage.stop()
