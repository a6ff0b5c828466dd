"""``mimamori devices|people|sites …``: the registry from the command line.

add / list / show / remove / import / export (CSV) for each, plus
``people relate``, and ``people settings`` / ``sites settings`` for what the
detectors need to know (validated, defaults from DOMAIN.md; see
:mod:`mimamori.watch_settings`). LoRaWAN keys and MQTT passwords are stored
encrypted and never printed, logged or exported.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from .registry import RELATIONS, Registry, RegistryError
from .watch_settings import (
    PERSON_KINDS,
    SITE_KINDS,
    SettingsError,
    effective_settings,
    validate_settings,
)

devices_app = typer.Typer(help="Devices: profile, identities, keys, owner, site, params.",
                          no_args_is_help=True)
people_app = typer.Typer(help="People: wearers, children, family, farmers, staff.",
                         no_args_is_help=True)
sites_app = typer.Typer(help="Sites: households, fields, pipe districts, schools.",
                        no_args_is_help=True)

ID = r"^[A-Za-z0-9_\-]{1,128}$"
SECRET_NAMES = ("app_key", "nwk_key", "app_s_key", "nwk_s_key", "mqtt_password")
DEVICE_COLUMNS = ("device_id", "profile", "site", "name", "person_id", "dev_eui", "dev_addr",
                  "join_eui", "mqtt_username", "params", "lat", "lon")
PERSON_COLUMNS = ("person_id", "kind", "name", "language", "email", "line_user_id", "phone",
                  "channels", "quiet_hours", "settings")
SITE_COLUMNS = ("site_id", "kind", "name", "lat", "lon", "settings")


class CliError(Exception):
    pass


def _fail(msg: str) -> None:
    typer.echo(f"mimamori: {msg}", err=True)
    raise typer.Exit(1)


def _registry() -> Registry:
    from .cli import settings

    return Registry(settings().registry)


def _json(doc: Any) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


def _hex(v: str | None, n: int, what: str) -> str | None:
    if v is None or v == "":
        return None
    s = v.replace(":", "").replace("-", "").replace(" ", "").lower()
    if len(s) != n or any(c not in "0123456789abcdef" for c in s):
        raise ValueError(f"{what} must be {n} hex digits, got {v!r}")
    return s


def _kv(items: list[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"{what} {item!r}: write NAME=VALUE")
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


def _found(obj: Any, what: str, ident: str) -> Any:
    if obj is None:
        _fail(f"{what} {ident} is not registered")
    return obj


@contextlib.contextmanager
def _saving(what: str, ident: str):
    """Validating and saving one row: any refusal becomes one plain line."""
    try:
        yield
    except ValidationError as exc:
        _fail(f"{what} {ident}: {_pydantic_msg(exc)}")
    except (CliError, SettingsError, RegistryError) as exc:
        _fail(f"{what} {ident}: {exc}")


def _list(items: list, json_out: bool, doc, text, what: str) -> None:
    """``list``: JSON documents, or one line per item and the count."""
    if json_out:
        _json([doc(i) for i in items])
        return
    for i in items:
        typer.echo(text(i))
    typer.echo(f"{len(items)} {what}")


def _show(doc: dict[str, Any], json_out: bool, width: int, cell=None) -> None:
    """``show``: the JSON document, or one ``key value`` line per entry."""
    if json_out:
        _json(doc)
        return
    for k, v in doc.items():
        v = cell(k, v) if cell else (orjson.dumps(v).decode() if isinstance(v, (dict, list))
                                     else v)
        typer.echo(f"{k:{width}s} {v}")


def _removed(done: bool, what: str, ident: str) -> None:
    _found(True if done else None, what, ident)
    typer.echo(f"{what} {ident} removed")


def _pydantic_msg(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors()[:3]:
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


# --- rows: one validated shape for `add` and for each CSV line ---------------
class DeviceRow(BaseModel):
    model_config = {"extra": "forbid"}
    device_id: str = Field(pattern=ID)
    profile: str
    site: str = Field("", pattern=r"^[A-Za-z0-9_\-]{0,128}$")
    name: str = ""
    person_id: str | None = Field(None, pattern=ID)
    dev_eui: str | None = None
    dev_addr: str | None = None
    join_eui: str | None = None
    mqtt_username: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    app_key: SecretStr | None = None
    nwk_key: SecretStr | None = None
    app_s_key: SecretStr | None = None
    nwk_s_key: SecretStr | None = None
    mqtt_password: SecretStr | None = None

    @field_validator("dev_eui", "join_eui")
    @classmethod
    def _eui(cls, v, info):
        return _hex(v, 16, info.field_name)

    @field_validator("dev_addr")
    @classmethod
    def _addr(cls, v):
        return _hex(v, 8, "dev_addr")

    @field_validator("app_key", "nwk_key", "app_s_key", "nwk_s_key")
    @classmethod
    def _key(cls, v, info):
        if v is None or not v.get_secret_value():
            return None
        try:
            return SecretStr(_hex(v.get_secret_value(), 32, info.field_name) or "")
        except ValueError:
            # never echo the key itself
            raise ValueError(f"{info.field_name} must be 32 hex digits (AES-128)") from None

    @field_validator("person_id", "mqtt_username", "mqtt_password", mode="before")
    @classmethod
    def _empty(cls, v):
        return None if v == "" else v

    def secrets(self) -> dict[str, str]:
        return {n: getattr(self, n).get_secret_value() for n in SECRET_NAMES
                if getattr(self, n) is not None}

    def columns(self) -> dict[str, Any]:
        return self.model_dump(include=set(DEVICE_COLUMNS) - {"device_id", "profile", "site",
                                                                "name"})


class PersonRow(BaseModel):
    model_config = {"extra": "forbid"}
    person_id: str = Field(pattern=ID)
    kind: str
    name: str = ""
    language: str = Field("ja", pattern=r"^(ja|en)$")
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    line_user_id: str | None = None
    phone: str | None = None
    channels: list[str] = Field(default_factory=lambda: ["email"])
    quiet_hours: list[str] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v):
        if v not in PERSON_KINDS:
            raise ValueError(f"kind must be one of {', '.join(PERSON_KINDS)}")
        return v

    @field_validator("email", "line_user_id", "phone", mode="before")
    @classmethod
    def _empty(cls, v):
        return None if v == "" else v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v):
        known = ("email", "line", "webhook", "mqtt", "phone")
        bad = [c for c in v if c not in known]
        if bad:
            raise ValueError(f"unknown channel(s) {', '.join(bad)}; one of {', '.join(known)}")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v):
        import re

        if v is None:
            return v
        if len(v) != 2 or not all(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", t) for t in v):
            raise ValueError("quiet hours are two HH:MM times, e.g. 22:00-07:00")
        return v


class SiteRow(BaseModel):
    model_config = {"extra": "forbid"}
    site_id: str = Field(pattern=ID)
    kind: str
    name: str = ""
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _kind(cls, v):
        if v not in SITE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SITE_KINDS)}")
        return v


def _check_device(row: DeviceRow, profiles: dict) -> None:
    p = profiles.get(row.profile)
    if p is None:
        raise CliError(f"unknown profile {row.profile!r}; installed: {', '.join(sorted(profiles))}")
    for name, spec in p.params.items():
        if spec.default is None and name not in row.params:
            raise CliError(f"profile {p.id} needs the device parameter {name} "
                           f"({spec.description or spec.unit}); add --param {name}=VALUE")
        try:
            p.param(name, row.params)
        except ValueError as exc:
            raise CliError(str(exc)) from None


def _save_device(reg: Registry, row: DeviceRow) -> None:
    reg.add_device(row.device_id, row.profile, row.site, row.name, **row.columns())
    secrets = row.secrets()
    if secrets:
        merged = {**_safe_secrets(reg, row.device_id), **secrets}
        reg.set_device_secrets(row.device_id, merged)


def _safe_secrets(reg: Registry, device_id: str) -> dict[str, str]:
    try:
        return reg.device_secrets(device_id)
    except RegistryError:
        return {}


def _secret_names(reg: Registry, device_id: str) -> list[str] | str:
    try:
        return sorted(reg.device_secrets(device_id))
    except RegistryError:
        return "present, but cannot be decrypted with this MIMAMORI_SECRET_KEY / secret.key"


@functools.lru_cache(maxsize=1)
def _load_profiles() -> dict:
    from device_profiles import load_profiles

    return load_profiles()


# --- CSV ----------------------------------------------------------------------
def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    return [(reader.line_num, {k: (v or "").strip() for k, v in r.items() if k})
            for r in reader]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})
    if str(path) == "-":
        typer.echo(buf.getvalue(), nl=False)
    else:
        path.write_text(buf.getvalue(), encoding="utf-8")


def _export(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]], what: str,
            note: str = "") -> None:
    _write_csv(path, columns, rows)
    if str(path) != "-":
        typer.echo(f"exported {len(rows)} {what} to {path}{note}")


def _known_columns(raw: dict[str, str], allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise CliError(f"unknown column(s) {', '.join(sorted(unknown))}")


def _with_settings(row_type: type[BaseModel], subject: str, vals: dict[str, Any]) -> Any:
    """A person or site row whose settings are valid for its kind."""
    row = row_type(**vals)
    validate_settings(subject, row.kind, row.settings)  # type: ignore[attr-defined]
    return row


def _import(path: Path, parse, save, what: str) -> None:
    rows = _read_csv(path)
    good, errors = [], []
    for line, raw in rows:
        try:
            good.append(parse(raw))
        except ValidationError as exc:
            errors.append(f"{path.name} line {line}: {_pydantic_msg(exc)}")
        except (CliError, SettingsError, ValueError) as exc:
            errors.append(f"{path.name} line {line}: {exc}")
    if errors:
        for e in errors[:20]:
            typer.echo(f"mimamori: {e}", err=True)
        _fail(f"nothing imported: {len(errors)} bad row(s) of {len(rows)}")
    reg = _registry()
    for row in good:
        save(reg, row)
    typer.echo(f"imported {len(good)} {what}")


def _json_cell(v: str, what: str) -> Any:
    if not v:
        return {}
    try:
        return orjson.loads(v)
    except orjson.JSONDecodeError:
        raise CliError(f"{what} must be JSON, got {v!r}") from None


def _float_cell(v: str) -> float | None:
    return float(v) if v else None


# --- devices ------------------------------------------------------------------
def _device_dict(reg: Registry, d) -> dict[str, Any]:
    doc = {k: getattr(d, k) for k in DEVICE_COLUMNS}
    doc["secrets"] = _secret_names(reg, d.device_id)
    return doc


@devices_app.command("add")
def devices_add(
    device_id: Annotated[str, typer.Argument(help="plain ASCII id, e.g. paddy-0001")],
    profile: Annotated[str, typer.Option(help="profile id (mimamori codec profiles)")],
    site: Annotated[str, typer.Option(help="site id")] = "",
    name: Annotated[str, typer.Option()] = "",
    person: Annotated[str | None, typer.Option(help="person it watches over")] = None,
    dev_eui: Annotated[str | None, typer.Option(help="LoRaWAN DevEUI (16 hex)")] = None,
    dev_addr: Annotated[str | None, typer.Option(help="LoRaWAN DevAddr (8 hex)")] = None,
    join_eui: Annotated[str | None, typer.Option(help="LoRaWAN JoinEUI (16 hex)")] = None,
    mqtt_username: Annotated[str | None, typer.Option(help="MQTT client id / user")] = None,
    param: Annotated[list[str], typer.Option(help="installation parameter NAME=VALUE")] = [],  # noqa: B006
    lat: Annotated[float | None, typer.Option()] = None,
    lon: Annotated[float | None, typer.Option()] = None,
    app_key: Annotated[str | None, typer.Option(envvar="MIMAMORI_APP_KEY", show_default=False,
                                                help="OTAA AppKey (prefer the env var)")] = None,
    nwk_key: Annotated[str | None, typer.Option(envvar="MIMAMORI_NWK_KEY", show_default=False)] = None,
    app_s_key: Annotated[str | None, typer.Option(envvar="MIMAMORI_APP_S_KEY", show_default=False,
                                                  help="ABP AppSKey")] = None,
    nwk_s_key: Annotated[str | None, typer.Option(envvar="MIMAMORI_NWK_S_KEY", show_default=False,
                                                  help="ABP NwkSKey")] = None,
    mqtt_password: Annotated[str | None, typer.Option(envvar="MIMAMORI_MQTT_PASSWORD",
                                                      show_default=False)] = None,
) -> None:
    """Add or replace a device. Keys are stored encrypted and never shown."""
    with _saving("device", device_id):
        row = DeviceRow(device_id=device_id, profile=profile, site=site, name=name,
                        person_id=person, dev_eui=dev_eui, dev_addr=dev_addr, join_eui=join_eui,
                        mqtt_username=mqtt_username, params=_kv(param, "--param"), lat=lat,
                        lon=lon, app_key=app_key, nwk_key=nwk_key, app_s_key=app_s_key,
                        nwk_s_key=nwk_s_key, mqtt_password=mqtt_password)
        _check_device(row, _load_profiles())
        reg = _registry()
        if row.site and reg.get_site(row.site) is None:
            typer.echo(f"note: site {row.site} is not registered yet (mimamori sites add)",
                       err=True)
        _save_device(reg, row)
    typer.echo(f"device {device_id} saved ({profile})")


@devices_app.command("list")
def devices_list(json_out: Annotated[bool, typer.Option("--json")] = False,
                 site: Annotated[str | None, typer.Option(help="only this site")] = None) -> None:
    """List devices."""
    devs = [d for d in _registry().devices() if site is None or d.site == site]
    _list(devs, json_out, lambda d: {k: getattr(d, k) for k in DEVICE_COLUMNS},
          lambda d: (f"{d.device_id:20s} {d.profile:22s} {d.site or '-':16s} "
                     f"{d.person_id or '-':14s} "
                     f"{d.dev_eui or d.dev_addr or d.mqtt_username or '-'}"), "device(s)")


@devices_app.command("show")
def devices_show(device_id: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One device (key names only, never key values)."""
    reg = _registry()
    doc = _device_dict(reg, _found(reg.get_device(device_id), "device", device_id))
    _show(doc, json_out, 14, _device_cell)


