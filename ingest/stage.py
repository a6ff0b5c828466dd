"""The ingest stage: readings bus → InfluxDB, durably.

A bus message is acknowledged only once each of its readings is in
InfluxDB, or in the on-disk buffer (:mod:`ingest.disk_buffer`, replayed in
order when InfluxDB returns), or rejected with a reason onto the dead-letter
topic. When the buffer is full the handler raises: nothing is acknowledged,
and the bound on unacknowledged messages makes the broker hold the rest.

On start the stage sets up the database, retention policies and continuous
queries (:mod:`ingest.schema`); if InfluxDB is away it starts anyway and
buffers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import ContractError, decode_envelope
from mimamori.deadletter import DeadLetter
from mimamori.topics import Topics

from .disk_buffer import DiskBuffer
from .influx import InfluxClient
from .line_protocol import LineError
from .points import LineBuilder, measurement_of, tags_of
from .schema import InfluxV1Layout
from .writer import REJECTS, DurableWriter, Rejected

log = logging.getLogger(__name__)
STAGE = "ingest"


def buffer_dir(settings: Settings, client_id: str | None = None) -> Path:
    ing = settings.ingest
    return Path(ing.buffer_dir) if ing.buffer_dir else (
        settings.state_dir.resolve() / "ingest-buffer" / (client_id or ing.client_id))


class IngestStage:
    def __init__(self, settings: Settings, client_id: str | None = None) -> None:
        self.settings = settings
        ing = settings.ingest
        self.client_id = client_id or ing.client_id
        self.topics = Topics(settings.bus.topic_root)
        self.admin = InfluxClient(settings.influx)
        self.influx = (InfluxClient(settings.influx, username=ing.writer_username,
                                    password=ing.writer_password)
                       if ing.writer_username and settings.influx.username else self.admin)
        self.layout = InfluxV1Layout(self.admin, ing, settings.influx)
        self.buffer = DiskBuffer(buffer_dir(settings, self.client_id),
                                 ing.buffer_max_mb * 1024 * 1024, fsync=ing.buffer_fsync)
        self.writer = DurableWriter(self.influx, self.layout, self.buffer, self._rejected,
                                    max_lines=ing.batch_points, gzip=ing.gzip)
        self.bus = Bus(settings.mqtt, self.client_id)
        self.builder = LineBuilder()

    @property
    def written(self) -> int:
        return self.writer.written

    def start(self) -> IngestStage:
        if not self.writer.try_setup():  # InfluxDB away: buffer, set up when it returns
            log.warning("InfluxDB at %s not ready at start; buffering until it is",
                        self.influx.url)
        self.writer.start()
        self.bus.connect()
        self.bus.consume([self.topics.readings_filter], self.handle,
                         batch_max=min(self.bus.max_unacked, 1000),
                         batch_wait_s=self.settings.ingest.flush_ms / 1000, name="ingest")
        return self

    def stop(self) -> None:
        self.bus.close()
        self.writer.stop()
        if self.influx is not self.admin:
            self.influx.close()
        self.admin.close()

    def handle(self, batch: list[Message]) -> None:
        raw: list[str] = []
        location: list[str] = []
        dead: list[DeadLetter] = []
        add = self.builder.add
        for m in batch:
            try:
                readings = decode_envelope(m.payload)
            except ContractError as exc:
                dead.append(DeadLetter(STAGE, "bad_envelope", str(exc), m.payload, m.topic))
                continue
            for r in readings:
                try:
                    add(r, raw, location)
                except LineError as exc:
                    dead.append(DeadLetter(STAGE, "unwritable", str(exc),
                                           orjson.dumps(r.to_dict()), m.topic, r.device_id))
        batches = {}
        if raw:
            # every measurement but people's locations shares the raw policy
            batches[self.layout.target(measurement_of(raw[0]))] = raw
        if location:
            batches[self.layout.target("location")] = location
        if batches:
            self.writer.write(batches)
        if dead:
            self._publish_dead(dead)

    def _rejected(self, rejected: Rejected) -> None:
        dead = []
        for line_text, message in rejected:
            dev = tags_of(line_text).get("device_id", "")
            dead.append(DeadLetter(STAGE, "influx_rejected", message, line_text.encode(), "",
                                   dev, extra={"measurement": measurement_of(line_text)}))
        self._publish_dead(dead, count_rejects=False)

    def _publish_dead(self, dead: list[DeadLetter], count_rejects: bool = True) -> None:
        self.bus.publish_durably([(self.topics.deadletter(STAGE), d.encode()) for d in dead])
        for d in dead:
            d.count()
            if count_rejects:
                REJECTS.labels(d.reason).inc()
            log.info("dead letter: %s — %s", d.reason, d.detail)
