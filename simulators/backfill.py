"""Accelerated runs straight into InfluxDB (``simulate run --influx``): the
readings of a scenario are turned into lines by ingest's own
:class:`ingest.points.LineBuilder` (people's positions go to the
``location`` measurement, as ingest does) and written in batches to the
retention policies ingest sets up — the platform's database gets history
without going through the bus (and without alerting anyone about the past).
Labels are written to the output folder as for files.

InfluxDB drops points older than a retention policy's duration (location:
30 days), so for history "up to now" use ``--end-now``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mimamori.config import Settings
from mimamori.contracts import Reading
from mimamori.offline import write_labels

from .build import build_models
from .offline_run import RunStats, chunk_ends
from .scenario import Scenario

BATCH_LINES = 5000


class BackfillError(Exception):
    """InfluxDB refused the data; the message is one plain line."""


def backfill(settings: Settings, scenario: Scenario, out_dir: Path | str, *,
             progress: Callable[[float, RunStats], None] | None = None) -> RunStats:
    from ingest.influx import InfluxClient, Outcome
    from ingest.points import LineBuilder
    from ingest.schema import InfluxV1Layout

    t0 = time.perf_counter()
    client = InfluxClient(settings.influx)
    layout = InfluxV1Layout(client, settings.ingest, settings.influx)
    layout.ensure()
    builder = LineBuilder()
    models = build_models(scenario)
    stats = RunStats(devices=len(models), simulated_s=scenario.duration_s)
    pending: dict[str, list[str]] = {"raw": [], "location": []}

    def flush(force: bool = False) -> None:
        for name, lines in pending.items():
            if lines and (force or len(lines) >= BATCH_LINES):
                rp = layout.target("location" if name == "location" else "wearable")
                res = client.write_lines(lines, retention_policy=rp)
                if res.outcome is not Outcome.OK:
                    raise BackfillError(f"InfluxDB refused a batch ({res.outcome.value}, "
                                        f"{res.status}): {res.message}")
                stats.rows += len(lines)
                lines.clear()

    ends = chunk_ends(scenario)
    try:
        for ci, until in enumerate(ends):
            for mi, m in enumerate(models):
                rows: list = []
                m.run_until(until, rows)
                for ts, fields in rows:
                    builder.add(Reading(m.device_id, m.profile, m.family, m.site, ts, fields),
                                pending["raw"], pending["location"])
                stats.readings += len(rows)
                flush()
                if progress:
                    stats.seconds = time.perf_counter() - t0
                    progress((ci + (mi + 1) / len(models)) / len(ends), stats)
        flush(force=True)
    finally:
        client.close()
    labels = sorted((lb for m in models for lb in m.finish()),
                    key=lambda lb: (lb.start_ns, lb.device_id, lb.kind.value))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_labels(out / "labels.csv", labels)
    stats.labels = len(labels)
    stats.seconds = time.perf_counter() - t0
    return stats
