"""Must show: SMTP down → retries with backoff, falls back to the next
channel, and nothing is delivered twice when a retry finally succeeds."""

from __future__ import annotations

import time

from alerts.config import AlertsConfig
from alerts.escalation import Policy, Step
from alerts.smtp_standin import SmtpStandin
from alerts.stage import AlertsStage
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
from mimamori.services import free_port
from mimamori.topics import Topics
from tests.helpers import wait_for

TARO_LINE = "U" + "2" * 32


def _finding(kind: EventKind, settings) -> tuple[str, bytes]:
    f = Finding("w-1", kind, Severity.WARNING, FindingState.OPENED, time.time_ns(), "home-1",
                "wearable_json_v1", Family.WEARABLE, {"field": "heart_rate_bpm", "value": 131,
                                                      "low": 45, "high": 110})
    return (Topics(settings.bus.topic_root).findings(partition("w-1", settings.bus.partitions)),
            f.encode())


def test_smtp_down_retries_then_falls_back_and_never_duplicates(settings, bus_factory, line,
                                                                 family, tmp_path):
    # taro prefers e-mail, then LINE; the SMTP server is not running yet
    family.add_person("taro", "family", "山田 太郎", email="taro@example.jp",
                      line_user_id=TARO_LINE, channels=["email", "line"])
    family.relate("taro", "family_member_of", "person", "obaachan", 0)
    smtp_port = free_port()
    config = AlertsConfig(
        policies={"default": Policy(steps=[Step(after_s=0, notify=["family_member_of#1"])])},
        notifiers={"email": {"port": smtp_port, "timeout_s": 5},
                   "line": {"base_url": line.base_url}},
        retry={"base_s": 0.5, "factor": 2.0, "max_attempts": 4},
        public_url=settings.web.url)
    stage = AlertsStage(settings, config=config).start()
    smtp = SmtpStandin(smtp_port, record=tmp_path / "outbox" / "smtp.jsonl")
    bus = bus_factory()
    try:
        # 1. SMTP stays down: 4 attempts with growing backoff, then LINE
        bus.publish_durably([_finding(EventKind.HEART_RATE_ABNORMAL, settings)])
        push = wait_for(lambda: line.pushes, 60, what="fallback LINE push")[0]
        assert push["to"] == TARO_LINE
        first = stage.store.list_alerts(kind="heart_rate_abnormal")[0]
        rows = stage.store.deliveries(first.alert_id)
        email = next(d for d in rows if d.channel == "email")
        fallback = wait_for(lambda: [d for d in stage.store.deliveries(first.alert_id)
                                     if d.channel == "line" and d.status == "sent"], 30,
                            what="line delivery recorded")[0]
        assert email.status == "failed" and email.attempts == 4
        assert "unreachable" in email.last_error
        assert fallback.fallback_from == email.id
        retries = [e.detail["retry_in_s"] for e in stage.store.history(first.alert_id)
                   if e.event == "delivery_retry"]
        assert retries == [0.5, 1.0, 2.0]

        # 2. SMTP comes back during the retries of the next alert: the retry
        #    succeeds, exactly one e-mail, and no fallback
        bus.publish_durably([_finding(EventKind.SPO2_LOW, settings)])
        second = wait_for(lambda: stage.store.list_alerts(kind="spo2_low"), 60,
                          what="second alert")[0]
        wait_for(lambda: any(d.attempts >= 1 and d.last_error for d in
                             stage.store.deliveries(second.alert_id)), 60,
                 what="a failed first attempt")
        smtp.start()
        wait_for(lambda: smtp.to("taro@example.jp"), 60, what="e-mail after retry")
        sent = wait_for(lambda: [d for d in stage.store.deliveries(second.alert_id)
                                 if d.status == "sent" and d.recipient == "taro"], 30,
                        what="ledger: sent")
        assert [(d.channel, d.attempts > 1) for d in sent] == [("email", True)]

        # the first alert's e-mail was given up: the server never receives it,
        # and nothing is sent twice, however long we wait
        time.sleep(3)
        mails = smtp.to("taro@example.jp")
        assert len(mails) == 1 and str(second.alert_id) == mails[0]["alert_id"]
        assert len(line.pushes) == 1
        assert [(d.channel, d.status) for d in stage.store.deliveries(second.alert_id)
                if d.recipient == "taro"] == [("email", "sent")]
        # the MQTT alert events went out once per alert as well
        events = [d for d in stage.store.deliveries() if d.recipient == "receiver:mqtt"]
        assert [d.status for d in events] == ["sent", "sent"]
    finally:
        stage.stop()
        smtp.stop()
