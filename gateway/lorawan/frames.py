"""LoRaWAN 1.0.x PHYPayload: parse and build. Pure functions, no I/O.

Multi-octet fields travel little-endian; here DevAddr, DevEUI and JoinEUI
are shown the way people write them (big-endian hex, e.g. ``"49be7df1"``),
and AppNonce/NetID/DevNonce are kept as the wire bytes.

Building (what a device does — used by tests and the simulators):

>>> from gateway.lorawan import encode_uplink, parse_phy, decrypt_data
>>> nwk, app = "44024241ed4ce9a68c6a8bc055233fd3", "ec925802ae430ca77fd3dd73cb2cc588"
>>> phy = encode_uplink("49be7df1", 2, b"test", nwk, app, fport=1)
>>> phy.hex()
'40f17dbe4900020001954378762b11ff0d'
>>> f = parse_phy(phy)
>>> f.dev_addr, f.fcnt, f.fport, f.mtype.name
('49be7df1', 2, 1, 'UNCONFIRMED_UP')
>>> decrypt_data(f, nwk, app, fcnt32=2)
b'test'
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from .crypto import (
    DOWNLINK,
    UPLINK,
    Key,
    as_key,
    data_mic,
    frm_crypt,
    join_accept_decrypt,
    join_accept_encrypt,
    join_mic,
    mic_ok,
)

MAJOR_R1 = 0
MAX_PHY = 255
MAX_FCNT_GAP = 16384  # LoRaWAN 1.0.x MAX_FCNT_GAP


class MType(enum.IntEnum):
    JOIN_REQUEST = 0
    JOIN_ACCEPT = 1
    UNCONFIRMED_UP = 2
    UNCONFIRMED_DOWN = 3
    CONFIRMED_UP = 4
    CONFIRMED_DOWN = 5
    REJOIN_REQUEST = 6
    PROPRIETARY = 7

    @property
    def uplink(self) -> bool:
        return self in (MType.JOIN_REQUEST, MType.UNCONFIRMED_UP, MType.CONFIRMED_UP,
                        MType.REJOIN_REQUEST)


class FrameError(ValueError):
    """The bytes are not a well-formed LoRaWAN frame; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(slots=True)
class DataFrame:
    mtype: MType
    dev_addr: str  # big-endian hex
    adr: bool
    adr_ack_req: bool  # uplink; RFU on downlinks
    ack: bool
    fpending_or_classb: bool
    fcnt: int  # the 16 bits on the air
    fopts: bytes
    fport: int | None
    frm_payload: bytes  # still encrypted
    mic: bytes
    raw: bytes = field(repr=False, default=b"")

    @property
    def direction(self) -> int:
        return UPLINK if self.mtype.uplink else DOWNLINK

    @property
    def confirmed(self) -> bool:
        return self.mtype in (MType.CONFIRMED_UP, MType.CONFIRMED_DOWN)

    @property
    def dev_addr_int(self) -> int:
        return int(self.dev_addr, 16)

    @property
    def signed_part(self) -> bytes:
        return self.raw[:-4]


@dataclass(slots=True)
class JoinRequest:
    join_eui: str
    dev_eui: str
    dev_nonce: int  # little-endian uint16 from the wire
    mic: bytes
    raw: bytes = field(repr=False, default=b"")

    mtype = MType.JOIN_REQUEST


@dataclass(slots=True)
class JoinAccept:
    """A decrypted join-accept."""

    app_nonce: bytes  # 3 wire bytes
    net_id: bytes  # 3 wire bytes
    dev_addr: str
    dl_settings: int
    rx_delay: int
    cf_list: bytes
    mic: bytes
    mtype = MType.JOIN_ACCEPT


Frame = DataFrame | JoinRequest


def _hex_le(b: bytes) -> str:
    return b[::-1].hex()


def _le_from_hex(text: str, n: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} must be hexadecimal, got {text!r}") from None
    if len(raw) != n:
        raise ValueError(f"{what} must be {n} bytes ({2 * n} hex digits), got {text!r}")
    return raw[::-1]