def _device_cell(k: str, v: Any) -> Any:
    if k == "secrets":
        return (", ".join(v) + " (encrypted; values not shown)") if isinstance(v, list) and v \
            else (v or "none")
    if k == "params":
        return orjson.dumps(v).decode()
    return "" if v is None else v


@devices_app.command("remove")
def devices_remove(device_id: str) -> None:
    """Remove a device (and its keys)."""
    _removed(_registry().remove_device(device_id), "device", device_id)


def _parse_device(raw: dict[str, str]) -> DeviceRow:
    _known_columns(raw, set(DEVICE_COLUMNS) | set(SECRET_NAMES) | {"secrets"})
    vals: dict[str, Any] = {k: v for k, v in raw.items() if k in DEVICE_COLUMNS or k in SECRET_NAMES}
    vals["params"] = _json_cell(raw.get("params", ""), "params")
    vals["lat"], vals["lon"] = _float_cell(raw.get("lat", "")), _float_cell(raw.get("lon", ""))
    for k in ("dev_eui", "dev_addr", "join_eui", "mqtt_username", "person_id"):
        if not vals.get(k):
            vals[k] = None
    row = DeviceRow(**vals)
    _check_device(row, _load_profiles())
    return row


@devices_app.command("import")
def devices_import(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdin)")]) -> None:
    """Add or replace devices from CSV (columns as `devices export`, plus
    app_key, nwk_key, app_s_key, nwk_s_key, mqtt_password if needed). All
    rows are checked first; nothing is written if any is bad."""
    _import(path, _parse_device, _save_device, "device(s)")


