"""The LoRaWAN gateway stage: a UDP listener for Semtech packet forwarders
(protocol v2) in front of :class:`~gateway.lorawan.network.NetworkServer`.

Threads: one receives datagrams (answers PUSH_DATA/PULL_DATA at once, puts
frames into the de-duplicator); one works (every few ms: frames whose
de-duplication window closed → network server → counters persisted →
readings, dead letters and retained status published and acknowledged by
the broker → downlinks sent as PULL_RESP; gateways without keepalive marked
offline). Bad input of any kind becomes a dead letter; nothing stops the
loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

from device_profiles import load_profiles
from mimamori.bus import Bus
from mimamori.config import Settings
from mimamori.contracts import Reading, encode_envelope, now_ns, partition
from mimamori.deadletter import DeadLetter
from mimamori.registry import DeviceCache, Registry
from mimamori.services import ServiceError
from mimamori.topics import Topics

from ..status_book import StatusBook
from ..uplink import STAGE, UplinkDecoder
from . import semtech
from .dedup import Deduplicator
from .network import Changes, NetworkServer, Outcome
from .semtech import Kind, ProtocolError, RxInfo
from .store import LorawanStore

log = logging.getLogger(__name__)

FRAMES = Counter("mimamori_lorawan_frames_total", "LoRaWAN frames handled, by result",
                 ["result"])
DOWNLINKS = Counter("mimamori_lorawan_downlinks_total", "Downlinks sent, by kind", ["kind"])
GATEWAYS_ONLINE = Gauge("mimamori_lorawan_gateways_online",
                        "LoRa gateways heard from within gateway_offline_s")
TX_ACKS = Counter("mimamori_lorawan_tx_acks_total", "TX_ACK results from gateways", ["error"])


class LorawanPortTaken(ServiceError):
    """The UDP port for packet forwarders cannot be bound (one line for the user)."""


@dataclass
class GatewayState:
    eui: str
    last_seen_ns: int
    last_seen_mono: float
    online: bool = False
    pull_addr: tuple[str, int] | None = None
    version: int = 2
    stat: dict[str, Any] = field(default_factory=dict)
    announced: bool | None = None  # the online value last published


class LorawanGateway:
    def __init__(self, settings: Settings, registry: Registry | None = None,
                 client_id: str = "mimamori-lorawan") -> None:
        self.settings = settings
        self.cfg = settings.lorawan
        self.topics = Topics(settings.bus.topic_root)
        self.registry = registry or Registry(settings.registry)
        self.store = LorawanStore(self.registry)
        cache = DeviceCache(self.registry)
        self.decoder = UplinkDecoder(load_profiles(), cache.get, settings.bus.max_payload_bytes)
        self.server = NetworkServer(self.store.load(), self.decoder,
                                    net_id=bytes.fromhex(self.cfg.net_id)[::-1],
                                    rx1_delay_s=self.cfg.rx1_delay_s)
        self._version = self.registry.version()
        self._version_checked = time.monotonic()
        self.bus = Bus(settings.mqtt, client_id, persistent=False)
        self.status = StatusBook(self.topics, settings.gateway.status_min_interval_s)
        self.dedup = Deduplicator(self.cfg.dedup_ms * 1_000_000)
        self.gateways: dict[str, GatewayState] = {}
        self._lock = threading.Lock()
        self._dead_in: list[DeadLetter] = []  # rejected datagrams, from the receive thread
        self._unpersisted = Changes()
        # one batch's output, kept until the broker took it (then cleared)
        self._pending: list[tuple[str, bytes, bool]] | None = None
        self._pending_downlinks: list[tuple[Outcome, int]] | None = None
        self._pending_dead: list[DeadLetter] | None = None
        self._pending_readings = 0
        self._status_out: list[tuple[str, bytes]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sock: socket.socket | None = None
        self.published = 0
        self.rejected = 0
        self.downlinks_sent = 0
        self.datagrams = 0

    # -- lifecycle ----------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        assert self.sock is not None
        return self.sock.getsockname()[:2]

    def start(self) -> LorawanGateway:
        self.bus.connect()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # A larger receive buffer rides out bursts while the other threads
        # hold the GIL (the kernel caps it at net.core.rmem_max).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.cfg.udp_receive_buffer)
        try:
            sock.bind((self.cfg.host, self.cfg.port))
        except OSError as exc:
            sock.close()
            self.bus.close()
            raise LorawanPortTaken(f"cannot listen for packet forwarders on UDP {self.cfg.host}:"
                          f"{self.cfg.port} ({exc.strerror or exc}); set "
                          "MIMAMORI_LORAWAN__PORT or MIMAMORI_LORAWAN__ENABLED=false") from None
        sock.settimeout(0.2)
        self.sock = sock
        for target, name in ((self._receive_loop, "lorawan-rx"), (self._work_loop, "lorawan")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        log.info("LoRaWAN packet-forwarder listener on UDP %s:%d", *self.address)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._threads.clear()
        try:
            self._work_once(flush=True)
        except Exception as exc:  # pragma: no cover - best effort at shutdown
            log.warning("lorawan: final flush failed: %s", exc)
        if self.sock is not None:
            self.sock.close()
        self.bus.close()

    # -- receiving ------------------------------------------------------------
    def _receive_loop(self) -> None:
        assert self.sock is not None
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(semtech.MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.datagrams += 1
            try:
                self.on_datagram(data, addr, now_ns())
            except Exception as exc:  # bad input must never stop the listener
                log.exception("lorawan: datagram from %s not handled", addr)
                self._reject("internal_error", f"datagram from {addr[0]}: {exc!r}", data)

    def _reject(self, reason: str, detail: str, payload: bytes, **extra: Any) -> None:
        with self._lock:
            self._dead_in.append(DeadLetter(STAGE, reason, detail, payload, "lorawan/udp",
                                            extra={"transport": "lorawan", **extra}))

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.sock is not None
        try:
            self.sock.sendto(data, addr)
        except OSError as exc:
            log.warning("lorawan: cannot send to %s: %s", addr, exc)

    def _seen(self, eui: str, ts: int) -> GatewayState:
        gw = self.gateways.get(eui)
        if gw is None:
            gw = self.gateways[eui] = GatewayState(eui, ts, time.monotonic())
        gw.last_seen_ns, gw.last_seen_mono, gw.online = ts, time.monotonic(), True
        return gw

    def on_datagram(self, data: bytes, addr: tuple[str, int], received_ns: int) -> None:
        try:
            pkt = semtech.parse_packet(data)
        except ProtocolError as exc:
            self._reject(exc.reason, f"from {addr[0]}:{addr[1]}: {exc}", data)
            return
        if pkt.kind is Kind.PULL_DATA:
            self._send(semtech.pull_ack(pkt), addr)
            with self._lock:
                gw = self._seen(pkt.gateway or "", received_ns)
                gw.pull_addr, gw.version = addr, pkt.version
            return
        if pkt.kind is Kind.TX_ACK:
            err = ((pkt.body or {}).get("txpk_ack") or {}).get("error", "NONE")
            TX_ACKS.labels(str(err)).inc()
            if err not in ("NONE", None):
                log.warning("gateway %s refused a downlink: %s", pkt.gateway, err)
            return
        if pkt.kind is not Kind.PUSH_DATA:
            self._reject("unexpected_packet", f"{pkt.kind.name} from {addr[0]} is for gateways, "
                         "not for the server", data)
            return
        self._send(semtech.push_ack(pkt), addr)
        eui = pkt.gateway or ""
        try:
            items = semtech.rxpks(pkt)
        except ProtocolError as exc:
            self._reject(exc.reason, f"gateway {eui}: {exc}", data, gateway=eui)
            items = []
        with self._lock:
            gw = self._seen(eui, received_ns)
            stat = (pkt.body or {}).get("stat")
            if isinstance(stat, dict):
                gw.stat = stat
                gw.announced = None  # publish the new stat
            for item in items:
                try:
                    phy, rx, crc = semtech.parse_rxpk(eui, item)
                except ProtocolError as exc:
                    self._dead_in.append(DeadLetter(
                        STAGE, exc.reason, f"gateway {eui}: {exc}",
                        str(item).encode()[:1024], "lorawan/udp",
                        extra={"transport": "lorawan", "gateway": eui}))
                    continue
                if crc == -1:
                    self._dead_in.append(DeadLetter(
                        STAGE, "crc_error", f"gateway {eui} heard a frame with a bad CRC", phy,
                        "lorawan/udp", extra={"transport": "lorawan", "gateway": eui}))
                    continue
                self.dedup.add(phy, rx, received_ns)

    # -- working ----------------------------------------------------------------
    def _work_loop(self) -> None:
        backoff = 0.2
        while not self._stop.wait(0.01):
            try:
                self._work_once()
                backoff = 0.2
            except Exception as exc:
                log.warning("lorawan: publishing failed (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _maybe_reload(self) -> None:
        if self._unpersisted or time.monotonic() - self._version_checked < 1.0:
            return  # never drop counters the database has not got yet
        self._version_checked = time.monotonic()
        v = self.registry.version()
        if v != self._version:
            self._version = v
            self.server.table = self.store.load()

    def _work_once(self, flush: bool = False) -> None:
        if self._pending is None:  # nothing left over from a failed publish
            self._prepare(flush)
        if self._unpersisted:
            # Counters and DevNonces before anything is published: a crash
            # loses at most this batch's readings, never lets a replay through.
            # If the database fails, the batch waits and is retried.
            joined = bool(self._unpersisted.joins)
            self.store.persist(self._unpersisted)
            self._unpersisted = Changes()
            if joined:
                # Our own join bumped the registry's counter; the table already
                # holds the new session, so a full reload is not needed for it.
                self._version = self.registry.version()
        if self._pending:
            self._publish(self._pending)
        for d in self._pending_dead or []:
            d.count()
            log.info("dead letter: %s — %s", d.reason, d.detail)
        self.published += self._pending_readings
        for out, _ in self._pending_downlinks or []:
            self._send_downlink(out)
        self._pending = self._pending_downlinks = self._pending_dead = None
        self._pending_readings = 0

    def _prepare(self, flush: bool) -> None:
        now = now_ns()
        with self._lock:
            due = self.dedup.due(now, flush)
            dead = self._dead_in
            self._dead_in = []
            status = self._gateway_status(now)
        if due:
            self._maybe_reload()
        readings: list[Reading] = []
        downlinks: list[tuple[Outcome, int]] = []
        latest: dict[str, tuple[Reading, int]] = {}
        for phy, rx, first_ns in due:
            try:
                out = self.server.handle(phy, rx, first_ns)
            except Exception as exc:  # a bug must not lose the loop
                log.exception("lorawan: frame not handled")
                dead.append(DeadLetter(STAGE, "internal_error", repr(exc), phy, "lorawan/udp"))
                continue
            FRAMES.labels(out.dead.reason if out.dead else out.event).inc()
            if out.event == "retransmission":
                log.info("%s repeated confirmed frame %s; ACK sent again", out.device_id,
                         out.meta.get("fcnt"))
            if out.dead is not None:
                dead.append(out.dead)
            if out.reading is not None:
                readings.append(out.reading)
                latest[out.device_id] = (out.reading, first_ns)
            if out.downlink is not None:
                downlinks.append((out, first_ns))
        self._unpersisted.merge(self.server.table.take_changes())
        device_status = {d: self.status.device(r, heard) for d, (r, heard) in latest.items()
                         if self.status.due(r, now)}
        msgs: list[tuple[str, bytes, bool]] = []
        n, size = self.settings.bus.partitions, self.settings.bus.max_batch
        by_part: dict[int, list[Reading]] = defaultdict(list)
        for r in readings:
            by_part[partition(r.device_id, n)].append(r)
        for p, rs in by_part.items():
            for i in range(0, len(rs), size):
                msgs.append((self.topics.readings(p), encode_envelope(rs[i:i + size]), False))
        msgs += [(self.topics.deadletter(STAGE), d.encode(), False) for d in dead]
        msgs += [(t, b, True) for t, b in device_status.values()]
        msgs += [(t, b, True) for t, b in status]
        self._pending, self._pending_downlinks = msgs, downlinks
        self._pending_dead, self._pending_readings = dead, len(readings)
        self.rejected += len(dead)

    def _publish(self, msgs: list[tuple[str, bytes, bool]]) -> None:
        infos = [self.bus.publish(t, b, qos=1, retain=r) for t, b, r in msgs]
        self.bus.wait_published(infos)

    def _gateway_status(self, now: int) -> list[tuple[str, bytes]]:
        out = []
        mono = time.monotonic()
        for gw in self.gateways.values():
            if gw.online and mono - gw.last_seen_mono > self.cfg.gateway_offline_s:
                gw.online = False
        GATEWAYS_ONLINE.set(sum(g.online for g in self.gateways.values()))
        for gw in self.gateways.values():
            if gw.announced is not gw.online:
                gw.announced = gw.online
                if not gw.online:
                    log.warning("LoRa gateway %s is offline (no keepalive for %.0fs)", gw.eui,
                                self.cfg.gateway_offline_s)
                out.append(self.status.gateway(gw.eui, gw.online, gw.last_seen_ns, gw.stat))
        return out

    def _send_downlink(self, out: Outcome) -> None:
        dl = out.downlink
        assert dl is not None
        with self._lock:
            gw = self.gateways.get(dl.rx.gateway)
            rx = dl.rx
            if gw is None or gw.pull_addr is None:  # answer through another gateway that heard it
                for g in out.meta.get("gateways", []):
                    other = self.gateways.get(g.get("id", ""))
                    if other is not None and other.pull_addr is not None:
                        gw = other
                        break
            if gw is None or gw.pull_addr is None:
                log.warning("no PULL_DATA path to any gateway that heard %s; %s not sent",
                            out.device_id, dl.what)
                DOWNLINKS.labels(f"{dl.what}_no_path").inc()
                return
            addr, version = gw.pull_addr, gw.version
        if rx.gateway != gw.eui:
            rx = RxInfo(gw.eui, tmst=None, freq=rx.freq, datr=rx.datr, codr=rx.codr)
        token = int.from_bytes(os.urandom(2), "big")
        txpk = semtech.txpk(dl.phy, rx, dl.delay_us, self.cfg.tx_power_dbm)
        self._send(semtech.pull_resp(token, txpk, version), addr)
        DOWNLINKS.labels(dl.what).inc()
        self.downlinks_sent += 1
