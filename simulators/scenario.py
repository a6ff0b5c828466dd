"""Scenario files (YAML), validated with pydantic when loaded.

A scenario says which devices exist (groups per family: how many, where,
which transport and profile), the seed, the time span, offline or live, and
which anomalies to inject — at given times, or at random rates per device
and day. Times are ISO 8601 (JST when no zone is given) or offsets from the
start (``90s``, ``15m``, ``2h``, ``3d``).

>>> s = Scenario.model_validate({"seed": 1, "start": "2026-06-01T00:00:00",
...     "duration": "1d", "groups": [{"family": "paddy", "count": 2}]})
>>> [d.device_id for d in s.device_specs()]
['paddy-0001', 'paddy-0002']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mimamori.contracts import Family

from .child_tag import ChildTag
from .geo import SCHOOLS
from .model import DeviceModel
from .paddy import PaddyModel
from .rain_gauge import RainGauge
from .timebase import NS, parse_duration, parse_time
from .water_main import WaterMain
from .wearable import Wearable

MODELS: dict[Family, type[DeviceModel]] = {
    Family.WEARABLE: Wearable,
    Family.CHILD_TAG: ChildTag,
    Family.PADDY: PaddyModel,
    Family.WATER_MAIN: WaterMain,
}
# Devices of a family that are not its default model, chosen by their profile.
PROFILE_MODELS: dict[str, type[DeviceModel]] = {p: RainGauge for p in RainGauge.PROFILES}
PREFIX = {Family.WEARABLE: "wearable", Family.CHILD_TAG: "childtag", Family.PADDY: "paddy",
          Family.WATER_MAIN: "watermain"}
DEFAULT_ZONE = {Family.WEARABLE: "tamaru", Family.CHILD_TAG: "tamaru",
                Family.PADDY: "paddy_belt", Family.WATER_MAIN: "east"}
TRANSPORTS = ("none", "mqtt_json", "mqtt_binary", "lorawan", "http")
SCHOOL_IDS = sorted(SCHOOLS)
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def model_class(family: Family, profile: str | None = None) -> type[DeviceModel]:
    """The simulator of a device: its profile's own model (e.g. a rain gauge
    in the paddy family), else its family's.

    >>> model_class(Family.PADDY).__name__, model_class(Family.PADDY, "rain_gauge_v1").__name__
    ('PaddyModel', 'RainGauge')
    """
    cls = PROFILE_MODELS.get(profile or "")
    if cls is not None and cls.family is family:
        return cls
    return MODELS[family]


def default_profile(family: Family, transport: str) -> str:
    """JSON transports use the ``*_json_v1`` profiles, radio/binary ones the
    compact binary ``*_v1`` profiles (the brief's shared vocabulary)."""
    if transport in ("mqtt_json", "http"):
        return f"{family.value}_json_v1"
    return f"{family.value}_v1"


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: Family
    count: int = Field(ge=0, le=1_000_000)
    id_prefix: str | None = None
    zone: str | None = None
    transport: Literal["none", "mqtt_json", "mqtt_binary", "lorawan", "http"] = "mqtt_json"
    profile: str | None = None
    interval_s: int | None = Field(None, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    # anomalies at random: expected occurrences per device per day
    rates: dict[str, float] = Field(default_factory=dict)

    @field_validator("family")
    @classmethod
    def _family(cls, v: Family) -> Family:
        if v not in MODELS:
            raise ValueError(f"no simulator for family {v.value!r}")
        return v

    @model_validator(mode="after")
    def _check(self) -> Group:
        from .geo import ZONES

        if self.id_prefix is not None and not _ID.match(self.id_prefix):
            raise ValueError("id_prefix may hold letters, digits, '-' and '_' only")
        if self.zone is not None and self.zone not in ZONES:
            raise ValueError(f"unknown zone {self.zone!r}; zones: {', '.join(ZONES)}")
        known = model_class(self.family, self.profile).ANOMALIES
        for kind, rate in self.rates.items():
            if kind not in known:
                raise ValueError(f"{self.family.value} has no anomaly {kind!r}; "
                                 f"known: {', '.join(sorted(known))}")
            if rate < 0:
                raise ValueError(f"rate of {kind} must be ≥ 0")
        return self

    @property
    def rain_gauge(self) -> bool:
        return model_class(self.family, self.profile) is RainGauge

    @property
    def prefix(self) -> str:
        return self.id_prefix or ("raingauge" if self.rain_gauge else PREFIX[self.family])


class Anomaly(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str
    kind: str
    at: str  # ISO time or offset from the start
    duration: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("at", "duration", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return None if v is None else str(v)


class DeviceSpec(BaseModel):
    """One device, derived from its group (not written in scenario files)."""

    device_id: str
    family: Family
    index: int  # 1-based within its group
    group: int
    site: str
    transport: str
    profile: str
    interval_s: int | None
    params: dict[str, Any]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "scenario"
    description: str = ""
    seed: int = 1
    start: str = "2026-06-01T00:00:00+09:00"
    duration: str = "1d"
    mode: Literal["offline", "live"] = "offline"
    # live: simulated seconds per real second (1 = real time)
    time_scale: float = Field(1.0, gt=0, le=100000)
    holidays: list[str] = Field(default_factory=list)
    dry_weather: bool = False
    # offline: readings are written a chunk of simulated time at a time
    chunk: str = "1d"
    # evaluation: a label that begins in the last ``run_out`` of the run is not
    # scored (counted apart as ``run_out``): the run ends before a detector that
    # needs days of data (a night-flow trend, a drifting probe) could judge it
    run_out: str = "0s"
    groups: list[Group] = Field(default_factory=list)
    anomalies: list[Anomaly] = Field(default_factory=list)

    @field_validator("start", "duration", "chunk", "run_out", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if not isinstance(v, str) else v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        try:
            parse_time(self.start)
        except ValueError:
            raise ValueError(f"start {self.start!r} is not an ISO 8601 time") from None
        if self.duration_s <= 0:
            raise ValueError("duration must be positive")
        parse_duration(self.chunk)
        if not 0 <= parse_duration(self.run_out) < self.duration_s:
            raise ValueError(f"run_out {self.run_out!r} must be shorter than the duration")
        for h in self.holidays:
            from datetime import date

            date.fromisoformat(h)
        prefixes = [g.prefix for g in self.groups]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("two groups share an id_prefix; give each its own")
        specs = {d.device_id: d for d in self.device_specs()}
        for a in self.anomalies:
            d = specs.get(a.device)
            if d is None:
                raise ValueError(f"anomaly for unknown device {a.device!r}")
            known = model_class(d.family, d.profile).ANOMALIES
            if a.kind not in known:
                raise ValueError(f"{d.family.value} device {a.device} has no anomaly "
                                 f"{a.kind!r}; known: {', '.join(sorted(known))}")
            self.time_ns(a.at)
            if a.duration is not None:
                parse_duration(a.duration)
        return self

    # -- derived -----------------------------------------------------------------
    @property
    def start_ns(self) -> int:
        return parse_time(self.start)

    @property
    def duration_s(self) -> int:
        return parse_duration(self.duration)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.duration_s * NS

    def time_ns(self, text: str) -> int:
        """An anomaly time: an offset from the start, else an ISO time."""
        try:
            return self.start_ns + parse_duration(text) * NS
        except ValueError:
            return parse_time(text)

    def holiday_days(self) -> list[int]:
        from datetime import date

        return [(date.fromisoformat(h) - date(1970, 1, 1)).days for h in self.holidays]

    def device_specs(self) -> list[DeviceSpec]:
        out = []
        for gi, g in enumerate(self.groups):
            for i in range(1, g.count + 1):
                dev = f"{g.prefix}-{i:04d}"
                if g.family is Family.WEARABLE:
                    site = f"hh-{dev}"
                elif g.family is Family.CHILD_TAG:
                    site = g.params.get("school") or SCHOOL_IDS[(i - 1) % len(SCHOOL_IDS)]
                elif g.family is Family.PADDY:
                    # a rain gauge stands at the edge of a field (params.site), else its own plot
                    site = (g.params.get("site") if g.rain_gauge else None) or f"field-{dev}"
                else:
                    site = f"district-{dev}"
                params = {"zone": g.zone or DEFAULT_ZONE[g.family], **g.params}
                if g.family is Family.CHILD_TAG:
                    params["school"] = site
                out.append(DeviceSpec(device_id=dev, family=g.family, index=i, group=gi,
                                      site=site, transport=g.transport,
                                      profile=g.profile or default_profile(g.family, g.transport),
                                      interval_s=g.interval_s, params=params))
        return out


class ScenarioError(Exception):
    """A scenario file cannot be used; the message is one plain line."""


def load_scenario(path: Path | str, **overrides: Any) -> Scenario:
    from pydantic import ValidationError

    p = Path(path)
    if not p.exists():
        builtin = Path(__file__).parent / "scenarios" / f"{path}.yaml"
        if builtin.exists():
            p = builtin
        else:
            raise ScenarioError(f"scenario file {path} does not exist")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML ({exc})") from None
    doc.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Scenario.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ScenarioError(f"{p}: invalid at {where}: {first['msg']}") from None
