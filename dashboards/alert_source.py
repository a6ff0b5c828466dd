"""The alerts the pages and the API show, behind one small interface.

The web needs five verbs of the alert store: ``list_alerts``, ``get``,
``acknowledge``, ``resolve`` and (for tests and the demo) ``apply_finding``.
:func:`open_alert_store` returns the alerts area's ``AlertStore`` when it is
installed; until then a minimal SQL store with the same verbs and fields.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, select, update

from mimamori.contracts import Finding, FindingState
from mimamori.registry import make_engine

ACTIVE = ("open", "acknowledged")


class AlertLike(Protocol):
    alert_id: int
    device_id: str
    kind: str
    severity: str
    site: str
    subject_person: str | None
    state: str
    opened_ns: int
    acked_ns: int | None
    acked_by: str | None
    resolved_ns: int | None
    evidence: dict[str, Any]


class AlertSource(Protocol):
    def list_alerts(self, state: str | list[str] | None = None, *, site: str | None = None,
                    device_id: str | None = None, subject_person: str | None = None,
                    kind: str | None = None, limit: int = 100, offset: int = 0
                    ) -> list[Any]: ...
    def get(self, alert_id: int) -> Any | None: ...
    def acknowledge(self, alert_id: int, by: str, via: str = "web") -> bool: ...
    def resolve(self, alert_id: int, by: str, via: str = "web") -> bool: ...


def open_alert_store(settings) -> Any:
    try:
        from alerts.store import AlertStore  # the alerts area's store (issue 8)
    except ImportError:
        return FallbackAlertStore(
            f"sqlite:///{Path(settings.state_dir).resolve() / 'web-alerts.db'}")
    return AlertStore.for_settings(settings)


_md = MetaData()
_alerts = Table(
    "alerts", _md,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("open_key", String(300), nullable=True, unique=True),
    Column("device_id", String(128), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("site", String(128), nullable=False, default=""),
    Column("subject_person", String(128), nullable=True),
    Column("state", String(16), nullable=False),
    Column("opened_ns", BigInteger, nullable=False),
    Column("acked_ns", BigInteger), Column("acked_by", String(128)),
    Column("resolved_ns", BigInteger), Column("resolved_by", String(128)),
    Column("evidence", Text, nullable=False, default="{}"),
)


@dataclass(slots=True)
class FallbackAlert:
    alert_id: int
    device_id: str
    kind: str
    severity: str
    site: str
    subject_person: str | None
    state: str
    opened_ns: int
    acked_ns: int | None = None
    acked_by: str | None = None
    resolved_ns: int | None = None
    resolved_by: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FallbackAlertStore:
    """Just enough of an alert store for the web until the real one is there."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        _md.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _a(self, r) -> FallbackAlert:
        d = dict(r._mapping)
        d.pop("open_key")
        d["evidence"] = orjson.loads(d["evidence"] or "{}")
        return FallbackAlert(**d)

    def apply_finding(self, f: Finding, subject_person: str | None = None) -> Any:
        key = f"{f.device_id}|{f.kind.value}"
        with self.engine.begin() as c:
            cur = c.execute(select(_alerts).where(_alerts.c.open_key == key)).first()
            if f.state is FindingState.CLEARED:
                if cur is not None:
                    c.execute(update(_alerts).where(_alerts.c.alert_id == cur.alert_id).values(
                        state="resolved", open_key=None, resolved_ns=f.ts_ns))
                return None
            if cur is None:
                c.execute(_alerts.insert().values(
                    open_key=key, device_id=f.device_id, kind=f.kind.value,
                    severity=f.severity.value, site=f.site, subject_person=subject_person,
                    state="open", opened_ns=f.ts_ns, evidence=orjson.dumps(f.evidence).decode()))
            cur = c.execute(select(_alerts).where(_alerts.c.open_key == key)).first()
        return self._a(cur)

    def list_alerts(self, state=None, *, site=None, device_id=None, subject_person=None,
                    kind=None, limit=100, offset=0) -> list[FallbackAlert]:
        q = select(_alerts)
        if state == "active":
            state = list(ACTIVE)
        if isinstance(state, str):
            q = q.where(_alerts.c.state == state)
        elif state:
            q = q.where(_alerts.c.state.in_(state))
        for col, v in ((_alerts.c.site, site), (_alerts.c.device_id, device_id),
                       (_alerts.c.subject_person, subject_person), (_alerts.c.kind, kind)):
            if v is not None:
                q = q.where(col == v)
        q = q.order_by(_alerts.c.opened_ns.desc()).limit(limit).offset(offset)
        with self.engine.connect() as c:
            return [self._a(r) for r in c.execute(q)]

    def get(self, alert_id: int) -> FallbackAlert | None:
        with self.engine.connect() as c:
            r = c.execute(select(_alerts).where(_alerts.c.alert_id == alert_id)).first()
        return self._a(r) if r else None

    def acknowledge(self, alert_id: int, by: str, via: str = "web") -> bool:
        with self.engine.begin() as c:
            return bool(c.execute(update(_alerts).where(
                (_alerts.c.alert_id == alert_id) & (_alerts.c.state == "open")).values(
                state="acknowledged", acked_ns=time.time_ns(), acked_by=by)).rowcount)

    def resolve(self, alert_id: int, by: str, via: str = "web") -> bool:
        with self.engine.begin() as c:
            return bool(c.execute(update(_alerts).where(
                (_alerts.c.alert_id == alert_id) & (_alerts.c.state.in_(ACTIVE))).values(
                state="resolved", open_key=None, resolved_ns=time.time_ns(),
                resolved_by=by)).rowcount)
