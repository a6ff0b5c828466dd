"""The offline file format (version 1): readings and labels as CSV, written
by the simulators and read by evaluation and backtests — no service needed.

``readings.csv`` — one row per field value, in time order per device::

    # mimamori-readings v1
    ts_ns,device_id,profile,family,site,field,value
    1767225600000000000,paddy-001,paddy_json_v1,paddy,field-01,water_level_cm,4.5

``value`` is a JSON scalar (``4.5``, ``3``, ``true``, ``"text"``), so types
survive the round trip. ``ts_ns`` is integer nanoseconds UTC.

``labels.csv`` — the ground truth of injected anomalies (version 2)::

    # mimamori-labels v2
    device_id,kind,start_ns,end_ns,severity,observable
    paddy-001,sudden_drop,1767229200000000000,1767232800000000000,warning,true

``kind`` is one of :class:`mimamori.contracts.EventKind`. ``observable`` is
``false`` for an event the device's readings cannot show, whatever a detector
does — a drifting level probe while the field's water never stood at a level
known without it (:mod:`simulators.paddy`); evaluation counts such a label
apart instead of as a miss. Version 1 files (no ``observable`` column) are
still read, every label observable.

>>> import io
>>> from mimamori.contracts import Family, Reading
>>> buf = io.StringIO()
>>> w = ReadingWriter(buf)
>>> w.write(Reading("d", "p", Family.PADDY, "s", 5, {"a": 1.5, "b": True}))
>>> [r.fields for r in read_readings(io.StringIO(buf.getvalue()))]
[{'a': 1.5, 'b': True}]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from .contracts import ContractError, EventKind, Family, Reading, Severity

READINGS_HEADER = "# mimamori-readings v1"
LABELS_HEADER = "# mimamori-labels v2"
LABELS_HEADER_V1 = "# mimamori-labels v1"
READING_COLUMNS = ["ts_ns", "device_id", "profile", "family", "site", "field", "value"]
LABEL_COLUMNS = ["device_id", "kind", "start_ns", "end_ns", "severity", "observable"]
LABEL_COLUMNS_V1 = LABEL_COLUMNS[:5]
_FLAG = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class Label:
    device_id: str
    kind: EventKind
    start_ns: int
    end_ns: int
    severity: Severity = Severity.WARNING
    observable: bool = True

    def covers(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns <= self.end_ns


def _open(target: Path | str | IO[str], mode: str) -> tuple[IO[str], bool]:
    if isinstance(target, (str, Path)):
        return open(target, mode, newline="", encoding="utf-8"), True
    return target, False


class ReadingWriter:
    def __init__(self, target: Path | str | IO[str]) -> None:
        self._f, self._owned = _open(target, "w")
        self._f.write(READINGS_HEADER + "\n")
        self._w = csv.writer(self._f, lineterminator="\n")
        self._w.writerow(READING_COLUMNS)

    def write(self, r: Reading) -> None:
        fam = r.family.value
        for name, value in r.fields.items():
            self._w.writerow([r.ts_ns, r.device_id, r.profile, fam, r.site, name,
                              orjson.dumps(value).decode()])

    def write_all(self, readings: Iterable[Reading]) -> None:
        for r in readings:
            self.write(r)

    def close(self) -> None:
        if self._owned:
            self._f.close()
        else:
            self._f.flush()

    def __enter__(self) -> ReadingWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _rows(f: IO[str], formats: dict[str, list[str]]) -> Iterator[list[str]]:
    """The rows of a file whose first line is one of ``formats``' headers,
    with that header's columns."""
    first = f.readline().rstrip("\r\n")
    columns = formats.get(first)
    if columns is None:
        raise ContractError(f"not a {next(iter(formats))[2:]} file (first line {first[:40]!r})")
    reader = csv.reader(f)
    if next(reader, None) != columns:
        raise ContractError(f"expected columns {','.join(columns)}")
    yield from reader


def read_readings(source: Path | str | IO[str]) -> Iterator[Reading]:
    """Rows of one (device, ts_ns) are merged back into one reading."""
    f, owned = _open(source, "r")
    try:
        current: Reading | None = None
        for n, row in enumerate(_rows(f, {READINGS_HEADER: READING_COLUMNS}), start=3):
            try:
                ts, dev, prof, fam, site, name, value = row
                ts_ns = int(ts)
                v = orjson.loads(value)
            except (ValueError, orjson.JSONDecodeError):
                raise ContractError(f"line {n}: malformed row {row!r}") from None
            if current is not None and current.device_id == dev and current.ts_ns == ts_ns:
                current.fields[name] = v
                continue
            if current is not None:
                yield current
            current = Reading(dev, prof, Family(fam), site, ts_ns, {name: v})
        if current is not None:
            yield current
    finally:
        if owned:
            f.close()


def write_labels(target: Path | str | IO[str], labels: Iterable[Label]) -> None:
    f, owned = _open(target, "w")
    try:
        f.write(LABELS_HEADER + "\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(LABEL_COLUMNS)
        for lb in labels:
            w.writerow([lb.device_id, lb.kind.value, lb.start_ns, lb.end_ns, lb.severity.value,
                        "true" if lb.observable else "false"])
    finally:
        if owned:
            f.close()


def read_labels(source: Path | str | IO[str]) -> list[Label]:
    f, owned = _open(source, "r")
    try:
        out = []
        rows = _rows(f, {LABELS_HEADER: LABEL_COLUMNS, LABELS_HEADER_V1: LABEL_COLUMNS_V1})
        for n, row in enumerate(rows, start=3):
            try:
                dev, kind, start, end, sev, *flag = row
                if len(flag) > 1 or (flag and flag[0] not in _FLAG):
                    raise ValueError(row)
                out.append(Label(dev, EventKind(kind), int(start), int(end), Severity(sev),
                                 _FLAG[flag[0]] if flag else True))
            except ValueError:
                raise ContractError(f"line {n}: malformed label {row!r}") from None
        return out
    finally:
        if owned:
            f.close()


__all__ = ["Label", "ReadingWriter", "read_readings", "write_labels", "read_labels", "io"]
