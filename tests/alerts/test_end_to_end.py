"""Must show, on real services: a fall → e-mail at a real SMTP server and a
LINE push at the stand-in; not acknowledged → escalation reaches the second
recipient; acknowledged through the link → escalation stops, and the ledger
shows who acknowledged when. Generous timeouts, no timing assertions."""

from __future__ import annotations

import re
import time

import httpx

from alerts.config import AlertsConfig
from alerts.escalation import Policy, Step
from alerts.stage import AlertsStage
from dashboards.server import WebServer
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
from mimamori.topics import Topics
from tests.alerts.conftest import HANAKO_LINE
from tests.helpers import wait_for


def _config(smtp, line, settings, step2_s: float = 1.0, step3_s: float = 12.0) -> AlertsConfig:
    return AlertsConfig(
        policies={
            "fall": Policy(steps=[Step(after_s=0, notify=["family_member_of#1"]),
                                  Step(after_s=step2_s, notify=["family_member_of#2",
                                                                "care_manager_of"]),
                                  Step(after_s=step3_s, notify=["welfare_for"])]),
            "default": Policy(steps=[Step(after_s=0, notify=["family_member_of#1"])])},
        notifiers={"email": {"port": smtp.port},
                   "line": {"base_url": line.base_url}},
        retry={"base_s": 0.2, "max_attempts": 3},
        public_url=settings.web.url)


def _fall(state: FindingState, settings) -> tuple[str, bytes]:
    f = Finding("w-1", EventKind.FALL, Severity.CRITICAL, state, time.time_ns(), "home-1",
                "wearable_json_v1", Family.WEARABLE, {"fall_confidence": 0.93})
    return Topics(settings.bus.topic_root).findings(partition("w-1", settings.bus.partitions)), \
        f.encode()


class _Platform:
    def __init__(self, stage):
        self.stages = {"alerts": stage}


def test_fall_escalates_until_acknowledged_by_link(settings, bus_factory, smtp, line, family):
    stage = AlertsStage(settings, config=_config(smtp, line, settings)).start()
    web = WebServer(settings, _Platform(stage)).start()
    try:
        bus = bus_factory()
        bus.publish_durably([_fall(FindingState.OPENED, settings)])

        # the first family member: e-mail and LINE at once (critical)
        mail = wait_for(lambda: smtp.to("hanako@example.jp"), 60, what="e-mail to hanako")[0]
        assert "山田 ウメさんが転倒したようです" in mail["subject"]
        push = wait_for(lambda: line.pushes, 60, what="LINE push")[0]
        assert push["to"] == HANAKO_LINE and push["retry_key"]
        assert "転倒" in push["messages"][0]["text"]

        # nobody acknowledges → the second family member (in English) and the care manager
        taro = wait_for(lambda: smtp.to("taro@example.jp"), 60, what="escalation to taro")[0]
        assert "may have fallen" in taro["subject"]
        wait_for(lambda: smtp.to("cm@example.jp"), 60, what="escalation to care manager")

        # taro acknowledges through the link in his e-mail
        link = re.search(r"http://\S+/alerts/ack/\S+", taro["text"]).group(0)
        page = httpx.get(link, timeout=30)
        assert page.status_code == 200 and "<form" in page.text
        done = httpx.post(link, timeout=30)
        assert done.status_code == 200 and "Thank you" in done.text

        alert = stage.store.list_alerts()[0]
        assert alert.state == "acknowledged" and alert.acked_by == "taro"
        assert alert.acked_via == "link" and alert.next_action_ns is None
        acks = [e for e in stage.store.history(alert.alert_id) if e.event == "acknowledged"]
        assert [(e.actor, e.detail["via"]) for e in acks] == [("taro", "link")]

        # the welfare step would have come at 12 s: wait past it, nobody else is told
        wait_for(lambda: time.time_ns() > alert.opened_ns + 15 * 10**9, 60, what="step 3 time")
        time.sleep(0.5)
        assert smtp.to("fukushi@example.jp") == []
        assert not [d for d in stage.store.deliveries(alert.alert_id) if d.recipient == "welfare"]

        # the ledger: who was told, on which channel, all sent exactly once
        sent = [(d.recipient, d.channel) for d in stage.store.deliveries(alert.alert_id)
                if d.status == "sent" and d.purpose == "notify"]
        assert sorted(sent) == [("cm", "email"), ("hanako", "email"), ("hanako", "line"),
                                ("taro", "email")]

        # a second ack through the same link changes nothing and says who had it
        again = httpx.post(link, timeout=30)
        assert "already acknowledged" in again.text

        # the finding clears → resolved, with a recovery message to those told
        bus.publish_durably([_fall(FindingState.CLEARED, settings)])
        wait_for(lambda: stage.store.get(alert.alert_id).state == "resolved", 60, what="resolved")
        wait_for(lambda: any("Resolved" in m["subject"] for m in smtp.to("taro@example.jp")),
                 60, what="recovery message")
        outbox = httpx.get(settings.web.url + "alerts/outbox.json", timeout=30).json()
        assert any(r["acked_by"] == "taro" and r["channel"] == "LINE" for r in outbox)
    finally:
        web.stop()
        stage.stop()
