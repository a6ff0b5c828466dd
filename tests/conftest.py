"""Test set-up: one real Mosquitto and one real InfluxDB for the test run,
started on free loopback ports with their own state directory. Each test
gets its own topic root, InfluxDB database and registry, so tests never see
each other's data.

Fixtures other test folders reuse:

* ``services`` — the session's :class:`Settings` with the servers running
* ``settings`` — per-test settings (own topic root, database, registry)
* ``influx`` — an :class:`InfluxClient` on the test's database
* ``bus_factory`` — make connected :class:`Bus` clients, closed after the test
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mimamori.bus import Bus
from mimamori.config import Settings, load_settings
from mimamori.services import ServiceManager, free_port


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    state = tmp_path_factory.mktemp("services")
    s = load_settings(
        state_dir=state,
        mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
        influx={"url": f"http://127.0.0.1:{free_port()}"},
        web={"port": free_port()},
    )
    mgr = ServiceManager(s)
    mgr.up(timeout=60)
    yield s
    mgr.down()


@pytest.fixture
def settings(services: Settings, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:10]
    return services.model_copy(update={
        "state_dir": tmp_path,
        "registry_url": f"sqlite:///{tmp_path / 'registry.db'}",
        "influx": services.influx.model_copy(update={"database": f"test_{tag}"}),
        "bus": services.bus.model_copy(update={"topic_root": f"test-{tag}/mimamori/v1",
                                               "batch_wait_ms": 10}),
        "web": services.web.model_copy(update={"port": free_port()}),
        # an ephemeral UDP port: never the shared 1700 other test runs may hold
        "lorawan": services.lorawan.model_copy(update={"port": 0}),
    })


@pytest.fixture
def influx(settings: Settings):
    from ingest.influx import InfluxClient

    client = InfluxClient(settings.influx)
    client.create_database()
    yield client
    try:
        client.query(f'DROP DATABASE "{settings.influx.database}"', database="", method="POST")
    finally:
        client.close()


@pytest.fixture
def bus_factory(settings: Settings) -> Iterator[Callable[..., Bus]]:
    made: list[Bus] = []

    def make(client_id: str | None = None, **kw) -> Bus:
        b = Bus(settings.mqtt, client_id or f"test-{uuid.uuid4().hex[:8]}", **kw)
        b.connect()
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()
