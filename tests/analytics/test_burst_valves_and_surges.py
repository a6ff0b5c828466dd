"""False bursts from pressure steps that are no bursts, and how long a burst
runs (analytics/detectors/water_main.py, BurstDetector).

A district with a steep morning ramp (+7.5 m³/h a reading, a quarter of the
mean flow — as at seed 337 watermain-0032's mornings), its pressure on the
curve p = 0.45 − 1e-4·Q^1.852. A valve restored, a surge, a valve that fails
in the monitor's first day: none is a burst, and the next ramp is none
either. A burst runs while its local loss lasts."""

from __future__ import annotations

import json

from analytics.detectors.base import Sample

from .burst_stream import NS, STEP, T0, burst_detector

DAY = 288   # 5-minute readings a day


def flow(i: int) -> float:
    """Night 8 m³/h; from 05:00 a ramp of four readings to 38; the evening
    falls from 21:00 to 23:00 back to 8."""
    k = i % DAY
    if k < 60:
        return 8.0
    if k < 64:
        return 8.0 + 7.5 * (k - 59)
    if k < 252:
        return 38.0
    if k < 276:
        return 38.0 - 30.0 * (k - 251) / 24
    return 8.0


def curve(q: float) -> float:
    return 0.45 - 1e-4 * q ** 1.852


def run(days: int, valve: tuple[int, int] | None = None, surge_after: int | None = None,
        burst: tuple[int, int] | None = None, dip_at: int | None = None,
        det=None, start: int = 0, stop_at: int | None = None,
        burst_flow: float = 20.0, dip_mpa: float = 0.03, dip_flow: float = 0.0,
        burst2: tuple[int, int] | None = None) -> list[tuple[int, str]]:
    """Replay ``days`` of readings; returns (reading index, event) of the
    burst findings. ``valve``: a failed pressure-reducing valve from … to
    (+0.35 MPa, and the leakage it drives, +1.5 m³/h); ``surge_after``: a
    pressure surge (+0.3 MPa) reported 10 s after that reading; ``burst``:
    ``burst_flow`` and a local loss of 0.05 MPa from … to (``burst2``: a
    second one); ``dip_at``: one reading ``dip_mpa`` below the curve (and
    the flow ``dip_flow`` higher from it to the morning ramp)."""
    det = det if det is not None else burst_detector()
    events = []
    for i in range(start, days * DAY if stop_at is None else stop_at):
        q, extra = flow(i) + (0.3 if i % 2 else -0.3), 0.0
        if valve and valve[0] <= i < valve[1]:
            q, extra = q + 1.5, 0.35
        for b in (burst, burst2):
            if b and b[0] <= i < b[1]:
                q, extra = q + burst_flow, extra - 0.05
        if i == dip_at:
            extra -= dip_mpa
        if dip_at is not None and dip_at <= i < dip_at // DAY * DAY + 60:
            q += dip_flow
        p = curve(q) + extra
        ev = det.step(Sample(T0 + i * STEP, {"flow_m3h": round(q, 2), "pressure_mpa": round(p, 3)}))
        if ev in ("opened", "cleared"):
            events.append((i, ev))
        if i == surge_after:
            ev = det.step(Sample(T0 + i * STEP + 10 * NS,
                                 {"flow_m3h": round(q, 2), "pressure_mpa": round(p + 0.3, 3)}))
            if ev in ("opened", "cleared"):
                events.append((i, ev))
    return events


def opened(events: list[tuple[int, str]]) -> list[int]:
    return [i for i, ev in events if ev == "opened"]


def test_a_restored_valve_leaves_no_burst_at_the_next_ramp():
    # the valve failed at noon on day 2 and is restored at 04:30 on day 3;
    # learned at 10 % a reading, the residual level stayed +0.03 MPa above
    # the pressure at 05:00 and the ramp's first step was a "burst"
    valve = (2 * DAY + 144, 3 * DAY + 54)
    assert opened(run(4, valve=valve)) == []
    burst_at = 3 * DAY + 150        # and a burst after it is found at once
    assert opened(run(4, valve=valve, burst=(burst_at, burst_at + 60))) == [burst_at]


def test_a_surge_just_before_the_ramp_is_no_burst():
    # +0.3 MPa for one immediate uplink at 05:00 used to lift the residual
    # level by 0.03 MPa: the ramp's step five minutes later came with a
    # "pressure drop" of 0.03 MPa
    assert opened(run(4, surge_after=3 * DAY + 59)) == []
    burst_at = 3 * DAY + 61         # a burst on the ramp right after the surge is one
    assert opened(run(4, surge_after=3 * DAY + 59, burst=(burst_at, burst_at + 60))) \
        == [burst_at]


def test_a_valve_that_fails_in_the_first_day_does_not_bend_the_curve():
    # 17:00–19:30 of the monitor's first day, +0.35 MPa (below the 0.74 MPa
    # standard): learned into the curve, it made the next mornings' ramps bursts
    valve = (204, 234)
    assert opened(run(5, valve=valve)) == []
    burst_at = 4 * DAY + 100
    assert opened(run(5, valve=valve, burst=(burst_at, burst_at + 60))) == [burst_at]


