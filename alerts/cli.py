"""``mimamori outbox …``: what alerts sent, the alert list, LINE link codes."""

from __future__ import annotations

import secrets
from typing import Annotated

import orjson
import typer

outbox_app = typer.Typer(help="Alerts sent, acknowledgements, LINE link codes.",
                         no_args_is_help=True)


def _ctx():
    from mimamori.cli import settings

    from .web import AlertsWeb

    return AlertsWeb(settings())


@outbox_app.command("show")
def show(json_out: Annotated[bool, typer.Option("--json")] = False,
         limit: Annotated[int, typer.Option(help="newest N")] = 50) -> None:
    """What the demo's SMTP server and LINE stand-in received, with ack state."""
    from .web import outbox_rows

    rows = outbox_rows(_ctx(), limit)
    if json_out:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        typer.echo("nothing sent yet")
    for r in rows:
        ack = f"acked by {r['acked_by']} {r['acked_at']}" if r["acked_by"] else "not acked"
        typer.echo(f"{r['time']}  {r['channel']:6s} {r['to'][:34]:34s} {r['subject'][:40]}  "
                   f"[{r['state'] or '-'}; {ack}]")


@outbox_app.command("alerts")
def list_alerts(state: Annotated[str | None, typer.Option(help="open|acknowledged|resolved|active")] = None,
                json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The alert list, newest first."""
    alerts = _ctx().store.list_alerts(state)
    if json_out:
        typer.echo(orjson.dumps([a.to_dict() for a in alerts], option=orjson.OPT_INDENT_2).decode())
        return
    for a in alerts:
        who = f" by {a.acked_by}" if a.acked_by else ""
        typer.echo(f"#{a.alert_id:<5d} {a.state:12s}{who:14s} {a.severity:8s} {a.kind:22s} "
                   f"{a.device_id} ({a.site})")


@outbox_app.command("history")
def history(alert_id: int) -> None:
    """Every state change and delivery of one alert."""
    from datetime import datetime

    from .messages import TZ

    ctx = _ctx()
    for e in ctx.store.history(alert_id):
        t = datetime.fromtimestamp(e.ts_ns / 1e9, TZ).strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{t}  {e.event:20s} {e.actor or '':16s} {orjson.dumps(e.detail).decode()}")


@outbox_app.command("line-code")
def line_code(person_id: str,
              ttl_h: Annotated[float, typer.Option(help="hours the code stays valid")] = 72) -> None:
    """A one-time 6-digit code; sent to the LINE account, it binds that user to PERSON_ID."""
    ctx = _ctx()
    if ctx.registry.get_person(person_id) is None:
        from mimamori.cli import Fail

        raise Fail(f"person {person_id} is not in the registry; add them with `mimamori people add`")
    code = f"{secrets.randbelow(10**6):06d}"
    ctx.store.add_link_code(code, person_id, ttl_s=ttl_h * 3600)
    typer.echo(code)


@outbox_app.command("test-alert")
def test_alert(device: Annotated[str, typer.Option(help="device id")] = "demo-wearable",
               kind: Annotated[str, typer.Option(help="event kind")] = "fall",
               severity: Annotated[str, typer.Option()] = "critical",
               clear: Annotated[bool, typer.Option(help="clear it instead")] = False) -> None:
    """Publish a finding as analytics would (for the demo: a fall of the demo wearer)."""
    import time

    from mimamori.bus import Bus
    from mimamori.cli import Fail, settings
    from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity, partition
    from mimamori.registry import Registry
    from mimamori.topics import Topics

    s = settings()
    dev = Registry(s.registry).get_device(device)
    if dev is None:
        raise Fail(f"device {device} is not in the registry (the demo registers demo-wearable)")
    try:
        k, sev = EventKind(kind), Severity(severity)
    except ValueError as exc:
        raise Fail(str(exc)) from None
    evidence = {"fall_confidence": 0.94} if k is EventKind.FALL else {}
    f = Finding(device, k, sev, FindingState.CLEARED if clear else FindingState.OPENED,
                time.time_ns(), dev.site, dev.profile, Family.GENERIC, evidence)
    from mimamori.mqtt_auth import with_stage_credentials

    mqtt = with_stage_credentials(s, "admin").mqtt  # the demo runs the broker with users
    bus = Bus(mqtt, f"mimamori-test-alert-{time.time_ns()}", persistent=False).connect()
    try:
        bus.publish_durably([(Topics(s.bus.topic_root).findings(partition(device, s.bus.partitions)),
                              f.encode())])
    finally:
        bus.close()
    typer.echo(f"published {f.state.value} {kind} for {device}; see {s.web.url}alerts/outbox")
