"""Every transport at once against the real gateway stage (MQTT gateway +
LoRaWAN listener) and web app: MQTT JSON, LoRaWAN frames through three
simulated packet forwarders (real AES keys, MIC, Semtech UDP), HTTP with a
device token. Each uplink becomes exactly one reading (the network server
deduplicates what several gateways heard)."""

import pytest

from dashboards.server import WebServer
from gateway.stage import GatewayStage
from mimamori.contracts import decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics
from simulators.live import LiveRunner
from simulators.scenario import Scenario
from simulators.transports.lorawan import abp_identity, rssi_dbm

from ..helpers import Collector, wait_for


def test_radio_model_overlapping_coverage():
    # a device 1 km from a gateway is heard well, 20 km away not at all
    assert rssi_dbm(1000, 0) > -115 > rssi_dbm(20000, 0)
    a, b = abp_identity(1, "x", 0), abp_identity(1, "y", 1)
    assert a["dev_addr"] != b["dev_addr"] and len(a["nwk_s_key"]) == 32


def _scenario(groups):
    return Scenario.model_validate({
        "name": "transports", "seed": 21, "mode": "live", "time_scale": 600,
        "start": "2026-06-20T00:00:00+09:00", "duration": "1d", "groups": groups})


@pytest.fixture
def platform(settings):
    reg = Registry(settings.registry)
    gw = GatewayStage(settings, reg).start()
    s = settings.model_copy(update={"lorawan": settings.lorawan.model_copy(
        update={"port": gw.lorawan.address[1]})})
    web = WebServer(s).start()
    yield s
    web.stop()
    gw.stop()


def test_every_transport_reaches_the_readings_bus(platform, bus_factory):
    s = platform
    topics = Topics(s.bus.topic_root)
    readings = Collector(bus_factory(), topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    sc = _scenario([
        {"family": "paddy", "count": 2, "id_prefix": "p-mqtt", "transport": "mqtt_json",
         "profile": "paddy_json_v1", "interval_s": 600},
        {"family": "paddy", "count": 2, "id_prefix": "p-lora", "transport": "lorawan",
         "profile": "paddy_json_v1", "interval_s": 600},
        {"family": "paddy", "count": 2, "id_prefix": "p-http", "transport": "http",
         "profile": "paddy_json_v1", "interval_s": 600},
        # the compact binary profiles: LoRaWAN FPorts, and MQTT's default layout
        {"family": "wearable", "count": 2, "id_prefix": "w-lora", "transport": "lorawan",
         "interval_s": 600},
        {"family": "water_main", "count": 1, "id_prefix": "m-mqttbin",
         "transport": "mqtt_binary", "interval_s": 600},
        # over-the-air activation: join-request, join-accept, derived session keys
        {"family": "paddy", "count": 1, "id_prefix": "o-lora", "transport": "lorawan",
         "profile": "paddy_v1", "interval_s": 600, "params": {"lorawan_activation": "otaa"}}])
    runner = LiveRunner(s, sc, tick_s=0.2)
    runner.start()
    try:
        wait_for(lambda: all(t.sent >= 6 for t in runner.transports.values()), timeout=60,
                 what="uplinks on every transport")
    finally:
        runner.stop()
    sent = sum(t.sent for t in runner.transports.values())
    lora = runner.transports["lorawan"]
    # overlapping gateways; a frame no gateway heard is lost, as on air
    assert max(lora.heard_by) >= 2 and lora.lost <= len(lora.heard_by) // 5
    assert runner.transports["http"].rejected == 0

    def all_in():
        while not readings.q.empty():
            readings.messages.append(readings.q.get())
        return sum(len(decode_envelope(m.payload)) for m in readings.messages) >= sent

    try:
        wait_for(all_in, timeout=30, what="every uplink as a reading")
    except AssertionError:
        got = [r for m in readings.messages for r in decode_envelope(m.payload)]
        import collections
        print("SENT", {k: t.sent for k, t in runner.transports.items()},
              collections.Counter(r.device_id for r in got))
        print("DEAD", [m.payload[:300] for m in dead.messages])
        raise
    got = [r for m in readings.messages for r in decode_envelope(m.payload)]
    assert len(got) == sent  # no duplicates from several gateways
    by_transport = {}
    for r in got:
        by_transport.setdefault(r.device_id.split("-")[1], set()).add(r.meta.get("transport"))
        if r.profile.startswith("paddy"):
            assert "water_level_cm" in r.fields
    assert by_transport["lora"] == {"lorawan"}
    profiles = {r.device_id.split("-")[0]: r.profile for r in got}
    assert profiles == {"p": "paddy_json_v1", "w": "wearable_v1", "m": "water_main_v1",
                        "o": "paddy_v1"}
    assert lora.joined == 1 and any(r.device_id == "o-lora-0001" for r in got)
    assert any("heart_rate_bpm" in r.fields for r in got if r.profile == "wearable_v1")
    assert not dead.messages, [m.payload[:200] for m in dead.messages]
    # the devices carry their keys in the registry, encrypted
    reg = Registry(s.registry)
    d = reg.get_device("p-lora-0001")
    assert d.dev_addr and set(reg.device_secrets(d.device_id)) == {"nwk_s_key", "app_s_key"}
    assert "http_token" in reg.device_secrets("p-http-0001")
    joined = reg.get_device("o-lora-0001")  # the network server assigned a DevAddr
    assert joined.dev_eui and joined.dev_addr
    assert {"app_key", "nwk_s_key", "app_s_key"} <= set(reg.device_secrets("o-lora-0001"))
