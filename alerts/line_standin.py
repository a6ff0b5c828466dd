"""A local stand-in for LINE's Messaging API, speaking its wire shapes.

Used by the tests and by ``mimamori demo`` (on ``PORTS['line_standin']``),
because LINE's servers cannot be reached from here. It implements what
mimamori uses, with LINE's request checks, response bodies, headers and
error codes:

* ``POST /v2/bot/message/push`` — Bearer token (401), ``to`` and message
  checks (400 with ``details``), ``X-Line-Retry-Key`` (must be a UUID;
  a key already accepted → 409 with ``x-line-accepted-request-id``), success
  ``{"sentMessages": [...]}`` with ``x-line-request-id``;
* ``POST /v2/bot/message/reply``, ``GET /v2/bot/message/quota`` and
  ``/quota/consumption`` (429 "monthly limit" once the quota is used up);
* injected faults for tests: the next N requests answer 500 or 429, or are
  accepted but answered 500 (``accept: true``: the answer was lost);
* simulated users: ``POST /_standin/events/{follow|postback|message}`` sends a
  webhook, signed with the channel secret (``X-Line-Signature``), to the
  configured webhook URL — as LINE does when a user follows or taps a button.

What it accepted is kept in memory and appended to a JSON-lines file, which
the outbox page reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from mimamori.http_thread import ServerNotStarted, ThreadedServer

USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def sign(channel_secret: str, body: bytes) -> str:
    """LINE's webhook signature: base64(HMAC-SHA256(channel secret, body))."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def _err(status: int, message: str, details: list[dict] | None = None,
         headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _check_messages(messages: Any) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    out = []
    for i, m in enumerate(messages):
        p = f"messages[{i}]"
        t = m.get("type") if isinstance(m, dict) else None
        if t == "text":
            text = m.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 5000:
                out.append({"message": "Length must be between 0 and 5000", "property": f"{p}.text"})
        elif t == "template":
            alt = m.get("altText")
            if not isinstance(alt, str) or not 1 <= len(alt) <= 400:
                out.append({"message": "Length must be between 0 and 400", "property": f"{p}.altText"})
            tpl = m.get("template") or {}
            if tpl.get("type") == "buttons":
                if len(tpl.get("text", "")) > 160:
                    out.append({"message": "Length must be between 0 and 160",
                                "property": f"{p}.template.text"})
                actions = tpl.get("actions") or []
                if not 1 <= len(actions) <= 4:
                    out.append({"message": "Size must be between 1 and 4",
                                "property": f"{p}.template.actions"})
                for j, a in enumerate(actions):
                    if len(a.get("label", "")) > 20:
                        out.append({"message": "Length must be between 0 and 20",
                                    "property": f"{p}.template.actions[{j}].label"})
                    if a.get("type") == "postback" and len(a.get("data", "")) > 300:
                        out.append({"message": "Length must be between 0 and 300",
                                    "property": f"{p}.template.actions[{j}].data"})
            elif tpl.get("type") not in ("confirm", "carousel", "image_carousel"):
                out.append({"message": "Must be one of the following values: [buttons, confirm, "
                            "carousel, image_carousel]", "property": f"{p}.template.type"})
        else:
            out.append({"message": "Must be one of the following values: [text, template, "
                        "image, video, audio, location, sticker, imagemap, flex]",
                        "property": f"{p}.type"})
    return out


class LineStandinState:
    def __init__(self, access_token: str, channel_secret: str, webhook_url: str | None,
                 record: Path | None, monthly_quota: int = 1000) -> None:
        self.access_token = access_token
        self.channel_secret = channel_secret
        self.webhook_url = webhook_url
        self.record = record
        self.monthly_quota = monthly_quota
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []  # accepted pushes and replies
        self.retry_keys: dict[str, tuple[str, list[dict]]] = {}
        self.faults: list[dict[str, Any]] = []
        self.requests = 0  # every push request, including refused ones
        self.reply_tokens: dict[str, str] = {}  # reply token → the user it was issued for

    def keep(self, entry: dict[str, Any]) -> None:
        self.messages.append(entry)
        if self.record is not None:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            with self.record.open("ab") as f:
                f.write(orjson.dumps(entry) + b"\n")


