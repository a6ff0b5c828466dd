"""The web stage: uvicorn serving the one app in a background thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from mimamori.config import Settings
from mimamori.services import port_is_free

from .app import create_app


class WebPortTaken(Exception):
    pass


class WebServer:
    def __init__(self, settings: Settings, platform: Any = None) -> None:
        self.settings = settings
        self.platform = platform
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

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
        config = uvicorn.Config(create_app(self.settings, self.platform), host=host, port=port,
                                log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name="web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started and time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise WebPortTaken(f"web server could not start on {host}:{port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
