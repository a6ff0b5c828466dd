"""A real local SMTP server (aiosmtpd) for the demo's outbox and the tests.

Keeps every accepted message in memory and appends it to a JSON-lines file
the outbox page reads. ``stop()`` / ``start()`` make "SMTP down" real: a
stopped server refuses connections.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, owner: SmtpStandin) -> None:
        self.owner = owner

    async def handle_DATA(self, server, session, envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        entry = {
            "kind": "email", "mail_from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "subject": str(msg.get("Subject", "")), "message_id": str(msg.get("Message-ID", "")),
            "alert_id": str(msg.get("X-Mimamori-Alert", "")),
            "delivery": str(msg.get("X-Mimamori-Delivery", "")),
            "text": body.get_content() if body is not None else "", "ts_ns": time.time_ns()}
        self.owner.keep(entry)
        return "250 Message accepted for delivery"


class SmtpStandin:
    def __init__(self, port: int, host: str = "127.0.0.1", record: Path | None = None) -> None:
        self.host, self.port, self.record = host, port, record
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self._controller: Controller | None = None

    def keep(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(entry)
            if self.record is not None:
                self.record.parent.mkdir(parents=True, exist_ok=True)
                with self.record.open("ab") as f:
                    f.write(orjson.dumps(entry) + b"\n")

    def start(self) -> SmtpStandin:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every session
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      ready_timeout=15)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def to(self, address: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if address in m["to"]]
