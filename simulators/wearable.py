"""Elderly watch-over wearable (wrist): one person's physiology and day.

Numbers (DOMAIN.md §1): resting HR 60–100 bpm with a personal baseline, a
nocturnal dip of 10–30 % ((awake − sleep)/awake); SpO₂ 95–100 % (≈95 % is
fine above 70) and noisy on the wrist; wrist skin temperature 34.97 ± 0.34 °C
asleep, 32.94 ± 0.67 °C awake (PMC8207254); steps/day 65+ men 5,329, women
4,419 (国民健康・栄養調査 2023), near zero at night but for toilet trips.
A summary goes up every 10 minutes; every 2 minutes with a GPS fix while
outdoors; an immediate uplink for a fall candidate or an SOS press.

The device's fall flag is imperfect, like real ones (§1.3: real-world
sensitivity 57 ± 27 %, 3–85 false alarms a day for raw algorithms): it misses
some real falls (``fall_sensitivity``) and fires on hard negatives
(``false_fall``: sitting down hard, dropping the device). Real falls are
labelled ``fall``; false candidates leave no label.

>>> from simulators.weather import Weather
>>> from simulators.timebase import parse_time
>>> t0 = parse_time("2026-06-01T00:00:00")
>>> w = Wearable("wearable-0001", "hh-0001", seed=1, start_ns=t0, end_ns=t0 + 86400 * 10**9,
...              weather=Weather(1))
>>> out = []
>>> w.run_until(t0 + 86400 * 10**9, out)
>>> 140 <= len(out) <= 200 and 40 <= min(f["heart_rate_bpm"] for _, f in out)
True
"""

from __future__ import annotations

import math

from mimamori.contracts import EventKind, Family, Severity

from .geo import offset, random_point
from .model import BATTERY_DEAD, SILENT, AnomalySpec, DeviceModel, Fields, Injection, clamp, lag
from .timebase import DAY_S, NS, day_index, local_seconds

H = 3600
OUTDOOR_INTERVAL_S = 120


