"""``create_app(settings, platform)`` builds the one FastAPI application.

Long-lived clients are created in ``lifespan`` and closed there; nothing
connects at import time.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mimamori.config import Settings
from mimamori.status import collect_status

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT = {
    "ja": {
        "title": "見守り — システムの状態",
        "services": "サービス",
        "stages": "処理の段階",
        "counters": "件数",
        "name": "名前",
        "state": "状態",
        "where": "場所",
        "ok": "正常",
        "down": "停止中",
        "running": "動作中",
        "not_running": "停止中",
        "switch": "English",
        "readings": "受信した測定値",
        "written": "保存した測定値",
        "deadletters": "受け付けなかった入力",
        "alerts": "最近の通知",
        "no_alerts": "通知はまだありません。",
        "metrics": "計測値 (Prometheus)",
        "lang_attr": "ja",
    },
    "en": {
        "title": "mimamori — system status",
        "services": "Services",
        "stages": "Stages",
        "counters": "Counts",
        "name": "Name",
        "state": "State",
        "where": "Address",
        "ok": "OK",
        "down": "Down",
        "running": "Running",
        "not_running": "Not running",
        "switch": "日本語",
        "readings": "Readings received",
        "written": "Readings stored",
        "deadletters": "Inputs refused",
        "alerts": "Recent alerts",
        "no_alerts": "No alerts yet.",
        "metrics": "Metrics (Prometheus)",
        "lang_attr": "en",
    },
}


# Routers that live beside the code they serve; one line each mounts them.
# A module that does not exist yet is skipped.
ROUTERS = [
    "gateway.http_ingest:router",  # HTTP ingest for devices and network servers
    "alerts.web:router",  # acknowledge links, LINE webhook, outbox
    "dashboards.pages:router",  # pages for families, farmers, public works, admin
    "dashboards.api:router",  # REST API
]


def _include_routers(app: FastAPI) -> None:
    from mimamori.plugins import load

    for target in ROUTERS:
        router = load(target)
        if router is None:
            continue
        app.include_router(router)
        _loaded.add(target.split(":")[0])


def _html_errors(app: FastAPI) -> None:
    """Pages answer errors with a page in the reader's language; the API keeps JSON."""
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        wants_html = "text/html" in request.headers.get("accept", "")
        if (request.url.path.startswith("/api") or not wants_html
                or exc.status_code < 400 or "dashboards.pages" not in _loaded):
            return await http_exception_handler(request, exc)
        from dashboards.context import pick_lang, texts
        from dashboards.pages import render

        t = texts(pick_lang(request))
        msg = t["csrf"] if exc.detail == "csrf" else t["not_found_text"]
        return render(request, "error.html", None, "not_found", status=exc.status_code,
                      heading=t["not_found"] if exc.status_code == 404 else str(exc.status_code),
                      message=msg)


_loaded: set[str] = set()


def create_app(settings: Settings, platform: Any = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        ctx = getattr(app.state, "web_ctx", None)
        if ctx is not None:
            ctx.close()

    app = FastAPI(title="mimamori", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.platform = platform

    @app.get("/api/status")
    def api_status() -> JSONResponse:
        return JSONResponse(collect_status(settings, platform))

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    _include_routers(app)
    _html_errors(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