def test_a_burst_at_the_evening_peak_runs_until_it_is_isolated():
    # 19:00 → 02:00: the demand falls by 30 m³/h under it; the finding stays
    # open (one finding) and clears at the first reading after the repair.
    # Judged by the flow above the pre-burst reading it "ended" at 21:30; a
    # big burst was then opened again against the hour-of-day flow, a small
    # one (+7 m³/h, a quarter of the mean) was lost
    burst = (2 * DAY + 228, 3 * DAY + 24)
    for burst_flow in (7.0, 20.0):
        assert run(4, burst=burst, burst_flow=burst_flow) == \
            [(burst[0], "opened"), (burst[1], "cleared")]


def test_an_onset_whose_pressure_is_back_on_the_curve_ends_there():
    # one reading of the ramp 0.03 MPa below the curve: it opens, and the
    # next reading, on the curve, ends it — not the flow falling back to the
    # pre-ramp level at 21:00, with the day's readings kept out of the baseline
    dip = 2 * DAY + 61
    assert run(4, dip_at=dip) == [(dip, "opened"), (dip + 1, "cleared")]


def test_the_valve_offset_and_a_pending_step_come_back_from_a_checkpoint():
    valve = (2 * DAY + 144, 3 * DAY + 54)
    burst_at = 3 * DAY + 150
    whole = run(4, valve=valve, burst=(burst_at, burst_at + 60))
    for cut in (2 * DAY + 145, 3 * DAY + 55):   # right after each step, before it is confirmed
        det = burst_detector()
        first = run(4, valve=valve, burst=(burst_at, burst_at + 60), det=det, stop_at=cut)
        clone = burst_detector()
        clone.det.load_state(json.loads(json.dumps(det.det.state())))
        clone.active = det.active
        rest = run(4, valve=valve, burst=(burst_at, burst_at + 60), det=clone, start=cut)
        assert first + rest == whole


def test_a_checkpoint_from_before_the_valve_offset_loads():
    det = burst_detector()
    run(3, det=det)
    old = det.det.state()
    for k in ("valve", "jump", "doubt"):
        old.pop(k)
    old.update(slot_flow=[0.0] * 48, slot_n=[0] * 48)   # the hour-of-day flow it had then
    clone = burst_detector()
    clone.det.load_state(json.loads(json.dumps(old)))
    assert clone.det.valve == 0.0 and clone.det.jump is None
    burst_at = 3 * DAY + 150
    assert opened(run(4, burst=(burst_at, burst_at + 60), det=clone, start=3 * DAY)) == [burst_at]


def test_a_surge_with_a_flow_step_in_the_first_day_is_no_valve():
    # seed 9876543 watermain-0039: on the monitor's first morning a surge down
    # (−0.18 MPa) came with the ramp's flow step, so its reading was not taken
    # for a jump, and the step back was learned as a valve (+0.18 MPa); the
    # curve was then learned net of it and later bursts fell inside its error
    # (here at 03:20 with a night-time flow step of +2.4 m³/h, 0.3 × the mean)
    det = burst_detector()
    assert run(1, dip_at=40, dip_mpa=0.18, dip_flow=2.4, det=det) == []
    assert det.det.valve == 0.0
    burst_at = 4 * DAY + 150
    assert opened(run(5, dip_at=40, dip_mpa=0.18, dip_flow=2.4,
                      burst=(burst_at, burst_at + 60))) == [burst_at]


def test_a_valve_restored_during_a_burst_is_taken_back():
    # seed 31415926 watermain-0034: a failed valve restored 10 readings into a
    # burst; the burst's readings are not learned, the +0.35 MPa offset stayed,
    # the pressure read far "below the curve", the burst ran on for 24 h and
    # the next burst was missed
    valve = (2 * DAY + 144, 3 * DAY + 10)
    first, second = (3 * DAY, 3 * DAY + 60), (4 * DAY + 150, 4 * DAY + 210)
    events = run(5, valve=valve, burst=first, burst2=second)
    assert events == [(first[0], "opened"), (first[1], "cleared"),
                      (second[0], "opened"), (second[1], "cleared")]


def test_a_valve_offset_the_residual_keeps_refusing_is_dropped():
    # a failed valve restored at the reading its district's burst is isolated:
    # the pressure falls by the offset as the flow falls by the burst's, so
    # neither the next reading (the burst was open) nor the restore-in-a-burst
    # rule (a flow step with it) takes the offset back. Kept, it held the
    # first finding open for a day, opened a false one each morning and the
    # curve, learned net of it, bent; an hour of quiet readings back on the
    # curve without it now drops it, and the next burst opens at once
    valve = (2 * DAY + 144, 3 * DAY + 60)
    first, second = (3 * DAY, 3 * DAY + 60), (5 * DAY + 150, 5 * DAY + 210)
    det = burst_detector()
    events = run(6, valve=valve, burst=first, burst2=second, det=det)
    assert opened(events) == [first[0], second[0]]
    assert events[-1] == (second[1], "cleared")
    assert det.det.valve == 0.0
    # the doubt comes back from a checkpoint taken half-way through it
    cleared = events[1][0]
    det = burst_detector()
    first_part = run(6, valve=valve, burst=first, burst2=second, det=det, stop_at=cleared + 6)
    assert det.det.doubt[0] > 0 and det.det.valve > 0.3
    clone = burst_detector()
    clone.det.load_state(json.loads(json.dumps(det.det.state())))
    clone.active = det.active
    assert first_part + run(6, valve=valve, burst=first, burst2=second, det=clone,
                            start=cleared + 6) == events
    # a valve that stays failed keeps its offset: quiet readings sit on the curve with it
    det = burst_detector()
    run(5, valve=(2 * DAY + 144, 5 * DAY), det=det)
    assert abs(det.det.valve - 0.35) < 0.02
