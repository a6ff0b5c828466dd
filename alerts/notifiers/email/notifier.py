"""E-mail over SMTP (stdlib ``smtplib``): one plain-text UTF-8 message per
delivery, with a ``Message-ID`` that is the same on every retry.

Failure table: connection refused / reset / timeout, 4xx → retry;
5xx (recipient or message refused) → reject, so the dispatcher falls back
to the recipient's next channel.
"""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.utils import formatdate

from pydantic import BaseModel, ConfigDict, Field

from ..base import Outgoing, Result


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8025, ge=1, le=65535)
    from_addr: str = "mimamori@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = Field(10.0, gt=0)


class EmailNotifier:
    channel = "email"

    def __init__(self, config: dict | EmailConfig | None = None, context=None) -> None:
        self.config = config if isinstance(config, EmailConfig) else EmailConfig(**(config or {}))

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def build(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.config.from_addr
        msg["To"] = out.address
        msg["Subject"] = out.message["subject"]
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = out.message_id
        msg["X-Mimamori-Alert"] = str(out.alert.get("alert_id", ""))
        msg["X-Mimamori-Delivery"] = out.idem_key
        msg["Content-Language"] = out.language
        msg.set_content(out.message["text"], charset="utf-8")
        return msg

    def send(self, out: Outgoing) -> Result:
        c = self.config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
                if c.starttls:
                    smtp.starttls()
                if c.username:
                    smtp.login(c.username, c.password or "")
                smtp.send_message(self.build(out))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(400 <= code < 500 for code in codes):
                return Result.retry(f"recipient deferred: {codes}")
            return Result.reject(f"recipient refused: {codes}")
        except smtplib.SMTPResponseException as exc:
            text = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            return Result.retry(text) if 400 <= exc.smtp_code < 500 else Result.reject(text)
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout,
                OSError) as exc:
            return Result.retry(f"SMTP server {c.host}:{c.port} unreachable: {exc}")
        return Result.ok(out.message_id)
