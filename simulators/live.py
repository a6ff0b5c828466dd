"""Live simulation against the running platform.

:class:`LiveRunner` builds a scenario's devices, registers them (with their
people, sites and relations) in the registry, and sends each device's
uplinks through its transport when they fall due: simulated time runs
``time_scale`` times faster than the wall clock, from the scenario's start
date at the current time of day (so a July scenario stays in July, and
nights are nights). Uplinks carry wall-clock time; the labels of injected
anomalies are written in wall-clock time too
(``{state_dir}/simulator/{name}-labels.csv``), so what the platform found can
be compared with what happened.

:class:`LiveSimulator` keeps the first simple interface used by
``mimamori demo``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mimamori.config import Settings
from mimamori.offline import Label, write_labels
from mimamori.registry import Registry

from .build import build_models
from .model import DeviceModel
from .scenario import Scenario, load_scenario
from .timebase import JST, NS, parse_time
from .transports import Transport, TransportUnavailable, transport_class
from .world import register_world

log = logging.getLogger(__name__)


def _with_listening_ports(settings: Settings, platform: Any) -> Settings:
    """Settings with the LoRaWAN port the running gateway stage actually
    bound (configured as 0 = any free port, e.g. in tests and the demo test)."""
    if platform is None or settings.lorawan.port != 0:
        return settings
    gw = getattr(platform, "stages", {}).get("gateway")
    lw = getattr(gw, "lorawan", None)
    if lw is None or getattr(lw, "sock", None) is None:
        return settings
    return settings.model_copy(update={"lorawan": settings.lorawan.model_copy(
        update={"port": lw.address[1]})})


def live_start(scenario: Scenario, now_ns: int) -> str:
    """The scenario's start date at the current JST time of day."""
    d = datetime.fromtimestamp(parse_time(scenario.start) / NS, JST).date()
    now = datetime.fromtimestamp(now_ns / NS, JST)
    start = datetime(d.year, d.month, d.day, tzinfo=JST) + timedelta(
        hours=now.hour, minutes=now.minute, seconds=now.second)
    return start.isoformat()