def create_standin_app(state: LineStandinState) -> FastAPI:
    app = FastAPI(title="LINE Messaging API stand-in")

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {state.access_token}"

    def unauthorized() -> JSONResponse:
        return _err(401, "Authentication failed. Confirm that the access token in the "
                         "authorization header is valid.")

    @app.post("/v2/bot/message/push")
    async def push(request: Request) -> JSONResponse:
        with state.lock:
            state.requests += 1
        if not authorized(request):
            return unauthorized()
        key = request.headers.get("x-line-retry-key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                return _err(400, "The value of the X-Line-Retry-Key header is invalid")
            with state.lock:
                seen = state.retry_keys.get(key)
            if seen is not None:
                return JSONResponse(
                    {"message": "The retry key is already accepted", "sentMessages": seen[1]},
                    status_code=409, headers={"x-line-accepted-request-id": seen[0],
                                              "x-line-request-id": str(uuid.uuid4())})
        with state.lock:
            fault = state.faults.pop(0) if state.faults else None
        if fault is not None and not fault.get("accept"):
            return _err(int(fault.get("status", 500)), fault.get("message", "Internal server error"))
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _err(400, "The request body has 1 error(s)",
                        [{"message": "Malformed JSON", "property": ""}])
        to = body.get("to") if isinstance(body, dict) else None
        if not isinstance(to, str) or not USER_ID.match(to):
            return _err(400, "The property, 'to', in the request body is invalid "
                             "(line: -, column: -)")
        details = _check_messages(body.get("messages"))
        if details:
            return _err(400, f"The request body has {len(details)} error(s)", details)
        with state.lock:
            if len(state.messages) >= state.monthly_quota:
                return _err(429, "You have reached your monthly limit.")
            request_id = str(uuid.uuid4())
            sent = [{"id": str(int(time.time() * 1000) * 100 + i), "quoteToken": uuid.uuid4().hex}
                    for i, _ in enumerate(body["messages"])]
            if key is not None:
                state.retry_keys[key] = (request_id, sent)
            state.keep({"kind": "push", "to": to, "messages": body["messages"],
                        "retry_key": key, "request_id": request_id, "ts_ns": time.time_ns()})
        if fault is not None:  # accepted, but the answer is "lost": the client must retry
            return _err(int(fault.get("status", 500)), fault.get("message", "Internal server error"))
        return JSONResponse({"sentMessages": sent}, headers={"x-line-request-id": request_id})

    @app.post("/v2/bot/message/reply")
    async def reply(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        body = orjson.loads(await request.body())
        if not body.get("replyToken"):
            return _err(400, "Invalid reply token")
        details = _check_messages(body.get("messages"))
        if details:
            return _err(400, f"The request body has {len(details)} error(s)", details)
        request_id = str(uuid.uuid4())
        with state.lock:
            state.keep({"kind": "reply", "to": state.reply_tokens.get(body["replyToken"], ""),
                        "reply_token": body["replyToken"],
                        "messages": body["messages"], "request_id": request_id,
                        "ts_ns": time.time_ns()})
        return JSONResponse({"sentMessages": [{"id": "1", "quoteToken": uuid.uuid4().hex}]},
                            headers={"x-line-request-id": request_id})

    @app.get("/v2/bot/message/quota")
    def quota(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        return JSONResponse({"type": "limited", "value": state.monthly_quota})

    @app.get("/v2/bot/message/quota/consumption")
    def consumption(request: Request) -> JSONResponse:
        if not authorized(request):
            return unauthorized()
        return JSONResponse({"totalUsage": len(state.messages)})

    # -- control, for tests and the demo -----------------------------------
    @app.get("/_standin/messages")
    def messages() -> JSONResponse:
        with state.lock:
            return JSONResponse({"messages": list(state.messages), "requests": state.requests})

    @app.post("/_standin/faults")
    async def faults(request: Request) -> JSONResponse:
        doc = orjson.loads(await request.body())
        with state.lock:
            state.faults.extend(doc.get("faults", []))
        return JSONResponse({"queued": len(state.faults)})

    @app.post("/_standin/events/{kind}")
    def simulate(kind: str, doc: dict[str, Any] = Body(...)) -> JSONResponse:
        # sync: runs in a worker thread, so the webhook may call this server back
        event = user_event(kind, doc["userId"], text=doc.get("text"), data=doc.get("data"))
        if "replyToken" in event:
            with state.lock:
                state.reply_tokens[event["replyToken"]] = doc["userId"]
        status = deliver_webhook(state, [event])
        return JSONResponse({"webhook_status": status})

    return app


def user_event(kind: str, user_id: str, *, text: str | None = None,
               data: str | None = None) -> dict[str, Any]:
    """A webhook event in LINE's shape (follow, message, postback)."""
    base = {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False}}
    if kind in ("follow", "message", "postback"):
        base["replyToken"] = uuid.uuid4().hex
    if kind == "follow":
        base["follow"] = {"isUnblocked": False}
    elif kind == "message":
        base["message"] = {"type": "text", "id": str(time.time_ns()), "text": text or "",
                           "quoteToken": uuid.uuid4().hex}
    elif kind == "postback":
        base["postback"] = {"data": data or ""}
    return base


def deliver_webhook(state: LineStandinState, events: list[dict[str, Any]]) -> int:
    if not state.webhook_url:
        return 0
    body = orjson.dumps({"destination": "U" + "0" * 32, "events": events})
    r = httpx.post(state.webhook_url, content=body, timeout=10,
                   headers={"content-type": "application/json",
                            "x-line-signature": sign(state.channel_secret, body)})
    return r.status_code


class LineStandin:
    """Runs the stand-in with uvicorn in a background thread."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", access_token: str = "standin-token",
                 channel_secret: str = "standin-secret", webhook_url: str | None = None,
                 record: Path | None = None, monthly_quota: int = 1000) -> None:
        self.host, self.port = host, port
        self.state = LineStandinState(access_token, channel_secret, webhook_url, record,
                                      monthly_quota)
        self._server: ThreadedServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LineStandin:
        self._server = ThreadedServer(create_standin_app(self.state), self.host, self.port,
                                      name="line-standin", lifespan="off")
        try:
            self._server.start()
        except ServerNotStarted:
            raise RuntimeError(f"LINE stand-in could not start on {self.host}:{self.port}") from None
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def pushes(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [m for m in self.state.messages if m["kind"] == "push"]

    def inject(self, *faults: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.faults.extend(faults)
