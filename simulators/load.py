"""Load generation: N simulated devices send at a total rate for a bounded
time through a transport; the achieved rate is measured, not assumed.

Each device's payloads come from its own model (a short stretch of its
simulated day, cycled), re-stamped with the wall clock at send time so no
two readings share a timestamp (InfluxDB would overwrite them).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from sqlalchemy import delete, insert

from mimamori.config import Settings
from mimamori.registry import Registry, devices

from .build import build_models
from .model import DeviceModel
from .scenario import Scenario
from .transports import Transport, transport_class

SAMPLES_PER_DEVICE = 12


def register_devices_fast(registry: Registry, models: list[DeviceModel],
                          transport: Transport | None = None, seed: int = 1) -> None:
    """Register many devices in one transaction (the load test needs the
    devices, not their people), with what their transport needs (DevAddr,
    keys, tokens)."""
    now = time.time_ns()
    rows, secrets = [], {}
    for i, m in enumerate(models):
        cols, sec = transport.provision(m, i, seed) if transport else ({}, {})
        rows.append({"device_id": m.device_id, "profile": m.profile, "site": m.site,
                     "name": f"load {m.device_id}", "params": "{}", "created_ns": now,
                     "dev_addr": None, **cols})
        if sec:
            secrets[m.device_id] = sec
    ids = [r["device_id"] for r in rows]
    with registry.engine.begin() as c:
        for i in range(0, len(ids), 500):
            c.execute(delete(devices).where(devices.c.device_id.in_(ids[i:i + 500])))
        c.execute(insert(devices), rows)
        registry._bump(c)
    for device_id, sec in secrets.items():
        registry.set_device_secrets(device_id, sec)


def load_models(family: str, n: int, transport: str, profile: str | None,
                seed: int = 1) -> list[DeviceModel]:
    sc = Scenario.model_validate({
        "name": "load", "seed": seed, "duration": "1d", "start": "2026-06-20T06:00:00+09:00",
        "groups": [{"family": family, "count": n, "id_prefix": f"load-{family.replace('_', '')}",
                    "transport": transport, "profile": profile}]})
    return build_models(sc)


def run_load(settings: Settings, *, devices: int, rate: float, seconds: float,
             family: str = "paddy", transport: str = "mqtt_json", profile: str | None = None,
             register: bool = True,
             progress: Callable[[int, float], None] | None = None) -> dict:
    models = load_models(family, devices, transport, profile)
    samples: list[list[dict]] = []
    for m in models:
        out: list = []
        m.run_until(m.start_ns + 4 * 3600 * 10**9, out)
        samples.append([f for _, f in out[:SAMPLES_PER_DEVICE]] or [{"battery_pct": 50.0}])
    t = transport_class(transport)(settings, "mimamori-load")
    if register:
        register_devices_fast(Registry(settings.registry), models, t)
        if transport in ("lorawan", "http"):
            time.sleep(2.5)  # running stages notice new devices within about a second
    t.open(models)
    sent = 0
    n = len(models)
    start = time.perf_counter()
    last_flush = start
    try:
        while True:
            now = time.perf_counter()
            elapsed = now - start
            if elapsed >= seconds:
                break
            due = int(rate * elapsed) - sent
            if due <= 0:
                time.sleep(min(0.002, seconds - elapsed))
                continue
            for _ in range(min(due, 5000)):
                i = sent % n
                m = models[i]
                fields = samples[i][(sent // n) % len(samples[i])]
                t.send(m, time.time_ns(), fields)
                sent += 1
            if now - last_flush > 0.25:  # keep the unacknowledged window bounded
                t.settle()
                last_flush = now
                if progress:
                    progress(sent, elapsed)
        sending_s = time.perf_counter() - start
        t.flush()
        acked_s = time.perf_counter() - start
    finally:
        t.close()
    return {"load": transport, "family": family, "profile": models[0].profile if models else "",
            "devices": n, "target_rate": rate, "seconds": round(sending_s, 2), "sent": sent,
            "achieved_rate": round(sent / sending_s, 1) if sending_s else 0.0,
            "acked_rate": round(sent / acked_s, 1) if acked_s else 0.0,
            # uplinks the platform's edge took (LoRaWAN: heard by a gateway; HTTP: 202)
            "delivered": t.sent, "lost": getattr(t, "lost", 0),
            "rejected": getattr(t, "rejected", 0)}


def payload_size(fields: dict) -> int:
    return len(orjson.dumps(fields))
