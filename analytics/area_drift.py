"""A drifting paddy level sensor, seen against its farming area's rain gauge.

A field's level cannot stand above its outlet weir (水尻): the water
overflows. In hard rain a field rises about 1 mm per mm of rain (DOMAIN.md
§3.2: more than it loses to percolation and evapotranspiration) until it
reaches the weir, then stays there while the rain goes on. So a level that
goes *flat while the area's gauge measures hard rain* is a field at its weir,
and what the sensor reads then, minus the stage's weir height (the crop
calendar; 0 cm while drained: the outlet is open), is the sensor's offset.
The per-device drift detector (:mod:`analytics.detectors.paddy_drift`) can
only see a sensor reading *above* the weir; this one sees the offset in
either direction, from one rain.

The test, at every reading of a field while the gauge still counts
``raining_mm`` in the last 30 min (a rain begins after ``dry_s`` without a
tip). A field below its weir rises by the rain minus its losses — its own
減水深: the largest fall of its last ``nights`` dry nights (22–23 h mean minus
03–04 h mean, no gauge tip between, both means ≥ 1 cm: water below the soil
sinks ~3 × slower) plus ``et_mm_h``; ``max_loss_mm_h`` until a night is known
(a leaky field loses ~1.9 mm/h). The field is held at its weir when

* its level (mean of the last 3 readings) rose at least ``margin_cm`` less
  than that since the rain began, or ``window_margin_cm`` less since any
  moment of the last 2 h (a farmer's inlet may have added water early in the
  rain; a wider margin for the best of many comparisons);
* it is flat now (the last hour rose no more than ``flat_cm``);
* it rose at least ``min_rise_cm`` in this rain (it got the rain: a level
  that fell is a breach or an opened drain, not a weir), and is not below the
  soil surface (``soil_cm``) while the stage's weir stands above it (water
  draining away through a breach).

Over ``min_pinned`` such readings the median of ``reading − weir`` is the
offset; ``offset_cm`` or more opens a ``sensor_drift`` finding (evidence:
the offset, the rain, the weir, the loss, the fall after) once the rain is
over and the field's level has fallen no more than ``confirm_fall_cm`` in
the ``confirm_s`` after it: a levee breach in the rain also stops a field's
rise short of the rain, but after the rain it drains the field at 10–30
mm/h, where a field at its weir loses only its 0.2–2 mm/h. A later rain that
holds the field within ``clear_cm`` of its weir clears it. Not judged: a stuck sensor (no
change in the last hour), a field without readings in the hour before the
rain or whose level then was below ``floor_cm`` (near the probe's lowest
reading: a rise it cannot show is no shortfall), and a field without gauge
readings (gauge silent, or none in the area): no rain measured is not
"no rain".

Areas: a field belongs to the nearest rain gauge within ``radius_m``
(:func:`assign_areas`, from the devices' registered positions). The logic is
pure (:class:`AreaDrift`); the stage and the offline evaluation feed it every
paddy-family reading in time order and pass its changes through
:meth:`analytics.engine.Engine.external` (one open finding per device and
kind, shared with the per-device drift detector).

>>> NS, H = 10**9, 3600 * 10**9
>>> ctx = {"transplant": "2026-04-20"}   # intermittent irrigation in June: weir 6 cm
>>> a = AreaDrift(AreaDriftConfig())
>>> a.set_areas({"f1": "g1"})
>>> t0 = 1_781_000_000 * NS
>>> out = []
>>> for i in range(66):   # 11 h: rain 6 mm/h from h 1 to 8; the field reaches its weir
...     t = t0 + i * 600 * NS                  # (reads 4.5–4.7), then the dry hours after
...     out += a.process("g1", t, {"rain_mm": 1.0 if 6 <= i < 48 else 0.0}, None)
...     true = min(4.5 + max(0, i - 6) * 0.1, 6.0)
...     out += a.process("f1", t + 60 * NS, {"water_level_cm": true - 1.5 + (i % 2) * 0.2}, ctx)
>>> [(c.change, c.evidence["offset_cm"], round((c.ts_ns - t0) / H, 1)) for c in out]
[('opened', -1.4, 10.8)]
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from device_profiles.profile import Profile
from mimamori.contracts import EventKind, Family, Severity
from mimamori.geo import AREA_RADIUS_M, nearest_within

from .detectors.baseline import local_day, local_hour
from .detectors.paddy import AREA_DRY, stage_for
from .engine import Change, Engine

NS = 1_000_000_000
H_NS = 3600 * NS
LEVEL = "water_level_cm"
RAIN = "rain_mm"


class AreaDriftConfig(BaseModel):
    """Settings of the area drift check (defaults declared once, here)."""

    radius_m: float = AREA_RADIUS_M  # a field reads the rain of a gauge this near (as the web UI)
    dry_s: float = 3600.0        # rain after this long without a tip starts a new rain
    max_loss_mm_h: float = 2.0   # a field's loss while it rains, before its nights are known
    et_mm_h: float = 0.5         # evapotranspiration on a rain day, on top of a night's loss
    nights: int = 3              # the field's loss: the largest of its last dry nights
    margin_cm: float = 0.3       # a rise this much short of the rain: held at the weir
    window_margin_cm: float = 0.8  # … or this much, from a moment of the last 2 h
    min_rise_cm: float = 0.3     # … after rising this much in the rain (it got the rain;
                                 # a level that fell is a breach or a drain, not a weir)
    raining_mm: float = 2.0      # … while the gauge still counts this in the last 30 min
    floor_cm: float = -4.0       # a level probe reads no deeper than ~5 cm below the soil:
                                 # a rain that began below this is not judged
    soil_cm: float = 0.0         # held below the soil surface: a breach or a drain, not a weir
    flat_cm: float = 0.2         # held: the last hour rose no more than this (3-reading means)
    min_pinned: int = 6          # readings held at the weir before the offset is judged
    offset_cm: float = 0.8       # |reading − weir| that opens a finding (as the per-device one)
    clear_cm: float = 0.5        # a rain that pins the field this close to the weir clears it
    confirm_s: float = 7200.0       # an offset opens only after this long dry after the rain …
    confirm_fall_cm: float = 1.0  # … in which the level fell no more than this (a levee
                                  # breach in the rain also stops the rise short; after the
                                  # rain it drains the field at 10–30 mm/h, a weir does not)


def assign_areas(devices: Iterable[tuple[str, str, float | None, float | None]],
                 radius_m: float = AREA_RADIUS_M) -> dict[str, str]:
    """``(device_id, role, lat, lon)`` rows, role ``"gauge"`` (a rain gauge),
    ``"field"`` (a paddy field's level sensor) or anything else (ignored) →
    field device → its area's gauge: the nearest gauge within ``radius_m``
    (:func:`mimamori.geo.nearest_within`, the web UI's rule too).

    >>> assign_areas([("g", "gauge", 34.48, 136.60), ("f1", "field", 34.49, 136.60),
    ...               ("f2", "field", 34.60, 136.60), ("w", "", 34.48, 136.60)])
    {'f1': 'g'}
    """
    rows = list(devices)
    gauges = [(d, lat, lon) for d, role, lat, lon in rows if role == "gauge"]
    out: dict[str, str] = {}
    for d, role, lat, lon in rows:
        if role != "field" or lat is None or lon is None:
            continue
        best = nearest_within(lat, lon, gauges, radius_m)
        if best is not None:
            out[d] = best[0]
    return out


def area_role(profile: Profile | None) -> str:
    """A device's part in the area check: ``"gauge"``, ``"field"`` or ``""``."""
    if profile is None:
        return ""
    if profile.is_rain_gauge:
        return "gauge"
    return "field" if profile.family is Family.PADDY else ""


class _Gauge:
    __slots__ = ("cum", "hist", "last_ns", "last_wet", "recent", "seen", "start", "total")

    def __init__(self) -> None:
        self.start = 0          # when the current rain began (0: none yet)
        self.cum = 0.0          # mm counted since then
        self.last_wet = 0       # the last uplink with rain
        self.last_ns = 0        # the last uplink
        self.seen = 0           # the first uplink
        self.total = 0.0        # mm counted ever (a night with no tip: unchanged)
        self.recent: deque[tuple[int, float]] = deque()   # the last 30 min
        self.hist: deque[tuple[int, float]] = deque()     # (ts, total) of the last 3 h

    def add(self, ts: int, mm: float, dry_ns: int) -> None:
        if mm > 0:
            if not self.start or ts - self.last_wet > dry_ns:
                self.start, self.cum = (self.last_ns or ts), 0.0   # the tips fell since then
            self.cum += mm
            self.total += mm
            self.last_wet = ts
        self.last_ns = ts
        if not self.seen:
            self.seen = ts
        self.hist.append((ts, self.total))
        while self.hist and ts - self.hist[0][0] > 3 * H_NS:
            self.hist.popleft()
        self.recent.append((ts, mm))
        while self.recent and ts - self.recent[0][0] > H_NS // 2:
            self.recent.popleft()

    def total_at(self, ts: int) -> float | None:
        """The rain counted up to ``ts`` (None: before the kept history)."""
        if not self.hist or ts < self.hist[0][0]:
            return None
        out = self.hist[0][1]
        for t, total in self.hist:
            if t > ts:
                break
            out = total
        return out

    def dry_hours(self, ts: int) -> float | None:
        """Hours since the gauge last counted rain (since its first uplink,
        if it never did); None while it is silent (no rain measured is not no rain)."""
        if not self.last_ns or ts - self.last_ns > H_NS:
            return None
        return (ts - (self.last_wet or self.seen)) / H_NS

    def raining(self, ts: int, dry_ns: int) -> bool:
        return bool(self.start) and ts - self.last_wet <= dry_ns


class _Field:
    __slots__ = ("base", "event", "levels", "losses", "night", "offset", "open", "pending",
                 "pin_vals")

    def __init__(self) -> None:
        self.levels: deque[tuple[int, float]] = deque()   # the last 2 h
        self.event = 0                 # the rain (its start) the base belongs to
        self.base: float | None = None  # mean level in the hour before that rain
        self.pin_vals: list[float] = []
        self.offset: float | None = None
        self.open = False
        # an offset waiting for the dry hours after its rain: [evidence, since_ns, level then]
        self.pending: list[Any] = []
        # tonight: [local day, sum 22–23 h, n, sum 03–04 h, n, gauge total at 22 h]
        self.night: list[float] = []
        self.losses: list[float] = []   # mm/h of the last dry nights

    def learn_night(self, ts: int, v: float, g: _Gauge | None, keep: int) -> None:
        """The field's loss from its level on dry nights (O(1) per reading)."""
        h, day = local_hour(ts), local_day(ts)
        n = self.night
        if 22 <= h < 23:
            if not n or n[0] != day:
                n[:] = [day, 0.0, 0, 0.0, 0, g.total if g is not None else -1.0]
            n[1] += v
            n[2] += 1
        elif n and n[0] == day - 1 and 3 <= h < 4:
            n[3] += v
            n[4] += 1
        elif n and h >= 4 and n[0] < day:
            if n[2] >= 3 and n[4] >= 3 and g is not None and n[0] == day - 1 \
                    and g.total == n[5]:
                a, b = n[1] / n[2], n[3] / n[4]
                rate = (a - b) / 5 * 10   # cm over 5 h → mm/h
                # ponded all night (below the soil surface water sinks ~3 × slower)
                if rate >= 0 and min(a, b) >= 1.0:
                    self.losses = (self.losses + [rate])[-keep:]
            n.clear()


class AreaDrift:
    """The areas' rain and their fields' levels; pure (no I/O, no clock)."""

    def __init__(self, cfg: AreaDriftConfig | None = None) -> None:
        self.cfg = cfg or AreaDriftConfig()
        self.area_of: dict[str, str] = {}         # field → gauge
        self.gauges: dict[str, _Gauge] = {}
        self.fields: dict[str, _Field] = {}
        self._dry_ns = int(self.cfg.dry_s * NS)

    def set_areas(self, area_of: dict[str, str]) -> None:
        self.area_of = dict(area_of)

    def dry_hours(self, device_id: str, ts_ns: int) -> float | None:
        """Hours since the field's area gauge last counted rain (None: no
        gauge for it, or the gauge is silent)."""
        gauge = self.area_of.get(device_id)
        g = self.gauges.get(gauge) if gauge is not None else None
        return g.dry_hours(ts_ns) if g is not None else None

    def annotate(self, device_id: str, ts_ns: int, fields: dict[str, Any]) -> None:
        """Give a field's reading its area's rain as the derived field
        ``area_dry_h`` (hours since the gauge last counted rain), so the
        field's own detectors can tell rain from an open inlet
        (:class:`~analytics.detectors.paddy.WaterBandDetector`). Called before
        the engine judges the reading; a field without a (live) gauge gets none."""
        if LEVEL in fields:
            dry = self.dry_hours(device_id, ts_ns)
            if dry is not None:
                fields[AREA_DRY] = round(dry, 2)

    def process(self, device_id: str, ts_ns: int, fields: dict[str, Any],
                ctx: dict[str, Any] | None) -> list[Change]:
        """One reading (a gauge's or a field's), in time order."""
        rain = fields.get(RAIN)
        if type(rain) in (int, float):
            g = self.gauges.get(device_id)
            if g is None:
                g = self.gauges[device_id] = _Gauge()
            g.add(ts_ns, float(rain), self._dry_ns)
            return []
        gauge = self.area_of.get(device_id)
        v = fields.get(LEVEL)
        if gauge is None or type(v) not in (int, float):
            return []
        f = self.fields.get(device_id)
        if f is None:
            f = self.fields[device_id] = _Field()
        lv = f.levels
        lv.append((ts_ns, float(v)))
        while lv and ts_ns - lv[0][0] > 2 * H_NS:
            lv.popleft()
        g = self.gauges.get(gauge)
        f.learn_night(ts_ns, float(v), g, self.cfg.nights)
        if g is None or not g.raining(ts_ns, self._dry_ns):
            f.event, f.base, f.pin_vals = 0, None, []
            return self._confirm(device_id, f, ts_ns) if f.pending and g is not None else []
        if f.pending:
            f.pending[1] = 0   # rain again: the dry hours start over after it
        return self._judge(device_id, f, g, ts_ns, float(v), gauge, ctx or {})

    def _confirm(self, device_id: str, f: _Field, ts: int) -> list[Change]:
        """The dry hours after a rain that showed an offset: a field held at
        its weir then loses water slowly (its own loss); one whose levee broke
        in the rain drains fast — no offset, then."""
        last = [y for t, y in f.levels if ts - t <= H_NS][-3:]
        now = sum(last) / len(last)
        ev, since = f.pending[0], f.pending[1]
        if not since:
            f.pending[1], f.pending[2] = ts, now
            return []
        if ts - since < self.cfg.confirm_s * NS:
            return []
        fall = f.pending[2] - now
        f.pending = []
        if fall > self.cfg.confirm_fall_cm or f.open:
            return []
        f.open = True
        return [Change(device_id, "opened", ts, {**ev, "fall_after_cm": round(fall, 2)})]

    def _judge(self, device_id: str, f: _Field, g: _Gauge, ts: int, v: float, gauge: str,
               ctx: dict[str, Any]) -> list[Change]:
        c = self.cfg
        if f.event != g.start:   # a new rain: the level before it
            f.event, f.pin_vals = g.start, []
            before = [y for t, y in f.levels if g.start - H_NS <= t <= g.start]
            f.base = sum(before) / len(before) if len(before) >= 3 else None
        if f.base is None or f.base < c.floor_cm:
            return []
        last = [y for t, y in f.levels if ts - t <= H_NS]
        if len(last) < 3 or max(last) == min(last):   # a stuck sensor is not judged
            return []
        now = sum(last[-3:]) / 3
        if now - sum(last[:3]) / 3 > c.flat_cm:   # still rising: not held (yet)
            return []
        hours = (ts - g.start) / H_NS
        loss = max(f.losses) + c.et_mm_h if f.losses else c.max_loss_mm_h
        shortfall = (g.cum - loss * hours) / 10 - (now - f.base) - c.margin_cm
        # … or since any earlier moment of the last 2 h (a farmer's inlet may
        # have added water early in the rain: the held hour still falls short)
        lv = list(f.levels)
        t_now = lv[-2][0] if len(lv) >= 3 else ts
        r_now = g.total_at(ts)
        for i in range(1, len(lv) - 4):
            t_s = lv[i][0]
            dh = (t_now - t_s) / H_NS
            r_s = g.total_at(t_s)
            if dh < 0.5 or r_s is None or r_now is None:
                continue
            level_s = (lv[i - 1][1] + lv[i][1] + lv[i + 1][1]) / 3
            shortfall = max(shortfall, (r_now - r_s - loss * dh) / 10 - (now - level_s)
                            - c.window_margin_cm)
        wet = sum(mm for _, mm in g.recent)
        if shortfall < 0 or wet < c.raining_mm or now - f.base < c.min_rise_cm:
            return []
        st = stage_for(ctx, local_day(ts))
        if st.weir_cm > 0 and now < c.soil_cm:
            return []
        f.pin_vals.append(v - st.weir_cm)
        if len(f.pin_vals) < c.min_pinned:
            return []
        n = len(f.pin_vals)
        off = f.offset = statistics.median(f.pin_vals)
        ev = {"detector": "area_drift", "offset_cm": round(off, 2), "weir_cm": st.weir_cm,
              "stage": st.name, "rain_mm": round(g.cum, 1), "rise_cm": round(now - f.base, 2),
              "loss_mm_h": round(loss, 2), "gauge": gauge, "pinned_readings": n}
        if not f.open and abs(off) >= c.offset_cm:
            if c.confirm_s > 0:
                f.pending = [ev, 0, 0.0]
                return []
            f.open = True
            return [Change(device_id, "opened", ts, ev)]
        if f.pending and abs(off) < c.clear_cm:   # as an open finding would clear
            f.pending = []
        if f.open and abs(off) < c.clear_cm:
            f.open = False
            return [Change(device_id, "cleared", ts, ev)]
        return []

    # -- checkpoints -----------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"v": 1,
                "gauges": {d: {"start": g.start, "cum": g.cum, "last_wet": g.last_wet,
                               "last_ns": g.last_ns, "total": g.total, "seen": g.seen,
                               "recent": [list(x) for x in g.recent],
                               "hist": [list(x) for x in g.hist]}
                           for d, g in self.gauges.items()},
                "fields": {d: {"levels": [list(x) for x in f.levels], "event": f.event,
                               "base": f.base, "pin_vals": f.pin_vals, "offset": f.offset,
                               "open": f.open, "night": f.night, "losses": f.losses,
                               "pending": f.pending}
                           for d, f in self.fields.items()}}

    def load_state(self, s: dict[str, Any]) -> None:
        self.gauges, self.fields = {}, {}
        for d, gs in s.get("gauges", {}).items():
            g = self.gauges[d] = _Gauge()
            g.start, g.cum = int(gs.get("start", 0)), float(gs.get("cum", 0.0))
            g.last_wet, g.last_ns = int(gs.get("last_wet", 0)), int(gs.get("last_ns", 0))
            g.total = float(gs.get("total", 0.0))
            g.seen = int(gs.get("seen", 0))
            g.recent = deque((int(t), float(mm)) for t, mm in gs.get("recent", []))
            g.hist = deque((int(t), float(x)) for t, x in gs.get("hist", []))
        for d, fs in s.get("fields", {}).items():
            f = self.fields[d] = _Field()
            f.levels = deque((int(t), float(y)) for t, y in fs.get("levels", []))
            f.event, f.base = int(fs.get("event", 0)), fs.get("base")
            f.pin_vals = [float(x) for x in fs.get("pin_vals", [])]
            f.offset, f.open = fs.get("offset"), bool(fs.get("open", False))
            f.pending = list(fs.get("pending") or [])
            f.night = list(fs.get("night", []))
            f.losses = [float(x) for x in fs.get("losses", [])]


def area_changes_into(engine: Engine, changes: Iterable[Change]) -> list[Any]:
    """Area changes through the engine: the field's one open ``sensor_drift``
    finding, shared with its per-device drift detector."""
    return engine.external_changes(changes, "area_drift", EventKind.SENSOR_DRIFT, Severity.INFO)


def area_into(area: AreaDrift, engine: Engine, device_id: str, ts_ns: int,
              fields: dict[str, Any], ctx: dict[str, Any] | None) -> list[Any]:
    """Feed one reading to the area check (after the engine has judged it)
    and pass its changes through the engine; the findings to publish."""
    return area_changes_into(engine, area.process(device_id, ts_ns, fields, ctx))
