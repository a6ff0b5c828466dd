"""``mimamori users …``, ``mimamori grafana …`` and ``mimamori screenshots``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

users_app = typer.Typer(help="Web accounts: add, list, change passwords, audit log.",
                        no_args_is_help=True)
grafana_app = typer.Typer(help="Grafana dashboards as code: export files, push to a Grafana.",
                          no_args_is_help=True)


def _settings():
    from mimamori.cli import settings

    return settings()


def _fail(msg: str):
    from mimamori.cli import Fail

    return Fail(msg)


def _accounts():
    from .accounts import Accounts

    return Accounts(_settings().registry)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="family | farmer | public_works | admin")],
    person: Annotated[str | None, typer.Option(help="the registry person this account is")] = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
    language: Annotated[str, typer.Option(help="ja | en")] = "ja",
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="read the password from stdin")] = False,
    replace: Annotated[bool, typer.Option(help="replace an existing account")] = False,
) -> None:
    """Add a web account linked to a registry person."""
    from mimamori.registry import Registry

    from .accounts import ROLES, AccountError

    s = _settings()
    if role not in ROLES:
        raise _fail(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if person and Registry(s.registry).get_person(person) is None:
        raise _fail(f"person {person} is not in the registry; add it with `mimamori people add`")
    if role != "admin" and not person:
        raise _fail(f"a {role} account needs --person (whose relations decide what it sees)")
    try:
        u = _accounts().add_user(username, _password(password_stdin), role, person_id=person,
                                 display_name=name, language=language, replace=replace)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"added {u.username} ({u.role}{', ' + u.person_id if u.person_id else ''})")


@users_app.command("list")
def users_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List accounts (never their password hashes)."""
    users = _accounts().list_users()
    if json_out:
        typer.echo(orjson.dumps([{"username": u.username, "role": u.role,
                                  "person_id": u.person_id, "display_name": u.display_name,
                                  "language": u.language, "disabled": u.disabled}
                                 for u in users], option=orjson.OPT_INDENT_2).decode())
        return
    for u in users:
        flag = " (disabled)" if u.disabled else ""
        typer.echo(f"{u.username:16s} {u.role:13s} {u.person_id or '-':20s} {u.display_name}{flag}")


@users_app.command("passwd")
def users_passwd(username: str, password_stdin: Annotated[bool, typer.Option(
        "--password-stdin")] = False) -> None:
    """Set a new password (ends the account's sessions)."""
    from .accounts import AccountError

    try:
        _accounts().set_password(username, _password(password_stdin))
    except AccountError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"password of {username} changed")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account (ends its sessions)."""
    from .accounts import AccountError

    try:
        _accounts().set_disabled(username, True)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{username} disabled")


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled account."""
    from .accounts import AccountError

    try:
        _accounts().set_disabled(username, False)
    except AccountError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{username} enabled")


@users_app.command("remove")
def users_remove(username: str) -> None:
    """Remove an account."""
    if not _accounts().remove_user(username):
        raise _fail(f"no user {username}")
    typer.echo(f"{username} removed")


@users_app.command("audit")
def users_audit(
    user: Annotated[str | None, typer.Option(help="only this account")] = None,
    subject: Annotated[str | None, typer.Option(help="only this person/site/device id")] = None,
    denied: Annotated[bool, typer.Option(help="only refused attempts")] = False,
    limit: int = 50,
) -> None:
    """Show the audit log (views of people's data, refusals, acknowledgements, edits)."""
    from .views import local_time

    for e in _accounts().audit_entries(username=user, subject_id=subject,
                                       outcome="denied" if denied else None, limit=limit):
        typer.echo(f"{local_time(e.ts_ns)}  {e.username:12s} {e.action:8s} {e.outcome:7s} "
                   f"{e.subject_kind}:{e.subject_id} {e.what}")


@users_app.command("demo")
def users_demo(history: Annotated[bool, typer.Option(help="also write a week of readings")] = True
               ) -> None:
    """Create the demo town's people, places, devices and accounts (password mimamori-demo)."""
    from .demo_town import DEMO_PASSWORD, USERS, seed

    n = seed(_settings(), with_history=history)
    typer.echo(f"demo town ready: {n['users']} accounts ({', '.join(u[0] for u in USERS)}), "
               f"password {DEMO_PASSWORD}; {n['points']} readings written, {n['alerts']} alerts")
    if n["world_users"]:
        typer.echo(f"accounts for the live simulator's people: {', '.join(n['world_users'])}")


# --- grafana -------------------------------------------------------------------
@grafana_app.command("export")
def grafana_export(directory: Path) -> None:
    """Write the dashboards (JSON) and provisioning files (YAML) into DIRECTORY."""
    for p in export(directory):
        typer.echo(str(p))


def export(directory: Path) -> list[Path]:
    from .grafana.provision import export as do_export

    return do_export(directory, _settings().reader_influx())


@grafana_app.command("push")
def grafana_push(
    url: Annotated[str, typer.Option(help="Grafana's base URL, e.g. http://127.0.0.1:3000")],
    token: Annotated[str, typer.Option(help="a service-account token (Editor)",
                                       envvar="GRAFANA_TOKEN")],
) -> None:
    """Create/update the InfluxDB datasource, the folder and every dashboard."""
    from .grafana.provision import GrafanaPushError, push

    try:
        r = push(url, token, _settings().reader_influx())
    except GrafanaPushError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Grafana {r.grafana_version}: datasource {r.datasource}, folder {r.folder}")
    for d in r.dashboards:
        typer.echo(f"  {d['uid']:24s} version {d['version']}  {url.rstrip('/')}{d['url']}")


# --- screenshots -----------------------------------------------------------------
def screenshots(
    directory: Path,
    url: Annotated[str | None, typer.Option(help="the running web UI (default: settings)")] = None,
    lang: Annotated[str, typer.Option(help="ja | en")] = "ja",
    width: Annotated[int, typer.Option(help="viewport width in CSS pixels")] = 420,
) -> None:
    """PNG screenshots of the family, farmer and public-works pages of the running demo."""
    from .screenshots import ScreenshotError, take

    try:
        for p in take(_settings(), directory, url=url, lang=lang, width=width):
            typer.echo(str(p))
    except ScreenshotError as exc:
        raise _fail(str(exc)) from None
