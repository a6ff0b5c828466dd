"""Random bytes into every codec of every shipped profile: no exception
escapes, and every failure carries a reason."""

from __future__ import annotations

import math

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles import load_profiles
from device_profiles.codecs.cayenne_lpp import decode_lpp

PROFILES = load_profiles()
FPORTS = st.one_of(st.none(), st.integers(0, 255), st.sampled_from([1, 2, 3, 10]))
PARAMS = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["mount_height_cm", "range_min_mpa", "range_max_mpa", "x"]),
                    st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=4),
                              st.none()), max_size=3))
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=10)
JSON_KEYS = sorted({k for p in PROFILES.values() if p.codec.kind == "json"
                    for k in [*p.fields, *(p.codec.model_extra or {}).get("map", {}), "ts"]})
JSON_OBJECTS = st.dictionaries(st.sampled_from(JSON_KEYS), JSON, max_size=6)


def _check(profile, result) -> None:
    assert isinstance(result.errors, list)
    for e in result.errors:
        assert isinstance(e, str) and e.strip(), result
    if not result.errors:
        assert result.fields, "no fields and no error"
        for name, value in result.fields.items():
            spec = profile.fields[name]
            if spec.type in ("float", "int"):
                assert math.isfinite(value)
                assert spec.min is None or value >= spec.min
                assert spec.max is None or value <= spec.max
            elif spec.type == "bool":
                assert isinstance(value, bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pid=st.sampled_from(sorted(PROFILES)), payload=st.binary(max_size=64), fport=FPORTS,
       params=PARAMS)
def test_random_bytes_never_raise(pid, payload, fport, params):
    profile = PROFILES[pid]
    _check(profile, profile.decode(payload, fport, params=params))


@settings(max_examples=200, deadline=None)
@given(pid=st.sampled_from(sorted(p for p in PROFILES if PROFILES[p].codec.kind == "json")),
       doc=st.one_of(JSON, JSON_OBJECTS))
def test_random_json_never_raises(pid, doc):
    profile = PROFILES[pid]
    try:
        payload = orjson.dumps(doc)
    except orjson.JSONEncodeError:  # ints beyond 64 bits: send them as text
        payload = str(doc).encode()
    _check(profile, profile.decode(payload))


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=40))
def test_lpp_items_or_a_reason(payload):
    items, errors = decode_lpp(payload)
    assert errors or items
    assert all(isinstance(e, str) and e for e in errors)
