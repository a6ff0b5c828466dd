"""The MQTT gateway stage: device uplinks on ``{root}/up/{profile}/{device}``
→ batch envelopes on ``{root}/readings/{partition}``.

Inputs are acknowledged only after the broker acknowledged every output
(readings and dead letters) — so a crash at any point loses nothing; at
worst a batch is published twice, and InfluxDB keeps one copy because the
timestamp was set once.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from prometheus_client import Counter

from device_profiles import load_profiles
from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import Reading, encode_envelope, now_ns, partition
from mimamori.deadletter import DeadLetter
from mimamori.registry import DeviceCache, Registry
from mimamori.topics import Topics

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
        self.bus = Bus(settings.mqtt, client_id)
        self.published = 0

    def start(self) -> MqttGateway:
        self.bus.connect()
        self.bus.consume([self.topics.up_filter], self.handle,
                         batch_max=self.settings.bus.max_batch,
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
        self.bus.publish_durably(out)
        for d in dead:
            d.count()
            log.info("dead letter: %s — %s", d.reason, d.detail)
        READINGS_OUT.inc(len(readings))
        self.published += len(readings)
