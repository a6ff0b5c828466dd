"""The ``mimamori`` command. Every failure a user can meet (a service
unreachable, a port taken, a package missing, bad configuration) is printed
as one line saying what failed, where, and what to do — no traceback."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import orjson
import typer

from .config import ConfigError, Settings, load_settings

app = typer.Typer(help="mimamori (見守り): IoT watch-over and telemetry for a small town.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
services_app = typer.Typer(help="Start, stop and check Mosquitto and InfluxDB.",
                           no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (run on demand; they print JSON figures).",
                        no_args_is_help=True)
app.add_typer(services_app, name="services")
app.add_typer(bench_app, name="bench")

_state: dict = {}


class Fail(Exception):
    """One line for the user; exit status 1."""


def settings() -> Settings:
    if "settings" not in _state:
        _state["settings"] = load_settings(_state.get("config"))
    return _state["settings"]


@app.callback()
def main_options(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="more log output")] = False,
) -> None:
    _state["config"] = config
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "uvicorn", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# --- services -------------------------------------------------------------
@services_app.command("up")
def services_up() -> None:
    """Start Mosquitto and InfluxDB (those marked managed) and wait until ready."""
    from .services import ServiceManager

    mgr = ServiceManager(settings())
    started = mgr.up()
    for s in mgr.status():
        note = "started" if s.name in started else ("already running" if s.managed else "external")
        typer.echo(f"{s.name:10s} {s.url:28s} ready ({note})")


@services_app.command("down")
def services_down() -> None:
    """Stop the servers this project started (by pid)."""
    from .services import ServiceManager

    stopped = ServiceManager(settings()).down()
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@services_app.command("status")
def services_status(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show whether each server is running and ready."""
    from .services import ServiceManager

    st = [s.to_dict() for s in ServiceManager(settings()).status()]
    if json_out:
        typer.echo(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode())
        return
    for s in st:
        state = "ready" if s["ready"] else "NOT READY"
        typer.echo(f"{s['name']:10s} {s['url']:28s} {state} ({s['detail']})")


