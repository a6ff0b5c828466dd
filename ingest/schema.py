"""Where each data category lives, and setting it up on start.

One small interface, :class:`StorageLayout`, says for the rest of ingest
and for the query layer where raw, location and downsampled series are
(``target`` for writes, ``series`` for reads) and creates them
(``ensure``). :class:`InfluxV1Layout` does it with InfluxDB 1.x retention
policies and continuous queries; an InfluxDB 2.x/3.x layout would do the
same with buckets (DBRP mappings) and tasks behind the same methods.

InfluxDB 1.x layout (retentions from ``[ingest.retention]``):

==============  =========================  ===============================
RP              holds                      written by
==============  =========================  ===============================
``raw``         wearable, child_tag,       ingest (default RP), 400 d
                paddy, water_main, generic
``location``    ``location`` (people)      ingest, 30 d, never downsampled
``ds_1m``       same measurement names,    continuous query, 5 y
                ``mean_*, min_*, max_*``
``ds_1h``       as ds_1m, per hour         continuous query, 5 y
==============  =========================  ===============================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from mimamori.config import InfluxSettings, IngestSettings
from mimamori.contracts import Family

from .influx import InfluxClient, InfluxError
from .points import LOCATION_MEASUREMENT

log = logging.getLogger(__name__)

RAW, LOCATION, DS_1M, DS_1H = "raw", "location", "ds_1m", "ds_1h"
RESOLUTIONS = ("raw", "1m", "1h")
SENSOR_MEASUREMENTS = tuple(f.value for f in Family)


@dataclass(frozen=True, slots=True)
class Series:
    """Where to read one resolution of a measurement."""

    retention_policy: str
    measurement: str
    resolution: str  # raw | 1m | 1h
    field_prefix: str = ""  # "mean_" for downsampled series


class StorageLayout(Protocol):
    def ensure(self) -> None: ...
    def target(self, measurement: str) -> str: ...
    def series(self, measurement: str, resolution: str) -> Series: ...
    def retention_s(self, resolution: str, measurement: str = "") -> float | None: ...


def _duration_s(d: str) -> float | None:
    if d == "INF":
        return None
    return int(d[:-1]) * {"h": 3600, "d": 86400, "w": 7 * 86400}[d[-1]]


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes (backslash and quote escaped).

    >>> quote_ident('a"b')
    '"a\\\\"b"'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxV1Layout:
    def __init__(self, admin: InfluxClient, ingest: IngestSettings,
                 influx: InfluxSettings | None = None) -> None:
        self.admin = admin
        self.db = admin.database
        self.ingest = ingest
        self.influx = influx or admin.settings
        self.retention = ingest.retention

    # -- where things are ---------------------------------------------------
    def target(self, measurement: str) -> str:
        return LOCATION if measurement == LOCATION_MEASUREMENT else RAW

    def series(self, measurement: str, resolution: str) -> Series:
        if measurement == LOCATION_MEASUREMENT or resolution == "raw":
            return Series(self.target(measurement), measurement, "raw")
        if resolution == "1m":
            return Series(DS_1M, measurement, "1m", "mean_")
        if resolution == "1h":
            return Series(DS_1H, measurement, "1h", "mean_")
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")

    def retention_s(self, resolution: str, measurement: str = "") -> float | None:
        if measurement == LOCATION_MEASUREMENT:
            return _duration_s(self.retention.location)
        return _duration_s({"raw": self.retention.raw_sensor,
                            "1m": self.retention.downsampled_1m,
                            "1h": self.retention.downsampled_1h}[resolution])

    # -- set-up ---------------------------------------------------------------
    def statements(self) -> list[str]:
        """The idempotent set-up, in order (also shown in the README)."""
        db = quote_ident(self.db)
        r = self.retention
        out = [f"CREATE DATABASE {db}"]
        for name, dur, default in ((RAW, r.raw_sensor, True), (LOCATION, r.location, False),
                                   (DS_1M, r.downsampled_1m, False),
                                   (DS_1H, r.downsampled_1h, False)):
            out.append(f"CREATE RETENTION POLICY {quote_ident(name)} ON {db} DURATION {dur} "
                       f"REPLICATION 1{' DEFAULT' if default else ''}")
        out.extend(self.continuous_queries().values())
        return out

    def continuous_queries(self) -> dict[str, str]:
        db = quote_ident(self.db)
        sensors = "|".join(SENSOR_MEASUREMENTS)  # never `location`
        cqs = {}
        for name, rp, every, lookback in (("cq_1m", DS_1M, "1m", "10m"),
                                          ("cq_1h", DS_1H, "1h", "2h")):
            # RESAMPLE … FOR: late readings (e.g. replayed from the disk
            # buffer after a short outage) are folded into recent windows.
            cqs[name] = (
                f"CREATE CONTINUOUS QUERY {quote_ident(name)} ON {db} "
                f"RESAMPLE EVERY {every} FOR {lookback} BEGIN "
                f"SELECT mean(*), min(*), max(*) INTO {db}.{quote_ident(rp)}.:MEASUREMENT "
                f"FROM {db}.{quote_ident(RAW)}./^({sensors})$/ "
                f"GROUP BY time({every}), * END")
        return cqs

    def ensure(self) -> None:
        """Create or update the database, RPs, CQs (and users when auth is on)."""
        q = self.admin.query
        for stmt in self.statements():
            try:
                q(stmt, database="", method="POST")
            except InfluxError as exc:
                if "retention policy already exists" in str(exc) or \
                        "retention policy conflicts" in str(exc):
                    q(stmt.replace("CREATE RETENTION POLICY", "ALTER RETENTION POLICY"),
                      database="", method="POST")
                elif "continuous query already exists" in str(exc):
                    name = stmt.split(" ON ", 1)[0].split("QUERY ", 1)[1]
                    q(f"DROP CONTINUOUS QUERY {name} ON {quote_ident(self.db)}",
                      database="", method="POST")
                    q(stmt, database="", method="POST")
                else:
                    raise
        if self.influx.username:
            self.ensure_users()
        log.info("InfluxDB database %s ready (RPs raw=%s location=%s 1m=%s 1h=%s)", self.db,
                 self.retention.raw_sensor, self.retention.location,
                 self.retention.downsampled_1m, self.retention.downsampled_1h)

    def ensure_users(self) -> None:
        """Least privilege: the writer may only WRITE, the reader only READ."""
        q = self.admin.query
        db = quote_ident(self.db)
        for user, pw, grant in ((self.ingest.writer_username, self.ingest.writer_password,
                                 "WRITE"),
                                (self.ingest.reader_username, self.ingest.reader_password,
                                 "READ")):
            if not user:
                continue
            if not pw:
                raise InfluxError(f"InfluxDB user {user} needs a password in [ingest]")
            lit = "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"
            try:
                q(f"CREATE USER {quote_ident(user)} WITH PASSWORD {lit}", database="",
                  method="POST")
            except InfluxError as exc:
                if "user already exists" not in str(exc):
                    raise
                q(f"SET PASSWORD FOR {quote_ident(user)} = {lit}", database="", method="POST")
            q(f"REVOKE ALL PRIVILEGES ON {db} FROM {quote_ident(user)}", database="",
              method="POST")
            q(f"GRANT {grant} ON {db} TO {quote_ident(user)}", database="", method="POST")
