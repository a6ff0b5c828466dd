"""The shared contracts of DESIGN.md, defined once.

* :class:`Reading` — one canonical reading. ``ts_ns`` is integer nanoseconds
  UTC, set once by the gateway (device time, else network-server receive time,
  else gateway receive time) and never changed downstream: InfluxDB overwrites
  a point with the same series and timestamp, so re-stamping loses readings.
* Batch envelope — one bus message carries ``{"v": 1, "readings": [...]}``.
* :func:`partition` — stable hash of the device id modulo the partition count.
* :class:`Finding` — what analytics concluded (opened / updated / cleared).
* :class:`EventKind` — the one enumeration shared by simulators, analytics
  and alerts.

>>> r = Reading("paddy-001", "paddy_json_v1", Family.PADDY, "field-01",
...             1_700_000_000_123_456_789, {"water_level_cm": 4.5})
>>> decode_envelope(encode_envelope([r]))[0] == r
True
>>> partition("paddy-001", 16) == partition("paddy-001", 16)
True
"""

from __future__ import annotations

import enum
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

ENVELOPE_VERSION = 1

FieldValue = float | int | bool | str


class Family(str, enum.Enum):
    WEARABLE = "wearable"
    CHILD_TAG = "child_tag"
    PADDY = "paddy"
    WATER_MAIN = "water_main"
    GENERIC = "generic"


class EventKind(str, enum.Enum):
    FALL = "fall"
    SOS = "sos"
    INACTIVITY = "inactivity"
    HEART_RATE_ABNORMAL = "heart_rate_abnormal"
    SPO2_LOW = "spo2_low"
    WANDERING = "wandering"
    NOT_WORN = "not_worn"
    OFF_ROUTE = "off_route"
    LATE_ARRIVAL = "late_arrival"
    UNUSUAL_DWELL = "unusual_dwell"
    WATER_LOW = "water_low"
    WATER_HIGH = "water_high"
    SUDDEN_DROP = "sudden_drop"
    HEAT_RISK = "heat_risk"
    BURST = "burst"
    LEAK = "leak"
    PRESSURE_OUT_OF_RANGE = "pressure_out_of_range"
    PRESSURE_TRANSIENT = "pressure_transient"
    SENSOR_STUCK = "sensor_stuck"
    SENSOR_DRIFT = "sensor_drift"
    DEVICE_SILENT = "device_silent"
    LOW_BATTERY = "low_battery"
    GATEWAY_OFFLINE = "gateway_offline"
    # A value outside its profile's valid range that still passed decoding.
    OUT_OF_RANGE = "out_of_range"
    # A generic univariate anomaly (the NAB-grade streaming detector).
    ANOMALY = "anomaly"


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class FindingState(str, enum.Enum):
    OPENED = "opened"
    UPDATED = "updated"
    CLEARED = "cleared"


class ContractError(ValueError):
    """A message does not follow a shared contract; the text says why."""


def now_ns() -> int:
    return time.time_ns()


def partition(device_id: str, partitions: int) -> int:
    """Stable partition of a device (same in every process and on every host)."""
    return zlib.crc32(device_id.encode("utf-8")) % partitions


@dataclass(slots=True)
class Reading:
    device_id: str
    profile: str
    family: Family
    site: str
    ts_ns: int
    fields: dict[str, FieldValue]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "device_id": self.device_id,
            "profile": self.profile,
            "family": self.family.value,
            "site": self.site,
            "ts_ns": self.ts_ns,
            "fields": self.fields,
        }
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Reading:
        if not isinstance(d, dict):
            raise ContractError("a reading must be a JSON object")
        try:
            device_id = d["device_id"]
            ts_ns = d["ts_ns"]
            fields = d["fields"]
            family = Family(d["family"])
        except KeyError as exc:
            raise ContractError(f"reading lacks {exc.args[0]!r}") from None
        except ValueError:
            raise ContractError(f"unknown family {d.get('family')!r}") from None
        if not isinstance(device_id, str) or not device_id:
            raise ContractError("device_id must be a non-empty string")
        if type(ts_ns) is not int or ts_ns <= 0:
            raise ContractError("ts_ns must be a positive integer (nanoseconds UTC)")
        if not isinstance(fields, dict) or not fields:
            raise ContractError("fields must be a non-empty object")
        for k, v in fields.items():
            if not isinstance(v, (int, float, bool, str)):
                raise ContractError(f"field {k!r} must be a number, bool or string")
        return cls(
            device_id,
            str(d.get("profile", "")),
            family,
            str(d.get("site", "")),
            ts_ns,
            fields,
            d.get("meta") or {},
        )


def encode_envelope(readings: list[Reading]) -> bytes:
    return orjson.dumps({"v": ENVELOPE_VERSION, "readings": [r.to_dict() for r in readings]})


def decode_envelope(payload: bytes) -> list[Reading]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"envelope is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != ENVELOPE_VERSION:
        raise ContractError(f"envelope version must be {ENVELOPE_VERSION}")
    items = doc.get("readings")
    if not isinstance(items, list):
        raise ContractError("envelope lacks a readings list")
    return [Reading.from_dict(x) for x in items]


@dataclass(slots=True)
class Finding:
    device_id: str
    kind: EventKind
    severity: Severity
    state: FindingState
    ts_ns: int
    site: str = ""
    profile: str = ""
    family: Family = Family.GENERIC
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "kind": self.kind.value,
            "severity": self.severity.value,
            "state": self.state.value,
            "ts_ns": self.ts_ns,
            "site": self.site,
            "profile": self.profile,
            "family": self.family.value,
            "evidence": self.evidence,
        }

    def encode(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Any) -> Finding:
        if not isinstance(d, dict):
            raise ContractError("a finding must be a JSON object")
        try:
            return cls(
                device_id=str(d["device_id"]),
                kind=EventKind(d["kind"]),
                severity=Severity(d["severity"]),
                state=FindingState(d["state"]),
                ts_ns=int(d["ts_ns"]),
                site=str(d.get("site", "")),
                profile=str(d.get("profile", "")),
                family=Family(d.get("family", "generic")),
                evidence=dict(d.get("evidence") or {}),
            )
        except KeyError as exc:
            raise ContractError(f"finding lacks {exc.args[0]!r}") from None
        except (ValueError, TypeError) as exc:
            raise ContractError(f"invalid finding: {exc}") from None

    @classmethod
    def decode(cls, payload: bytes) -> Finding:
        try:
            return cls.from_dict(orjson.loads(payload))
        except orjson.JSONDecodeError as exc:
            raise ContractError(f"finding is not JSON: {exc}") from None
