"""Run the univariate detector over NAB-format CSV files, strictly streaming.

Each ``DATA_DIR/<category>/<file>.csv`` (``timestamp,value``) becomes
``OUT_DIR/<category>/<file>.csv`` (``timestamp,value,anomaly_score``): the
score of row t is computed before row t is learned and from rows <= t only
(values and their timestamps).
One detector configuration for every file.
"""

from __future__ import annotations

import csv
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from .detectors.univariate import UnivariateNovelty


def score_file(src: Path, dst: Path, params: dict | None = None) -> int:
    dst.parent.mkdir(parents=True, exist_ok=True)
    det = UnivariateNovelty(**(params or {}))
    rows = 0
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.writer(fout, lineterminator="\n")
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for row in reader:
            value = float(row["value"])
            score = det.update(value, _seconds(row["timestamp"]))
            writer.writerow([row["timestamp"], row["value"], f"{score:.10g}"])
            rows += 1
    return rows


def _seconds(stamp: str) -> float:
    """A NAB timestamp (``2014-04-01 00:05:00``, UTC) as epoch seconds."""
    t = datetime.fromisoformat(stamp.strip().replace("T", " ").rstrip("Z"))
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def data_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*.csv") if p.is_file())


def score_dir(data_dir: Path, out_dir: Path, jobs: int = 1) -> dict[str, int]:
    files = data_files(data_dir)
    rels = [f.relative_to(data_dir) for f in files]
    dsts = [out_dir / r for r in rels]
    if jobs <= 1:
        counts = [score_file(s, d) for s, d in zip(files, dsts)]
    else:
        with ProcessPoolExecutor(jobs) as pool:
            counts = list(pool.map(score_file, files, dsts))
    return {str(r): c for r, c in zip(rels, counts)}
