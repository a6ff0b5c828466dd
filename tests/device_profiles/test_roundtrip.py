"""encode → decode gives the same fields back, for every layout of every
binary profile and for the JSON profiles (what simulators rely on)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_profiles import load_profiles
from device_profiles.codecs.binary_codec import TYPES, _decimals, _raw_limits

PROFILES = load_profiles()
BINARY = [(pid, port) for pid, p in sorted(PROFILES.items())
          if p.codec.kind == "binary" and not p.derive
          for port in p._codec.settings.layouts]
JSON = sorted(pid for pid, p in PROFILES.items() if p.codec.kind == "json")


@st.composite
def layout_fields(draw, pid, port):
    p = PROFILES[pid]
    layout = p._codec.settings.layouts[port]
    out = {}
    for f in layout.fields:
        if f.expect is not None:
            continue
        spec = p.fields[f.name]
        if f.bit is not None:
            out[f.name] = draw(st.booleans())
            continue
        if f.none is not None and draw(st.booleans()):
            continue  # absent: sent as the "no reading" sentinel
        lo, hi = _raw_limits(f.type)
        if spec.min is not None:
            lo = max(lo, math.ceil((spec.min - f.offset) / f.scale - 1e-9))
        if spec.max is not None:
            hi = min(hi, math.floor((spec.max - f.offset) / f.scale + 1e-9))
        raw = draw(st.integers(lo, hi).filter(lambda r, none=f.none: r != none))
        value = raw * f.scale + f.offset
        if f.scale != 1.0 or f.offset != 0.0:
            value = round(value, _decimals(f.scale, f.offset))
        out[f.name] = int(value) if spec.type == "int" else float(value)
    return out


@pytest.mark.parametrize(("pid", "port"), BINARY, ids=[f"{p}:{n}" for p, n in BINARY])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_binary_round_trip(pid, port, data):
    p = PROFILES[pid]
    fields = data.draw(layout_fields(pid, port))
    payload = p.encode(fields, port)
    assert len(payload) <= 11, "our own LPWA frames fit AS923 DR2 with dwell time"
    r = p.decode(payload, port)
    assert r.errors == []
    bits = {f.name for f in p._codec.settings.layouts[port].fields if f.bit is not None}
    want = {**{b: False for b in bits}, **fields}
    assert r.fields == pytest.approx(want)


def test_encode_names_the_missing_field():
    with pytest.raises(ValueError, match="field 'battery_pct' is needed by layout summary"):
        PROFILES["paddy_v1"].encode({"water_level_cm": 3.0}, 1)
    with pytest.raises(ValueError, match="'battery_pct': 300 does not fit u8"):
        PROFILES["paddy_v1"].encode({"battery_pct": 300}, 1)
    with pytest.raises(NotImplementedError):
        PROFILES["ultrasonic_paddy_v1"].encode({"water_level_cm": 3.0})


@pytest.mark.parametrize("pid", JSON)
def test_json_round_trip(pid):
    p = PROFILES[pid]
    fields = {}
    for name, spec in p.fields.items():
        if spec.type == "bool":
            fields[name] = True
        elif spec.type == "int":
            fields[name] = int(spec.max or 7) // 2
        else:
            fields[name] = round(((spec.min or 0) + (spec.max or 1)) / 3, 3)
    r = p.decode(p.encode(fields, ts_ns=1_767_225_600 * 10**9))
    assert r.errors == [] and r.ts_ns == 1_767_225_600 * 10**9
    assert r.fields == pytest.approx(fields)


def test_every_own_lpwa_frame_fits_eleven_bytes():
    for pid in ("wearable_v1", "child_tag_v1", "paddy_v1", "water_main_v1"):
        for port, layout in PROFILES[pid]._codec.settings.layouts.items():
            end = max(f.at + TYPES[f.type][1] for f in layout.fields)
            assert (layout.length or end) <= 11, (pid, port)


@settings(max_examples=100, deadline=None)
@given(lat=st.integers(-900000, 900000), lon=st.integers(-1800000, 1800000),
       sos=st.booleans(), battery=st.integers(0, 100))
def test_lpp_round_trip(lat, lon, sos, battery):
    p = PROFILES["gps_tracker_lpp_v1"]
    fields = {"lat": lat / 10000, "lon": lon / 10000, "sos": sos, "battery_pct": float(battery)}
    r = p.decode(p.encode(fields))
    assert r.errors == [] and r.fields == pytest.approx(fields)
    assert len(p.encode({"lat": 34.4808, "lon": 136.6326})) == 11  # one GPS item = DR2 payload
