"""Small helpers for tests that wait on real services (generous timeouts,
no timing assertions)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from mimamori.bus import Bus, Message
from mimamori.config import Settings, load_settings
from mimamori.services import Mosquitto, free_port


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Collector:
    """Subscribe a bus to topics and collect what arrives."""

    def __init__(self, bus: Bus, *topics: str) -> None:
        self.q: queue.Queue[Message] = queue.Queue()
        self.messages: list[Message] = []
        bus.consume(list(topics), self._handle, batch_wait_s=0.0)

    def _handle(self, batch: list[Message]) -> None:
        for m in batch:
            self.q.put(m)

    def wait(self, n: int = 1, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.messages)} of {n} messages in {timeout}s")
            try:
                self.messages.append(self.q.get(timeout=remaining))
            except queue.Empty:
                continue
        return self.messages


def own_broker(tmp_path, broker_cls: type[Mosquitto] = Mosquitto) -> tuple[Settings, Mosquitto]:
    """A Mosquitto of the test's own (started, on a free port, state in
    ``tmp_path``), for tests that stop, pause or restart their broker."""
    s = load_settings(state_dir=tmp_path, mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
                      influx={"managed": False})
    broker = broker_cls(s)
    broker.start()
    return s, broker

