"""Server-rendered pages (Jinja2, no JavaScript framework): login, family,
farmer, public works, with live updates over server-sent events. Admin and
settings pages live in :mod:`dashboards.admin_pages` and
:mod:`dashboards.settings_pages` and are included here."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.templating import Jinja2Templates

from mimamori.status import collect_status

from .context import (
    COOKIE,
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    ROLE_HOME,
    Ctx,
    Who,
    check_csrf,
    optional_who,
    page_who,
    pick_lang,
    require_role,
    texts,
)
from .i18n import kind_name, stage_name
from .svg import MapPoint, Series, line_chart, schematic_map
from .views import (
    ago,
    district_card,
    field_card,
    local_time,
    person_card,
    visible_people,
    visible_sites,
)

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
PageWho = Annotated[Who, Depends(page_who)]


def render(request: Request, name: str, who: Who | None, title_key: str, status: int = 200,
           **ctx: Any) -> HTMLResponse:
    lang = pick_lang(request, who)
    t = texts(lang)
    other = t["switch_lang"]
    query = dict(request.query_params)
    query["lang"] = other
    from urllib.parse import urlencode

    resp = TEMPLATES.TemplateResponse(request, name, {
        "t": t, "lang": lang, "who": who, "title": t.get(title_key, title_key),
        "switch_href": f"{request.url.path}?{urlencode(query)}",
        "kind_name": kind_name, "stage_name": stage_name, "local_time": local_time,
        "ago": lambda ns: ago(ns, t), **ctx}, status_code=status)
    if request.query_params.get("lang") in ("ja", "en"):
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=True,
                        httponly=True)
    return resp


def not_found(request: Request, ctx: Ctx, who: Who, kind: str, subject: str) -> HTMLResponse:
    """Refuse without telling whether it exists; write the attempt to the audit log."""
    ctx.accounts.audit(who.user.username, "denied", kind, subject, "view", outcome="denied",
                       path=request.url.path)
    t = texts(pick_lang(request, who))
    return render(request, "error.html", who, "not_found", status=404,
                  heading=t["not_found"], message=t["not_found_text"])


# --- static files served by the app itself (no CDN) ----------------------------
@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = HERE / "static" / name
    if name not in ("site.css", "live.js") or not path.exists():
        raise HTTPException(404)
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "max-age=300"})


# --- landing, login, logout, status -------------------------------------------
@router.get("/", response_class=HTMLResponse)
def home(request: Request, ctx: Ctx, who: Annotated[Who | None, Depends(optional_who)]):
    if who is not None:
        return RedirectResponse(ROLE_HOME.get(who.user.role, "/settings"), 303)
    return login_form(request)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", error: str = "", username: str = ""):
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", None, "login", status=401 if error else 200,
                  login_csrf=token, next=next, error=error, username=username)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, secure=True,
                    samesite="strict")
    return resp


@router.post("/login")
def login(request: Request, ctx: Ctx, username: Annotated[str, Form()],
          password: Annotated[str, Form()], csrf_token: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/"):
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    t = texts(pick_lang(request))
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return login_form(request, next, t["csrf"], username)
    user = ctx.accounts.verify(username, password)
    if user is None:
        ctx.accounts.audit(username[:64], "login", outcome="failed")
        return login_form(request, next, t["login_failed"], username)
    token, _ = ctx.accounts.open_session(user.username)
    ctx.accounts.audit(user.username, "login")
    target = next if next.startswith("/") and not next.startswith("//") and next != "/" \
        else ROLE_HOME.get(user.role, "/settings")
    resp = RedirectResponse(target, 303)
    resp.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="lax", path="/")
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


@router.post("/logout")
def logout(request: Request, ctx: Ctx, who: PageWho, csrf_token: Annotated[str, Form()] = ""):
    check_csrf(who, csrf_token)
    ctx.accounts.close_session(request.cookies.get(COOKIE))
    resp = RedirectResponse("/login", 303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request, ctx: Ctx):
    from .app import TEXT

    lang = pick_lang(request)
    st = collect_status(ctx.settings, ctx.platform)
    return TEMPLATES.TemplateResponse(request, "status.html", {"t": TEXT[lang], "lang": lang,
                                                               "s": st})


# --- family ------------------------------------------------------------------
@router.get("/family", response_class=HTMLResponse)
def family(request: Request, ctx: Ctx, who: PageWho):
    require_role(who, "family")
    cards = [person_card(ctx, who, p) for p in visible_people(ctx, who)]
    return render(request, "family.html", who, "family_title", cards=cards,
                  live_src="/events")


@router.get("/people/{person_id}", response_class=HTMLResponse)
def person_page(person_id: str, request: Request, ctx: Ctx, who: PageWho):
    person = ctx.registry.get_person(person_id)
    if person is None or not who.scope.can_person(person_id):
        return not_found(request, ctx, who, "person", person_id)
    c = person_card(ctx, who, person, detail=True)
    map_svg = None
    t = texts(pick_lang(request, who))
    if c["location"]:
        pts = [MapPoint("pos", t["last_position"], c["location"]["lat"], c["location"]["lon"],
                        "check" if c["state"].level == "check" else "ok", shape="star")]
        for d in c["devices"]:
            site = ctx.registry.get_site(d.site) if d.site else None
            if site and site.lat is not None:
                pts.append(MapPoint(site.site_id, site.name or t["home"], site.lat, site.lon,
                                    "unknown", shape="square"))
        school = person.settings.get("school_site")
        s = ctx.registry.get_site(school) if school else None
        if s is not None and s.lat is not None:
            pts.append(MapPoint(s.site_id, s.name or t["school"], s.lat, s.lon, "unknown",
                                shape="square"))
        map_svg = schematic_map(pts, title=t["location_map"], desc=t["location_desc"],
                                map_id="location-map")
    return render(request, "person.html", who, person.name or person_id, c=c, map_svg=map_svg,
                  live_src="/events")


@router.post("/alerts/{alert_id}/{action}")
def alert_action(alert_id: int, action: str, request: Request, ctx: Ctx, who: PageWho,
                 csrf_token: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "/"):
    check_csrf(who, csrf_token)
    if action not in ("ack", "resolve"):
        raise HTTPException(404)
    alert = ctx.alerts.get(alert_id)
    if alert is None or not alert_visible(ctx, who, alert):
        return not_found(request, ctx, who, "alert", str(alert_id))
    if action == "resolve" and who.user.role == "family":
        raise HTTPException(403, "families acknowledge; staff resolve")
    done = (ctx.alerts.acknowledge(alert_id, by=who.user.username, via="web") if action == "ack"
            else ctx.alerts.resolve(alert_id, by=who.user.username, via="web"))
    ctx.accounts.audit(who.user.username, action, "alert", str(alert_id),
                       outcome="ok" if done else "noop")
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    return RedirectResponse(f"{target}#alert-{alert_id}", 303)


def alert_visible(ctx, who: Who, alert: Any) -> bool:
    s = who.scope
    return (s.everything or s.can_device(alert.device_id)
            or (alert.subject_person is not None and s.can_person(alert.subject_person))
            or (who.user.role != "family" and s.can_site(alert.site)))


# --- farmer ----------------------------------------------------------------------
def _level_chart(c: dict, t: dict, chart_id: str, small: bool = False) -> str:
    """Water level (line, today's band) with the area's rain (hourly bars)."""
    h = c.get("history") or {}
    band = (c["band"].min_cm, c["band"].max_cm) if c.get("band") else None
    gauge = c.get("rain_gauge") is not None
    name = f"{t['water_level']}・{t['rain']}" if gauge else t["water_level"]
    return line_chart([Series(t["water_level"], h.get("water_level_cm", []))],
                      title=f"{c['site'].name or c['site'].site_id} — {name} (7d)",
                      desc=t["chart_level_desc"] + (" " + t["rain_desc"] if gauge else ""),
                      unit="cm", band=band,
                      band_label=t["target_band"] if band else "", chart_id=chart_id,
                      height=200 if small else 240, y_min=0,
                      bars=Series(t["rain"], h.get("rain_mm", [])) if gauge else None,
                      bar_unit="mm/h")


def rain_24h(c: dict) -> float | None:
    """Rain over the last 24 hours from the card's hourly totals (None: no gauge)."""
    if c.get("rain_gauge") is None or not c.get("history"):
        return None
    since = time.time_ns() - 86400 * 10**9
    return round(sum(v for ts, v in c["history"].get("rain_mm", []) if ts >= since), 1)


@router.get("/farmer", response_class=HTMLResponse)
def farmer(request: Request, ctx: Ctx, who: PageWho):
    require_role(who, "farmer")
    t = texts(pick_lang(request, who))
    cards = []
    for s in visible_sites(ctx, who, "field"):
        c = field_card(ctx, s, history=True)
        c["chart"] = _level_chart(c, t, f"chart-{s.site_id}", small=True) if c["history"] else None
        c["rain_24h"] = rain_24h(c)
        cards.append(c)
    return render(request, "farmer.html", who, "farmer_title", cards=cards, live_src="/events")


@router.get("/fields/{site_id}", response_class=HTMLResponse)
def field_page(site_id: str, request: Request, ctx: Ctx, who: PageWho):
    site = ctx.registry.get_site(site_id)
    if site is None or site.kind != "field" or not who.scope.can_site(site_id) \
            or who.user.role == "family":
        return not_found(request, ctx, who, "site", site_id)
    t = texts(pick_lang(request, who))
    c = field_card(ctx, site, history=True)
    c["rain_24h"] = rain_24h(c)
    h = c["history"] or {}
    temp = line_chart([Series(t["water_temp"], h.get("water_temp_c", []), "#a3320b")],
                      title=f"{site.name or site_id} — {t['water_temp']} (7d)",
                      desc=t["chart_temp_desc"], unit="℃", chart_id="chart-temp")
    return render(request, "field.html", who, site.name or site_id, c=c,
                  level_chart=_level_chart(c, t, "chart-level"), temp_chart=temp,
                  live_src="/events")


# --- public works -------------------------------------------------------------------
@router.get("/public-works", response_class=HTMLResponse)
def public_works(request: Request, ctx: Ctx, who: PageWho):
    require_role(who, "public_works")
    t = texts(pick_lang(request, who))
    cards = [district_card(ctx, s) for s in visible_sites(ctx, who, "pipe_district")]
    pts = [MapPoint(c["site"].site_id, c["site"].name or c["site"].site_id, c["site"].lat,
                    c["site"].lon, c["state"], t["dstate_" + c["state"]])
           for c in cards if c["site"].lat is not None]
    map_svg = schematic_map(pts, title=t["districts_map"], desc=t["districts_desc"],
                            map_id="districts-map")
    open_alerts = sorted((a for c in cards for a in c["alerts"]),
                         key=lambda a: a.opened_ns, reverse=True)
    return render(request, "public_works.html", who, "pw_title", cards=cards, map_svg=map_svg,
                  open_alerts=open_alerts, live_src="/events")


@router.get("/districts/{site_id}", response_class=HTMLResponse)
def district_page(site_id: str, request: Request, ctx: Ctx, who: PageWho):
    site = ctx.registry.get_site(site_id)
    if site is None or site.kind != "pipe_district" or not who.scope.can_site(site_id) \
            or who.user.role == "family":
        return not_found(request, ctx, who, "site", site_id)
    t = texts(pick_lang(request, who))
    c = district_card(ctx, site, history=True)
    h = c["history"] or {}
    name = site.name or site_id
    pressure = line_chart([Series(t["pressure"], h.get("pressure_mpa", []))],
                          title=f"{name} — {t['pressure']} (7d)", desc=t["pressure_desc"],
                          unit="MPa", band=(0.15, 0.74), chart_id="chart-pressure")
    flow = line_chart([Series(t["flow"], h.get("flow_m3h", []), "#2d6a1f")],
                      title=f"{name} — {t['flow']} (7d)", desc=t["flow_desc"], unit="m³/h",
                      chart_id="chart-flow", y_min=0)
    mnf = line_chart([Series(t["mnf"], c["mnf"] or [], "#6b3fa0")],
                     title=f"{name} — {t['mnf']}", desc=t["mnf_desc"], unit="m³/h",
                     chart_id="chart-mnf")
    return render(request, "district.html", who, name, c=c, pressure_chart=pressure,
                  flow_chart=flow, mnf_chart=mnf)


# --- live updates (server-sent events) ------------------------------------------------
def live_snapshot(ctx, who: Who, t: dict[str, str]) -> dict[str, Any]:
    """element id → its new text (or {"text", "class"} when its colour follows)."""
    out: dict[str, Any] = {}
    if who.user.role in ("family", "admin"):
        for p in visible_people(ctx, who):
            c = person_card(ctx, who, p, audit=False)  # the stream's opening is audited
            level = c["state"].level
            out[f"state-{p.person_id}"] = {"text": t["state_" + level],
                                           "class": f"state state-{level}"}
            out[f"seen-{p.person_id}"] = ago(c["state"].last_seen_ns, t)
    if who.user.role in ("farmer", "admin"):
        for s in visible_sites(ctx, who, "field"):
            c = field_card(ctx, s)
            out[f"fstate-{s.site_id}"] = {"text": t["level_" + c["state"]],
                                          "class": f"state state-{c['state']}"}
            out[f"level-{s.site_id}"] = f"{c['level']:.1f} cm" if c["level"] is not None else "—"
    if who.user.role in ("public_works", "admin"):
        for s in visible_sites(ctx, who, "pipe_district"):
            st = district_card(ctx, s)["state"]
            out[f"dstate-{s.site_id}"] = {"text": t["dstate_" + st], "class": f"state-{st}"}
    return out


@router.get("/events")
async def events(request: Request, ctx: Ctx, who: PageWho, interval: float = 10.0,
                 once: bool = False) -> Response:
    t = texts(pick_lang(request, who))
    interval = min(max(interval, 1.0), 60.0)
    for p in visible_people(ctx, who):
        ctx.accounts.audit(who.user.username, "view", "person", p.person_id, "status",
                           via="live")

    async def stream():
        last: dict[str, Any] = {}
        while True:
            snap = await asyncio.to_thread(live_snapshot, ctx, who, t)
            changed = {k: v for k, v in snap.items() if last.get(k) != v}
            if changed:
                yield f"event: update\ndata: {orjson.dumps(changed).decode()}\n\n"
                last = snap
            else:
                yield ": keep-alive\n\n"
            if once or await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# the admin and settings pages are their own modules, served under this router
from . import admin_pages, settings_pages  # noqa: E402  (they import render lazily)

router.include_router(admin_pages.router)
router.include_router(settings_pages.router)
