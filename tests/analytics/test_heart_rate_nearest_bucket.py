"""Bradycardia outside the guard rails, at an hour whose bucket one night
walk made wide: the z against the person's nearest normal state counts."""

from __future__ import annotations

from analytics.config import detector_specs
from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded

NS = 1_000_000_000
H = 3600 * NS
DAY0 = 1_780_239_600 * NS       # 2026-06-01 00:00 JST


def _heart_rate() -> Thresholded:
    make = dict(detector_specs("wearable", {}, 600))["heart_rate"]
    return Thresholded(make())


def _days(sleep_bpm: float, walk_night: bool) -> list[Sample]:
    out = []
    for day in range(4):
        for i in range(144):                      # every 10 minutes
            ts = DAY0 + day * 24 * H + i * 600 * NS
            h = i / 6
            night = h < 6 or h >= 22
            hr = (sleep_bpm if night else 72.0) + (i % 3) - 1
            if walk_night and day == 1 and 3 <= h < 4:
                # out walking at 03:00 (a GPS cadence of 2 minutes): 30 readings at ~87 bpm
                for k in range(5):
                    out.append(Sample(ts + k * 120 * NS, {"heart_rate_bpm": 87 + (k % 3) - 1}))
                continue
            out.append(Sample(ts, {"heart_rate_bpm": hr}))
    return out


def _opened_on_brady(sleep_bpm: float, walk_night: bool, brady: tuple[int, ...]) -> bool:
    w = _heart_rate()
    for x in _days(sleep_bpm, walk_night):
        w.step(x)
    t = DAY0 + 4 * 24 * H + 3 * H + 5 * 60 * NS   # day 4, 03:05
    out = [w.step(Sample(t + k * 600 * NS, {"heart_rate_bpm": v})) for k, v in enumerate(brady)]
    return "opened" in out


def test_bradycardia_at_an_hour_a_night_walk_made_wide_is_found():
    # seed 31337 wearable-0009: 41 bpm at 03:00 against 79 ± 11 (z ≈ −3.3) went unseen
    assert _opened_on_brady(66.0, True, (41, 41, 40, 41))


def test_a_person_who_sleeps_at_45_is_not_alarmed_at_43():
    assert not _opened_on_brady(45.0, True, (43, 44, 43, 44))
