"""One frame heard by several gateways arrives several times within a few
hundred milliseconds: collect the copies for a short window, then handle
the frame once with the list of every gateway that heard it.

>>> from gateway.lorawan.semtech import RxInfo
>>> d = Deduplicator(window_ns=200_000_000)
>>> d.add(b"frame", RxInfo("gw1", rssi=-90), now_ns=0)
True
>>> d.add(b"frame", RxInfo("gw2", rssi=-70), now_ns=50_000_000)
False
>>> d.due(now_ns=100_000_000)
[]
>>> [(phy, [r.gateway for r in rx]) for phy, rx, _ in d.due(now_ns=250_000_000)]
[(b'frame', ['gw1', 'gw2'])]
"""

from __future__ import annotations

from .semtech import RxInfo


class Deduplicator:
    def __init__(self, window_ns: int = 200_000_000) -> None:
        self.window_ns = window_ns
        # PHYPayload → (first heard, receive time, copies); dicts keep insertion order
        self._pending: dict[bytes, tuple[int, list[RxInfo]]] = {}

    def add(self, phy: bytes, rx: RxInfo, now_ns: int) -> bool:
        """True for the first copy of a frame."""
        entry = self._pending.get(phy)
        if entry is None:
            self._pending[phy] = (now_ns, [rx])
            return True
        if all(r.gateway != rx.gateway for r in entry[1]):
            entry[1].append(rx)  # the same gateway twice (its own retry) counts once
        return False

    def due(self, now_ns: int, flush: bool = False) -> list[tuple[bytes, list[RxInfo], int]]:
        out = []
        for phy, (first, rx) in list(self._pending.items()):
            if not flush and now_ns - first < self.window_ns:
                break  # later entries are younger
            del self._pending[phy]
            out.append((phy, rx, first))
        return out

    def __len__(self) -> int:
        return len(self._pending)
