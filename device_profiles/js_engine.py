"""Run vendor-style JavaScript codecs in an embedded QuickJS engine.

Codecs in the format of The Things Stack device repository and ChirpStack:
``decodeUplink(input)`` with ``input = {bytes, fPort, recvTime}`` returning
``{data, warnings, errors}``, or the legacy ``Decoder(bytes, port)`` (TTN v2)
and ``Decode(fPort, bytes, variables)`` (ChirpStack v3) returning the data.

Sandbox: QuickJS (PyPI ``quickjs``) without its ``std``/``os`` modules, so a
codec has no file, network or process access; a ``console`` object collects
log lines; ``undefined`` values come back as ``null``. Each call runs under a
CPU-time budget and the context under a memory limit; a codec that loops
forever or allocates a gigabyte is stopped, reported as an error, and its
context rebuilt — the process goes on decoding.

>>> eng = JsEngine("function decodeUplink(i){ return {data: {n: i.bytes[0], u: undefined}}; }")
>>> eng.decode_uplink(b"\\x07", 1)
JsResult(data={'n': 7, 'u': None}, warnings=[], errors=[], logs=[])
>>> JsEngine("function decodeUplink(i){ for(;;){} }", timeout_ms=20).decode_uplink(b"", 1).errors
['JavaScript codec stopped: it ran past its time budget of 20 ms (CPU)']
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import quickjs

MAX_STACK_BYTES = 1024 * 1024
MAX_LOG_LINES = 20
MAX_LOG_CHARS = 300

_PRELUDE = r"""
var console = (function () {
  var lines = [];
  function fmt(args) {
    var parts = [];
    for (var i = 0; i < args.length; i++) {
      var a = args[i];
      if (typeof a === 'string') { parts.push(a); continue; }
      try { parts.push(JSON.stringify(a)); } catch (e) { parts.push(String(a)); }
    }
    return parts.join(' ').slice(0, %(chars)d);
  }
  function log(level) {
    return function () {
      if (lines.length < %(lines)d) lines.push(level + ': ' + fmt(arguments));
    };
  }
  return { log: log('log'), info: log('info'), debug: log('debug'), warn: log('warn'),
           error: log('error'), __take: function () { var l = lines; lines = []; return l; } };
})();
""" % {"chars": MAX_LOG_CHARS, "lines": MAX_LOG_LINES}

_RUNNER = r"""
(function (inputJson) {
  var inp = JSON.parse(inputJson);
  var out;
  try {
    if (typeof decodeUplink === 'function') {
      out = decodeUplink({ bytes: inp.bytes, fPort: inp.fPort,
                           recvTime: new Date(inp.recvTime) });
    } else if (typeof Decoder === 'function') {
      out = { data: Decoder(inp.bytes, inp.fPort) };
    } else if (typeof Decode === 'function') {
      out = { data: Decode(inp.fPort, inp.bytes, inp.variables || {}) };
    } else {
      out = { errors: ['the codec defines neither decodeUplink(input) nor Decoder(bytes, port)'] };
    }
  } catch (e) {
    var frames = (e && e.stack) ? String(e.stack).split('\n') : [];
    var where = '';
    for (var i = 0; i < frames.length; i++) {
      var fr = frames[i].trim();
      if (fr && fr.indexOf('<anonymous>') < 0) { where = fr; break; }
    }
    out = { errors: [String(e) + (where ? ' (' + where + ')' : '')],
            __fatal: (e instanceof InternalError) };
  }
  return JSON.stringify({ r: out === undefined ? null : out, logs: console.__take() },
                        function (k, v) { return v === undefined ? null : v; });
})
"""


@dataclass(slots=True)
class JsResult:
    data: Any = None
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


class JsCodecError(Exception):
    """The codec source cannot be loaded (syntax error, throws at load, too slow)."""


class JsEngine:
    """One QuickJS context per codec; thread-safe (one call at a time)."""

    def __init__(self, source: str, *, name: str = "codec.js", timeout_ms: float = 100.0,
                 memory_mb: int = 32) -> None:
        self.source = source
        self.name = name
        self.timeout_ms = float(timeout_ms)
        self.memory_mb = int(memory_mb)
        self._lock = threading.Lock()
        self._ctx: Any = None
        self._run: Any = None
        self.restarts = 0
        self._load()  # raises JsCodecError: a codec that cannot load is a profile error

    def _load(self) -> None:
        ctx = quickjs.Context()
        ctx.set_memory_limit(self.memory_mb * 1024 * 1024)
        ctx.set_time_limit(max(self.timeout_ms, 1.0) / 1000.0)
        # C stack for JS recursion: QuickJS's default (256 KiB) stops a codec
        # at a few hundred nested calls; threads here have MiBs of stack.
        ctx.set_max_stack_size(MAX_STACK_BYTES)
        try:
            ctx.eval(_PRELUDE)
            ctx.eval(self.source)
            run = ctx.eval(_RUNNER)
        except quickjs.JSException as exc:
            raise JsCodecError(f"{self.name}: cannot load: {self._explain(exc)}") from None
        self._ctx, self._run = ctx, run

    def _explain(self, exc: BaseException) -> str:
        msg = str(exc).strip()
        first = msg.splitlines()[0] if msg else repr(exc)
        if "interrupted" in first:
            return (f"JavaScript codec stopped: it ran past its time budget of "
                    f"{self.timeout_ms:g} ms (CPU)")
        if "out of memory" in first or first == "null" or isinstance(exc, MemoryError):
            return (f"JavaScript codec stopped: it needed more than its memory limit of "
                    f"{self.memory_mb} MB")
        if "stack overflow" in first.lower() or "call stack" in first:
            return f"JavaScript codec stopped: {first}"
        return f"JavaScript error: {first}"

    def decode_uplink(self, payload: bytes, fport: int | None,
                      recv_time_ns: int | None = None,
                      variables: dict[str, str] | None = None) -> JsResult:
        """Never raises."""
        recv_ns = recv_time_ns if recv_time_ns is not None else time.time_ns()
        inp = orjson.dumps({
            "bytes": list(payload), "fPort": fport,
            "recvTime": recv_ns // 1_000_000, "variables": variables or {},
        }).decode()
        with self._lock:
            try:
                raw = self._run(inp)
            except (quickjs.JSException, MemoryError) as exc:
                reason = self._explain(exc)
                self._rebuild()
                return JsResult(errors=[reason])
            except Exception as exc:  # noqa: BLE001 - the engine itself failed
                self._rebuild()
                return JsResult(errors=[f"JavaScript engine failed: {exc!r}"])
            try:
                doc = orjson.loads(raw)
            except (orjson.JSONDecodeError, TypeError):
                return JsResult(errors=["JavaScript codec returned something that is not JSON"])
            r = doc.get("r")
            if isinstance(r, dict) and r.get("__fatal"):
                # out of memory / stack overflow caught inside: start afresh
                first = str((r.get("errors") or [""])[0])
                self._rebuild()
                return JsResult(errors=[self._explain(Exception(first))],
                                logs=[str(x) for x in doc.get("logs") or []])
        return self._result(doc)

    def _rebuild(self) -> None:
        self.restarts += 1
        try:
            self._load()
        except JsCodecError:  # pragma: no cover - it loaded before
            pass

    @staticmethod
    def _result(doc: dict[str, Any]) -> JsResult:
        logs = [str(x) for x in doc.get("logs") or []]
        r = doc.get("r")
        if not isinstance(r, dict):
            return JsResult(errors=["decodeUplink must return an object {data, warnings, "
                                    f"errors}}, got {type(r).__name__ if r is not None else 'nothing'}"],
                            logs=logs)
        errors = r.get("errors") or []
        warnings = r.get("warnings") or []
        if not isinstance(errors, list):
            errors = [errors]
        if not isinstance(warnings, list):
            warnings = [warnings]
        errors = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in errors]
        warnings = [w if isinstance(w, str) else orjson.dumps(w).decode() for w in warnings]
        data = r.get("data")
        if not errors and not isinstance(data, dict):
            errors.append("codec returned no data object" if data is None
                          else f"codec data must be an object, got {type(data).__name__}")
        return JsResult(data=data, warnings=warnings, errors=errors, logs=logs)