class LiveRunner:
    def __init__(self, settings: Settings, scenario: Scenario, *, register: bool = True,
                 tick_s: float = 0.5, client_id: str = "mimamori-sim",
                 warmup_s: float = 2.5, platform: Any = None) -> None:
        settings = _with_listening_ports(settings, platform)
        self.settings = settings
        self.wall0 = time.time_ns()
        self.scenario = scenario.model_copy(update={"start": live_start(scenario, self.wall0)})
        self.sim0 = self.scenario.start_ns
        self.scale = scenario.time_scale
        self.register = register
        self.tick_s = tick_s
        self.client_id = client_id
        self.warmup_s = warmup_s
        self.models: list[DeviceModel] = build_models(self.scenario)
        transport_of = {s.device_id: s.transport for s in self.scenario.device_specs()}
        self.routes: dict[str, Transport | None] = {}
        self.transports: dict[str, Transport] = {}
        for name in sorted(set(transport_of.values()) - {"none"}):
            self.transports[name] = transport_class(name)(settings, client_id)
        for m in self.models:
            t = transport_of[m.device_id]
            self.routes[m.device_id] = self.transports.get(t)
        self.sent = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- time ------------------------------------------------------------------
    def to_wall(self, sim_ns: int) -> int:
        return self.wall0 + int((sim_ns - self.sim0) / self.scale)

    def sim_now(self) -> int:
        return self.sim0 + int((time.time_ns() - self.wall0) * self.scale)

    # -- running -----------------------------------------------------------------
    def start(self) -> LiveRunner:
        if self.register:
            def provision(m: DeviceModel, index: int):
                t = self.routes[m.device_id]
                return t.provision(m, index, self.scenario.seed) if t else ({}, {})

            register_world(Registry(self.settings.registry), self.scenario.seed, self.models,
                           provision)
            # like devices switched on after they were registered: running stages
            # notice registry changes within a second or so
            time.sleep(self.warmup_s)
            self.wall0 = time.time_ns()
        self.unavailable: dict[str, str] = {}
        for name, t in list(self.transports.items()):
            try:
                t.open([m for m in self.models if self.routes[m.device_id] is t])
            except (TransportUnavailable, OSError) as exc:
                # the rest of the fleet keeps going; these devices stay quiet
                log.warning("simulator: transport %s unavailable (%s); its devices are "
                            "not sent", name, exc)
                self.unavailable[name] = str(exc)
                del self.transports[name]
                for dev, route in self.routes.items():
                    if route is t:
                        self.routes[dev] = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()
        return self

    def tick(self) -> int:
        """Send every uplink that is due now; returns how many were sent."""
        now = self.sim_now()
        n = 0
        for m in self.models:
            out: list = []
            m.run_until(now, out)
            t = self.routes[m.device_id]
            if t is None:
                continue
            for ts, fields in out:
                t.send(m, self.to_wall(ts), fields)
                n += 1
        for t in self.transports.values():
            t.flush()
        self.sent += n
        return n

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # keep simulating; the platform may come back
                self.errors += 1
                log.warning("simulator: %s", exc)
            if self.sim_now() >= self.scenario.end_ns:
                break
            self._stop.wait(self.tick_s)

    def labels(self) -> list[Label]:
        """Labels so far (injected anomalies), in wall-clock time."""
        out = []
        for m in self.models:
            for lb in m.labels:
                if lb.start_ns <= self.sim_now():
                    out.append(Label(lb.device_id, lb.kind, self.to_wall(lb.start_ns),
                                     self.to_wall(lb.end_ns), lb.severity))
        return sorted(out, key=lambda lb: (lb.start_ns, lb.device_id, lb.kind.value))

    def labels_path(self) -> Path:
        return self.settings.state_dir.resolve() / "simulator" / f"{self.scenario.name}-labels.csv"

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        for t in self.transports.values():
            try:
                t.close()
            except Exception as exc:
                log.warning("simulator: closing %s: %s", t.name, exc)
        path = self.labels_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_labels(path, self.labels())


class LiveSimulator(LiveRunner):
    """The demo fleet (``simulators/scenarios/demo.yaml``) — the interface
    ``mimamori demo`` has used from the start: ``LiveSimulator(settings,
    devices=…, interval_s=…).start()`` … ``.stop()``, ``.sent``.

    ``devices`` caps the fleet (taken family by family, in the scenario's
    order); ``interval_s`` is the fastest reporting interval."""

    def __init__(self, settings: Settings, devices: int = 8, interval_s: float = 5.0,
                 seed: int = 1, time_scale: float | None = None,
                 scenario: str | Path = "demo", platform: Any = None) -> None:
        sc = load_scenario(scenario)
        groups, left = [], max(0, devices)
        while left > 0 and any(g.count for g in sc.groups):
            for g in sc.groups:  # round-robin so every family is present
                have = sum(1 for x in groups if x is g)
                if left and have < g.count:
                    groups.append(g)
                    left -= 1
            if all(sum(1 for x in groups if x is g) >= g.count for g in sc.groups):
                break
        new_groups = []
        for g in sc.groups:
            n = sum(1 for x in groups if x is g)
            if n:
                iv = max(int(interval_s), 1)
                new_groups.append(g.model_copy(update={
                    "count": n, "interval_s": max(iv, g.interval_s or iv)}))
        keep = {f"{g.prefix}-{i:04d}" for g in new_groups for i in range(1, g.count + 1)}
        sc = sc.model_copy(update={"groups": new_groups,
                                   "anomalies": [a for a in sc.anomalies if a.device in keep],
                                   **({"time_scale": time_scale} if time_scale else {})})
        super().__init__(settings, Scenario.model_validate(sc.model_dump()), platform=platform)
