"""``mimamori bench detectors``: readings per second through every streaming
detector of each shipped profile on one core, and detector state per device.

For each profile: ``devices`` devices × ``per_device`` readings (synthetic,
:mod:`analytics.synthetic`) go through :class:`analytics.engine.Engine`
(score → decide → learn, as the stage does, without the bus). Warm-up
readings are not timed. ``bytes_per_device`` is the Python heap the
detectors of one device hold after warm-up (tracemalloc), and
``checkpoint_bytes_per_device`` the size of its JSON checkpoint.
``readings_per_cpu_s`` divides by the process's CPU time instead of the wall
clock: on a machine shared with other work it is the steadier figure of what
one core does.

``batch_model`` is the per-site IsolationForest (:mod:`analytics.site_model`),
measured apart: water-main readings of ``devices`` monitors in 10 sites,
trained on ``train_per_device`` readings each, then streamed through the
batch scorer (features per reading, one forest call per site batch):
``readings_per_s`` end to end, ``train_s_per_site`` for one (re)training.
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
from .site_model import BatchScorer, SiteModel, SiteModelConfig
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
    t0, c0 = time.perf_counter(), time.process_time()
    for r in timed:
        eng.process(r)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    cp = len(json.dumps(eng.state(), separators=(",", ":")))
    return {"readings_per_s": int(len(timed) / secs),
            "readings_per_cpu_s": int(len(timed) / max(cpu, 1e-9)),
            "bytes_per_device": int(mem / devices),
            "checkpoint_bytes_per_device": int(cp / devices),
            "detectors": len(next(iter(eng.devices.values())).wrappers)}


def measure_batch_model(devices: int = 40, train_per_device: int = 1000,
                        per_device: int = 1000) -> dict:
    cfg = SiteModelConfig()
    data = readings("water_main_v1", Family.WATER_MAIN, devices, train_per_device + per_device)
    split = devices * train_per_device
    by_site: dict[str, dict[str, list]] = {}
    for r in data[:split]:
        by_site.setdefault(r.site, {}).setdefault(r.device_id, []).append((r.ts_ns, r.fields))
    t0 = time.perf_counter()
    models = {(site, "water_main"): SiteModel.fit(site, "water_main", rows, cfg, 0)
              for site, rows in by_site.items()}
    train_s = (time.perf_counter() - t0) / len(models)
    scorer = BatchScorer(cfg)
    scorer.set_models({k: m for k, m in models.items() if m is not None})
    timed = data[split:]
    t0 = time.perf_counter()
    for r in timed:
        key = scorer.add(r, now=0.0)
        if key is not None:
            scorer.score(key)
    for key in list(scorer.pending):
        scorer.score(key)
    secs = time.perf_counter() - t0
    return {"readings_per_s": int(len(timed) / secs), "batch_readings": cfg.batch_readings,
            "batches": scorer.batches, "sites": len(models),
            "train_s_per_site": round(train_s, 2), "n_estimators": cfg.n_estimators}


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
    out["batch_model"] = measure_batch_model()
    if json_out:
        typer.echo(orjson.dumps(out).decode())
        return
    bm = out.pop("batch_model")
    for pid, r in out.items():
        typer.echo(f"{pid:24s} {r['readings_per_s']:>9,d} readings/s  "
                   f"{r['bytes_per_device']:>7,d} B/device  ({r['detectors']} detectors)")
    typer.echo(f"{'batch_model (per site)':24s} {bm['readings_per_s']:>9,d} readings/s  "
               f"batches of {bm['batch_readings']}, {bm['train_s_per_site']} s to train a site")