# --- status ---------------------------------------------------------------
@app.command("status")
def status(json_out: Annotated[bool, typer.Option("--json", help="machine-readable JSON")] = False) -> None:
    """URLs of the broker, InfluxDB and web UI, and which stages are running."""
    from .status import collect_status

    st = collect_status(settings())
    st.pop("counters", None)
    st.pop("recent_alerts", None)
    if json_out:
        typer.echo(orjson.dumps(st, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(f"MQTT broker : {st['mqtt_url']}")
    typer.echo(f"InfluxDB    : {st['influx_url']} (database {st['influx_database']})")
    typer.echo(f"Web UI      : {st['web_url']}")
    for s in st["services"]:
        typer.echo(f"  {s['name']:10s} {'ready' if s['ready'] else 'not ready'}")
    for name, running in st["stages"].items():
        typer.echo(f"  stage {name:10s} {'running' if running else '-'}")


# --- running stages -------------------------------------------------------
def _preflight(stages: list[str]) -> None:
    """Say in one line which server is unreachable before starting stages."""
    from .services import influx_ready, mqtt_ready

    s = settings()
    if any(st != "web" for st in stages):
        m = s.mqtt
        if m.auth:  # anonymous clients are refused: probe as the admin user
            from .mqtt_auth import with_stage_credentials

            m = with_stage_credentials(s, "admin").mqtt
        ok, detail = mqtt_ready(m.host, m.port, timeout=3.0, username=m.username,
                                password=m.password)
        # A broker that answers with a refusal (auth on) is reachable; the
        # stages connect with their own credentials.
        if not ok and not m.auth and detail in ("Not authorized", "Bad user name or password"):
            ok = True
        if not ok:
            raise Fail(f"MQTT broker at {s.mqtt.url} is unreachable ({detail}); start it with "
                       "`mimamori services up` or set MIMAMORI_MQTT__URL")
    if "ingest" in stages:
        ok, detail = influx_ready(s.influx.url, timeout=3.0)
        if not ok:  # ingest starts anyway: it buffers on disk until InfluxDB answers
            typer.echo(f"mimamori: warning: InfluxDB at {s.influx.url} is unreachable "
                       f"({detail}); ingest buffers readings on disk until it answers "
                       "(start it with `mimamori services up` or set MIMAMORI_INFLUX__URL)",
                       err=True)


def _run_until_signal(stages: list[str], extra=None) -> None:
    from .runtime import Platform

    _preflight(stages)
    platform = Platform(settings(), stages)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.start()
        if extra is not None:
            extra(platform)
        typer.echo(f"running: {', '.join(stages)} — Ctrl-C stops")
        while not stop.wait(0.5):
            pass
    finally:
        typer.echo("stopping…")
        for obj in platform.extras.values():
            obj.stop()
        platform.stop()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


@app.command("run")
def run(
    stages: Annotated[str, typer.Option(help="comma-separated stages")] = "gateway,ingest,analytics,alerts,web",
) -> None:
    """Run all stages (or the ones named) in this process."""
    _run_until_signal([s.strip() for s in stages.split(",") if s.strip()])


def _stage_command(name: str, doc: str):
    def cmd() -> None:
        _run_until_signal([name])

    cmd.__doc__ = doc
    app.command(name)(cmd)


_stage_command("gateway", "Run the gateway stage alone (device uplinks → readings bus).")
_stage_command("ingest", "Run the ingest stage alone (readings bus → InfluxDB).")
_stage_command("analytics", "Run the analytics stage alone (readings → findings).")
_stage_command("alerts", "Run the alerts stage alone (findings → alerts).")
_stage_command("web", "Run the web UI and API alone.")


# --- demo -------------------------------------------------------------------
@app.command("demo")
def demo(
    devices: Annotated[int, typer.Option(help="simulated devices")] = 8,
    interval: Annotated[float, typer.Option(help="seconds between uplinks")] = 5.0,
) -> None:
    """Start the servers, the platform and a small simulated fleet; Ctrl-C stops all."""
    from alerts.demo import DemoPortTaken, seed_demo_people, start_demo_outbox
    from simulators.live import LiveSimulator

    from .services import ServiceManager

    s = settings()
    if "auth" not in s.mqtt.model_fields_set:  # the demo runs with per-user MQTT access
        s = _state["settings"] = s.model_copy(update={"mqtt": s.mqtt.model_copy(
            update={"auth": True})})
    mgr = ServiceManager(s)
    started = mgr.up()
    outbox = None
    try:
        try:
            outbox = start_demo_outbox(s)  # local SMTP server + LINE stand-in
        except DemoPortTaken as exc:
            raise Fail(str(exc)) from None
        if s.alerts_config is None:  # alerts go to the stand-ins
            s = _state["settings"] = s.model_copy(update={"alerts_config": outbox.config_path})

        def with_sim(platform) -> None:
            from .mqtt_auth import with_stage_credentials

            sim_settings = with_stage_credentials(s, "admin")  # the fleet stands in for devices
            platform.extras["simulator"] = LiveSimulator(sim_settings, devices=devices,
                                                         interval_s=interval,
                                                         platform=platform).start()
            seed_demo_people(s)
            from dashboards.demo_town import DEMO_PASSWORD, seed

            town = seed(s, with_alerts=False)  # accounts, and a week of history to look at
            typer.echo("")
            typer.echo(f"  mimamori is running.  Web UI: {s.web.url}")
            typer.echo(f"  ログイン / log in (password {DEMO_PASSWORD}): "
                       + ", ".join(["hanako", "taro", "suido", "admin", *town["world_users"]]))
            typer.echo(f"  MQTT {s.mqtt.url} · InfluxDB {s.influx.url} (db {s.influx.database})")
            typer.echo(f"  Alerts sent (outbox): {s.web.url}alerts/outbox")
            typer.echo("")

        _run_until_signal(["gateway", "ingest", "analytics", "alerts", "web"], with_sim)
    finally:
        if outbox is not None:
            outbox.stop()
        stopped = mgr.down(only=started)
        if stopped:
            typer.echo(f"stopped {', '.join(stopped)}")


# --- subcommands that live beside the code they drive -------------------------
# Each area owns its commands in its own module; one line here mounts them.
# A module that does not exist yet is skipped.
def _mount(parent: typer.Typer, name: str, target: str, *, group: bool = True) -> None:
    from .plugins import load

    obj = load(target)
    if obj is None:
        return
    if group:
        parent.add_typer(obj, name=name)
    else:
        parent.command(name)(obj)


_mount(app, "simulate", "simulators.cli:simulate_app")
_mount(app, "codec", "device_profiles.cli:codec_app")
_mount(app, "devices", "mimamori.registry_cli:devices_app")
_mount(app, "people", "mimamori.registry_cli:people_app")
_mount(app, "sites", "mimamori.registry_cli:sites_app")
_mount(app, "lorawan", "gateway.cli:lorawan_app")
_mount(app, "evaluate", "analytics.cli:evaluate_app")
_mount(app, "users", "dashboards.cli:users_app")
_mount(app, "grafana", "dashboards.cli:grafana_app")
_mount(app, "screenshots", "dashboards.cli:screenshots", group=False)
_mount(app, "outbox", "alerts.cli:outbox_app")
_mount(bench_app, "codecs", "device_profiles.bench:bench_codecs", group=False)
_mount(bench_app, "lorawan", "gateway.bench:bench_lorawan", group=False)
_mount(bench_app, "ingest", "ingest.bench:bench_ingest", group=False)
_mount(bench_app, "detectors", "analytics.bench:bench_detectors", group=False)
_mount(bench_app, "alerts", "alerts.bench:bench_alerts", group=False)


def main() -> None:
    from .bus import BusError
    from .services import ServiceError

    known: tuple[type[BaseException], ...] = (ConfigError, ServiceError, BusError, Fail)
    try:
        from dashboards.server import WebPortTaken
        from ingest.influx import InfluxError, InfluxUnavailable

        known += (InfluxUnavailable, InfluxError, WebPortTaken)
    except ImportError:  # pragma: no cover
        pass
    try:
        app()
    except known as exc:
        typer.echo(f"mimamori: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
