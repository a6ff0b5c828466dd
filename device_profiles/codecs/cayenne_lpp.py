"""Cayenne Low Power Payload (LPP): a sequence of ``channel, type, data``
items. Each item is turned into named values (GPS gives ``latitude``,
``longitude``, ``altitude_m``), then mapped onto profile fields.

Settings (profile ``codec:`` block)::

    kind: cayenne_lpp
    map:                         # "channel/type" → field, or {value: field}
      1/gps: {latitude: lat, longitude: lon}
      2/digital_input: sos
      3/percentage: battery_pct
      4/analog_input: {field: battery_v, scale: 1.0}

Items not in the map are reported as warnings and skipped.

>>> decode_lpp(bytes.fromhex("0188 0543e8 14dbf6 000000"))[0][0][:2]
(1, 'gps')
>>> decode_lpp(bytes.fromhex("0167 00"))[1]
['byte 2: temperature on channel 1 needs 2 bytes, 1 left']
"""

from __future__ import annotations

from typing import Any

from ..profile import DecodeResult

# type id → (name, size, decoder(bytes) → value or dict of values)


def _i(b: bytes, signed: bool = True) -> int:
    return int.from_bytes(b, "big", signed=signed)


def _axes(scale: float):
    return lambda b: {"x": round(_i(b[0:2]) * scale, 3), "y": round(_i(b[2:4]) * scale, 3),
                      "z": round(_i(b[4:6]) * scale, 3)}


TYPES: dict[int, tuple[str, int, Any]] = {
    0: ("digital_input", 1, lambda b: b[0]),
    1: ("digital_output", 1, lambda b: b[0]),
    2: ("analog_input", 2, lambda b: round(_i(b) * 0.01, 2)),
    3: ("analog_output", 2, lambda b: round(_i(b) * 0.01, 2)),
    100: ("generic_sensor", 4, lambda b: _i(b, False)),
    101: ("illuminance", 2, lambda b: _i(b, False)),
    102: ("presence", 1, lambda b: b[0]),
    103: ("temperature", 2, lambda b: round(_i(b) * 0.1, 1)),
    104: ("humidity", 1, lambda b: b[0] * 0.5),
    113: ("accelerometer", 6, _axes(0.001)),
    115: ("barometer", 2, lambda b: round(_i(b, False) * 0.1, 1)),
    116: ("voltage", 2, lambda b: round(_i(b, False) * 0.01, 2)),
    117: ("current", 2, lambda b: round(_i(b, False) * 0.001, 3)),
    118: ("frequency", 4, lambda b: _i(b, False)),
    120: ("percentage", 1, lambda b: b[0]),
    121: ("altitude", 2, lambda b: _i(b)),
    125: ("concentration", 2, lambda b: _i(b, False)),
    128: ("power", 2, lambda b: _i(b, False)),
    130: ("distance", 4, lambda b: round(_i(b, False) * 0.001, 3)),
    131: ("energy", 4, lambda b: round(_i(b, False) * 0.001, 3)),
    132: ("direction", 2, lambda b: _i(b, False)),
    133: ("unixtime", 4, lambda b: _i(b, False)),
    134: ("gyrometer", 6, _axes(0.01)),
    135: ("colour", 3, lambda b: {"r": b[0], "g": b[1], "b": b[2]}),
    136: ("gps", 9, lambda b: {"latitude": round(_i(b[0:3]) * 0.0001, 4),
                               "longitude": round(_i(b[3:6]) * 0.0001, 4),
                               "altitude_m": round(_i(b[6:9]) * 0.01, 2)}),
    142: ("switch", 1, lambda b: b[0]),
}
TYPE_IDS = {name: tid for tid, (name, _, _) in TYPES.items()}
# single-value types that can be encoded: type id → (resolution, signed)
ENCODE_SCALE: dict[int, tuple[float, bool]] = {
    0: (1, False), 1: (1, False), 2: (0.01, True), 3: (0.01, True), 100: (1, False),
    101: (1, False), 102: (1, False), 103: (0.1, True), 104: (0.5, False), 115: (0.1, False),
    116: (0.01, False), 117: (0.001, False), 118: (1, False), 120: (1, False), 121: (1, True),
    125: (1, False), 128: (1, False), 130: (0.001, False), 131: (0.001, False),
    132: (1, False), 133: (1, False), 142: (1, False),
}


