"""Live mode on the real Mosquitto: the scenario's devices are registered with
people who receive alerts, uplinks go through the gateway onto the readings
bus stamped with wall-clock time, and labels come out in wall-clock time."""

import time

from gateway.mqtt_gateway import MqttGateway
from mimamori.contracts import EventKind, decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics
from simulators.build import build_models
from simulators.live import LiveRunner
from simulators.scenario import Scenario
from simulators.world import register_world

from ..helpers import Collector, wait_for


def test_registry_gets_people_sites_and_relations_for_every_family(settings):
    sc = Scenario.model_validate({"seed": 4, "groups": [
        {"family": f, "count": 2} for f in ("wearable", "child_tag", "paddy", "water_main")]})
    reg = Registry(settings.registry)
    register_world(reg, sc.seed, build_models(sc))
    devices = reg.devices()
    assert len(devices) == 8
    for d in devices:
        watchers = reg.watchers(d.device_id)
        assert watchers, d.device_id
        emails = [p.email for _, p in watchers if p.email]
        assert emails and all(e.endswith("@example.jp") for e in emails)
    elder = reg.get_device("wearable-0001")
    assert elder.person_id == "elder-wearable-0001" and elder.params["safe_radius_m"] == 50
    family = [p for r, p in reg.watchers("wearable-0001") if r.relation == "family_member_of"]
    assert family[0].line_user_id.startswith("U") and len(family[0].line_user_id) == 33
    kinds = {s.kind for s in reg.sites()}
    assert kinds == {"household", "school", "field", "pipe_district"}
    field = reg.get_device("paddy-0002")
    assert [r.relation for r, _ in reg.watchers(field.device_id)] == ["farmer_of"]


def test_live_run_sends_through_the_gateway_with_wall_clock_time(settings, bus_factory):
    sc = Scenario.model_validate({
        "name": "live-test", "seed": 9, "mode": "live", "time_scale": 600,
        "start": "2026-06-20T00:00:00+09:00", "duration": "2d",
        "groups": [{"family": "paddy", "count": 2, "transport": "mqtt_json",
                    "profile": "paddy_json_v1", "interval_s": 300}],
        "anomalies": [{"device": "paddy-0001", "kind": "sudden_drop", "at": "10m",
                       "duration": "2h"}]})
    topics = Topics(settings.bus.topic_root)
    watcher = bus_factory()
    readings = Collector(watcher, topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    gw = MqttGateway(settings, Registry(settings.registry))
    runner = LiveRunner(settings, sc, tick_s=0.2)
    gw.start()
    t0 = time.time_ns()
    runner.start()
    try:
        # a few simulated hours pass in a few real seconds
        wait_for(lambda: runner.sent >= 20, what="20 uplinks")
        msgs = readings.wait(1, timeout=30)
    finally:
        runner.stop()
        gw.stop()
    got = [r for m in msgs for r in decode_envelope(m.payload)]
    assert got
    assert {r.device_id for r in got} <= {"paddy-0001", "paddy-0002"}
    for r in got:
        assert r.profile == "paddy_json_v1" and "water_level_cm" in r.fields
        assert abs(r.ts_ns - t0) < 120 * 10**9  # wall-clock time, not the scenario's date
    assert not dead.messages
    labels = runner.labels()
    assert [lb.kind for lb in labels] == [EventKind.SUDDEN_DROP]
    # 10 simulated minutes after the start = 1 real second at ×600
    assert abs(labels[0].start_ns - (runner.wall0 + 10**9)) < 10**6
    assert runner.labels_path().read_text().count("sudden_drop") == 1


def test_a_transport_that_cannot_open_leaves_the_rest_of_the_fleet_running(settings,
                                                                           bus_factory):
    # no LoRaWAN listener is known (port 0, no platform): LoRaWAN devices stay quiet
    assert settings.lorawan.port == 0
    sc = Scenario.model_validate({
        "name": "degraded", "seed": 3, "mode": "live", "time_scale": 600,
        "start": "2026-06-20T00:00:00+09:00", "duration": "1d",
        "groups": [{"family": "paddy", "count": 1, "id_prefix": "ok", "transport": "mqtt_json",
                    "profile": "paddy_json_v1", "interval_s": 300},
                   {"family": "paddy", "count": 1, "id_prefix": "radio", "transport": "lorawan",
                    "interval_s": 300}]})
    topics = Topics(settings.bus.topic_root)
    up = Collector(bus_factory(), topics.up_filter)
    runner = LiveRunner(settings, sc, tick_s=0.2, warmup_s=0)
    runner.start()
    try:
        msgs = up.wait(3)
    finally:
        runner.stop()
    assert "lorawan" in runner.unavailable and "lorawan" not in runner.transports
    assert {topics.parse_up(m.topic)[1] for m in msgs} == {"ok-0001"}
