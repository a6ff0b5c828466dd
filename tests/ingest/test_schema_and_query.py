"""Database set-up (retention policies, continuous queries) and the query
layer, against the real InfluxDB — including injection attempts."""

import time

import pytest

from ingest.influx import InfluxClient
from ingest.query import QueryError, ReadingsQuery
from ingest.schema import InfluxV1Layout

NS = 10**9


@pytest.fixture
def layout(settings, influx):
    lay = InfluxV1Layout(influx, settings.ingest, settings.influx)
    lay.ensure()
    return lay


def _rps(influx, db):
    res = influx.query(f'SHOW RETENTION POLICIES ON "{db}"')[0]["series"][0]
    return {v[0]: (v[1], v[4]) for v in res["values"]}


def test_set_up_creates_retention_per_category_and_cqs_without_location(settings, influx,
                                                                        layout):
    rps = _rps(influx, settings.influx.database)
    assert rps["raw"] == ("9600h0m0s", True)  # 400 d, the default RP
    assert rps["location"] == ("720h0m0s", False)  # 30 d
    assert rps["ds_1m"][0] == rps["ds_1h"][0] == "43800h0m0s"  # 5 y
    cqs = {}
    for s in influx.query("SHOW CONTINUOUS QUERIES")[0]["series"]:
        if s["name"] == settings.influx.database:
            cqs = {v[0]: v[1] for v in s.get("values", [])}
    assert set(cqs) == {"cq_1m", "cq_1h"}
    for q in cqs.values():
        assert "location" not in q and "paddy" in q and "wearable" in q


def test_set_up_is_idempotent_and_follows_changed_settings(settings, influx, layout):
    layout.ensure()  # again: no error
    changed = settings.ingest.model_copy(update={
        "retention": settings.ingest.retention.model_copy(update={"location": "14d"})})
    InfluxV1Layout(influx, changed, settings.influx).ensure()
    assert _rps(influx, settings.influx.database)["location"][0] == "336h0m0s"


def _write(influx, lines, rp="raw"):
    res = influx.write_lines(lines, retention_policy=rp)
    assert res.outcome.value == "ok", res.message


@pytest.fixture
def query(settings, influx, layout):
    q = ReadingsQuery(settings, influx, layout)
    yield q


def test_latest_reading_per_device(influx, query):
    now = time.time_ns()
    _write(influx, [
        f"paddy,device_id=p1,site=f1,profile=paddy_v1 water_level_cm=3.0 {now - 120 * NS}",
        f"paddy,device_id=p1,site=f1,profile=paddy_v1 water_level_cm=4.0 {now - 60 * NS}",
        f"paddy,device_id=p2,site=f2,profile=paddy_v1 water_level_cm=7.5,battery_pct=80i {now}",
    ])
    every = query.latest("paddy")
    assert set(every) == {"p1", "p2"}
    assert every["p1"]["water_level_cm"] == 4.0 and every["p1"]["time"] == now - 60 * NS
    assert every["p2"]["battery_pct"] == 80 and every["p2"]["site"] == "f2"
    assert set(query.latest("paddy", ["p2", "nobody"])) == {"p2"}
    assert query.latest("paddy", []) == {}


