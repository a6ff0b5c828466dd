"""Grafana dashboards as code: every query runs against the real InfluxDB
filled with the simulated town and returns data; push through grafana-client
to a stand-in speaking Grafana's HTTP API; the provisioning files."""

from __future__ import annotations

import time

import pytest
import yaml

from dashboards.demo_town import DEMO_MIN_RAIN_MM, build_registry, history_lines
from dashboards.grafana.model import all_dashboards, queries, render_query
from dashboards.grafana.provision import GrafanaPushError, provisioning_files, push
from dashboards.telemetry import family_of
from mimamori.registry import Registry

from .grafana_standin import GrafanaStandIn


def test_every_dashboard_query_returns_data_from_influxdb(settings, influx):
    res = influx.write_lines(history_lines(time.time_ns()))
    assert res.outcome.value == "ok", res.message
    reg = Registry(settings.registry)
    build_registry(reg)
    ran = 0
    rain_rows: list[dict] = []
    for d in all_dashboards():
        family = d["uid"].removeprefix("mimamori-")
        devices = [x.device_id for x in reg.devices() if family_of(x.profile) == family]
        assert devices, family
        for q in queries(d):
            text = render_query(q, {"device": devices}, range_s=7 * 86400, interval="1h")
            rows = influx.points(text)
            assert rows, f"{d['uid']}: no data for {text}"
            if q.startswith("SHOW TAG VALUES"):
                assert {r["value"] for r in rows} == set(devices)
            else:
                assert {r["device_id"] for r in rows} <= set(devices)
                assert any(v is not None for r in rows for k, v in r.items()
                           if k not in ("time", "device_id"))
            ran += 1
            if '"rain_mm"' in q:  # only the area's rain gauge, and the week's rain in it
                rain_rows = rows
    assert ran == sum(len(queries(d)) for d in all_dashboards()) >= 16
    assert {r["device_id"] for r in rain_rows} == {"rain-001"}
    assert sum(r["sum"] for r in rain_rows) >= DEMO_MIN_RAIN_MM


def test_push_creates_then_updates(services):
    with GrafanaStandIn() as g:
        first = push(g.url, g.token, services.influx)
        assert first.grafana_version == "10.4.2"
        assert (first.datasource, first.folder) == ("created", "created")
        assert [d["version"] for d in first.dashboards] == [1, 1, 1, 1]
        ds = g.app.state.datasources["mimamori-influxdb"]
        assert ds["type"] == "influxdb" and ds["jsonData"]["version"] == "InfluxQL"
        assert ds["url"] == services.influx.url and ds["database"] == services.influx.database
        assert set(g.app.state.dashboards) == {"mimamori-wearable", "mimamori-child_tag",
                                               "mimamori-paddy", "mimamori-water_main"}
        again = push(g.url, g.token, services.influx)
        assert (again.datasource, again.folder) == ("updated", "exists")
        assert [d["version"] for d in again.dashboards] == [2, 2, 2, 2]


def test_push_errors_are_one_plain_line(services):
    from mimamori.services import free_port

    with GrafanaStandIn() as g, pytest.raises(GrafanaPushError, match="refused the token"):
        push(g.url, "wrong", services.influx)
    with pytest.raises(GrafanaPushError, match="unreachable"):
        push(f"http://127.0.0.1:{free_port()}", "t", services.influx, timeout=3)


def test_cli_push_and_export(services, tmp_path):
    from tests.test_cli import env_for, run

    with GrafanaStandIn() as g:
        r = run("grafana", "push", "--url", g.url, "--token", g.token, env=env_for(services))
        assert r.returncode == 0, r.stderr
        assert "mimamori-paddy" in r.stdout and len(g.app.state.dashboards) == 4
        bad = run("grafana", "push", "--url", g.url, "--token", "nope", env=env_for(services))
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "401" in bad.stderr
    r = run("grafana", "export", str(tmp_path), env=env_for(services))
    assert r.returncode == 0, r.stderr
    ds = yaml.safe_load((tmp_path / "provisioning/datasources/mimamori.yaml").read_text())
    assert ds["datasources"][0]["jsonData"]["version"] == "InfluxQL"
    assert len(list((tmp_path / "dashboards").glob("*.json"))) == 4


def test_committed_provisioning_file_matches_the_code():
    from pathlib import Path

    import dashboards.grafana
    from mimamori.config import InfluxSettings

    here = Path(dashboards.grafana.__file__).parent
    files = provisioning_files(InfluxSettings(), "/var/lib/grafana/dashboards/mimamori")
    for rel, text in files.items():
        assert (here / rel).read_text(encoding="utf-8") == text, rel


def test_export_gives_grafana_the_read_only_user_when_auth_is_on(services, tmp_path):
    """Least privilege: with auth on, Grafana's datasource is [ingest]'s
    reader, never the InfluxDB admin."""
    from tests.test_cli import env_for, run

    env = env_for(services) | {
        "MIMAMORI_INFLUX__USERNAME": "admin", "MIMAMORI_INFLUX__PASSWORD": "admin-secret",
        "MIMAMORI_INGEST__READER_USERNAME": "grafana-reader",
        "MIMAMORI_INGEST__READER_PASSWORD": "read-secret"}
    r = run("grafana", "export", str(tmp_path), env=env)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "provisioning/datasources/mimamori.yaml").read_text()
    ds = yaml.safe_load(text)["datasources"][0]
    assert ds["user"] == "grafana-reader"
    assert ds["secureJsonData"] == {"password": "read-secret"}
    assert "admin-secret" not in text
