"""``mimamori simulate …``: simulated devices."""

from __future__ import annotations

from typing import Annotated

import typer

simulate_app = typer.Typer(help="Simulated devices.", no_args_is_help=True)


@simulate_app.command("run")
def simulate_run(
    devices: Annotated[int, typer.Option(help="number of simulated paddy sensors")] = 5,
    interval: Annotated[float, typer.Option(help="seconds between uplinks of each device")] = 5.0,
    seed: Annotated[int, typer.Option()] = 1,
    duration: Annotated[float, typer.Option(help="stop after this many seconds (0 = until Ctrl-C)")] = 0.0,
) -> None:
    """Simulate devices live against the running platform."""
    import time

    from simulators.live import LiveSimulator

    from mimamori.cli import settings

    sim = LiveSimulator(settings(), devices=devices, interval_s=interval, seed=seed).start()
    typer.echo(f"simulating {devices} devices every {interval}s — Ctrl-C stops")
    try:
        end = time.monotonic() + duration if duration else None
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        typer.echo(f"sent {sim.sent} readings")


