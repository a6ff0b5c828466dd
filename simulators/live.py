"""Live simulation against the running platform: devices registered in the
registry, readings published to their MQTT ``up`` topics in real time."""

from __future__ import annotations

import logging
import random
import threading
import time

import orjson

from mimamori.bus import Bus
from mimamori.config import Settings
from mimamori.registry import Registry
from mimamori.topics import Topics

from .paddy import PaddyField

log = logging.getLogger(__name__)
PROFILE = "paddy_json_v1"


class LiveSimulator:
    def __init__(self, settings: Settings, devices: int = 5, interval_s: float = 5.0,
                 seed: int = 1, time_scale: float = 120.0) -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.rng = random.Random(seed)
        self.interval_s = interval_s
        self.time_scale = time_scale  # simulated seconds per real second
        self.fields = [PaddyField(f"sim-paddy-{i:03d}", random.Random(seed * 1000 + i))
                       for i in range(devices)]
        self.bus = Bus(settings.mqtt, f"mimamori-sim-{seed}", persistent=False)
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, registry: Registry) -> None:
        for i, f in enumerate(self.fields):
            site = f"field-{i:03d}"
            registry.add_site(site, "field", f"玉城町 田 {i + 1}", 34.483 + i * 0.002,
                              136.633 + i * 0.002)
            registry.add_device(f.device_id, PROFILE, site, f"水位センサー {i + 1}")

    def start(self) -> LiveSimulator:
        self.register(Registry(self.settings.registry))
        self.bus.connect()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        return self

    def tick(self) -> None:
        now = time.time()
        infos = []
        for f in self.fields:
            f.step(self.interval_s * self.time_scale)
            infos.append(self.bus.publish(self.topics.up(PROFILE, f.device_id),
                                          orjson.dumps(f.payload(now))))
        self.bus.wait_published(infos)
        self.sent += len(infos)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:
                log.warning("simulator: %s", exc)
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.bus.close()
