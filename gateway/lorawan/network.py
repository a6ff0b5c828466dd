"""The network-server logic, pure: one de-duplicated frame (and how each
gateway heard it) → a canonical reading or a dead letter, and maybe a
downlink (a join-accept, or the ACK of a confirmed uplink).

State lives in a :class:`SessionTable` (in memory); what changed is taken
with :meth:`SessionTable.take_changes` and persisted by the caller *before*
readings are published (see :mod:`.store`), so a replay after a restart is
still rejected.

Frame counters: the 16 bits on the air are extended to 32 bits. A frame whose
counter is not above the last accepted one is a **replay** (told apart from
a forgery by checking the MIC with the counter it claims) — except the last
confirmed frame sent again, which is ACKed again without a second reading; a
jump larger than MAX_FCNT_GAP is refused; a 16-bit roll-over is accepted when
the MIC proves it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mimamori.contracts import Reading
from mimamori.deadletter import DeadLetter

from ..uplink import STAGE, UplinkDecoder
from .crypto import Key, data_mic, derive_session_keys, frm_crypt, mic_ok
from .frames import (
    MAX_FCNT_GAP,
    DataFrame,
    FrameError,
    JoinRequest,
    MType,
    encode_data,
    encode_join_accept,
    parse_phy,
    verify_join_request,
)
from .semtech import RxInfo

JOIN_ACCEPT_DELAY1_S = 5


@dataclass(slots=True)
class Session:
    """An activated device (ABP, or OTAA after its join)."""

    device_id: str
    dev_addr: str
    nwk_s_key: Key
    app_s_key: Key
    fcnt_up: int | None = None  # last accepted uplink counter (32 bits)
    fcnt_down: int = 0  # next downlink counter
    dev_addr_int: int = 0

    def __post_init__(self) -> None:
        self.dev_addr_int = int(self.dev_addr, 16)


@dataclass(slots=True)
class OtaaDevice:
    device_id: str
    dev_eui: str
    join_eui: str | None
    app_key: Key
    used_nonces: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Changes:
    counters: dict[str, Session] = field(default_factory=dict)  # device id → its session
    nonces: list[tuple[str, str, int]] = field(default_factory=list)  # device, join_eui, nonce
    joins: list[Session] = field(default_factory=list)  # new sessions (keys + DevAddr)

    def __bool__(self) -> bool:
        return bool(self.counters or self.nonces or self.joins)

    def merge(self, later: Changes) -> None:
        self.counters.update(later.counters)
        self.nonces += later.nonces
        self.joins += later.joins


class SessionTable:
    def __init__(self) -> None:
        self.by_device: dict[str, Session] = {}
        self.by_addr: dict[str, list[Session]] = {}
        self.otaa: dict[str, OtaaDevice] = {}
        self._changes = Changes()

    def put(self, s: Session) -> None:
        old = self.by_device.get(s.device_id)
        if old is not None:
            lst = self.by_addr.get(old.dev_addr, [])
            if old in lst:
                lst.remove(old)
        self.by_device[s.device_id] = s
        self.by_addr.setdefault(s.dev_addr, []).append(s)

    def put_otaa(self, d: OtaaDevice) -> None:
        self.otaa[d.dev_eui.lower()] = d

    def touched(self, s: Session) -> None:
        self._changes.counters[s.device_id] = s

    def nonce_used(self, d: OtaaDevice, join_eui: str, nonce: int) -> None:
        d.used_nonces.add(nonce)
        self._changes.nonces.append((d.device_id, join_eui, nonce))

    def joined(self, s: Session) -> None:
        self.put(s)
        self._changes.joins.append(s)
        self._changes.counters[s.device_id] = s

    def take_changes(self) -> Changes:
        c, self._changes = self._changes, Changes()
        return c


@dataclass(slots=True)
class Downlink:
    phy: bytes
    rx: RxInfo  # the gateway (and radio settings) to answer through
    delay_us: int
    what: str  # "join_accept" | "ack"


@dataclass(slots=True)
class Outcome:
    reading: Reading | None = None
    dead: DeadLetter | None = None
    downlink: Downlink | None = None
    device_id: str = ""
    event: str = ""  # "uplink" | "joined" | "mac_only" | "rejected"
    meta: dict[str, Any] = field(default_factory=dict)


def best_rx(rx: list[RxInfo]) -> RxInfo:
    return max(rx, key=lambda r: (r.rssi if r.rssi is not None else -999.0,
                                  r.snr if r.snr is not None else -99.0))


def rx_meta(rx: list[RxInfo]) -> dict[str, Any]:
    best = best_rx(rx)
    meta: dict[str, Any] = {"transport": "lorawan", "gateway": best.gateway,
                            "gateways": [r.to_meta() for r in rx]}
    if best.rssi is not None:
        meta["rssi"] = best.rssi
    if best.snr is not None:
        meta["snr"] = best.snr
    if best.freq is not None:
        meta["freq_mhz"] = best.freq
    if best.datr:
        meta["datr"] = best.datr
    return meta


class NetworkServer:
    def __init__(self, table: SessionTable, decoder: UplinkDecoder, *,
                 net_id: bytes = b"\x00\x00\x00", rx1_delay_s: int = 1,
                 random_bytes: Callable[[int], bytes] = os.urandom,
                 max_fcnt_gap: int = MAX_FCNT_GAP) -> None:
        self.table = table
        self.decoder = decoder
        self.net_id = net_id  # wire order (little-endian)
        self.rx1_delay_s = rx1_delay_s
        self.random_bytes = random_bytes
        self.max_fcnt_gap = max_fcnt_gap

    # -- helpers ------------------------------------------------------------
    def _dead(self, reason: str, detail: str, phy: bytes, rx: list[RxInfo], received_ns: int,
              device_id: str = "") -> Outcome:
        d = DeadLetter(STAGE, reason, detail, phy, "lorawan/udp", device_id,
                       received_ns=received_ns,
                       extra={"transport": "lorawan", "gateways": [r.gateway for r in rx]})
        return Outcome(dead=d, device_id=device_id, event="rejected")

    # -- entry point ----------------------------------------------------------
    def handle(self, phy: bytes, rx: list[RxInfo], received_ns: int) -> Outcome:
        try:
            frame = parse_phy(phy)
        except FrameError as exc:
            return self._dead(exc.reason, str(exc), phy, rx, received_ns)
        if isinstance(frame, JoinRequest):
            return self._join(frame, phy, rx, received_ns)
        if not frame.mtype.uplink:
            return self._dead("unsupported_frame", f"{frame.mtype.name} is not an uplink", phy,
                              rx, received_ns)
        return self._uplink(frame, phy, rx, received_ns)

    # -- data uplinks -------------------------------------------------------------
    def check(self, frame: DataFrame) -> tuple[Session | None, int, str]:
        """Find the session whose MIC matches and the full counter →
        (session, fcnt32, "") or (None|session, 0, reason)."""
        candidates = self.table.by_addr.get(frame.dev_addr)
        if not candidates:
            return None, 0, "unknown_devaddr"
        f16 = frame.fcnt
        signed = frame.raw[:-4]
        mic = frame.mic
        addr = frame.dev_addr_int
        reason = "bad_mic"
        replayed: Session | None = None
        for s in candidates:
            last = s.fcnt_up
            if last is None:
                if mic_ok(data_mic(s.nwk_s_key, signed, 0, addr, f16), mic):
                    return s, f16, ""
                continue
            c = (last & ~0xFFFF) | f16
            if c <= last:
                c += 0x10000  # the next counter with these 16 bits: a roll-over
            if mic_ok(data_mic(s.nwk_s_key, signed, 0, addr, c), mic):
                return s, c, ("fcnt_gap" if c - last > self.max_fcnt_gap else "")
            old = c - 0x10000  # the same 16 bits, already passed: a replayed frame?
            if old >= 0 and mic_ok(data_mic(s.nwk_s_key, signed, 0, addr, old), mic):
                if old == last and frame.confirmed:
                    # the device did not hear our ACK and sent the frame again
                    return s, old, "retransmission"
                replayed, reason = s, "replay"
        return replayed, 0, reason

    def _uplink(self, frame: DataFrame, phy: bytes, rx: list[RxInfo],
                received_ns: int) -> Outcome:
        s, fcnt, reason = self.check(frame)
        if reason == "retransmission" and s is not None:
            # ACK it again; the reading was already taken the first time
            out = Outcome(device_id=s.device_id, event="retransmission",
                          meta={**rx_meta(rx), "fcnt": fcnt})
            out.downlink = self._ack(s, rx)
            return out
        if reason:
            details = {
                "unknown_devaddr": f"no device has DevAddr {frame.dev_addr}",
                "bad_mic": f"MIC check failed for DevAddr {frame.dev_addr} (FCnt {frame.fcnt})",
                "replay": (f"frame counter {frame.fcnt} of {s.device_id if s else '?'} was "
                           f"already used (last accepted {s.fcnt_up if s else '?'})"),
                "fcnt_gap": (f"frame counter jumped from {s.fcnt_up if s else '?'} to {fcnt}, "
                             f"more than {self.max_fcnt_gap}"),
            }
            return self._dead(reason, details[reason], phy, rx, received_ns,
                              s.device_id if s else "")
        assert s is not None
        s.fcnt_up = fcnt
        self.table.touched(s)
        meta = rx_meta(rx)
        meta.update({"dev_addr": frame.dev_addr, "fcnt": fcnt, "fport": frame.fport,
                     "confirmed": frame.confirmed})
        out = Outcome(device_id=s.device_id, meta=meta)
        if frame.confirmed:
            out.downlink = self._ack(s, rx)
        if frame.fport is None or frame.fport == 0:
            out.event = "mac_only"  # MAC commands only: nothing to read
            return out
        payload = frm_crypt(s.app_s_key, frame.frm_payload, 0, frame.dev_addr_int, fcnt)
        network_ns = min((r.time_ns for r in rx if r.time_ns), default=None)
        result = self.decoder.decode(s.device_id, payload, received_ns=received_ns,
                                     topic="lorawan/udp", fport=frame.fport,
                                     network_ns=network_ns, meta=meta)
        if isinstance(result, DeadLetter):
            result.extra = {"transport": "lorawan", "fcnt": fcnt, "fport": frame.fport,
                            "gateways": [r.gateway for r in rx]}
            out.dead, out.event = result, "rejected"
        else:
            out.reading, out.event = result, "uplink"
        return out

    def _ack(self, s: Session, rx: list[RxInfo]) -> Downlink:
        ack = encode_data(MType.UNCONFIRMED_DOWN, s.dev_addr, s.fcnt_down, b"", s.nwk_s_key,
                          fport=None, ack=True)
        s.fcnt_down += 1
        self.table.touched(s)
        return Downlink(ack, best_rx(rx), self.rx1_delay_s * 1_000_000, "ack")

    # -- joins ---------------------------------------------------------------------
    def _join(self, req: JoinRequest, phy: bytes, rx: list[RxInfo], received_ns: int) -> Outcome:
        dev = self.table.otaa.get(req.dev_eui)
        if dev is None:
            return self._dead("unknown_dev_eui", f"no OTAA device has DevEUI {req.dev_eui}",
                              phy, rx, received_ns)
        if dev.join_eui and dev.join_eui.lower() != req.join_eui:
            return self._dead("join_eui_mismatch",
                              f"{dev.device_id} has JoinEUI {dev.join_eui}, the request says "
                              f"{req.join_eui}", phy, rx, received_ns, dev.device_id)
        if not verify_join_request(req, dev.app_key):
            return self._dead("bad_mic", f"join-request MIC check failed for {dev.device_id}",
                              phy, rx, received_ns, dev.device_id)
        if req.dev_nonce in dev.used_nonces:
            return self._dead("devnonce_reused",
                              f"{dev.device_id} reused DevNonce {req.dev_nonce}", phy, rx,
                              received_ns, dev.device_id)
        self.table.nonce_used(dev, req.join_eui, req.dev_nonce)
        app_nonce = self.random_bytes(3)
        dev_addr = self._new_dev_addr(dev.device_id)
        nwk, app = derive_session_keys(dev.app_key, app_nonce, self.net_id,
                                       req.dev_nonce.to_bytes(2, "little"))
        self.table.joined(Session(dev.device_id, dev_addr, Key(nwk), Key(app)))
        accept = encode_join_accept(dev.app_key, app_nonce, self.net_id, dev_addr,
                                    rx_delay=self.rx1_delay_s)
        meta = rx_meta(rx)
        meta.update({"dev_addr": dev_addr, "dev_nonce": req.dev_nonce})
        return Outcome(device_id=dev.device_id, event="joined", meta=meta,
                       downlink=Downlink(accept, best_rx(rx), JOIN_ACCEPT_DELAY1_S * 1_000_000,
                                         "join_accept"))

    def _new_dev_addr(self, device_id: str) -> str:
        nwk_id = self.net_id[0] & 0x7F  # NetID type 0: the 7 low bits, 25-bit NwkAddr
        for _ in range(100):
            addr = (nwk_id << 25) | (int.from_bytes(self.random_bytes(4), "big") & 0x1FFFFFF)
            text = f"{addr:08x}"
            taken = self.table.by_addr.get(text, [])
            if not [s for s in taken if s.device_id != device_id]:
                return text
        raise RuntimeError("could not find a free DevAddr")  # pragma: no cover
