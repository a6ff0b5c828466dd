"""Streaming detectors: small classes with ``learn_one`` / ``score_one``.

``DETECTORS`` is the registry (name → class); every class in it passes the
contract suite in ``tests/analytics/test_detector_contract.py``.
"""

from __future__ import annotations

from .base import Detector, Sample
from .baseline import BaselineDetector, NightlyCusum
from .child_tag import LateArrivalDetector, OffRouteDetector, UnusualDwellDetector
from .generic import (
    FlagDetector,
    LowBatteryDetector,
    RangeDetector,
    RateDetector,
    SilenceDetector,
    StuckDetector,
)
from .paddy import HeatRiskDetector, SuddenDropDetector, WaterBandDetector
from .paddy_drift import LevelDriftDetector
from .threshold import Thresholded
from .univariate import UnivariateNovelty
from .water_main import BurstDetector, TransientDetector
from .wearable import FallDetector, InactivityDetector, NotWornDetector, WanderingDetector

DETECTORS: dict[str, type[Detector]] = {c.name: c for c in (
    RangeDetector, RateDetector, StuckDetector, LowBatteryDetector, FlagDetector,
    SilenceDetector, BaselineDetector, NightlyCusum, FallDetector, InactivityDetector,
    NotWornDetector, WanderingDetector, OffRouteDetector, LateArrivalDetector,
    UnusualDwellDetector, WaterBandDetector, HeatRiskDetector, SuddenDropDetector, BurstDetector,
    TransientDetector, UnivariateNovelty, LevelDriftDetector)}

__all__ = [
    "DETECTORS",
    "BaselineDetector",
    "BurstDetector",
    "Detector",
    "FallDetector",
    "FlagDetector",
    "HeatRiskDetector",
    "InactivityDetector",
    "LateArrivalDetector",
    "LevelDriftDetector",
    "LowBatteryDetector",
    "NightlyCusum",
    "NotWornDetector",
    "OffRouteDetector",
    "RangeDetector",
    "RateDetector",
    "Sample",
    "SilenceDetector",
    "StuckDetector",
    "SuddenDropDetector",
    "Thresholded",
    "TransientDetector",
    "UnivariateNovelty",
    "UnusualDwellDetector",
    "WanderingDetector",
    "WaterBandDetector",
]
