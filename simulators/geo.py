"""Tamaki town geography for simulators (DOMAIN.md §7) and flat-earth
metres ↔ degrees, which is accurate to well under a metre over a few km.

The zone boxes are DOMAIN.md's approximate placement boxes [A]; only the town
centre and 田丸駅 are verified coordinates. School positions are placed
inside their districts, not surveyed.

>>> lat, lon = offset(TOWN_CENTRE[0], TOWN_CENTRE[1], 100.0, 0.0)
>>> round(distance_m(TOWN_CENTRE[0], TOWN_CENTRE[1], lat, lon), 3)
100.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TOWN_CENTRE = (34.483, 136.633)
TAMARU_STATION = (34.48854, 136.63404)
M_PER_DEG_LAT = 110_950.0  # at 34.5° N
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(TOWN_CENTRE[0]))


@dataclass(frozen=True)
class Zone:
    name: str
    lat: tuple[float, float]
    lon: tuple[float, float]
    use: str


ZONES = {
    "town": Zone("町域 (town envelope)", (34.43, 34.52), (136.57, 136.70), "clip"),
    "tamaru": Zone("田丸 centre", (34.482, 34.495), (136.620, 136.640), "homes, schools"),
    "paddy_belt": Zone("外城田川 paddy belt", (34.465, 34.500), (136.585, 136.625), "paddies"),
    "north_plain": Zone("North plain (下外城田)", (34.495, 34.515), (136.600, 136.650),
                        "paddies, homes"),
    "east": Zone("East / 宮川 left bank (有田・岩出)", (34.440, 34.490), (136.640, 136.690),
                 "paddies, water mains"),
    "south_hills": Zone("South hills (度会山地)", (34.430, 34.460), (136.580, 136.650),
                        "sparse homes"),
}

# The four primary schools (DOMAIN.md §7), placed inside their districts [A].
SCHOOLS = {
    "school-tamaru": ("田丸小学校", 34.4880, 136.6290),
    "school-shimotokida": ("下外城田小学校", 34.5040, 136.6200),
    "school-arita": ("有田小学校", 34.4700, 136.6600),
    "school-tokida": ("外城田小学校", 34.4780, 136.6050),
}


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG_LAT, lon + east_m / M_PER_DEG_LON


def to_local(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(north_m, east_m) of a point relative to an origin."""
    return (lat - lat0) * M_PER_DEG_LAT, (lon - lon0) * M_PER_DEG_LON


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    n, e = to_local(lat1, lon1, lat2, lon2)
    return math.hypot(n, e)


def clip_to_town(lat: float, lon: float) -> tuple[float, float]:
    z = ZONES["town"]
    return min(max(lat, z.lat[0]), z.lat[1]), min(max(lon, z.lon[0]), z.lon[1])


def random_point(zone: str, rng) -> tuple[float, float]:
    z = ZONES[zone]
    return rng.uniform(*z.lat), rng.uniform(*z.lon)
