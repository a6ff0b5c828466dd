"""A virtual LoRaWAN 1.0.x end device: keeps its session (keys, DevAddr,
frame counter, used DevNonces) and builds the frames a real one would send.
For simulators and tests; no radio, no I/O of its own.

>>> d = EndDevice.abp("26011bda", "2b7e151628aed2a6abf7158809cf4f3c", "00" * 16)
>>> from gateway.lorawan import parse_phy
>>> [parse_phy(d.uplink(b"\\x01")).fcnt for _ in range(3)]
[0, 1, 2]
"""

from __future__ import annotations

import base64
import random
from typing import TYPE_CHECKING

from .crypto import Key, as_key, derive_session_keys
from .frames import encode_join_request, encode_uplink, parse_join_accept

if TYPE_CHECKING:
    from .forwarder import PacketForwarder


class EndDevice:
    def __init__(self, dev_eui: str = "", *, app_key: Key | bytes | str | None = None,
                 join_eui: str = "0000000000000000", dev_addr: str | None = None,
                 nwk_s_key: Key | bytes | str | None = None,
                 app_s_key: Key | bytes | str | None = None, fcnt_up: int = 0,
                 rng: random.Random | None = None) -> None:
        self.dev_eui, self.join_eui = dev_eui, join_eui
        self.app_key = as_key(app_key) if app_key is not None else None
        self.dev_addr = dev_addr
        self.nwk_s_key = as_key(nwk_s_key) if nwk_s_key is not None else None
        self.app_s_key = as_key(app_s_key) if app_s_key is not None else None
        self.fcnt_up = fcnt_up
        self.rng = rng or random.Random()
        self._next_nonce = self.rng.randrange(0x10000)
        self._pending_nonce: int | None = None

    @classmethod
    def abp(cls, dev_addr: str, nwk_s_key: Key | bytes | str, app_s_key: Key | bytes | str,
            fcnt_up: int = 0) -> EndDevice:
        return cls(dev_addr=dev_addr, nwk_s_key=nwk_s_key, app_s_key=app_s_key, fcnt_up=fcnt_up)

    @classmethod
    def otaa(cls, dev_eui: str, join_eui: str, app_key: Key | bytes | str,
             rng: random.Random | None = None) -> EndDevice:
        return cls(dev_eui, app_key=app_key, join_eui=join_eui, rng=rng)

    @property
    def activated(self) -> bool:
        return bool(self.dev_addr and self.nwk_s_key and self.app_s_key)

    def join_request(self) -> bytes:
        """A join-request with a DevNonce this device has not used before."""
        if self.app_key is None:
            raise ValueError("an OTAA device needs its AppKey")
        nonce = self._next_nonce
        self._next_nonce = (nonce + 1) & 0xFFFF
        self._pending_nonce = nonce
        return encode_join_request(self.join_eui, self.dev_eui, nonce, self.app_key)

    def accept(self, phy: bytes) -> bool:
        """Take a join-accept: derive the session; False if its MIC is wrong."""
        if self.app_key is None or self._pending_nonce is None:
            return False
        ja, ok = parse_join_accept(phy, self.app_key)
        if not ok:
            return False
        nwk, app = derive_session_keys(self.app_key, ja.app_nonce, ja.net_id,
                                       self._pending_nonce.to_bytes(2, "little"))
        self.nwk_s_key, self.app_s_key, self.dev_addr = Key(nwk), Key(app), ja.dev_addr
        self.fcnt_up, self._pending_nonce = 0, None
        return True

    def join_via(self, fwd: PacketForwarder, timeout: float = 10.0, **rx) -> bool:
        """Join through a packet forwarder (which must have sent PULL_DATA)."""
        fwd.push(self.join_request(), **rx)
        txpk = fwd.wait_downlink(timeout)
        return txpk is not None and self.accept(base64.b64decode(txpk.get("data", "")))

    def uplink(self, payload: bytes, fport: int = 1, confirmed: bool = False) -> bytes:
        """The next data frame (the frame counter advances)."""
        if not self.activated:
            raise ValueError("the device has no session: ABP keys or a join first")
        assert self.dev_addr and self.nwk_s_key and self.app_s_key
        phy = encode_uplink(self.dev_addr, self.fcnt_up, payload, self.nwk_s_key,
                            self.app_s_key, fport=fport, confirmed=confirmed)
        self.fcnt_up += 1
        return phy
