"""The JavaScript engine: TTS/ChirpStack entry points, console, undefined
kept as null, no way out of the sandbox, and codecs that loop forever or
allocate a gigabyte are stopped while decoding goes on."""

from __future__ import annotations

import pytest

from device_profiles.js_engine import JsCodecError, JsEngine

EVIL = """
function decodeUplink(input) {
  var op = input.bytes[0];
  if (op === 1) { for (;;) {} }
  if (op === 2) { var a = new ArrayBuffer(1024 * 1024 * 1024); return {data: {n: a.byteLength}}; }
  if (op === 3) { var s = 'x'; for (;;) { s = s + s; } }
  if (op === 4) { var keep = []; for (;;) { keep.push(new Array(100000).fill(op)); } }
  if (op === 5) { function f(n) { return f(n + 1) + 1; } return {data: {n: f(0)}}; }
  return {data: {ok: input.bytes[1]}};
}
"""


@pytest.fixture(scope="module")
def evil():
    return JsEngine(EVIL, timeout_ms=50, memory_mb=16)


@pytest.mark.parametrize(("op", "reason"), [
    (1, "ran past its time budget of 50 ms"),
    (2, "more than its memory limit of 16 MB"),
    (3, "more than its memory limit of 16 MB"),
    (4, "more than its memory limit of 16 MB"),
    (5, "stack overflow"),
])
def test_runaway_codec_is_stopped_and_decoding_goes_on(evil, op, reason):
    r = evil.decode_uplink(bytes([op]), 1)
    assert r.data is None
    assert len(r.errors) == 1 and reason in r.errors[0], r.errors
    # the same engine (rebuilt if needed) keeps decoding
    for i in range(3):
        assert evil.decode_uplink(bytes([0, i]), 1).data == {"ok": i}


def test_tts_decode_uplink_input_and_output():
    eng = JsEngine("""
      function decodeUplink(input) {
        console.log('port', input.fPort, {n: input.bytes.length});
        return {data: {port: input.fPort, first: input.bytes[0],
                       year: input.recvTime.getUTCFullYear(), gone: undefined,
                       list: [undefined, 2]},
                warnings: ['w1']};
      }""")
    r = eng.decode_uplink(b"\x2a\x00", 7, recv_time_ns=1_767_225_600 * 10**9)
    assert r.errors == []
    assert r.data == {"port": 7, "first": 42, "year": 2026, "gone": None, "list": [None, 2]}
    assert r.warnings == ["w1"]
    assert r.logs == ['log: port 7 {"n":2}']


def test_codec_errors_and_exceptions_are_reported():
    eng = JsEngine("""
      function decodeUplink(input) {
        if (input.bytes.length === 0) return {errors: ['empty payload']};
        if (input.bytes[0] === 0) throw new Error('byte 0 is zero');
        if (input.bytes[0] === 1) return 42;
        return {data: null};
      }""")
    assert eng.decode_uplink(b"", 1).errors == ["empty payload"]
    assert "Error: byte 0 is zero" in eng.decode_uplink(b"\x00", 1).errors[0]
    assert "must return an object" in eng.decode_uplink(b"\x01", 1).errors[0]
    assert eng.decode_uplink(b"\x02", 1).errors == ["codec returned no data object"]


def test_decoding_from_other_threads_with_moderate_recursion():
    import threading

    eng = JsEngine("""
      function depth(n) { return n <= 0 ? 0 : depth(n - 1) + 1; }
      function decodeUplink(input) { return {data: {d: depth(input.bytes[0] * 10)}}; }""")
    results = []

    def work():
        results.extend(eng.decode_uplink(bytes([i]), 1).data["d"] for i in (1, 25, 50))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [10] * 3 + [250] * 3 + [500] * 3


def test_legacy_entry_points():
    ttn = JsEngine("function Decoder(bytes, port) { return {v: bytes[0] * 2, p: port}; }")
    assert ttn.decode_uplink(b"\x05", 3).data == {"v": 10, "p": 3}
    cs3 = JsEngine("function Decode(fPort, bytes, variables) { return {v: bytes[0], p: fPort}; }")
    assert cs3.decode_uplink(b"\x05", 4).data == {"v": 5, "p": 4}
    none = JsEngine("var x = 1;")
    assert "neither decodeUplink" in none.decode_uplink(b"\x05", 4).errors[0]


def test_no_file_network_or_process_access(tmp_path):
    eng = JsEngine("""
      function decodeUplink(input) {
        return {data: {std: typeof std, os: typeof os, require: typeof require,
                       fetch: typeof fetch, xhr: typeof XMLHttpRequest,
                       process: typeof process, load: typeof load}};
      }""")
    assert set(eng.decode_uplink(b"", 1).data.values()) == {"undefined"}
    # no module loader: neither QuickJS's os/std nor a file on disk can be imported
    leak = tmp_path / "leak.js"
    leak.write_text("globalThis.LEAK = 'read from disk';")
    imp = JsEngine(f"""
      var seen = [];
      import('os').then(function () {{ seen.push('os loaded'); }}, function (e) {{ seen.push(String(e)); }});
      import({str(leak)!r}).then(function () {{ seen.push(globalThis.LEAK); }},
                               function (e) {{ seen.push(String(e)); }});
      function decodeUplink(i) {{ return {{data: {{seen: seen}}}}; }}""")
    while imp._ctx.execute_pending_job():
        pass
    seen = imp.decode_uplink(b"", 1).data["seen"]
    assert len(seen) == 2 and all("could not load module" in s for s in seen), seen


def test_a_codec_that_cannot_load_is_refused():
    with pytest.raises(JsCodecError, match="SyntaxError"):
        JsEngine("function decodeUplink(input) {", name="broken.js")
    with pytest.raises(JsCodecError, match="time budget"):
        JsEngine("for (;;) {}", name="hang.js", timeout_ms=20)
