"""`mimamori evaluate nab` on a small synthetic NAB-format folder."""

from __future__ import annotations

import csv
import math
import random

from typer.testing import CliRunner

from mimamori.cli import app


def _write_series(path, n=900, spike_at=700):
    rnd = random.Random(7)
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for t in range(n):
            v = 50 + 10 * math.sin(t / 20) + rnd.gauss(0, 0.5) + (60 if t == spike_at else 0)
            w.writerow([f"2020-01-{1 + t // 288:02d} {(t % 288) // 12:02d}:{(t % 12) * 5:02d}:00",
                        round(v, 3)])


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_nab_writes_streaming_scores(tmp_path):
    src = tmp_path / "data" / "synthetic" / "spike.csv"
    _write_series(src)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["evaluate", "nab", str(tmp_path / "data"), str(out)])
    assert result.exit_code == 0, result.output
    rows, data = _rows(out / "synthetic" / "spike.csv"), _rows(src)
    assert [r["timestamp"] for r in rows] == [r["timestamp"] for r in data]
    scores = [float(r["anomaly_score"]) for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert 700 <= max(range(len(scores)), key=scores.__getitem__) <= 705  # flagged promptly
    # streaming: the scores of the first 700 rows do not depend on what follows
    head = tmp_path / "head" / "synthetic" / "spike.csv"
    head.parent.mkdir(parents=True)
    head.write_text("\n".join(src.read_text().splitlines()[:701]) + "\n")
    out2 = tmp_path / "out2"
    args = ["evaluate", "nab", str(tmp_path / "head"), str(out2)]
    assert CliRunner().invoke(app, args).exit_code == 0
    head_scores = [float(r["anomaly_score"]) for r in _rows(out2 / "synthetic" / "spike.csv")]
    assert head_scores == scores[:700]
