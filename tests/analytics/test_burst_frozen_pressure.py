"""A burst while the pressure sensor is stuck: the flow step and the acoustic
logger's roar still show it; a demand ramp with a stuck sensor does not."""

from __future__ import annotations

from .burst_stream import burst_detector, demand, reading


def _run(burst_at: int | None, acoustic_jump: float = 15.0, days: int = 3,
         burst_flow: float = 25.0) -> list[int]:
    det = burst_detector()
    opened = []
    n = days * 288
    stuck_from = n - 200          # the pressure sensor sticks on the last day
    for i in range(n):
        q = demand(i) + (0.5 if i % 2 else -0.5)
        p = 0.45 - 1e-4 * q ** 1.852
        ac = 30.0 + (0.5 if i % 3 else -0.5)
        if burst_at is not None and i >= burst_at:
            q, p, ac = q + burst_flow, p - 0.05, ac + acoustic_jump
        if i >= stuck_from:
            p = 0.421
        if det.step(reading(i, q, p, ac)) == "opened":
            opened.append(i)
    return opened


def test_a_burst_while_the_pressure_sensor_is_stuck_is_found_at_once():
    burst = 3 * 288 - 100          # 100 readings into the stuck spell, a daytime hour
    assert _run(burst) == [burst]


def test_a_demand_ramp_with_a_stuck_pressure_sensor_is_no_burst():
    assert _run(None) == []


def test_a_flow_step_without_the_acoustic_roar_is_not_called_a_burst_on_flow_alone():
    assert _run(3 * 288 - 100, acoustic_jump=0.0) == []


def test_a_big_flow_step_with_a_small_rise_on_a_noisy_pipe_is_a_burst():
    # seed 2718 watermain-0018: a leak's noise already on the logger, so the
    # burst adds only +2.8 dB at the first reading (decibels are logarithmic);
    # the flow +66 % at once: beyond any demand ramp
    burst = 3 * 288 - 100
    assert _run(burst, acoustic_jump=2.8) == [burst]
    assert _run(burst, burst_flow=10.0, acoustic_jump=2.8) == []   # a usual step needs the roar


def test_a_smaller_burst_at_the_peak_is_found_by_its_roar_and_the_usual_flow_step():
    # +10 m³/h on a 38 m³/h afternoon flow (a quarter of it: not the 0.4 × flow
    # step a burst needs on flow alone), the logger +15 dB
    burst = 3 * 288 - 100
    assert _run(burst, burst_flow=10.0) == [burst]
    assert _run(burst, burst_flow=10.0, acoustic_jump=0.0) == []