def test_history_picks_raw_or_computes_minutes_from_raw(influx, query):
    base = (time.time_ns() // (60 * NS)) * 60 * NS - 3600 * NS
    lines = [f"water_main,device_id=w1,site=d1,profile=p pressure_mpa={0.3 + i / 1000} "
             f"{base + i * 10 * NS}" for i in range(60)]  # 10 minutes, every 10 s
    _write(influx, lines)
    h = query.history("w1", "water_main", base, base + 600 * NS, ["pressure_mpa"])
    assert h.resolution == "raw" and len(h.points) == 60
    assert h.points[0] == {"time": base, "pressure_mpa": 0.3}
    m = query.history("w1", "water_main", base, base + 600 * NS, ["pressure_mpa"],
                      resolution="1m")
    # No continuous query has run over this hour yet: computed from raw.
    assert m.source == "raw→1m" and len(m.points) == 10
    first = m.points[0]
    assert first["pressure_mpa_min"] == 0.3 and first["pressure_mpa_max"] == 0.305
    assert abs(first["pressure_mpa"] - 0.3025) < 1e-9


def test_history_reads_the_downsampled_series_when_it_exists(settings, influx, query):
    base = (time.time_ns() // (3600 * NS)) * 3600 * NS - 2 * 86400 * NS
    db = settings.influx.database
    _write(influx, [f"paddy,device_id=p9,site=f,profile=x water_level_cm={float(i)} "
                    f"{base + i * 60 * NS}" for i in range(120)])
    # What the 1-hour continuous query does, run now for this old range:
    influx.query(f'SELECT mean(*), min(*), max(*) INTO "{db}"."ds_1h".:MEASUREMENT '
                 f'FROM "{db}"."raw"."paddy" WHERE time >= {base} AND time < {base + 7200 * NS}'
                 ' GROUP BY time(1h), *', method="POST")
    h = query.history("p9", "paddy", base, base + 30 * 86400 * NS)
    assert h.resolution == "1h" and h.source == "ds_1h"
    assert [p["water_level_cm"] for p in h.points] == [29.5, 89.5]
    assert h.points[1]["water_level_cm_max"] == 119.0


def test_location_is_always_raw(influx, query):
    now = time.time_ns()
    _write(influx, [f"location,device_id=c1,site=s,profile=t lat=34.5,lon=136.6 {now}"],
           rp="location")
    h = query.history("c1", "location", now - 40 * 86400 * NS, now + 1)
    assert h.resolution == "raw" and h.points[0]["lat"] == 34.5


INJECTIONS = [
    "p1' OR '1'='1",
    "p1\" OR \"device_id\" =~ /.*/",
    "x'; DROP DATABASE \"mimamori\"; --",
    "p1\\' OR 1=1",
    "/.*/",
    "p1 OR device_id != ''",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_device_ids_cannot_inject(settings, influx, query, evil):
    now = time.time_ns()
    _write(influx, [f"paddy,device_id=p1,site=f,profile=x water_level_cm=1.0 {now}"])
    assert query.latest("paddy", [evil]) == {}
    assert query.history(evil, "paddy", now - NS, now + NS).points == []
    # The data and the database are still there.
    assert set(query.latest("paddy")) == {"p1"}
    dbs = [v[0] for v in influx.query("SHOW DATABASES", database="")[0]["series"][0]["values"]]
    assert settings.influx.database in dbs


@pytest.mark.parametrize("kw", [
    {"measurement": 'paddy" ; DROP MEASUREMENT "paddy'},
    {"measurement": "_internal"},
    {"fields": ['water_level_cm" FROM "raw"."wearable" --']},
    {"fields": ["a b"]},
    {"fields": []},
    {"start_ns": "now() - 1d"},
    {"limit": "1; DROP DATABASE x"},
    {"resolution": "1m) ; SELECT * FROM x --"},
])
def test_other_inputs_are_refused(query, kw):
    args = {"device_id": "p1", "measurement": "paddy", "start_ns": 1, "end_ns": 2, **kw}
    with pytest.raises(QueryError):
        query.history(**args)


def test_query_user_input_travels_as_bound_parameters(settings, influx, layout):
    # The query text the client sends never contains the device id.
    sent = []
    orig = influx.query

    def spy(q, **kw):
        sent.append((q, kw.get("params")))
        return orig(q, **kw)

    influx.query = spy
    ReadingsQuery(settings, influx).latest("paddy", ["p1' OR '1'='1"])
    assert all("OR '1'" not in q for q, _ in sent)
    assert any(p and "p1' OR '1'='1" in p.values() for _, p in sent)


def test_reader_client_uses_reader_credentials_only_when_auth_is_on(settings):
    s = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={
        "reader_username": "reader", "reader_password": "pw"})})
    q = ReadingsQuery(s)
    assert q.client._http.auth is None  # auth off: no users are used
    q.close()
    assert isinstance(InfluxClient(settings.influx), InfluxClient)
