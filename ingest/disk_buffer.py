"""A bounded on-disk FIFO of line-protocol batches, for while InfluxDB is away.

Each batch is one file ``{seq:012d}.{target}.lp`` in the buffer folder,
written to a temporary name, flushed (``fsync`` by default) and renamed, so
after a crash or ``kill -9`` a batch is either wholly there or not at all.
Replay takes the oldest first. The total size is bounded: past the bound
:meth:`append` raises :class:`BufferFull` (the caller then does not
acknowledge, and the broker holds the rest). Warnings are logged as the
buffer passes 50 %, 80 % and 95 % full.

>>> import tempfile
>>> b = DiskBuffer(tempfile.mkdtemp(), max_bytes=1000, fsync=False)
>>> b.append("raw", "m v=1 1\\nm v=2 2")
>>> b.append("location", "location lat=1.0 3")
>>> b.depth(), b.oldest()[1:]
(2, ('raw', 'm v=1 1\\nm v=2 2'))
>>> b.pop(b.oldest()[0]); b.oldest()[1]
'location'
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

WARN_LEVELS = (0.5, 0.8, 0.95)


class BufferFull(Exception):
    """The on-disk buffer reached its bound; the batch was not stored."""


class DiskBuffer:
    def __init__(self, folder: str | Path, max_bytes: int, fsync: bool = True) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[str, int]] = {}  # seq -> (target, size)
        self._bytes = 0
        self._warned = 0.0
        for p in self.folder.glob("*.tmp"):  # a write cut short by a crash
            p.unlink(missing_ok=True)
        for p in self.folder.glob("*.lp"):
            try:
                seq_s, target, _ = p.name.split(".")
                seq = int(seq_s)
            except ValueError:
                log.warning("ignoring unexpected file %s in the ingest buffer", p)
                continue
            size = p.stat().st_size
            self._entries[seq] = (target, size)
            self._bytes += size
        self._next = max(self._entries, default=0) + 1
        if self._entries:
            log.warning("ingest buffer %s holds %d batches (%.1f MB) from before; replaying",
                        self.folder, len(self._entries), self._bytes / 1e6)

    def _path(self, seq: int, target: str) -> Path:
        return self.folder / f"{seq:012d}.{target}.lp"

    def append(self, target: str, body: str) -> None:
        if not target.isidentifier():
            raise ValueError(f"bad buffer target {target!r}")
        data = body.encode("utf-8")
        with self._lock:
            if self._bytes + len(data) > self.max_bytes:
                raise BufferFull(
                    f"ingest buffer {self.folder} is full ({self._bytes / 1e6:.1f} of "
                    f"{self.max_bytes / 1e6:.1f} MB); holding further messages at the broker")
            seq = self._next
            self._next += 1
            final = self._path(seq, target)
            tmp = final.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, final)
            if self.fsync:
                dfd = os.open(self.folder, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            self._entries[seq] = (target, len(data))
            self._bytes += len(data)
            self._warn_if_filling()

    def _warn_if_filling(self) -> None:
        frac = self._bytes / self.max_bytes
        for level in WARN_LEVELS:
            if frac >= level > self._warned:
                self._warned = level
                log.warning("ingest buffer %s is %.0f%% full (%.1f of %.1f MB): InfluxDB has "
                            "not taken writes for a while", self.folder, frac * 100,
                            self._bytes / 1e6, self.max_bytes / 1e6)
        if frac < WARN_LEVELS[0]:
            self._warned = 0.0

    def oldest(self) -> tuple[int, str, str] | None:
        """(seq, target, body) of the oldest batch, or None when empty."""
        with self._lock:
            if not self._entries:
                return None
            seq = min(self._entries)
            target = self._entries[seq][0]
        return seq, target, self._path(seq, target).read_text("utf-8")

    def pop(self, seq: int) -> None:
        with self._lock:
            target, size = self._entries.pop(seq)
            self._bytes -= size
            self._warn_if_filling()
        self._path(seq, target).unlink(missing_ok=True)

    def depth(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def empty(self) -> bool:
        return not self._entries
