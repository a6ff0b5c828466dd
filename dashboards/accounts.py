"""User accounts, sessions and the audit log (SQL, in the registry's database).

* **users** — a login name, an argon2id password hash (argon2-cffi), a role
  (``family`` / ``farmer`` / ``public_works`` / ``admin``) and the registry
  person the account belongs to (what that person may see follows from the
  registry's relations, see :mod:`dashboards.access`).
* **sessions** — server-side: the cookie holds a random token, the table
  holds only its SHA-256, the CSRF token and the expiry; logging out deletes
  the row, so a stolen cookie dies with the session.
* **audit_log** — every view of a person's location or health data, every
  refused attempt, every acknowledgement and settings change.

>>> acc = Accounts("sqlite://")
>>> u = acc.add_user("hanako", "a long passphrase", "family", person_id="hanako")
>>> acc.verify("hanako", "a long passphrase").role, acc.verify("hanako", "wrong")
('family', None)
>>> token, csrf = acc.open_session("hanako")
>>> acc.session(token).user.username
'hanako'
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    select,
    update,
)
from sqlalchemy.pool import StaticPool

from mimamori.registry import make_engine

ROLES = ("family", "farmer", "public_works", "admin")
MIN_PASSWORD = 10
SESSION_TTL_S = 12 * 3600

# argon2id parameters: the library's default (RFC 9106 "low memory": 64 MiB,
# 3 passes). Tests may swap in argon2.profiles.CHEAPEST to keep the suite fast;
# every hash carries its own parameters, so verifying works either way.
PASSWORD_PARAMETERS = None

metadata = MetaData()

users = Table(
    "web_users", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("person_id", String(128), nullable=True),
    Column("display_name", String(256), nullable=False, default=""),
    Column("language", String(8), nullable=False, default="ja"),
    Column("disabled", Integer, nullable=False, default=0),
    Column("created_ns", BigInteger, nullable=False),
)

sessions = Table(
    "web_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    Column("expires_ns", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts_ns", BigInteger, nullable=False, index=True),
    Column("username", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),  # view | denied | ack | resolve | edit | login
    Column("subject_kind", String(16), nullable=False, default=""),  # person | site | device | alert
    Column("subject_id", String(128), nullable=False, default=""),
    Column("what", String(64), nullable=False, default=""),  # location | health | settings …
    Column("outcome", String(16), nullable=False, default="ok"),  # ok | denied | failed
    Column("detail", Text, nullable=False, default="{}"),
)


class AccountError(Exception):
    """A plain-language reason an account operation cannot be done."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    person_id: str | None = None
    display_name: str = ""
    language: str = "ja"
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf: str
    expires_ns: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    ts_ns: int
    username: str
    action: str
    subject_kind: str
    subject_id: str
    what: str
    outcome: str
    detail: dict[str, Any]


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(name: str) -> str:
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in "._-@" for c in name):
        raise AccountError("a user name is 1–64 letters, digits or . _ - @")
    return name


def check_password(pw: str) -> str:
    if len(pw) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return pw


