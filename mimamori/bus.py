"""The one bus client: paho-mqtt wrapped for every stage.

* MQTT 5, persistent session (``clean_start=False`` + a session expiry), so a
  restarted consumer receives what was published while it was away.
* Manual acknowledgement: a consumer's handler gets a *batch* of messages;
  they are acknowledged only after the handler returns (the handler makes its
  work durable first). If it raises, the batch is retried after a backoff and
  nothing is acknowledged.
* A bound on unacknowledged messages (MQTT 5 Receive Maximum): the broker
  holds the rest, which is the backpressure. The broker may send more than
  that (Mosquitto 2.0 does), so the bus holds the bound itself: at most
  ``max_unacked + 16`` messages wait for the handler (``pending()``), plus at
  most 200 just read and one 256 KB read buffer; while the inbox is full the
  network thread reads nothing and TCP holds the broker back.
* Every ``publish()`` return code is checked; a full paho queue (rc 15, see
  SERVICES.md) waits instead of silently losing the message.
* Reconnect with capped exponential backoff (paho's own loop).

Callbacks run on paho's network thread and only hand messages to a bounded
queue; the handler runs on a worker thread of its own. A consuming bus
publishes on a second connection of its own (client id ``{id}-pub``): when
the bounded queue is full, the consuming connection's network thread waits
(TCP backpressure), and the PUBACKs the handler waits for must still flow —
on one shared connection that would deadlock (seen with Mosquitto 2.0.11,
which may send more than the Receive Maximum).

Throughput (see the README, ``mimamori bench ingest``): the socket is read
in large chunks instead of paho's three ``recv`` calls per packet and one
``select`` per packet, and a batch's PUBACKs go out in one write.
"""

from __future__ import annotations

import collections
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .config import MqttSettings

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600


class BusError(Exception):
    """Base of every bus failure; the message is one plain line."""


class BusUnavailable(BusError):
    """The broker cannot be reached."""


