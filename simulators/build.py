"""Scenario → device models with their anomalies planned. Pure and
deterministic: a device's physics draw from ``Random(f"{seed}/{device_id}")``
and its anomaly plan from ``Random(f"{seed}/{device_id}/plan")``, so a device
behaves the same whichever other devices run beside it, in whichever process.

>>> from simulators.scenario import Scenario
>>> s = Scenario.model_validate({"seed": 5, "duration": "2d", "groups": [
...     {"family": "wearable", "count": 3, "rates": {"fall": 1.0}}]})
>>> a = [m.labels for m in build_models(s)]
>>> b = [m.labels for m in build_models(s)]
>>> a == b and sum(len(x) for x in a) > 0
True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from .model import DeviceModel
from .scenario import DeviceSpec, Scenario, model_class
from .timebase import DAY_S, NS, day_index, day_start_ns, parse_duration
from .weather import Weather


def poisson(lam: float, rng: random.Random) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def build_model(scenario: Scenario, spec: DeviceSpec, weather: Weather | None = None,
                record_truth: bool = False) -> DeviceModel:
    cls = model_class(spec.family, spec.profile)
    params = dict(spec.params)
    if spec.family.value == "child_tag":
        params["holiday_days"] = scenario.holiday_days()
    model = cls(spec.device_id, spec.site, seed=scenario.seed, start_ns=scenario.start_ns,
                end_ns=scenario.end_ns, weather=weather or scenario_weather(scenario),
                profile=spec.profile, interval_s=spec.interval_s, params=params,
                record_truth=record_truth)
    plan = random.Random(f"{scenario.seed}/{spec.device_id}/plan")
    group = scenario.groups[spec.group]
    days = scenario.duration_s / DAY_S
    first_day = day_index(scenario.start_ns)
    n_days = max(1, math.ceil(days))
    for kind in sorted(group.rates):
        for _ in range(poisson(group.rates[kind] * days, plan)):
            for _try in range(8):  # some anomalies only fit some days (school days, stages)
                t = model.place(kind, day_start_ns(first_day + plan.randrange(n_days)), plan)
                if t is not None and scenario.start_ns <= t < scenario.end_ns:
                    model.inject(kind, t, None, rng=plan)
                    break
    for a in scenario.anomalies:
        if a.device == spec.device_id:
            dur = parse_duration(a.duration) if a.duration else None
            model.inject(a.kind, scenario.time_ns(a.at), dur, a.params, rng=plan)
    return model


def scenario_weather(scenario: Scenario) -> Weather:
    return Weather(scenario.seed, dry=scenario.dry_weather)


def build_models(scenario: Scenario, specs: Iterable[DeviceSpec] | None = None,
                 record_truth: bool = False) -> list[DeviceModel]:
    weather = scenario_weather(scenario)
    return [build_model(scenario, s, weather, record_truth)
            for s in (specs if specs is not None else scenario.device_specs())]


__all__ = ["build_model", "build_models", "poisson", "NS"]
