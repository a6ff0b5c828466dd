"""The web stage: uvicorn serving the one app in a background thread."""

from __future__ import annotations

from typing import Any

from mimamori.config import Settings
from mimamori.http_thread import ServerNotStarted, ThreadedServer
from mimamori.services import port_is_free

from .app import create_app


class WebPortTaken(Exception):
    pass


class WebServer:
    def __init__(self, settings: Settings, platform: Any = None) -> None:
        self.settings = settings
        self.platform = platform
        self._server: ThreadedServer | None = None

    @property
    def url(self) -> str:
        return self.settings.web.url

    def start(self) -> WebServer:
        host, port = self.settings.web.host, self.settings.web.port
        if not port_is_free(host, port):
            raise WebPortTaken(
                f"port {port} on {host} for the web UI is taken by another program; "
                "free it or set MIMAMORI_WEB__PORT"
            )
        self._server = ThreadedServer(create_app(self.settings, self.platform), host, port,
                                      name="web")
        try:
            self._server.start()
        except ServerNotStarted:
            raise WebPortTaken(f"web server could not start on {host}:{port}") from None
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
