"""The ingest stage: readings bus → InfluxDB.

A bus message is acknowledged only after all of its readings are in
InfluxDB (or rejected with a reason onto the dead-letter topic). While
InfluxDB is unreachable the batch is retried with a capped backoff and
nothing is acknowledged: the broker keeps the rest (its queue is unbounded
by the configuration we ship).
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram

from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import ContractError, Reading, decode_envelope
from mimamori.deadletter import DeadLetter
from mimamori.topics import Topics

from .influx import InfluxClient, Outcome
from .line_protocol import LineError, reading_to_line

log = logging.getLogger(__name__)
STAGE = "ingest"

POINTS = Counter("mimamori_ingest_points_total", "Points written to InfluxDB")
BATCH_SECONDS = Histogram("mimamori_ingest_batch_seconds", "Time to write one batch")


class RetryLater(Exception):
    pass


class IngestStage:
    def __init__(self, settings: Settings, client_id: str = "mimamori-ingest") -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.influx = InfluxClient(settings.influx)
        self.bus = Bus(settings.mqtt, client_id)
        self.written = 0
        self._db_ready = False

    def start(self) -> IngestStage:
        self.bus.connect()
        self.bus.consume([self.topics.readings_filter], self.handle,
                         batch_max=max(1, self.settings.ingest.batch_points // 50),
                         batch_wait_s=self.settings.ingest.flush_ms / 1000, name="ingest")
        return self

    def stop(self) -> None:
        self.bus.close()
        self.influx.close()

    def handle(self, batch: list[Message]) -> None:
        lines: list[str] = []
        owners: list[Reading] = []
        dead: list[DeadLetter] = []
        for m in batch:
            try:
                readings = decode_envelope(m.payload)
            except ContractError as exc:
                dead.append(DeadLetter(STAGE, "bad_envelope", str(exc), m.payload, m.topic))
                continue
            for r in readings:
                try:
                    lines.append(reading_to_line(r))
                    owners.append(r)
                except LineError as exc:
                    dead.append(DeadLetter(STAGE, "unwritable", str(exc),
                                           r.to_dict().__repr__().encode(), m.topic, r.device_id))
        if lines:
            dead.extend(self.write(lines, owners))
        if dead:
            self.bus.publish_durably([(self.topics.deadletter(STAGE), d.encode()) for d in dead])
            for d in dead:
                d.count()
                log.info("dead letter: %s — %s", d.reason, d.detail)

    def write(self, lines: list[str], owners: list[Reading]) -> list[DeadLetter]:
        """Write all lines; returns the dead letters for rejected ones.
        Raises (so nothing is acknowledged) while InfluxDB cannot take them."""
        start = time.perf_counter()
        dead: list[DeadLetter] = []
        pending = list(range(len(lines)))
        while pending:
            res = self.influx.write_lines([lines[i] for i in pending],
                                          gzip=self.settings.ingest.gzip)
            if res.outcome is Outcome.OK:
                break
            if res.outcome is Outcome.CREATE_DB:
                self.influx.create_database()
                continue
            if res.outcome is Outcome.REJECT:
                # InfluxDB writes the good points of a batch and names a bad
                # one; find every bad point by writing them one by one.
                bad = []
                for i in pending:
                    one = self.influx.write_lines([lines[i]])
                    if one.outcome is Outcome.REJECT:
                        bad.append((i, one.message))
                    elif one.outcome is not Outcome.OK:
                        raise RetryLater(one.message)
                for i, msg in bad:
                    r = owners[i]
                    dead.append(DeadLetter(STAGE, "influx_rejected", msg, lines[i].encode(),
                                           "", r.device_id))
                break
            raise RetryLater(f"InfluxDB at {self.influx.url}: {res.message}")
        n = len(lines) - len(dead)
        POINTS.inc(n)
        self.written += n
        BATCH_SECONDS.observe(time.perf_counter() - start)
        return dead
