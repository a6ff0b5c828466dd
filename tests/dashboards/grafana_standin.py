"""A local stand-in for the parts of Grafana's HTTP API that ``mimamori
grafana push`` uses, with Grafana's request and response shapes and error
codes (no Grafana server can be installed here):

* ``GET /api/frontend/settings`` → ``{"buildInfo": {...}}``
* ``GET /api/datasources/uid/{uid}`` → 200 datasource | 404
* ``POST /api/datasources`` → 200 ``{"datasource", "id", "message", "name"}`` | 409 same name | 400
* ``PUT /api/datasources/uid/{uid}`` → 200 | 404
* ``GET /api/folders/{uid}`` → 200 | 404; ``POST /api/folders`` → 200 | 409
* ``POST /api/dashboards/db`` → 200 ``{"id","uid","url","status","version","slug"}``
  | 400 no title | 400 folder not found | 412 version-mismatch
* 401 ``{"message": "invalid API key"}`` without the right bearer token
"""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mimamori.http_thread import ThreadedServer
from mimamori.services import free_port


def make_app(token: str) -> FastAPI:
    app = FastAPI()
    app.state.datasources = {}
    app.state.folders = {}
    app.state.dashboards = {}
    app.state.requests = []

    @app.middleware("http")
    async def auth(request: Request, call_next):
        app.state.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"message": "invalid API key"}, 401)
        return await call_next(request)

    def err(code: int, message: str, **extra):
        return JSONResponse({"message": message, **extra}, code)

    @app.get("/api/frontend/settings")
    def settings():
        return {"buildInfo": {"version": "10.4.2", "commit": "standin", "edition": "Open Source"}}

    @app.get("/api/datasources/uid/{uid}")
    def get_ds(uid: str):
        ds = app.state.datasources.get(uid)
        return ds if ds else err(404, "Data source not found")

    @app.post("/api/datasources")
    async def add_ds(request: Request):
        body = await request.json()
        if not body.get("name") or not body.get("type"):
            return err(400, "bad request data")
        if any(d["name"] == body["name"] for d in app.state.datasources.values()):
            return err(409, "data source with the same name already exists")
        uid = body.get("uid") or f"ds{len(app.state.datasources) + 1}"
        ds = {**body, "uid": uid, "id": len(app.state.datasources) + 1, "orgId": 1,
              "version": 1, "readOnly": False}
        app.state.datasources[uid] = ds
        return {"datasource": ds, "id": ds["id"], "message": "Datasource added",
                "name": ds["name"]}

    @app.put("/api/datasources/uid/{uid}")
    async def put_ds(uid: str, request: Request):
        cur = app.state.datasources.get(uid)
        if cur is None:
            return err(404, "Data source not found")
        body = await request.json()
        ds = {**cur, **body, "uid": uid, "version": cur["version"] + 1}
        app.state.datasources[uid] = ds
        return {"datasource": ds, "id": ds["id"], "message": "Datasource updated",
                "name": ds["name"]}

    @app.get("/api/folders/{uid}")
    def get_folder(uid: str):
        f = app.state.folders.get(uid)
        return f if f else err(404, "folder not found", status="not-found")

    @app.post("/api/folders")
    async def add_folder(request: Request):
        body = await request.json()
        uid = body.get("uid") or f"f{len(app.state.folders) + 1}"
        if uid in app.state.folders:
            return err(409, "a folder with the same uid already exists")
        if not body.get("title"):
            return err(400, "folder title cannot be empty")
        f = {"id": len(app.state.folders) + 1, "uid": uid, "title": body["title"],
             "url": f"/dashboards/f/{uid}/", "version": 1}
        app.state.folders[uid] = f
        return f

    @app.post("/api/dashboards/db")
    async def save_dashboard(request: Request):
        body = await request.json()
        d = body.get("dashboard") or {}
        if not d.get("title"):
            return err(400, "Dashboard title cannot be empty")
        folder = body.get("folderUid")
        if folder and folder not in app.state.folders:
            return err(400, "folder not found")
        uid = d.get("uid") or f"d{len(app.state.dashboards) + 1}"
        cur = app.state.dashboards.get(uid)
        if cur and not body.get("overwrite") and d.get("version") != cur["dashboard"]["version"]:
            return JSONResponse({"message": "The dashboard has been changed by someone else",
                                 "status": "version-mismatch"}, 412)
        version = (cur["dashboard"]["version"] + 1) if cur else 1
        slug = re.sub(r"[^a-z0-9]+", "-", d["title"].lower()).strip("-") or uid
        app.state.dashboards[uid] = {"dashboard": {**d, "uid": uid, "version": version},
                                     "folderUid": folder}
        return {"id": list(app.state.dashboards).index(uid) + 1, "uid": uid,
                "url": f"/d/{uid}/{slug}", "status": "success", "version": version,
                "slug": slug}

    return app


class GrafanaStandIn:
    def __init__(self, token: str = "glsa_test_token") -> None:
        self.token = token
        self.app = make_app(token)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedServer(self.app, "127.0.0.1", self.port, name="grafana-standin")

    def __enter__(self) -> GrafanaStandIn:
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()
