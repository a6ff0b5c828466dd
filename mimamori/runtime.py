"""Running stages: in this process (``mimamori run``, ``mimamori demo``) or
one per process (``mimamori gateway`` …). Each running process records its
stages in ``{state_dir}/run/stage-{pid}.json`` so ``mimamori status`` can
tell which stages run, from any other process."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Protocol

import orjson

from .config import Settings
from .services import pid_alive

log = logging.getLogger(__name__)

STAGES = ("gateway", "ingest", "analytics", "alerts", "web")


class Stage(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> None: ...


def build_stage(name: str, settings: Settings, platform: Platform | None = None) -> Stage:
    if settings.mqtt.auth:  # each stage connects as its own MQTT user
        from .mqtt_auth import with_stage_credentials

        settings = with_stage_credentials(settings, name)
    if name == "gateway":
        from gateway.stage import GatewayStage  # MQTT gateway + LoRaWAN listener

        return GatewayStage(settings)
    if name == "ingest":
        from ingest.stage import IngestStage

        return IngestStage(settings)
    if name == "analytics":
        from analytics.stage import AnalyticsStage

        return AnalyticsStage(settings)
    if name == "alerts":
        from alerts.stage import AlertsStage

        return AlertsStage(settings)
    if name == "web":
        from dashboards.server import WebServer

        return WebServer(settings, platform)
    raise ValueError(f"unknown stage {name!r}; stages are {', '.join(STAGES)}")


class Platform:
    """The stages running in this process."""

    def __init__(self, settings: Settings, stages: list[str] | tuple[str, ...] = STAGES) -> None:
        for s in stages:
            if s not in STAGES:
                raise ValueError(f"unknown stage {s!r}; stages are {', '.join(STAGES)}")
        self.settings = settings
        self.names = list(stages)
        self.stages: dict[str, Stage] = {}
        self.extras: dict[str, Any] = {}  # e.g. a simulator started by the demo
        self._record = settings.state_dir.resolve() / "run" / f"stage-{os.getpid()}.json"
        self.stopped = threading.Event()

    def start(self) -> Platform:
        try:
            for name in self.names:
                stage = build_stage(name, self.settings, self)
                stage.start()
                self.stages[name] = stage
                log.info("stage %s started", name)
        except BaseException:
            self.stop()
            raise
        self._record.parent.mkdir(parents=True, exist_ok=True)
        self._record.write_bytes(orjson.dumps({"pid": os.getpid(), "stages": self.names}))
        return self

    def stop(self) -> None:
        for name in reversed(list(self.stages)):
            try:
                self.stages[name].stop()
            except Exception as exc:  # keep stopping the others
                log.warning("stopping %s: %s", name, exc)
        self.stages.clear()
        self._record.unlink(missing_ok=True)
        self.stopped.set()


def running_stages(settings: Settings) -> dict[str, list[int]]:
    """stage name → pids of live processes running it."""
    out: dict[str, list[int]] = {}
    run = settings.state_dir.resolve() / "run"
    for f in run.glob("stage-*.json") if run.exists() else []:
        try:
            doc = orjson.loads(f.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        pid = doc.get("pid")
        if not pid_alive(pid):
            f.unlink(missing_ok=True)
            continue
        for s in doc.get("stages", []):
            out.setdefault(s, []).append(pid)
    return out


def record_path(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "run" / f"stage-{os.getpid()}.json"
