"""Turning a device's raw values into profile fields, after decoding, with
the device's installation parameters. Declared in a profile's ``derive:``
list; each step reads one raw value (``source``) and writes one field.

* ``linear`` — maps ``in: [a, b]`` onto ``out: [c, d]``; each bound is a
  number or the name of a device parameter. ``valid: [lo, hi]`` rejects raw
  values outside (a 4–20 mA loop reading 1 mA is a broken wire, not zero
  pressure); ``clamp: true`` clips the result to ``out`` instead.
* ``height_minus`` — ``param − source``: a down-looking distance sensor on a
  post turns distance into water depth with its mounting height.

>>> from device_profiles import load_profiles
>>> p = load_profiles()["pressure_4_20ma_v1"]
>>> p.decode(bytes.fromhex("e02e 5a 00"), 10, params={"range_max_mpa": 1.0}).fields
{'battery_pct': 90.0, 'pressure_mpa': 0.5}
>>> p.decode(bytes.fromhex("e803 5a 00"), 10).errors
['current_ma (bytes 0-1): 1.0 mA outside 3.6..21.0 mA (loop broken or transmitter fault)']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from .profile import DecodeResult, Profile

Bound = float | str


class _Step(BaseModel):
    model_config = {"extra": "forbid"}
    kind: str
    source: str
    field: str
    source_unit: str = ""
    source_where: str = ""  # e.g. "bytes 0-1", for error messages
    keep_source: bool = False
    valid: tuple[float, float] | None = None  # raw values outside are errors
    valid_hint: str = ""  # what such a raw value usually means


class Linear(_Step):
    kind: Literal["linear"]
    input: tuple[Bound, Bound]
    output: tuple[Bound, Bound]
    clamp: bool = False


class HeightMinus(_Step):
    kind: Literal["height_minus"]
    param: str
    source_scale: float = 1.0  # e.g. 0.1 for mm → cm


class Derivation:
    def __init__(self, step: _Step, profile: Profile) -> None:
        self.step = step
        self.profile = profile
        if step.field not in profile.fields:
            raise ValueError(f"derive: field {step.field!r} is not in the profile's fields")
        for name in self._param_names():
            if name not in profile.params:
                raise ValueError(f"derive: parameter {name!r} is not declared under params:")

    def _param_names(self) -> list[str]:
        s = self.step
        if isinstance(s, HeightMinus):
            return [s.param]
        return [b for b in (*s.input, *s.output) if isinstance(b, str)]

    def _bound(self, b: Bound, params: dict[str, Any]) -> float:
        return self.profile.param(b, params) if isinstance(b, str) else float(b)

    def _where(self) -> str:
        s = self.step
        return f"{s.source} ({s.source_where})" if s.source_where else s.source

    def apply(self, result: DecodeResult, params: dict[str, Any]) -> None:
        s = self.step
        if s.source not in result.fields:
            return  # this uplink does not carry it
        raw = result.fields[s.source] if s.keep_source else result.fields.pop(s.source)
        try:
            x = float(raw)
        except (TypeError, ValueError):
            result.errors.append(f"{self._where()}: {raw!r} is not a number")
            return
        if s.valid is not None and not (s.valid[0] <= x <= s.valid[1]):
            hint = f" ({s.valid_hint})" if s.valid_hint else ""
            unit = f" {s.source_unit}" if s.source_unit else ""
            result.errors.append(f"{self._where()}: {round(x, 6)}{unit} outside "
                                 f"{s.valid[0]}..{s.valid[1]}{unit}{hint}")
            return
        try:
            if isinstance(s, Linear):
                value = self._linear(s, x, params)
            else:
                value = self._bound(s.param, params) - x * s.source_scale  # type: ignore[attr-defined]
        except ValueError as exc:
            result.errors.append(f"{s.field}: {exc}")
            return
        result.fields[s.field] = round(value, 6)

    def _linear(self, s: Linear, x: float, params: dict[str, Any]) -> float:
        a, b = (self._bound(v, params) for v in s.input)
        c, d = (self._bound(v, params) for v in s.output)
        if a == b:
            raise ValueError("input range is empty")
        y = c + (x - a) * (d - c) / (b - a)
        if s.clamp:
            y = min(max(y, min(c, d)), max(c, d))
        return y


def build_derivations(steps: list[dict[str, Any]], profile: Profile) -> list[Derivation]:
    out = []
    for i, raw in enumerate(steps):
        kind = raw.get("kind")
        model = {"linear": Linear, "height_minus": HeightMinus}.get(kind)  # type: ignore[arg-type]
        if model is None:
            raise ValueError(f"derive[{i}]: unknown kind {kind!r} (linear, height_minus)")
        out.append(Derivation(model.model_validate(raw), profile))
    return out
