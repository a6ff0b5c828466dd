"""What ``mimamori status`` and the status page report."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from .config import Settings
from .runtime import STAGES, running_stages
from .services import ServiceManager


def _counter(name: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == name:
                total += s.value
    return total


def collect_status(settings: Settings, platform: Any = None) -> dict[str, Any]:
    services = [s.to_dict() for s in ServiceManager(settings).status()]
    running = running_stages(settings)
    if platform is not None:
        for name in platform.stages:
            running.setdefault(name, [])
    out: dict[str, Any] = {
        **settings.public_summary(),
        "services": services,
        "stages": {name: name in running for name in STAGES},
        "stage_pids": running,
        "counters": {
            "readings_published": int(_counter("mimamori_gateway_readings_total")),
            "points_written": int(_counter("mimamori_ingest_points_total")),
            "deadletters": int(_counter("mimamori_deadletters_total")),
        },
        "recent_alerts": [],
    }
    if platform is not None and "alerts" in getattr(platform, "stages", {}):
        out["recent_alerts"] = platform.stages["alerts"].recent_alerts(20)
    elif platform is not None and (settings.state_dir / "alerts.db").exists():
        # the alerts stage runs in another process: read its store
        from alerts.store import AlertStore

        store = AlertStore.for_settings(settings)
        try:
            out["recent_alerts"] = store.recent(20)
        finally:
            store.close()
    return out
