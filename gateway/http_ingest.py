"""HTTP ingest (mounted in the one FastAPI app): for devices and network
servers that push over HTTPS — Sigfox- or NB-IoT-style callbacks, the
ChirpStack HTTP integration, The Things Stack webhooks.

* ``POST /ingest/devices/{device_id}[?fport=N]`` — the body is the device's
  own payload (JSON or binary), decoded by its profile. Auth:
  ``Authorization: Bearer <token>``, the device's ``http_token`` secret.
* ``POST /ingest/chirpstack?event=up`` — a ChirpStack v4 event (other
  events are acknowledged and ignored). Auth: the ``chirpstack`` token of
  ``[gateway] http_tokens``.
* ``POST /ingest/tts`` — a TTS v3 uplink webhook. Auth: the ``tts`` token.

202 once the broker acknowledged the reading (so a 202 is never lost);
422 with the reason when the input is rejected (also dead-lettered and
counted); 401 for a missing or wrong token (counted as ``unauthorized``,
the body is not forwarded); 413 above ``bus.max_payload_bytes``.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mimamori.contracts import now_ns
from mimamori.deadletter import DeadLetter
from mimamori.registry import RegistryError

from .network_servers import EventError, parse_chirpstack, parse_tts
from .uplink import STAGE


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    yield
    svc = getattr(app.state, "http_ingest", None)  # created on the first request
    if svc is not None:
        await run_in_threadpool(svc.close)
        app.state.http_ingest = None


router = APIRouter(prefix="/ingest", tags=["ingest"], lifespan=_lifespan)

_lock = threading.Lock()


class HttpIngest:
    """The state behind the routes: an (unstarted) MQTT gateway used for its
    decoding and durable publishing, and a cache of device tokens."""

    def __init__(self, settings: Any) -> None:
        from .mqtt_gateway import MqttGateway

        self.settings = settings
        self.gw = MqttGateway(settings, client_id=f"mimamori-http-ingest-{os.getpid()}")
        self.gw.bus.connect()
        self.registry = self.gw.registry
        self._tokens: dict[str, str | None] = {}
        self._version = -1
        self._publish_lock = threading.Lock()

    def device_token(self, device_id: str) -> str | None:
        v = self.registry.version()
        if v != self._version:
            self._tokens.clear()
            self._version = v
        if device_id not in self._tokens:
            try:
                self._tokens[device_id] = self.registry.device_secrets(device_id).get("http_token")
            except RegistryError:
                self._tokens[device_id] = None
        return self._tokens[device_id]

    def publish(self, out: Any) -> None:
        with self._publish_lock:
            if isinstance(out, DeadLetter):
                self.gw.publish([], [out])
            else:
                self.gw.publish([out], [])

    def close(self) -> None:
        self.gw.bus.close()


def _service(request: Request) -> HttpIngest:
    state = request.app.state
    with _lock:
        svc = getattr(state, "http_ingest", None)
        if svc is None:
            svc = state.http_ingest = HttpIngest(state.settings)
    return svc


def _bearer(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return authorization[7:].strip() or None


def _unauthorized(what: str) -> JSONResponse:
    DeadLetter(STAGE, "unauthorized", what).count()
    return JSONResponse({"status": "unauthorized"}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


async def _body(request: Request, limit: int) -> bytes | None:
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > limit:
        return None
    body = await request.body()
    return body if len(body) <= limit else None


def _answer(svc: HttpIngest, out: Any) -> JSONResponse:
    svc.publish(out)
    if isinstance(out, DeadLetter):
        out.count()
        return JSONResponse({"status": "rejected", "reason": out.reason, "detail": out.detail},
                            status_code=422)
    return JSONResponse({"status": "accepted", "device_id": out.device_id, "ts_ns": out.ts_ns},
                        status_code=202)


def _too_large(svc: HttpIngest, where: str, device_id: str = "") -> JSONResponse:
    d = DeadLetter(STAGE, "oversized", f"{where}: body exceeds "
                   f"{svc.settings.bus.max_payload_bytes} bytes", b"", where, device_id)
    svc.publish(d)
    d.count()
    return JSONResponse({"status": "rejected", "reason": d.reason, "detail": d.detail},
                        status_code=413)


@router.post("/devices/{device_id}")
async def ingest_device(device_id: str, request: Request, fport: int | None = None,
                        authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    svc = await run_in_threadpool(_service, request)
    token = _bearer(authorization)
    expected = await run_in_threadpool(svc.device_token, device_id)
    if token is None or expected is None or not hmac.compare_digest(token, expected):
        return _unauthorized(f"HTTP ingest for device {device_id!r}: wrong or missing token")
    body = await _body(request, svc.settings.bus.max_payload_bytes)
    where = f"http:/ingest/devices/{device_id}"
    if body is None:
        return await run_in_threadpool(_too_large, svc, where, device_id)

    def work() -> JSONResponse:
        out = svc.gw.decoder.decode(device_id, body, received_ns=now_ns(), topic=where,
                                    fport=fport, meta={"transport": "http"})
        return _answer(svc, out)

    return await run_in_threadpool(work)


def _integration(request: Request, svc: HttpIngest, name: str,
                 authorization: str | None) -> JSONResponse | None:
    expected = svc.settings.gateway.http_tokens.get(name)
    token = _bearer(authorization)
    if not expected or token is None or not hmac.compare_digest(token, expected):
        return _unauthorized(f"HTTP ingest for integration {name!r}: wrong or missing token")
    return None


async def _event(request: Request, name: str, parse: Any,
                 authorization: str | None) -> JSONResponse:
    svc = await run_in_threadpool(_service, request)
    refused = _integration(request, svc, name, authorization)
    if refused is not None:
        return refused
    where = f"http:/ingest/{name}"
    body = await _body(request, svc.settings.bus.max_payload_bytes)
    if body is None:
        return await run_in_threadpool(_too_large, svc, where)

    def work() -> JSONResponse:
        received = now_ns()
        try:
            ev = parse(body)
        except EventError as exc:
            return _answer(svc, DeadLetter(STAGE, exc.reason, f"{where}: {exc}", body, where,
                                           received_ns=received))
        ev.meta["transport"] = f"{ev.source}-http"
        return _answer(svc, svc.gw.convert_event(ev, body, where, received))

    return await run_in_threadpool(work)


@router.post("/chirpstack")
async def ingest_chirpstack(request: Request, event: str = "up",
                            authorization: Annotated[str | None, Header()] = None
                            ) -> JSONResponse:
    if event != "up":  # join, status, ack, txack, log … are not readings
        svc = await run_in_threadpool(_service, request)
        refused = _integration(request, svc, "chirpstack", authorization)
        return refused or JSONResponse({"status": "ignored", "event": event}, status_code=200)
    return await _event(request, "chirpstack", parse_chirpstack, authorization)


@router.post("/tts")
async def ingest_tts(request: Request,
                     authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    return await _event(request, "tts", parse_tts, authorization)