@devices_app.command("export")
def devices_export(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdout)")] = Path("-")
                   ) -> None:
    """Write devices as CSV. Keys are never exported."""
    reg = _registry()
    rows = []
    for d in reg.devices():
        r = {k: getattr(d, k) for k in DEVICE_COLUMNS}
        r["params"] = orjson.dumps(d.params).decode() if d.params else ""
        rows.append(r)
    _export(path, DEVICE_COLUMNS, rows, "device(s)", " (keys are not exported)")


# --- people -------------------------------------------------------------------
def _person_doc(p) -> dict[str, Any]:
    return {k: getattr(p, k) for k in PERSON_COLUMNS}


def _save_person(reg: Registry, row: PersonRow) -> None:
    settings = validate_settings("person", row.kind, row.settings)
    reg.add_person(row.person_id, row.kind, row.name, language=row.language, email=row.email,
                   line_user_id=row.line_user_id, phone=row.phone, channels=row.channels,
                   quiet_hours=row.quiet_hours, settings=settings)


def _quiet(v: str | None) -> list[str] | None:
    if not v:
        return None
    a, sep, b = v.partition("-")
    return [a.strip(), b.strip()] if sep else [v]


@people_app.command("add")
def people_add(
    person_id: Annotated[str, typer.Argument(help="plain ASCII id (no names: ids reach logs)")],
    kind: Annotated[str, typer.Option(help=" | ".join(PERSON_KINDS))],
    name: Annotated[str, typer.Option()] = "",
    language: Annotated[str, typer.Option(help="ja | en")] = "ja",
    email: Annotated[str | None, typer.Option()] = None,
    line_user_id: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    channels: Annotated[str, typer.Option(help="comma-separated: email,line,webhook,mqtt,phone")] = "email",
    quiet_hours: Annotated[str | None, typer.Option(help="e.g. 22:00-07:00")] = None,
    settings_json: Annotated[str | None, typer.Option("--settings", help="settings as JSON")] = None,
) -> None:
    """Add or replace a person."""
    with _saving("person", person_id):
        row = PersonRow(person_id=person_id, kind=kind, name=name, language=language, email=email,
                        line_user_id=line_user_id, phone=phone,
                        channels=[c.strip() for c in channels.split(",") if c.strip()],
                        quiet_hours=_quiet(quiet_hours),
                        settings=_json_cell(settings_json or "", "--settings"))
        _save_person(_registry(), row)
    typer.echo(f"person {person_id} saved ({kind})")


