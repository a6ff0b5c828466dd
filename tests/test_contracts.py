import orjson
import pytest

from mimamori.contracts import (
    ContractError,
    EventKind,
    Family,
    Finding,
    FindingState,
    Reading,
    Severity,
    decode_envelope,
    encode_envelope,
    partition,
)
from mimamori.topics import Topics


def reading(**kw) -> Reading:
    base = dict(device_id="d1", profile="p", family=Family.PADDY, site="s",
                ts_ns=1_767_225_600_123_456_789, fields={"x": 1.5, "ok": True, "n": 3, "t": "a"})
    base.update(kw)
    return Reading(**base)


def test_envelope_round_trip_keeps_nanoseconds_and_types():
    rs = [reading(), reading(device_id="d2", meta={"rssi": -100})]
    back = decode_envelope(encode_envelope(rs))
    assert back == rs
    assert back[0].ts_ns == 1_767_225_600_123_456_789
    assert type(back[0].fields["n"]) is int and type(back[0].fields["ok"]) is bool


@pytest.mark.parametrize("payload,reason", [
    (b"not json", "not JSON"),
    (b'{"v": 2, "readings": []}', "version"),
    (b'{"v": 1}', "readings list"),
    (b'{"v": 1, "readings": [{"device_id": "d", "family": "paddy", "fields": {"x": 1}}]}',
     "ts_ns"),
    (b'{"v": 1, "readings": [{"device_id": "d", "family": "paddy", "ts_ns": 1.5, '
     b'"fields": {"x": 1}}]}', "ts_ns"),
    (b'{"v": 1, "readings": [{"device_id": "d", "family": "cow", "ts_ns": 1, '
     b'"fields": {"x": 1}}]}', "family"),
    (b'{"v": 1, "readings": [{"device_id": "d", "family": "paddy", "ts_ns": 1, '
     b'"fields": {"x": [1]}}]}', "field"),
])
def test_bad_envelopes_say_why(payload, reason):
    with pytest.raises(ContractError, match=reason):
        decode_envelope(payload)


def test_partition_is_stable_and_in_range():
    # crc32 — the same in every process and Python version (not hash()).
    values = {partition(f"dev-{i}", 16) for i in range(500)}
    assert values == set(range(16))
    assert partition("dev-42", 16) == partition("dev-42", 16)
    import zlib
    assert partition("児童タグ-7", 16) == zlib.crc32("児童タグ-7".encode()) % 16


def test_finding_round_trip_and_every_kind_is_unique():
    f = Finding("d1", EventKind.FALL, Severity.CRITICAL, FindingState.OPENED, 5, "home-1",
                evidence={"peak_g": 4.2})
    assert Finding.decode(f.encode()) == f
    assert len({k.value for k in EventKind}) == len(EventKind)
    with pytest.raises(ContractError):
        Finding.decode(orjson.dumps({**f.to_dict(), "kind": "alien"}))


def test_topics_refuse_wildcards_in_segments():
    t = Topics("root/v1")
    assert t.up("p", "d") == "root/v1/up/p/d"
    assert t.parse_up("root/v1/up/p/d/extra") is None
    assert t.parse_up("other/up/p/d") is None
    with pytest.raises(ValueError):
        t.up("p", "a/b")
    with pytest.raises(ValueError):
        t.device_status("+")