def parse_phy(phy: bytes) -> Frame:
    """Parse the frames a network server receives (uplinks, join requests)
    and downlinks (for tools); raises :class:`FrameError` with a reason."""
    n = len(phy)
    if n < 5:
        raise FrameError("malformed_frame", f"PHYPayload of {n} bytes is too short")
    if n > MAX_PHY:
        raise FrameError("malformed_frame", f"PHYPayload of {n} bytes exceeds {MAX_PHY}")
    mhdr = phy[0]
    if mhdr & 0x03 != MAJOR_R1:
        raise FrameError("unsupported_frame", f"LoRaWAN major version {mhdr & 3} is not R1")
    mtype = MType(mhdr >> 5)
    if mtype is MType.JOIN_REQUEST:
        if n != 23:
            raise FrameError("malformed_frame", f"a JoinRequest has 23 bytes, not {n}")
        return JoinRequest(_hex_le(phy[1:9]), _hex_le(phy[9:17]),
                           int.from_bytes(phy[17:19], "little"), phy[19:23], phy)
    if mtype in (MType.JOIN_ACCEPT, MType.REJOIN_REQUEST, MType.PROPRIETARY):
        raise FrameError("unsupported_frame", f"{mtype.name} frames are not handled here "
                         "(use parse_join_accept for a join-accept)")
    if n < 12:
        raise FrameError("malformed_frame", f"a data frame has at least 12 bytes, not {n}")
    dev_addr = _hex_le(phy[1:5])
    fctrl = phy[5]
    fcnt = phy[6] | phy[7] << 8
    fopts_len = fctrl & 0x0F
    end = n - 4
    pos = 8 + fopts_len
    if pos > end:
        raise FrameError("malformed_frame", f"FOptsLen {fopts_len} runs past the frame end")
    fopts = phy[8:pos]
    fport: int | None = None
    frm = b""
    if pos < end:
        fport = phy[pos]
        frm = phy[pos + 1:end]
        if fport == 0 and fopts_len:
            raise FrameError("malformed_frame", "MAC commands in both FOpts and FPort 0")
    return DataFrame(mtype, dev_addr, bool(fctrl & 0x80), bool(fctrl & 0x40), bool(fctrl & 0x20),
                     bool(fctrl & 0x10), fcnt, fopts, fport, frm, phy[end:], phy)


def verify_data_mic(frame: DataFrame, nwk_s_key: Key | bytes | str, fcnt32: int) -> bool:
    k = as_key(nwk_s_key)
    return mic_ok(data_mic(k, frame.signed_part, frame.direction, frame.dev_addr_int, fcnt32),
                  frame.mic)


def decrypt_data(frame: DataFrame, nwk_s_key: Key | bytes | str, app_s_key: Key | bytes | str,
                 fcnt32: int) -> bytes:
    """Plain FRMPayload: FPort 0 with the NwkSKey, other ports with the AppSKey."""
    if frame.fport is None:
        return b""
    key = as_key(nwk_s_key if frame.fport == 0 else app_s_key)
    return frm_crypt(key, frame.frm_payload, frame.direction, frame.dev_addr_int, fcnt32)


def encode_data(mtype: MType, dev_addr: str, fcnt: int, payload: bytes,
                nwk_s_key: Key | bytes | str, app_s_key: Key | bytes | str | None = None, *,
                fport: int | None = 1, fopts: bytes = b"", adr: bool = False,
                adr_ack_req: bool = False, ack: bool = False, fpending: bool = False) -> bytes:
    """Build an encrypted data frame with its MIC; ``fcnt`` is the full
    32-bit counter (16 bits go on the air)."""
    if len(fopts) > 15:
        raise ValueError("FOpts holds at most 15 bytes")
    if fport is None and payload:
        raise ValueError("a payload needs an FPort")
    if fport is not None and not 0 <= fport <= 255:
        raise ValueError("FPort is 0..255")
    if fport == 0 and fopts:
        raise ValueError("MAC commands go in FOpts or in FPort 0, not both")
    direction = UPLINK if mtype.uplink else DOWNLINK
    nwk = as_key(nwk_s_key)
    addr = int(dev_addr, 16)
    fctrl = (adr << 7) | (adr_ack_req << 6) | (ack << 5) | (fpending << 4) | len(fopts)
    msg = bytearray((mtype << 5 | MAJOR_R1,))
    msg += struct.pack("<IBH", addr, fctrl, fcnt & 0xFFFF) + fopts
    if fport is not None:
        key = nwk if fport == 0 else as_key(app_s_key if app_s_key is not None else nwk_s_key)
        msg.append(fport)
        msg += frm_crypt(key, payload, direction, addr, fcnt)
    msg = bytes(msg)
    if len(msg) + 4 > MAX_PHY:
        raise ValueError(f"frame of {len(msg) + 4} bytes exceeds {MAX_PHY}")
    return msg + data_mic(nwk, msg, direction, addr, fcnt)


