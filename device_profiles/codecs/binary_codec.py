"""Declarative fixed-layout binary codec: one layout per LoRaWAN FPort.

Each layout lists values at byte offsets with an integer or float type,
endianness, scale and offset, optional bit fields, a "no value" sentinel and
an expected constant (a header byte). Layouts are compiled once, when the
profile loads, into one small Python function built around a precompiled
:class:`struct.Struct`, so decoding costs a few microseconds.

Settings (profile ``codec:`` block)::

    kind: binary
    endian: big              # default byte order (big | little)
    default_fport: 1         # layout used when no FPort is known (MQTT)
    layouts:
      1:
        name: summary
        fields:
          - {name: heart_rate_bpm, at: 0, type: u8, none: 255}
          - {name: skin_temp_c, at: 2, type: u8, scale: 0.1, offset: 20}
          - {name: worn, at: 6, type: u8, bit: 0}          # one bit → bool
          - {name: mode, at: 6, type: u8, bits: [4, 7]}     # bits 4..7 → int
          - {name: header, at: 0, type: u8, expect: 0x11}  # checked, not a field

Types: u8 i8 u16 i16 u24 i24 u32 i32 u64 i64 f32 f64. Scaled values are
rounded to the decimals of ``scale`` (0.1 → 1 decimal). Errors name the byte
and the field: ``bytes 2-3 (water_temp_c): 61.0 °C outside valid range``.

>>> from device_profiles import load_profiles
>>> p = load_profiles()["paddy_v1"]
>>> p.decode(bytes.fromhex("002d 0992 58"), 1).fields
{'water_level_cm': 4.5, 'water_temp_c': 24.5, 'battery_pct': 88.0}
>>> p.decode(bytes.fromhex("002d 0992"), 1).errors
['layout summary (fport 1) is 5 bytes, payload has 4']
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ..profile import DecodeResult

TYPES: dict[str, tuple[str, int]] = {
    "u8": ("B", 1), "i8": ("b", 1), "u16": ("H", 2), "i16": ("h", 2),
    "u24": ("", 3), "i24": ("", 3), "u32": ("I", 4), "i32": ("i", 4),
    "u64": ("Q", 8), "i64": ("q", 8), "f32": ("f", 4), "f64": ("d", 8),
}

Endian = Literal["big", "little"]


class FieldLayout(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    at: int = Field(ge=0)
    type: Literal["u8", "i8", "u16", "i16", "u24", "i24", "u32", "i32", "u64", "i64",
                  "f32", "f64"] = "u8"
    endian: Endian | None = None
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = Field(None, ge=0, le=63)
    bits: tuple[int, int] | None = None  # inclusive, low..high
    none: int | None = None  # raw value meaning "no reading"
    expect: int | None = None  # raw value that must be there (header)

    @model_validator(mode="after")
    def _check(self) -> FieldLayout:
        if self.bit is not None and self.bits is not None:
            raise ValueError("use bit or bits, not both")
        if self.bits is not None and not (0 <= self.bits[0] <= self.bits[1] <= 63):
            raise ValueError("bits must be [low, high] with 0 <= low <= high <= 63")
        if (self.bit is not None or self.bits is not None) and self.type.startswith("f"):
            raise ValueError("bit fields need an integer type")
        return self


class Layout(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = ""
    length: int | None = Field(None, ge=1)  # default: end of the last field
    allow_trailing: bool = False
    endian: Endian | None = None
    fields: list[FieldLayout]


class BinarySettings(BaseModel):
    model_config = {"extra": "forbid"}
    endian: Endian = "big"
    default_fport: int | None = None
    layouts: dict[int, Layout]


def _decimals(scale: float, offset: float) -> int:
    """Decimals worth keeping after ``raw * scale + offset`` (0.1 → 1)."""
    d = 0
    for v in (scale, offset):
        exp = Decimal(repr(float(v))).normalize().as_tuple().exponent
        d = max(d, -int(exp))
    return d


def _where(f: FieldLayout) -> str:
    size = TYPES[f.type][1]
    return f"byte {f.at}" if size == 1 else f"bytes {f.at}-{f.at + size - 1}"


class BinaryCodec:
    """Compiled layouts; :meth:`decode` never raises for any input."""

    validated = True  # emits profile types and checks valid ranges itself

    def __init__(self, profile: Any, **settings: Any) -> None:
        self.settings = BinarySettings.model_validate(settings)
        derive_sources = {d.get("source") for d in getattr(profile, "derive", [])}
        self.profile_fields = profile.fields
        self._decoders: dict[int, Any] = {}
        for port, layout in self.settings.layouts.items():
            for f in layout.fields:
                if f.expect is None and f.name not in profile.fields \
                        and f.name not in derive_sources:
                    raise ValueError(f"layout {port}: {f.name!r} is neither a profile field "
                                     "nor a derive source")
            self._decoders[port] = self._compile(port, layout)
        if self.settings.default_fport is not None \
                and self.settings.default_fport not in self._decoders:
            raise ValueError(f"default_fport {self.settings.default_fport} has no layout")
        self._known = ", ".join(str(p) for p in sorted(self._decoders))

    # -- compile -------------------------------------------------------------
    def _compile(self, port: int, layout: Layout) -> Any:
        name = layout.name or f"fport{port}"
        endian = layout.endian or self.settings.endian
        end = max(f.at + TYPES[f.type][1] for f in layout.fields)
        length = layout.length or end
        if length < end:
            raise ValueError(f"layout {name}: length {length} < end of last field {end}")

        # Raw slots: one per distinct (offset, type, endian).
        slots: dict[tuple[int, str, str], str] = {}
        for f in layout.fields:
            key = (f.at, f.type, f.endian or endian)
            slots.setdefault(key, f"v{len(slots)}")
        ns: dict[str, Any] = {"R": DecodeResult, "isfinite": math.isfinite}
        lines = ["def decode(p):", "    n = len(p)"]
        if layout.allow_trailing:
            lines.append(f"    if n < {length}:")
        else:
            lines.append(f"    if n != {length}:")
        lines.append(f"        return R(errors=[{f'layout {name} (fport {port}) is {length} bytes, payload has '!r} + str(n)])")
        # One struct for all non-overlapping, same-endian, non-24-bit slots.
        simple = sorted(k for k in slots if TYPES[k[1]][0] and k[2] == endian)
        combined, pos, ok = [], 0, True
        for at, typ, _ in simple:
            if at < pos:
                ok = False
                break
            combined.append("x" * (at - pos) + TYPES[typ][0])
            pos = at + TYPES[typ][1]
        if ok and simple:
            ns["S"] = struct.Struct((">" if endian == "big" else "<") + "".join(combined))
            names = ", ".join(slots[k] for k in simple)
            lines.append(f"    {names}, = S.unpack_from(p, 0)")
            rest = [k for k in slots if k not in simple]
        else:
            rest = list(slots)
        for i, k in enumerate(rest):
            at, typ, e = k
            code, size = TYPES[typ]
            if code:
                ns[f"S{i}"] = struct.Struct((">" if e == "big" else "<") + code)
                lines.append(f"    {slots[k]}, = S{i}.unpack_from(p, {at})")
            else:
                lines.append(f"    {slots[k]} = int.from_bytes(p[{at}:{at + size}], {e!r}, "
                             f"signed={typ.startswith('i')})")
        lines += ["    f = {}", "    e = None"]
        for f in layout.fields:
            lines += ["    " + ln for ln in self._field_code(f, slots[(f.at, f.type, f.endian or endian)], ns)]
        lines += ["    if e:", "        return R(errors=e)", "    return R(f)"]
        src = "\n".join(lines)
        exec(compile(src, f"<binary layout {name}>", "exec"), ns)  # noqa: S102 - generated from validated numbers and repr'd names
        decode = ns["decode"]
        decode.source = src  # for the curious: print(codec._decoders[1].source)
        return decode

    def _field_code(self, f: FieldLayout, var: str, ns: dict[str, Any]) -> list[str]:
        where = f"{_where(f)} ({f.name})"
        out = [f"x = {var}"]
        if f.bit is not None:
            out.append(f"x = (x >> {f.bit}) & 1")
        elif f.bits is not None:
            lo, hi = f.bits
            out.append(f"x = (x >> {lo}) & {(1 << (hi - lo + 1)) - 1}")
        if f.expect is not None:
            return out + [f"if x != {f.expect}:",
                          f"    e = (e or []) + [{where + ': '!r} + hex(x) + {f', expected {hex(f.expect)}'!r}]"]
        spec = self.profile_fields.get(f.name)
        ftype = spec.type if spec else ("bool" if f.bit is not None else "float")
        body: list[str] = []
        if f.type.startswith("f"):
            body += ["if not isfinite(x):",
                     f"    e = (e or []) + [{where + ': not a finite number'!r}]"]
        if ftype == "bool":
            body.append("x = x != 0")
        else:
            if f.scale != 1.0 or f.offset != 0.0:
                dec = _decimals(f.scale, f.offset)
                body.append(f"x = round(x * {f.scale!r} + {f.offset!r}, {dec})")
            if ftype == "int":
                if f.scale != int(f.scale) or f.offset != int(f.offset):
                    raise ValueError(f"{f.name}: an int field needs an integer scale and offset")
                body.append("x = int(x)")
            elif ftype == "float" and not f.type.startswith("f") \
                    and f.scale == 1.0 and f.offset == 0.0:
                body.append("x = float(x)")
        check = []
        if spec is not None and ftype in ("int", "float") and (spec.min is not None
                                                               or spec.max is not None):
            conds = []
            if spec.min is not None:
                conds.append(f"x < {spec.min!r}")
            if spec.max is not None:
                conds.append(f"x > {spec.max!r}")
            msg_a = f"{where}: "
            unit = f" {spec.unit}" if spec.unit not in ("", "1") else ""
            msg_b = f"{unit} outside valid range {spec.min}..{spec.max}"
            check = [f"if {' or '.join(conds)}:",
                     f"    e = (e or []) + [{msg_a!r} + str(x) + {msg_b!r}]",
                     "else:",
                     f"    f[{f.name!r}] = x"]
        else:
            check = [f"f[{f.name!r}] = x"]
        if f.type.startswith("f"):
            # a NaN/inf must not reach the range check or the field
            check = ["if isfinite(x):"] + ["    " + c for c in check] if ftype != "bool" else check
        body += check
        if f.none is not None:
            return out + [f"if x != {f.none}:"] + ["    " + b for b in body]
        return out + body

    # -- decode --------------------------------------------------------------
    def decode(self, payload: bytes, fport: int | None = None) -> DecodeResult:
        if fport is None:
            fport = self.settings.default_fport
            if fport is None:
                return DecodeResult(errors=["no FPort given and the profile has no "
                                            "default_fport"])
        dec = self._decoders.get(fport)
        if dec is None:
            return DecodeResult(errors=[f"fport {fport} has no layout in this profile "
                                        f"(known: {self._known})"])
        return dec(payload)

    def encode(self, fields: dict[str, Any], fport: int | None = None) -> bytes:
        """Fields → payload (simulators use it); raises ValueError."""
        port = fport if fport is not None else self.settings.default_fport
        layout = self.settings.layouts.get(port)  # type: ignore[arg-type]
        if layout is None:
            raise ValueError(f"fport {port} has no layout (known: {self._known})")
        return encode_layout(layout, layout.endian or self.settings.endian, fields, port)


# -- encoding (for simulators and tests) --------------------------------------
def _raw_limits(typ: str) -> tuple[int, int]:
    size = TYPES[typ][1] * 8
    if typ.startswith("i"):
        return -(1 << (size - 1)), (1 << (size - 1)) - 1
    return 0, (1 << size) - 1


def encode_layout(layout: Layout, endian: str, fields: dict[str, Any],
                  port: int | None = None) -> bytes:
    """Fields → payload bytes for one layout: the inverse of decoding.
    Missing fields are written as their ``none`` sentinel (or 0 for bits);
    a missing field without a sentinel, or a value the bytes cannot hold,
    raises ValueError naming the field."""
    end = max(f.at + TYPES[f.type][1] for f in layout.fields)
    buf = bytearray(layout.length or end)
    raws: dict[tuple[int, str, str], int | float] = {}
    for f in layout.fields:
        e = f.endian or endian
        key = (f.at, f.type, e)
        if f.expect is not None:
            raw: int | float = f.expect
        else:
            v = fields.get(f.name)
            if v is None:
                if f.none is not None:
                    raw = f.none
                elif f.bit is not None or f.bits is not None:
                    raw = 0
                else:
                    raise ValueError(f"field {f.name!r} is needed by layout "
                                     f"{layout.name or port}")
            elif f.type.startswith("f"):
                raw = (float(v) - f.offset) / f.scale
            else:
                raw = round((float(v) - f.offset) / f.scale)
        if f.bit is not None or f.bits is not None:
            lo, hi = (f.bit, f.bit) if f.bit is not None else f.bits  # type: ignore[misc]
            width = hi - lo + 1
            r = int(raw)
            if r < 0 or r >= (1 << width):
                raise ValueError(f"field {f.name!r}: {raw} does not fit bits {lo}..{hi}")
            prev = int(raws.get(key, 0))
            raws[key] = prev | (r << lo)
            continue
        if not f.type.startswith("f"):
            lo_, hi_ = _raw_limits(f.type)
            if not (lo_ <= int(raw) <= hi_):
                raise ValueError(f"field {f.name!r}: {fields.get(f.name)!r} does not fit "
                                 f"{f.type} (raw {raw})")
        raws[key] = raw
    for (at, typ, e), raw in raws.items():
        code, size = TYPES[typ]
        if code:
            struct.pack_into((">" if e == "big" else "<") + code, buf, at, raw)
        else:
            buf[at:at + size] = int(raw).to_bytes(size, e, signed=typ.startswith("i"))  # type: ignore[arg-type]
    return bytes(buf)
