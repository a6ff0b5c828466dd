"""The registry: devices, people, sites and how they relate.

SQL through SQLAlchemy; SQLite in WAL mode by default (several processes
share it), any SQLAlchemy URL works. A change counter lets stages cache what
they read and notice changes cheaply (:meth:`Registry.version`,
:class:`DeviceCache`).

* **devices** — profile, site, the person it watches over (a wearer, a
  child), identities (DevEUI, DevAddr, JoinEUI, MQTT user), installation
  parameters (JSON, e.g. mounting height), location; secrets (LoRaWAN keys,
  MQTT password) are encrypted at rest (Fernet) and never logged.
* **people** — wearers, children, family, care managers, farmers, staff;
  language, channels (e-mail, LINE id), quiet hours, personal settings (JSON:
  safe zones, waking hours, school route …).
* **sites** — household, field, pipe district, school; settings (JSON:
  crop calendar, pressure range …).
* **relations** — ``person_id`` is told about ``subject`` (a person or a
  site) as ``relation`` (family_member_of, guardian_of, care_manager_of,
  farmer_of, on_call_for, welfare_for), in ``priority`` order.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

devices = Table(
    "devices", metadata,
    Column("device_id", String(128), primary_key=True),
    Column("profile", String(64), nullable=False),
    Column("site", String(128), nullable=False, default=""),
    Column("name", String(256), nullable=False, default=""),
    Column("person_id", String(128), nullable=True),  # whom it watches over
    Column("dev_eui", String(16), nullable=True, unique=True),
    Column("dev_addr", String(8), nullable=True, index=True),
    Column("join_eui", String(16), nullable=True),
    Column("mqtt_username", String(128), nullable=True, unique=True),
    Column("secrets", Text, nullable=True),  # Fernet token of a JSON object
    Column("params", Text, nullable=False, default="{}"),
    Column("lat", Float), Column("lon", Float),
    Column("created_ns", Integer, nullable=False),
)

people = Table(
    "people", metadata,
    Column("person_id", String(128), primary_key=True),
    Column("name", String(256), nullable=False, default=""),
    # wearer | child | family | care_manager | farmer | public_works | welfare | operator
    Column("kind", String(32), nullable=False),
    Column("language", String(8), nullable=False, default="ja"),
    Column("email", String(256), nullable=True),
    Column("line_user_id", String(64), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("channels", Text, nullable=False, default='["email"]'),
    Column("quiet_hours", Text, nullable=True),  # e.g. '["22:00", "07:00"]'
    Column("settings", Text, nullable=False, default="{}"),
)

sites = Table(
    "sites", metadata,
    Column("site_id", String(128), primary_key=True),
    Column("kind", String(32), nullable=False),  # household | field | pipe_district | school
    Column("name", String(256), nullable=False, default=""),
    Column("lat", Float), Column("lon", Float),
    Column("settings", Text, nullable=False, default="{}"),
)

relations = Table(
    "relations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(128), nullable=False, index=True),
    Column("relation", String(32), nullable=False),
    Column("subject_kind", String(8), nullable=False),  # person | site
    Column("subject_id", String(128), nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=1),
    UniqueConstraint("person_id", "relation", "subject_kind", "subject_id"),
)

registry_meta = Table(
    "registry_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

RELATIONS = ("family_member_of", "guardian_of", "care_manager_of", "farmer_of", "on_call_for",
             "welfare_for")


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    profile: str
    site: str
    name: str = ""
    person_id: str | None = None
    dev_eui: str | None = None
    dev_addr: str | None = None
    join_eui: str | None = None
    mqtt_username: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    kind: str
    name: str = ""
    language: str = "ja"
    email: str | None = None
    line_user_id: str | None = None
    phone: str | None = None
    channels: list[str] = field(default_factory=lambda: ["email"])
    quiet_hours: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Site:
    site_id: str
    kind: str
    name: str = ""
    lat: float | None = None
    lon: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Relation:
    person_id: str
    relation: str
    subject_kind: str
    subject_id: str
    priority: int = 1


class RegistryError(Exception):
    """A registry operation cannot be done; the message is one plain line."""


def _j(v: Any) -> str:
    return orjson.dumps(v).decode()


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


def load_secret_key(state_dir: Path | None = None) -> bytes:
    """The key that encrypts secrets at rest: ``$MIMAMORI_SECRET_KEY`` (a
    Fernet key), else a key file created once in the state directory."""
    from cryptography.fernet import Fernet

    env = os.environ.get("MIMAMORI_SECRET_KEY")
    if env:
        return env.encode()
    path = (state_dir or Path(".mimamori")).resolve() / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class Registry:
    def __init__(self, url: str, secret_key: bytes | None = None) -> None:
        sqlite_path = None
        if url.startswith("sqlite:///"):
            sqlite_path = Path(url.removeprefix("sqlite:///"))
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        with self.engine.begin() as c:
            if c.execute(select(registry_meta.c.value).where(registry_meta.c.key == "version")
                         ).first() is None:
                c.execute(registry_meta.insert().values(key="version", value=0))
        self._secret_key = secret_key
        self._key_dir = sqlite_path.parent if sqlite_path else None

    # -- change counter ----------------------------------------------------
    def _bump(self, conn) -> None:
        conn.execute(update(registry_meta).where(registry_meta.c.key == "version")
                     .values(value=registry_meta.c.value + 1))

    def version(self) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(registry_meta.c.value)
                                 .where(registry_meta.c.key == "version")).scalar_one())

    # -- secrets -----------------------------------------------------------
    def _fernet(self):
        from cryptography.fernet import Fernet

        if self._secret_key is None:
            self._secret_key = load_secret_key(self._key_dir)
        return Fernet(self._secret_key)

    def set_device_secrets(self, device_id: str, secrets: dict[str, str]) -> None:
        token = self._fernet().encrypt(orjson.dumps(secrets)).decode()
        with self.engine.begin() as c:
            n = c.execute(update(devices).where(devices.c.device_id == device_id)
                          .values(secrets=token)).rowcount
            if not n:
                raise RegistryError(f"device {device_id} is not registered")
            self._bump(c)

    def device_secrets(self, device_id: str) -> dict[str, str]:
        from cryptography.fernet import InvalidToken

        with self.engine.connect() as c:
            token = c.execute(select(devices.c.secrets)
                              .where(devices.c.device_id == device_id)).scalar()
        if not token:
            return {}
        try:
            return orjson.loads(self._fernet().decrypt(token.encode()))
        except InvalidToken:
            raise RegistryError("device secrets cannot be decrypted: wrong MIMAMORI_SECRET_KEY "
                                "or secret.key") from None

    # -- devices -----------------------------------------------------------
    _DEVICE_COLS = ("device_id", "profile", "site", "name", "person_id", "dev_eui", "dev_addr",
                    "join_eui", "mqtt_username", "params", "lat", "lon")

    def add_device(self, device_id: str, profile: str, site: str = "", name: str = "",
                   replace: bool = True, **extra: Any) -> Device:
        unknown = set(extra) - set(self._DEVICE_COLS)
        if unknown:
            raise RegistryError(f"unknown device attribute(s): {', '.join(sorted(unknown))}")
        values = dict(profile=profile, site=site, name=name, **extra)
        if "params" in values:
            values["params"] = _j(values["params"] or {})
        with self.engine.begin() as c:
            exists = c.execute(select(devices.c.device_id)
                               .where(devices.c.device_id == device_id)).first()
            if exists and not replace:
                raise RegistryError(f"device {device_id} already exists")
            if exists:
                c.execute(update(devices).where(devices.c.device_id == device_id).values(**values))
            else:
                c.execute(devices.insert().values(device_id=device_id, created_ns=time.time_ns(),
                                                  **{"params": "{}", **values}))
            self._bump(c)
        dev = self.get_device(device_id)
        assert dev is not None
        return dev

    def remove_device(self, device_id: str) -> bool:
        with self.engine.begin() as c:
            n = c.execute(devices.delete().where(devices.c.device_id == device_id)).rowcount
            self._bump(c)
        return bool(n)

    def _device(self, row) -> Device:
        d = dict(row._mapping)
        d["params"] = orjson.loads(d.get("params") or "{}")
        return Device(**d)

    def devices(self) -> list[Device]:
        cols = [devices.c[n] for n in self._DEVICE_COLS]
        with self.engine.connect() as c:
            rows = c.execute(select(*cols).order_by(devices.c.device_id)).all()
        return [self._device(r) for r in rows]

    def get_device(self, device_id: str) -> Device | None:
        cols = [devices.c[n] for n in self._DEVICE_COLS]
        with self.engine.connect() as c:
            r = c.execute(select(*cols).where(devices.c.device_id == device_id)).first()
        return self._device(r) if r else None

    # -- people ------------------------------------------------------------
    def add_person(self, person_id: str, kind: str, name: str = "", **extra: Any) -> Person:
        values: dict[str, Any] = dict(kind=kind, name=name, **extra)
        for k in ("channels", "quiet_hours", "settings"):
            if k in values and values[k] is not None:
                values[k] = _j(values[k])
        with self.engine.begin() as c:
            c.execute(people.delete().where(people.c.person_id == person_id))
            c.execute(people.insert().values(person_id=person_id, **values))
            self._bump(c)
        p = self.get_person(person_id)
        assert p is not None
        return p

    def _person(self, row) -> Person:
        d = dict(row._mapping)
        d["channels"] = orjson.loads(d["channels"] or "[]")
        d["quiet_hours"] = orjson.loads(d["quiet_hours"]) if d["quiet_hours"] else None
        d["settings"] = orjson.loads(d["settings"] or "{}")
        return Person(**d)

    def get_person(self, person_id: str) -> Person | None:
        with self.engine.connect() as c:
            r = c.execute(select(people).where(people.c.person_id == person_id)).first()
        return self._person(r) if r else None

    def people(self) -> list[Person]:
        with self.engine.connect() as c:
            return [self._person(r) for r in c.execute(select(people)
                                                       .order_by(people.c.person_id))]

    def remove_person(self, person_id: str) -> bool:
        with self.engine.begin() as c:
            n = c.execute(people.delete().where(people.c.person_id == person_id)).rowcount
            c.execute(relations.delete().where(relations.c.person_id == person_id))
            self._bump(c)
        return bool(n)

    # -- sites -------------------------------------------------------------
    def add_site(self, site_id: str, kind: str, name: str = "", lat: float | None = None,
                 lon: float | None = None, settings: dict[str, Any] | None = None) -> Site:
        with self.engine.begin() as c:
            c.execute(sites.delete().where(sites.c.site_id == site_id))
            c.execute(sites.insert().values(site_id=site_id, kind=kind, name=name, lat=lat,
                                            lon=lon, settings=_j(settings or {})))
            self._bump(c)
        return Site(site_id, kind, name, lat, lon, settings or {})

    def _site(self, row) -> Site:
        d = dict(row._mapping)
        d["settings"] = orjson.loads(d["settings"] or "{}")
        return Site(**d)

    def get_site(self, site_id: str) -> Site | None:
        with self.engine.connect() as c:
            r = c.execute(select(sites).where(sites.c.site_id == site_id)).first()
        return self._site(r) if r else None

    def sites(self) -> list[Site]:
        with self.engine.connect() as c:
            return [self._site(r) for r in c.execute(select(sites).order_by(sites.c.site_id))]

    def remove_site(self, site_id: str) -> bool:
        with self.engine.begin() as c:
            n = c.execute(sites.delete().where(sites.c.site_id == site_id)).rowcount
            self._bump(c)
        return bool(n)

    # -- detector settings (validated; see mimamori.watch_settings) ----------
    def set_person_settings(self, person_id: str, settings: dict[str, Any]) -> Person:
        """Validate ``settings`` for the person's kind and store them."""
        self._set_settings("person", people, people.c.person_id, person_id, settings)
        out = self.get_person(person_id)
        assert out is not None
        return out

    def set_site_settings(self, site_id: str, settings: dict[str, Any]) -> Site:
        """Validate ``settings`` for the site's kind and store them."""
        self._set_settings("site", sites, sites.c.site_id, site_id, settings)
        out = self.get_site(site_id)
        assert out is not None
        return out

    def _set_settings(self, what: str, table: Table, key: Any, key_value: str,
                      settings: dict[str, Any]) -> None:
        from .watch_settings import SettingsError, validate_settings

        with self.engine.begin() as c:
            kind = c.execute(select(table.c.kind).where(key == key_value)).scalar()
            if kind is None:
                raise RegistryError(f"{what} {key_value} is not registered")
            try:
                clean = validate_settings(what, kind, settings)
            except SettingsError as exc:
                raise RegistryError(f"{what} {key_value}: {exc}") from None
            c.execute(update(table).where(key == key_value).values(settings=_j(clean)))
            self._bump(c)

    def unrelate(self, person_id: str, relation: str, subject_kind: str, subject_id: str
                 ) -> bool:
        with self.engine.begin() as c:
            n = c.execute(relations.delete().where(
                (relations.c.person_id == person_id) & (relations.c.relation == relation)
                & (relations.c.subject_kind == subject_kind)
                & (relations.c.subject_id == subject_id))).rowcount
            self._bump(c)
        return bool(n)

    # -- relations ---------------------------------------------------------
    def relate(self, person_id: str, relation: str, subject_kind: str, subject_id: str,
               priority: int = 1) -> Relation:
        if relation not in RELATIONS:
            raise RegistryError(f"unknown relation {relation!r}; one of {', '.join(RELATIONS)}")
        if subject_kind not in ("person", "site"):
            raise RegistryError("subject_kind must be 'person' or 'site'")
        with self.engine.begin() as c:
            c.execute(relations.delete().where(
                (relations.c.person_id == person_id) & (relations.c.relation == relation)
                & (relations.c.subject_kind == subject_kind)
                & (relations.c.subject_id == subject_id)))
            c.execute(relations.insert().values(person_id=person_id, relation=relation,
                                                subject_kind=subject_kind,
                                                subject_id=subject_id, priority=priority))
            self._bump(c)
        return Relation(person_id, relation, subject_kind, subject_id, priority)

    def relations(self, *, person_id: str | None = None, subject_id: str | None = None
                  ) -> list[Relation]:
        q = select(relations.c.person_id, relations.c.relation, relations.c.subject_kind,
                   relations.c.subject_id, relations.c.priority)
        if person_id is not None:
            q = q.where(relations.c.person_id == person_id)
        if subject_id is not None:
            q = q.where(relations.c.subject_id == subject_id)
        with self.engine.connect() as c:
            return [Relation(*r) for r in c.execute(q.order_by(relations.c.priority,
                                                               relations.c.id))]

    def watchers(self, device_id: str) -> list[tuple[Relation, Person]]:
        """Who is told about a device: people related to the person it
        watches over, or to its site, in priority order."""
        dev = self.get_device(device_id)
        if dev is None:
            return []
        rels = []
        if dev.person_id:
            rels += [r for r in self.relations(subject_id=dev.person_id)
                     if r.subject_kind == "person"]
        if dev.site:
            rels += [r for r in self.relations(subject_id=dev.site) if r.subject_kind == "site"]
        out = []
        for r in sorted(rels, key=lambda r: r.priority):
            p = self.get_person(r.person_id)
            if p is not None:
                out.append((r, p))
        return out


