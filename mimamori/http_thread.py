"""Serve an ASGI app with uvicorn in a background thread: the web stage,
the LINE stand-in and the test stand-ins all start and stop this way."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ServerNotStarted(Exception):
    """uvicorn did not come up (e.g. the port was taken)."""


class ThreadedServer:
    def __init__(self, app: Any, host: str, port: int, *, name: str = "http",
                 lifespan: str = "on") -> None:
        self.host, self.port, self.name = host, port, name
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                access_log=False, lifespan=lifespan)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerNotStarted(f"{self.name} could not start on {self.host}:{self.port}")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