@people_app.command("list")
def people_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List people."""
    _list(_registry().people(), json_out, _person_doc,
          lambda p: f"{p.person_id:20s} {p.kind:13s} {p.language}  {p.name}", "person(s)")


@people_app.command("show")
def people_show(person_id: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One person, their relations and the devices that watch over them."""
    reg = _registry()
    doc = _person_doc(_found(reg.get_person(person_id), "person", person_id))
    doc["watched_by"] = [_rel(r) for r in reg.relations(subject_id=person_id)
                         if r.subject_kind == "person"]
    doc["devices"] = [d.device_id for d in reg.devices() if d.person_id == person_id]
    doc["relations"] = [_rel(r) for r in reg.relations(person_id=person_id)]
    _show(doc, json_out, 13)


def _rel(r) -> dict[str, Any]:
    return {"person_id": r.person_id, "relation": r.relation, "subject_kind": r.subject_kind,
            "subject_id": r.subject_id, "priority": r.priority}


@people_app.command("remove")
def people_remove(person_id: str) -> None:
    """Remove a person and their relations."""
    _removed(_registry().remove_person(person_id), "person", person_id)


def _parse_person(raw: dict[str, str]) -> PersonRow:
    _known_columns(raw, set(PERSON_COLUMNS))
    vals: dict[str, Any] = dict(raw)
    vals["channels"] = [c.strip() for c in raw.get("channels", "email").replace(",", ";")
                        .split(";") if c.strip()] or ["email"]
    vals["quiet_hours"] = _quiet(raw.get("quiet_hours"))
    vals["settings"] = _json_cell(raw.get("settings", ""), "settings")
    if not vals.get("language"):
        vals["language"] = "ja"
    return _with_settings(PersonRow, "person", vals)


