"""Burst onsets the learned pressure-flow curve cannot judge: in a monitor's
first day (no curve yet) the acoustic logger's roar backs a usual flow step;
and a node pulled to zero pressure, where the curve extrapolated to a
burst's flow predicts a negative pressure."""

from __future__ import annotations

from .burst_stream import burst_detector, demand, reading


def _run(burst_at: int, flow: float, to_zero: bool = False, roar: float = 15.0,
         days: int = 1) -> list[int]:
    det = burst_detector()
    opened = []
    for i in range(days * 288):
        q = demand(i) + (0.5 if i % 2 else -0.5)
        p = 0.45 - 2e-4 * q ** 1.852                 # a long main: 0.28 MPa at the peak
        ac = 30.0 + (0.5 if i % 3 else -0.5)
        if i >= burst_at:
            q, ac = q + flow, ac + roar
            p = 0.0 if to_zero else p - 0.05
        if det.step(reading(i, q, p, ac)) == "opened":
            opened.append(i)
    return opened


def test_a_burst_in_the_first_day_with_a_roar_and_a_usual_flow_step_is_found_at_once():
    # 10:00 on day one (seed 20260601 watermain-0020: +32 % flow, +14.8 dB, −0.08 MPa)
    assert _run(120, flow=12.0) == [120]
    assert _run(120, flow=12.0, roar=0.0) == []      # without the roar: the 0.4 × step rule


def test_a_burst_that_pulls_the_node_to_zero_is_found_at_once():
    # day 3, 19:00, +40 m³/h on 38: the curve predicts −0.19 MPa, the sensor reads 0.0
    # (seed 90210 watermain-0027, 31337 watermain-0038)
    burst = 2 * 288 + 228
    assert _run(burst, flow=40.0, to_zero=True, roar=0.0, days=3) == [burst]


def test_a_burst_in_the_monitors_first_readings_is_found_at_once():
    # seed 6061 watermain-0026: the burst began 10 minutes after the first reading
    assert _run(2, flow=12.0) == [2]
    assert _run(2, flow=4.0, roar=0.0) == []         # a small step in the night: no burst
