"""The MQTT gateway stage: device uplinks on ``{root}/up/{profile}/{device}``
and network-server uplink events (ChirpStack v4 ``application/+/device/+/event/up``,
The Things Stack v3 ``v3/+/devices/+/up``) → batch envelopes on
``{root}/readings/{partition}``, plus the retained per-device status on
``{root}/status/device/{device_id}``.

Inputs are acknowledged only after the broker acknowledged every output
(readings and dead letters) — so a crash at any point loses nothing; at
worst a batch is published twice, and InfluxDB keeps one copy because the
timestamp was set once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict

from prometheus_client import Counter

from device_profiles import load_profiles
from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import Reading, encode_envelope, now_ns, partition
from mimamori.deadletter import DeadLetter
from mimamori.registry import DeviceCache, Registry
from mimamori.topics import CHIRPSTACK_UP, TTS_UP, Topics

from .network_servers import EventError, NsUplink, parse_event
from .status_book import StatusBook
from .uplink import STAGE, UplinkDecoder

log = logging.getLogger(__name__)

READINGS_OUT = Counter("mimamori_gateway_readings_total", "Canonical readings published")


class MqttGateway:
    def __init__(self, settings: Settings, registry: Registry | None = None,
                 client_id: str = "mimamori-gateway") -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.registry = registry or Registry(settings.registry)
        self.cache = DeviceCache(self.registry)
        self.decoder = UplinkDecoder(load_profiles(), self.cache.get,
                                     settings.bus.max_payload_bytes)
        gw = settings.gateway
        self.bus = Bus(settings.mqtt, client_id,
                       max_unacked=max(gw.max_unacked, gw.consume_batch))
        self.status = StatusBook(self.topics, settings.gateway.status_min_interval_s)
        self.published = 0
        self._eui_src: dict | None = None
        self._by_eui: dict[str, str] = {}
        self._eui_refreshed = 0.0

    @property
    def subscriptions(self) -> list[str]:
        subs = [self.topics.up_filter]
        if self.settings.gateway.network_servers:
            subs += [CHIRPSTACK_UP, TTS_UP]
        return subs

    def start(self) -> MqttGateway:
        self.bus.connect()
        self.bus.consume(self.subscriptions, self.handle,
                         batch_max=self.settings.gateway.consume_batch,
                         batch_wait_s=self.settings.bus.batch_wait_ms / 1000, name="gateway")
        return self

    def stop(self) -> None:
        self.bus.close()

    def convert(self, batch: list[Message]) -> tuple[list[Reading], list[DeadLetter]]:
        readings: list[Reading] = []
        dead: list[DeadLetter] = []
        received = now_ns()
        for m in batch:
            parsed = self.topics.parse_up(m.topic)
            if parsed is None and self.settings.gateway.network_servers:
                try:
                    event = parse_event(m.topic, m.payload)
                except EventError as exc:
                    dead.append(DeadLetter(STAGE, exc.reason, f"{m.topic}: {exc}", m.payload,
                                           m.topic, received_ns=received))
                    continue
                if event is not None:
                    out = self.convert_event(event, m.payload, m.topic, received)
                    (dead if isinstance(out, DeadLetter) else readings).append(out)
                    continue
            if parsed is None:
                dead.append(DeadLetter(STAGE, "bad_topic", f"topic {m.topic!r} is not "
                                       f"{self.topics.root}/up/{{profile}}/{{device_id}}",
                                       m.payload, m.topic))
                continue
            profile, device_id = parsed
            out = self.decoder.decode(device_id, m.payload, received_ns=received, topic=m.topic,
                                      claimed_profile=profile, meta={"transport": "mqtt"})
            (dead if isinstance(out, DeadLetter) else readings).append(out)
        return readings, dead

    def device_for(self, ev: NsUplink) -> str | None:
        """The registry device of a network-server event: by DevEUI, else a
        device whose id is the network server's device name/id."""
        devices = self.cache.all()
        if devices is not self._eui_src:
            self._by_eui = {d.dev_eui.lower(): d.device_id for d in devices.values() if d.dev_eui}
            self._eui_src = devices
        if ev.dev_eui:
            found = self._by_eui.get(ev.dev_eui)
            if found is None and time.monotonic() - self._eui_refreshed > 0.5:
                self._eui_refreshed = time.monotonic()  # a device just added: look again once
                self.cache.refresh()
                return self.device_for(ev)
            if found is not None:
                return found
        if ev.device_name:
            d = self.cache.get(ev.device_name)
            if d is not None and (not d.dev_eui or not ev.dev_eui):
                return d.device_id
        return None

    def convert_event(self, ev: NsUplink, raw: bytes, topic: str, received: int
                      ) -> Reading | DeadLetter:
        device_id = self.device_for(ev)
        if device_id is None:
            who = f"DevEUI {ev.dev_eui}" if ev.dev_eui else f"device {ev.device_name!r}"
            return DeadLetter(STAGE, "unknown_device", f"{ev.source}: {who} is not registered",
                              raw, topic, received_ns=received)
        out = self.decoder.decode(device_id, ev.payload, received_ns=received, topic=topic,
                                  fport=ev.fport, network_ns=ev.network_ns, meta=ev.meta)
        if isinstance(out, DeadLetter):
            out.payload, out.extra = raw, {"transport": ev.source}
        return out

    def handle(self, batch: list[Message]) -> None:
        readings, dead = self.convert(batch)
        self.publish(readings, dead)

    def publish(self, readings: list[Reading], dead: list[DeadLetter]) -> None:
        n = self.settings.bus.partitions
        by_part: dict[int, list[Reading]] = defaultdict(list)
        for r in readings:
            by_part[partition(r.device_id, n)].append(r)
        out: list[tuple[str, bytes]] = []
        size = self.settings.bus.max_batch
        for p, rs in by_part.items():
            for i in range(0, len(rs), size):
                out.append((self.topics.readings(p), encode_envelope(rs[i:i + size])))
        for d in dead:
            out.append((self.topics.deadletter(STAGE), d.encode()))
        now = now_ns()
        latest = {r.device_id: r for r in readings}  # the last reading of each device
        status = {d: self.status.device(r, now) for d, r in latest.items()
                  if self.status.due(r, now)}
        infos = [self.bus.publish(t, p) for t, p in out]
        infos += [self.bus.publish(t, p, retain=True) for t, p in status.values()]
        self.bus.wait_published(infos)
        for d in dead:
            d.count()
            log.info("dead letter: %s — %s", d.reason, d.detail)
        READINGS_OUT.inc(len(readings))
        self.published += len(readings)
