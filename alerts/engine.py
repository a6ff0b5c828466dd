"""The alert pipeline between the store and the dispatcher, as small steps:
route → inhibit → escalate (steps, then reminders) → quiet hours → plan
deliveries into the ledger; recovery messages when an alert resolves;
alert events to system receivers (MQTT, webhooks).

Reads people and relations from the registry; writes only the alert store.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from mimamori.registry import Person, Registry

from .ack import make_token
from .config import AlertsConfig
from .escalation import select_people
from .inhibit import INHIBITING_KINDS, Inhibitor
from .messages import render
from .quiet import release_time
from .routing import RouteResult
from .store import Alert, AlertStore, Change

log = logging.getLogger(__name__)

PERSONAL_CHANNELS = ("line", "email", "webhook")


def address_for(person: Person, channel: str) -> str | None:
    if channel == "email":
        return person.email
    if channel == "line":
        return person.line_user_id
    if channel == "webhook":
        return (person.settings or {}).get("webhook_url")
    return None


class AlertEngine:
    def __init__(self, store: AlertStore, registry: Registry, config: AlertsConfig,
                 ack_key: bytes, public_url: str, inhibitor: Inhibitor | None = None) -> None:
        self.store = store
        self.registry = registry
        self.config = config
        self.ack_key = ack_key
        self.public_url = public_url.rstrip("/")
        self.inhibitor = inhibitor or Inhibitor()
        self.tz = ZoneInfo(config.timezone)
        self._last_event_id = 0  # acks/resolutions announced up to this history id

    # -- labels and routing ------------------------------------------------
    def labels(self, alert: Alert) -> dict[str, str]:
        site = self.registry.get_site(alert.site) if alert.site else None
        return {"kind": alert.kind, "severity": alert.severity, "family": alert.family,
                "site": alert.site, "site_kind": site.kind if site else "",
                "device_id": alert.device_id, "profile": alert.profile}

    def route(self, alert: Alert) -> RouteResult:
        return self.config.route.resolve(self.labels(alert))[0]

    def routes(self, alert: Alert) -> list[RouteResult]:
        return self.config.route.resolve(self.labels(alert))

    # -- findings ------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        a = change.alert
        if a is None or change.what == "ignored":
            return
        # "updated" but never routed: the process stopped between storing and
        # routing it, and the bus redelivered the finding
        unrouted = a.policy is None and a.inhibited_by is None and a.state == "open"
        if change.what == "opened" or (change.what == "updated" and unrouted):
            routes = self.routes(a)
            r = routes[0]
            active = [x.to_dict() for k in INHIBITING_KINDS
                      for x in self.store.list_alerts("active", kind=k, limit=5000)
                      if x.alert_id != a.alert_id]
            why = self.inhibitor.reason(a.to_dict(), active)
            if why:
                self.store.set_escalation(a.alert_id, policy=r.policy, inhibited_by=why,
                                          next_action_ns=None)
                self.store.record(a.alert_id, "inhibited", None, {"by": why})
            else:
                self.store.set_escalation(a.alert_id, policy=r.policy, next_action_ns=a.opened_ns)
                self.store.record(a.alert_id, "routed", None,
                                  {"route": [x.path for x in routes], "policy": r.policy})
            if a.kind == "gateway_offline":
                self._inhibit_behind_gateway(a)
            self.announce(a, "opened", routes)
        elif change.what == "reopened":
            # flapping: the same alert again; people already told are not told again
            policy = self.config.policies.get(a.policy or "default")
            nxt = policy.next_action(a.opened_ns, a.steps_done, a.reminders_sent) \
                if policy and a.state == "open" and not a.inhibited_by else None
            self.store.set_escalation(a.alert_id, next_action_ns=nxt)
        elif change.what == "resolved":
            self.recover(a)
            self.announce(a, "resolved")

    def _inhibit_behind_gateway(self, gw: Alert) -> None:
        active = [gw.to_dict()]
        for x in self.store.list_alerts("open", kind="device_silent", limit=5000):
            why = self.inhibitor.reason(x.to_dict(), active)
            if why and not x.inhibited_by:
                self.store.set_escalation(x.alert_id, inhibited_by=why, next_action_ns=None)
                self.store.record(x.alert_id, "inhibited", None, {"by": why})

    # -- escalation ----------------------------------------------------------
    def tick(self, now_ns: int | None = None) -> int:
        """Run every escalation step and reminder that is due, and announce
        acknowledgements and hand resolutions made anywhere."""
        now = now_ns or time.time_ns()
        self.announce_human_events()
        n = 0
        for a in self.store.due_alerts(now):
            self.advance(a, now)
            n += 1
        return n

    def announce_human_events(self) -> None:
        """Acks and hand resolutions go to the system receivers; a hand
        resolution also sends the recovery messages. Idempotent (ledger keys)."""
        for event_id, alert_id, event in self.store.human_events_since(self._last_event_id):
            self._last_event_id = event_id
            a = self.store.get(alert_id)
            if a is None:
                continue
            if event == "resolved":
                self.recover(a)
            self.announce(a, event)

    def advance(self, a: Alert, now: int) -> None:
        policy = self.config.policies.get(a.policy or "default") or self.config.policies["default"]
        r = self.route(a)
        if a.steps_done < len(policy.steps):
            step = policy.steps[a.steps_done]
            watchers = self.registry.watchers(a.device_id)
            by_kind: dict[str, list[Person]] = {}
            by_id: dict[str, Person] = {}
            if any(t.startswith(("kind:", "person:")) for t in step.notify):
                for p in self.registry.people():
                    by_kind.setdefault(p.kind, []).append(p)
                    by_id[p.person_id] = p
            people, receivers = select_people(step.notify, watchers, by_kind, by_id)
            for p in people:
                self.plan(a, p, "notify", a.steps_done, r, step=a.steps_done)
            for name in receivers:
                self._receiver_delivery(a, name, f"step{a.steps_done}")
            self.store.record(a.alert_id, "escalated" if a.steps_done else "notified", None,
                              {"step": a.steps_done, "to": [p.person_id for p in people] + receivers})
            steps_done, reminders = a.steps_done + 1, a.reminders_sent
            last = now
        else:
            told = sorted({d.recipient for d in self.store.deliveries(a.alert_id)
                           if d.purpose == "notify" and not d.recipient.startswith("receiver:")})
            for pid in told:
                p = self.registry.get_person(pid)
                if p is not None:
                    self.plan(a, p, "reminder", a.reminders_sent + 1, r, step=len(policy.steps))
            self.store.record(a.alert_id, "reminded", None,
                              {"n": a.reminders_sent + 1, "to": told})
            steps_done, reminders = a.steps_done, a.reminders_sent + 1
            last = now
        if steps_done < len(policy.steps):
            nxt = policy.next_action(a.opened_ns, steps_done, reminders)
        else:
            nxt = policy.next_action(a.opened_ns, steps_done, reminders, last_step_ns=last)
        self.store.set_escalation(a.alert_id, steps_done=steps_done, reminders_sent=reminders,
                                  next_action_ns=nxt)

    # -- planning deliveries ---------------------------------------------------
    def where_and_who(self, a: Alert) -> tuple[str, str]:
        site = self.registry.get_site(a.site) if a.site else None
        where = (site.name or site.site_id) if site else a.site
        if a.subject_person:
            p = self.registry.get_person(a.subject_person)
            return (p.name or p.person_id) if p else a.subject_person, where
        if a.kind == "gateway_offline":
            return a.device_id, where
        return where or a.device_id, where

    def ack_link(self, alert_id: int, person_id: str) -> tuple[str, str]:
        token = make_token(self.ack_key, alert_id, person_id, self.config.ack_ttl_s)
        return token, f"{self.public_url}/alerts/ack/{token}"

    def plan(self, a: Alert, person: Person, purpose: str, seq: int, r: RouteResult,
             step: int = 0, only_channel: str | None = None) -> list[int]:
        channels = [c for c in (person.channels or []) if c in PERSONAL_CHANNELS
                    and address_for(person, c)]
        if only_channel:
            channels = [c for c in channels if c == only_channel] or channels[:1]
        if not channels:
            self.store.record(a.alert_id, "no_channel", person.person_id,
                              {"channels": person.channels})
            return []
        lang = person.language if person.language in ("ja", "en") else "ja"
        who, where = self.where_and_who(a)
        token, url = self.ack_link(a.alert_id, person.person_id)
        msg = render(a.to_dict(), lang, subject=who, where=where,
                     ack_url=url if purpose != "recovery" else None, purpose=purpose)
        body: dict[str, Any] = {"message": msg.to_dict(), "ack_url": url, "ack_token": token}
        now_dt = datetime.now(self.tz)
        release = release_time(person.quiet_hours, now_dt)
        next_ns = None
        if release > now_dt and not r.override_quiet:
            next_ns = int(release.timestamp() * 1e9)
            self.store.record(a.alert_id, "quiet_hours", person.person_id,
                              {"until": release.isoformat()})
        pairs = [(c, address_for(person, c) or "") for c in channels]
        groups = [[p] for p in pairs] if r.fanout == "all" else [pairs]
        ids = []
        for g in groups:
            channel, address = g[0]
            did = self.store.add_delivery(
                idem_key=f"{a.alert_id}:{purpose}:{seq}:{person.person_id}:{channel}",
                alert_id=a.alert_id, recipient=person.person_id, channel=channel,
                address=address, purpose=purpose, step=step, language=lang, body=body,
                fallbacks=[list(x) for x in g[1:]], next_ns=next_ns)
            if did is not None:
                ids.append(did)
        return ids

    def recover(self, a: Alert) -> None:
        if a.flaps >= self.config.flap_quiet_after:
            self.store.record(a.alert_id, "recovery_suppressed", None, {"flaps": a.flaps})
            return
        first_channel: dict[str, str] = {}
        for d in self.store.deliveries(a.alert_id, status="sent"):
            if d.purpose in ("notify", "reminder") and not d.recipient.startswith("receiver:"):
                first_channel.setdefault(d.recipient, d.channel)
        r = self.route(a)
        for pid, channel in first_channel.items():
            p = self.registry.get_person(pid)
            if p is not None:
                self.plan(a, p, "recovery", a.flaps, r, only_channel=channel)

    def _receiver_delivery(self, a: Alert, name: str, event: str) -> None:
        rc = self.config.receivers.get(name)
        if rc is None:
            return
        msg = render(a.to_dict(), "ja", subject=self.where_and_who(a)[0],
                     where=self.where_and_who(a)[1])
        self.store.add_delivery(
            idem_key=f"{a.alert_id}:event:{event}:{a.flaps}:receiver:{name}",
            alert_id=a.alert_id, recipient=f"receiver:{name}", channel=rc.channel,
            address=rc.address, purpose="event",
            body={"message": msg.to_dict(), "alert": a.to_dict(), "extra": {"event": event}})

    def announce(self, a: Alert, event: str, routes: list[RouteResult] | None = None) -> None:
        """The alert event to every system receiver its routes name."""
        names: list[str] = []
        for r in routes or self.routes(a):
            names += [n for n in r.receivers if n not in names]
        for name in names:
            self._receiver_delivery(a, name, event)
