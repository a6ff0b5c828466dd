"""Distances over a town, and the one rule for which rain gauge a field reads.

The web UI (a field's rain beside its water level) and the analytics stage
(the area drift check) must agree on a field's area, so both use
:func:`nearest_within` with :data:`AREA_RADIUS_M`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar

K = TypeVar("K")

# a field reads the rain of its area's gauge, if one stands this near
AREA_RADIUS_M = 5000.0


def distance_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    """Ground distance (equirectangular; well under 1 % off over a town).

    >>> round(distance_m(34.48, 136.63, 34.49, 136.63))
    1112
    """
    kx = math.cos(math.radians((lat0 + lat1) / 2)) * 111_320
    return math.hypot((lon1 - lon0) * kx, (lat1 - lat0) * 111_195)


def nearest_within(lat: float, lon: float,
                   points: Iterable[tuple[K, float | None, float | None]],
                   radius_m: float = AREA_RADIUS_M) -> tuple[K, float] | None:
    """The nearest of ``(key, lat, lon)`` points within ``radius_m`` (points
    without a position are skipped), and its distance; None if none is.

    >>> key, d = nearest_within(34.48, 136.60, [("a", 34.49, 136.60), ("b", 34.481, 136.60),
    ...                                         ("c", None, None)])
    >>> key, round(d)
    ('b', 111)
    >>> nearest_within(34.48, 136.60, [("far", 34.60, 136.60)]) is None
    True
    """
    best: tuple[float, K] | None = None
    for key, plat, plon in points:
        if plat is None or plon is None:
            continue
        d = distance_m(lat, lon, plat, plon)
        if d <= radius_m and (best is None or d < best[0]):
            best = (d, key)
    return None if best is None else (best[1], best[0])
