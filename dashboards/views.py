"""Assembling what a page or an API answer shows about a person, a field or a
district (reads registry, telemetry and alerts; writes the audit log for
every view of a person's health or location)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from mimamori.geo import AREA_RADIUS_M, nearest_within
from mimamori.registry import Device, Person, Site

from .context import WebContext, Who
from .state import (
    band_for_day,
    district_state,
    field_state,
    min_night_flow,
    person_state,
)
from .svg import JST
from .telemetry import family_of, is_rain_gauge, profile_facts

HEALTH_FIELDS = ("heart_rate_bpm", "spo2_pct", "steps", "skin_temp_c", "activity")
DEFAULT_INTERVAL_S = 600
WEEK_S = 7 * 86400
RAIN_RADIUS_M = AREA_RADIUS_M  # a field reads the rain of its area's gauge this near


def _intervals() -> dict[str, int]:
    return {pid: f.interval_s for pid, f in profile_facts().items()}


def interval_of(device: Device) -> int:
    return _intervals().get(device.profile, DEFAULT_INTERVAL_S)


def devices_of_person(ctx: WebContext, person_id: str) -> list[Device]:
    return [d for d in ctx.registry.devices() if d.person_id == person_id]


def devices_on_site(ctx: WebContext, site_id: str) -> list[Device]:
    return [d for d in ctx.registry.devices() if d.site == site_id]


def alerts_for(ctx: WebContext, *, devices: list[Device] = (), person_id: str | None = None,
               site_id: str | None = None, state: Any = None, limit: int = 10) -> list[Any]:
    seen: dict[int, Any] = {}
    queries: list[dict[str, Any]] = [{"device_id": d.device_id} for d in devices]
    if person_id:
        queries.append({"subject_person": person_id})
    if site_id:
        queries.append({"site": site_id})
    for q in queries:
        for a in ctx.alerts.list_alerts(state, limit=limit, **q):
            seen[a.alert_id] = a
    return sorted(seen.values(), key=lambda a: a.opened_ns, reverse=True)[:limit]


def latest_of(ctx: WebContext, devices: list[Device]) -> tuple[dict[str, Any] | None, int | None]:
    merged: dict[str, Any] = {}
    newest: int | None = None
    for d in devices:
        row = ctx.telemetry.latest(d.device_id, family_of(d.profile))
        if not row:
            continue
        t = row.pop("time", None)
        if newest is None or (t and t > newest):
            newest = t
            merged = {**merged, **row}
        else:
            merged = {**row, **merged}
    return (merged or None), newest


def person_card(ctx: WebContext, who: Who, person: Person, *, detail: bool = False,
                audit: bool = True) -> dict[str, Any]:
    """State in words, last seen, battery, alerts; with ``detail`` also the
    health figures and (if allowed) the last location. Audited."""
    devs = devices_of_person(ctx, person.person_id)
    latest, last_seen = latest_of(ctx, devs)
    active = alerts_for(ctx, devices=devs, person_id=person.person_id, state="active")
    recent = alerts_for(ctx, devices=devs, person_id=person.person_id, limit=5)
    interval = min((interval_of(d) for d in devs), default=DEFAULT_INTERVAL_S)
    st = person_state(latest, last_seen, interval, active, time.time_ns())
    card: dict[str, Any] = {"person": person, "devices": devs, "state": st, "recent": recent,
                            "active": active, "health": None, "location": None}
    if audit:
        ctx.accounts.audit(who.user.username, "view", "person", person.person_id,
                           "health" if detail else "status")
    if detail and latest:
        card["health"] = {k: latest[k] for k in HEALTH_FIELDS if k in latest}
    if detail and who.scope.can_location(person.person_id):
        for d in devs:
            loc = ctx.telemetry.latest(d.device_id, "location")
            newer = loc and (card["location"] is None or loc["time"] > card["location"]["time"])
            if newer and loc.get("lat") is not None:
                card["location"] = loc
        ctx.accounts.audit(who.user.username, "view", "person", person.person_id, "location",
                           shown=card["location"] is not None)
    return card


def today_band(site: Site, now: datetime | None = None):
    now = now or datetime.now(JST)
    return band_for_day(site.settings.get("crop_calendar"), now.month, now.day)


def rain_gauge_for(ctx: WebContext, site: Site) -> tuple[Device | None, float | None]:
    """The rain gauge whose rain a field shows, and how far away it stands:
    one on the field itself, else the nearest registered within
    :data:`RAIN_RADIUS_M` (by the gauge's position, else its site's) — the
    same rule as the analytics stage's area drift check (:mod:`mimamori.geo`)."""
    gauges = [d for d in ctx.registry.devices() if is_rain_gauge(d.profile)]
    here = [d for d in gauges if d.site == site.site_id]
    if here:
        return here[0], 0.0
    if site.lat is None or site.lon is None:
        return None, None

    def where(d: Device) -> tuple[Device, float | None, float | None]:
        if d.lat is not None and d.lon is not None:
            return d, d.lat, d.lon
        s = ctx.registry.get_site(d.site) if d.site else None
        return (d, s.lat, s.lon) if s else (d, None, None)
    best = nearest_within(site.lat, site.lon, (where(d) for d in gauges), RAIN_RADIUS_M)
    return best if best is not None else (None, None)


