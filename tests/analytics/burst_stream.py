"""A district's 5-minute water-main readings for burst tests: the shipped
profile's burst detector, a local-midnight start and a daily demand with a
morning ramp from 8 to 38 m³/h."""

from __future__ import annotations

from analytics.config import detector_specs
from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded
from device_profiles import load_profiles

NS = 1_000_000_000
T0 = 1_781_000_000 * NS - (1_781_000_000 + 9 * 3600) % 86400 * NS   # a local midnight
STEP = 300 * NS


def demand(i: int) -> float:
    """The flow of the ``i``-th reading of the day, m³/h."""
    h = (i * 5 / 60) % 24
    return 8.0 if h < 5 else 8.0 + min(1.0, (h - 5) / 2) * 30.0   # a morning ramp to 38


def burst_detector() -> Thresholded:
    prof = load_profiles()["water_main_v1"]
    return Thresholded(detector_specs("water_main", prof.detectors, 300)["burst"]())


def reading(i: int, flow: float, pressure: float, acoustic: float) -> Sample:
    return Sample(T0 + i * STEP, {"flow_m3h": round(flow, 2), "pressure_mpa": round(pressure, 3),
                                  "acoustic_db": acoustic})
