"""The first path end to end, on the real Mosquitto and InfluxDB: a
simulated paddy sensor publishes JSON → gateway decodes it with its profile
→ readings bus → ingest → InfluxDB, read back with InfluxQL."""

import orjson

from gateway.mqtt_gateway import MqttGateway
from ingest.stage import IngestStage
from mimamori.registry import Registry
from mimamori.topics import Topics
from simulators.paddy import PaddyField

from .helpers import Collector, wait_for


def test_paddy_reading_lands_in_influxdb_with_value_tags_and_timestamp(settings, influx,
                                                                        bus_factory):
    registry = Registry(settings.registry)
    registry.add_device("paddy-e2e-1", "paddy_json_v1", "field-07")
    topics = Topics(settings.bus.topic_root)
    gw = MqttGateway(settings, registry).start()
    ingest = IngestStage(settings).start()
    try:
        device = bus_factory()
        ts_s = 1_767_225_600.125  # the device's own time, with milliseconds
        payload = {"ts": ts_s, "level_mm": 45, "temp_c": 24.5, "bat": 88}
        device.publish_durably([(topics.up("paddy_json_v1", "paddy-e2e-1"),
                                 orjson.dumps(payload))])
        rows = wait_for(lambda: influx.points(
            "SELECT * FROM paddy WHERE device_id = 'paddy-e2e-1'"), what="the reading")
    finally:
        gw.stop()
        ingest.stop()
    assert len(rows) == 1
    row = rows[0]
    assert row["time"] == 1_767_225_600_125_000_000  # ns, exactly the device's time
    assert row["water_level_cm"] == 4.5  # mm → cm by the profile
    assert row["water_temp_c"] == 24.5
    assert row["battery_pct"] == 88
    assert row["site"] == "field-07" and row["profile"] == "paddy_json_v1"
    tags = influx.query('SHOW TAG KEYS FROM "paddy"')[0]["series"][0]["values"]
    assert sorted(v[0] for v in tags) == ["device_id", "profile", "site"]


def test_bad_input_goes_to_dead_letters_and_the_pipeline_keeps_going(settings, influx,
                                                                      bus_factory):
    registry = Registry(settings.registry)
    registry.add_device("paddy-e2e-2", "paddy_json_v1", "field-08")
    topics = Topics(settings.bus.topic_root)
    watcher = bus_factory()
    dead = Collector(watcher, topics.deadletter_filter)
    gw = MqttGateway(settings, registry).start()
    ingest = IngestStage(settings).start()
    try:
        device = bus_factory()
        up = topics.up("paddy_json_v1", "paddy-e2e-2")
        device.publish_durably([
            (up, b"{not json"),
            (topics.up("paddy_json_v1", "nobody"), b'{"level_mm": 10}'),
            (up, b'{"level_mm": 99999}'),
            (up, b'{"level_mm": 30, "ts": 1767225600}'),
        ])
        letters = [orjson.loads(m.payload) for m in dead.wait(3)]
        rows = wait_for(lambda: influx.points(
            "SELECT water_level_cm FROM paddy WHERE device_id = 'paddy-e2e-2'"),
            what="the good reading")
    finally:
        gw.stop()
        ingest.stop()
    reasons = sorted(d["reason"] for d in letters)
    assert reasons == ["decode_error", "out_of_range", "unknown_device"]
    by_reason = {d["reason"]: d for d in letters}
    assert by_reason["decode_error"]["payload"] == "{not json"
    assert "paddy-e2e-2" in by_reason["decode_error"]["detail"]
    assert "nobody" in by_reason["unknown_device"]["detail"]
    assert [r["water_level_cm"] for r in rows] == [3.0]


def test_simulated_field_publishes_plausible_payloads():
    import random

    f = PaddyField("x", random.Random(3))
    levels = [f.step(600) for _ in range(6 * 24 * 5)]
    assert 0 <= min(levels) and max(levels) < 80
    p = f.payload(1_767_225_600)
    assert set(p) == {"ts", "level_mm", "temp_c", "bat"}
