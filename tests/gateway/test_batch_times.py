"""Two uplinks of one device in the same bus batch keep their order and get
distinct times (analytics would otherwise skip the second as a duplicate,
and InfluxDB would overwrite the first)."""

from __future__ import annotations

import orjson

from gateway.mqtt_gateway import MqttGateway
from mimamori.bus import Message
from mimamori.registry import Registry


def test_same_device_twice_in_one_batch_gets_two_increasing_times(settings):
    reg = Registry(settings.registry)
    reg.add_site("home-1", "household", "家")
    reg.add_device("w-1", "wearable_json_v1", "home-1")
    reg.add_device("w-2", "wearable_json_v1", "home-1")
    gw = MqttGateway(settings, reg, client_id="gw-batch-times")  # never connected
    up = lambda d: gw.topics.up("wearable_json_v1", d)  # noqa: E731
    normal = orjson.dumps({"hr": 70, "spo2": 97, "sos": False, "bat": 80})
    sos = orjson.dumps({"hr": 88, "spo2": 96, "sos": True, "bat": 80})
    batch = [Message(up("w-1"), normal, 1, False, 1, 1),
             Message(up("w-2"), normal, 1, False, 2, 1),
             Message(up("w-1"), sos, 1, False, 3, 1)]
    readings, dead = gw.convert(batch)
    assert dead == []
    w1 = [r for r in readings if r.device_id == "w-1"]
    assert [r.fields["sos"] for r in w1] == [False, True]
    assert w1[0].ts_ns < w1[1].ts_ns
    assert len({r.ts_ns for r in readings}) == 3
