"""The Semtech packet-forwarder UDP protocol, version 2 (``PROTOCOL.TXT`` of
Lora-net/packet_forwarder). Pure: bytes in, bytes out, no sockets.

Every datagram: ``version(1) | token(2) | identifier(1) | …``

=============  ==  =====================================  ==========
PUSH_DATA      0   gateway EUI(8) + JSON {rxpk:[…], stat}  gw → server
PUSH_ACK       1   —                                      server → gw
PULL_DATA      2   gateway EUI(8) (keepalive, opens path)  gw → server
PULL_RESP      3   JSON {txpk:{…}}                         server → gw
PULL_ACK       4   —                                      server → gw
TX_ACK         5   gateway EUI(8) + optional JSON          gw → server
=============  ==  =====================================  ==========

>>> pkt = parse_packet(push_data(0x1234, "0102030405060708", [{"data": "QA=="}]))
>>> pkt.kind.name, pkt.token, pkt.gateway
('PUSH_DATA', 4660, '0102030405060708')
>>> push_ack(pkt).hex()
'02123401'
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..timeparse import iso_to_ns

VERSIONS = (1, 2)
MAX_DATAGRAM = 65507


class Kind(enum.IntEnum):
    PUSH_DATA = 0
    PUSH_ACK = 1
    PULL_DATA = 2
    PULL_RESP = 3
    PULL_ACK = 4
    TX_ACK = 5


class ProtocolError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class Packet:
    version: int
    token: int
    kind: Kind
    gateway: str | None = None  # EUI as 16 hex digits
    body: dict[str, Any] | None = None


@dataclass(slots=True)
class RxInfo:
    """How one gateway heard one frame (one ``rxpk``)."""

    gateway: str
    rssi: float | None = None
    snr: float | None = None
    tmst: int | None = None  # the concentrator's µs counter (for RX1 timing)
    time_ns: int | None = None  # the gateway's (GPS) UTC time, if it sent one
    freq: float | None = None
    datr: str | None = None
    codr: str | None = None
    chan: int | None = None
    rfch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_meta(self) -> dict[str, Any]:
        return {k: v for k, v in (("id", self.gateway), ("rssi", self.rssi), ("snr", self.snr),
                                  ("freq", self.freq), ("datr", self.datr)) if v is not None}


def parse_packet(data: bytes) -> Packet:
    n = len(data)
    if n < 4:
        raise ProtocolError("malformed_datagram", f"datagram of {n} bytes is too short")
    version, kind_b = data[0], data[3]
    if version not in VERSIONS:
        raise ProtocolError("unsupported_protocol", f"packet-forwarder protocol version "
                            f"{version} (expected 2)")
    try:
        kind = Kind(kind_b)
    except ValueError:
        raise ProtocolError("malformed_datagram", f"unknown identifier 0x{kind_b:02x}") from None
    token = data[1] << 8 | data[2]
    pkt = Packet(version, token, kind)
    if kind in (Kind.PUSH_DATA, Kind.PULL_DATA, Kind.TX_ACK):
        if n < 12:
            raise ProtocolError("malformed_datagram", f"{kind.name} without a gateway EUI")
        pkt.gateway = data[4:12].hex()
        rest = data[12:]
    else:
        rest = data[4:]
    if kind in (Kind.PUSH_DATA, Kind.PULL_RESP) or (kind is Kind.TX_ACK and rest.strip(b"\0")):
        try:
            body = orjson.loads(rest.rstrip(b"\0"))
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("malformed_json", f"{kind.name} JSON is invalid: {exc}") from None
        if not isinstance(body, dict):
            raise ProtocolError("malformed_json", f"{kind.name} JSON must be an object")
        pkt.body = body
    return pkt


def _head(version: int, token: int, kind: Kind) -> bytes:
    return bytes((version, token >> 8 & 0xFF, token & 0xFF, kind))


# --- server side --------------------------------------------------------------
def push_ack(pkt: Packet) -> bytes:
    return _head(pkt.version, pkt.token, Kind.PUSH_ACK)


def pull_ack(pkt: Packet) -> bytes:
    return _head(pkt.version, pkt.token, Kind.PULL_ACK)


def pull_resp(token: int, txpk: dict[str, Any], version: int = 2) -> bytes:
    return _head(version, token, Kind.PULL_RESP) + orjson.dumps({"txpk": txpk})


def rxpks(pkt: Packet) -> list[dict[str, Any]]:
    items = (pkt.body or {}).get("rxpk") or []
    if not isinstance(items, list):
        raise ProtocolError("malformed_json", "rxpk must be a list")
    return items


def parse_rxpk(gateway: str, d: Any) -> tuple[bytes, RxInfo, int]:
    """→ (PHYPayload, how it was heard, CRC status 1 ok / -1 bad / 0 none)."""
    if not isinstance(d, dict):
        raise ProtocolError("malformed_json", "an rxpk entry must be an object")
    data = d.get("data")
    if not isinstance(data, str):
        raise ProtocolError("malformed_json", "rxpk lacks base64 'data'")
    try:
        phy = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("malformed_json", "rxpk 'data' is not base64") from None

    def num(key: str) -> Any:
        v = d.get(key)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    rssi = num("rssi")
    snr = num("lsnr")
    if rssi is None and isinstance(d.get("rsig"), list) and d["rsig"]:
        first = d["rsig"][0] if isinstance(d["rsig"][0], dict) else {}
        rssi, snr = first.get("rssic"), first.get("lsnr")
    tmst = num("tmst")
    info = RxInfo(gateway, rssi, snr, int(tmst) if tmst is not None else None,
                  iso_to_ns(d.get("time")), num("freq"),
                  d.get("datr") if isinstance(d.get("datr"), str) else None,
                  d.get("codr") if isinstance(d.get("codr"), str) else None,
                  num("chan"), int(num("rfch") or 0))
    stat = num("stat")
    return phy, info, int(stat) if stat is not None else 0


def txpk(phy: bytes, rx: RxInfo, delay_us: int, power_dbm: int = 13) -> dict[str, Any]:
    """A downlink in RX1: same frequency and data rate as the uplink (AS923
    with RX1DROffset 0), sent ``delay_us`` after the uplink's ``tmst``."""
    out: dict[str, Any] = {
        "imme": False, "rfch": 0, "powe": power_dbm, "modu": "LORA",
        "datr": rx.datr or "SF10BW125", "codr": rx.codr or "4/5", "ipol": True,
        "size": len(phy), "data": base64.b64encode(phy).decode(), "ncrc": True,
    }
    if rx.freq is not None:
        out["freq"] = rx.freq
    if rx.tmst is not None:
        out["tmst"] = (rx.tmst + delay_us) & 0xFFFFFFFF
    else:
        out["imme"] = True
    return out


# --- gateway side (the packet-forwarder client used by tests and simulators) ----
def push_data(token: int, gateway: str, rxpk: list[dict[str, Any]] | None = None,
              stat: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {}
    if rxpk:
        body["rxpk"] = rxpk
    if stat:
        body["stat"] = stat
    return _head(2, token, Kind.PUSH_DATA) + bytes.fromhex(gateway) + orjson.dumps(body)


def pull_data(token: int, gateway: str) -> bytes:
    return _head(2, token, Kind.PULL_DATA) + bytes.fromhex(gateway)


def tx_ack(token: int, gateway: str, error: str = "NONE") -> bytes:
    return (_head(2, token, Kind.TX_ACK) + bytes.fromhex(gateway)
            + orjson.dumps({"txpk_ack": {"error": error}}))
