"""Lifecycle, grouping, flapping, escalation, reminders, quiet hours,
fan-out and inhibition — the engine against a real SQLite store and
registry, with explicit clock values (no waiting)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.config import AlertsConfig
from alerts.engine import AlertEngine
from alerts.store import AlertStore
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity
from mimamori.registry import Registry

S = 10**9


@pytest.fixture
def world(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.add_site("home-1", "household", "玉城町 佐田")
    reg.add_person("ume", "wearer", "山田 ウメ")
    reg.add_device("w-1", "wearable_v1", "home-1", person_id="ume")
    for pid, kind, prio in (("hanako", "family", 1), ("taro", "family", 2), ("cm", "care_manager", 3),
                            ("fukushi", "welfare", 9)):
        reg.add_person(pid, kind, pid, email=f"{pid}@example.jp",
                       line_user_id="U" + "3" * 32 if pid == "hanako" else None,
                       channels=["line", "email"] if pid == "hanako" else ["email"])
        rel = {"family": "family_member_of", "care_manager": "care_manager_of",
               "welfare": "welfare_for"}[kind]
        reg.relate(pid, rel, "person", "ume", prio)
    store = AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
    engine = AlertEngine(store, reg, AlertsConfig(), b"k" * 32, "http://127.0.0.1:8080/")
    return reg, store, engine


def finding(kind=EventKind.FALL, state=FindingState.OPENED, severity=Severity.CRITICAL,
            device="w-1", site="home-1", family=Family.WEARABLE, **evidence):
    return Finding(device, kind, severity, state, time.time_ns(), site, "", family, evidence)


def apply(store, engine, f, subject="ume"):
    ch = store.apply_finding(f, subject, flap_window_s=300)
    engine.on_change(ch)
    return ch


def opened_and_sent(store, engine):
    """A fall alert opened, its first notifications made and marked sent."""
    a = apply(store, engine, finding()).alert
    engine.tick()
    for d in store.deliveries(a.alert_id):
        store.finish_delivery(d.id, "sent")
    return a


def notified(store, alert_id):
    return sorted({(d.recipient, d.channel) for d in store.deliveries(alert_id)
                   if d.purpose == "notify"})


def test_one_alert_per_device_and_kind_updated_not_repeated(world):
    reg, store, engine = world
    a = apply(store, engine, finding()).alert
    engine.tick()
    assert apply(store, engine, finding(fall_confidence=0.7)).what == "updated"
    assert apply(store, engine, finding()).what == "updated"
    engine.tick()
    assert len(store.list_alerts()) == 1
    assert [e.event for e in store.history(a.alert_id)][:4] == ["opened", "routed", "notified",
                                                              "updated"]
    # critical → every channel of the first family member at once
    assert notified(store, a.alert_id) == [("hanako", "email"), ("hanako", "line")]
    # a different kind on the same device is its own alert
    assert apply(store, engine, finding(EventKind.SOS)).what == "opened"


def test_escalation_steps_then_slowing_reminders_until_ack(world):
    reg, store, engine = world
    a = apply(store, engine, finding()).alert
    t0 = a.opened_ns
    engine.tick(t0)
    assert store.get(a.alert_id).next_action_ns == t0 + 300 * S
    engine.tick(t0 + 299 * S)  # not yet
    assert {r for r, _ in notified(store, a.alert_id)} == {"hanako"}
    engine.tick(t0 + 300 * S)
    assert {r for r, _ in notified(store, a.alert_id)} == {"hanako", "taro", "cm"}
    engine.tick(t0 + 900 * S)
    assert {r for r, _ in notified(store, a.alert_id)} == {"hanako", "taro", "cm", "fukushi"}
    # reminders to everyone told, each gap longer than the last (600, 1200, 2400 s)
    t, gaps = t0 + 900 * S, []
    for _ in range(3):
        nxt = store.get(a.alert_id).next_action_ns
        gaps.append((nxt - t) // S)
        engine.tick(nxt)
        t = nxt
    assert gaps == [600, 1200, 2400]
    reminders = [d for d in store.deliveries(a.alert_id) if d.purpose == "reminder"]
    assert {d.recipient for d in reminders} == {"hanako", "taro", "cm", "fukushi"}
    # acknowledgement stops the chain and cancels what was not yet sent
    assert store.acknowledge(a.alert_id, "taro", "line")
    assert store.get(a.alert_id).next_action_ns is None
    assert engine.tick(t + 10**6 * S) == 0
    assert all(d.status == "cancelled" for d in store.deliveries(a.alert_id)
               if d.purpose in ("notify", "reminder"))
    assert not store.acknowledge(a.alert_id, "hanako", "web")  # only once


def test_flapping_reopens_the_same_alert_and_goes_quiet(world):
    reg, store, engine = world
    a = opened_and_sent(store, engine)
    before = len(store.deliveries(a.alert_id))
    assert apply(store, engine, finding(state=FindingState.CLEARED)).what == "resolved"
    recovery = [d for d in store.deliveries(a.alert_id) if d.purpose == "recovery"]
    assert {(d.recipient, d.channel) for d in recovery} == {("hanako", "line")}
    for _ in range(2):
        ch = apply(store, engine, finding())
        assert ch.what == "reopened" and ch.alert.alert_id == a.alert_id
        engine.tick()
        apply(store, engine, finding(state=FindingState.CLEARED))
    assert len(store.list_alerts()) == 1
    assert store.get(a.alert_id).flaps == 2
    # nobody is told again, and no more recovery messages while it flaps
    rows = store.deliveries(a.alert_id)
    assert len([d for d in rows if d.purpose == "recovery"]) == 1
    assert len([d for d in rows if d.purpose == "notify"]) == before - 1  # minus the mqtt event
    assert [e.event for e in store.history(a.alert_id)].count("recovery_suppressed") == 2


def test_quiet_hours_hold_warnings_but_not_critical(world):
    reg, store, engine = world
    now = datetime.now(ZoneInfo("Asia/Tokyo"))
    quiet = [(now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")]
    reg.add_person("hanako", "family", "hanako", email="hanako@example.jp", channels=["email"],
                   quiet_hours=quiet)
    warn = apply(store, engine, finding(EventKind.INACTIVITY, severity=Severity.WARNING)).alert
    crit = apply(store, engine, finding()).alert
    engine.tick()
    (held,) = [d for d in store.deliveries(warn.alert_id) if d.recipient == "hanako"]
    (urgent,) = [d for d in store.deliveries(crit.alert_id) if d.recipient == "hanako"]
    assert held.next_ns > time.time_ns() + 50 * 60 * S
    assert urgent.next_ns <= time.time_ns()
    assert any(e.event == "quiet_hours" for e in store.history(warn.alert_id))
    # a warning goes to the first channel, the rest are its fallbacks
    assert held.fallbacks == [] and held.channel == "email"


def test_gateway_offline_inhibits_silence_alerts_behind_it(world):
    reg, store, engine = world
    reg.add_person("ops", "operator", "運用担当", email="ops@example.jp")
    engine.inhibitor.device_heard_by("w-1", ["gw-7"])
    engine.inhibitor.device_heard_by("w-2", ["gw-7", "gw-8"])
    silent1 = apply(store, engine, finding(EventKind.DEVICE_SILENT, severity=Severity.WARNING))
    gw = apply(store, engine, finding(EventKind.GATEWAY_OFFLINE, severity=Severity.WARNING,
                                      device="gw-7", site=""), subject=None)
    silent2 = apply(store, engine, finding(EventKind.DEVICE_SILENT, severity=Severity.WARNING,
                                           device="w-2"))
    engine.tick()
    # w-1 is heard only through gw-7: held; w-2 also through gw-8: still alerted
    assert store.get(silent1.alert.alert_id).inhibited_by == "gateway_offline:gw-7"
    assert notified(store, silent1.alert.alert_id) == []
    assert store.get(silent2.alert.alert_id).inhibited_by is None
    assert notified(store, gw.alert.alert_id) == [("ops", "email")]


def test_burst_inhibits_low_pressure_in_the_same_district(world):
    reg, store, engine = world
    for dev, site in (("wm-1", "d-1"), ("wm-2", "d-1"), ("wm-3", "d-2")):
        reg.add_device(dev, "water_main_v1", site)
    reg.add_site("d-1", "pipe_district")
    reg.add_site("d-2", "pipe_district")
    reg.add_person("pw", "public_works", "上下水道課", email="pw@example.jp")
    for d in ("d-1", "d-2"):
        reg.relate("pw", "on_call_for", "site", d, 1)
    low = {"field": "pressure_mpa", "value": 0.12, "low": 0.2, "high": 0.74}
    wm = Family.WATER_MAIN
    apply(store, engine, finding(EventKind.BURST, device="wm-1", site="d-1", family=wm),
          subject=None)
    same = apply(store, engine, finding(EventKind.PRESSURE_OUT_OF_RANGE, FindingState.OPENED,
                                        Severity.WARNING, "wm-2", "d-1", wm, **low), subject=None)
    other = apply(store, engine, finding(EventKind.PRESSURE_OUT_OF_RANGE, FindingState.OPENED,
                                         Severity.WARNING, "wm-3", "d-2", wm, **low), subject=None)
    engine.tick()
    assert store.get(same.alert.alert_id).inhibited_by == "burst:wm-1"
    assert notified(store, same.alert.alert_id) == []
    assert notified(store, other.alert.alert_id) == [("pw", "email")]


def test_a_finding_stored_but_never_routed_is_routed_on_redelivery(world):
    reg, store, engine = world
    store.apply_finding(finding(), "ume")  # stored; the process stops before routing
    assert engine.tick() == 0  # nothing is scheduled for an unrouted alert
    ch = apply(store, engine, finding())  # the bus redelivers the finding
    engine.tick()
    assert ch.what == "updated" and store.get(ch.alert.alert_id).policy == "fall"
    assert notified(store, ch.alert.alert_id) == [("hanako", "email"), ("hanako", "line")]


def test_acks_and_hand_resolutions_made_anywhere_are_announced(world):
    reg, store, engine = world
    a = opened_and_sent(store, engine)
    # the web UI (another process) writes straight to the store
    store.acknowledge(a.alert_id, "hanako", "web")
    store.resolve(a.alert_id, "cm", "web")
    engine.tick()
    engine.tick()  # idempotent
    events = [d.body["extra"]["event"] for d in store.deliveries(a.alert_id)
              if d.recipient == "receiver:mqtt"]
    assert events == ["opened", "acknowledged", "resolved"]
    assert {d.recipient for d in store.deliveries(a.alert_id) if d.purpose == "recovery"} == {
        "hanako"}


@pytest.mark.parametrize("kind", [EventKind.SOS, EventKind.FALL])
def test_an_sos_press_or_a_fall_is_latched_until_someone_acknowledges_it(world, kind):
    """The SOS flag drops with the next reading, a fallen wearer moves again;
    that answers nobody's call for help: by default the alert stays open, its
    people are told, and acknowledging ends it."""
    reg, store, engine = world
    latch = kind.value in engine.config.latch_kinds
    sos = lambda state: finding(kind=kind, state=state)  # noqa: E731
    a = store.apply_finding(sos(FindingState.OPENED), "ume", 300, latch=latch)
    engine.on_change(a)
    # the button is released before the engine's first round
    ch = store.apply_finding(sos(FindingState.CLEARED), "ume", 300, latch=latch)
    engine.on_change(ch)
    assert ch.what == "latched" and store.get(a.alert.alert_id).state == "open"
    engine.tick()
    assert ("hanako", "line") in notified(store, a.alert.alert_id)
    assert store.acknowledge(a.alert.alert_id, "hanako", "line")
    done = store.get(a.alert.alert_id)
    assert done.state == "resolved" and done.resolved_by == "hanako" and done.acked_by == "hanako"
    # a later press is a new call: a new alert, told again
    b = store.apply_finding(sos(FindingState.OPENED), "ume", 300, latch=latch)
    assert b.what == "opened" and b.alert.alert_id != a.alert.alert_id


def test_an_acknowledged_sos_resolves_when_its_finding_clears(world):
    reg, store, engine = world
    sos = lambda state: finding(kind=EventKind.SOS, state=state)  # noqa: E731
    a = store.apply_finding(sos(FindingState.OPENED), "ume", 300, latch=True).alert
    store.acknowledge(a.alert_id, "hanako", "web")
    ch = store.apply_finding(sos(FindingState.CLEARED), "ume", 300, latch=True)
    assert ch.what == "resolved" and ch.alert.resolved_by == "finding"
