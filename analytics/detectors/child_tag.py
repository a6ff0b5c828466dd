"""Child location-tag detectors (DOMAIN.md §2).

Per-child settings come from the registry (``ctx``): ``home`` [lat, lon],
``school_latlon`` [lat, lon], ``route`` [[lat, lon], ...] (the usual walk),
``route_corridor_m`` (default 100), ``arrive_by`` "HH:MM" (local), and the
school calendar: ``holidays`` (ISO dates) and ``breaks`` ([["MM-DD",
"MM-DD"], ...], default the summer break 07-21..08-31). Without them a
detector stays silent (it cannot judge).

* :class:`OffRouteDetector` — on the way home, fixes farther than the
  corridor from the route by more than their accuracy; two confirming fixes.
* :class:`LateArrivalDetector` — time-driven: on a school day, not within
  the school's radius by ``arrive_by`` + grace.
* :class:`UnusualDwellDetector` — on a school day after school, still for
  ``min_s`` somewhere that is neither home nor school nor off the route.

>>> route = [[34.488, 136.629], [34.497, 136.629]]
>>> d = OffRouteDetector()
>>> ctx = {"route": route, "school_latlon": route[0], "home": route[1]}
>>> d.score_one(Sample(0, {"lat": 34.492, "lon": 136.6291, "gps_accuracy_m": 5}, ctx))
0.0
>>> d.score_one(Sample(0, {"lat": 34.492, "lon": 136.640, "gps_accuracy_m": 5}, ctx))
1.0
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from mimamori.contracts import EventKind

from .base import Detector, Sample
from .baseline import JST_S, local_day, local_hour
from .wearable import distance_m

NS = 1_000_000_000
M_PER_DEG = 111_320.0


def _xy(p: tuple[float, float], ref: tuple[float, float]) -> tuple[float, float]:
    return ((p[0] - ref[0]) * M_PER_DEG,
            (p[1] - ref[1]) * M_PER_DEG * math.cos(math.radians(ref[0])))


def distance_to_route_m(p: tuple[float, float], route: list) -> float:
    ref = (float(route[0][0]), float(route[0][1]))
    px, py = _xy(p, ref)
    pts = [_xy((float(a), float(b)), ref) for a, b in route]
    best = math.inf
    for (ax, ay), (bx, by) in zip(pts, pts[1:] or pts):
        dx, dy = bx - ax, by - ay
        L2 = dx * dx + dy * dy
        t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / L2))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day)


def school_day(ctx: dict[str, Any], day: int) -> bool:
    d = _date(day)
    if d.weekday() >= 5 or d.isoformat() in set(map(str, ctx.get("holidays", ()))):
        return False
    md = d.strftime("%m-%d")
    for a, b in ctx.get("breaks", (("07-21", "08-31"),)):
        if (a <= md <= b) if a <= b else (md >= a or md <= b):
            return False
    return True


def _hm(text: str) -> float:
    h, m = str(text).split(":")[:2]
    return int(h) + int(m) / 60


def _latlon(x: Sample) -> tuple[float, float] | None:
    lat, lon = x.num("lat"), x.num("lon")
    return None if lat is None or lon is None else (lat, lon)


def _near(p, place, radius: float) -> bool:
    return bool(place) and distance_m(p, (float(place[0]), float(place[1]))) <= radius


class OffRouteDetector(Detector):
    name = "off_route"
    kind = EventKind.OFF_ROUTE
    min_duration = 2
    STATE = ()

    def __init__(self, corridor_m: float = 100.0, place_radius_m: float = 50.0,
                 max_accuracy_m: float = 60.0) -> None:
        self.corridor_m, self.place_radius_m = corridor_m, place_radius_m
        self.max_accuracy_m = max_accuracy_m

    def score_one(self, x: Sample) -> float | None:
        p, route = _latlon(x), x.ctx.get("route")
        if p is None or not route:
            return None
        acc = x.num("gps_accuracy_m") or 10.0
        if acc > self.max_accuracy_m or not school_day(x.ctx, local_day(x.ts_ns)):
            return 0.0
        if _near(p, x.ctx.get("home"), self.place_radius_m) or \
                _near(p, x.ctx.get("school_latlon"), self.place_radius_m):
            return 0.0
        corridor = float(x.ctx.get("route_corridor_m", self.corridor_m))
        d = distance_to_route_m(p, route)
        return 1.0 if d - acc > corridor else 0.5 if d > corridor else 0.0

    def learn_one(self, x: Sample) -> None:
        pass

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        if x is None or not x.ctx.get("route") or _latlon(x) is None:
            return {}
        return {"distance_from_route_m": round(distance_to_route_m(_latlon(x), x.ctx["route"]))}


class LateArrivalDetector(Detector):
    """Time-driven; readings near the school mark today's arrival."""

    name = "late_arrival"
    kind = EventKind.LATE_ARRIVAL
    STATE = ("arrived_day", "ctx_cache")

    def __init__(self, grace_s: float = 300, school_radius_m: float = 150.0) -> None:
        self.grace_s, self.school_radius_m = grace_s, school_radius_m
        self.arrived_day = -1
        self.ctx_cache: dict[str, Any] = {}

    def _deadline_on(self, day: int) -> int | None:
        ctx = self.ctx_cache
        if not ctx.get("arrive_by") or not ctx.get("school_latlon") or not school_day(ctx, day):
            return None
        local_s = day * 86400 + _hm(ctx["arrive_by"]) * 3600 + self.grace_s
        return int((local_s - JST_S) * NS)

    def deadline_ns(self, now_ns: int | None = None) -> int | None:
        """The next moment :meth:`score_at` can say something new."""
        if now_ns is None:
            return None
        day = local_day(now_ns)
        for d in (day, day + 1, day + 2, day + 3, day + 4):
            t = self._deadline_on(d)
            if t is not None and t >= now_ns and self.arrived_day != d:
                return t
        return None

    def score_at(self, now_ns: int) -> float | None:
        day = local_day(now_ns)
        t = self._deadline_on(day)
        if t is None or now_ns < t or local_hour(now_ns) >= 13.0:
            return 0.0 if t is not None else None
        return 0.0 if self.arrived_day == day else 1.0

    def score_one(self, x: Sample) -> float | None:
        p = _latlon(x)
        if p is None:
            return None
        if _near(p, x.ctx.get("school_latlon"), self.school_radius_m):
            return 0.0
        return self.score_at(x.ts_ns) if x.ctx else None

    def learn_one(self, x: Sample) -> None:
        if x.ctx:
            self.ctx_cache = {k: x.ctx[k] for k in ("arrive_by", "school_latlon", "holidays",
                                                    "breaks") if k in x.ctx}
        p = _latlon(x)
        if p is not None and _near(p, x.ctx.get("school_latlon"), self.school_radius_m):
            self.arrived_day = local_day(x.ts_ns)


