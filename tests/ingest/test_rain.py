"""Rain from a tipping-bucket gauge, end to end through ingest: bytes decoded
by the gauge's profile, the readings over the real broker, the ingest stage,
the real InfluxDB, and back through the query layer as hourly totals."""

import time
import uuid

import pytest

from device_profiles import load_profiles
from ingest.query import QueryError, ReadingsQuery
from ingest.stage import IngestStage
from mimamori.contracts import Reading, encode_envelope
from mimamori.topics import Topics

from ..helpers import wait_for

NS = 10**9
H = 3600 * NS


def test_rain_gauge_readings_round_trip_and_sum_per_hour(settings, influx, bus_factory):
    prof = load_profiles()["rain_gauge_v1"]
    hour0 = (time.time_ns() // H - 3) * H  # three whole hours ago
    # 0.5 mm tips: 7 (3.5 mm), 0, 3 (1.5 mm) in the first hour; 12 (6 mm) in the second
    frames = [(hour0 + 5 * 60 * NS, "00075a"), (hour0 + 15 * 60 * NS, "00005a"),
              (hour0 + 25 * 60 * NS, "00035a"), (hour0 + H + 5 * 60 * NS, "000c59")]
    readings = []
    for ts, hexa in frames:
        res = prof.decode(bytes.fromhex(hexa), 1)
        assert res.ok, res
        readings.append(Reading("rain-1", prof.id, prof.family, "field-east", ts, res.fields))
    assert readings[0].fields == {"rain_mm": 3.5, "battery_pct": 90.0}
    topics = Topics(settings.bus.topic_root)
    stage = IngestStage(settings, client_id=f"ingest-{uuid.uuid4().hex[:8]}").start()
    try:
        bus_factory().publish_durably([(topics.readings(3), encode_envelope(readings))])
        rows = wait_for(lambda: len(r := influx.points('SELECT * FROM "raw"."paddy"')) == 4
                        and r, what="the four rain readings")
    finally:
        stage.stop()
    # measurement of its family, the usual three tags, the field as written
    assert [(r["time"], r["rain_mm"]) for r in rows] == [(t, r.fields["rain_mm"])
                                                        for t, r in zip((f[0] for f in frames),
                                                                        readings, strict=True)]
    assert {(r["device_id"], r["site"], r["profile"]) for r in rows} == {
        ("rain-1", "field-east", "rain_gauge_v1")}
    q = ReadingsQuery(settings)
    try:
        assert q.totals("rain-1", "paddy", hour0 - H, hour0 + 3 * H, "rain_mm") == [
            (hour0, 5.0), (hour0 + H, 6.0)]
        assert q.totals("rain-1", "paddy", hour0, hour0 + H, "rain_mm", "10m") == [
            (hour0, 3.5), (hour0 + 10 * 60 * NS, 0.0), (hour0 + 20 * 60 * NS, 1.5)]
        assert q.totals("rain-2", "paddy", hour0, hour0 + H, "rain_mm") == []
        latest = q.latest("paddy", ["rain-1"])["rain-1"]
        assert latest["rain_mm"] == 6.0 and latest["battery_pct"] == 89.0
    finally:
        q.close()


@pytest.mark.parametrize("kw", [{"field_name": "rain_mm) FROM x --"}, {"every": "1d; DROP"},
                                {"measurement": "rain"}])
def test_totals_refuses_what_it_cannot_bind(settings, kw):
    q = ReadingsQuery(settings)
    args = {"device_id": "rain-1", "measurement": "paddy", "start_ns": 0, "end_ns": 10,
            "field_name": "rain_mm", **kw}
    try:
        with pytest.raises(QueryError):
            q.totals(**args)
    finally:
        q.close()
