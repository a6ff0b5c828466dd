"""``simulate load`` on the real broker: every uplink it reports as sent
reaches the readings bus through the gateway, and it never sends faster than
asked."""

from gateway.mqtt_gateway import MqttGateway
from mimamori.contracts import decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics
from simulators.load import run_load

from ..helpers import Collector, wait_for


def test_load_reaches_the_gateway_and_respects_the_rate(settings, bus_factory):
    topics = Topics(settings.bus.topic_root)
    readings = Collector(bus_factory(), topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    gw = MqttGateway(settings, Registry(settings.registry)).start()
    try:
        result = run_load(settings, devices=40, rate=400, seconds=1.0, family="paddy",
                          transport="mqtt_json", profile="paddy_json_v1")

        def count():
            return sum(len(decode_envelope(m.payload)) for m in list(readings.messages))

        def drained():
            while not readings.q.empty():
                readings.messages.append(readings.q.get())
            return count() >= result["sent"]

        wait_for(drained, what="all load readings")
    finally:
        gw.stop()
    assert 0 < result["sent"] <= 400 + 1
    assert result["devices"] == 40
    got = [r for m in readings.messages for r in decode_envelope(m.payload)]
    assert len(got) == result["sent"]
    assert len({r.device_id for r in got}) == min(40, result["sent"])
    assert len({(r.device_id, r.ts_ns) for r in got}) == len(got)  # no overwrites in InfluxDB
    assert not dead.messages
