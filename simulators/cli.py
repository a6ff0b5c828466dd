"""``mimamori simulate …``: run scenarios (offline to files, or live against
the platform), generate load, plot a week per family, benchmark."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

simulate_app = typer.Typer(help="Simulated devices with labelled, injected anomalies.",
                           no_args_is_help=True)


def _fail(msg: str) -> None:
    from mimamori.cli import Fail

    raise Fail(msg)


def _load(scenario: str, **overrides):
    from .scenario import ScenarioError, load_scenario

    try:
        return load_scenario(scenario, **overrides)
    except ScenarioError as exc:
        _fail(str(exc))


@simulate_app.command("run")
def simulate_run(
    scenario: Annotated[str, typer.Argument(help="scenario YAML file, or a built-in name "
                                                 "(demo, eval_small, bench)")] = "demo",
    out: Annotated[Path | None, typer.Option(help="offline: folder for readings.csv, "
                                                  "labels.csv, devices.json")] = None,
    mode: Annotated[str | None, typer.Option(help="offline or live (default: the file's)")] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
    span: Annotated[str | None, typer.Option("--span", help="override the simulated span, "
                                                            "e.g. 3d")] = None,
    workers: Annotated[int, typer.Option(help="offline: worker processes")] = 1,
    time_scale: Annotated[float | None, typer.Option(help="live: simulated s per real s")] = None,
    devices: Annotated[int | None, typer.Option(help="live demo: cap the fleet size")] = None,
    interval: Annotated[float | None, typer.Option(help="live demo: fastest interval (s)")] = None,
    duration: Annotated[float, typer.Option(help="live: stop after this many real seconds "
                                                 "(0 = until Ctrl-C)")] = 0.0,
    influx: Annotated[bool, typer.Option("--influx", help="offline: write the readings into "
                                         "the platform's InfluxDB instead of readings.csv")] = False,
    end_now: Annotated[bool, typer.Option("--end-now", help="offline: shift the scenario to end "
                                          "now (same time of day)")] = False,
) -> None:
    """Run a scenario: offline (accelerated, to files, with progress and ETA)
    or live against the running platform (real time or time_scale×)."""
    sc = _load(scenario, seed=seed, duration=span, mode=mode, time_scale=time_scale)
    if end_now:
        sc = shift_to_end_now(sc)
    if sc.mode == "offline" and influx:
        _run_backfill(sc, out or Path("out") / sc.name)
    elif sc.mode == "offline":
        _run_offline(sc, out or Path("out") / sc.name, workers)
    else:
        _run_live(sc, scenario, devices, interval, duration)


def shift_to_end_now(sc):
    """The scenario moved so it ends now (anomaly offsets move with it)."""
    from datetime import datetime, timedelta

    from .timebase import JST

    start = datetime.now(JST).replace(microsecond=0) - timedelta(seconds=sc.duration_s)
    return sc.model_validate({**sc.model_dump(mode="json"), "start": start.isoformat()})


def _progress_bar():
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                    TextColumn("{task.fields[readings]:,} readings"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn())


def _run_backfill(sc, out: Path) -> None:
    from mimamori.cli import settings

    from .backfill import BackfillError, backfill

    s = settings()
    typer.echo(f"scenario {sc.name}: {len(sc.device_specs())} devices, {sc.duration} from "
               f"{sc.start} → InfluxDB {s.influx.url} (db {s.influx.database}); labels → {out}/")
    try:
        with _progress_bar() as bar:
            task = bar.add_task("backfilling", total=1.0, readings=0)
            stats = backfill(s, sc, out, progress=lambda f, st: bar.update(
                task, completed=f, readings=st.readings))
    except BackfillError as exc:
        _fail(str(exc))
    typer.echo(orjson.dumps({"influx": s.influx.url, "database": s.influx.database,
                             "labels": str(out / "labels.csv"), **stats.to_dict()}).decode())


def _run_offline(sc, out: Path, workers: int) -> None:
    from .offline_run import run_offline

    n = len(sc.device_specs())
    typer.echo(f"scenario {sc.name}: {n} devices, {sc.duration} from {sc.start}, seed {sc.seed}"
               f" → {out}/")
    with _progress_bar() as bar:
        task = bar.add_task("simulating", total=1.0, readings=0)
        stats = run_offline(sc, out, workers=workers,
                            progress=lambda frac, st: bar.update(task, completed=frac,
                                                                 readings=st.readings))
    typer.echo(orjson.dumps({"out": str(out), **stats.to_dict()}).decode())


def _run_live(sc, scenario: str, devices: int | None, interval: float | None,
              duration: float) -> None:
    from mimamori.cli import settings

    from .live import LiveRunner, LiveSimulator

    s = settings()
    if s.mqtt.auth and not s.mqtt.username:  # the simulated fleet speaks as the operators' user
        from mimamori.mqtt_auth import with_stage_credentials

        s = with_stage_credentials(s, "admin")
    if devices is not None or interval is not None:
        sim = LiveSimulator(s, devices=devices or 1000, interval_s=interval or 1,
                            scenario=scenario, time_scale=sc.time_scale)
    else:
        sim = LiveRunner(s, sc)
    sim.start()
    typer.echo(f"live: {len(sim.models)} devices via {', '.join(sim.transports) or 'nothing'}"
               f", ×{sim.scale:g} from {sim.scenario.start} — Ctrl-C stops")
    try:
        end = time.monotonic() + duration if duration else None
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        typer.echo(f"sent {sim.sent} uplinks; labels → {sim.labels_path()}")


@simulate_app.command("bench")
def simulate_bench(
    devices: Annotated[int, typer.Option(help="devices (mixed families)")] = 10_000,
    span: Annotated[str, typer.Option(help="simulated span")] = "1d",
    workers: Annotated[int, typer.Option(help="worker processes")] = 2,
    out: Annotated[Path | None, typer.Option(help="keep the files here (default: a temporary "
                                                  "folder, removed)")] = None,
) -> None:
    """Benchmark: N devices for one simulated day offline; prints JSON with the rate."""
    import shutil
    import tempfile

    from .offline_run import run_offline

    sc = _load("bench", duration=span)
    total = sum(g.count for g in sc.groups)
    groups = []
    left = devices
    for i, g in enumerate(sc.groups):
        n = devices * g.count // total if i < len(sc.groups) - 1 else left
        left -= n
        groups.append(g.model_copy(update={"count": n}).model_dump(mode="json"))
    sc = sc.model_validate({**sc.model_dump(), "groups": groups})
    folder = out or Path(tempfile.mkdtemp(prefix="mimamori-bench-"))
    try:
        stats = run_offline(sc, folder, workers=workers)
        size = (folder / "readings.csv").stat().st_size
    finally:
        if out is None:
            shutil.rmtree(folder, ignore_errors=True)
    typer.echo(orjson.dumps({"benchmark": "simulate offline", "workers": workers,
                             "families": {g["family"]: g["count"] for g in groups},
                             "readings_mb": round(size / 1e6, 1), **stats.to_dict(),
                             "goal_s": 120, "met": stats.seconds < 120}).decode())


@simulate_app.command("plot")
def simulate_plot(
    scenario: Annotated[str, typer.Argument(help="scenario (default: one device per family "
                                                 "for a week)")] = "plot_week",
    out: Annotated[Path, typer.Option(help="folder for the PNG files")] = Path("out/plots"),
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed")] = None,
) -> None:
    """PNG charts of a week of one device per family, injected anomalies shaded."""
    from .plot import plot_week

    sc = _load(scenario, seed=seed)
    if len(sc.device_specs()) > 20:
        _fail(f"{scenario} has {len(sc.device_specs())} devices; plot draws one PNG per device "
              "— use a scenario with a few")
    for p in plot_week(sc, out):
        typer.echo(str(p))


@simulate_app.command("load")
def simulate_load(
    devices: Annotated[int, typer.Option(help="simulated devices")] = 1000,
    rate: Annotated[float, typer.Option(help="total uplinks per second")] = 1000.0,
    seconds: Annotated[float, typer.Option(help="how long to send (real seconds)")] = 10.0,
    family: Annotated[str, typer.Option(help="wearable, child_tag, paddy or water_main")] = "paddy",
    transport: Annotated[str, typer.Option(help="mqtt_json, mqtt_binary, lorawan, http")] = "mqtt_json",
    profile: Annotated[str | None, typer.Option(help="default: the transport's profile "
                                                     "(paddy over mqtt_json: paddy_json_v1)")] = None,
) -> None:
    """N devices at a total rate for a bounded time; prints the rate achieved (JSON)."""
    from mimamori.cli import settings

    from .load import run_load
    from .transports import TransportUnavailable

    if profile is None and family == "paddy" and transport == "mqtt_json":
        profile = "paddy_json_v1"
    try:
        result = run_load(settings(), devices=devices, rate=rate, seconds=seconds, family=family,
                          transport=transport, profile=profile)
    except TransportUnavailable as exc:
        _fail(str(exc))
    typer.echo(orjson.dumps(result).decode())
