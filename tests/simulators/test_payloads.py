"""Simulated readings become the devices' own payloads (profile encoders)
and decode back to the same canonical fields — for every family, over
LoRaWAN FPorts and over MQTT's default layout."""

import pytest

from simulators.build import build_models
from simulators.scenario import Scenario
from simulators.transports.payloads import encode, frames_for, profile


def _readings(family, anomalies=(), duration="2d"):
    sc = Scenario.model_validate({
        "seed": 8, "start": "2026-07-13T00:00:00+09:00", "duration": duration,
        "groups": [{"family": family, "count": 3, "transport": "lorawan"}],
        "anomalies": list(anomalies)})
    out = []
    for m in build_models(sc):
        rows = []
        m.run_until(sc.end_ns, rows)
        out += [(m, f) for _, f in rows]
    return out


@pytest.mark.parametrize("family,anomalies", [
    ("wearable", [{"device": "wearable-0001", "kind": "fall", "at": "10h",
                   "params": {"detected": True}},
                  {"device": "wearable-0002", "kind": "sos", "at": "11h"},
                  {"device": "wearable-0003", "kind": "wandering", "at": "1d1h"}]),
    ("child_tag", [{"device": "childtag-0001", "kind": "sos", "at": "15h"}]),
    ("paddy", []),
    ("water_main", [{"device": "watermain-0001", "kind": "pressure_transient", "at": "5h"}]),
])
def test_binary_payloads_round_trip(family, anomalies):
    ports_seen = set()
    for m, fields in _readings(family, anomalies):
        p = profile(m.profile)
        assert p.id.endswith("_v1") and "json" not in p.id
        for port, confirmed, f in frames_for(m.profile, fields):
            payload = encode(m.profile, f, port)
            assert len(payload) <= 11  # AS923 DR2 with the 400 ms dwell limit
            res = p.decode(payload, port)
            assert not res.errors, (payload.hex(), res.errors)
            ports_seen.add(port)
            step = {fl.name: fl.scale for fl in p._codec.settings.layouts[port or 1].fields}
            for name, v in res.fields.items():
                if name in fields and isinstance(v, float):
                    # within half the wire format's resolution (values may be clipped
                    # into the field's declared range)
                    assert abs(v - fields[name]) <= step[name] / 2 + 1e-6, (name, v, fields[name])
                elif name in fields:
                    assert v == fields[name], name
            if fields.get("fall") or fields.get("sos"):
                assert confirmed and (res.fields.get("fall") or res.fields.get("sos"))
    if family == "wearable":
        assert ports_seen == {1, 2, 3}  # summary, alert, position
    if family == "child_tag":
        assert {1, 2} <= ports_seen


def test_over_mqtt_only_the_default_layout_is_used():
    (m, fields) = next((m, f) for m, f in _readings("wearable", [
        {"device": "wearable-0001", "kind": "fall", "at": "10h", "params": {"detected": True}}])
        if f.get("fall"))
    ((port, _, f),) = frames_for(m.profile, fields, with_fport=False)
    res = profile(m.profile).decode(encode(m.profile, f, port), None)
    assert not res.errors and res.fields["fall"] is True and "fall_confidence" in res.fields