class UnusualDwellDetector(Detector):
    name = "unusual_dwell"
    kind = EventKind.UNUSUAL_DWELL
    STATE = ("spot", "since_ns")

    def __init__(self, min_s: float = 600, spot_radius_m: float = 50.0,
                 place_radius_m: float = 150.0, corridor_m: float = 100.0) -> None:
        self.min_ns, self.spot_radius_m = int(min_s * NS), spot_radius_m
        self.place_radius_m, self.corridor_m = place_radius_m, corridor_m
        self.spot: list[float] | None = None
        self.since_ns = 0

    def _same_spot(self, p) -> bool:
        return self.spot is not None and distance_m(p, tuple(self.spot)) <= self.spot_radius_m

    def score_one(self, x: Sample) -> float | None:
        p = _latlon(x)
        if p is None or not x.ctx.get("home") or not x.ctx.get("school_latlon"):
            return None
        if not school_day(x.ctx, local_day(x.ts_ns)) or local_hour(x.ts_ns) < 12.0:
            return 0.0
        if _near(p, x.ctx["home"], self.place_radius_m) or \
                _near(p, x.ctx["school_latlon"], self.place_radius_m):
            return 0.0
        route = x.ctx.get("route")
        if route and distance_to_route_m(p, route) > float(
                x.ctx.get("route_corridor_m", self.corridor_m)):
            return 0.0  # off the route: the off-route detector speaks
        if self._same_spot(p) and x.ts_ns - self.since_ns >= self.min_ns:
            return 1.0
        return 0.0

    def learn_one(self, x: Sample) -> None:
        p = _latlon(x)
        if p is None:
            return
        if not self._same_spot(p):
            self.spot, self.since_ns = [p[0], p[1]], x.ts_ns
