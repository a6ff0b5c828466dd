"""LoRaWAN state in the registry database: frame counters and used DevNonces
(two small tables of their own), session keys in the device's encrypted
secrets, the DevAddr in the device row. So a frame replayed after a restart,
or a join-request with a DevNonce used before, is still refused.

Device secrets (``Registry.set_device_secrets``), hex strings:

* ABP: ``nwk_s_key``, ``app_s_key`` and the ``dev_addr`` column.
* OTAA: ``app_key`` and the ``dev_eui`` (and optional ``join_eui``) columns;
  after a join the derived ``nwk_s_key``/``app_s_key`` and the new
  ``dev_addr`` are stored the same way.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select, update

from mimamori.registry import Registry, RegistryError

from .crypto import Key
from .network import Changes, OtaaDevice, Session, SessionTable

log = logging.getLogger(__name__)

metadata = MetaData()

counters = Table(
    "lorawan_counters", metadata,
    Column("device_id", String(128), primary_key=True),
    Column("dev_addr", String(8), nullable=False),
    Column("fcnt_up", BigInteger, nullable=True),  # last accepted uplink (32 bits)
    Column("fcnt_down", BigInteger, nullable=False, default=0),  # next downlink
    Column("updated_ns", BigInteger, nullable=False),
)

devnonces = Table(
    "lorawan_devnonces", metadata,
    Column("device_id", String(128), primary_key=True),
    Column("join_eui", String(16), primary_key=True),
    Column("dev_nonce", Integer, primary_key=True),
    Column("used_ns", BigInteger, nullable=False),
)


def _key(secrets: dict[str, str], name: str, device_id: str) -> Key | None:
    v = secrets.get(name)
    if not v:
        return None
    try:
        return Key.from_hex(v)
    except ValueError:
        log.warning("device %s: secret %s is not a 16-byte hex key; ignored", device_id, name)
        return None


class LorawanStore:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.engine = registry.engine
        metadata.create_all(self.engine)

    def load(self) -> SessionTable:
        """Every LoRaWAN device of the registry with its persisted counters."""
        table = SessionTable()
        with self.engine.connect() as c:
            cnt = {r.device_id: r for r in c.execute(select(counters))}
            nonces: dict[str, set[int]] = {}
            for r in c.execute(select(devnonces.c.device_id, devnonces.c.dev_nonce)):
                nonces.setdefault(r.device_id, set()).add(r.dev_nonce)
        for d in self.registry.devices():
            if not (d.dev_addr or d.dev_eui):
                continue
            try:
                secrets = self.registry.device_secrets(d.device_id)
            except RegistryError as exc:
                log.warning("device %s: %s", d.device_id, exc)
                continue
            app_key = _key(secrets, "app_key", d.device_id)
            if app_key is not None and d.dev_eui:
                table.put_otaa(OtaaDevice(d.device_id, d.dev_eui.lower(), d.join_eui, app_key,
                                          nonces.get(d.device_id, set())))
            nwk = _key(secrets, "nwk_s_key", d.device_id)
            app = _key(secrets, "app_s_key", d.device_id)
            if d.dev_addr and nwk is not None and app is not None:
                s = Session(d.device_id, d.dev_addr.lower(), nwk, app)
                row = cnt.get(d.device_id)
                if row is not None and row.dev_addr == s.dev_addr:
                    s.fcnt_up, s.fcnt_down = row.fcnt_up, row.fcnt_down
                table.put(s)
        return table

    def persist(self, ch: Changes) -> None:
        """Write what changed; called before readings are published."""
        if not ch:
            return
        now = time.time_ns()
        for s in ch.joins:  # keys and DevAddr of a new OTAA session
            dev = self.registry.get_device(s.device_id)
            if dev is None:
                continue
            secrets = self.registry.device_secrets(s.device_id)
            secrets.update(nwk_s_key=s.nwk_s_key.raw.hex(), app_s_key=s.app_s_key.raw.hex())
            self.registry.set_device_secrets(s.device_id, secrets)
            self.registry.add_device(dev.device_id, dev.profile, dev.site, dev.name,
                                     dev_addr=s.dev_addr)
        with self.engine.begin() as c:
            for s in ch.counters.values():
                values = dict(dev_addr=s.dev_addr, fcnt_up=s.fcnt_up, fcnt_down=s.fcnt_down,
                              updated_ns=now)
                n = c.execute(update(counters).where(counters.c.device_id == s.device_id)
                              .values(**values)).rowcount
                if not n:
                    c.execute(counters.insert().values(device_id=s.device_id, **values))
            for device_id, join_eui, nonce in ch.nonces:
                c.execute(devnonces.insert().values(device_id=device_id, join_eui=join_eui,
                                                    dev_nonce=nonce, used_ns=now))

    def counters_of(self, device_id: str) -> tuple[int | None, int] | None:
        with self.engine.connect() as c:
            r = c.execute(select(counters.c.fcnt_up, counters.c.fcnt_down)
                          .where(counters.c.device_id == device_id)).first()
        return (r.fcnt_up, r.fcnt_down) if r else None
