"""``mimamori evaluate ...``: offline evaluation of the detectors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

evaluate_app = typer.Typer(help="Evaluate detectors offline (NAB, simulator scenarios, backtests).",
                           no_args_is_help=True)


@evaluate_app.command("nab")
def nab(data_dir: Path = typer.Argument(..., help="NAB data folder (<category>/<file>.csv)"),
        out_dir: Path = typer.Argument(..., help="where to write <category>/<file>.csv scores"),
        jobs: int = typer.Option(1, help="files scored in parallel (processes)")) -> None:
    """Score NAB-format CSVs with the one-configuration univariate detector."""
    from .nab import score_dir

    data = data_dir / "data" if (data_dir / "data").is_dir() else data_dir
    t0 = time.perf_counter()
    counts = score_dir(data, out_dir, jobs)
    secs = time.perf_counter() - t0
    rows = sum(counts.values())
    typer.echo(json.dumps({"files": len(counts), "rows": rows, "seconds": round(secs, 1),
                           "out_dir": str(out_dir)}))
