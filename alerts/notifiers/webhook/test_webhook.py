"""The webhook notifier against a real local HTTP receiver."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from mimamori.services import free_port

from ..base import Outgoing
from .notifier import WebhookNotifier, verify

SECRET = "hook-secret"


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    got: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        ok = verify(SECRET.encode(), self.headers["x-mimamori-timestamp"], body,
                    self.headers["x-mimamori-signature"])
        status = self.answers.pop(0) if self.answers else (200 if ok else 401)
        if status == 200:
            self.got.append({"body": orjson.loads(body), "key": self.headers["idempotency-key"]})
        self.send_response(status)
        if status == 429:
            self.send_header("retry-after", "3")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.answers, _Receiver.got = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def _out(url: str) -> Outgoing:
    return Outgoing(delivery_id=1, idem_key="3:event:opened:0:receiver:town",
                    alert={"alert_id": 3, "kind": "burst"}, recipient="receiver:town",
                    address=url, language="ja", purpose="event",
                    message={"subject": "s", "text": "t", "short": "s"})


def test_signed_json_is_delivered(receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    r = WebhookNotifier({"secret": SECRET}).send(_out(url))
    assert r.outcome == "ok"
    (got,) = _Receiver.got
    assert got["body"]["alert"]["kind"] == "burst" and got["key"] == "3:event:opened:0:receiver:town"


def test_wrong_secret_is_refused_by_the_receiver(receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    assert WebhookNotifier({"secret": "other"}).send(_out(url)).outcome == "reject"
    assert _Receiver.got == []


def test_failure_table(receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    n = WebhookNotifier({"secret": SECRET})
    _Receiver.answers = [503, 429, 400]
    assert n.send(_out(url)).outcome == "retry"
    slow = n.send(_out(url))
    assert slow.outcome == "retry" and slow.after_s == 3.0
    assert n.send(_out(url)).outcome == "reject"
    assert WebhookNotifier({"secret": SECRET, "timeout_s": 2}).send(
        _out(f"http://127.0.0.1:{free_port()}/")).outcome == "retry"
