"""The ingest stage on the real broker and InfluxDB: awkward text round
trip, the location split, rejects isolated with InfluxDB's reason, metrics."""

import time
import uuid

import orjson
from prometheus_client import REGISTRY, generate_latest

from ingest.disk_buffer import DiskBuffer
from ingest.stage import IngestStage
from mimamori.contracts import Family, Reading, encode_envelope
from mimamori.topics import Topics

from ..helpers import Collector, wait_for

NASTY = ["a b", "c,d", "e=f", 'g"h', "i\\j", "水位 センサー,第1=田", "改行\nあり"]


def _stage(settings):
    return IngestStage(settings, client_id=f"ingest-{uuid.uuid4().hex[:8]}").start()


def test_awkward_text_round_trips_through_the_stage(settings, influx, bus_factory):
    topics = Topics(settings.bus.topic_root)
    base = time.time_ns()
    readings = [Reading(f"dev-{i}", "paddy_json_v1", Family.PADDY,
                        text.replace("\n", " ") if i % 2 else "field-1", base + i,
                        {"water_level_cm": float(i), "note": text})
                for i, text in enumerate(NASTY)]
    stage = _stage(settings)
    try:
        bus_factory().publish_durably([(topics.readings(0), encode_envelope(readings))])
        rows = wait_for(lambda: len(r := influx.points("SELECT * FROM paddy")) == len(NASTY)
                        and r, what="all readings")
    finally:
        stage.stop()
    got = {row["device_id"]: row for row in rows}
    for r in readings:
        row = got[r.device_id]
        assert row["note"] == r.fields["note"] and row["site"] == r.site
        assert row["time"] == r.ts_ns and row["water_level_cm"] == r.fields["water_level_cm"]


def test_people_positions_go_to_location_and_the_rest_to_the_family(settings, influx,
                                                                     bus_factory):
    topics = Topics(settings.bus.topic_root)
    ts = time.time_ns()
    r = Reading("w-7", "wearable_v1", Family.WEARABLE, "home-1", ts,
                {"heart_rate_bpm": 70, "lat": 34.49, "lon": 136.62, "gps_accuracy_m": 8.0})
    stage = _stage(settings)
    try:
        bus_factory().publish_durably([(topics.readings(1), encode_envelope([r]))])
        loc = wait_for(lambda: influx.points('SELECT * FROM "location"."location"'),
                       what="the position")
        wear = influx.points('SELECT * FROM "raw"."wearable"')
    finally:
        stage.stop()
    assert loc[0]["lat"] == 34.49 and loc[0]["gps_accuracy_m"] == 8.0 and loc[0]["time"] == ts
    assert wear[0]["heart_rate_bpm"] == 70 and "lat" not in wear[0]


def test_a_field_type_conflict_is_dead_lettered_and_the_rest_written(settings, influx,
                                                                      bus_factory):
    topics = Topics(settings.bus.topic_root)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    ts = time.time_ns()
    good = [Reading(f"p-{i}", "paddy_json_v1", Family.PADDY, "f", ts + i,
                    {"water_level_cm": float(i)}) for i in range(40)]
    bad = Reading("p-bad", "paddy_json_v1", Family.PADDY, "f", ts + 99,
                  {"water_level_cm": "high"})  # a string where a float is stored
    stage = _stage(settings)
    try:
        bus = bus_factory()
        bus.publish_durably([(topics.readings(0), encode_envelope(good[:1]))])
        wait_for(lambda: influx.points("SELECT * FROM paddy"), what="first point")
        bus.publish_durably([(topics.readings(0), encode_envelope(good[1:20] + [bad] + good[20:])),
                             (topics.readings(0), b"not an envelope")])
        letters = [orjson.loads(m.payload) for m in dead.wait(2)]
        wait_for(lambda: len(influx.points("SELECT * FROM paddy")) == 40, what="the good 40")
    finally:
        stage.stop()
    by = {d["reason"]: d for d in letters}
    assert set(by) == {"influx_rejected", "bad_envelope"}
    assert "conflict" in by["influx_rejected"]["detail"]
    assert by["influx_rejected"]["device_id"] == "p-bad"
    text = generate_latest(REGISTRY).decode()
    for name in ("mimamori_ingest_points_total", "mimamori_ingest_batch_seconds_bucket",
                 "mimamori_ingest_buffer_batches", 'mimamori_ingest_rejects_total{reason="'
                 'influx_rejected"}', 'mimamori_ingest_rejects_total{reason="bad_envelope"}'):
        assert name in text


def test_disk_buffer_is_bounded_warns_and_survives_reopening(tmp_path, caplog):
    import pytest

    from ingest.disk_buffer import BufferFull

    b = DiskBuffer(tmp_path, max_bytes=1000)
    for i in range(9):
        b.append("raw", "x" * 99 + str(i))
    assert "90% full" in caplog.text or "80% full" in caplog.text
    with pytest.raises(BufferFull):
        b.append("raw", "y" * 200)
    (tmp_path / "000000000099.raw.tmp").write_text("half written")  # a crash mid-write
    again = DiskBuffer(tmp_path, max_bytes=1000)
    assert again.depth() == 9 and again.oldest()[2].endswith("0")
    again.pop(again.oldest()[0])
    assert again.oldest()[2].endswith("1") and again.bytes == 800
