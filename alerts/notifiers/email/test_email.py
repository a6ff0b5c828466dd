"""The e-mail notifier against a real aiosmtpd server."""

from __future__ import annotations

from aiosmtpd.controller import Controller

from alerts.smtp_standin import SmtpStandin
from mimamori.services import free_port

from ..base import Outgoing
from .notifier import EmailNotifier


def _out(address: str = "hanako@example.jp") -> Outgoing:
    return Outgoing(delivery_id=1, idem_key="7:notify:0:hanako:email", alert={"alert_id": 7},
                    recipient="hanako", address=address, language="ja", purpose="notify",
                    message={"subject": "【見守り】山田 ウメさんが転倒したようです",
                             "text": "いますぐ: 電話で様子を確かめてください。", "short": "x"})


def test_sends_utf8_mail_with_stable_message_id():
    server = SmtpStandin(free_port()).start()
    try:
        n = EmailNotifier({"port": server.port})
        first = n.send(_out())
        assert first.outcome == "ok"
        assert n.send(_out()).external_id == first.external_id  # same id on a retry
        got = server.to("hanako@example.jp")
        assert got[0]["subject"] == "【見守り】山田 ウメさんが転倒したようです"
        assert "電話で様子" in got[0]["text"]
        assert got[0]["message_id"] == first.external_id
    finally:
        server.stop()


def test_server_down_is_retried():
    r = EmailNotifier({"port": free_port(), "timeout_s": 2}).send(_out())
    assert r.outcome == "retry" and "unreachable" in r.reason


class _Refuse:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("gone"):
            return "550 5.1.1 no such user"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def test_refused_recipient_is_rejected_and_deferred_is_retried():
    c = Controller(_Refuse(), hostname="127.0.0.1", port=free_port())
    c.start()
    try:
        n = EmailNotifier({"port": c.port})
        gone = n.send(_out("gone@example.jp"))
        assert gone.outcome == "reject" and "550" in gone.reason
        assert n.send(_out("busy@example.jp")).outcome == "retry"
    finally:
        c.stop()
