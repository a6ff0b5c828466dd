"""``mimamori lorawan …``: look inside LoRaWAN frames.

    mimamori lorawan decode 40F17DBE4900020001954378762B11FF0D \\
        --nwkskey 44024241ed4ce9a68c6a8bc055233fd3 --appskey ec925802ae430ca77fd3dd73cb2cc588
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
import typer

from .lorawan import (
    FrameError,
    JoinRequest,
    Key,
    MType,
    decrypt_data,
    derive_session_keys,
    parse_join_accept,
    parse_phy,
    verify_data_mic,
    verify_join_request,
)

lorawan_app = typer.Typer(help="LoRaWAN frames: decode and check them.", no_args_is_help=True)


class DecodeFail(Exception):
    pass


def _bytes(text: str) -> bytes:
    t = text.strip().replace(" ", "")
    try:
        return bytes.fromhex(t)
    except ValueError:
        pass
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeFail("the frame must be hexadecimal or base64") from None


def _key(text: str | None, name: str) -> Key | None:
    if text is None:
        return None
    try:
        return Key.from_hex(text)
    except ValueError:
        raise DecodeFail(f"--{name} must be 32 hexadecimal digits") from None


def describe(phy: bytes, nwkskey: str | None = None, appskey: str | None = None,
             appkey: str | None = None, fcnt32: int | None = None,
             dev_nonce: int | None = None) -> dict[str, Any]:
    """The parsed frame as a JSON-able dict (what the command prints)."""
    nwk, app, ak = _key(nwkskey, "nwkskey"), _key(appskey, "appskey"), _key(appkey, "appkey")
    if phy and phy[0] >> 5 == MType.JOIN_ACCEPT:
        out: dict[str, Any] = {"type": "JoinAccept", "size": len(phy)}
        if ak is None:
            out["note"] = "encrypted; give --appkey to decrypt"
            return out
        ja, ok = parse_join_accept(phy, ak)
        out.update(app_nonce=ja.app_nonce[::-1].hex(), net_id=ja.net_id[::-1].hex(),
                   dev_addr=ja.dev_addr, dl_settings=ja.dl_settings, rx_delay=ja.rx_delay,
                   cf_list=ja.cf_list.hex(), mic=ja.mic.hex(), mic_valid=ok)
        if dev_nonce is not None:
            n, a = derive_session_keys(ak, ja.app_nonce, ja.net_id, dev_nonce.to_bytes(2, "little"))
            out.update(nwk_s_key=n.hex(), app_s_key=a.hex())
        return out
    frame = parse_phy(phy)
    if isinstance(frame, JoinRequest):
        out = {"type": "JoinRequest", "join_eui": frame.join_eui, "dev_eui": frame.dev_eui,
               "dev_nonce": frame.dev_nonce, "mic": frame.mic.hex()}
        if ak is not None:
            out["mic_valid"] = verify_join_request(frame, ak)
        return out
    fc = frame.fcnt if fcnt32 is None else fcnt32
    out = {
        "type": frame.mtype.name.title().replace("_", ""),
        "direction": "up" if frame.mtype.uplink else "down",
        "dev_addr": frame.dev_addr,
        "fctrl": {"adr": frame.adr, "adr_ack_req": frame.adr_ack_req, "ack": frame.ack,
                  ("class_b" if frame.mtype.uplink else "fpending"): frame.fpending_or_classb},
        "fcnt": frame.fcnt,
        "fcnt32": fc,
        "fopts": frame.fopts.hex(),
        "fport": frame.fport,
        "frm_payload": frame.frm_payload.hex(),
        "mic": frame.mic.hex(),
    }
    if nwk is not None:
        out["mic_valid"] = verify_data_mic(frame, nwk, fc)
    key_ok = (frame.fport == 0 and nwk is not None) or (frame.fport and app is not None)
    if frame.fport is not None and key_ok:
        plain = decrypt_data(frame, nwk or app, app or nwk, fc)  # type: ignore[arg-type]
        out["payload"] = plain.hex()
        try:
            text = plain.decode("utf-8")
            if text.isprintable():
                out["payload_text"] = text
        except UnicodeDecodeError:
            pass
    return out


@lorawan_app.command("decode")
def decode(
    frame: Annotated[str, typer.Argument(help="PHYPayload in hex (or base64)")],
    nwkskey: Annotated[str | None, typer.Option("--nwkskey", help="NwkSKey (hex)")] = None,
    appskey: Annotated[str | None, typer.Option("--appskey", help="AppSKey (hex)")] = None,
    appkey: Annotated[str | None, typer.Option("--appkey", help="AppKey (hex), for joins")] = None,
    fcnt32: Annotated[int | None, typer.Option("--fcnt32",
                                               help="full 32-bit frame counter")] = None,
    dev_nonce: Annotated[int | None, typer.Option(
        "--devnonce", help="DevNonce of the join-request, to derive session keys")] = None,
) -> None:
    """Print a LoRaWAN frame as JSON: type, DevAddr, FCnt, FPort, FOpts, MIC
    (valid or not), the decrypted payload; join fields and derived keys."""
    try:
        out = describe(_bytes(frame), nwkskey, appskey, appkey, fcnt32, dev_nonce)
    except (DecodeFail, FrameError, ValueError) as exc:
        typer.echo(f"mimamori: cannot decode the frame: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
