"""The LINE notifier (official line-bot-sdk) against the LINE stand-in."""

from __future__ import annotations

import pytest

from alerts.line_standin import LineStandin
from mimamori.services import free_port

from ..base import Outgoing
from .notifier import LineNotifier

USER = "U" + "a" * 32


@pytest.fixture
def standin():
    s = LineStandin(free_port()).start()
    yield s
    s.stop()


def _out(to: str = USER, key: str = "9:notify:0:hanako:line") -> Outgoing:
    return Outgoing(delivery_id=1, idem_key=key, alert={"alert_id": 9}, recipient="hanako",
                    address=to, language="ja", purpose="notify",
                    message={"subject": "s", "text": "山田 ウメさんが転倒したようです",
                             "short": "【見守り】山田 ウメさんが転倒したようです"},
                    ack_url="http://127.0.0.1:8080/alerts/ack/tok", ack_token="tok")


def _notifier(standin: LineStandin, **kw) -> LineNotifier:
    n = LineNotifier({"base_url": standin.base_url, **kw})
    n.start()
    return n


def test_push_with_retry_key_and_ack_button(standin):
    r = _notifier(standin).send(_out())
    assert r.outcome == "ok" and r.external_id
    (push,) = standin.pushes
    assert push["to"] == USER and push["retry_key"] == _out().retry_key
    assert push["request_id"] == r.external_id
    text, buttons = push["messages"]
    assert text["text"] == "山田 ウメさんが転倒したようです"
    actions = buttons["template"]["actions"]
    assert actions[0] == {"type": "postback", "label": "確認しました", "data": "ack=tok",
                          "displayText": "確認しました"}
    assert actions[1]["uri"] == "http://127.0.0.1:8080/alerts/ack/tok"


def test_answer_lost_then_retry_is_not_delivered_twice(standin):
    n = _notifier(standin)
    standin.inject({"status": 500, "accept": True})
    first = n.send(_out())
    assert first.outcome == "retry"
    second = n.send(_out())  # same retry key → 409 from LINE → counts as sent
    assert second.outcome == "ok"
    assert len(standin.pushes) == 1 and second.external_id == standin.pushes[0]["request_id"]


@pytest.mark.parametrize("fault,outcome", [
    ({"status": 500}, "retry"),
    ({"status": 429, "message": "The API rate limit has been exceeded. Try again later."}, "retry"),
    ({"status": 429, "message": "You have reached your monthly limit."}, "reject"),
])
def test_failure_table(standin, fault, outcome):
    standin.inject(fault)
    assert _notifier(standin).send(_out()).outcome == outcome
    assert standin.pushes == []


def test_bad_token_and_bad_user_are_rejected(standin):
    bad_token = _notifier(standin, channel_access_token="wrong").send(_out())
    assert bad_token.outcome == "reject" and "401" in bad_token.reason
    bad_user = _notifier(standin).send(_out(to="not-a-line-user", key="other"))
    assert bad_user.outcome == "reject" and "'to'" in bad_user.reason


def test_api_unreachable_is_retried():
    n = LineNotifier({"base_url": f"http://127.0.0.1:{free_port()}", "timeout_s": 2})
    n.start()
    assert n.send(_out()).outcome == "retry"