class DeviceCache:
    """A process-local copy of the device table (and, with
    ``sites_and_people``, of the sites and people too), refreshed when the
    registry's change counter moves (checked at most every ``check_s``
    seconds). ``version`` is the counter the copy was taken at."""

    def __init__(self, registry: Registry, check_s: float = 2.0, *,
                 sites_and_people: bool = False) -> None:
        self.registry = registry
        self.check_s = check_s
        self.sites_and_people = sites_and_people
        self._lock = threading.Lock()
        self._version = -1
        self._checked = 0.0
        self._devices: dict[str, Device] = {}
        self._sites: dict[str, Any] = {}
        self._people: dict[str, Any] = {}

    @property
    def version(self) -> int:
        return self._version

    def site(self, site_id: str) -> Any | None:
        """From the copy taken by the last ``get``/``refresh``."""
        return self._sites.get(site_id)

    def person(self, person_id: str) -> Any | None:
        """From the copy taken by the last ``get``/``refresh``."""
        return self._people.get(person_id)

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

    def all(self) -> dict[str, Device]:
        if time.monotonic() - self._checked > self.check_s:
            self.refresh()
        return self._devices

    def refresh(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            v = self.registry.version()
            if v != self._version:
                self._devices = {d.device_id: d for d in self.registry.devices()}
                if self.sites_and_people:
                    self._sites = {x.site_id: x for x in self.registry.sites()}
                    self._people = {p.person_id: p for p in self.registry.people()}
                self._version = v
