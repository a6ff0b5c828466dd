"""The alerts stage (first cut): findings → alert events on
``{root}/alerts/{severity}/{site}``, one open alert per (device, kind),
updated rather than repeated, closed when the finding clears. Routing,
escalation and the notifiers build on this."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import orjson

from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import ContractError, Finding, FindingState
from mimamori.deadletter import DeadLetter
from mimamori.topics import Topics

log = logging.getLogger(__name__)
STAGE = "alerts"


class AlertBook:
    """Pure part: which alerts are open; turns findings into alert events."""

    def __init__(self, keep: int = 200) -> None:
        self.open: dict[tuple[str, str], dict[str, Any]] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)

    def apply(self, f: Finding) -> dict[str, Any] | None:
        key = (f.device_id, f.kind.value)
        current = self.open.get(key)
        if f.state is FindingState.CLEARED:
            if current is None:
                return None
            del self.open[key]
            event = {**current, "state": "resolved", "resolved_ns": f.ts_ns}
        elif current is None:
            event = {"device_id": f.device_id, "kind": f.kind.value, "severity": f.severity.value,
                     "site": f.site, "state": "open", "opened_ns": f.ts_ns,
                     "evidence": f.evidence}
            self.open[key] = event
        else:
            current["evidence"] = f.evidence
            current["updated_ns"] = f.ts_ns
            return None  # updated, not repeated
        self.recent.appendleft(event)
        return event


class AlertsStage:
    def __init__(self, settings: Settings, client_id: str = "mimamori-alerts") -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.book = AlertBook()
        self.bus = Bus(settings.mqtt, client_id)

    def start(self) -> AlertsStage:
        self.bus.connect()
        self.bus.consume([self.topics.findings_filter], self.handle, name="alerts")
        return self

    def stop(self) -> None:
        self.bus.close()

    def handle(self, batch: list[Message]) -> None:
        out = []
        for m in batch:
            try:
                f = Finding.decode(m.payload)
            except ContractError as exc:
                d = DeadLetter(STAGE, "bad_finding", str(exc), m.payload, m.topic)
                d.count()
                out.append((self.topics.deadletter(STAGE), d.encode()))
                continue
            event = self.book.apply(f)
            if event is not None:
                out.append((self.topics.alerts(event["severity"], event["site"] or "-"),
                            orjson.dumps(event)))
        if out:
            self.bus.publish_durably(out)
