"""Webhook: the alert as JSON, POSTed and signed with HMAC-SHA256.

Headers: ``X-Mimamori-Timestamp`` (unix seconds), ``X-Mimamori-Signature:
sha256=<hex of HMAC(secret, timestamp + "." + body)>``, and
``Idempotency-Key`` (the same on every retry). Receivers check with
:func:`verify`.

>>> sig = signature(b"s3cret", "1700000000", b'{"a":1}')
>>> verify(b"s3cret", "1700000000", b'{"a":1}', sig, now=1700000010)
True
>>> verify(b"s3cret", "1700000000", b'{"a":2}', sig, now=1700000010)
False
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field

from ..base import Outgoing, Result, http_status_result


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, sig: str, *, now: float | None = None,
           tolerance_s: float = 300) -> bool:
    try:
        if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_s:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), sig)


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None  # default target; a receiver or person may give its own address
    secret: str = "change-me"
    timeout_s: float = Field(10.0, gt=0)


class WebhookNotifier:
    channel = "webhook"

    def __init__(self, config: dict | WebhookConfig | None = None, context=None) -> None:
        self.config = config if isinstance(config, WebhookConfig) else WebhookConfig(**(config or {}))
        self._client: httpx.Client | None = None

    def start(self) -> None:
        self._client = httpx.Client(timeout=self.config.timeout_s)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def payload(self, out: Outgoing) -> bytes:
        return orjson.dumps({
            "version": 1, "purpose": out.purpose, "delivery": out.idem_key,
            "recipient": out.recipient, "language": out.language, "alert": out.alert,
            "message": out.message, "ack_url": out.ack_url, **out.extra})

    def send(self, out: Outgoing) -> Result:
        url = out.address or self.config.url
        if not url:
            return Result.reject("no webhook URL configured")
        if self._client is None:
            self.start()
        assert self._client is not None
        body = self.payload(out)
        ts = str(int(time.time()))
        try:
            r = self._client.post(url, content=body, headers={
                "content-type": "application/json",
                "x-mimamori-timestamp": ts,
                "x-mimamori-signature": signature(self.config.secret.encode(), ts, body),
                "idempotency-key": out.idem_key})
        except httpx.HTTPError as exc:
            return Result.retry(f"webhook {url} unreachable: {type(exc).__name__}: {exc}")
        res = http_status_result(r.status_code, r.text[:200], r.headers.get("retry-after"))
        return Result.ok(r.headers.get("x-request-id")) if res.outcome == "ok" else res
