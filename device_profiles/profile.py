"""Profile files: loaded, validated with pydantic, and turned into decoders.

>>> profiles = load_profiles()
>>> p = profiles["paddy_json_v1"]
>>> r = p.decode(b'{"level_mm": 45, "temp_c": 24.5, "bat": 88}', fport=None)
>>> r.fields["water_level_cm"], r.errors
(4.5, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from mimamori.contracts import Family

PROFILE_DIR = Path(__file__).parent / "profiles"

FieldType = Literal["float", "int", "bool", "str"]


class ProfileError(Exception):
    """A profile file is invalid; the message names the file and the problem."""


@dataclass(slots=True)
class DecodeResult:
    """What a codec returns: fields, errors (never raised), and the device's
    own timestamp if the payload carried one."""

    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ts_ns: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.fields)


class FieldSpec(BaseModel):
    model_config = {"extra": "forbid"}
    unit: str = ""
    type: FieldType = "float"
    min: float | None = None
    max: float | None = None
    description: str = ""


class CodecSpec(BaseModel):
    model_config = {"extra": "allow"}
    kind: str


class Profile(BaseModel):
    model_config = {"extra": "forbid"}
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    family: Family
    description: str = ""
    codec: CodecSpec
    fields: dict[str, FieldSpec]
    # Expected seconds between uplinks; silence is judged against it.
    interval_s: int = Field(gt=0)
    measurement: str = Field(pattern=r"^[a-z0-9_]+$")
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_ranges(self) -> Profile:
        for name, spec in self.fields.items():
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                raise ValueError(f"field {name}: min {spec.min} > max {spec.max}")
        return self

    def model_post_init(self, __context: Any) -> None:
        from .codecs import build_codec

        object.__setattr__(self, "_codec", build_codec(self.codec, self))

    def decode(self, payload: bytes, fport: int | None = None) -> DecodeResult:
        """Decode and validate; never raises."""
        try:
            result = self._codec.decode(payload, fport)  # type: ignore[attr-defined]
        except Exception as exc:  # a codec bug must not reach the pipeline
            return DecodeResult(errors=[f"codec {self.codec.kind} failed: {exc!r}"])
        if not result.errors:
            self.validate_fields(result)
        return result

    def validate_fields(self, result: DecodeResult) -> None:
        """Coerce to the declared types and check valid ranges (in place)."""
        for name, value in list(result.fields.items()):
            spec = self.fields.get(name)
            if spec is None:
                result.errors.append(f"field {name!r} is not in profile {self.id}")
                continue
            try:
                value = _coerce(value, spec.type)
            except (TypeError, ValueError):
                result.errors.append(f"field {name!r}: {value!r} is not {spec.type}")
                continue
            if spec.type in ("float", "int"):
                if isinstance(value, float) and not math.isfinite(value):
                    result.errors.append(f"field {name!r}: {value} is not a finite number")
                    continue
                if (spec.min is not None and value < spec.min) or (
                    spec.max is not None and value > spec.max
                ):
                    result.errors.append(
                        f"field {name!r}: {value} {spec.unit} outside valid range "
                        f"{spec.min}..{spec.max}"
                    )
                    continue
            result.fields[name] = value


def _coerce(value: Any, kind: str) -> Any:
    if kind == "float":
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError
        return int(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise TypeError
    if not isinstance(value, str):
        raise TypeError
    return value


def load_profile(path: Path) -> Profile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path.name}: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise ProfileError(f"{path.name}: {exc}") from None


def load_profiles(*dirs: Path) -> dict[str, Profile]:
    """All profiles in the shipped folder (and any extra folders)."""
    profiles: dict[str, Profile] = {}
    for d in (PROFILE_DIR, *dirs):
        for path in sorted(Path(d).glob("*.yaml")):
            p = load_profile(path)
            if p.id in profiles:
                raise ProfileError(f"{path.name}: duplicate profile id {p.id!r}")
            profiles[p.id] = p
    return profiles
