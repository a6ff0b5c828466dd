"""Dead letters: rejected input with the reason, counted, published on
``{root}/deadletter/{stage}``. Every stage uses this one helper."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import Counter

from .contracts import now_ns

DEADLETTERS = Counter(
    "mimamori_deadletters_total", "Inputs rejected, by stage and reason", ["stage", "reason"]
)


@dataclass(slots=True)
class DeadLetter:
    stage: str
    reason: str  # a short machine-readable code, e.g. "unknown_device"
    detail: str  # one plain sentence for people
    payload: bytes = b""
    topic: str = ""
    device_id: str = ""
    received_ns: int = field(default_factory=now_ns)
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        try:
            text, encoding = self.payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.payload).decode(), "base64"
        return orjson.dumps({
            "stage": self.stage,
            "reason": self.reason,
            "detail": self.detail,
            "topic": self.topic,
            "device_id": self.device_id,
            "received_ns": self.received_ns,
            "payload": text,
            "payload_encoding": encoding,
            **({"extra": self.extra} if self.extra else {}),
        })

    def count(self) -> None:
        DEADLETTERS.labels(self.stage, self.reason).inc()
