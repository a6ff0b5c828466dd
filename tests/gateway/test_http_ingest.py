"""HTTP ingest through the real web server (uvicorn) onto the real Mosquitto."""

from __future__ import annotations

import httpx
import orjson

from dashboards.server import WebServer
from mimamori.contracts import decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics

from ..helpers import Collector
from .test_network_servers import chirpstack_event, tts_event


def test_http_ingest_per_device_and_integration_tokens(settings, bus_factory):
    s = settings.model_copy(update={
        "gateway": settings.gateway.model_copy(update={"http_tokens": {"chirpstack": "cs-secret"}}),
        "bus": settings.bus.model_copy(update={"max_payload_bytes": 700}),
    })
    registry = Registry(s.registry)
    registry.add_device("paddy-http-1", "paddy_json_v1", "field-05", dev_eui="a84041000181c062")
    registry.set_device_secrets("paddy-http-1", {"http_token": "tok-1"})
    registry.add_device("paddy-http-2", "paddy_json_v1", "field-05")
    registry.set_device_secrets("paddy-http-2", {"http_token": "tok-2"})
    topics = Topics(s.bus.topic_root)
    readings = Collector(bus_factory(), topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    web = WebServer(s).start()
    base = f"http://127.0.0.1:{s.web.port}/ingest"
    try:
        with httpx.Client(timeout=30) as http:
            ok = http.post(f"{base}/devices/paddy-http-1", content=b'{"level_mm": 70, "bat": 60}',
                           headers={"Authorization": "Bearer tok-1"})
            assert ok.status_code == 202, ok.text
            # a device's token does not open another device
            assert http.post(f"{base}/devices/paddy-http-1", content=b'{"level_mm": 1}',
                             headers={"Authorization": "Bearer tok-2"}).status_code == 401
            assert http.post(f"{base}/devices/paddy-http-1",
                             content=b'{"level_mm": 1}').status_code == 401
            bad = http.post(f"{base}/devices/paddy-http-2", content=b"{not json",
                            headers={"Authorization": "Bearer tok-2"})
            assert bad.status_code == 422 and bad.json()["reason"] == "decode_error"
            big = http.post(f"{base}/devices/paddy-http-2", content=b"x" * 2000,
                            headers={"Authorization": "Bearer tok-2"})
            assert big.status_code == 413 and big.json()["reason"] == "oversized"
            cs = http.post(f"{base}/chirpstack?event=up",
                           content=chirpstack_event("a84041000181c062", b'{"level_mm": 44}'),
                           headers={"Authorization": "Bearer cs-secret"})
            assert cs.status_code == 202, cs.text
            assert http.post(f"{base}/chirpstack?event=join", content=b"{}",
                             headers={"Authorization": "Bearer cs-secret"}).status_code == 200
            # no TTS token configured: refused
            assert http.post(f"{base}/tts", content=tts_event("paddy-http-2", None, b"{}"),
                             headers={"Authorization": "Bearer cs-secret"}).status_code == 401
        got = [r for m in readings.wait(2) for r in decode_envelope(m.payload)]
        letters = [orjson.loads(m.payload) for m in dead.wait(2)]
        metrics = httpx.get(f"http://127.0.0.1:{s.web.port}/metrics").text
    finally:
        web.stop()
    assert [(r.device_id, r.meta["transport"]) for r in got] == [
        ("paddy-http-1", "http"), ("paddy-http-1", "chirpstack-http")]
    assert got[0].fields["water_level_cm"] == 7.0
    assert sorted(d["reason"] for d in letters) == ["decode_error", "oversized"]
    assert 'mimamori_deadletters_total{reason="unauthorized",stage="gateway"}' in metrics
