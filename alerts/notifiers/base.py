"""What every notifier plugin shares: the outgoing message, the result, and
the one table that sorts outside failures into retry or reject.

A notifier answers ``ok`` / ``retry(after)`` / ``reject(reason)``; the
dispatcher owns retries, backoff, rate limits and fallback, and writes every
attempt into the delivery ledger. Config is validated when loaded and never
connects: connections open in ``start()`` or per send.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class Outgoing:
    delivery_id: int
    idem_key: str
    alert: dict[str, Any]
    recipient: str
    address: str
    language: str
    purpose: str
    message: dict[str, str]  # subject, text, short
    ack_url: str | None = None
    ack_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def retry_key(self) -> str:
        """A UUID that is the same on every retry of this delivery."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "mimamori:" + self.idem_key))

    @property
    def message_id(self) -> str:
        return f"<{self.retry_key}@mimamori>"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: str  # ok | retry | reject
    reason: str = ""
    after_s: float | None = None
    external_id: str | None = None

    @classmethod
    def ok(cls, external_id: str | None = None) -> Result:
        return cls("ok", external_id=external_id)

    @classmethod
    def retry(cls, reason: str, after_s: float | None = None) -> Result:
        return cls("retry", reason, after_s)

    @classmethod
    def reject(cls, reason: str) -> Result:
        return cls("reject", reason)


class Notifier(Protocol):
    channel: str

    def start(self) -> None: ...
    def send(self, out: Outgoing) -> Result: ...
    def stop(self) -> None: ...


def http_status_result(status: int, reason: str, retry_after: str | None = None) -> Result:
    """The one table for HTTP answers (webhook, LINE):

    >>> http_status_result(503, "unavailable").outcome
    'retry'
    >>> http_status_result(400, "bad request").outcome
    'reject'
    >>> http_status_result(429, "slow down", "7").after_s
    7.0
    """
    if 200 <= status < 300:
        return Result.ok()
    after = None
    if retry_after:
        try:
            after = float(retry_after)
        except ValueError:
            after = None
    if status in (408, 425, 429) or status >= 500:
        return Result.retry(f"HTTP {status}: {reason}", after)
    return Result.reject(f"HTTP {status}: {reason}")
