"""The durable writer: line-protocol batches → InfluxDB, or the disk buffer.

:meth:`DurableWriter.write` returns only once every line is either in
InfluxDB, rejected by InfluxDB with a reason (handed to ``on_rejected``), or
stored in the on-disk buffer. Only then may the caller acknowledge its bus
messages. While the buffer holds anything, new batches are appended behind
it, and a replay thread writes the buffer to InfluxDB oldest first once
InfluxDB answers again — so order is kept.

The one answer table (:func:`ingest.influx.classify`) decides: OK; database
missing → set the database up again and retry; a rejected line → found by
halving the batch (InfluxDB writes a batch's good points and names only the
first bad one) and handed on with InfluxDB's message; no answer, timeout,
5xx → buffer (replay with capped backoff); 401/403 → raise (fix credentials).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from .disk_buffer import DiskBuffer
from .influx import InfluxClient, InfluxError, InfluxUnavailable, Outcome
from .schema import StorageLayout

log = logging.getLogger(__name__)

POINTS = Counter("mimamori_ingest_points_total", "Points written to InfluxDB", ["target"])
BATCH_SECONDS = Histogram("mimamori_ingest_batch_seconds",
                          "Time to write one batch to InfluxDB (or the disk buffer)",
                          buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
BUFFER_BATCHES = Gauge("mimamori_ingest_buffer_batches", "Batches waiting in the disk buffer")
BUFFER_BYTES = Gauge("mimamori_ingest_buffer_bytes", "Bytes waiting in the disk buffer")
BUFFERED = Counter("mimamori_ingest_buffered_points_total",
                   "Points stored in the disk buffer while InfluxDB was unavailable")
REJECTS = Counter("mimamori_ingest_rejects_total", "Readings or points refused, by reason",
                  ["reason"])

Rejected = list[tuple[str, str]]  # (line, InfluxDB's message)


class WriteFatal(Exception):
    """InfluxDB refuses us (credentials/permissions): nothing is acknowledged."""


class _Retry(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class DurableWriter:
    def __init__(self, client: InfluxClient, layout: StorageLayout, buffer: DiskBuffer,
                 on_rejected: Callable[[Rejected], None], *, max_lines: int = 5000,
                 gzip: bool = False) -> None:
        self.client = client
        self.layout = layout
        self.buffer = buffer
        self.on_rejected = on_rejected
        self.max_lines = max_lines
        self.gzip = gzip
        self.written = 0
        self.buffered = 0
        self._ready = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._gauges()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> DurableWriter:
        self._thread = threading.Thread(target=self._replay_loop, name="ingest-replay",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _gauges(self) -> None:
        BUFFER_BATCHES.set(self.buffer.depth())
        BUFFER_BYTES.set(self.buffer.bytes)

    def try_setup(self) -> bool:
        """Set the database up now if InfluxDB answers; False if it does not."""
        try:
            self._ensure_layout()
        except _Retry:
            return False
        return True

    def _ensure_layout(self) -> None:
        if self._ready:
            return
        try:
            self.layout.ensure()
        except InfluxUnavailable as exc:
            raise _Retry(str(exc)) from None
        except InfluxError as exc:
            if "authorization" in str(exc) or "403" in str(exc) or "401" in str(exc):
                raise WriteFatal(str(exc)) from None
            raise _Retry(str(exc)) from None
        self._ready = True

    # -- the write path ------------------------------------------------------
    def write(self, batches: dict[str, list[str]]) -> str:
        """``batches``: target (retention policy) → lines. Returns "written"
        or "buffered". Raises :class:`~ingest.disk_buffer.BufferFull` or
        :class:`WriteFatal` when neither InfluxDB nor the buffer took them."""
        start = time.perf_counter()
        try:
            if not self.buffer.empty():
                self._buffer_all(batches)
                return "buffered"
            try:
                self._ensure_layout()
            except _Retry:
                self._buffer_all(batches)
                return "buffered"
            items = [(t, lines[i:i + self.max_lines]) for t, lines in batches.items()
                     for i in range(0, len(lines), self.max_lines)]
            for n, (target, chunk) in enumerate(items):
                try:
                    rejected = self._write_isolating(target, chunk)
                except _Retry as exc:
                    log.warning("InfluxDB cannot take writes (%s); buffering on disk", exc)
                    self._buffer_items(items[n:])
                    self._wake.set()
                    return "buffered"
                self._done(target, len(chunk), rejected)
            return "written"
        finally:
            BATCH_SECONDS.observe(time.perf_counter() - start)

    def _done(self, target: str, n: int, rejected: Rejected) -> None:
        if rejected:
            self.on_rejected(rejected)
            REJECTS.labels("influx_rejected").inc(len(rejected))
        ok = n - len(rejected)
        POINTS.labels(target).inc(ok)
        self.written += ok

    def _buffer_all(self, batches: dict[str, list[str]]) -> None:
        self._buffer_items([(t, lines[i:i + self.max_lines]) for t, lines in batches.items()
                            for i in range(0, len(lines), self.max_lines)])

    def _buffer_items(self, items: list[tuple[str, list[str]]]) -> None:
        for target, chunk in items:
            if chunk:
                self.buffer.append(target, "\n".join(chunk))
                BUFFERED.inc(len(chunk))
                self.buffered += len(chunk)
        self._gauges()

    def _write_isolating(self, target: str, lines: list[str]) -> Rejected:
        """Write ``lines``; returns the rejected ones. Raises _Retry/WriteFatal."""
        rejected: Rejected = []
        todo = [lines]
        while todo:
            part = todo.pop()
            res = self.client.write_lines(part, gzip=self.gzip, retention_policy=target)
            if res.outcome is Outcome.OK:
                continue
            if res.outcome is Outcome.CREATE_DB:
                self._ready = False
                self._ensure_layout()
                todo.append(part)
                continue
            if res.outcome is Outcome.REJECT:
                if len(part) == 1:
                    rejected.append((part[0], res.message))
                else:  # the good points are written; halve to find the bad ones
                    mid = len(part) // 2
                    todo.append(part[mid:])
                    todo.append(part[:mid])
                continue
            if res.outcome is Outcome.FATAL:
                raise WriteFatal(f"InfluxDB at {self.client.url} refused the write: "
                                 f"{res.message}")
            raise _Retry(f"{self.client.url}: {res.message}")
        return rejected

    # -- replay ----------------------------------------------------------------
    def _replay_loop(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            item = self.buffer.oldest()
            if item is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            seq, target, body = item
            try:
                self._ensure_layout()
                lines = body.split("\n")
                rejected = self._write_isolating(target, lines)
                self._done(target, len(lines), rejected)
            except (_Retry, WriteFatal) as exc:
                log.info("replay waits for InfluxDB (%s); next try in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception as exc:  # e.g. dead letters could not be published
                log.warning("replay of buffered batch %d failed (%s); retrying", seq, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            self.buffer.pop(seq)
            self._gauges()
            if self.buffer.empty():
                log.warning("ingest buffer replayed: InfluxDB is taking writes again")
