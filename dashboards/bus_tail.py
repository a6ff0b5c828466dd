"""What the admin page shows from the bus: the last dead letters and the
retained gateway statuses, kept in memory by one non-persistent subscriber.

The pure part, :class:`Tail`, sorts messages by topic:

>>> t = Tail("mimamori/v1")
>>> t.take("mimamori/v1/deadletter/gateway", b'{"reason": "unknown_device", "detail": "x"}')
>>> t.take("mimamori/v1/status/gateway/gw-1", b'{"online": true}')
>>> t.deadletters[0]["reason"], t.gateways["gw-1"]["online"]
('unknown_device', True)
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from typing import Any

import orjson

from mimamori.bus import Bus, BusError, Message
from mimamori.config import Settings
from mimamori.topics import Topics

log = logging.getLogger(__name__)


class Tail:
    def __init__(self, root: str, keep: int = 50) -> None:
        self.topics = Topics(root)
        self.deadletters: deque[dict[str, Any]] = deque(maxlen=keep)
        self.gateways: dict[str, dict[str, Any]] = {}

    def take(self, topic: str, payload: bytes) -> None:
        try:
            doc = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            doc = {"raw": payload[:200].decode("utf-8", "replace")}
        if not isinstance(doc, dict):
            doc = {"value": doc}
        root = self.topics.root
        if topic.startswith(f"{root}/deadletter/"):
            doc.setdefault("stage", topic.rsplit("/", 1)[-1])
            self.deadletters.appendleft(doc)
        elif topic.startswith(f"{root}/status/gateway/"):
            gw = topic.rsplit("/", 1)[-1]
            if payload:
                self.gateways[gw] = doc
            else:
                self.gateways.pop(gw, None)


class BusTail:
    """Subscribes when first asked; a broker that is down is reported, not raised."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tail = Tail(settings.bus.topic_root)
        self.bus: Bus | None = None
        self.error: str | None = None

    def ensure(self) -> BusTail:
        if self.bus is None:
            bus = Bus(self.settings.mqtt, f"mimamori-web-{uuid.uuid4().hex[:8]}", persistent=False)
            try:
                bus.connect(timeout=3)
            except BusError as exc:
                self.error = str(exc)
                return self
            t = self.tail.topics
            bus.consume([t.deadletter_filter, f"{t.root}/status/gateway/+"], self._handle,
                        batch_wait_s=0.0, name="web-tail")
            self.bus, self.error = bus, None
        return self

    def _handle(self, batch: list[Message]) -> None:
        for m in batch:
            self.tail.take(m.topic, m.payload)

    def close(self) -> None:
        if self.bus is not None:
            self.bus.close()