class Wearable(DeviceModel):
    family = Family.WEARABLE
    default_profile = "wearable_v1"
    default_interval_s = 600
    ANOMALIES = {
        "fall": AnomalySpec(EventKind.FALL, Severity.CRITICAL, (10 * 60, 2 * H)),
        "false_fall": AnomalySpec(None, Severity.INFO, (2 * 60, 10 * 60)),
        "sos": AnomalySpec(EventKind.SOS, Severity.CRITICAL, (10 * 60, 10 * 60)),
        "inactivity": AnomalySpec(EventKind.INACTIVITY, Severity.WARNING, (4 * H, 7 * H)),
        "bradycardia": AnomalySpec(EventKind.HEART_RATE_ABNORMAL, Severity.WARNING,
                                   (30 * 60, 2 * H)),
        "tachycardia": AnomalySpec(EventKind.HEART_RATE_ABNORMAL, Severity.WARNING,
                                   (30 * 60, 2 * H)),
        "spo2_low": AnomalySpec(EventKind.SPO2_LOW, Severity.WARNING, (1 * H, 3 * H)),
        "wandering": AnomalySpec(EventKind.WANDERING, Severity.CRITICAL, (40 * 60, 2 * H)),
        "not_worn": AnomalySpec(EventKind.NOT_WORN, Severity.INFO, (13 * H, 24 * H)),
        "battery_dead": BATTERY_DEAD,
        "silent": SILENT,
    }

    def setup(self) -> None:
        r, p = self.rng, self.params
        self.male = r.random() < 0.45
        self.hr_base = p.get("hr_base", clamp(r.gauss(72.0, 7.0), 58, 95))
        self.dip = p.get("dip", clamp(r.gauss(0.15, 0.04), 0.05, 0.30))
        self.spo2_base = clamp(r.gauss(96.5, 0.9), 94.0, 98.5)
        self.t_sleep = clamp(r.gauss(34.97, 0.34), 34.0, 35.8)
        self.t_wake = min(clamp(r.gauss(32.94, 0.67), 31.0, 34.5), self.t_sleep - 1.0)
        median_steps = 5329 if self.male else 4419
        self.steps_mean = r.lognormvariate(math.log(median_steps), 0.3)
        self.bed_h = clamp(r.gauss(21.8, 0.5), 20.5, 23.5)
        self.wake_h = clamp(r.gauss(6.0, 0.4), 4.8, 7.5)
        self.drain_pct_day = clamp(r.gauss(9.0, 1.5), 5, 14)
        self.fall_sensitivity = float(p.get("fall_sensitivity", 0.75))
        if "home" in p:
            self.home = tuple(p["home"])
        else:
            self.home = random_point(p.get("zone", "tamaru"), r)
        self.safe_radius_m = 50.0
        self.battery = r.uniform(45, 100)
        self.skin = self.t_wake
        self.pos = self.home
        self._day = None
        self.charging = False

    def describe(self) -> dict:
        return {"lat": round(self.home[0], 6), "lon": round(self.home[1], 6),
                "params": {"home": [round(self.home[0], 6), round(self.home[1], 6)],
                           "safe_radius_m": self.safe_radius_m,
                           "usual_wake": f"{int(self.wake_h):02d}:{int(self.wake_h % 1 * 60):02d}",
                           "usual_bed": f"{int(self.bed_h):02d}:{int(self.bed_h % 1 * 60):02d}",
                           "sex": "male" if self.male else "female"}}

    # -- the day -------------------------------------------------------------
    def _plan_day(self, day: int) -> None:
        r = self.rng
        base = day * DAY_S
        self._day = day
        self.wake_s = base + (self.wake_h + r.gauss(0, 0.25)) * H
        self.bed_s = base + (self.bed_h + r.gauss(0, 0.3)) * H
        self.steps_target = self.steps_mean * r.lognormvariate(0, 0.25)
        self.walk = None
        if r.random() < 0.75:
            start_h = r.gauss(9.5, 0.6) if r.random() < 0.5 else r.gauss(15.5, 0.6)
            self.walk = (base + start_h * H, r.uniform(0.5, 1.0) * H, r.uniform(0, 2 * math.pi))
        walk_s = self.walk[1] if self.walk else 0.0
        walk_steps = min(0.45 * self.steps_target, 70 * walk_s / 60)
        awake_min = (self.bed_s - self.wake_s - walk_s) / 60
        self.indoor_rate = max(0.0, (self.steps_target - walk_steps) / max(awake_min, 60))
        self.toilets = [self.bed_s + r.uniform(2, 6) * H for _ in range(r.choice((0, 1, 1, 2)))]
        self.charge_window = None
        if self.battery < 30 and not self.act.get("battery_dead"):
            cs = base + r.gauss(10.0, 0.5) * H
            self.charge_window = (cs, cs + 1.5 * H)

    def _asleep(self, ls: float) -> bool:
        # before today's wake time, or after today's bed time
        return ls < self.wake_s or ls >= self.bed_s

    def place(self, kind: str, day_start_ns: int, rng) -> int | None:
        h = {
            "wandering": rng.uniform(23.0, 27.0),
            "inactivity": rng.uniform(8.0, 13.0),
            "tachycardia": rng.uniform(8.0, 20.0),
            "fall": rng.uniform(7.0, 21.0) if rng.random() < 0.8 else rng.uniform(0, 24),
            "false_fall": rng.uniform(7.0, 21.0),
            "sos": rng.uniform(7.0, 22.0),
            "not_worn": rng.uniform(7.0, 10.0),
        }.get(kind, rng.uniform(0, 24))
        return day_start_ns + int(h * H * NS)

    def on_inject(self, inj: Injection) -> None:
        r = self.plan_rng
        if inj.kind == "fall":
            inj.params.setdefault("detected", r.random() < self.fall_sensitivity)
            inj.params.setdefault("confidence", round(0.55 + 0.43 * math.sqrt(r.random()), 2))
            if inj.params["detected"]:
                self.uplink_now(inj.start_ns + int(r.uniform(2, 10) * NS), "fall")
        elif inj.kind == "false_fall":
            inj.params.setdefault("drop", r.random() < 0.3)
            inj.params.setdefault("confidence", round(0.4 + 0.5 * r.random() ** 1.5, 2))
            self.uplink_now(inj.start_ns + int(r.uniform(2, 10) * NS), "false_fall")
        elif inj.kind == "sos":
            self.uplink_now(inj.start_ns + int(r.uniform(1, 5) * NS), "sos")
        elif inj.kind == "wandering":
            inj.params.setdefault("bearing", r.uniform(0, 2 * math.pi))

    def cadence_s(self) -> float:
        return min(OUTDOOR_INTERVAL_S, self.interval_s) if self._outdoors else self.interval_s

    # -- one uplink ------------------------------------------------------------
    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        r = self.rng
        ls = local_seconds(ts_ns)
        day = day_index(ts_ns)
        if day != self._day:
            self._plan_day(day)
        asleep = self._asleep(ls)
        fall = self.act.get("fall")
        lying = fall is not None
        inactive = lying or self.act.get("inactivity") is not None
        wander = self.act.get("wandering")
        not_worn = self.act.get("not_worn") is not None
        dropped = False
        ff = self.act.get("false_fall")
        if ff is not None and ff.params.get("drop"):
            dropped = True
        charging = bool(self.charge_window and self.charge_window[0] <= ls < self.charge_window[1])
        worn = not (not_worn or charging or dropped)

        # -- where and how much they move
        minutes = dt_s / 60
        outdoors = False
        steps_per_min = 0.0
        if wander is not None:
            asleep = False
            outdoors = True
            steps_per_min = 60.0
            gone_s = (ts_ns - wander.start_ns) / NS
            d = 0.6 * gone_s
            b = wander.params["bearing"] + 0.3 * math.sin(gone_s / 600)
            self.pos = offset(self.home[0], self.home[1], d * math.cos(b), d * math.sin(b))
        elif self.walk and self.walk[0] <= ls < self.walk[0] + self.walk[1] and not inactive:
            outdoors = True
            steps_per_min = 70.0 * r.uniform(0.7, 1.1)
            p = (ls - self.walk[0]) / self.walk[1]
            d = 0.8 * self.walk[1] / 2 * (1 - abs(2 * p - 1))
            b = self.walk[2]
            self.pos = offset(self.home[0], self.home[1], d * math.cos(b), d * math.sin(b))
        else:
            self.pos = self.home
            if inactive:
                steps_per_min = 0.0
            elif asleep:
                steps_per_min = 3.0 if any(t <= ls < t + 600 for t in self.toilets) else 0.0
            else:
                steps_per_min = self.indoor_rate * r.gammavariate(2.0, 0.5)
        self._outdoors = outdoors
        if outdoors and self.walk and wander is None:  # the walk began within this window
            walk_min = min(minutes, max(0.0, ls - self.walk[0]) / 60)
            total = steps_per_min * walk_min + self.indoor_rate * (minutes - walk_min)
        elif wander is not None:
            total = steps_per_min * min(minutes, (ts_ns - wander.start_ns) / NS / 60)
        else:
            total = steps_per_min * minutes
        steps = int(total * r.uniform(0.85, 1.15)) if worn else 0

        # -- battery
        if charging:
            self.battery = min(100.0, self.battery + 60.0 * dt_s / H)
        elif not self.drain(ts_ns, dt_s, self.drain_pct_day * (1.6 if outdoors else 1.0)):
            return None
        if self.battery < 1 and not self.act.get("battery_dead"):
            self.battery = 1.0  # a family that charges in time never lets it die

        # -- physiology
        if asleep and not inactive:
            hr = self.hr_base * (1 - self.dip) + r.gauss(0, 1.5)
            hr += 4.0 if r.random() < 0.2 else 0.0  # REM
            skin_target, spo2 = self.t_sleep, self.spo2_base - 1.0
        else:
            hr = self.hr_base + 0.15 * steps_per_min + r.gauss(0, 2.5)
            skin_target, spo2 = self.t_wake, self.spo2_base
        if lying:
            hr += 8.0
        if self.act.get("bradycardia"):
            hr = r.gauss(42.0, 2.0)
        elif self.act.get("tachycardia"):
            hr = r.gauss(135.0, 6.0)
        if self.active("spo2_low"):
            spo2 = r.gauss(87.0, 1.5)
        else:
            spo2 += r.gauss(0, 1.2)
        if not worn:
            air = self.weather.air_temp_c(ts_ns)
            skin_target = 25.0 + (air - 25.0) * 0.3
        self.skin = lag(self.skin, skin_target, dt_s, 45 * 60)
        if asleep or inactive:
            activity = r.gammavariate(1.2, 1.5) if not lying else r.uniform(0, 2)
        else:
            activity = steps_per_min * 2.5 + r.gammavariate(2.0, 6.0)

        f: Fields = {}
        if worn:
            f["heart_rate_bpm"] = int(round(clamp(hr, 30, 220)))
            f["spo2_pct"] = int(round(clamp(spo2, 70, 100)))
        f["skin_temp_c"] = round(self.skin + r.gauss(0, 0.12), 1)
        f["steps"] = steps
        f["activity"] = int(clamp(activity, 0, 255)) if worn else 0
        f["fall"] = False
        f["sos"] = False
        f["worn"] = worn
        if event == "fall" and fall is not None and worn:
            # only a band on the wrist feels the impact of its wearer's fall
            f["fall"], f["fall_confidence"] = True, fall.params["confidence"]
        elif event == "false_fall" and ff is not None:
            f["fall"], f["fall_confidence"] = True, ff.params["confidence"]
        elif event == "sos":
            f["sos"] = True
        if outdoors or event == "sos":
            acc = clamp(r.gauss(5.0, 1.0), 3.0, 12.0) if outdoors else r.uniform(10, 30)
            sigma = acc / 2.448  # acc is the 95 % radius of a 2-D normal error
            lat, lon = offset(self.pos[0], self.pos[1], r.gauss(0, sigma), r.gauss(0, sigma))
            f["lat"], f["lon"], f["gps_accuracy_m"] = round(lat, 6), round(lon, 6), round(acc, 1)
        f["battery_pct"] = round(self.battery, 1)
        if self.truth is not None:
            self.truth.append((ts_ns, {"asleep": asleep and not inactive, "worn": worn,
                                       "lat": self.pos[0], "lon": self.pos[1],
                                       "outdoors": outdoors, "steps_per_min": steps_per_min}))
        return f

    _outdoors = False
