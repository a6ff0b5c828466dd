"""Admin pages: devices (list with last contact, add, import CSV), the last
dead letters, gateways, the simulator."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from mimamori.status import collect_status

from .context import Ctx, Who, check_csrf, page_who, pick_lang, require_role, texts
from .forms import clean_device, msg
from .telemetry import family_of

router = APIRouter(include_in_schema=False)
PageWho = Annotated[Who, Depends(page_who)]
# the shared vocabulary of profile ids (README), plus whatever profiles are installed
KNOWN_PROFILES = {"wearable_v1", "child_tag_v1", "paddy_v1", "water_main_v1",
                  "wearable_json_v1", "child_tag_json_v1", "paddy_json_v1",
                  "water_main_json_v1"}


def known_profiles() -> set[str]:
    from .views import _intervals

    return KNOWN_PROFILES | set(_intervals())


def _page(request: Request, ctx, who: Who, *, form_errors=None, form_values=None,
          import_report=None, flash=None, status: int = 200):
    from .pages import render

    rows = []
    for d in ctx.registry.devices():
        latest = ctx.telemetry.latest(d.device_id, family_of(d.profile))
        rows.append({"d": d, "seen": latest.get("time") if latest else None,
                     "battery": latest.get("battery_pct") if latest else None})
    tail = ctx.bus_tail
    platform = ctx.platform
    sim = getattr(platform, "extras", {}).get("simulator") if platform is not None else None
    st = collect_status(ctx.settings, platform)
    return render(request, "admin.html", who, "admin_title", status=status, rows=rows,
                  profiles=sorted(known_profiles()), sites=ctx.registry.sites(),
                  people=ctx.registry.people(), deadletters=list(tail.tail.deadletters)[:20],
                  tail_error=tail.error, gateways=tail.tail.gateways,
                  simulator=sim, counters=st["counters"], stages=st["stages"],
                  form_errors=form_errors or {}, form_values=form_values or {},
                  import_report=import_report, flash=flash)


@router.get("/admin")
def admin(request: Request, ctx: Ctx, who: PageWho):
    require_role(who, "admin")
    return _page(request, ctx, who)


def _refs(ctx):
    return (known_profiles(), {s.site_id for s in ctx.registry.sites()},
            {p.person_id for p in ctx.registry.people()})


@router.post("/admin/devices")
def add_device(request: Request, ctx: Ctx, who: PageWho,
               csrf_token: Annotated[str, Form()] = "", device_id: Annotated[str, Form()] = "",
               profile: Annotated[str, Form()] = "", site: Annotated[str, Form()] = "",
               name: Annotated[str, Form()] = "", person_id: Annotated[str, Form()] = ""):
    require_role(who, "admin")
    check_csrf(who, csrf_token)
    lang = pick_lang(request, who)
    row = {"device_id": device_id, "profile": profile, "site": site, "name": name,
           "person_id": person_id}
    values, errors = clean_device(row, lang, *_refs(ctx))
    if errors:
        return _page(request, ctx, who, form_errors=errors, form_values=row, status=422)
    did = values.pop("device_id")
    ctx.registry.add_device(did, values.pop("profile"), values.pop("site"), values.pop("name"),
                            **values)
    ctx.accounts.audit(who.user.username, "edit", "device", did, "add")
    return _page(request, ctx, who, flash=f"{texts(lang)['saved']} ({did})")


@router.post("/admin/devices/import")
async def import_devices(request: Request, ctx: Ctx, who: PageWho,
                         csrf_token: Annotated[str, Form()] = "",
                         file: Annotated[UploadFile | None, File()] = None):
    require_role(who, "admin")
    check_csrf(who, csrf_token)
    lang = pick_lang(request, who)
    text = (await file.read()).decode("utf-8-sig", "replace") if file else ""
    report = import_csv(ctx, text, lang, who.user.username)
    return _page(request, ctx, who, import_report=report,
                 status=200 if not report["errors"] else 422)


def import_csv(ctx, text: str, lang: str, username: str) -> dict:
    """All rows or none: every row is checked first; one bad row stops the import
    and every problem is listed with its line number."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"device_id", "profile"} <= set(reader.fieldnames):
        return {"added": 0, "errors": [(1, msg("csv_header", lang))]}
    refs = _refs(ctx)
    good, errors = [], []
    for n, row in enumerate(reader, 2):
        values, errs = clean_device(row, lang, *refs)
        if errs:
            errors.extend((n, e) for e in errs.values())
        else:
            good.append(values)
    if errors:
        return {"added": 0, "errors": errors}
    for v in good:
        v = dict(v)
        did = v.pop("device_id")
        ctx.registry.add_device(did, v.pop("profile"), v.pop("site"), v.pop("name"), **v)
    ctx.accounts.audit(username, "edit", "device", "", "import", count=len(good))
    return {"added": len(good), "errors": []}
