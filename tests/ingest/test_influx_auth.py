"""Least-privilege InfluxDB users against a real InfluxDB with
``auth-enabled = true``: a second influxd on free ports for this module,
started by the project's own :class:`mimamori.services.InfluxDB` with
``[influx] username`` set (which turns authentication on and creates that
admin on first start).

The ingest stage's set-up creates the writer and the reader; the stage
writes as the writer through the bus; the query layer reads as the reader;
each may do only its own part, and anonymous requests are refused."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from ingest.query import ReadingsQuery
from ingest.stage import IngestStage
from mimamori.config import Settings, load_settings
from mimamori.contracts import Family, Reading, encode_envelope
from mimamori.services import InfluxDB, ServiceError, free_port, influx_ensure_admin
from mimamori.topics import Topics

from ..helpers import wait_for

ADMIN = ("mimamori_admin", "adm'in \"pw\\")  # quotes and a backslash on purpose
WRITER = ("mimamori_writer", "wr1ter-pw")
READER = ("mimamori_reader", "re'ader-pw")


@pytest.fixture(scope="module")
def auth_influx(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("influx-auth")
    s = load_settings(state_dir=state,
                      influx={"url": f"http://127.0.0.1:{free_port()}",
                              "username": ADMIN[0], "password": ADMIN[1]})
    server = InfluxDB(s)
    server.start(timeout=60)
    yield s
    server.stop()


@pytest.fixture
def auth_settings(settings: Settings, auth_influx: Settings) -> Settings:
    return settings.model_copy(update={
        "influx": auth_influx.influx.model_copy(
            update={"database": settings.influx.database}),
        "ingest": settings.ingest.model_copy(update={
            "writer_username": WRITER[0], "writer_password": WRITER[1],
            "reader_username": READER[0], "reader_password": READER[1]}),
    })


def _query(s: Settings, q: str, auth=None, db: str | None = None, method: str = "POST"
           ) -> tuple[int, str]:
    """(HTTP status, InfluxDB's error or '') of one InfluxQL statement."""
    params = {"db": db} if db else {}
    if method == "GET":
        r = httpx.get(f"{s.influx.url}/query", params={**params, "q": q}, auth=auth)
    else:
        r = httpx.post(f"{s.influx.url}/query", params=params, data={"q": q}, auth=auth)
    body = r.json()
    err = body.get("error") or next((x["error"] for x in body.get("results", [])
                                     if "error" in x), "")
    return r.status_code, err


def _write(s: Settings, line: str, auth=None, db: str | None = None) -> int:
    return httpx.post(f"{s.influx.url}/write", params={"db": db or s.influx.database},
                      content=line, auth=auth).status_code


def test_set_up_creates_least_privilege_users_and_each_does_only_its_part(
        auth_settings, bus_factory):
    s = auth_settings
    db = s.influx.database
    topics = Topics(s.bus.topic_root)
    ts = time.time_ns()
    readings = [Reading(f"paddy-{i}", "paddy_json_v1", Family.PADDY, "field-1", ts + i,
                        {"water_level_cm": 4.0 + i}) for i in range(5)]
    stage = IngestStage(s, client_id=f"ingest-{uuid.uuid4().hex[:8]}").start()
    try:
        assert stage.influx is not stage.admin  # the stage writes as the writer
        bus_factory().publish_durably([(topics.readings(0), encode_envelope(readings))])
        q = ReadingsQuery(s)  # reads as the reader
        latest = wait_for(lambda: len(r := q.latest("paddy")) == 5 and r,
                          what="five readings, read back as the reader")
        q.close()
    finally:
        stage.stop()
    assert latest["paddy-3"]["water_level_cm"] == 7.0

    # the set-up made exactly these grants
    _, err = _query(s, "SHOW USERS", ADMIN)
    assert err == ""
    for user, grant in ((WRITER[0], "WRITE"), (READER[0], "READ")):
        r = httpx.post(f"{s.influx.url}/query", data={"q": f'SHOW GRANTS FOR "{user}"'},
                       auth=ADMIN).json()
        assert r["results"][0]["series"][0]["values"] == [[db, grant]]

    # the writer: writes, but neither reads nor administers
    assert _write(s, f"paddy,device_id=w water_level_cm=1 {time.time_ns() + 1}", WRITER) == 204
    status, err = _query(s, "SELECT * FROM paddy", WRITER, db, "GET")
    assert "not authorized" in err and "requires READ" in err
    for stmt in (f'DROP DATABASE "{db}"', 'CREATE DATABASE "other"', "SHOW USERS",
                 'CREATE USER "x" WITH PASSWORD \'x\' WITH ALL PRIVILEGES'):
        assert "not authorized" in _query(s, stmt, WRITER)[1], stmt

    # the reader: reads, but neither writes nor administers
    status, err = _query(s, "SELECT count(water_level_cm) FROM paddy", READER, db, "GET")
    assert status == 200 and err == ""
    assert _write(s, f"paddy,device_id=r water_level_cm=1 {time.time_ns() + 2}", READER) == 403
    for stmt in ('DROP MEASUREMENT "paddy"', 'CREATE DATABASE "other"', "SHOW USERS",
                 f'GRANT ALL ON "{db}" TO "{READER[0]}"'):
        assert "not authorized" in _query(s, stmt, READER, db)[1], stmt

    # nobody without credentials, or with a wrong password
    assert _write(s, f"paddy,device_id=a water_level_cm=1 {time.time_ns() + 3}") == 401
    assert _query(s, "SELECT * FROM paddy", None, db, "GET")[0] == 401
    assert _query(s, "SHOW DATABASES")[0] == 401
    assert _query(s, "SHOW DATABASES", (WRITER[0], "wrong"))[0] == 401
    assert _write(s, f"paddy,device_id=a water_level_cm=1 {time.time_ns() + 4}",
                  (ADMIN[0], "wrong")) == 401

    # what the refused writes tried never landed: the stage's 5 + the writer's 1
    rows = httpx.get(f"{s.influx.url}/query", auth=READER, params={
        "db": db, "q": "SELECT count(water_level_cm) FROM paddy"}).json()
    assert rows["results"][0]["series"][0]["values"][0][1] == 6


def test_set_up_again_follows_a_changed_password(auth_settings):
    s = auth_settings
    stage = IngestStage(s)
    assert stage.writer.try_setup()
    assert _write(s, f"paddy,device_id=p water_level_cm=1 {time.time_ns() + 1}", WRITER) == 204
    stage.stop()
    moved = s.model_copy(update={"ingest": s.ingest.model_copy(
        update={"writer_password": "new-writer-pw"})})
    stage = IngestStage(moved)
    assert stage.writer.try_setup()
    stage.stop()
    assert _write(s, f"paddy,device_id=p water_level_cm=1 {time.time_ns() + 2}", WRITER) == 401
    assert _write(s, f"paddy,device_id=p water_level_cm=1 {time.time_ns() + 3}",
                  (WRITER[0], "new-writer-pw")) == 204


def test_a_wrong_admin_password_is_one_clear_error(auth_influx):
    with pytest.raises(ServiceError, match="refused the admin"):
        influx_ensure_admin(auth_influx.influx.url, ADMIN[0], "not-the-password")
    influx_ensure_admin(auth_influx.influx.url, ADMIN[0], ADMIN[1])  # the right one passes