def _enc(value: float, step: float, size: int, signed: bool = True) -> bytes:
    raw = round(float(value) / step)
    try:
        return raw.to_bytes(size, "big", signed=signed)
    except OverflowError:
        raise ValueError(f"{value} does not fit {size} bytes at {step} per step") from None


def decode_lpp(payload: bytes) -> tuple[list[tuple[int, str, Any]], list[str]]:
    """→ ([(channel, type name, value)], errors). Never raises."""
    items: list[tuple[int, str, Any]] = []
    i, n = 0, len(payload)
    if n == 0:
        return items, ["empty payload"]
    while i < n:
        if i + 2 > n:
            return items, [f"byte {i}: item header needs 2 bytes (channel, type), 1 left"]
        channel, tid = payload[i], payload[i + 1]
        t = TYPES.get(tid)
        if t is None:
            return items, [f"byte {i + 1}: unknown LPP type {tid} on channel {channel}"]
        name, size, conv = t
        data = payload[i + 2:i + 2 + size]
        if len(data) < size:
            return items, [f"byte {i + 2}: {name} on channel {channel} needs {size} bytes, "
                           f"{len(data)} left"]
        items.append((channel, name, conv(data)))
        i += 2 + size
    return items, []


class CayenneLppCodec:
    def __init__(self, profile: Any, map: dict[str, Any] | None = None) -> None:
        self.map: dict[tuple[int, str], list[tuple[str | None, str, float, float]]] = {}
        for key, target in (map or {}).items():
            ch_s, _, tname = str(key).partition("/")
            if tname not in TYPE_IDS:
                raise ValueError(f"map {key!r}: unknown LPP type {tname!r}")
            ch = int(ch_s)
            entries: list[tuple[str | None, str, float, float]] = []
            if isinstance(target, str):
                entries.append((None, target, 1.0, 0.0))
            elif "field" in target:
                entries.append((None, target["field"], float(target.get("scale", 1.0)),
                                float(target.get("offset", 0.0))))
            else:  # a multi-valued item: sub-value → field
                for sub, fname in target.items():
                    entries.append((sub, fname, 1.0, 0.0))
            for _, fname, _, _ in entries:
                if fname not in profile.fields:
                    raise ValueError(f"map {key!r}: {fname!r} is not a profile field")
            self.map[(ch, tname)] = entries

    def encode(self, fields: dict[str, Any], fport: int | None = None) -> bytes:
        """Fields → LPP items for every mapped item whose fields are all given
        (simulators use it); raises ValueError for a value that does not fit."""
        out = bytearray()
        for (ch, tname), entries in self.map.items():
            if not all(fname in fields for _, fname, _, _ in entries):
                continue
            tid = TYPE_IDS[tname]
            _, size, _ = TYPES[tid]
            if tname == "gps":
                vals = {"latitude": 0.0, "longitude": 0.0, "altitude_m": 0.0}
                for sub, fname, _, _ in entries:
                    vals[sub] = float(fields[fname])  # type: ignore[index]
                data = (_enc(vals["latitude"], 1e-4, 3) + _enc(vals["longitude"], 1e-4, 3)
                        + _enc(vals["altitude_m"], 0.01, 3))
            elif len(entries) == 1 and tid in ENCODE_SCALE:
                _, fname, scale, offset = entries[0]
                raw = (float(fields[fname]) - offset) / scale
                step, signed = ENCODE_SCALE[tid]
                data = _enc(raw, step, size, signed)
            else:
                raise ValueError(f"cannot encode LPP {tname} on channel {ch}")
            out += bytes([ch, tid]) + data
        if not out:
            raise ValueError("none of the given fields maps to an LPP item")
        return bytes(out)

    def decode(self, payload: bytes, fport: int | None = None) -> DecodeResult:
        items, errors = decode_lpp(payload)
        out = DecodeResult(errors=errors)
        if errors:
            return out
        for ch, tname, value in items:
            entries = self.map.get((ch, tname))
            if entries is None:
                out.warnings.append(f"ignored {tname} on channel {ch}")
                continue
            for sub, fname, scale, offset in entries:
                v = value.get(sub) if sub is not None and isinstance(value, dict) else value
                if isinstance(v, dict) or v is None:
                    out.errors.append(f"{tname} on channel {ch}: no value {sub!r}")
                    continue
                if scale != 1.0 or offset != 0.0:
                    v = round(v * scale + offset, 6)
                out.fields[fname] = v
        if not out.fields and not out.errors:
            out.errors.append("payload has no item this profile maps to a field")
        return out
