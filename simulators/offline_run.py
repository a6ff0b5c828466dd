"""Offline runs: a scenario → ``readings.csv`` + ``labels.csv`` in the
offline file format v1 (:mod:`mimamori.offline`), plus ``devices.json``
(each device's profile, site, place and the facts a family or farmer would
register, e.g. a home geofence or a school route).

Readings are written a chunk of simulated time (``chunk``, default one day)
at a time; within a chunk device after device, each in time order — the
format's "time order per device". Devices are cut into blocks that worker
processes simulate in parallel; the file is assembled in block order, so
the bytes are the same for any number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from mimamori.offline import LABELS_HEADER, READING_COLUMNS, READINGS_HEADER, Label, write_labels

from .build import build_model, scenario_weather
from .model import DeviceModel, Fields
from .scenario import DeviceSpec, Scenario
from .timebase import NS, parse_duration

BLOCK = 250  # devices per block of work
HEADER = (READINGS_HEADER + "\n" + ",".join(READING_COLUMNS) + "\n").encode()


def format_rows(model: DeviceModel, rows: Iterable[tuple[int, Fields]]) -> bytes:
    """Readings of one device as offline-format lines — the same bytes
    :class:`mimamori.offline.ReadingWriter` writes, built faster (ids and
    field names are plain ASCII, values JSON scalars: nothing needs quoting)."""
    tail = f",{model.device_id},{model.profile},{model.family.value},{model.site},".encode()
    dumps = orjson.dumps
    names = _NAMES
    parts: list[bytes] = []
    for ts, fields in rows:
        prefix = str(ts).encode() + tail
        parts += [prefix + (names.get(n) or _name(n)) + dumps(v) + b"\n"
                  for n, v in fields.items()]
    return b"".join(parts)


_NAMES: dict[str, bytes] = {}


def _name(n: str) -> bytes:
    _NAMES[n] = (n + ",").encode()
    return _NAMES[n]


@dataclass
class RunStats:
    devices: int = 0
    readings: int = 0
    rows: int = 0
    labels: int = 0
    seconds: float = 0.0
    simulated_s: int = 0

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {"devices": self.devices, "simulated_s": self.simulated_s,
                "readings": self.readings, "rows": self.rows, "labels": self.labels,
                "seconds": round(self.seconds, 2),
                "readings_per_s": round(self.readings_per_s),
                "device_days_per_s": round(self.devices * self.simulated_s / 86400
                                           / self.seconds, 1) if self.seconds else 0.0}


def chunk_ends(scenario: Scenario) -> list[int]:
    step = parse_duration(scenario.chunk) * NS
    ends, t = [], scenario.start_ns
    while t < scenario.end_ns:
        t = min(t + step, scenario.end_ns)
        ends.append(t)
    return ends


def _blocks(specs: list[DeviceSpec]) -> list[list[DeviceSpec]]:
    return [specs[i:i + BLOCK] for i in range(0, len(specs), BLOCK)]


class _Shard:
    """The devices of some blocks, simulated chunk after chunk."""

    def __init__(self, scenario: Scenario, blocks: list[list[DeviceSpec]]) -> None:
        weather = scenario_weather(scenario)
        self.blocks = [[build_model(scenario, s, weather) for s in b] for b in blocks]

    def run_block(self, i: int, until_ns: int) -> tuple[bytes, int, int]:
        out: list[bytes] = []
        n = rows = 0
        for m in self.blocks[i]:
            readings: list[tuple[int, Fields]] = []
            m.run_until(until_ns, readings)
            n += len(readings)
            rows += sum(len(f) for _, f in readings)
            out.append(format_rows(m, readings))
        return b"".join(out), n, rows

    def labels(self) -> list[Label]:
        return [lb for b in self.blocks for m in b for lb in m.finish()]


def _worker(scenario_json: str, block_ids: list[int], q) -> None:  # pragma: no cover - subprocess
    scenario = Scenario.model_validate_json(scenario_json)
    blocks = _blocks(scenario.device_specs())
    shard = _Shard(scenario, [blocks[i] for i in block_ids])
    for until in chunk_ends(scenario):
        for j in range(len(block_ids)):
            q.put(shard.run_block(j, until))
    q.put(shard.labels())


def run_offline(scenario: Scenario, out_dir: Path | str, *, workers: int = 1,
                progress: Callable[[float, RunStats], None] | None = None) -> RunStats:
    """Simulate the whole scenario into ``out_dir``; returns what was written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    specs = scenario.device_specs()
    blocks = _blocks(specs)
    ends = chunk_ends(scenario)
    stats = RunStats(devices=len(specs), simulated_s=scenario.duration_s)
    total_steps = max(1, len(ends) * len(blocks))
    done = 0
    workers = max(1, min(workers, len(blocks)))
    labels: list[Label] = []
    with open(out / "readings.csv", "wb") as f:
        f.write(HEADER)
        if workers == 1:
            shard = _Shard(scenario, blocks)
            sources = None
        else:
            ctx = mp.get_context("spawn")
            queues = [ctx.Queue(maxsize=4) for _ in range(workers)]
            procs = [ctx.Process(target=_worker, daemon=True,
                                 args=(scenario.model_dump_json(),
                                       list(range(w, len(blocks), workers)), queues[w]))
                     for w in range(workers)]
            for p in procs:
                p.start()
            sources = queues
        try:
            for until in ends:
                for bi in range(len(blocks)):
                    if sources is None:
                        data, n, rows = shard.run_block(bi, until)
                    else:
                        data, n, rows = sources[bi % workers].get(timeout=600)
                    f.write(data)
                    stats.readings += n
                    stats.rows += rows
                    done += 1
                    if progress is not None:
                        stats.seconds = time.perf_counter() - t0
                        progress(done / total_steps, stats)
            if sources is None:
                labels = shard.labels()
            else:
                for q in sources:
                    labels += q.get(timeout=600)
        finally:
            if sources is not None:
                for p in procs:
                    p.join(timeout=10)
                    if p.is_alive():
                        p.terminate()
    labels.sort(key=lambda lb: (lb.start_ns, lb.device_id, lb.kind.value, lb.end_ns,
                               lb.severity.value))
    write_labels(out / "labels.csv", labels)
    write_devices(scenario, specs, out / "devices.json")
    stats.labels = len(labels)
    stats.seconds = time.perf_counter() - t0
    return stats


def write_devices(scenario: Scenario, specs: list[DeviceSpec], path: Path) -> None:
    weather = scenario_weather(scenario)
    doc = {"scenario": scenario.name, "seed": scenario.seed, "start": scenario.start,
           "duration": scenario.duration, "run_out_s": parse_duration(scenario.run_out),
           "devices": [describe(build_model(scenario, s, weather), s) for s in specs]}
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def describe(model: DeviceModel, spec: DeviceSpec) -> dict:
    info = {"device_id": spec.device_id, "family": spec.family.value, "profile": model.profile,
            "site": model.site, "transport": spec.transport,
            "interval_s": model.interval_s}
    info.update(model.describe())
    return info


__all__ = ["run_offline", "format_rows", "RunStats", "LABELS_HEADER"]