def daily_summary(history: dict[str, list[tuple[int, float]]]) -> list[dict[str, Any]]:
    """Per local (JST) day: rain total, water level low/high, mean water
    temperature — the chart's numbers in words, newest day first.

    >>> d = daily_summary({"rain_mm": [(0, 1.5), (3600 * 10**9, 2.0)],
    ...                    "water_level_cm": [(0, 4.0), (3600 * 10**9, 5.0)], "water_temp_c": []})
    >>> d[0]["date"], d[0]["rain_mm"], d[0]["level_min"], d[0]["level_max"], d[0]["temp_mean"]
    ('1970-01-01', 3.5, 4.0, 5.0, None)
    """
    days: dict[str, dict[str, list[float]]] = {}
    for key in ("rain_mm", "water_level_cm", "water_temp_c"):
        for ts, v in history.get(key) or []:
            day = datetime.fromtimestamp(ts / 1e9, JST).strftime("%Y-%m-%d")
            days.setdefault(day, {}).setdefault(key, []).append(v)
    out = []
    for day in sorted(days, reverse=True):
        d = days[day]
        lv, tv, rv = d.get("water_level_cm"), d.get("water_temp_c"), d.get("rain_mm")
        out.append({"date": day, "rain_mm": round(sum(rv), 1) if rv else None,
                    "level_min": min(lv) if lv else None, "level_max": max(lv) if lv else None,
                    "temp_mean": sum(tv) / len(tv) if tv else None})
    return out


def field_card(ctx: WebContext, site: Site, *, history: bool = False) -> dict[str, Any]:
    devs = [d for d in devices_on_site(ctx, site.site_id)
            if family_of(d.profile) == "paddy" and not is_rain_gauge(d.profile)]
    latest, last_seen = latest_of(ctx, devs)
    band = today_band(site)
    level = latest.get("water_level_cm") if latest else None
    gauge, gauge_m = rain_gauge_for(ctx, site)
    card: dict[str, Any] = {"site": site, "devices": devs, "latest": latest,
                            "last_seen": last_seen, "band": band,
                            "state": field_state(level, band), "level": level,
                            "alerts": alerts_for(ctx, devices=devs, site_id=site.site_id,
                                                 state="active"),
                            "rain_gauge": gauge, "rain_gauge_m": gauge_m,
                            "history": None, "days": []}
    if history and (devs or gauge):
        h: dict[str, list[tuple[int, float]]] = {"water_level_cm": [], "water_temp_c": []}
        if devs:
            h = ctx.telemetry.history(devs[0].device_id, "paddy",
                                      ["water_level_cm", "water_temp_c"], WEEK_S, "1h")
        # rain is an amount: hourly totals of the gauge's 10-minute tips, not means
        h["rain_mm"] = (ctx.telemetry.totals(gauge.device_id, family_of(gauge.profile),
                                             "rain_mm", WEEK_S) if gauge else [])
        card["history"] = h
        card["days"] = daily_summary(h)
    return card


def district_card(ctx: WebContext, site: Site, *, history: bool = False) -> dict[str, Any]:
    devs = [d for d in devices_on_site(ctx, site.site_id) if family_of(d.profile) == "water_main"]
    latest, last_seen = latest_of(ctx, devs)
    active = alerts_for(ctx, devices=devs, site_id=site.site_id, state="active")
    pressure = latest.get("pressure_mpa") if latest else None
    card: dict[str, Any] = {"site": site, "devices": devs, "latest": latest,
                            "last_seen": last_seen, "alerts": active,
                            "state": district_state(active, pressure), "history": None,
                            "mnf": None}
    if history and devs:
        h = ctx.telemetry.history(devs[0].device_id, "water_main", ["pressure_mpa", "flow_m3h"],
                                  WEEK_S, "1h")
        card["history"] = h
        long = ctx.telemetry.history(devs[0].device_id, "water_main", ["flow_m3h"],
                                     28 * 86400, "1h")
        card["mnf"] = min_night_flow(long["flow_m3h"])
    return card


def visible_people(ctx: WebContext, who: Who) -> list[Person]:
    return [p for p in ctx.registry.people() if who.scope.can_person(p.person_id)
            and (not who.scope.everything or p.kind in ("wearer", "child"))]


def visible_sites(ctx: WebContext, who: Who, kind: str) -> list[Site]:
    return [s for s in ctx.registry.sites() if s.kind == kind and who.scope.can_site(s.site_id)]


def ago(ns: int | None, t: dict[str, str], now_ns: int | None = None) -> str:
    """Plain words for how long ago.

    >>> ago(0, {"just_now": "now", "minutes_ago": "min ago"}, 120 * 10**9)
    '2 min ago'
    """
    if ns is None:
        return t.get("never", "—")
    s = ((now_ns or time.time_ns()) - ns) / 1e9
    if s < 60:
        return t["just_now"]
    if s < 3600:
        return f"{int(s // 60)} {t['minutes_ago']}"
    if s < 86400:
        return f"{int(s // 3600)} {t['hours_ago']}"
    return f"{int(s // 86400)} {t['days_ago']}"


def local_time(ns: int | None) -> str:
    if ns is None:
        return "—"
    return datetime.fromtimestamp(ns / 1e9, JST).strftime("%Y-%m-%d %H:%M")
