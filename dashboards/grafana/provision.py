"""The provisioning files (datasource and dashboards) and ``push`` to a
running Grafana through its HTTP API with ``grafana-client``.

Push is idempotent: the datasource is created or updated by its uid, the
folder created once, each dashboard saved with ``overwrite``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mimamori.config import InfluxSettings

from .model import (
    DATASOURCE_NAME,
    DATASOURCE_UID,
    FOLDER_TITLE,
    FOLDER_UID,
    all_dashboards,
)

HERE = Path(__file__).parent


class GrafanaPushError(Exception):
    """One plain line: what failed against which Grafana."""


def datasource(influx: InfluxSettings) -> dict[str, Any]:
    """The datasource as Grafana's HTTP API and its provisioning file want it."""
    ds: dict[str, Any] = {
        "uid": DATASOURCE_UID, "name": DATASOURCE_NAME, "type": "influxdb", "access": "proxy",
        "url": influx.url, "database": influx.database, "isDefault": False,
        "jsonData": {"version": "InfluxQL", "httpMode": "GET", "dbName": influx.database,
                     "timeInterval": "1m"},
    }
    if influx.username:
        ds["user"] = influx.username
        ds["secureJsonData"] = {"password": influx.password or ""}
    return ds


def provisioning_files(influx: InfluxSettings, dashboards_dir: str) -> dict[str, str]:
    """relative path → text: datasource and dashboard-provider YAML."""
    ds = datasource(influx)
    ds_file = {"apiVersion": 1, "datasources": [{**ds, "editable": False}]}
    provider = {"apiVersion": 1, "providers": [{
        "name": "mimamori", "folder": FOLDER_TITLE, "folderUid": FOLDER_UID, "type": "file",
        "disableDeletion": False, "allowUiUpdates": False,
        "options": {"path": dashboards_dir, "foldersFromFilesStructure": False}}]}
    head = "# written by `mimamori grafana export`; InfluxDB 1.x through InfluxQL\n"
    return {
        "provisioning/datasources/mimamori.yaml":
            head + yaml.safe_dump(ds_file, allow_unicode=True, sort_keys=False),
        "provisioning/dashboards/mimamori.yaml":
            head + yaml.safe_dump(provider, allow_unicode=True, sort_keys=False),
    }


def export(directory: Path, influx: InfluxSettings) -> list[Path]:
    directory = Path(directory)
    written = []
    dash_dir = directory / "dashboards"
    dash_dir.mkdir(parents=True, exist_ok=True)
    for d in all_dashboards():
        p = dash_dir / f"{d['uid']}.json"
        p.write_text(json.dumps(d, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(p)
    for rel, text in provisioning_files(influx, str(dash_dir.resolve())).items():
        p = directory / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written


@dataclass
class PushReport:
    grafana_version: str = ""
    datasource: str = ""  # created | updated
    folder: str = ""  # created | exists
    dashboards: list[dict[str, Any]] = field(default_factory=list)


def push(url: str, token: str, influx: InfluxSettings, timeout: float = 10.0) -> PushReport:
    from grafana_client import GrafanaApi
    from grafana_client.client import (
        GrafanaClientError,
        GrafanaException,
        GrafanaUnauthorizedError,
    )
    from niquests.exceptions import RequestException

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    report = PushReport()
    try:
        build = api.health.check() or {}
        report.grafana_version = str(build.get("version", ""))
        ds = datasource(influx)
        try:
            api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.datasource.create_datasource(ds)
            report.datasource = "created"
        else:
            api.datasource.update_datasource_by_uid(DATASOURCE_UID, ds)
            report.datasource = "updated"
        try:
            api.folder.get_folder(FOLDER_UID)
            report.folder = "exists"
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            report.folder = "created"
        for d in all_dashboards():
            r = api.dashboard.update_dashboard({"dashboard": d, "folderUid": FOLDER_UID,
                                                "overwrite": True,
                                                "message": "mimamori grafana push"})
            report.dashboards.append({"uid": r.get("uid"), "url": r.get("url"),
                                      "version": r.get("version"), "status": r.get("status")})
    except GrafanaUnauthorizedError:
        raise GrafanaPushError(f"Grafana at {url} refused the token (401); create a service "
                               "account token with the Editor role and pass --token") from None
    except RequestException as exc:
        raise GrafanaPushError(f"Grafana at {url} is unreachable ({type(exc).__name__})") from None
    except GrafanaException as exc:
        if exc.status_code in (0, None):
            raise GrafanaPushError(f"Grafana at {url} is unreachable ({exc.message})") from None
        raise GrafanaPushError(f"Grafana at {url} answered {exc.status_code}: "
                               f"{exc.message}") from None
    return report
