"""Inhibition on the bus: a LoRa gateway goes offline → one alert to the
operator; a device heard only through it raises no silence alert of its own."""

from __future__ import annotations

import time

import orjson

from alerts.config import AlertsConfig
from alerts.stage import AlertsStage
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
from mimamori.topics import Topics
from tests.helpers import wait_for


def test_gateway_offline_alerts_operator_and_holds_silence(settings, bus_factory, smtp, family):
    family.add_person("ops", "operator", "運用担当", email="ops@example.jp")
    topics = Topics(settings.bus.topic_root)
    stage = AlertsStage(settings, config=AlertsConfig(notifiers={"email": {"port": smtp.port}},
                                                      public_url=settings.web.url)).start()
    bus = bus_factory()
    try:
        bus.publish_durably([(topics.device_status("w-1"),
                              orjson.dumps({"device_id": "w-1", "gateways": ["gw-9"]})),
                             (topics.gateway_status("gw-9"),
                              orjson.dumps({"gateway_id": "gw-9", "online": False,
                                            "last_seen_ns": time.time_ns()}))])
        mail = wait_for(lambda: smtp.to("ops@example.jp"), 60, what="operator alert")[0]
        assert "gw-9" in mail["subject"]
        f = Finding("w-1", EventKind.DEVICE_SILENT, Severity.WARNING, FindingState.OPENED,
                    time.time_ns(), "home-1", "", Family.WEARABLE, {"limit_s": 900})
        bus.publish_durably([(topics.findings(partition("w-1", settings.bus.partitions)),
                              f.encode())])
        silent = wait_for(lambda: stage.store.list_alerts(kind="device_silent"), 60,
                          what="silence alert stored")[0]
        assert silent.inhibited_by == "gateway_offline:gw-9"
        # back online: the gateway alert resolves (with a recovery message to the operator)
        bus.publish_durably([(topics.gateway_status("gw-9"),
                              orjson.dumps({"gateway_id": "gw-9", "online": True}))])
        wait_for(lambda: len(smtp.to("ops@example.jp")) == 2, 60, what="recovery to operator")
        gw = stage.store.list_alerts(kind="gateway_offline")[0]
        assert gw.state == "resolved"
        assert [m["to"] for m in smtp.messages] == [["ops@example.jp"]] * 2  # the family: nothing
    finally:
        stage.stop()
