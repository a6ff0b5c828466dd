"""The REST API (OpenAPI at ``/docs``): devices, sites, people, latest
readings, history, totals (e.g. rain per hour), alerts (list / acknowledge /
resolve) and recipients' preferences — with the same access rules and audit
log as the pages.

Authenticate with ``POST /api/v1/token`` (OAuth2 password form) and send
``Authorization: Bearer <token>``; a browser session cookie works too, with
its CSRF token in ``X-CSRF-Token`` for anything that changes data.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from .context import Ctx, Who, check_csrf, optional_who
from .forms import clean_recipient
from .telemetry import family_of
from .views import person_card

router = APIRouter(prefix="/api/v1", tags=["mimamori"])
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/token", auto_error=False)


def who_dep(_token: Annotated[str | None, Depends(oauth2)],
            who: Annotated[Who | None, Depends(optional_who)]) -> Who:
    if who is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    return who


def who_write(request: Request, who: Annotated[Who, Depends(who_dep)]) -> Who:
    check_csrf(who, request.headers.get("x-csrf-token"))
    return who


ApiWho = Annotated[Who, Depends(who_dep)]
WriteWho = Annotated[Who, Depends(who_write)]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class Me(BaseModel):
    username: str
    role: str
    person_id: str | None
    language: str


class DeviceOut(BaseModel):
    device_id: str
    profile: str
    family: str
    site: str
    name: str
    person_id: str | None


class SiteOut(BaseModel):
    site_id: str
    kind: str
    name: str
    lat: float | None
    lon: float | None
    settings: dict[str, Any] = {}


class PersonOut(BaseModel):
    person_id: str
    kind: str
    name: str
    state: str | None = Field(None, description="ok | check | unknown (watched people)")
    reasons: list[str] = []
    last_seen_ns: int | None = None
    battery_pct: float | None = None


class LatestOut(BaseModel):
    device_id: str
    time_ns: int | None
    fields: dict[str, Any]


class HistoryOut(BaseModel):
    device_id: str
    resolution: str
    series: dict[str, list[tuple[int, float]]]


class TotalsOut(BaseModel):
    device_id: str
    field: str
    every: str
    totals: list[tuple[int, float]] = Field(description="[bucket start ns, sum]; buckets "
                                            "without readings are left out")


class LocationOut(BaseModel):
    person_id: str
    device_id: str | None
    time_ns: int | None
    lat: float | None
    lon: float | None
    gps_accuracy_m: float | None = None


class AlertOut(BaseModel):
    alert_id: int
    device_id: str
    kind: str
    severity: str
    site: str
    subject_person: str | None
    state: str
    opened_ns: int
    acked_by: str | None = None
    acked_ns: int | None = None
    resolved_ns: int | None = None


class Preferences(BaseModel):
    channels: list[Literal["email", "line", "phone"]]
    language: Literal["ja", "en"]
    quiet_hours: tuple[str, str] | None = Field(None, examples=[["22:00", "07:00"]])


# --- auth ---------------------------------------------------------------------
@router.post("/token", response_model=Token)
def token(ctx: Ctx, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = ctx.accounts.verify(form.username, form.password)
    if user is None:
        ctx.accounts.audit(form.username[:64], "login", outcome="failed", via="api")
        raise HTTPException(401, "wrong user name or password",
                            headers={"WWW-Authenticate": "Bearer"})
    tok, _ = ctx.accounts.open_session(user.username)
    ctx.accounts.audit(user.username, "login", via="api")
    return Token(access_token=tok)


@router.get("/me", response_model=Me)
def me(who: ApiWho) -> Me:
    u = who.user
    return Me(username=u.username, role=u.role, person_id=u.person_id, language=u.language)


def _deny(ctx, who: Who, kind: str, subject: str, request: Request) -> HTTPException:
    ctx.accounts.audit(who.user.username, "denied", kind, subject, "view", outcome="denied",
                       path=request.url.path, via="api")
    return HTTPException(404, "not found")


def _device_out(d) -> DeviceOut:
    return DeviceOut(device_id=d.device_id, profile=d.profile, family=family_of(d.profile),
                     site=d.site, name=d.name, person_id=d.person_id)


# --- devices, sites, people --------------------------------------------------------
@router.get("/devices", response_model=list[DeviceOut])
def devices(ctx: Ctx, who: ApiWho) -> list[DeviceOut]:
    return [_device_out(d) for d in ctx.registry.devices() if who.scope.can_device(d.device_id)]


def _device(ctx, who: Who, device_id: str, request: Request):
    d = ctx.registry.get_device(device_id)
    if d is None or not who.scope.can_device(device_id):
        raise _deny(ctx, who, "device", device_id, request)
    return d


@router.get("/devices/{device_id}", response_model=DeviceOut)
def device(device_id: str, request: Request, ctx: Ctx, who: ApiWho) -> DeviceOut:
    return _device_out(_device(ctx, who, device_id, request))


@router.get("/devices/{device_id}/latest", response_model=LatestOut)
def latest(device_id: str, request: Request, ctx: Ctx, who: ApiWho) -> LatestOut:
    d = _device(ctx, who, device_id, request)
    row = ctx.telemetry.latest(device_id, family_of(d.profile)) or {}
    if d.person_id:
        ctx.accounts.audit(who.user.username, "view", "person", d.person_id, "health",
                           device=device_id, via="api")
    t = row.pop("time", None)
    return LatestOut(device_id=device_id, time_ns=t, fields=row)


@router.get("/devices/{device_id}/history", response_model=HistoryOut)
def history(device_id: str, request: Request, ctx: Ctx, who: ApiWho,
            fields: Annotated[list[str], Query(description="field names")],
            since_s: Annotated[int, Query(ge=60, le=400 * 86400)] = 86400,
            resolution: Literal["raw", "1m", "1h"] | None = None) -> HistoryOut:
    from .telemetry import choose_resolution

    d = _device(ctx, who, device_id, request)
    try:
        series = ctx.telemetry.history(device_id, family_of(d.profile), fields, since_s,
                                       resolution)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if d.person_id:
        ctx.accounts.audit(who.user.username, "view", "person", d.person_id, "health",
                           device=device_id, via="api")
    return HistoryOut(device_id=device_id,
                      resolution=resolution or choose_resolution(since_s, family_of(d.profile)),
                      series=series)


@router.get("/devices/{device_id}/totals", response_model=TotalsOut)
def totals(device_id: str, request: Request, ctx: Ctx, who: ApiWho,
           field: Annotated[str, Query(description="an amount per reading, e.g. rain_mm")],
           since_s: Annotated[int, Query(ge=60, le=400 * 86400)] = 7 * 86400,
           every: Literal["10m", "1h"] = "1h") -> TotalsOut:
    """Sums of an amount field (a rain gauge's ``rain_mm``: the rain since its
    previous reading) per 10 minutes or hour, from the raw series."""
    d = _device(ctx, who, device_id, request)
    try:
        sums = ctx.telemetry.totals(device_id, family_of(d.profile), field, since_s, every)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if d.person_id:
        ctx.accounts.audit(who.user.username, "view", "person", d.person_id, "health",
                           device=device_id, via="api")
    return TotalsOut(device_id=device_id, field=field, every=every, totals=sums)


@router.get("/sites", response_model=list[SiteOut])
def sites(ctx: Ctx, who: ApiWho) -> list[SiteOut]:
    return [SiteOut(site_id=s.site_id, kind=s.kind, name=s.name, lat=s.lat, lon=s.lon,
                    settings=s.settings)
            for s in ctx.registry.sites() if who.scope.can_site(s.site_id)]


@router.get("/sites/{site_id}", response_model=SiteOut)
def site(site_id: str, request: Request, ctx: Ctx, who: ApiWho) -> SiteOut:
    s = ctx.registry.get_site(site_id)
    if s is None or not who.scope.can_site(site_id):
        raise _deny(ctx, who, "site", site_id, request)
    return SiteOut(site_id=s.site_id, kind=s.kind, name=s.name, lat=s.lat, lon=s.lon,
                   settings=s.settings)


def _person(ctx, who: Who, person_id: str, request: Request):
    p = ctx.registry.get_person(person_id)
    if p is None or not who.scope.can_person(person_id):
        raise _deny(ctx, who, "person", person_id, request)
    return p


def _person_out(ctx, who: Who, p) -> PersonOut:
    out = PersonOut(person_id=p.person_id, kind=p.kind, name=p.name)
    if p.kind in ("wearer", "child"):
        st = person_card(ctx, who, p)["state"]
        out.state, out.reasons = st.level, st.reasons
        out.last_seen_ns, out.battery_pct = st.last_seen_ns, st.battery_pct
    return out


@router.get("/people", response_model=list[PersonOut])
def people(ctx: Ctx, who: ApiWho) -> list[PersonOut]:
    return [_person_out(ctx, who, p) for p in ctx.registry.people()
            if who.scope.can_person(p.person_id)]


@router.get("/people/{person_id}", response_model=PersonOut)
def person(person_id: str, request: Request, ctx: Ctx, who: ApiWho) -> PersonOut:
    return _person_out(ctx, who, _person(ctx, who, person_id, request))


@router.get("/people/{person_id}/location", response_model=LocationOut)
def location(person_id: str, request: Request, ctx: Ctx, who: ApiWho) -> LocationOut:
    _person(ctx, who, person_id, request)
    if not who.scope.can_location(person_id):
        raise _deny(ctx, who, "person", person_id, request)
    best, dev = None, None
    for d in ctx.registry.devices():
        if d.person_id == person_id:
            loc = ctx.telemetry.latest(d.device_id, "location")
            if loc and loc.get("lat") is not None and (best is None or loc["time"] > best["time"]):
                best, dev = loc, d.device_id
    ctx.accounts.audit(who.user.username, "view", "person", person_id, "location", via="api")
    best = best or {}
    return LocationOut(person_id=person_id, device_id=dev, time_ns=best.get("time"),
                       lat=best.get("lat"), lon=best.get("lon"),
                       gps_accuracy_m=best.get("gps_accuracy_m"))


# --- alerts ------------------------------------------------------------------------
def _alert_out(a) -> AlertOut:
    return AlertOut(**{k: getattr(a, k, None) for k in AlertOut.model_fields})


@router.get("/alerts", response_model=list[AlertOut])
def alerts(ctx: Ctx, who: ApiWho,
           state: Literal["open", "acknowledged", "resolved", "active"] | None = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AlertOut]:
    from .pages import alert_visible

    if who.scope.everything:
        found = ctx.alerts.list_alerts(state, limit=limit)
    else:
        seen: dict[int, Any] = {}
        for d in who.scope.devices:
            for a in ctx.alerts.list_alerts(state, device_id=d, limit=limit):
                seen[a.alert_id] = a
        for p in who.scope.people:
            for a in ctx.alerts.list_alerts(state, subject_person=p, limit=limit):
                seen[a.alert_id] = a
        found = sorted(seen.values(), key=lambda a: a.opened_ns, reverse=True)[:limit]
    return [_alert_out(a) for a in found if alert_visible(ctx, who, a)]


def _alert(ctx, who: Who, alert_id: int, request: Request):
    from .pages import alert_visible

    a = ctx.alerts.get(alert_id)
    if a is None or not alert_visible(ctx, who, a):
        raise _deny(ctx, who, "alert", str(alert_id), request)
    return a


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def ack(alert_id: int, request: Request, ctx: Ctx, who: WriteWho) -> AlertOut:
    _alert(ctx, who, alert_id, request)
    done = ctx.alerts.acknowledge(alert_id, by=who.user.username, via="api")
    ctx.accounts.audit(who.user.username, "ack", "alert", str(alert_id),
                       outcome="ok" if done else "noop", via="api")
    return _alert_out(ctx.alerts.get(alert_id))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve(alert_id: int, request: Request, ctx: Ctx, who: WriteWho) -> AlertOut:
    _alert(ctx, who, alert_id, request)
    if who.user.role == "family":
        raise HTTPException(403, "families acknowledge; staff resolve")
    done = ctx.alerts.resolve(alert_id, by=who.user.username, via="api")
    ctx.accounts.audit(who.user.username, "resolve", "alert", str(alert_id),
                       outcome="ok" if done else "noop", via="api")
    return _alert_out(ctx.alerts.get(alert_id))


# --- recipients' preferences ----------------------------------------------------------
def _own(ctx, who: Who, person_id: str, request: Request):
    if not (who.scope.everything or who.user.person_id == person_id):
        raise _deny(ctx, who, "person", person_id, request)
    p = ctx.registry.get_person(person_id)
    if p is None:
        raise _deny(ctx, who, "person", person_id, request)
    return p


@router.get("/people/{person_id}/preferences", response_model=Preferences)
def get_preferences(person_id: str, request: Request, ctx: Ctx, who: ApiWho) -> Preferences:
    p = _own(ctx, who, person_id, request)
    return Preferences(channels=[c for c in p.channels if c in ("email", "line", "phone")],
                       language=p.language if p.language in ("ja", "en") else "ja",
                       quiet_hours=tuple(p.quiet_hours) if p.quiet_hours else None)


@router.put("/people/{person_id}/preferences", response_model=Preferences)
def put_preferences(person_id: str, body: Preferences, request: Request, ctx: Ctx,
                    who: WriteWho) -> Preferences:
    from .settings_pages import update_person

    p = _own(ctx, who, person_id, request)
    q = body.quiet_hours or (None, None)
    values, errors = clean_recipient({"channels": body.channels, "language": body.language,
                                      "quiet_from": q[0], "quiet_to": q[1]},
                                     who.user.language, has_line=bool(p.line_user_id))
    if errors:
        raise HTTPException(422, errors)
    update_person(ctx.registry, p, **values)
    ctx.accounts.audit(who.user.username, "edit", "person", person_id, "preferences", via="api")
    return get_preferences(person_id, request, ctx, who)
