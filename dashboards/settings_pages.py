"""Settings people edit themselves: their own channels, language and quiet
hours; a watched person's safe zone and waking hours, or a child's route
and arrival times; a field's crop calendar with its water bands. Every
change is checked (plain-language errors beside the field) and audited."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from mimamori.registry import Person, Registry

from .context import Ctx, Who, check_csrf, page_who, pick_lang, texts
from .forms import (
    calendar_text,
    clean_crop_calendar,
    clean_radius,
    clean_recipient,
    clean_route,
    clean_times,
)
from .state import DEFAULT_CROP_CALENDAR

router = APIRouter(include_in_schema=False)
PageWho = Annotated[Who, Depends(page_who)]


def update_person(reg: Registry, p: Person, **changes: Any) -> Person:
    d = dataclasses.asdict(dataclasses.replace(p, **changes))
    pid, kind, name = d.pop("person_id"), d.pop("kind"), d.pop("name")
    return reg.add_person(pid, kind, name, **d)


def _render(request, who, name, title_key, status=200, **kw):
    from .pages import render

    return render(request, name, who, title_key, status=status, **kw)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {k: form.get(k) for k in form}
    out["channels"] = form.getlist("channels")
    return out


# --- my own notification settings ----------------------------------------------
@router.get("/settings")
def my_settings(request: Request, ctx: Ctx, who: PageWho):
    return _mine(request, ctx, who)


def _mine(request, ctx, who, errors=None, values=None, flash=None, status=200):
    me = ctx.registry.get_person(who.user.person_id) if who.user.person_id else None
    people = [p for p in ctx.registry.people() if who.scope.can_person(p.person_id)
              and p.kind in ("wearer", "child")]
    fields = [s for s in ctx.registry.sites() if s.kind == "field"
              and who.scope.can_site(s.site_id) and who.user.role in ("farmer", "admin")]
    if values is None and me is not None:
        q = me.quiet_hours or [None, None]
        values = {"channels": me.channels, "language": me.language,
                  "quiet_from": q[0] or "", "quiet_to": q[1] or ""}
    return _render(request, who, "settings.html", "settings_title", status=status, me=me,
                   people=people, fields=fields, errors=errors or {}, values=values or {},
                   flash=flash)


@router.post("/settings")
async def save_my_settings(request: Request, ctx: Ctx, who: PageWho):
    form = await _form(request)
    check_csrf(who, form.get("csrf_token"))
    lang = pick_lang(request, who)
    me = ctx.registry.get_person(who.user.person_id) if who.user.person_id else None
    if me is None:
        return _mine(request, ctx, who, status=404)
    values, errors = clean_recipient(form, lang, has_line=bool(me.line_user_id))
    if errors:
        return _mine(request, ctx, who, errors, form, status=422)
    update_person(ctx.registry, me, **values)
    ctx.accounts.set_language(who.user.username, values["language"])
    ctx.accounts.audit(who.user.username, "edit", "person", me.person_id, "preferences")
    return _mine(request, ctx, who, flash=texts(lang)["saved"])


# --- a watched person's settings -------------------------------------------------
def _person_values(p: Person) -> dict[str, Any]:
    s = p.settings
    wh = s.get("waking_hours") or ["", ""]
    return {"radius_m": (s.get("safe_zone") or {}).get("radius_m", ""),
            "wake": wh[0], "sleep": wh[1],
            "route": "\n".join(f"{a}, {b}" for a, b in s.get("route", [])),
            "arrive_school_by": s.get("arrive_school_by", ""),
            "arrive_home_by": s.get("arrive_home_by", "")}


@router.get("/settings/people/{person_id}")
def person_settings(person_id: str, request: Request, ctx: Ctx, who: PageWho):
    from .pages import not_found

    p = ctx.registry.get_person(person_id)
    if p is None or not who.scope.can_person(person_id) or p.kind not in ("wearer", "child"):
        return not_found(request, ctx, who, "person", person_id)
    return _render(request, who, "settings_person.html", "person_settings", p=p,
                   values=_person_values(p), errors={})


@router.post("/settings/people/{person_id}")
async def save_person_settings(person_id: str, request: Request, ctx: Ctx, who: PageWho):
    from .pages import not_found

    form = await _form(request)
    check_csrf(who, form.get("csrf_token"))
    p = ctx.registry.get_person(person_id)
    if p is None or not who.scope.can_person(person_id) or p.kind not in ("wearer", "child"):
        return not_found(request, ctx, who, "person", person_id)
    lang = pick_lang(request, who)
    settings = dict(p.settings)
    errors: dict[str, str] = {}
    if p.kind == "wearer":
        r, err = clean_radius(form.get("radius_m"), lang)
        if err:
            errors["radius_m"] = err
        times, terr = clean_times(form, ("wake", "sleep"), lang)
        errors.update(terr)
        if not errors:
            settings["safe_zone"] = {**(settings.get("safe_zone") or {}), "radius_m": r}
            settings["waking_hours"] = [times["wake"], times["sleep"]]
    else:
        route, err = clean_route(form.get("route", ""), lang)
        if err:
            errors["route"] = err
        times, terr = clean_times(form, ("arrive_school_by", "arrive_home_by"), lang)
        errors.update(terr)
        if not errors:
            settings.update(route=route, **times)
    if errors:
        return _render(request, who, "settings_person.html", "person_settings", status=422,
                       p=p, values=form, errors=errors)
    p = update_person(ctx.registry, p, settings=settings)
    ctx.accounts.audit(who.user.username, "edit", "person", person_id, "watch_settings")
    return _render(request, who, "settings_person.html", "person_settings", p=p,
                   values=_person_values(p), errors={}, flash=texts(lang)["saved"])


# --- a field's crop calendar ---------------------------------------------------------
def _field_ok(ctx, who: Who, site_id: str):
    s = ctx.registry.get_site(site_id)
    if s is None or s.kind != "field" or not who.scope.can_site(site_id) \
            or who.user.role not in ("farmer", "admin"):
        return None
    return s


@router.get("/settings/fields/{site_id}")
def field_settings(site_id: str, request: Request, ctx: Ctx, who: PageWho):
    from .pages import not_found

    s = _field_ok(ctx, who, site_id)
    if s is None:
        return not_found(request, ctx, who, "site", site_id)
    text = calendar_text(s.settings.get("crop_calendar") or DEFAULT_CROP_CALENDAR)
    return _render(request, who, "settings_field.html", "field_settings", s=s,
                   calendar=text, error=None)


@router.post("/settings/fields/{site_id}")
async def save_field_settings(site_id: str, request: Request, ctx: Ctx, who: PageWho):
    from .pages import not_found

    form = await _form(request)
    check_csrf(who, form.get("csrf_token"))
    s = _field_ok(ctx, who, site_id)
    if s is None:
        return not_found(request, ctx, who, "site", site_id)
    lang = pick_lang(request, who)
    cal, err = clean_crop_calendar(form.get("calendar", ""), lang)
    if err:
        return _render(request, who, "settings_field.html", "field_settings", status=422, s=s,
                       calendar=form.get("calendar", ""), error=err)
    ctx.registry.add_site(s.site_id, s.kind, s.name, s.lat, s.lon,
                          {**s.settings, "crop_calendar": cal})
    ctx.accounts.audit(who.user.username, "edit", "site", site_id, "crop_calendar")
    return _render(request, who, "settings_field.html", "field_settings", s=s,
                   calendar=calendar_text(cal), error=None, flash=texts(lang)["saved"])
