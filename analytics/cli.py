"""``mimamori evaluate ...``: offline evaluation of the detectors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

evaluate_app = typer.Typer(help="Evaluate detectors offline (NAB, simulator scenarios, backtests).",
                           no_args_is_help=True)


@evaluate_app.command("nab")
def nab(data_dir: Annotated[Path, typer.Argument(help="NAB data folder (<category>/<file>.csv)")],
        out_dir: Annotated[Path, typer.Argument(help="where to write the scored CSVs")],
        jobs: Annotated[int, typer.Option(help="files scored in parallel (processes)")] = 1,
        ) -> None:
    """Score NAB-format CSVs with the one-configuration univariate detector."""
    from .nab import score_dir

    data = data_dir / "data" if (data_dir / "data").is_dir() else data_dir
    t0 = time.perf_counter()
    counts = score_dir(data, out_dir, jobs)
    secs = time.perf_counter() - t0
    rows = sum(counts.values())
    typer.echo(json.dumps({"files": len(counts), "rows": rows, "seconds": round(secs, 1),
                           "out_dir": str(out_dir)}))


@evaluate_app.command("scenario")
def scenario(
    file: Annotated[str, typer.Argument(help="scenario YAML (or a built-in name), or an offline "
                                             "run folder with readings.csv + labels.csv")],
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    png: Annotated[Path | None, typer.Option(help="write a PNG plot here")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for the simulated run "
                                                  "(default: a temporary one)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    span: Annotated[str | None, typer.Option(help="override the simulated span, e.g. 7d")] = None,
    workers: Annotated[int, typer.Option(help="simulator worker processes")] = 1,
    run_out: Annotated[str | None, typer.Option(
        "--run-out", help="labels beginning this close to the end are not scored, e.g. 2d "
                          "(default: the scenario's run_out, kept in devices.json)")] = None,
) -> None:
    """Run a simulator scenario offline through the detectors and score them
    against its labels: recall, precision, false alerts per 100 device-days,
    detection delay (median / p95), per event class."""
    import tempfile

    from .evaluate import evaluate_dir, plot, table

    from simulators.timebase import parse_duration

    try:
        run_out_s = None if run_out is None else float(parse_duration(run_out))
    except ValueError as exc:
        typer.echo(f"error: --run-out: {exc}", err=True)
        raise typer.Exit(2) from None
    src = Path(file)
    holidays: list[str] = []
    tmp = None
    if src.is_dir():
        data = src
    else:
        from simulators.offline_run import run_offline
        from simulators.scenario import ScenarioError, load_scenario

        try:
            sc = load_scenario(file, seed=seed, duration=span, mode="offline")
        except ScenarioError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if out is None:
            tmp = tempfile.TemporaryDirectory(prefix="mimamori-eval-")
            data = Path(tmp.name)
        else:
            data = out
        run_offline(sc, data, workers=workers)
        holidays = _holiday_dates(sc)
    try:
        report = evaluate_dir(data, holidays=holidays, run_out_s=run_out_s)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if png is not None:
        plot(report, png)
    if json_out:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        typer.echo(table(report))


def _holiday_dates(sc) -> list[str]:
    import datetime as dt

    return [(dt.date(1970, 1, 1) + dt.timedelta(days=int(d))).isoformat()
            for d in sc.holiday_days()]


@evaluate_app.command("backtest")
def backtest_cmd(
    from_: Annotated[str, typer.Option("--from", help="start, ISO 8601 (JST if no zone)")],
    to: Annotated[str, typer.Option("--to", help="end, ISO 8601 (JST if no zone)")],
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Run the detectors over stored InfluxDB history; report the findings
    they would have produced (nothing is published)."""
    from device_profiles import load_profiles
    from ingest.influx import InfluxClient
    from mimamori.cli import settings as load_settings
    from mimamori.registry import Registry

    from .backtest import backtest, load_readings, parse_time
    from .settings_ctx import RegistryCtx

    s = load_settings()
    start, end = parse_time(from_), parse_time(to)
    influx = InfluxClient(s.influx)
    try:
        readings = load_readings(influx, start, end)
    finally:
        influx.close()
    report = backtest(readings, load_profiles(), RegistryCtx(Registry(s.registry)), end)
    if json_out:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    typer.echo(f"{report['readings']} readings of {report['devices']} devices "
               f"{from_} … {to}: {report['opened']} findings would have opened")
    for kind, n in report["opened_by_kind"].items():
        typer.echo(f"  {kind:<24}{n:>6}")
