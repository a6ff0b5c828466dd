"""JSON codec: maps payload keys to profile fields, with scale/offset unit
conversion, and picks up the device's own timestamp if present.

Settings (profile ``codec:`` block)::

    kind: json
    map:                     # payload key -> field (or {field, scale, offset})
      level_mm: {field: water_level_cm, scale: 0.1}
      temp_c: water_temp_c
    time_key: ts             # optional; epoch seconds/ms/µs/ns or ISO 8601
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ..profile import DecodeResult


class JsonCodec:
    def __init__(self, profile: Any, map: dict[str, Any] | None = None,
                 time_key: str | None = "ts") -> None:
        self.time_key = time_key
        self.map: dict[str, tuple[str, float, float]] = {}
        for key, target in (map or {}).items():
            if isinstance(target, str):
                self.map[key] = (target, 1.0, 0.0)
            else:
                self.map[key] = (target["field"], float(target.get("scale", 1.0)),
                                 float(target.get("offset", 0.0)))
        # Keys named like a profile field pass through unchanged.
        for name in profile.fields:
            self.map.setdefault(name, (name, 1.0, 0.0))

    def encode(self, fields: dict[str, Any], fport: int | None = None,
               ts_ns: int | None = None) -> bytes:
        """Fields → the device's JSON (inverse mapping; simulators use it)."""
        reverse: dict[str, tuple[str, float, float]] = {}
        for key, (name, scale, offset) in self.map.items():
            if name not in reverse or key != name:  # prefer the device's own key
                reverse[name] = (key, scale, offset)
        doc: dict[str, Any] = {}
        if ts_ns is not None and self.time_key:
            doc[self.time_key] = ts_ns // 1_000_000_000 if ts_ns % 1_000_000_000 == 0 \
                else ts_ns / 1e9
        for name, value in fields.items():
            key, scale, offset = reverse.get(name, (name, 1.0, 0.0))
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and (scale != 1.0 or offset != 0.0):
                value = round((value - offset) / scale, 9)
            doc[key] = value
        return orjson.dumps(doc)

    def decode(self, payload: bytes, fport: int | None = None) -> DecodeResult:
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return DecodeResult(errors=[f"payload is not JSON: {exc}"])
        if not isinstance(doc, dict):
            return DecodeResult(errors=[f"payload must be a JSON object, got {type(doc).__name__}"])
        out = DecodeResult()
        for key, value in doc.items():
            if key == self.time_key:
                ts = parse_time(value)
                if ts is None:
                    out.errors.append(f"{key!r}: {value!r} is not a timestamp")
                else:
                    out.ts_ns = ts
                continue
            target = self.map.get(key)
            if target is None:
                out.warnings.append(f"ignored unknown key {key!r}")
                continue
            name, scale, offset = target
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if scale != 1.0 or offset != 0.0:
                    value = value * scale + offset
            elif value is None:
                continue
            out.fields[name] = value
        if not out.fields and not out.errors:
            out.errors.append("payload has no known field")
        return out


def parse_time(value: Any) -> int | None:
    """Epoch seconds, ms, µs or ns (by magnitude), or ISO 8601 → int ns UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value <= 0:
            return None
        if value < 10**11:
            return value * 10**9
        if value < 10**14:
            return value * 10**6
        if value < 10**17:
            return value * 10**3
        return value
    if isinstance(value, float):
        if value <= 0 or value != value:
            return None
        # seconds with a fraction; keep µs precision without float rounding drift
        return round(value * 1_000_000) * 1000
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None
        return int(dt.timestamp()) * 10**9 + dt.microsecond * 1000
    return None
