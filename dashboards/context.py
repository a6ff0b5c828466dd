"""What every request handler needs: the registry, accounts, telemetry and
alerts (created once per app, closed by its lifespan), who is logged in,
their scope, their language, and the CSRF check.

Sessions: a random token in an ``HttpOnly; Secure; SameSite=Lax`` cookie, or
``Authorization: Bearer <token>`` for API clients (from ``POST /api/v1/token``).
Forms carry the session's CSRF token; cookie-authenticated API calls that
change something send it as ``X-CSRF-Token``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from mimamori.config import Settings
from mimamori.registry import Registry

from .access import Scope, scope_for
from .accounts import Accounts, Session, User
from .alert_source import open_alert_store
from .i18n import LANGS, T
from .telemetry import Telemetry

COOKIE = "mimamori_session"
LANG_COOKIE = "mimamori_lang"
LOGIN_CSRF_COOKIE = "mimamori_login_csrf"
ROLE_HOME = {"family": "/family", "farmer": "/farmer", "public_works": "/public-works",
             "admin": "/admin"}


class WebContext:
    def __init__(self, settings: Settings, platform: Any = None) -> None:
        self.settings = settings
        self.platform = platform
        self.registry = Registry(settings.registry)
        self.accounts = Accounts(settings.registry)
        self.telemetry = Telemetry(settings)
        self.alerts = open_alert_store(settings)
        self._tail = None

    @property
    def bus_tail(self):
        from .bus_tail import BusTail

        if self._tail is None:
            self._tail = BusTail(self.settings)
        return self._tail.ensure()

    def close(self) -> None:
        self.telemetry.close()
        if self._tail is not None:
            self._tail.close()
        for obj in (self.alerts,):
            close = getattr(obj, "close", None)
            if close:
                close()


_ctx_lock = threading.Lock()


def get_ctx(request: Request) -> WebContext:
    state = request.app.state
    ctx = getattr(state, "web_ctx", None)
    if ctx is None:
        with _ctx_lock:
            ctx = getattr(state, "web_ctx", None)
            if ctx is None:
                ctx = state.web_ctx = WebContext(state.settings, getattr(state, "platform", None))
    return ctx


Ctx = Annotated[WebContext, Depends(get_ctx)]


def session_token(request: Request) -> tuple[str | None, bool]:
    """(token, came from a bearer header)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip(), True
    return request.cookies.get(COOKIE), False


@dataclass
class Who:
    session: Session
    scope: Scope
    bearer: bool

    @property
    def user(self) -> User:
        return self.session.user


def optional_who(request: Request, ctx: Ctx) -> Who | None:
    token, bearer = session_token(request)
    sess = ctx.accounts.session(token)
    if sess is None:
        return None
    return Who(sess, scope_for(sess.user, ctx.registry), bearer)


def page_who(request: Request, who: Annotated[Who | None, Depends(optional_who)]) -> Who:
    """For pages: not logged in → 303 to the login page."""
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"Location": f"/login?next={_safe_next(target)}"})
    return who


def api_who(who: Annotated[Who | None, Depends(optional_who)]) -> Who:
    if who is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    return who


def _safe_next(path: str) -> str:
    from urllib.parse import quote

    return quote(path if path.startswith("/") and not path.startswith("//") else "/", safe="")


def require_role(who: Who, *roles: str) -> None:
    if who.user.role != "admin" and who.user.role not in roles:
        raise HTTPException(403, "not for your role")


def check_csrf(who: Who, token: str | None) -> None:
    if who.bearer:
        return  # a bearer token is never sent by a browser on its own
    if not token or not secrets.compare_digest(token, who.session.csrf):
        raise HTTPException(403, "csrf")


def api_csrf(request: Request, who: Annotated[Who, Depends(api_who)]) -> Who:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(who, request.headers.get("x-csrf-token"))
    return who


def pick_lang(request: Request, who: Who | None = None) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    if c in LANGS:
        return c
    if who is not None and who.user.language in LANGS:
        return who.user.language
    return "ja"


def texts(lang: str) -> dict[str, str]:
    return T[lang]
