"""Uplink events from LoRaWAN network servers, parsed (pure, no I/O):

* ChirpStack v4 MQTT integration, topic ``application/{app}/device/{dev_eui}/event/up``
  — JSON with ``deviceInfo.devEui``, ``fPort``, ``fCnt``, ``data`` (base64,
  already decrypted), ``time``, ``rxInfo[]`` (``gatewayId``, ``rssi``, ``snr``).
* The Things Stack v3 MQTT integration, topic ``v3/{app}@{tenant}/devices/{device}/up``
  — JSON with ``end_device_ids`` (``device_id``, ``dev_eui``) and
  ``uplink_message`` (``f_port``, ``f_cnt``, ``frm_payload``, ``received_at``,
  ``rx_metadata[]`` with ``gateway_ids.gateway_id``, ``rssi``, ``snr``).

The same JSON arrives over HTTP (ChirpStack HTTP integration, TTS webhooks).

>>> ev = parse_chirpstack(b'{"deviceInfo": {"devEui": "0102030405060708"}, "fPort": 2, '
...     b'"fCnt": 9, "data": "eyJiYXQiOiA5MH0=", "time": "2026-01-01T00:00:00.5Z", '
...     b'"rxInfo": [{"gatewayId": "g1", "rssi": -99, "snr": 3.5}]}')
>>> ev.dev_eui, ev.fport, ev.payload, ev.network_ns, ev.meta["rssi"]
('0102030405060708', 2, b'{"bat": 90}', 1767225600500000000, -99)
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .timeparse import iso_to_ns

CHIRPSTACK_RE = re.compile(r"^application/[^/]+/device/([0-9a-fA-F]{16})/event/up$")
TTS_RE = re.compile(r"^v3/[^/]+/devices/([^/]+)/up$")


class EventError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class NsUplink:
    source: str  # "chirpstack" | "tts"
    dev_eui: str | None
    device_name: str | None  # TTS device id / ChirpStack device name
    fport: int | None
    payload: bytes
    network_ns: int | None
    meta: dict[str, Any] = field(default_factory=dict)


def _obj(payload: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EventError("malformed_json", f"event is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EventError("malformed_json", "event must be a JSON object")
    return doc


def _b64(v: Any, what: str) -> bytes:
    if v is None:
        raise EventError("missing_field", f"event has no {what} (no application payload)")
    if not isinstance(v, str):
        raise EventError("malformed_json", f"{what} must be a base64 string")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise EventError("malformed_json", f"{what} is not base64") from None


def _num(v: Any) -> float | int | None:
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _radio_meta(source: str, gws: list[dict[str, Any]], fcnt: Any, fport: Any,
                dev_eui: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"transport": source, "gateways": gws}
    if dev_eui:
        meta["dev_eui"] = dev_eui
    if _num(fcnt) is not None:
        meta["fcnt"] = int(fcnt)
    if _num(fport) is not None:
        meta["fport"] = int(fport)
    heard = [g for g in gws if g.get("rssi") is not None]
    if heard:
        best = max(heard, key=lambda g: (g["rssi"], g.get("snr") or -99))
        meta.update(gateway=best["id"], rssi=best["rssi"])
        if best.get("snr") is not None:
            meta["snr"] = best["snr"]
    return meta


def parse_chirpstack(payload: bytes) -> NsUplink:
    doc = _obj(payload)
    info = doc.get("deviceInfo") if isinstance(doc.get("deviceInfo"), dict) else {}
    dev_eui = info.get("devEui")
    if not isinstance(dev_eui, str) or not re.fullmatch(r"[0-9a-fA-F]{16}", dev_eui):
        raise EventError("missing_field", "ChirpStack event lacks deviceInfo.devEui")
    data = _b64(doc.get("data"), "data")
    gws = []
    for rx in doc.get("rxInfo") or []:
        if isinstance(rx, dict):
            gws.append({k: v for k, v in (("id", rx.get("gatewayId")), ("rssi", _num(rx.get("rssi"))),
                                           ("snr", _num(rx.get("snr")))) if v is not None})
    ns = iso_to_ns(doc.get("time"))
    if ns is None:
        times = [iso_to_ns(rx.get("nsTime")) for rx in doc.get("rxInfo") or []
                 if isinstance(rx, dict)]
        ns = min((t for t in times if t), default=None)
    fport = doc.get("fPort")
    return NsUplink("chirpstack", dev_eui.lower(), info.get("deviceName"),
                    int(fport) if _num(fport) is not None else None, data, ns,
                    _radio_meta("chirpstack", gws, doc.get("fCnt"), fport, dev_eui.lower()))


def parse_tts(payload: bytes) -> NsUplink:
    doc = _obj(payload)
    ids = doc.get("end_device_ids") if isinstance(doc.get("end_device_ids"), dict) else {}
    up = doc.get("uplink_message")
    if not isinstance(up, dict):
        raise EventError("missing_field", "TTS event lacks uplink_message")
    dev_eui = ids.get("dev_eui")
    dev_eui = dev_eui.lower() if isinstance(dev_eui, str) and len(dev_eui) == 16 else None
    name = ids.get("device_id") if isinstance(ids.get("device_id"), str) else None
    if dev_eui is None and name is None:
        raise EventError("missing_field", "TTS event lacks end_device_ids")
    data = _b64(up.get("frm_payload"), "uplink_message.frm_payload")
    gws = []
    for rx in up.get("rx_metadata") or []:
        if isinstance(rx, dict):
            gid = (rx.get("gateway_ids") or {}).get("gateway_id") if isinstance(
                rx.get("gateway_ids"), dict) else None
            gws.append({k: v for k, v in (("id", gid), ("rssi", _num(rx.get("rssi"))),
                                           ("snr", _num(rx.get("snr")))) if v is not None})
    ns = iso_to_ns(up.get("received_at")) or iso_to_ns(doc.get("received_at"))
    fport = up.get("f_port")
    return NsUplink("tts", dev_eui, name, int(fport) if _num(fport) is not None else None, data,
                    ns, _radio_meta("tts", gws, up.get("f_cnt"), fport, dev_eui))


def parse_event(topic: str, payload: bytes) -> NsUplink | None:
    """Parse by topic; None when the topic is not a network-server uplink."""
    if CHIRPSTACK_RE.match(topic):
        return parse_chirpstack(payload)
    if TTS_RE.match(topic):
        return parse_tts(payload)
    return None
