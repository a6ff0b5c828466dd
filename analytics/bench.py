"""``mimamori bench detectors``: readings per second through every streaming
detector of each shipped profile on one core, and detector state per device.

For each profile: ``devices`` devices × ``per_device`` readings (synthetic,
:mod:`analytics.synthetic`) go through :class:`analytics.engine.Engine`
(score → decide → learn, as the stage does, without the bus). Warm-up
readings are not timed. ``bytes_per_device`` is the Python heap the
detectors of one device hold after warm-up (tracemalloc), and
``checkpoint_bytes_per_device`` the size of its JSON checkpoint.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Annotated

import orjson
import typer

from device_profiles import load_profiles
from mimamori.contracts import Family

from .engine import Engine
from .synthetic import readings

FAMILIES = {"wearable": Family.WEARABLE, "child_tag": Family.CHILD_TAG, "paddy": Family.PADDY,
            "water_main": Family.WATER_MAIN}


def measure(profile_id: str, family: Family, devices: int = 200, per_device: int = 300,
            warmup: int = 50) -> dict:
    profiles = load_profiles()
    data = readings(profile_id, family, devices, per_device + warmup)
    split = devices * warmup
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    eng = Engine(profiles)
    for r in data[:split]:
        eng.process(r)
    mem = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    timed = data[split:]
    t0 = time.perf_counter()
    for r in timed:
        eng.process(r)
    secs = time.perf_counter() - t0
    cp = len(json.dumps(eng.state(), separators=(",", ":")))
    return {"readings_per_s": int(len(timed) / secs), "bytes_per_device": int(mem / devices),
            "checkpoint_bytes_per_device": int(cp / devices),
            "detectors": len(next(iter(eng.devices.values())).wrappers)}


def bench_detectors(
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    devices: Annotated[int, typer.Option(help="devices per profile")] = 200,
    per_device: Annotated[int, typer.Option(help="timed readings per device")] = 300,
) -> None:
    """Streaming-detector throughput per shipped profile (one core) and memory per device."""
    out = {}
    for pid, prof in sorted(load_profiles().items()):
        fam = FAMILIES.get(prof.family.value)
        if fam is None:
            continue
        out[pid] = measure(pid, fam, devices, per_device)
    if json_out:
        typer.echo(orjson.dumps(out).decode())
        return
    for pid, r in out.items():
        typer.echo(f"{pid:24s} {r['readings_per_s']:>9,d} readings/s  "
                   f"{r['bytes_per_device']:>7,d} B/device  ({r['detectors']} detectors)")
