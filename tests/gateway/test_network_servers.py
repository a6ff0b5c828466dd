"""ChirpStack v4 and The Things Stack v3 uplink events through the MQTT
gateway on the real Mosquitto; the retained per-device status."""

from __future__ import annotations

import base64
import time
import uuid

import orjson
import pytest

from gateway.mqtt_gateway import MqttGateway
from mimamori.contracts import decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics

from ..helpers import Collector


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def chirpstack_event(dev_eui: str, payload: bytes, fcnt: int = 1) -> bytes:
    # shape of a ChirpStack v4 "up" event (integration/mqtt JSON marshaler)
    return orjson.dumps({
        "deduplicationId": str(uuid.uuid4()),
        "time": "2026-06-01T03:04:05.123456789Z",
        "deviceInfo": {"tenantId": "t", "applicationId": "a", "applicationName": "paddy",
                       "deviceName": "whatever", "devEui": dev_eui},
        "devAddr": "01020304", "adr": True, "dr": 2, "fCnt": fcnt, "fPort": 2,
        "confirmed": False, "data": _b64(payload),
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -101, "snr": -2.5},
                   {"gatewayId": "0016c001ff10a236", "rssi": -87, "snr": 6.0}],
        "txInfo": {"frequency": 923200000},
    })


def tts_event(device_id: str, dev_eui: str | None, payload: bytes) -> bytes:
    ids = {"device_id": device_id, "application_ids": {"application_id": "town"}}
    if dev_eui:
        ids["dev_eui"] = dev_eui.upper()
    return orjson.dumps({
        "end_device_ids": ids,
        "received_at": "2026-06-01T03:04:06.000000002Z",
        "uplink_message": {
            "f_port": 2, "f_cnt": 42, "frm_payload": _b64(payload),
            "rx_metadata": [{"gateway_ids": {"gateway_id": "tamaki-gw-1"}, "rssi": -95,
                             "channel_rssi": -95, "snr": 4.25}],
            "received_at": "2026-06-01T03:04:05.987654321Z",
        },
    })


def _prime(ns, readings: Collector, dead: Collector) -> None:
    """Subscriptions complete asynchronously: send probe events until the
    gateway's reading and dead letter for them come back."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ns.publish_durably([
            ("application/a/device/a84041000181c0ff/event/up",
             chirpstack_event("a84041000181c0ff", b'{"level_mm": 10}')),
            ("application/a/device/0000000000000000/event/up",
             chirpstack_event("0000000000000000", b'{"level_mm": 10}'))])
        time.sleep(0.5)
        if not readings.q.empty() and not dead.q.empty():
            return
    raise AssertionError("the gateway never answered the probe events")


def _drop_probes(rs: list) -> list:
    return [r for r in rs if r.device_id != "probe"]


def test_chirpstack_and_tts_events_become_readings_with_status(settings, bus_factory):
    registry = Registry(settings.registry)
    registry.add_device("paddy-cs-1", "paddy_json_v1", "field-03", dev_eui="a84041000181c061")
    registry.add_device("paddy-tts-1", "paddy_json_v1", "field-04")
    registry.add_device("probe", "paddy_json_v1", "field-00", dev_eui="a84041000181c0ff")
    topics = Topics(settings.bus.topic_root)
    readings = Collector(bus_factory(), topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    gw = MqttGateway(settings, registry, client_id=f"gw-{uuid.uuid4().hex[:8]}").start()
    try:
        ns = bus_factory()
        _prime(ns, readings, dead)
        time.sleep(1.0)  # let the last probes through, then forget them
        while not readings.q.empty():
            readings.q.get()
        while not dead.q.empty():
            dead.q.get()
        readings.messages.clear()
        dead.messages.clear()
        ns.publish_durably([
            ("application/a/device/a84041000181c061/event/up",
             chirpstack_event("a84041000181c061", b'{"level_mm": 61, "bat": 77}')),
            ("v3/town@tamaki/devices/paddy-tts-1/up",
             tts_event("paddy-tts-1", None, b'{"level_mm": 35}')),
            ("application/a/device/ffffffffffffffff/event/up",
             chirpstack_event("ffffffffffffffff", b'{"level_mm": 1}')),
            ("v3/town@tamaki/devices/paddy-tts-1/up", b"not json at all"),
            ("application/a/device/a84041000181c061/event/up",
             chirpstack_event("a84041000181c061", b"\x01\x02binary")),
        ])
        got: list = []
        k = 1
        while len(_drop_probes(got)) < 2:
            got = [r for m in readings.wait(k) for r in decode_envelope(m.payload)]
            k += 1
        got = _drop_probes(got)
        letters = [orjson.loads(m.payload) for m in dead.wait(3)]
    finally:
        gw.stop()
    by_dev = {r.device_id: r for r in got}
    cs, tts = by_dev["paddy-cs-1"], by_dev["paddy-tts-1"]
    assert cs.ts_ns == 1_780_283_045_123_456_789  # the network server's time, to the ns
    assert cs.fields == {"water_level_cm": pytest.approx(6.1), "battery_pct": 77.0}
    assert cs.meta["transport"] == "chirpstack" and cs.meta["rssi"] == -87
    assert cs.meta["gateway"] == "0016c001ff10a236" and len(cs.meta["gateways"]) == 2
    assert tts.ts_ns == 1_780_283_045_987_654_321 and tts.meta["fcnt"] == 42
    assert tts.meta["transport"] == "tts" and tts.meta["snr"] == 4.25
    assert sorted(d["reason"] for d in letters) == ["decode_error", "malformed_json",
                                                     "unknown_device"]
    # retained status per device
    status = Collector(bus_factory(), topics.device_status("paddy-cs-1"))
    doc = orjson.loads(status.wait(1)[0].payload)
    assert status.messages[0].retain
    assert doc["rssi"] == -87 and doc["battery_pct"] == 77.0 and doc["transport"] == "chirpstack"
    assert sorted(doc["gateways"]) == ["0016c001ff10a235", "0016c001ff10a236"]
