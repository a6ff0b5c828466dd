"""A small client for InfluxDB's v1-compatible HTTP API (``/write``,
``/query``), and the one table that sorts its answers (STYLE.md habit 6):

=============================================  ==============================
answer                                          outcome
=============================================  ==============================
204                                             ok
404 "database not found"                        create the database, retry
400 "unable to parse" / "field type conflict"   reject those points (reason)
401 / 403                                       fatal: fix credentials
5xx, timeout, connection refused                retry after a capped backoff
=============================================  ==============================
"""

from __future__ import annotations

import enum
import gzip as gzip_mod
import re
from dataclasses import dataclass
from typing import Any

import httpx

from mimamori.config import InfluxSettings


class Outcome(enum.Enum):
    OK = "ok"
    CREATE_DB = "create_db"
    REJECT = "reject"
    RETRY = "retry"
    FATAL = "fatal"


@dataclass(slots=True)
class WriteResult:
    outcome: Outcome
    status: int | None
    message: str = ""
    # For REJECT: InfluxDB names the first bad line it met (1-based), if it did.
    bad_line: int | None = None


class InfluxUnavailable(Exception):
    """InfluxDB cannot be reached; the message is one plain line."""


class InfluxError(Exception):
    pass


_BAD_LINE = re.compile(r"line (\d+)")


def classify(status: int | None, body: str) -> WriteResult:
    """The one table: an HTTP answer (None = no answer) → what to do."""
    if status is None:
        return WriteResult(Outcome.RETRY, None, body or "no answer")
    if status in (200, 204):
        return WriteResult(Outcome.OK, status)
    msg = _error_text(body)
    if status == 404 and "database not found" in msg:
        return WriteResult(Outcome.CREATE_DB, status, msg)
    if status in (401, 403):
        return WriteResult(Outcome.FATAL, status, msg)
    if status == 400 or (status == 500 and "field type conflict" in msg):
        m = _BAD_LINE.search(msg)
        return WriteResult(Outcome.REJECT, status, msg, int(m.group(1)) if m else None)
    if status == 413:
        return WriteResult(Outcome.REJECT, status, msg or "request too large")
    return WriteResult(Outcome.RETRY, status, msg or f"HTTP {status}")


def _error_text(body: str) -> str:
    try:
        import orjson

        doc = orjson.loads(body)
        if isinstance(doc, dict) and "error" in doc:
            return str(doc["error"])
    except Exception:
        pass
    return body.strip()[:500]


class InfluxClient:
    def __init__(self, settings: InfluxSettings, database: str | None = None, *,
                 username: str | None = None, password: str | None = None) -> None:
        """``username``/``password`` override the settings' (least-privilege
        users: the ingest writer, the query reader)."""
        self.settings = settings
        self.database = database or settings.database
        user = username or settings.username
        pw = password if username else settings.password
        auth = (user, pw or "") if user else None
        self._http = httpx.Client(base_url=settings.url, timeout=settings.timeout_s, auth=auth)

    def close(self) -> None:
        self._http.close()

    @property
    def url(self) -> str:
        return self.settings.url

    def _unavailable(self, exc: Exception) -> InfluxUnavailable:
        return InfluxUnavailable(
            f"InfluxDB at {self.url} is unreachable ({type(exc).__name__}); start it with "
            "`mimamori services up` or set MIMAMORI_INFLUX__URL"
        )

    def ping(self) -> bool:
        try:
            return self._http.get("/ping").status_code == 204
        except httpx.HTTPError:
            return False

    def write_lines(self, lines: list[str] | str, *, gzip: bool = False,
                    retention_policy: str | None = None) -> WriteResult:
        body = lines if isinstance(lines, str) else "\n".join(lines)
        data = body.encode("utf-8")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if gzip:
            data = gzip_mod.compress(data, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params = {"db": self.database, "precision": "ns"}
        if retention_policy:
            params["rp"] = retention_policy
        try:
            r = self._http.post("/write", params=params, content=data, headers=headers)
        except httpx.HTTPError as exc:
            return classify(None, f"{type(exc).__name__}: {exc}")
        return classify(r.status_code, r.text)

    def query(self, q: str, *, database: str | None = None, method: str = "GET",
              epoch: str = "ns", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the list of statement results. ``params``
        are bound parameters (``$name`` in the query), sent apart from the
        query text so user input never becomes InfluxQL. Raises
        :class:`InfluxUnavailable` or :class:`InfluxError`."""
        bound = params
        params = {"q": q, "epoch": epoch}
        if bound:
            import orjson

            params["params"] = orjson.dumps(bound).decode()
        db = database if database is not None else self.database
        if db:
            params["db"] = db
        try:
            if method == "POST":
                r = self._http.post("/query", data=params)
            else:
                r = self._http.get("/query", params=params)
        except httpx.HTTPError as exc:
            raise self._unavailable(exc) from None
        if r.status_code != 200:
            raise InfluxError(f"query failed (HTTP {r.status_code}): {_error_text(r.text)}")
        results = r.json().get("results", [])
        for res in results:
            if "error" in res:
                raise InfluxError(f"query failed: {res['error']}")
        return results

    def create_database(self) -> None:
        self.query(f'CREATE DATABASE "{self.database}"', database="", method="POST")

    def points(self, q: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of the first statement as dicts (with series tags merged in)."""
        out = []
        for res in self.query(q, params=params)[:1]:
            for series in res.get("series", []):
                cols = series["columns"]
                tags = series.get("tags", {})
                for values in series["values"]:
                    row = dict(zip(cols, values))
                    row.update(tags)
                    out.append(row)
        return out