@dataclass(slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    generation: int


Handler = Callable[[list[Message]], None]

_PUBACK = 0x40
_READ_CHUNK = 256 * 1024
_HAND_ON = 200  # messages read before they go to the inbox (see _Client)
_PUBACK_OK = ReasonCode(PacketTypes.PUBACK)
_NO_PROPS = Properties(PacketTypes.PUBACK)


class _Inbox:
    """Messages between paho's network thread and the handler's worker,
    bounded by message count: never more than ``cap`` held. The network
    thread hands over runs of messages; what does not fit waits in
    ``put_many`` until the worker takes some — meanwhile nothing reads the
    socket, so the kernel's buffers fill and TCP holds the broker back.
    Never a silent drop."""

    def __init__(self, cap: int, stop: threading.Event) -> None:
        self.cap = cap
        self._stop = stop
        self._chunks: collections.deque[list[Message]] = collections.deque()
        self._n = 0
        self._cv = threading.Condition(threading.Lock())

    def put_many(self, msgs: list[Message]) -> None:
        with self._cv:
            while msgs:
                while self._n >= self.cap and not self._stop.is_set():
                    self._cv.wait(0.5)
                # stopping: hand on the rest (unacknowledged, so redelivered anyway)
                room = len(msgs) if self._stop.is_set() else self.cap - self._n
                part, msgs = (msgs, []) if room >= len(msgs) else (msgs[:room], msgs[room:])
                self._chunks.append(part)
                self._n += len(part)
                self._cv.notify_all()

    def take(self, want: int, into: list[Message], timeout: float) -> None:
        """Move up to ``want`` messages into ``into``, waiting at most
        ``timeout`` for the first one."""
        with self._cv:
            if not self._chunks and timeout > 0:
                self._cv.wait(timeout)
            took = 0
            while self._chunks and took < want:
                chunk = self._chunks.popleft()
                room = want - took
                if len(chunk) > room:
                    self._chunks.appendleft(chunk[room:])
                    chunk = chunk[:room]
                into.extend(chunk)
                took += len(chunk)
            if took:
                self._n -= took
                self._cv.notify_all()

    def qsize(self) -> int:
        return self._n


class _Client(mqtt.Client):
    """paho's client, reading the (plain TCP) socket in large chunks.

    paho reads a packet with three ``recv`` calls (type, length, body) and
    goes back to ``select`` after each packet; here ``recv`` serves from a
    userspace buffer and ``loop_read`` keeps handling packets while the
    buffer holds any. The messages read are handed on every ``_HAND_ON``
    messages (not once per pass: one pass over a backlog can read tens of
    thousands), so a full inbox stops the reading there. Everything else is
    paho's own code."""

    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None
    # Set by Bus: receives the QoS 1 messages read in one pass, as a list.
    deliver: Callable[[list[tuple[str, bytes, int, bool, int]]], None] | None = None
    _got: list | None = None

    def _handle_publish(self) -> MQTTErrorCode:
        """Fast path for the common QoS 1 PUBLISH without MQTT 5 properties:
        no MQTTMessage or Properties objects, no callback per message."""
        pkt = self._in_packet["packet"]
        cmd = self._in_packet["command"]
        got = self._got
        if got is not None and cmd & 0x06 == 0x02 and self._manual_ack:
            tlen = (pkt[0] << 8) | pkt[1]
            p = 2 + tlen
            if tlen and len(pkt) > p + 2 and pkt[p + 2] == 0:  # property length 0
                try:
                    topic = pkt[2:p].decode("utf-8")
                except UnicodeDecodeError:
                    return super()._handle_publish()
                got.append((topic, pkt[p + 3:], 1, bool(cmd & 1), (pkt[p] << 8) | pkt[p + 1]))
                if len(got) >= _HAND_ON:
                    self._hand_on()  # waits here while the inbox is full
                return MQTTErrorCode.MQTT_ERR_SUCCESS
        self._hand_on()  # keep the order: earlier messages before this one
        return super()._handle_publish()

    def _hand_on(self) -> None:
        got = self._got
        if got:
            self._got = []
            self.deliver(got)  # type: ignore[misc]

    def _sock_recv(self, bufsize: int) -> bytes:
        sock = self._sock
        if sock is None or self._ssl:
            return super()._sock_recv(bufsize)
        if sock is not self._rsock:  # a new connection: forget the old bytes
            self._rsock, self._rbuf, self._rpos = sock, b"", 0
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = sock.recv(_READ_CHUNK)  # raises BlockingIOError/OSError as paho expects
            if not buf:
                return b""
            pos = 0
        end = min(pos + bufsize, len(buf))
        self._rbuf, self._rpos = buf, end
        return buf[pos:end]

    def _buffered(self) -> bool:
        return self._rsock is self._sock and self._rpos < len(self._rbuf)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        if self._sock is None or self._ssl:
            return super().loop_read(max_packets)
        if self.deliver is not None:
            self._got = []
        try:
            while True:
                rc = self._packet_read()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN or not self._buffered():
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
        finally:
            if self._got:
                self._hand_on()
            self._got = None

    # -- publishing: O(1) per PUBACK, PUBACKs without objects, packets coalesced --
    _queued: collections.deque | None = None

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None):  # type: ignore[override]
        # paho keeps messages beyond the inflight window "queued" and, on each
        # PUBACK, scans every unacknowledged message to find the next one
        # (quadratic: 1,000 inflight → ~300 µs per PUBACK). Remember them in order.
        with self._out_message_mutex:
            info = super().publish(topic, payload, qos, retain, properties)
            if qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                m = self._out_messages.get(info.mid)
                if m is not None and m.state == mqtt.mqtt_ms_queued:
                    if self._queued is None:
                        self._queued = collections.deque()
                    self._queued.append(info.mid)
        return info

    def _update_inflight(self) -> MQTTErrorCode:
        q = self._queued
        out = self._out_messages
        while q and self._inflight_messages < self._max_inflight_messages:
            m = out.get(q.popleft())
            if m is None or m.state != mqtt.mqtt_ms_queued:
                continue
            self._inflight_messages += 1
            m.state = (mqtt.mqtt_ms_wait_for_puback if m.qos == 1
                       else mqtt.mqtt_ms_wait_for_pubrec)
            rc = self._send_publish(m.mid, m.topic.encode("utf-8"), m.payload, m.qos,
                                    m.retain, m.dup, properties=m.properties)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
        if self._inflight_messages < self._max_inflight_messages and \
                len(out) > self._inflight_messages:
            return super()._update_inflight()  # e.g. after a reconnect: paho's own scan
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_pubackcomp(self, cmd):  # type: ignore[override]
        pkt = self._in_packet["packet"]
        # mid, then (MQTT 5) an optional success reason code (0 or 0x10 "no
        # matching subscribers") and property length 0. (We set no on_publish,
        # so the reason code object handed on is never looked at.)
        if cmd == "PUBACK" and (len(pkt) == 2 or (len(pkt) in (3, 4) and pkt[2] < 0x80
                                                  and not any(pkt[3:]))):
            mid = (pkt[0] << 8) | pkt[1]
            with self._out_message_mutex:
                if mid in self._out_messages:
                    return self._do_on_publish(mid, _PUBACK_OK, _NO_PROPS)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_pubackcomp(cmd)

    _wake_pending = False

    def _packet_queue(self, command, packet, mid, qos, info=None):  # type: ignore[override]
        # paho wakes its network thread (a byte on a socket pair, one syscall
        # and one select() round) for every packet; one pending wake-up is
        # enough: the network thread writes every queued packet when it wakes.
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        if self._thread is None:  # no network thread: paho's own way
            if self._sockpairW is not None:
                try:
                    self._sockpairW.send(mqtt.sockpair_data)
                except BlockingIOError:
                    pass
            if self._on_socket_register_write is None and self._in_callback_mutex.acquire(False):
                self._in_callback_mutex.release()
                return self.loop_write()
            self._call_socket_register_write()
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        if not self._wake_pending and self._sockpairW is not None:
            self._wake_pending = True
            try:
                self._sockpairW.send(mqtt.sockpair_data)
            except BlockingIOError:
                pass
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        self._wake_pending = False  # before taking packets: later ones wake us again
        # One send() for a run of QoS 1 PUBLISH / PUBACK packets (paho writes
        # each packet on its own; nothing happens after writing these kinds).
        out = self._out_packet
        if len(out) > 1:
            parts = []
            size = 0
            while out and size < _READ_CHUNK:
                p = out[0]
                c = p["command"] & 0xF0
                if p["pos"] or not ((c == 0x30 and p["qos"] > 0) or c == _PUBACK):
                    break
                out.popleft()
                parts.append(p)
                size += len(p["packet"])
            if len(parts) > 1:
                blob = b"".join([p["packet"] for p in parts])
                out.appendleft({"command": _PUBACK, "mid": 0, "qos": 1, "pos": 0,
                                "to_process": len(blob), "packet": blob, "info": None})
            elif parts:
                out.appendleft(parts[0])
        return super()._packet_write()

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK several QoS 1 messages with one write (same bytes as
        paho's ``ack()``, in the order received, as MQTT requires)."""
        if not mids:
            return
        queue_packet = getattr(self, "_packet_queue", None)
        if queue_packet is None:  # pragma: no cover - a paho without it
            for mid in mids:
                self.ack(mid, 1)
            return
        blob = b"".join([struct.pack("!BBH", _PUBACK, 2, mid) for mid in mids])
        queue_packet(_PUBACK, blob, 0, 1)


class Bus:
    """A connection to the broker for one stage (one MQTT client id)."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        *,
        persistent: bool = True,
        max_unacked: int | None = None,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.persistent = persistent
        self.max_unacked = max_unacked or settings.max_unacked
        self._client = self._new_client(client_id)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._subacks = threading.Condition()
        self._subacked: set[int] = set()
        self._connected = threading.Event()
        self._generation = 0
        self._subscriptions: list[str] = []
        self._stop = threading.Event()
        self._inbox = _Inbox(self.max_unacked + 16, self._stop)
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None
        self.acked = 0
        self.queue_full_waits = 0  # times publish() met paho's rc 15 and waited
        self._pub: Bus | None = None  # the publishing connection of a consuming bus
        self._pub_lock = threading.Lock()
        self._consuming = False

    def _new_client(self, client_id: str) -> _Client:
        c = _Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        if self.settings.username:
            c.username_pw_set(self.settings.username, self.settings.password)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        return c

    # -- connection -------------------------------------------------------
    @property
    def url(self) -> str:
        return self.settings.url

    def connect(self, timeout: float = 10.0) -> Bus:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S if self.persistent else 0
        props.ReceiveMaximum = self.max_unacked
        try:
            self._client.connect(
                self.settings.host,
                self.settings.port,
                keepalive=self.settings.keepalive_s,
                clean_start=not self.persistent,
                properties=props,
            )
        except OSError as exc:
            raise BusUnavailable(
                f"MQTT broker at {self.url} is unreachable ({exc.strerror or exc}); "
                "start it with `mimamori services up` or set MIMAMORI_MQTT__URL"
            ) from None
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.loop_stop()
            why = self.last_error or "no CONNACK"
            raise BusUnavailable(f"MQTT broker at {self.url} did not accept the connection ({why})")
        return self

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = str(reason_code)
            log.warning("broker refused %s: %s", self.client_id, reason_code)
            return
        self._generation += 1
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("%s lost the broker (%s); reconnecting", self.client_id, reason_code)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- publishing --------------------------------------------------------
    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        """Queue a message; the return code is checked, never ignored."""
        if self._consuming:
            return self._publisher().publish(topic, payload, qos=qos, retain=retain)
        delay = 0.001
        while True:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0:
                # paho keeps QoS>0 messages and sends them on reconnect: say so
                # with paho's own "not sent yet" (NO_CONN makes is_published()
                # and wait_for_publish() raise); callers that need durability
                # wait for the PUBACK
                info.rc = MQTTErrorCode.MQTT_ERR_AGAIN
            if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN,
                           MQTTErrorCode.MQTT_ERR_NO_CONN):
                return info
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                # 65,535 QoS 1 messages unacknowledged (paho's packet ids are
                # used up): wait for PUBACKs instead of losing this one.
                if delay == 0.001:
                    self.queue_full_waits += 1
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            raise BusError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def _publisher(self) -> Bus:
        with self._pub_lock:
            if self._pub is None:
                self._pub = Bus(self.settings, f"{self.client_id}-pub", persistent=False,
                                max_unacked=self.max_unacked).connect()
            return self._pub

    def wait_published(self, infos: Iterable[mqtt.MQTTMessageInfo], timeout: float = 30.0) -> None:
        """Block until the broker acknowledged every message (PUBACK).

        Woken by the PUBACK itself (paho notifies each message's condition),
        not by polling. A message published while the connection was down
        is kept by paho and sent on reconnect (:meth:`publish` marks it
        ``MQTT_ERR_AGAIN``): it is waited for like the others."""
        deadline = time.monotonic() + timeout
        for info in infos:
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                raise BusError(f"publish failed: {mqtt.error_string(info.rc)}")
            remaining = deadline - time.monotonic()
            if remaining > 0:
                info.wait_for_publish(remaining)
            if not info.is_published():
                raise BusError(f"broker at {self.url} did not acknowledge within {timeout:.0f}s")

    def publish_durably(
        self, messages: Iterable[tuple[str, bytes]], qos: int = 1, timeout: float = 30.0
    ) -> None:
        infos = [self.publish(t, p, qos=qos) for t, p in messages]
        self.wait_published(infos, timeout)

    # -- consuming ---------------------------------------------------------
    def subscribe(self, *topics: str, timeout: float = 30.0) -> None:
        """Subscribe (QoS 1); when connected, return only once the broker
        confirmed (SUBACK), so what is published afterwards — on any
        connection — reaches this subscriber."""
        self._subscriptions.extend(topics)
        if not self.connected:
            return  # subscribed in _on_connect
        mids = []
        for t in topics:
            rc, mid = self._client.subscribe(t, qos=1)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                mids.append(mid)
        deadline = time.monotonic() + timeout
        with self._subacks:
            while not all(m in self._subacked for m in mids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BusError(f"broker at {self.url} did not confirm the subscription to "
                                   f"{', '.join(topics)} within {timeout:.0f}s")
                self._subacks.wait(remaining)
            self._subacked.difference_update(mids)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._subacks:
            self._subacked.add(mid)
            self._subacks.notify_all()

    def _on_message(self, client, userdata, msg) -> None:
        m = Message(msg.topic, msg.payload, msg.qos, msg.retain, msg.mid, self._generation)
        # Blocks paho's thread when full: TCP backpressure, never a silent drop.
        self._inbox.put_many([m])

    def _deliver(self, got: list[tuple[str, bytes, int, bool, int]]) -> None:
        gen = self._generation
        self._inbox.put_many([Message(t, p, q, r, mid, gen) for t, p, q, r, mid in got])

    def consume(
        self,
        topics: Iterable[str],
        handler: Handler,
        *,
        batch_max: int = 1000,
        batch_wait_s: float = 0.05,
        name: str | None = None,
    ) -> None:
        """Subscribe and run ``handler`` on batches in a worker thread."""
        self._consuming = True
        self._client.deliver = self._deliver
        self._worker = threading.Thread(
            target=self._work,
            args=(handler, batch_max, batch_wait_s),
            name=name or f"{self.client_id}-worker",
            daemon=True,
        )
        self._worker.start()
        self.subscribe(*topics)

    def _work(self, handler: Handler, batch_max: int, batch_wait_s: float) -> None:
        backoff = 0.2
        inbox = self._inbox
        while not self._stop.is_set():
            batch: list[Message] = []
            inbox.take(batch_max, batch, 0.2)
            if not batch:
                continue
            deadline = time.monotonic() + batch_wait_s
            while len(batch) < batch_max:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                inbox.take(batch_max - len(batch), batch, remaining)
            while not self._stop.is_set():
                try:
                    handler(batch)
                except Exception as exc:  # retryable: keep the batch, do not ack
                    log.warning("%s: batch of %d not done (%s); retrying in %.1fs",
                                self.client_id, len(batch), exc, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.2
                self._ack(batch)
                break

    def _ack(self, batch: list[Message]) -> None:
        gen = self._generation
        # A message from an earlier connection will be redelivered by the
        # broker; its old packet id means nothing on this connection.
        self._client.ack_many([m.mid for m in batch if m.qos == 1 and m.generation == gen])
        self.acked += len(batch)

    def pending(self) -> int:
        return self._inbox.qsize()

    # -- shutdown ----------------------------------------------------------
    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout)
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
            if self._pub is not None:
                self._pub.close(timeout)
