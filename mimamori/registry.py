"""The registry: which devices exist, with which profile, at which site.

SQL through SQLAlchemy; SQLite in WAL mode by default (several processes
share it), any SQLAlchemy URL works. A change counter lets stages cache
what they read and notice changes cheaply (:meth:`Registry.version`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

devices = Table(
    "devices",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("profile", String(64), nullable=False),
    Column("site", String(128), nullable=False, default=""),
    Column("name", String(256), nullable=False, default=""),
    Column("created_ns", Integer, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("site_id", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),  # household | field | pipe_district | school
    Column("name", String(256), nullable=False, default=""),
    Column("lat", Float),
    Column("lon", Float),
)

registry_meta = Table(
    "registry_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    profile: str
    site: str
    name: str = ""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Registry:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        with self.engine.begin() as c:
            if c.execute(select(registry_meta.c.value).where(registry_meta.c.key == "version")
                         ).first() is None:
                c.execute(registry_meta.insert().values(key="version", value=0))

    def _bump(self, conn) -> None:
        conn.execute(update(registry_meta).where(registry_meta.c.key == "version")
                     .values(value=registry_meta.c.value + 1))

    def version(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(registry_meta.c.value)
                                 .where(registry_meta.c.key == "version")).scalar_one())

    # devices
    def add_device(self, device_id: str, profile: str, site: str = "", name: str = "",
                   replace: bool = True) -> Device:
        row = dict(device_id=device_id, profile=profile, site=site, name=name,
                   created_ns=time.time_ns())
        with self.engine.begin() as c:
            exists = c.execute(select(devices.c.device_id)
                               .where(devices.c.device_id == device_id)).first()
            if exists and not replace:
                raise KeyError(f"device {device_id} already exists")
            if exists:
                c.execute(update(devices).where(devices.c.device_id == device_id)
                          .values(profile=profile, site=site, name=name))
            else:
                c.execute(devices.insert().values(**row))
            self._bump(c)
        return Device(device_id, profile, site, name)

    def remove_device(self, device_id: str) -> bool:
        with self.engine.begin() as c:
            n = c.execute(devices.delete().where(devices.c.device_id == device_id)).rowcount
            self._bump(c)
        return bool(n)

    def devices(self) -> list[Device]:
        with self.engine.connect() as c:
            rows = c.execute(select(devices.c.device_id, devices.c.profile, devices.c.site,
                                    devices.c.name).order_by(devices.c.device_id)).all()
        return [Device(*r) for r in rows]

    def get_device(self, device_id: str) -> Device | None:
        with self.engine.connect() as c:
            r = c.execute(select(devices.c.device_id, devices.c.profile, devices.c.site,
                                 devices.c.name).where(devices.c.device_id == device_id)).first()
        return Device(*r) if r else None

    # sites
    def add_site(self, site_id: str, kind: str, name: str = "", lat: float | None = None,
                 lon: float | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(sites.delete().where(sites.c.site_id == site_id))
            c.execute(sites.insert().values(site_id=site_id, kind=kind, name=name, lat=lat,
                                            lon=lon))
            self._bump(c)


class DeviceCache:
    """A process-local copy of the device table, refreshed when the registry's
    change counter moves (checked at most every ``check_s`` seconds)."""

    def __init__(self, registry: Registry, check_s: float = 2.0) -> None:
        self.registry = registry
        self.check_s = check_s
        self._lock = threading.Lock()
        self._version = -1
        self._checked = 0.0
        self._devices: dict[str, Device] = {}

    def get(self, device_id: str) -> Device | None:
        now = time.monotonic()
        if now - self._checked > self.check_s:
            self.refresh()
        d = self._devices.get(device_id)
        if d is None and now - self._checked > 0.2:
            # a device just added should not wait for the next check
            self.refresh()
            d = self._devices.get(device_id)
        return d

    def refresh(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            v = self.registry.version()
            if v != self._version:
                self._devices = {d.device_id: d for d in self.registry.devices()}
                self._version = v
