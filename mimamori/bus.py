"""The one bus client: paho-mqtt wrapped for every stage.

* MQTT 5, persistent session (``clean_start=False`` + a session expiry), so a
  restarted consumer receives what was published while it was away.
* Manual acknowledgement: a consumer's handler gets a *batch* of messages;
  they are acknowledged only after the handler returns (the handler makes its
  work durable first). If it raises, the batch is retried after a backoff and
  nothing is acknowledged.
* A bound on unacknowledged messages (MQTT 5 Receive Maximum): the broker
  holds the rest, which is the backpressure.
* Every ``publish()`` return code is checked; a full paho queue (rc 15, see
  SERVICES.md) waits instead of silently losing the message.
* Reconnect with capped exponential backoff (paho's own loop).

Callbacks run on paho's network thread and only hand messages to a bounded
queue; the handler runs on a worker thread of its own.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._connected = threading.Event()
        self._generation = 0
        self._subscriptions: list[str] = []
        self._inbox: queue.Queue[Message] = queue.Queue(maxsize=self.max_unacked + 16)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.last_error: str | None = None
        self.acked = 0

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
        delay = 0.001
        while True:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                # NO_CONN: paho keeps QoS>0 messages and sends them on reconnect;
                # callers that need durability wait for the PUBACK.
                return info
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                time.sleep(delay)  # paho's queue is full: wait for PUBACKs
                delay = min(delay * 2, 0.1)
                continue
            raise BusError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def wait_published(self, infos: Iterable[mqtt.MQTTMessageInfo], timeout: float = 30.0) -> None:
        """Block until the broker acknowledged every message (PUBACK)."""
        deadline = time.monotonic() + timeout
        for info in infos:
            while not info.is_published():
                if time.monotonic() > deadline:
                    raise BusError(f"broker at {self.url} did not acknowledge within {timeout:.0f}s")
                time.sleep(0.002)

    def publish_durably(
        self, messages: Iterable[tuple[str, bytes]], qos: int = 1, timeout: float = 30.0
    ) -> None:
        infos = [self.publish(t, p, qos=qos) for t, p in messages]
        self.wait_published(infos, timeout)

    # -- consuming ---------------------------------------------------------
    def subscribe(self, *topics: str) -> None:
        self._subscriptions.extend(topics)
        if self.connected:
            for t in topics:
                self._client.subscribe(t, qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        m = Message(msg.topic, msg.payload, msg.qos, msg.retain, msg.mid, self._generation)
        # Blocks paho's thread when full: TCP backpressure, never a silent drop.
        self._inbox.put(m)

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
        while not self._stop.is_set():
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.monotonic() + batch_wait_s
            while len(batch) < batch_max:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(self._inbox.get(timeout=remaining))
                    except queue.Empty:
                        break
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
        for m in batch:
            # A message from an earlier connection will be redelivered by the
            # broker; its old packet id means nothing on this connection.
            if m.qos > 0 and m.generation == gen:
                self._client.ack(m.mid, m.qos)
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
