"""From a device profile's ``detectors:`` dict to detector instances.

Each family has defaults (``FAMILY_DEFAULTS``, DOMAIN.md numbers); the
profile's ``detectors:`` entries override their parameters key by key, and
``false`` switches one off. The keys are the ones the device profiles use
(``sos``, ``fall``, ``stage_band``, ``burst`` …); :data:`BUILDERS` turns
one key and its parameters into ``(instance name, factory)`` pairs. Keys we
do not (yet) implement are reported by :func:`unknown_keys` and ignored.

>>> specs = detector_specs("paddy", {"sudden_drop": {"rate_mm_per_h": 5}}, 600)
>>> sorted(specs)  # doctest: +NORMALIZE_WHITESPACE
['drift_level', 'heat_risk', 'low_battery', 'silence', 'stuck_water_level_cm', 'sudden_drop', 'water_high', 'water_low']
>>> specs["sudden_drop"]().max_drop
0.5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mimamori.contracts import EventKind

from .detectors import (
    BaselineDetector,
    BurstDetector,
    FallDetector,
    FlagDetector,
    HeatRiskDetector,
    InactivityDetector,
    LateArrivalDetector,
    LevelDriftDetector,
    LowBatteryDetector,
    NightlyCusum,
    NotWornDetector,
    OffRouteDetector,
    RangeDetector,
    SilenceDetector,
    StuckDetector,
    SuddenDropDetector,
    TransientDetector,
    UnusualDwellDetector,
    WanderingDetector,
    WaterBandDetector,
)
from .detectors.base import Detector

Factory = Callable[[], Detector]

FAMILY_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "wearable": {"sos": {}, "fall": {}, "inactivity": {}, "heart_rate": {}, "spo2": {},
                 "not_worn": {}, "wandering": {}, "silence": {}, "low_battery": {}},
    "child_tag": {"sos": {}, "route": {}, "arrival": {}, "dwell": {}, "silence": {},
                  "low_battery": {}},
    "paddy": {"stage_band": {}, "overflow": {}, "sudden_drop": {}, "stuck": {}, "heat": {},
              "drift": {}, "silence": {}, "low_battery": {}},
    "water_main": {"range": {"pressure_mpa": {"low": 0.15, "high": 0.74, "hysteresis": 0.01}},
                   "burst": {}, "transient": {}, "leak": {}, "leak_acoustic": {},
                   "drift": {}, "stuck": {}, "silence": {}, "low_battery": {}},
    "generic": {"silence": {}, "low_battery": {}},
}

# fields a family's "stuck" check watches
STUCK_FIELDS = {"paddy": ("water_level_cm",), "water_main": ("pressure_mpa", "flow_m3h")}
RANGE_KINDS = {"heart_rate_bpm": EventKind.HEART_RATE_ABNORMAL, "spo2_pct": EventKind.SPO2_LOW,
               "pressure_mpa": EventKind.PRESSURE_OUT_OF_RANGE}
# persistence before a range finding opens (DOMAIN.md §5.4)
RANGE_MIN_DURATION = {"heart_rate_bpm": 2, "spo2_pct": 2, "pressure_mpa": 2}


def _hours(text: str) -> float:
    h, m = str(text).split(":")[:2]
    return int(h) + int(m) / 60


def _range(family: str, p: dict[str, Any], interval_s: int) -> list[tuple[str, Factory]]:
    out = []
    for fld, band in p.items():
        if not isinstance(band, dict):
            continue
        # a paddy's fixed band applies only while the field has no crop calendar
        # registered; with one, the crop-stage band gives water_low / water_high
        unless = "transplant" if family == "paddy" and fld == "water_level_cm" else None
        out.append((f"range_{fld}", lambda fld=fld, band=band, unless=unless: RangeDetector(
            fld, band.get("low"), band.get("high"), float(band.get("hysteresis", 0.0)),
            min_duration=int(band.get("min_duration", RANGE_MIN_DURATION.get(fld, 1))),
            kind=RANGE_KINDS.get(fld, EventKind.OUT_OF_RANGE), unless_ctx=unless)))
    return out


def _one(name: str, make: Factory) -> list[tuple[str, Factory]]:
    return [(name, make)]


def _silence(family: str, p: dict[str, Any], interval_s: int) -> list[tuple[str, Factory]]:
    # the profile's "intervals" is a ceiling: we alarm by 1.5 learned intervals
    factor = min(1.5, float(p.get("intervals", 1.5)))
    default = max(float(interval_s), float(p.get("still_interval_s", 0)))
    return _one("silence", lambda: SilenceDetector(default_interval_s=default, factor=factor))


def _stuck(family: str, p: dict[str, Any], interval_s: int) -> list[tuple[str, Factory]]:
    repeats = max(6, math.ceil(float(p.get("min_hours", 2.0)) * 3600 / interval_s))
    repeats = min(repeats, 12) if p.get("min_hours") is None else repeats
    return [(f"stuck_{f}", lambda f=f: StuckDetector(f, min_repeats=repeats))
            for f in STUCK_FIELDS.get(family, ())]


def _inactivity(family, p, interval_s):
    wake, bed = (p.get("daytime") or ("07:00", "21:00"))[:2]

    def make() -> Detector:
        d = InactivityDetector(hours=float(p.get("floor_h", 3.0)))
        d.profile.default = (_hours(wake), _hours(bed))
        return d
    return _one("inactivity", make)


def _wandering(family, p, interval_s):
    night = p.get("night") or ("22:00", "05:00")

    def make() -> Detector:
        d = WanderingDetector(safe_radius_m=float(p.get("min_radius_m", 50.0)))
        d.profile.default = (_hours(night[1]), _hours(night[0]))
        d.min_duration = int(p.get("confirm_fixes", 2))
        return d
    return _one("wandering", make)


BUILDERS: dict[str, Callable[[str, dict[str, Any], int], list[tuple[str, Factory]]]] = {
    "range": _range,
    "silence": _silence,
    "stuck": _stuck,
    "low_battery": lambda f, p, i: _one("low_battery", lambda: LowBatteryDetector(
        low=float(p.get("below_pct", 15.0)))),
    "sos": lambda f, p, i: _one("sos", lambda: FlagDetector("sos")),
    "fall": lambda f, p, i: _one("fall", lambda: FallDetector(
        min_confidence=float(p.get("min_confidence", 0.0)),
        still_falls=bool(p.get("unflagged", True)))),
    "inactivity": _inactivity,
    "heart_rate": lambda f, p, i: _one("heart_rate", lambda: BaselineDetector(
        "heart_rate_bpm", z_alarm=float(p.get("robust_z", 4.0)), guard_low=50.0,
        guard_high=120.0, hard_low=40.0, hard_high=130.0,
        min_duration=int(p.get("consecutive", 2)),
        kind=EventKind.HEART_RATE_ABNORMAL)),
    "spo2": lambda f, p, i: _one("spo2", lambda: BaselineDetector(
        "spo2_pct", z_alarm=float(p.get("robust_z", 3.0)), guard_low=float(p.get("below", 91)),
        hard_low=90.0,
        buckets=1, min_duration=int(p.get("consecutive", 2)), kind=EventKind.SPO2_LOW)),
    "not_worn": lambda f, p, i: _one("not_worn", lambda: NotWornDetector(
        hours=float(p.get("after_h", 3.0)))),
    "wandering": _wandering,
    "route": lambda f, p, i: _one("off_route", lambda: _with(OffRouteDetector(
        corridor_m=float(p.get("corridor_m", 100.0)),
        max_accuracy_m=float(p.get("max_accuracy_m", 60.0))),
        min_duration=int(p.get("confirm_fixes", 2)))),
    "arrival": lambda f, p, i: _one("late_arrival", lambda: LateArrivalDetector(
        grace_s=60 * float(p.get("late_after_min", 5)))),
    "dwell": lambda f, p, i: _one("unusual_dwell", lambda: UnusualDwellDetector(
        min_s=60 * float(p.get("outside_known_min", 10)))),
    "stage_band": lambda f, p, i: _one("water_low", lambda: WaterBandDetector(
        "low", low_hours=float(p.get("low_hours", 15.0)))),
    "overflow": lambda f, p, i: _one("water_high", lambda: WaterBandDetector(
        "high", high_margin_cm=float(p.get("margin_cm", 1.5)),
        high_hours=float(p.get("hours", 10.0)))),
    "sudden_drop": lambda f, p, i: _one("sudden_drop", lambda: SuddenDropDetector(
        "water_level_cm", max_drop_per_h=float(p.get("rate_mm_per_h", 5.0)) / 10,
        window_s=7200, min_points=max(4, 5400 // i),
        min_duration=max(1, min(3, math.ceil(float(p.get("min_duration_h", 0.5)) * 3600 / i))))),
    "heat": lambda f, p, i: _one("heat_risk", lambda: HeatRiskDetector(
        mean_c=float(p.get("water_mean_c", 30.0)), days=int(p.get("days", 3)))),
    # the burst detector learns the node's pressure-flow curve; profile keys
    # flow_step (share of the mean flow) and residual_drop_mpa tune it; a valve
    # offset an hour of quiet readings refuses is dropped
    "burst": lambda f, p, i: _one("burst", lambda: BurstDetector(
        flow_step=float(p.get("flow_step", 0.2)),
        pressure_drop=float(p.get("residual_drop_mpa", 0.015)),
        doubt_readings=max(3, round(3600 / i)))),
    "transient": lambda f, p, i: _one("transient", lambda: TransientDetector(
        min_jump_mpa=float(p.get("min_jump_mpa", 0.1)))),
    "leak": lambda f, p, i: _one("leak_night_flow", lambda: NightlyCusum(
        "flow_m3h", *[_hours(t) for t in (p.get("night") or ("02:00", "04:00"))[:2]],
        direction="up", warmup_nights=int(p.get("baseline_nights", 4)), kind=EventKind.LEAK,
        robust_warmup=True, score_after=3, forgive_spike=True,
        cap=10.0, rel_sd_floor=0.03, rewarm_drop=0.1, rise_clip=6.0)),
    "leak_acoustic": lambda f, p, i: _one("leak_acoustic", lambda: BaselineDetector(
        "acoustic_db", z_alarm=float(p.get("z", 3.0)), buckets=1, alpha=0.005,
        min_dev=0.5, min_duration=max(1, int(float(p.get("hours", 9.0)) * 3600 / i)),
        kind=EventKind.LEAK, up_only=True)),
    "drift": lambda f, p, i: _drift(f, p, i),
}


def _drift(family: str, p: dict[str, Any], interval_s: int) -> list[tuple[str, Factory]]:
    if family == "water_main":
        return _one("drift_pressure", lambda: NightlyCusum(
            "pressure_mpa", 2.0, 4.0, direction="both", abs_sd_floor=0.002, rel_sd_floor=0.0,
            kind=EventKind.SENSOR_DRIFT, severity="info"))
    if family == "paddy":   # fills that stop away from the stage target, water above the weir
        return _one("drift_level", lambda: LevelDriftDetector(
            offset_cm=float(p.get("offset_cm", 0.8))))
    return []


def _with(det: Detector, **attrs: Any) -> Detector:
    for k, v in attrs.items():
        setattr(det, k, v)
    return det


def merged(family: str, profile_detectors: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in FAMILY_DEFAULTS.get(family, FAMILY_DEFAULTS["generic"]).items()}
    for key, params in (profile_detectors or {}).items():
        if params is False or params is None:
            out.pop(key, None)
        elif isinstance(params, dict):
            out[key] = {**out.get(key, {}), **params}
    return out


def unknown_keys(family: str, profile_detectors: dict[str, Any] | None) -> list[str]:
    return sorted(k for k in merged(family, profile_detectors) if k not in BUILDERS)


def detector_specs(family: str, profile_detectors: dict[str, Any] | None,
                   interval_s: int = 600) -> dict[str, Factory]:
    """Instance name → factory, for one (family, profile) pair."""
    specs: dict[str, Factory] = {}
    for key, params in merged(family, profile_detectors).items():
        build = BUILDERS.get(key)
        if build is not None:
            specs.update(build(family, params, interval_s))
    return specs
