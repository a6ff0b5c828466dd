r"""Canonical readings → line protocol, split by data category (pure logic).

A person's position (``lat``, ``lon``, ``gps_accuracy_m``) never goes into
the family's measurement: it goes to measurement ``location`` (short
retention, never downsampled). Everything else goes to the family's
measurement. Tags: ``device_id``, ``site``, ``profile`` only.

>>> from mimamori.contracts import Family, Reading
>>> b = LineBuilder()
>>> r = Reading("w-1", "wearable_v1", Family.WEARABLE, "home-3", 10,
...             {"heart_rate_bpm": 72, "lat": 34.5, "lon": 136.6})
>>> raw, loc = [], []
>>> b.add(r, raw, loc)
>>> raw
['wearable,device_id=w-1,profile=wearable_v1,site=home-3 heart_rate_bpm=72i 10']
>>> loc
['location,device_id=w-1,profile=wearable_v1,site=home-3 lat=34.5,lon=136.6 10']
"""

from __future__ import annotations

from typing import Any

from mimamori.contracts import Reading

from .line_protocol import LineError, escape_key, escape_measurement, format_value, line

LOCATION_MEASUREMENT = "location"
LOCATION_FIELDS = frozenset({"lat", "lon", "gps_accuracy_m"})


class LineBuilder:
    """Builds lines fast: the escaped series key of each device and every
    escaped field key are computed once and cached (bounded)."""

    MAX_CACHE = 200_000

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str, str, str], str] = {}
        self._keys: dict[str, str] = {}

    def _head(self, measurement: str, device_id: str, site: str, profile: str) -> str:
        k = (measurement, device_id, site, profile)
        h = self._heads.get(k)
        if h is None:
            h = line(measurement, {"device_id": device_id, "site": site, "profile": profile},
                     {"x": 0}, 0).rsplit(" ", 2)[0]
            if len(self._heads) >= self.MAX_CACHE:
                self._heads.clear()
            self._heads[k] = h
        return h

    def _fields(self, fields: dict[str, Any], names) -> str:
        keys = self._keys
        parts = []
        for k in names:
            ek = keys.get(k)
            if ek is None:
                ek = escape_key(k)
                if len(keys) < self.MAX_CACHE:
                    keys[k] = ek
            parts.append(f"{ek}={format_value(fields[k])}")
        return ",".join(parts)

    def add(self, r: Reading, raw: list[str], location: list[str]) -> None:
        """Append the reading's line(s); raises :class:`LineError` (nothing
        appended) when a value cannot be written."""
        fields = r.fields
        if not fields:
            raise LineError("a point needs at least one field")
        if LOCATION_FIELDS.isdisjoint(fields):
            head = self._head(r.family.value, r.device_id, r.site, r.profile)
            raw.append(f"{head} {self._fields(fields, fields)} {r.ts_ns}")
            return
        rest = [k for k in fields if k not in LOCATION_FIELDS]
        where = [k for k in fields if k in LOCATION_FIELDS]
        out = []
        if rest:
            head = self._head(r.family.value, r.device_id, r.site, r.profile)
            out.append(f"{head} {self._fields(fields, rest)} {r.ts_ns}")
        head = self._head(LOCATION_MEASUREMENT, r.device_id, r.site, r.profile)
        loc = f"{head} {self._fields(fields, where)} {r.ts_ns}"
        if rest:
            raw.append(out[0])
        location.append(loc)


def _split_unescaped(text: str, seps: str, maxsplit: int = -1) -> list[str]:
    """Split at characters in ``seps`` that no backslash escapes."""
    parts, start, i, n = [], 0, 0, len(text)
    while i < n and maxsplit != 0:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in seps:
            parts.append(text[start:i])
            start = i + 1
            maxsplit -= 1
        i += 1
    parts.append(text[start:])
    return parts


def _unescape(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] == "\\" and i + 1 < n and text[i + 1] in ", =":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def measurement_of(line_text: str) -> str:
    """The (escaped) measurement name at the start of a line.

    >>> measurement_of(r'my\\ m,device_id=a x=1')
    'my\\\\ m'
    """
    return _split_unescaped(line_text, ", ", 1)[0]


def tags_of(line_text: str) -> dict[str, str]:
    """The tags of a line, unescaped (escaped commas, spaces and equals
    signs stay inside their tag).

    >>> tags_of(r'paddy,device_id=a\\,b,site=f\\ 1\\=x water_level_cm=5 1')
    {'device_id': 'a,b', 'site': 'f 1=x'}
    """
    key = _split_unescaped(line_text, " ", 1)[0]
    tags = {}
    for part in _split_unescaped(key, ",")[1:]:
        k, *v = _split_unescaped(part, "=", 1)
        tags[_unescape(k)] = _unescape(v[0]) if v else ""
    return tags


__all__ = ["LineBuilder", "LOCATION_MEASUREMENT", "LOCATION_FIELDS", "measurement_of", "tags_of",
           "escape_measurement"]