class Accounts:
    def __init__(self, url: str) -> None:
        if url in ("sqlite://", "sqlite:///:memory:"):
            self.engine = create_engine(url, poolclass=StaticPool,
                                        connect_args={"check_same_thread": False})
        else:
            self.engine = make_engine(url)
        metadata.create_all(self.engine)
        # argon2id with the library's RFC 9106 "low memory" profile defaults
        params = PASSWORD_PARAMETERS
        self.hasher = PasswordHasher.from_parameters(params) if params else PasswordHasher()
        self._dummy = self.hasher.hash("not a real password")

    # -- users -------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str, person_id: str | None = None,
                 display_name: str = "", language: str = "ja", replace: bool = False) -> User:
        check_username(username)
        check_password(password)
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if language not in ("ja", "en"):
            raise AccountError("language is ja or en")
        values = {"password_hash": self.hasher.hash(password), "role": role,
                  "person_id": person_id, "display_name": display_name, "language": language,
                  "disabled": 0}
        with self.engine.begin() as c:
            exists = c.execute(select(users.c.username).where(users.c.username == username)).first()
            if exists and not replace:
                raise AccountError(f"user {username} already exists")
            if exists:
                c.execute(update(users).where(users.c.username == username).values(**values))
            else:
                c.execute(users.insert().values(username=username, created_ns=time.time_ns(),
                                                **values))
        u = self.get_user(username)
        assert u is not None
        return u

    def _user(self, row) -> User:
        d = dict(row._mapping)
        d.pop("password_hash", None)
        d.pop("created_ns", None)
        d["disabled"] = bool(d["disabled"])
        return User(**d)

    def get_user(self, username: str) -> User | None:
        with self.engine.connect() as c:
            r = c.execute(select(users).where(users.c.username == username)).first()
        return self._user(r) if r else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as c:
            return [self._user(r) for r in c.execute(select(users).order_by(users.c.username))]

    def set_password(self, username: str, password: str) -> None:
        check_password(password)
        with self.engine.begin() as c:
            n = c.execute(update(users).where(users.c.username == username)
                          .values(password_hash=self.hasher.hash(password))).rowcount
            c.execute(delete(sessions).where(sessions.c.username == username))
        if not n:
            raise AccountError(f"no user {username}")

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self.engine.begin() as c:
            n = c.execute(update(users).where(users.c.username == username)
                          .values(disabled=int(disabled))).rowcount
            if disabled:
                c.execute(delete(sessions).where(sessions.c.username == username))
        if not n:
            raise AccountError(f"no user {username}")

    def remove_user(self, username: str) -> bool:
        with self.engine.begin() as c:
            c.execute(delete(sessions).where(sessions.c.username == username))
            return bool(c.execute(delete(users).where(users.c.username == username)).rowcount)

    def set_language(self, username: str, language: str) -> None:
        if language not in ("ja", "en"):
            raise AccountError("language is ja or en")
        with self.engine.begin() as c:
            c.execute(update(users).where(users.c.username == username).values(language=language))

    def verify(self, username: str, password: str) -> User | None:
        """The user if the password is right (and the account enabled), else None.
        Takes about the same time for an unknown name (a dummy hash is checked)."""
        with self.engine.connect() as c:
            r = c.execute(select(users).where(users.c.username == username)).first()
        stored = r.password_hash if r else self._dummy
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if r is None or r.disabled:
            return None
        if self.hasher.check_needs_rehash(stored):
            with self.engine.begin() as c:
                c.execute(update(users).where(users.c.username == username)
                          .values(password_hash=self.hasher.hash(password)))
        return self._user(r)

    # -- sessions ----------------------------------------------------------
    def open_session(self, username: str, ttl_s: float = SESSION_TTL_S) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time_ns()
        with self.engine.begin() as c:
            c.execute(delete(sessions).where(sessions.c.expires_ns < now))
            c.execute(sessions.insert().values(token_sha256=_sha(token), username=username,
                                               csrf=csrf, created_ns=now,
                                               expires_ns=now + int(ttl_s * 1e9)))
        return token, csrf

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self.engine.connect() as c:
            r = c.execute(select(sessions).where(sessions.c.token_sha256 == _sha(token))).first()
            if r is None or r.expires_ns < time.time_ns():
                return None
            u = c.execute(select(users).where(users.c.username == r.username)).first()
        if u is None or u.disabled:
            return None
        return Session(self._user(u), r.csrf, r.expires_ns)

    def close_session(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as c:
                c.execute(delete(sessions).where(sessions.c.token_sha256 == _sha(token)))

    # -- audit -------------------------------------------------------------
    def audit(self, username: str, action: str, subject_kind: str = "", subject_id: str = "",
              what: str = "", outcome: str = "ok", **detail: Any) -> None:
        with self.engine.begin() as c:
            c.execute(audit_log.insert().values(
                ts_ns=time.time_ns(), username=username, action=action,
                subject_kind=subject_kind, subject_id=subject_id, what=what, outcome=outcome,
                detail=orjson.dumps(detail, default=str).decode()))

    def audit_entries(self, *, username: str | None = None, subject_id: str | None = None,
                      outcome: str | None = None, limit: int = 200) -> list[AuditEntry]:
        q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        for col, v in ((audit_log.c.username, username), (audit_log.c.subject_id, subject_id),
                       (audit_log.c.outcome, outcome)):
            if v is not None:
                q = q.where(col == v)
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            d.pop("id")
            d["detail"] = orjson.loads(d["detail"] or "{}")
            out.append(AuditEntry(**d))
        return out