def encode_uplink(dev_addr: str, fcnt: int, payload: bytes, nwk_s_key: Key | bytes | str,
                  app_s_key: Key | bytes | str, *, fport: int = 1, confirmed: bool = False,
                  fopts: bytes = b"", adr: bool = False, ack: bool = False) -> bytes:
    """What a device sends: an (un)confirmed data uplink, encrypted, with MIC."""
    mtype = MType.CONFIRMED_UP if confirmed else MType.UNCONFIRMED_UP
    return encode_data(mtype, dev_addr, fcnt, payload, nwk_s_key, app_s_key, fport=fport,
                       fopts=fopts, adr=adr, ack=ack)


def encode_join_request(join_eui: str, dev_eui: str, dev_nonce: int,
                        app_key: Key | bytes | str) -> bytes:
    msg = (bytes((MType.JOIN_REQUEST << 5 | MAJOR_R1,)) + _le_from_hex(join_eui, 8, "JoinEUI")
           + _le_from_hex(dev_eui, 8, "DevEUI") + struct.pack("<H", dev_nonce & 0xFFFF))
    return msg + join_mic(as_key(app_key), msg)


def verify_join_request(req: JoinRequest, app_key: Key | bytes | str) -> bool:
    return mic_ok(join_mic(as_key(app_key), req.raw[:19]), req.mic)


def encode_join_accept(app_key: Key | bytes | str, app_nonce: bytes, net_id: bytes,
                       dev_addr: str, *, dl_settings: int = 0, rx_delay: int = 1,
                       cf_list: bytes = b"") -> bytes:
    """What the network server sends (encrypted with the AppKey, with MIC)."""
    if len(app_nonce) != 3 or len(net_id) != 3:
        raise ValueError("AppNonce and NetID are 3 bytes each")
    if cf_list and len(cf_list) != 16:
        raise ValueError("CFList is 16 bytes or absent")
    key = as_key(app_key)
    mhdr = bytes((MType.JOIN_ACCEPT << 5 | MAJOR_R1,))
    body = (app_nonce + net_id + _le_from_hex(dev_addr, 4, "DevAddr")
            + bytes((dl_settings & 0xFF, rx_delay & 0xFF)) + cf_list)
    mic = join_mic(key, mhdr + body)
    return mhdr + join_accept_encrypt(key, body + mic)


def parse_join_accept(phy: bytes, app_key: Key | bytes | str) -> tuple[JoinAccept, bool]:
    """Decrypt a join-accept as a device does; returns it and whether its MIC is valid."""
    if len(phy) not in (17, 33) or phy[0] >> 5 != MType.JOIN_ACCEPT:
        raise FrameError("malformed_frame", f"not a join-accept ({len(phy)} bytes)")
    key = as_key(app_key)
    plain = join_accept_decrypt(key, phy[1:])
    body, mic = plain[:-4], plain[-4:]
    ja = JoinAccept(body[0:3], body[3:6], _hex_le(body[6:10]), body[10], body[11], body[12:], mic)
    return ja, mic_ok(join_mic(key, phy[:1] + body), mic)


def full_fcnt(last: int | None, fcnt16: int) -> int:
    """The 32-bit counter closest above ``last`` whose low 16 bits are
    ``fcnt16`` (a roll-over of the 16 bits on the air adds 0x10000).

    >>> full_fcnt(None, 5), full_fcnt(0x1FFFE, 0x0003), full_fcnt(10, 11)
    (5, 131075, 11)
    """
    if last is None:
        return fcnt16
    c = (last & ~0xFFFF) | fcnt16
    return c if c > last else c + 0x10000
