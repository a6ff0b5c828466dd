"""The alerts part of the one web app (``alerts.web:router``):

* ``GET/POST /alerts/ack/{token}`` — the signed, expiring acknowledge link
  from a message. GET shows the alert and a button (so a mail scanner that
  fetches links acknowledges nothing); POST acknowledges it for the link's
  recipient and stops the escalation.
* ``POST /line/webhook`` — LINE's webhook, signature checked with the
  channel secret (``line-bot-sdk``'s ``WebhookParser``): a follow event asks
  for the one-time link code; a text message with a valid code binds that
  LINE user id to the person; a postback ``ack=<token>`` acknowledges.
* ``GET /alerts/outbox`` — what the local SMTP server and LINE stand-in
  received, to whom, and the alert's acknowledgement state (demo).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from mimamori.registry import Registry

from .ack import AckTokenError, load_ack_key, read_token
from .config import AlertsConfig, load_alerts_config
from .engine import AlertEngine
from .messages import TZ, render
from .store import AlertStore

log = logging.getLogger(__name__)
router = APIRouter()
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT = {
    "ja": {"ack_title": "見守りの知らせ", "button": "受け取りました（対応します）",
           "note": "押すと、ほかの方への連絡が止まります。",
           "done": "ありがとうございます。受け取りを記録しました。ほかの方への連絡は止まります。",
           "already": "この知らせは {who} さんが {when} に受け取り済みです。",
           "resolved": "この知らせはすでに解消しています。",
           "outbox": "送信した知らせ（デモの送信箱）", "switch": "English",
           "intro": "デモのメールサーバーと LINE の代わりのサーバーが受け取ったものです。",
           "time": "時刻", "channel": "経路", "to": "宛先", "message": "件名", "alert": "知らせ",
           "ack": "受け取り", "not_acked": "まだ", "empty": "まだ何も送っていません。",
           "states": {"open": "対応待ち", "acknowledged": "受け取り済み", "resolved": "解消"}},
    "en": {"ack_title": "mimamori alert", "button": "I have it (I will act)",
           "note": "This stops the messages to the others.",
           "done": "Thank you. Recorded: you have it. The others will not be messaged.",
           "already": "{who} already acknowledged this at {when}.",
           "resolved": "This alert has already cleared.",
           "outbox": "Messages sent (demo outbox)", "switch": "日本語",
           "intro": "What the demo's local mail server and LINE stand-in received.",
           "time": "Time", "channel": "Channel", "to": "To", "message": "Subject", "alert": "Alert",
           "ack": "Acknowledged", "not_acked": "not yet", "empty": "Nothing sent yet.",
           "states": {"open": "waiting", "acknowledged": "acknowledged", "resolved": "resolved"}},
}
ERRORS_JA = {"this link is not valid": "このリンクは使えません。",
             "this link has expired": "このリンクは期限が切れています。"}


class AlertsWeb:
    """What the routes need, made once per app (lazily, never at import); also
    the small Python API for the web UI: ``AlertsWeb(settings, platform)``
    then ``list_alerts / get / history / deliveries / acknowledge / resolve``."""

    def __init__(self, settings, platform=None) -> None:
        stage = getattr(platform, "stages", {}).get("alerts") if platform else None
        self.settings = settings
        self.store: AlertStore = stage.store if stage else AlertStore.for_settings(settings)
        self.config: AlertsConfig = stage.config if stage else load_alerts_config(settings)
        self.registry = stage.registry if stage else Registry(settings.registry)
        self.ack_key = load_ack_key(settings.state_dir)
        # in another process than the alerts stage: the same engine, for announcing acks
        self.engine = stage.engine if stage else AlertEngine(
            self.store, self.registry, self.config, self.ack_key,
            self.config.public_url or settings.web.url)


    # -- the small API the web UI uses ------------------------------------
    def list_alerts(self, state=None, **filters):
        return self.store.list_alerts(state, **filters)

    def get(self, alert_id: int):
        return self.store.get(alert_id)

    def history(self, alert_id: int):
        return self.store.history(alert_id)

    def deliveries(self, alert_id: int):
        return self.store.deliveries(alert_id)

    def acknowledge(self, alert_id: int, by: str, via: str = "web") -> bool:
        """Acknowledge (stops escalation) and tell the system receivers."""
        return acknowledge(self, alert_id, by, via)

    def resolve(self, alert_id: int, by: str, via: str = "web") -> bool:
        """Resolve by hand; recovery messages and the event go out as on a clear."""
        ok = self.store.resolve(alert_id, by, via)
        a = self.store.get(alert_id) if ok else None
        if a is not None:
            self.engine.recover(a)
            self.engine.announce(a, "resolved")
        return ok


def _ctx(request: Request) -> AlertsWeb:
    app = request.app
    ctx = getattr(app.state, "alerts_web", None)
    if ctx is None:
        ctx = AlertsWeb(app.state.settings, getattr(app.state, "platform", None))
        app.state.alerts_web = ctx
    return ctx


def _when(ns: int | None) -> str:
    return datetime.fromtimestamp(ns / 1e9, TZ).strftime("%Y-%m-%d %H:%M") if ns else ""


def acknowledge(ctx: AlertsWeb, alert_id: int, person_id: str, via: str) -> bool:
    ok = ctx.store.acknowledge(alert_id, by=person_id, via=via)
    if ok:
        a = ctx.store.get(alert_id)
        if a is not None and ctx.engine is not None:
            ctx.engine.announce(a, "acknowledged")
    return ok


def _ack_page(request: Request, token: str, post: bool) -> HTMLResponse:
    ctx = _ctx(request)
    lang = "ja"
    try:
        alert_id, person_id = read_token(ctx.ack_key, token)
    except AckTokenError as exc:
        return TEMPLATES.TemplateResponse(request, "alerts_ack.html", {
            "lang": lang, "title": TEXT[lang]["ack_title"],
            "error": ERRORS_JA.get(str(exc), str(exc))}, status_code=400)
    person = ctx.registry.get_person(person_id)
    lang = person.language if person and person.language in TEXT else "ja"
    t = TEXT[lang]
    alert = ctx.store.get(alert_id)
    if alert is None:
        return TEMPLATES.TemplateResponse(request, "alerts_ack.html", {
            "lang": lang, "title": t["ack_title"], "error": "not found"}, status_code=404)
    done = None
    if post:
        if acknowledge(ctx, alert_id, person_id, "link"):
            done = t["done"]
        alert = ctx.store.get(alert_id) or alert
    if done is None and alert.state == "acknowledged":
        who = ctx.registry.get_person(alert.acked_by or "")
        done = t["already"].format(who=(who.name if who and who.name else alert.acked_by),
                                   when=_when(alert.acked_ns))
    elif done is None and alert.state == "resolved":
        done = t["resolved"]
    subject = person.name if person else person_id
    if alert.subject_person:
        sp = ctx.registry.get_person(alert.subject_person)
        subject = (sp.name or sp.person_id) if sp else alert.subject_person
    else:
        subject = alert.site or alert.device_id
    text = render(alert.to_dict(), lang, subject=subject, where=alert.site).text
    return TEMPLATES.TemplateResponse(request, "alerts_ack.html", {
        "lang": lang, "title": t["ack_title"], "text": text, "done": done,
        "button": t["button"], "note": t["note"]})


@router.get("/alerts/ack/{token}", response_class=HTMLResponse)
def ack_form(request: Request, token: str) -> HTMLResponse:
    return _ack_page(request, token, post=False)


@router.post("/alerts/ack/{token}", response_class=HTMLResponse)
def ack_submit(request: Request, token: str) -> HTMLResponse:
    return _ack_page(request, token, post=True)


# -- LINE webhook ------------------------------------------------------------
CODE = re.compile(r"^\s*(\d{6})\s*$")


def bind_line_user(registry: Registry, person_id: str, line_user_id: str) -> None:
    p = registry.get_person(person_id)
    if p is None:
        return
    d = dataclasses.asdict(p)
    d.pop("person_id")
    kind, name = d.pop("kind"), d.pop("name")
    d["line_user_id"] = line_user_id
    if "line" not in d["channels"]:
        d["channels"] = ["line", *d["channels"]]
    registry.add_person(person_id, kind, name, **d)


def _line_reply(ctx: AlertsWeb, reply_token: str | None, text: str) -> None:
    if not reply_token:
        return
    from linebot.v3.messaging import (ApiClient, Configuration, MessagingApi, ReplyMessageRequest,
                                      TextMessage)

    from .notifiers.line import LineConfig

    c = LineConfig(**ctx.config.notifiers.get("line", {}))
    try:
        with ApiClient(Configuration(host=c.base_url, access_token=c.channel_access_token)) as api:
            MessagingApi(api).reply_message(ReplyMessageRequest(
                replyToken=reply_token, messages=[TextMessage(text=text)]),
                _request_timeout=c.timeout_s)
    except Exception as exc:  # a reply is a courtesy; the event is handled anyway
        log.warning("LINE reply failed: %s", exc)


@router.post("/line/webhook")
async def line_webhook(request: Request) -> JSONResponse:
    from linebot.v3.exceptions import InvalidSignatureError
    from linebot.v3.webhook import WebhookParser
    from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent

    from .notifiers.line import LineConfig

    ctx = _ctx(request)
    secret = LineConfig(**ctx.config.notifiers.get("line", {})).channel_secret
    body = (await request.body()).decode("utf-8", "replace")
    try:
        events = WebhookParser(secret).parse(body, request.headers.get("x-line-signature", ""))
    except InvalidSignatureError:
        return JSONResponse({"message": "invalid signature"}, status_code=400)
    except Exception as exc:
        return JSONResponse({"message": f"invalid webhook body: {exc}"}, status_code=400)
    handled = []
    for ev in events:
        uid = getattr(ev.source, "user_id", None)
        if isinstance(ev, FollowEvent):
            handled.append("follow")
            _line_reply(ctx, ev.reply_token, "見守りです。ご登録ありがとうございます。"
                        "役場から届いた6けたの登録コードを送ってください。")
        elif isinstance(ev, MessageEvent) and isinstance(ev.message, TextMessageContent):
            m = CODE.match(ev.message.text or "")
            person_id = ctx.store.use_link_code(m.group(1), uid) if m and uid else None
            if person_id:
                bind_line_user(ctx.registry, person_id, uid)
                handled.append(f"linked:{person_id}")
                _line_reply(ctx, ev.reply_token, "登録しました。これから見守りの知らせを LINE でお送りします。")
            else:
                handled.append("message")
                _line_reply(ctx, ev.reply_token, "コードが確認できませんでした。もう一度お確かめください。")
        elif isinstance(ev, PostbackEvent):
            data = ev.postback.data or ""
            if data.startswith("ack="):
                try:
                    alert_id, person_id = read_token(ctx.ack_key, data[4:])
                except AckTokenError as exc:
                    handled.append(f"ack_refused:{exc}")
                    continue
                acknowledge(ctx, alert_id, person_id, "line")
                handled.append(f"ack:{alert_id}")
                _line_reply(ctx, ev.reply_token, "受け取りを記録しました。ありがとうございます。")
    return JSONResponse({"handled": handled})


# -- outbox ------------------------------------------------------------------
def outbox_dir(settings) -> Path:
    return Path(settings.state_dir).resolve() / "outbox"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return out


def outbox_rows(ctx: AlertsWeb, limit: int = 200) -> list[dict[str, Any]]:
    """What the stand-ins received, newest first, joined with the ledger."""
    d = outbox_dir(ctx.settings)
    rows = []
    for m in _read_jsonl(d / "smtp.jsonl"):
        rows.append({"ts_ns": m["ts_ns"], "channel": "e-mail", "to": ", ".join(m["to"]),
                     "subject": m["subject"], "alert_id": int(m["alert_id"] or 0) or None})
    line_ext: dict[str, int] = {}
    for dl in ctx.store.deliveries(limit=100000):
        if dl.channel == "line" and dl.external_id:
            line_ext[dl.external_id] = dl.alert_id
    for m in _read_jsonl(d / "line.jsonl"):
        text = next((x.get("text") for x in m["messages"] if x.get("type") == "text"), "")
        rows.append({"ts_ns": m["ts_ns"], "channel": "LINE", "to": m["to"],
                     "subject": text.splitlines()[0] if text else "",
                     "alert_id": line_ext.get(m.get("request_id", ""))})
    rows.sort(key=lambda r: r["ts_ns"], reverse=True)
    rows = rows[:limit]
    names: dict[str, str] = {}
    for p in ctx.registry.people():
        for addr in (p.email, p.line_user_id):
            if addr:
                names[addr] = p.name or p.person_id
    for r in rows:
        r["time"] = _when(r["ts_ns"])
        r["to_name"] = ", ".join(names.get(x.strip(), "") for x in r["to"].split(",")).strip(", ")
        a = ctx.store.get(r["alert_id"]) if r["alert_id"] else None
        acker = ctx.registry.get_person(a.acked_by) if a and a.acked_by else None
        r.update(kind=a.kind if a else "", state=a.state if a else "",
                 acked_by=a.acked_by if a else None,
                 acked_by_name=(acker.name or acker.person_id) if acker else (a.acked_by if a else None),
                 acked_at=_when(a.acked_ns) if a else "")
    return rows


@router.get("/alerts/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, lang: str = "ja") -> HTMLResponse:
    lang = lang if lang in TEXT else "ja"
    ctx = _ctx(request)
    return TEMPLATES.TemplateResponse(request, "alerts_outbox.html", {
        "lang": lang, "t": TEXT[lang], "title": TEXT[lang]["outbox"], "rows": outbox_rows(ctx)})


@router.get("/alerts/outbox.json")
def outbox_json(request: Request) -> JSONResponse:
    return JSONResponse(outbox_rows(_ctx(request)))
