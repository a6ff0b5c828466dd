"""The demo town's history (pure: no servers)."""

from __future__ import annotations

import time

from dashboards.demo_town import DEMO_MIN_RAIN_MM, history_lines


def _rain(lines: list[str]) -> dict[int, float]:
    out = {}
    for ln in lines:
        if ln.startswith("paddy,device_id=rain-001,"):
            fields, ts = ln.rsplit(" ", 2)[1:]
            out[int(ts)] = float(fields.split("rain_mm=")[1].split(",")[0])
    return out


def test_the_week_has_rain_and_seeding_later_overwrites_it_instead_of_doubling_it():
    now = time.time_ns()
    first, later = _rain(history_lines(now)), _rain(history_lines(now + 37 * 60 * 10**9))
    assert len(first) >= 7 * 24 * 6 and sum(first.values()) >= DEMO_MIN_RAIN_MM
    overlap = [ts for ts in later if ts <= max(first)]
    assert len(overlap) >= len(first) - 6
    assert set(overlap) <= set(first)  # the same timestamps: InfluxDB overwrites them
