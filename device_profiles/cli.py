"""``mimamori codec …``: decode a payload with a profile or a JavaScript
codec file and print the result as JSON (exit status 1 with the errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

codec_app = typer.Typer(help="Device codecs: decode payloads, list profiles.",
                        no_args_is_help=True)


def _emit(doc: dict, ok: bool) -> None:
    typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    if not ok:
        raise typer.Exit(1)


def _payload(payload: str, text: bool) -> bytes:
    if text:
        return payload.encode()
    cleaned = "".join(payload.split()).removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        _emit({"errors": [f"payload {payload!r} is not hexadecimal (use --text for JSON "
                          "or other text payloads)"]}, False)
        raise  # unreachable


def _params(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            _emit({"errors": [f"--param {item!r}: write NAME=VALUE"]}, False)
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


@codec_app.command("decode")
def decode(
    payload: Annotated[str, typer.Argument(help="payload as hex (e.g. 002d099258), or text with --text")],
    profile: Annotated[str | None, typer.Option("--profile", "-p", help="profile id")] = None,
    js: Annotated[Path | None, typer.Option("--js", help="a TTS/ChirpStack JavaScript codec file")] = None,
    fport: Annotated[int | None, typer.Option("--fport", help="LoRaWAN FPort")] = None,
    text: Annotated[bool, typer.Option("--text", help="the payload is text (JSON), not hex")] = False,
    param: Annotated[list[str], typer.Option("--param", help="device parameter NAME=VALUE (repeatable)")] = [],  # noqa: B006
    timeout_ms: Annotated[float, typer.Option(help="JS CPU budget per uplink")] = 100.0,
    memory_mb: Annotated[int, typer.Option(help="JS memory limit")] = 32,
) -> None:
    """Decode one payload with a profile (--profile) or a JS codec (--js)."""
    if (profile is None) == (js is None):
        _emit({"errors": ["give exactly one of --profile ID or --js FILE"]}, False)
    data = _payload(payload, text)
    if js is not None:
        from .js_engine import JsCodecError, JsEngine

        try:
            source = js.read_text(encoding="utf-8")
        except OSError as exc:
            _emit({"codec": str(js), "errors": [f"cannot read {js}: {exc.strerror}"]}, False)
        try:
            engine = JsEngine(source, name=js.name, timeout_ms=timeout_ms, memory_mb=memory_mb)
        except JsCodecError as exc:
            _emit({"codec": str(js), "errors": [str(exc)]}, False)
        r = engine.decode_uplink(data, fport)
        _emit({"codec": str(js), "fport": fport, "data": r.data, "warnings": r.warnings,
               "errors": r.errors, "logs": r.logs}, not r.errors)
        return
    from .profile import ProfileError, load_profiles

    try:
        profiles = load_profiles()
    except ProfileError as exc:
        _emit({"errors": [str(exc)]}, False)
    p = profiles.get(profile)  # type: ignore[arg-type]
    if p is None:
        _emit({"profile": profile, "errors": [f"no profile {profile!r}; known: "
                                              + ", ".join(sorted(profiles))]}, False)
    r = p.decode(data, fport, params=_params(param))
    doc: dict = {"profile": p.id, "family": p.family.value, "measurement": p.measurement,
                 "fport": fport}
    if r.errors:
        doc["errors"] = [f"profile {p.id}: {e}" for e in r.errors]
    else:
        doc["fields"] = r.fields
    if r.ts_ns is not None:
        doc["ts_ns"] = r.ts_ns
    if r.warnings:
        doc["warnings"] = r.warnings
    _emit(doc, not r.errors)


@codec_app.command("profiles")
def list_profiles(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the installed device profiles."""
    from .profile import load_profiles

    rows = [{"id": p.id, "family": p.family.value, "codec": p.codec.kind, "vendor": p.vendor,
             "interval_s": p.interval_s, "measurement": p.measurement,
             "fields": list(p.fields), "params": list(p.params)}
            for p in load_profiles().values()]
    if json_out:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for r in rows:
        typer.echo(f"{r['id']:22s} {r['family']:10s} {r['codec']:12s} every {r['interval_s']:>5d}s"
                   f"  {', '.join(r['fields'])}")