@people_app.command("import")
def people_import(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdin)")]) -> None:
    """Add or replace people from CSV (columns as `people export`)."""
    _import(path, _parse_person, _save_person, "person(s)")


@people_app.command("export")
def people_export(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdout)")] = Path("-")
                  ) -> None:
    """Write people as CSV."""
    rows = []
    for p in _registry().people():
        r = _person_doc(p)
        r["channels"] = ";".join(p.channels)
        r["quiet_hours"] = "-".join(p.quiet_hours) if p.quiet_hours else ""
        r["settings"] = orjson.dumps(p.settings).decode() if p.settings else ""
        rows.append(r)
    _export(path, PERSON_COLUMNS, rows, "person(s)")


@people_app.command("relate")
def people_relate(
    person_id: Annotated[str, typer.Argument(help="who is told")],
    relation: Annotated[str, typer.Argument(help=" | ".join(RELATIONS))],
    to_person: Annotated[str | None, typer.Option("--to-person", help="about this person")] = None,
    to_site: Annotated[str | None, typer.Option("--to-site", help="about this site")] = None,
    priority: Annotated[int, typer.Option(help="1 = told first")] = 1,
    remove: Annotated[bool, typer.Option("--remove", help="remove this relation")] = False,
) -> None:
    """Say who is told about whom or what, e.g. `people relate son family_member_of
    --to-person grandma`."""
    if (to_person is None) == (to_site is None):
        _fail("give exactly one of --to-person ID or --to-site ID")
    reg = _registry()
    kind, subject = ("person", to_person) if to_person else ("site", to_site or "")
    _found(reg.get_person(person_id), "person", person_id)
    if remove:
        if not reg.unrelate(person_id, relation, kind, subject):  # type: ignore[arg-type]
            _fail(f"{person_id} is not {relation} {kind} {subject}")
        typer.echo(f"{person_id} is no longer {relation} {kind} {subject}")
        return
    _found(reg.get_person(subject) if kind == "person" else reg.get_site(subject), kind, subject)
    try:
        reg.relate(person_id, relation, kind, subject, priority)  # type: ignore[arg-type]
    except RegistryError as exc:
        _fail(str(exc))
    typer.echo(f"{person_id} is {relation} {kind} {subject} (priority {priority})")


