"""Signed, expiring acknowledge links.

A token carries the alert id, the recipient and an expiry, signed with
HMAC-SHA256 under a key kept in the state directory (created once, mode 600)
or given as ``$MIMAMORI_ALERTS_ACK_KEY``. Tampered or expired tokens are
refused with a reason.

>>> key = b"k" * 32
>>> t = make_token(key, 42, "hanako", ttl_s=60, now=1000)
>>> read_token(key, t, now=1030)
(42, 'hanako')
>>> read_token(key, t, now=1100)
Traceback (most recent call last):
...
alerts.ack.AckTokenError: this link has expired
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path


class AckTokenError(ValueError):
    """The link cannot be used; the message says why in plain words."""


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_token(key: bytes, alert_id: int, person_id: str, ttl_s: float = 7 * 86400,
               now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl_s)
    payload = _b64(f"{alert_id}|{person_id}|{expires}".encode())
    sig = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
    return f"{payload}.{sig}"


def read_token(key: bytes, token: str, now: float | None = None) -> tuple[int, str]:
    try:
        payload, sig = token.split(".")
        want = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
        if not hmac.compare_digest(sig, want):
            raise AckTokenError("this link is not valid")
        alert_id, person_id, expires = _unb64(payload).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        raise AckTokenError("this link is not valid") from None
    if int(expires) < (now if now is not None else time.time()):
        raise AckTokenError("this link has expired")
    return int(alert_id), person_id


def load_ack_key(state_dir: Path) -> bytes:
    env = os.environ.get("MIMAMORI_ALERTS_ACK_KEY")
    if env:
        return env.encode()
    path = Path(state_dir).resolve() / "alerts-ack.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
