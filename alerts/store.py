"""The alert store: alerts, their full history, and the delivery ledger.

SQL through SQLAlchemy Core (SQLite in WAL mode by default, any SQLAlchemy
URL works), in its own database ``{state_dir}/alerts.db`` so the registry and
the alerts can be moved apart. Several processes (the alerts stage, the web
app) share it.

Lifecycle: ``open → acknowledged → resolved``. One alert per (device, kind)
while it is open or acknowledged — a unique ``open_key`` column enforces it.
A finding that opens again shortly after its alert resolved (flapping)
reopens the same alert instead of starting a new one.

The small API the web UI uses: :meth:`AlertStore.list_alerts`,
:meth:`AlertStore.get`, :meth:`AlertStore.acknowledge`,
:meth:`AlertStore.resolve`, :meth:`AlertStore.history`,
:meth:`AlertStore.deliveries`.

>>> s = AlertStore("sqlite://")
>>> from mimamori.contracts import Finding, EventKind, Severity, FindingState
>>> f = Finding("w-1", EventKind.FALL, Severity.CRITICAL, FindingState.OPENED, 1, "home-1")
>>> ch = s.apply_finding(f, subject_person="obaachan")
>>> ch.what, ch.alert.state
('opened', 'open')
>>> s.acknowledge(ch.alert.alert_id, by="hanako", via="web")
True
>>> [e.event for e in s.history(ch.alert.alert_id)]
['opened', 'acknowledged']
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from mimamori.contracts import Finding, FindingState
from mimamori.registry import make_engine

metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("open_key", String(300), nullable=True, unique=True),  # device|kind while not resolved
    Column("device_id", String(128), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("site", String(128), nullable=False, default="", index=True),
    Column("family", String(16), nullable=False, default="generic"),
    Column("profile", String(64), nullable=False, default=""),
    Column("subject_person", String(128), nullable=True, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("happened_ns", BigInteger, nullable=False),  # the finding's own time
    Column("opened_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    Column("acked_ns", BigInteger, nullable=True),
    Column("acked_by", String(128), nullable=True),
    Column("acked_via", String(32), nullable=True),
    Column("resolved_ns", BigInteger, nullable=True),
    Column("resolved_by", String(128), nullable=True),
    Column("evidence", Text, nullable=False, default="{}"),
    Column("policy", String(64), nullable=True),
    Column("steps_done", Integer, nullable=False, default=0),
    Column("reminders_sent", Integer, nullable=False, default=0),
    Column("next_action_ns", BigInteger, nullable=True, index=True),
    Column("flaps", Integer, nullable=False, default=0),
    Column("inhibited_by", String(256), nullable=True),
)

alert_events = Table(
    "alert_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False, index=True),
    Column("ts_ns", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("actor", String(128), nullable=True),
    Column("detail", Text, nullable=False, default="{}"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idem_key", String(300), nullable=False, unique=True),
    Column("alert_id", Integer, nullable=False, index=True),
    Column("recipient", String(160), nullable=False),  # person id or receiver:<name>
    Column("channel", String(32), nullable=False),
    Column("address", String(512), nullable=False, default=""),
    Column("language", String(8), nullable=False, default="ja"),
    Column("purpose", String(16), nullable=False),  # notify | reminder | recovery | event
    Column("step", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_ns", BigInteger, nullable=False),
    Column("next_ns", BigInteger, nullable=False, index=True),
    Column("sent_ns", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("external_id", String(256), nullable=True),
    Column("fallback_from", Integer, nullable=True),
    Column("fallbacks", Text, nullable=False, default="[]"),  # channels still to try
    Column("body", Text, nullable=False, default="{}"),  # rendered message (JSON)
)

line_link_codes = Table(
    "line_link_codes", metadata,
    Column("code", String(32), primary_key=True),
    Column("person_id", String(128), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
    Column("used_ns", BigInteger, nullable=True),
    Column("line_user_id", String(64), nullable=True),
)

Index("ix_deliveries_due", deliveries.c.status, deliveries.c.next_ns)

OPEN_STATES = ("open", "acknowledged")
# delivery statuses: pending → sending → sent | pending (retry) | failed | rejected | cancelled
DONE = ("sent", "failed", "rejected", "cancelled")


def _j(v: Any) -> str:
    return orjson.dumps(v).decode()


@dataclass(slots=True)
class Alert:
    alert_id: int
    device_id: str
    kind: str
    severity: str
    site: str
    family: str
    profile: str
    subject_person: str | None
    state: str
    happened_ns: int
    opened_ns: int
    updated_ns: int
    acked_ns: int | None
    acked_by: str | None
    acked_via: str | None
    resolved_ns: int | None
    resolved_by: str | None
    evidence: dict[str, Any]
    policy: str | None
    steps_done: int
    reminders_sent: int
    next_action_ns: int | None
    flaps: int
    inhibited_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class AlertEvent:
    alert_id: int
    ts_ns: int
    event: str
    actor: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Delivery:
    id: int
    idem_key: str
    alert_id: int
    recipient: str
    channel: str
    address: str
    language: str
    purpose: str
    step: int
    status: str
    attempts: int
    created_ns: int
    next_ns: int
    sent_ns: int | None
    last_error: str | None
    external_id: str | None
    fallback_from: int | None
    fallbacks: list[str]
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Change:
    """What a finding did to the store."""

    what: str  # opened | updated | reopened | resolved | ignored
    alert: Alert | None


_ALERT_COLS = [c.name for c in alerts.columns if c.name != "open_key"]


def _alert(row) -> Alert:
    d = dict(row._mapping)
    d.pop("open_key", None)
    d["evidence"] = orjson.loads(d["evidence"] or "{}")
    return Alert(**d)


def _delivery(row) -> Delivery:
    d = dict(row._mapping)
    d["fallbacks"] = orjson.loads(d["fallbacks"] or "[]")
    d["body"] = orjson.loads(d["body"] or "{}")
    return Delivery(**d)


def alerts_url(settings) -> str:
    """The alert store's URL for these settings: ``{state_dir}/alerts.db``."""
    return f"sqlite:///{Path(settings.state_dir).resolve() / 'alerts.db'}"