def _settings_command(subject: str):
    def command(
        subject_id: Annotated[str, typer.Argument(help="person or site id")],
        set_: Annotated[list[str], typer.Option("--set", help="KEY=VALUE (dotted keys; JSON values)")] = [],  # noqa: B006
        unset: Annotated[list[str], typer.Option("--unset", help="KEY back to its default")] = [],  # noqa: B006
        replace: Annotated[str | None, typer.Option("--replace", help="all settings as JSON")] = None,
        stored: Annotated[bool, typer.Option("--stored", help="show only what is stored, "
                                             "without defaults")] = False,
    ) -> None:
        reg = _registry()
        obj = _found(reg.get_person(subject_id) if subject == "person"
                     else reg.get_site(subject_id), subject, subject_id)
        data = dict(obj.settings)
        try:
            if replace is not None:
                data = _json_cell(replace, "--replace")
            for key in unset:
                _dotted_del(data, key)
            defaults = effective_settings(subject, obj.kind, {})  # type: ignore[arg-type]
            for key, value in _kv(set_, "--set").items():
                _dotted_set(data, key, value, defaults)
            if set_ or unset or replace is not None:
                obj = (reg.set_person_settings(subject_id, data) if subject == "person"
                       else reg.set_site_settings(subject_id, data))
            out = obj.settings if stored else effective_settings(subject, obj.kind,  # type: ignore[arg-type]
                                                                 obj.settings)
        except (CliError, SettingsError, RegistryError) as exc:
            _fail(str(exc))
        _json(out)

    command.__doc__ = (f"Show a {subject}'s detector settings (defaults filled in), or change "
                       "them with --set/--unset/--replace (validated).")
    return command


