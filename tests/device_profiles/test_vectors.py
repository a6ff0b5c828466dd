"""Every shipped profile's test vectors (``<id>.vectors.yaml`` beside the
profile): valid payloads give exactly the expected fields, invalid ones an
error that says which byte or field failed. One parametrized test runs them
all; a profile without vectors (valid and invalid) fails the suite."""

from __future__ import annotations

import math

import orjson
import pytest
import yaml

from device_profiles import load_profiles
from device_profiles.profile import PROFILE_DIR, VECTORS_SUFFIX

PROFILES = load_profiles()


def _vectors() -> list:
    out = []
    for path in sorted(PROFILE_DIR.glob(f"*{VECTORS_SUFFIX}")):
        pid = path.name.removesuffix(VECTORS_SUFFIX)
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for v in doc["vectors"]:
            out.append(pytest.param(pid, v, id=f"{pid}: {v['name']}"))
    return out


def _payload(v: dict) -> bytes:
    if "hex" in v:
        return bytes.fromhex(str(v["hex"]).replace(" ", ""))
    if "json" in v:
        return orjson.dumps(v["json"])
    return str(v["text"]).encode()


def test_every_profile_has_valid_and_invalid_vectors():
    for pid in PROFILES:
        path = PROFILE_DIR / f"{pid}{VECTORS_SUFFIX}"
        assert path.exists(), f"profile {pid} has no {path.name}"
        vectors = yaml.safe_load(path.read_text(encoding="utf-8"))["vectors"]
        assert any("fields" in v for v in vectors), f"{pid}: no valid vector"
        assert any("error" in v for v in vectors), f"{pid}: no invalid vector"


@pytest.mark.parametrize(("profile_id", "vector"), _vectors())
def test_vector(profile_id, vector):
    profile = PROFILES[profile_id]
    result = profile.decode(_payload(vector), vector.get("fport"), params=vector.get("params"))
    if "error" in vector:
        assert result.errors, f"expected an error, got fields {result.fields}"
        assert any(vector["error"] in e for e in result.errors), result.errors
        return
    assert result.errors == [], result.errors
    expected = vector["fields"]
    assert set(result.fields) == set(expected)
    for name, want in expected.items():
        got = result.fields[name]
        assert type(got) is type(want) or isinstance(want, float), (name, got, want)
        if isinstance(want, float):
            assert math.isclose(got, want, rel_tol=0, abs_tol=1e-9), (name, got, want)
        else:
            assert got == want, (name, got, want)
    if "ts_ns" in vector:
        assert result.ts_ns == vector["ts_ns"]
