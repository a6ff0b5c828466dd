"""A pressure surge at the demand peak, when one reading's flow moves by
itself more than 15 % of the mean flow: still a surge — the pressure is back
at the next reading; a burst's fall stays."""

from __future__ import annotations

from analytics.detectors.base import Sample
from analytics.detectors.threshold import Thresholded
from analytics.detectors.water_main import TransientDetector

NS = 1_000_000_000


def _opened(jump_mpa: float, flow_change: float, stays: bool = False) -> bool:
    det = Thresholded(TransientDetector())
    opened = False
    for i in range(40):
        q = 20.0 if i < 30 else 60.0        # night, then the evening peak (mean ≈ 25)
        p = 0.45 if i < 30 else 0.36
        if i == 35 or (stays and i > 35):
            q, p = q + flow_change, p + jump_mpa
        elif i > 35:
            q += flow_change                   # the flow stays up, the pressure is back
        opened |= det.step(Sample(i * 300 * NS, {"flow_m3h": q, "pressure_mpa": p})) == "opened"
    return opened


def test_a_surge_while_the_peak_flow_wobbles_down_is_a_transient():
    assert _opened(+0.30, -6.0)


def test_a_drop_while_the_flow_wobbles_down_is_a_transient():
    assert _opened(-0.23, -5.0)


def test_a_burst_whose_pressure_stays_down_is_not_a_surge():
    assert not _opened(-0.23, +8.0, stays=True)


def test_a_fall_back_at_the_next_reading_while_the_evening_flow_rises_is_a_surge():
    # seed 90210 watermain-0035: 0.38 → 0.10 → 0.35 MPa, the flow 44 → 49 → 52 m³/h;
    # seed 8080 watermain-0009: 0.42 → 0.15 → 0.41 MPa with a +17 % flow blip
    assert _opened(-0.27, +8.0)
