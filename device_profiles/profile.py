"""Profile files: loaded, validated with pydantic, and turned into decoders.

>>> profiles = load_profiles()
>>> p = profiles["paddy_json_v1"]
>>> r = p.decode(b'{"level_mm": 45, "temp_c": 24.5, "bat": 88}', fport=None)
>>> r.fields["water_level_cm"], r.errors
(4.5, [])

Some devices need per-device installation parameters (from the registry's
``params``), e.g. an ultrasonic sensor's mounting height:

>>> u = profiles["ultrasonic_paddy_v1"]
>>> u.decode(bytes.fromhex("04b0 00fa 0e10"), 2, params={"mount_height_cm": 125}).fields
{'water_level_cm': 5.0, 'battery_pct': 100.0}
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from mimamori.contracts import Family

PROFILE_DIR = Path(__file__).parent / "profiles"
VECTORS_SUFFIX = ".vectors.yaml"

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


class ParamSpec(BaseModel):
    """A per-device installation parameter (stored in the registry's device
    ``params``), e.g. the mounting height of an ultrasonic sensor."""

    model_config = {"extra": "forbid"}
    unit: str = ""
    default: float | None = None  # None: the device must have it
    min: float | None = None
    max: float | None = None
    description: str = ""


class UplinkSpec(BaseModel):
    """One kind of uplink the device sends: periodic or event-driven."""

    model_config = {"extra": "forbid"}
    fport: int | None = None
    event: bool = False  # sent when something happens, not on a schedule
    confirmed: bool = False  # the device asks for a LoRaWAN ack
    description: str = ""


RAIN_FIELD = "rain_mm"


def measures_rain(fields: Iterable[str]) -> bool:
    """A rain gauge's profile: it measures rain (``rain_mm``), not water in a
    field, though it is stored beside the fields (family ``paddy``).

    >>> measures_rain({"rain_mm", "battery_pct"}), measures_rain({"water_level_cm"})
    (True, False)
    """
    return RAIN_FIELD in fields


class Profile(BaseModel):
    model_config = {"extra": "forbid"}
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    family: Family
    description: str = ""
    vendor: str = "mimamori"  # "mimamori" = our own format; else the device's maker/style
    codec: CodecSpec
    fields: dict[str, FieldSpec]
    # Per-device installation parameters the decoder needs (device params).
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    # Raw values turned into profile fields after decoding (see derive.py).
    derive: list[dict[str, Any]] = Field(default_factory=list)
    # Expected seconds between uplinks; silence is judged against it.
    interval_s: int = Field(gt=0)
    uplinks: dict[str, UplinkSpec] = Field(default_factory=dict)
    measurement: str = Field(pattern=r"^[a-z0-9_]+$")
    # InfluxDB tags written with each point (values come from the reading).
    tags: list[Literal["device_id", "site", "profile"]] = Field(
        default_factory=lambda: ["device_id", "site", "profile"])
    detectors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_ranges(self) -> Profile:
        for name, spec in self.fields.items():
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                raise ValueError(f"field {name}: min {spec.min} > max {spec.max}")
        return self

    def model_post_init(self, __context: Any) -> None:
        from .codecs import build_codec
        from .derive import build_derivations

        object.__setattr__(self, "_derive", build_derivations(self.derive, self))
        object.__setattr__(self, "_codec", build_codec(self.codec, self))

    @property
    def is_rain_gauge(self) -> bool:
        return measures_rain(self.fields)

    @property
    def event_fports(self) -> set[int]:
        """FPorts whose uplinks are event-driven (not part of the schedule
        that silence detection counts on).

        >>> sorted(load_profiles()["wearable_v1"].event_fports)
        [2, 3]
        """
        return {u.fport for u in self.uplinks.values() if u.event and u.fport is not None}

    def uplink(self, fport: int | None) -> UplinkSpec | None:
        """The declared uplink kind on this FPort, if any."""
        return next((u for u in self.uplinks.values() if u.fport == fport), None)

    def decode(self, payload: bytes, fport: int | None = None,
               params: dict[str, Any] | None = None) -> DecodeResult:
        """Decode and validate; never raises. ``params`` are the device's
        installation parameters (registry ``params``)."""
        try:
            result = self._codec.decode(payload, fport)  # type: ignore[attr-defined]
            if result.errors:
                return result
            if self._derive:  # type: ignore[attr-defined]
                self._apply_derive(result, params or {})
                if result.errors:
                    return result
            if not getattr(self._codec, "validated", False) or self._derive:  # type: ignore[attr-defined]
                self.validate_fields(result)
        except Exception as exc:  # a codec bug must not reach the pipeline
            return DecodeResult(errors=[f"codec {self.codec.kind} failed: {exc!r}"])
        return result

    def encode(self, fields: dict[str, Any], fport: int | None = None, **kw: Any) -> bytes:
        """Fields → payload, for codecs that can (binary, json): what a
        device would send. Simulators use it. Raises ValueError (or
        NotImplementedError for codecs that only decode)."""
        enc = getattr(self._codec, "encode", None)  # type: ignore[attr-defined]
        if enc is None or self._derive:  # type: ignore[attr-defined]
            raise NotImplementedError(f"profile {self.id} ({self.codec.kind}) only decodes")
        return enc(fields, fport, **kw)

    def _apply_derive(self, result: DecodeResult, params: dict[str, Any]) -> None:
        for d in self._derive:  # type: ignore[attr-defined]
            d.apply(result, params)

    def param(self, name: str, params: dict[str, Any]) -> float:
        """A device parameter as a number, or the profile default; raises
        ValueError with a message naming it."""
        spec = self.params.get(name)
        value = params.get(name, spec.default if spec else None)
        if value is None:
            raise ValueError(f"device parameter {name!r} is not set (profile {self.id} needs it"
                             + (f": {spec.description}" if spec and spec.description else "")
                             + ")")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"device parameter {name!r}={value!r} is not a number") from None
        if spec is not None and ((spec.min is not None and v < spec.min)
                                 or (spec.max is not None and v > spec.max)):
            raise ValueError(f"device parameter {name!r}={v} outside {spec.min}..{spec.max}")
        return v

    def validate_fields(self, result: DecodeResult) -> None:
        """Coerce to the declared types and check valid ranges (in place)."""
        for name, value in list(result.fields.items()):
            spec = self.fields.get(name)
            if spec is None:
                result.errors.append(f"field {name!r} is not in profile {self.id}")
                continue
            try:
                value = _coerce(value, spec.type)
            except (TypeError, ValueError, OverflowError):
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
    if isinstance(doc, dict) and isinstance(doc.get("codec"), dict):
        doc["codec"].setdefault("base_dir", str(path.parent))
    try:
        return Profile.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path.name}: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise ProfileError(f"{path.name}: {exc}") from None


def profile_files(*dirs: Path) -> list[Path]:
    return [p for d in (PROFILE_DIR, *dirs) for p in sorted(Path(d).glob("*.yaml"))
            if not p.name.endswith(VECTORS_SUFFIX)]


def load_profiles(*dirs: Path) -> dict[str, Profile]:
    """All profiles in the shipped folder (and any extra folders)."""
    profiles: dict[str, Profile] = {}
    for path in profile_files(*dirs):
        p = load_profile(path)
        if p.id in profiles:
            raise ProfileError(f"{path.name}: duplicate profile id {p.id!r}")
        profiles[p.id] = p
    return profiles