def _dotted_set(d: dict, key: str, value: Any, defaults: dict) -> None:
    """Set ``a.b.c``; a missing ``a.b`` starts from its default, so setting
    one bound of a band keeps the other."""
    import copy

    parts = key.split(".")
    for p in parts[:-1]:
        default = defaults.get(p) if isinstance(defaults, dict) else None
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = d[p] = copy.deepcopy(default) if isinstance(default, dict) else {}
        d, defaults = nxt, (default if isinstance(default, dict) else {})
    d[parts[-1]] = value


def _dotted_del(d: dict, key: str) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.get(p) if isinstance(d.get(p), dict) else {}
    d.pop(parts[-1], None)


people_app.command("settings")(_settings_command("person"))


# --- sites --------------------------------------------------------------------
def _site_doc(s) -> dict[str, Any]:
    return {k: getattr(s, k) for k in SITE_COLUMNS}


def _save_site(reg: Registry, row: SiteRow) -> None:
    settings = validate_settings("site", row.kind, row.settings)
    reg.add_site(row.site_id, row.kind, row.name, row.lat, row.lon, settings)


@sites_app.command("add")
def sites_add(
    site_id: Annotated[str, typer.Argument(help="plain ASCII id, e.g. field-012")],
    kind: Annotated[str, typer.Option(help=" | ".join(SITE_KINDS))],
    name: Annotated[str, typer.Option()] = "",
    lat: Annotated[float | None, typer.Option()] = None,
    lon: Annotated[float | None, typer.Option()] = None,
    settings_json: Annotated[str | None, typer.Option("--settings", help="settings as JSON")] = None,
) -> None:
    """Add or replace a site."""
    with _saving("site", site_id):
        row = SiteRow(site_id=site_id, kind=kind, name=name, lat=lat, lon=lon,
                      settings=_json_cell(settings_json or "", "--settings"))
        _save_site(_registry(), row)
    typer.echo(f"site {site_id} saved ({kind})")


@sites_app.command("list")
def sites_list(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List sites."""
    def text(s) -> str:
        where = f"{s.lat:.5f},{s.lon:.5f}" if s.lat is not None and s.lon is not None else "-"
        return f"{s.site_id:20s} {s.kind:13s} {where:22s} {s.name}"

    _list(_registry().sites(), json_out, _site_doc, text, "site(s)")


@sites_app.command("show")
def sites_show(site_id: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One site, its devices and who is told about it."""
    reg = _registry()
    doc = _site_doc(_found(reg.get_site(site_id), "site", site_id))
    doc["devices"] = [d.device_id for d in reg.devices() if d.site == site_id]
    doc["watched_by"] = [_rel(r) for r in reg.relations(subject_id=site_id)
                         if r.subject_kind == "site"]
    _show(doc, json_out, 11)


@sites_app.command("remove")
def sites_remove(site_id: str) -> None:
    """Remove a site (its devices stay, with the site id kept)."""
    _removed(_registry().remove_site(site_id), "site", site_id)


def _parse_site(raw: dict[str, str]) -> SiteRow:
    _known_columns(raw, set(SITE_COLUMNS))
    vals: dict[str, Any] = dict(raw)
    vals["lat"], vals["lon"] = _float_cell(raw.get("lat", "")), _float_cell(raw.get("lon", ""))
    vals["settings"] = _json_cell(raw.get("settings", ""), "settings")
    return _with_settings(SiteRow, "site", vals)


@sites_app.command("import")
def sites_import(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdin)")]) -> None:
    """Add or replace sites from CSV (columns as `sites export`)."""
    _import(path, _parse_site, _save_site, "site(s)")


@sites_app.command("export")
def sites_export(path: Annotated[Path, typer.Argument(help="CSV file ('-' = stdout)")] = Path("-")
                 ) -> None:
    """Write sites as CSV."""
    rows = []
    for s in _registry().sites():
        r = _site_doc(s)
        r["settings"] = orjson.dumps(s.settings).decode() if s.settings else ""
        rows.append(r)
    _export(path, SITE_COLUMNS, rows, "site(s)")


sites_app.command("settings")(_settings_command("site"))
