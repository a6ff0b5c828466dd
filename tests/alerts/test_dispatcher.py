"""The dispatcher's own rules, with a recording notifier: per-channel rate
limits postpone without spending an attempt; a reject falls back at once;
an acknowledged alert's pending notifications are not sent."""

from __future__ import annotations

import time

from alerts.config import AlertsConfig
from alerts.delivery import Dispatcher
from alerts.notifiers.base import Result
from alerts.store import AlertStore
from mimamori.contracts import EventKind, Finding, FindingState, Severity


class Recording:
    def __init__(self, channel, answers=()):
        self.channel, self.answers, self.sent = channel, list(answers), []

    def send(self, out):
        self.sent.append(out.idem_key)
        return self.answers.pop(0) if self.answers else Result.ok("id")


def _alert(store):
    f = Finding("w-1", EventKind.FALL, Severity.CRITICAL, FindingState.OPENED, time.time_ns(), "h")
    return store.apply_finding(f).alert


def test_rate_limit_postpones_without_spending_attempts(tmp_path):
    store = AlertStore(f"sqlite:///{tmp_path / 'a.db'}")
    a = _alert(store)
    for i in range(3):
        store.add_delivery(idem_key=f"k{i}", alert_id=a.alert_id, recipient=f"p{i}",
                           channel="t", address="x", purpose="notify")
    t = Recording("t")
    d = Dispatcher(store, {"t": t}, AlertsConfig(rate_per_minute={"t": 1.0}))
    d.run_once()
    rows = store.deliveries(a.alert_id)
    assert len(t.sent) == 1
    assert sorted((r.status, r.attempts) for r in rows) == [("pending", 0), ("pending", 0),
                                                          ("sent", 1)]
    assert all(r.next_ns > time.time_ns() + 30 * 10**9 for r in rows if r.status == "pending")
    d.close()


def test_reject_falls_back_and_ack_cancels(tmp_path):
    store = AlertStore(f"sqlite:///{tmp_path / 'a.db'}")
    a = _alert(store)
    store.add_delivery(idem_key="k", alert_id=a.alert_id, recipient="p", channel="line",
                       address="U1", purpose="notify", fallbacks=[["email", "p@example.jp"]])
    line = Recording("line", [Result.reject("HTTP 400: bad user")])
    email = Recording("email")
    d = Dispatcher(store, {"line": line, "email": email}, AlertsConfig())
    d.run_once()
    d.run_once()
    rows = store.deliveries(a.alert_id)
    assert [(r.channel, r.status, r.fallback_from) for r in rows] == [
        ("line", "rejected", None), ("email", "sent", rows[0].id)]
    # pending notifications of an acknowledged alert are never sent
    store.add_delivery(idem_key="k2", alert_id=a.alert_id, recipient="q", channel="email",
                       address="q@example.jp", purpose="notify")
    store.acknowledge(a.alert_id, "p")
    d.run_once()
    assert email.sent == ["k>email"]
    assert store.deliveries(a.alert_id)[-1].status == "cancelled"
    d.close()