class AlertStore:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url in ("sqlite://", "sqlite:///:memory:"):
            self.engine = create_engine(url, poolclass=StaticPool,
                                        connect_args={"check_same_thread": False})
        else:
            self.engine = make_engine(url)
        self.url = url
        metadata.create_all(self.engine)

    @classmethod
    def for_settings(cls, settings) -> AlertStore:
        return cls(alerts_url(settings))

    def close(self) -> None:
        self.engine.dispose()

    # -- history -------------------------------------------------------------
    def _event(self, c, alert_id: int, event: str, actor: str | None = None,
               detail: dict[str, Any] | None = None, ts_ns: int | None = None) -> None:
        c.execute(alert_events.insert().values(alert_id=alert_id, ts_ns=ts_ns or time.time_ns(),
                                               event=event, actor=actor,
                                               detail=_j(detail or {})))

    def record(self, alert_id: int, event: str, actor: str | None = None,
               detail: dict[str, Any] | None = None) -> None:
        with self.engine.begin() as c:
            self._event(c, alert_id, event, actor, detail)

    def human_events_since(self, last_id: int, limit: int = 500) -> list[tuple[int, int, str]]:
        """(event id, alert id, event) of acknowledgements and hand resolutions
        after ``last_id`` — whoever made them (web UI, LINE, another process)."""
        with self.engine.connect() as c:
            rows = c.execute(select(alert_events.c.id, alert_events.c.alert_id,
                                    alert_events.c.event)
                             .where(and_(alert_events.c.id > last_id,
                                         alert_events.c.event.in_(("acknowledged", "resolved")),
                                         alert_events.c.actor != "finding"))
                             .order_by(alert_events.c.id).limit(limit)).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def history(self, alert_id: int) -> list[AlertEvent]:
        with self.engine.connect() as c:
            rows = c.execute(select(alert_events.c.alert_id, alert_events.c.ts_ns,
                                    alert_events.c.event, alert_events.c.actor,
                                    alert_events.c.detail)
                             .where(alert_events.c.alert_id == alert_id)
                             .order_by(alert_events.c.id)).all()
        return [AlertEvent(r[0], r[1], r[2], r[3], orjson.loads(r[4])) for r in rows]

    # -- alerts --------------------------------------------------------------
    def get(self, alert_id: int) -> Alert | None:
        with self.engine.connect() as c:
            r = c.execute(select(alerts).where(alerts.c.alert_id == alert_id)).first()
        return _alert(r) if r else None

    def open_alert(self, device_id: str, kind: str) -> Alert | None:
        with self.engine.connect() as c:
            r = c.execute(select(alerts).where(alerts.c.open_key == f"{device_id}|{kind}")).first()
        return _alert(r) if r else None

    def list_alerts(self, state: str | list[str] | None = None, *, site: str | None = None,
                    device_id: str | None = None, subject_person: str | None = None,
                    kind: str | None = None, limit: int = 100, offset: int = 0) -> list[Alert]:
        """Newest first. ``state`` may be one state, a list, or ``"active"``
        (open and acknowledged)."""
        q = select(alerts)
        if state == "active":
            state = list(OPEN_STATES)
        if isinstance(state, str):
            q = q.where(alerts.c.state == state)
        elif state:
            q = q.where(alerts.c.state.in_(state))
        for col, v in ((alerts.c.site, site), (alerts.c.device_id, device_id),
                       (alerts.c.subject_person, subject_person), (alerts.c.kind, kind)):
            if v is not None:
                q = q.where(col == v)
        q = q.order_by(alerts.c.opened_ns.desc(), alerts.c.alert_id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as c:
            return [_alert(r) for r in c.execute(q)]

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.list_alerts(limit=limit)]

    def apply_finding(self, f: Finding, subject_person: str | None = None,
                      flap_window_s: float = 300.0, now_ns: int | None = None,
                      latch: bool = False) -> Change:
        """Open, update, reopen (flapping) or resolve the alert of this finding.

        With ``latch`` (e.g. an SOS press), a cleared finding leaves an alert
        nobody has acknowledged open ("latched"): it is resolved when
        someone acknowledges it."""
        now = now_ns or time.time_ns()
        key = f"{f.device_id}|{f.kind.value}"
        with self.engine.begin() as c:
            cur = c.execute(select(alerts).where(alerts.c.open_key == key)).first()
            if f.state is FindingState.CLEARED:
                if cur is None:
                    return Change("ignored", None)
                if latch and cur.state == "open":
                    ev = {**orjson.loads(cur.evidence), **f.evidence, "finding_cleared_ns": now}
                    c.execute(update(alerts).where(alerts.c.alert_id == cur.alert_id)
                              .values(updated_ns=now, evidence=_j(ev)))
                    self._event(c, cur.alert_id, "latched", "finding", {"evidence": f.evidence},
                                now)
                    return Change("latched", _alert(c.execute(
                        select(alerts).where(alerts.c.alert_id == cur.alert_id)).one()))
                c.execute(update(alerts).where(alerts.c.alert_id == cur.alert_id).values(
                    state="resolved", open_key=None, resolved_ns=now, resolved_by="finding",
                    updated_ns=now, next_action_ns=None,
                    evidence=_j({**orjson.loads(cur.evidence), **f.evidence})))
                self._event(c, cur.alert_id, "resolved", "finding", {"evidence": f.evidence}, now)
                return Change("resolved", _alert(c.execute(
                    select(alerts).where(alerts.c.alert_id == cur.alert_id)).one()))
            if cur is not None:
                values: dict[str, Any] = dict(updated_ns=now, evidence=_j(f.evidence))
                if _rank(f.severity.value) > _rank(cur.severity):
                    values["severity"] = f.severity.value
                c.execute(update(alerts).where(alerts.c.alert_id == cur.alert_id).values(**values))
                self._event(c, cur.alert_id, "updated", "finding",
                            {"evidence": f.evidence, "severity": f.severity.value}, now)
                return Change("updated", _alert(c.execute(
                    select(alerts).where(alerts.c.alert_id == cur.alert_id)).one()))
            # flapping: the same (device, kind) resolved by its finding moments ago
            last = c.execute(select(alerts).where(and_(
                alerts.c.device_id == f.device_id, alerts.c.kind == f.kind.value,
                alerts.c.state == "resolved", alerts.c.resolved_by == "finding",
                alerts.c.resolved_ns >= now - int(flap_window_s * 1e9)))
                .order_by(alerts.c.resolved_ns.desc())).first()
            if last is not None:
                state = "acknowledged" if last.acked_ns else "open"
                try:
                    c.execute(update(alerts).where(alerts.c.alert_id == last.alert_id).values(
                        state=state, open_key=key, resolved_ns=None, resolved_by=None,
                        updated_ns=now, flaps=last.flaps + 1, evidence=_j(f.evidence)))
                except IntegrityError:  # pragma: no cover - a concurrent writer opened it
                    raise
                self._event(c, last.alert_id, "reopened", "finding",
                            {"evidence": f.evidence, "flaps": last.flaps + 1}, now)
                return Change("reopened", _alert(c.execute(
                    select(alerts).where(alerts.c.alert_id == last.alert_id)).one()))
            res = c.execute(alerts.insert().values(
                open_key=key, device_id=f.device_id, kind=f.kind.value, severity=f.severity.value,
                site=f.site, family=f.family.value, profile=f.profile,
                subject_person=subject_person, state="open", happened_ns=f.ts_ns, opened_ns=now,
                updated_ns=now, evidence=_j(f.evidence), steps_done=0, reminders_sent=0,
                next_action_ns=None, flaps=0))  # the engine routes it, then schedules
            alert_id = res.inserted_primary_key[0]
            self._event(c, alert_id, "opened", "finding",
                        {"evidence": f.evidence, "severity": f.severity.value}, now)
            return Change("opened", _alert(c.execute(
                select(alerts).where(alerts.c.alert_id == alert_id)).one()))

    def acknowledge(self, alert_id: int, by: str, via: str = "web",
                    now_ns: int | None = None) -> bool:
        """Mark acknowledged by ``by``; stops escalation. False if it was not open."""
        now = now_ns or time.time_ns()
        with self.engine.begin() as c:
            n = c.execute(update(alerts).where(and_(alerts.c.alert_id == alert_id,
                                                    alerts.c.state == "open"))
                          .values(state="acknowledged", acked_ns=now, acked_by=by, acked_via=via,
                                  updated_ns=now, next_action_ns=None)).rowcount
            if n:
                self._event(c, alert_id, "acknowledged", by, {"via": via}, now)
                c.execute(update(deliveries).where(and_(
                    deliveries.c.alert_id == alert_id, deliveries.c.status == "pending",
                    deliveries.c.purpose.in_(("notify", "reminder"))))
                    .values(status="cancelled", last_error="acknowledged"))
                ev = c.execute(select(alerts.c.evidence)
                               .where(alerts.c.alert_id == alert_id)).scalar()
                if "finding_cleared_ns" in orjson.loads(ev or "{}"):
                    # latched: its finding cleared already, so the answer ends it
                    c.execute(update(alerts).where(alerts.c.alert_id == alert_id).values(
                        state="resolved", open_key=None, resolved_ns=now, resolved_by=by))
                    self._event(c, alert_id, "resolved", by,
                                {"via": via, "finding_cleared": True}, now)
        return bool(n)

    def resolve(self, alert_id: int, by: str, via: str = "web",
                now_ns: int | None = None) -> bool:
        """Resolve by hand. False if it was already resolved."""
        now = now_ns or time.time_ns()
        with self.engine.begin() as c:
            n = c.execute(update(alerts).where(and_(alerts.c.alert_id == alert_id,
                                                    alerts.c.state.in_(OPEN_STATES)))
                          .values(state="resolved", open_key=None, resolved_ns=now,
                                  resolved_by=by, updated_ns=now, next_action_ns=None)).rowcount
            if n:
                self._event(c, alert_id, "resolved", by, {"via": via}, now)
                c.execute(update(deliveries).where(and_(
                    deliveries.c.alert_id == alert_id, deliveries.c.status == "pending",
                    deliveries.c.purpose.in_(("notify", "reminder"))))
                    .values(status="cancelled", last_error="resolved"))
        return bool(n)

    def set_escalation(self, alert_id: int, **values: Any) -> None:
        """Escalation bookkeeping: policy, steps_done, reminders_sent, next_action_ns."""
        allowed = {"policy", "steps_done", "reminders_sent", "next_action_ns", "inhibited_by"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"not escalation fields: {bad}")
        with self.engine.begin() as c:
            c.execute(update(alerts).where(alerts.c.alert_id == alert_id).values(**values))

    def due_alerts(self, now_ns: int, limit: int = 500) -> list[Alert]:
        """Open (unacknowledged) alerts whose next escalation action is due."""
        with self.engine.connect() as c:
            rows = c.execute(select(alerts).where(and_(
                alerts.c.state == "open", alerts.c.next_action_ns.is_not(None),
                alerts.c.next_action_ns <= now_ns)).order_by(alerts.c.next_action_ns)
                .limit(limit)).all()
        return [_alert(r) for r in rows]

    # -- the delivery ledger -------------------------------------------------
    def add_delivery(self, *, idem_key: str, alert_id: int, recipient: str, channel: str,
                     address: str, purpose: str, step: int = 0, language: str = "ja",
                     body: dict[str, Any] | None = None, fallbacks: list[str] | None = None,
                     fallback_from: int | None = None, next_ns: int | None = None) -> int | None:
        """Add one delivery; idempotent by ``idem_key`` (None when it existed)."""
        now = time.time_ns()
        with self.engine.begin() as c:
            if c.execute(select(deliveries.c.id).where(deliveries.c.idem_key == idem_key)).first():
                return None
            res = c.execute(deliveries.insert().values(
                idem_key=idem_key, alert_id=alert_id, recipient=recipient, channel=channel,
                address=address, language=language, purpose=purpose, step=step, status="pending",
                attempts=0, created_ns=now, next_ns=next_ns or now, fallbacks=_j(fallbacks or []),
                fallback_from=fallback_from, body=_j(body or {})))
            return res.inserted_primary_key[0]

    def claim_due(self, now_ns: int, limit: int = 100, stale_s: float = 60.0) -> list[Delivery]:
        """Take due deliveries (status → sending, attempts + 1). A delivery left
        ``sending`` by a crashed process is taken again after ``stale_s``."""
        stale = now_ns - int(stale_s * 1e9)
        with self.engine.begin() as c:
            rows = c.execute(select(deliveries).where(or_(
                and_(deliveries.c.status == "pending", deliveries.c.next_ns <= now_ns),
                and_(deliveries.c.status == "sending", deliveries.c.next_ns <= stale)))
                .order_by(deliveries.c.next_ns).limit(limit)).all()
            out = []
            for r in rows:
                n = c.execute(update(deliveries).where(and_(deliveries.c.id == r.id,
                                                            deliveries.c.status == r.status))
                              .values(status="sending", attempts=r.attempts + 1,
                                      next_ns=now_ns)).rowcount
                if n:
                    d = _delivery(r)
                    d.status, d.attempts = "sending", r.attempts + 1
                    out.append(d)
        return out

    def next_due_ns(self) -> int | None:
        with self.engine.connect() as c:
            return c.execute(select(deliveries.c.next_ns).where(deliveries.c.status == "pending")
                             .order_by(deliveries.c.next_ns).limit(1)).scalar()

    def finish_delivery(self, delivery_id: int, status: str, *, error: str | None = None,
                        external_id: str | None = None, next_ns: int | None = None,
                        attempts: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "sent":
            values["sent_ns"] = time.time_ns()
        if external_id is not None:
            values["external_id"] = external_id
        if next_ns is not None:
            values["next_ns"] = next_ns
        if attempts is not None:
            values["attempts"] = attempts
        with self.engine.begin() as c:
            c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))
            r = c.execute(select(deliveries.c.alert_id, deliveries.c.recipient,
                                 deliveries.c.channel, deliveries.c.purpose,
                                 deliveries.c.attempts)
                          .where(deliveries.c.id == delivery_id)).one()
            if status != "pending":
                self._event(c, r.alert_id, f"delivery_{status}", r.recipient,
                            {"delivery_id": delivery_id, "channel": r.channel,
                             "purpose": r.purpose, "attempts": r.attempts, "error": error})

    def deliveries(self, alert_id: int | None = None, *, recipient: str | None = None,
                   status: str | None = None, limit: int = 500) -> list[Delivery]:
        q = select(deliveries)
        if alert_id is not None:
            q = q.where(deliveries.c.alert_id == alert_id)
        if recipient is not None:
            q = q.where(deliveries.c.recipient == recipient)
        if status is not None:
            q = q.where(deliveries.c.status == status)
        with self.engine.connect() as c:
            return [_delivery(r) for r in c.execute(q.order_by(deliveries.c.id).limit(limit))]

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        with self.engine.connect() as c:
            r = c.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
        return _delivery(r) if r else None

    def delivery_by_external_id(self, external_id: str) -> Delivery | None:
        with self.engine.connect() as c:
            r = c.execute(select(deliveries).where(deliveries.c.external_id == external_id)).first()
        return _delivery(r) if r else None

    # -- LINE link codes -----------------------------------------------------
    def add_link_code(self, code: str, person_id: str, ttl_s: float = 86400) -> None:
        now = time.time_ns()
        with self.engine.begin() as c:
            c.execute(line_link_codes.insert().values(code=code, person_id=person_id,
                                                      created_ns=now,
                                                      expires_ns=now + int(ttl_s * 1e9)))

    def use_link_code(self, code: str, line_user_id: str) -> str | None:
        """The person the code names, once (None if unknown, used or expired)."""
        now = time.time_ns()
        with self.engine.begin() as c:
            r = c.execute(select(line_link_codes).where(line_link_codes.c.code == code)).first()
            if r is None or r.used_ns is not None or r.expires_ns < now:
                return None
            n = c.execute(update(line_link_codes).where(and_(
                line_link_codes.c.code == code, line_link_codes.c.used_ns.is_(None)))
                .values(used_ns=now, line_user_id=line_user_id)).rowcount
            return r.person_id if n else None


_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def _rank(severity: str) -> int:
    return _SEVERITY_RANK.get(severity, 0)
