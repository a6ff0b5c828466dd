"""Child location tag: home → school → home on a synthetic street grid.

Streets run north–south and east–west every 120 m around the child's
school (one of Tamaki's four primaries, placed in their districts, §7); the
walk to school follows the grid (legal norm ≤ 4 km for primaries; here
0.5–2 km). Fixes carry GPS noise of ≈ 4.9 m (95 % radius, open sky, §0) when
outdoors and 10–25 m indoors; one fix a minute while moving, one every 15
minutes when still (§6.1), and an immediate one on an SOS press.
Weekends, ``holidays`` and the summer break (21 Jul – 31 Aug) have no school.

Anomalies: ``off_route`` (a detour far from the usual route on the way home;
labelled while the child is more than 100 m from it), ``late_arrival``
(leaves late; labelled from the usual arrival time until arrival),
``unusual_dwell`` (a long stop on the route somewhere not usually visited),
``sos``, ``silent``, ``battery_dead``.

>>> from simulators.weather import Weather
>>> from simulators.timebase import parse_time
>>> t0 = parse_time("2026-06-01T00:00:00")  # a Monday
>>> c = ChildTag("childtag-0001", "school-tamaru", seed=2, start_ns=t0,
...              end_ns=t0 + 86400 * 10**9, weather=Weather(2))
>>> out = []
>>> c.run_until(t0 + 86400 * 10**9, out)
>>> 40 < len(out) < 200
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mimamori.contracts import EventKind, Family, Severity

from .geo import SCHOOLS, offset
from .model import BATTERY_DEAD, SILENT, AnomalySpec, DeviceModel, Fields, Injection, clamp
from .timebase import DAY_S, NS, day_index, local_date, local_seconds

H = 3600
BLOCK_M = 120.0
MOVING_INTERVAL_S = 60
STILL_INTERVAL_S = 900
OFF_ROUTE_M = 100.0

Point = tuple[float, float]  # (north_m, east_m) relative to the school


@dataclass
class Segment:
    t0: float  # local seconds
    t1: float
    path: list[Point]  # one point = staying there
    outdoors: bool = True

    def where(self, ls: float) -> Point:
        if len(self.path) == 1 or self.t1 <= self.t0:
            return self.path[-1] if ls >= self.t1 else self.path[0]
        return along(self.path, (ls - self.t0) / (self.t1 - self.t0))


def path_length(path: list[Point]) -> float:
    return sum(math.dist(a, b) for a, b in zip(path, path[1:]))


def along(path: list[Point], frac: float) -> Point:
    frac = clamp(frac, 0.0, 1.0)
    target = frac * path_length(path)
    for a, b in zip(path, path[1:]):
        seg = math.dist(a, b)
        if target <= seg and seg > 0:
            k = target / seg
            return a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k
        target -= seg
    return path[-1]


def split(path: list[Point], frac: float) -> tuple[list[Point], list[Point]]:
    """The path cut at a fraction of its length: (before, after)."""
    cut = along(path, frac)
    target = frac * path_length(path)
    before, done = [path[0]], 0.0
    for a, b in zip(path, path[1:]):
        if done + math.dist(a, b) >= target:
            break
        done += math.dist(a, b)
        before.append(b)
    after = [cut] + path[len(before):]
    return before + [cut], after


def grid_path(a: Point, b: Point, north_first: bool = True) -> list[Point]:
    """An L-shaped walk along the street grid from a to b."""
    corner = (b[0], a[1]) if north_first else (a[0], b[1])
    return [a, corner, b]


def distance_to_path(p: Point, path: list[Point]) -> float:
    best = math.inf
    for a, b in zip(path, path[1:]):
        ax, ay, bx, by = a[0], a[1], b[0], b[1]
        dx, dy = bx - ax, by - ay
        L2 = dx * dx + dy * dy
        t = 0.0 if L2 == 0 else clamp(((p[0] - ax) * dx + (p[1] - ay) * dy) / L2, 0, 1)
        best = min(best, math.hypot(p[0] - (ax + t * dx), p[1] - (ay + t * dy)))
    return best


class ChildTag(DeviceModel):
    family = Family.CHILD_TAG
    default_profile = "child_tag_v1"
    default_interval_s = STILL_INTERVAL_S
    ANOMALIES = {
        "off_route": AnomalySpec(EventKind.OFF_ROUTE, Severity.WARNING, (10 * 60, 30 * 60),
                                 dynamic=True),
        "late_arrival": AnomalySpec(EventKind.LATE_ARRIVAL, Severity.WARNING, (30 * 60, 90 * 60),
                                    dynamic=True),
        "unusual_dwell": AnomalySpec(EventKind.UNUSUAL_DWELL, Severity.WARNING,
                                     (60 * 60, 150 * 60), dynamic=True),
        "sos": AnomalySpec(EventKind.SOS, Severity.CRITICAL, (10 * 60, 10 * 60)),
        "silent": SILENT,
        "battery_dead": BATTERY_DEAD,
    }

    def setup(self) -> None:
        r, p = self.rng, self.params
        self.school_id = p.get("school") or r.choice(sorted(SCHOOLS))
        _, slat, slon = SCHOOLS[self.school_id]
        self.school_ll = (slat, slon)
        while True:
            bn, be = r.randint(-12, 12), r.randint(-12, 12)
            if 500 <= (abs(bn) + abs(be)) * BLOCK_M <= 2000:
                break
        self.home: Point = (bn * BLOCK_M, be * BLOCK_M)
        self.school: Point = (0.0, 0.0)
        self.north_first = r.random() < 0.5
        self.route = grid_path(self.home, self.school, self.north_first)
        self.speed = 1.1 * r.uniform(0.85, 1.15)
        self.walk_s = path_length(self.route) / self.speed
        self.arrive_h = 8.0 - r.uniform(0, 10) / 60  # at the gate before 8:00
        self.dismiss_h = r.gauss(15.3, 0.2)
        self.holidays = set(p.get("holiday_days", ()))
        self.battery = r.uniform(50, 100)
        self.drain_pct_day = clamp(r.gauss(3.0, 0.5), 1.5, 5)
        self._day = None
        self.segments: list[Segment] = []
        self.pos: Point = self.home

    # -- geography helpers -----------------------------------------------------
    def latlon(self, p: Point) -> tuple[float, float]:
        return offset(self.school_ll[0], self.school_ll[1], p[0], p[1])

    @property
    def home_ll(self) -> tuple[float, float]:
        return self.latlon(self.home)

    def route_ll(self) -> list[tuple[float, float]]:
        return [self.latlon(p) for p in self.route]

    def describe(self) -> dict:
        hl = self.home_ll
        r6 = lambda x: round(x, 6)  # noqa: E731
        hm = lambda h: f"{int(h):02d}:{int(round(h % 1 * 60)) % 60:02d}"  # noqa: E731
        return {"lat": r6(hl[0]), "lon": r6(hl[1]),
                "params": {"home": [r6(hl[0]), r6(hl[1])], "school": self.school_id,
                           "school_latlon": [r6(self.school_ll[0]), r6(self.school_ll[1])],
                           "route": [[r6(a), r6(b)] for a, b in self.route_ll()],
                           "route_corridor_m": OFF_ROUTE_M,
                           "arrive_by": hm(self.arrive_h + 10 / 60),
                           "dismissal": hm(self.dismiss_h),
                           "holidays": sorted(local_date(d).isoformat() for d in self.holidays),
                           "breaks": [["07-21", "08-31"]]}}

    def school_day(self, day: int) -> bool:
        d = local_date(day)
        summer = (d.month == 7 and d.day >= 21) or d.month == 8
        return d.weekday() < 5 and day not in self.holidays and not summer

    def usual_times(self, day: int) -> tuple[float, float]:
        """(usual arrival at school, usual arrival home) in local seconds."""
        base = day * DAY_S
        dismiss = base + self.dismiss_h * H - (40 * 60 if local_date(day).weekday() == 4 else 0)
        return base + self.arrive_h * H, dismiss + self.walk_s

    # -- the day ------------------------------------------------------------------
    def _injections_on(self, day: int, kind: str) -> Injection | None:
        for inj in self.injections:
            if inj.kind == kind and day_index(inj.start_ns) == day:
                return inj
        return None

    def _plan_day(self, day: int) -> None:
        r = self.rng
        self._day = day
        base = day * DAY_S
        home, school = self.home, self.school
        segs: list[Segment] = []
        if not self.school_day(day):
            if r.random() < 0.35:  # an afternoon at the park
                park = (home[0] + r.choice((-1, 1)) * r.randint(3, 5) * BLOCK_M,
                        home[1] + r.choice((-1, 1)) * r.randint(0, 3) * BLOCK_M)
                go = grid_path(home, park)
                t = base + r.uniform(13.5, 14.5) * H
                w = path_length(go) / self.speed
                segs += [Segment(base, t, [home], False), Segment(t, t + w, go),
                         Segment(t + w, t + w + 1.5 * H, [park]),
                         Segment(t + w + 1.5 * H, t + 2 * w + 1.5 * H, go[::-1])]
                segs.append(Segment(segs[-1].t1, base + DAY_S, [home], False))
            else:
                segs.append(Segment(base, base + DAY_S, [home], False))
            self.segments = segs
            return
        usual_arrive, _ = self.usual_times(day)
        leave = usual_arrive - self.walk_s + r.gauss(0, 120)
        late = self._injections_on(day, "late_arrival")
        if late is not None:
            leave += (late.end_ns - late.start_ns) / NS
        arrive = leave + self.walk_s
        if late is not None:
            self._label_at(EventKind.LATE_ARRIVAL, usual_arrive, arrive, Severity.WARNING)
        segs += [Segment(base, leave, [home], False), Segment(leave, arrive, self.route),
                 Segment(arrive, 0, [school], False)]
        dismiss = base + self.dismiss_h * H + r.gauss(0, 300)
        if local_date(day).weekday() == 4:
            dismiss -= 40 * 60
        segs[-1].t1 = dismiss
        back = self.route[::-1]
        off = self._injections_on(day, "off_route")
        dwell = self._injections_on(day, "unusual_dwell")
        t = dismiss
        if off is not None:
            # a detour to a place 400–800 m off the route, a short stay, then home
            mid = along(self.route, 0.5)
            dn, de = (0.0, 1.0) if self.north_first else (1.0, 0.0)
            k = self.plan_rng.choice((-1, 1)) * self.plan_rng.uniform(400, 800)
            spot = (round((mid[0] + dn * k) / BLOCK_M) * BLOCK_M,
                    round((mid[1] + de * k) / BLOCK_M) * BLOCK_M)
            p1, p2 = grid_path(school, spot, not self.north_first), grid_path(spot, home)
            w1, w2 = path_length(p1) / self.speed, path_length(p2) / self.speed
            stay = (off.end_ns - off.start_ns) / NS
            segs += [Segment(t, t + w1, p1), Segment(t + w1, t + w1 + stay, [spot]),
                     Segment(t + w1 + stay, t + w1 + stay + w2, p2)]
            t = segs[-1].t1
            self._label_off_route(segs[-3:])
        elif dwell is not None:
            frac = self.plan_rng.uniform(0.3, 0.7)
            first, second = split(back, frac)
            w1 = frac * self.walk_s
            stay = (dwell.end_ns - dwell.start_ns) / NS
            segs += [Segment(t, t + w1, first), Segment(t + w1, t + w1 + stay, [first[-1]]),
                     Segment(t + w1 + stay, t + self.walk_s + stay, second)]
            self._label_at(EventKind.UNUSUAL_DWELL, t + w1, t + w1 + stay, Severity.WARNING)
            t = segs[-1].t1
        else:
            segs.append(Segment(t, t + self.walk_s, back))
            t += self.walk_s
        segs.append(Segment(t, base + DAY_S, [home], False))
        self.segments = segs

    def _label_at(self, kind: EventKind, ls0: float, ls1: float, sev: Severity) -> None:
        to_ns = lambda ls: int((ls - 9 * H) * NS)  # noqa: E731 — local seconds → ns UTC
        self.add_label(kind, to_ns(ls0), to_ns(ls1), sev)

    def _label_off_route(self, segs: list[Segment]) -> None:
        first = last = None
        t, end = segs[0].t0, segs[-1].t1
        while t <= end:
            seg = next(s for s in segs if s.t0 <= t <= s.t1)
            if distance_to_path(seg.where(t), self.route) > OFF_ROUTE_M:
                first = t if first is None else first
                last = t
            t += 15
        if first is not None:
            self._label_at(EventKind.OFF_ROUTE, first, last, Severity.WARNING)

    def place(self, kind: str, day_start_ns: int, rng) -> int | None:
        day = day_index(day_start_ns)
        if kind in ("off_route", "late_arrival", "unusual_dwell") and not self.school_day(day):
            return None
        h = {"late_arrival": 7.0, "off_route": 15.0, "unusual_dwell": 15.0}.get(kind)
        if h is None:
            h = rng.uniform(7.0, 19.0)
        return day_start_ns + int(h * H * NS)

    def on_inject(self, inj: Injection) -> None:
        if inj.kind == "sos":
            self.uplink_now(inj.start_ns + int(self.plan_rng.uniform(1, 5) * NS), "sos")

    # -- one uplink ------------------------------------------------------------------
    def _segment(self, ls: float) -> Segment:
        for s in self.segments:
            if s.t0 <= ls < s.t1:
                return s
        return self.segments[-1]

    def cadence_s(self) -> float:
        return self._cadence

    _cadence = STILL_INTERVAL_S

    def sample(self, ts_ns: int, dt_s: float, event: str | None) -> Fields | None:
        r = self.rng
        ls = local_seconds(ts_ns)
        day = day_index(ts_ns)
        if day != self._day:
            self._plan_day(day)
        seg = self._segment(ls)
        moving = len(seg.path) > 1
        self.pos = seg.where(ls)
        fast = min(MOVING_INTERVAL_S, self.interval_s)
        if moving:
            self._cadence = fast
        else:  # wake on motion: the next fix comes soon after the child sets off
            self._cadence = min(self.interval_s, max(fast, seg.t1 - ls + 5))
        if not self.drain(ts_ns, dt_s, self.drain_pct_day):
            return None
        if self.battery < 30 and ls % DAY_S > 19 * H and not self.act.get("battery_dead"):
            self.battery = 100.0  # the parents charge it that evening when the app says so
        acc = clamp(r.gauss(4.9, 0.8), 3.0, 9.0) if seg.outdoors else r.uniform(10, 25)
        sigma = acc / 2.448  # acc is the 95 % radius of a 2-D normal error
        lat, lon = self.latlon((self.pos[0] + r.gauss(0, sigma), self.pos[1] + r.gauss(0, sigma)))
        if self.truth is not None:
            tl = self.latlon(self.pos)
            self.truth.append((ts_ns, {"lat": tl[0], "lon": tl[1], "outdoors": seg.outdoors,
                                       "moving": moving}))
        return {"lat": round(lat, 6), "lon": round(lon, 6), "gps_accuracy_m": round(acc, 1),
                "sos": event == "sos", "battery_pct": round(self.battery, 1)}
