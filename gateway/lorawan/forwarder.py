"""A packet-forwarder client that behaves like Semtech's ``lora_pkt_fwd``
on the wire: an *upstream* socket for PUSH_DATA (frames and ``stat``) and a
*downstream* socket for PULL_DATA keepalives, on which PULL_RESP downlinks
arrive and are answered with TX_ACK. Used by the tests and the simulators
in place of a LoRa radio.

    fwd = PacketForwarder(("127.0.0.1", 1700), "0102030405060708")
    fwd.pull()                                     # keepalive; opens the downlink path
    fwd.push(phy, rssi=-95, snr=6.5)               # one uplink as heard by this gateway
    txpk = fwd.wait_downlink(timeout=10)           # e.g. the join-accept
"""

from __future__ import annotations

import base64
import os
import queue
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

from . import semtech
from .semtech import Kind


class PacketForwarder:
    def __init__(self, server: tuple[str, int], eui: str, *, freq_mhz: float = 923.2,
                 datr: str = "SF10BW125", codr: str = "4/5", ack_timeout: float = 2.0) -> None:
        self.server = server
        self.eui = eui
        self.freq_mhz, self.datr, self.codr = freq_mhz, datr, codr
        self.ack_timeout = ack_timeout
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.settimeout(ack_timeout)
        self.down.settimeout(0.1)
        self._acks: queue.Queue[tuple[int, int]] = queue.Queue()
        self._downlinks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._down_loop, name=f"fwd-{eui}", daemon=True)
        self._thread.start()

    def tmst(self) -> int:
        """The concentrator's free-running µs counter."""
        return int((time.monotonic() - self._t0) * 1e6) & 0xFFFFFFFF

    def _token(self) -> int:
        return int.from_bytes(os.urandom(2), "big")

    def _down_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.down.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            try:
                pkt = semtech.parse_packet(data)
            except semtech.ProtocolError:
                continue
            if pkt.kind is Kind.PULL_ACK:
                self._acks.put((pkt.token, pkt.kind))
            elif pkt.kind is Kind.PULL_RESP:
                self.down.sendto(semtech.tx_ack(pkt.token, self.eui), self.server)
                self._downlinks.put((pkt.body or {}).get("txpk") or {})

    def send_raw(self, data: bytes) -> None:
        """Send any bytes upstream (for tests of bad input)."""
        self.up.sendto(data, self.server)

    def pull(self) -> bool:
        """PULL_DATA keepalive; True when PULL_ACK came back."""
        token = self._token()
        self.down.sendto(semtech.pull_data(token, self.eui), self.server)
        deadline = time.monotonic() + self.ack_timeout
        while time.monotonic() < deadline:
            try:
                tok, _ = self._acks.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if tok == token:
                return True
        return False

    def rxpk(self, phy: bytes, *, rssi: float = -90.0, snr: float = 7.0,
             time_ns: int | None = None, crc_ok: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "tmst": self.tmst(), "chan": 0, "rfch": 0, "freq": self.freq_mhz,
            "stat": 1 if crc_ok else -1, "modu": "LORA", "datr": self.datr, "codr": self.codr,
            "rssi": rssi, "lsnr": snr, "size": len(phy), "data": base64.b64encode(phy).decode(),
        }
        if time_ns is not None:
            secs, ns = divmod(time_ns, 1_000_000_000)
            d["time"] = (datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
                         + f".{ns:09d}Z")
        return d

    def push(self, phy: bytes, **rx: Any) -> bool:
        """One uplink as this gateway heard it; True when PUSH_ACK came back."""
        return self.push_rxpk([self.rxpk(phy, **rx)])

    def push_rxpk(self, items: list[dict[str, Any]] | None = None,
                  stat: dict[str, Any] | None = None) -> bool:
        token = self._token()
        self.up.sendto(semtech.push_data(token, self.eui, items, stat), self.server)
        try:
            data, _ = self.up.recvfrom(64)
        except TimeoutError:
            return False
        return data[:4] == bytes((2, token >> 8, token & 0xFF, Kind.PUSH_ACK))

    def stat(self, **fields: Any) -> bool:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S GMT")
        base = {"time": now, "rxnb": 0, "rxok": 0, "rxfw": 0, "ackr": 100.0, "dwnb": 0, "txnb": 0}
        return self.push_rxpk(None, {**base, **fields})

    def wait_downlink(self, timeout: float = 10.0) -> dict[str, Any] | None:
        try:
            return self._downlinks.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.up.close()
        self.down.close()

    def __enter__(self) -> PacketForwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
