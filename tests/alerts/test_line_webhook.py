"""Reaching people on LINE, through the real web app and the LINE stand-in:
a follow event, a one-time link code binding a LINE user id to a person,
a postback that acknowledges, and signatures checked."""

from __future__ import annotations

import time

import httpx
import orjson

from alerts.ack import load_ack_key, make_token
from alerts.config import AlertsConfig
from alerts.line_standin import sign, user_event
from alerts.stage import AlertsStage
from dashboards.server import WebServer
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
from mimamori.topics import Topics
from tests.helpers import wait_for

NEW_USER = "U" + "b" * 32


class _Platform:
    def __init__(self, stage):
        self.stages = {"alerts": stage}


def test_follow_link_code_and_postback_ack(settings, bus_factory, line, smtp, family):
    config = AlertsConfig(notifiers={"email": {"port": smtp.port},
                                     "line": {"base_url": line.base_url}},
                          public_url=settings.web.url)
    stage = AlertsStage(settings, config=config).start()
    web = WebServer(settings, _Platform(stage)).start()
    hook = settings.web.url + "line/webhook"
    try:
        def simulate(kind, **kw):
            r = httpx.post(f"{line.base_url}/_standin/events/{kind}",
                           json={"userId": NEW_USER, **kw}, timeout=30)
            assert r.json()["webhook_status"] == 200
        # a forged webhook is refused
        body = orjson.dumps({"destination": "x", "events": [user_event("follow", NEW_USER)]})
        bad = httpx.post(hook, content=body, headers={"x-line-signature": sign("wrong", body)})
        assert bad.status_code == 400

        # taro follows the account and is asked for his code; a wrong code binds nothing
        simulate("follow")
        replies = [m for m in line.state.messages if m["kind"] == "reply"]
        assert "登録コード" in replies[-1]["messages"][0]["text"]
        stage.store.add_link_code("482913", "taro", ttl_s=600)
        simulate("message", text="111111")
        assert family.get_person("taro").line_user_id is None
        simulate("message", text="482913")
        taro = family.get_person("taro")
        assert taro.line_user_id == NEW_USER and taro.channels[0] == "line"
        simulate("message", text="482913")  # one-time: a second use does nothing
        assert stage.store.use_link_code("482913", "U" + "c" * 32) is None

        # a fall; taro is second in line, so the test makes him first
        family.relate("taro", "family_member_of", "person", "obaachan", 0)
        f = Finding("w-1", EventKind.FALL, Severity.CRITICAL, FindingState.OPENED, time.time_ns(),
                    "home-1", "", Family.WEARABLE, {"fall_confidence": 0.9})
        topic = Topics(settings.bus.topic_root).findings(partition("w-1", settings.bus.partitions))
        bus_factory().publish_durably([(topic, f.encode())])
        push = wait_for(lambda: [p for p in line.pushes if p["to"] == NEW_USER], 60,
                        what="push to the newly bound user")[0]
        # taro taps 確認しました: LINE sends the postback to the webhook
        data = push["messages"][1]["template"]["actions"][0]["data"]
        simulate("postback", data=data)
        alert = stage.store.list_alerts()[0]
        assert (alert.state, alert.acked_by, alert.acked_via) == ("acknowledged", "taro", "line")

        # links: tampered and expired ones are refused with a reason
        key = load_ack_key(settings.state_dir)
        good = make_token(key, alert.alert_id, "hanako")
        assert httpx.get(f"{settings.web.url}alerts/ack/{good}x", timeout=30).status_code == 400
        old = make_token(key, alert.alert_id, "hanako", ttl_s=-1)
        expired = httpx.post(f"{settings.web.url}alerts/ack/{old}", timeout=30)
        assert expired.status_code == 400 and "期限" in expired.text
        page = httpx.get(f"{settings.web.url}alerts/ack/{good}", timeout=30)
        assert "受け取り済み" in page.text  # hanako sees that taro has it
    finally:
        web.stop()
        stage.stop()
