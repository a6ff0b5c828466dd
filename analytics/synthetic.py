"""Plausible synthetic readings per family for benchmarks and smoke tests
(not ground truth: the simulators own that). Seeded and pure."""

from __future__ import annotations

import math
import random

from mimamori.contracts import Family, Reading

NS = 1_000_000_000
T0 = 1_780_000_000 * NS
INTERVAL_S = {Family.WEARABLE: 600, Family.CHILD_TAG: 900, Family.PADDY: 600,
              Family.WATER_MAIN: 300}


def fields_for(family: Family, i: int, rnd: random.Random) -> dict:
    hour = (i * INTERVAL_S[family] / 3600 + 9) % 24
    if family is Family.WEARABLE:
        awake = 6 <= hour < 22
        steps = rnd.randint(10, 60) if awake else 0
        return {"heart_rate_bpm": int(rnd.gauss(72 if awake else 62, 3)),
                "spo2_pct": int(rnd.gauss(96.5, 1)), "skin_temp_c": round(rnd.gauss(33, 0.2), 1),
                "steps": steps, "activity": steps * 2 + rnd.randint(0, 10), "fall": False,
                "sos": False, "worn": True, "battery_pct": round(90 - i * 0.01, 1)}
    if family is Family.CHILD_TAG:
        return {"lat": 34.488 + rnd.gauss(0, 0.00003), "lon": 136.629 + rnd.gauss(0, 0.00003),
                "gps_accuracy_m": 5.0, "sos": False, "battery_pct": round(90 - i * 0.01, 1)}
    if family is Family.PADDY:
        return {"water_level_cm": round(4 + math.sin(i / 72) + rnd.gauss(0, 0.2), 1),
                "water_temp_c": round(24 + 3 * math.sin(i / 24), 1),
                "battery_pct": round(90 - i * 0.001, 1)}
    q = 20 * (1 + 0.5 * math.sin(2 * math.pi * hour / 24)) * (1 + rnd.gauss(0, 0.03))
    return {"pressure_mpa": round(0.45 - 0.004 * q + rnd.gauss(0, 0.003), 3),
            "flow_m3h": round(q, 2), "acoustic_db": round(rnd.gauss(32, 1.5), 1),
            "battery_pct": round(95 - i * 0.001, 1)}


def readings(profile: str, family: Family, devices: int, per_device: int,
             seed: int = 1) -> list[Reading]:
    """Time-ordered readings of ``devices`` devices, ``per_device`` each."""
    rnd = random.Random(seed)
    step = INTERVAL_S[family] * NS
    out = []
    for i in range(per_device):
        for d in range(devices):
            out.append(Reading(f"{family.value}-{d:05d}", profile, family, f"site-{d % 10}",
                               T0 + i * step + d * NS, fields_for(family, i, rnd)))
    return out
