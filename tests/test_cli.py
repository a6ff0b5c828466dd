"""The command line as a user meets it (real subprocesses)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mimamori.services import free_port

BIN = str(Path(sys.executable).parent / "mimamori")


def run(*args, env=None, timeout=60):
    e = {**os.environ, **(env or {})}
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e, timeout=timeout)


def env_for(settings):
    return {
        "MIMAMORI_STATE_DIR": str(settings.state_dir),
        "MIMAMORI_MQTT__URL": settings.mqtt.url,
        "MIMAMORI_INFLUX__URL": settings.influx.url,
        "MIMAMORI_INFLUX__DATABASE": settings.influx.database,
        "MIMAMORI_WEB__PORT": str(settings.web.port),
        "MIMAMORI_LORAWAN__PORT": str(settings.lorawan.port),
    }


def test_help_everywhere():
    for args in ([], ["services"], ["simulate"], ["run"], ["status"], ["gateway"], ["demo"]):
        r = run(*args, "--help")
        assert r.returncode == 0, r.stderr
        assert "Usage" in r.stdout


def test_status_json_reports_urls(services):
    r = run("status", "--json", env=env_for(services))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["mqtt_url"] == services.mqtt.url
    assert doc["influx_url"] == services.influx.url
    assert doc["web_url"].startswith("http://127.0.0.1:")
    assert {s["name"]: s["ready"] for s in doc["services"]} == {"mosquitto": True,
                                                                 "influxdb": True}
    assert set(doc["stages"]) == {"gateway", "ingest", "analytics", "alerts", "web"}


def test_unreachable_broker_is_one_clear_line(tmp_path):
    port = free_port()
    r = run("gateway", env={"MIMAMORI_STATE_DIR": str(tmp_path),
                            "MIMAMORI_MQTT__URL": f"mqtt://127.0.0.1:{port}",
                            "MIMAMORI_MQTT__MANAGED": "false"})
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mimamori:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "unreachable" in lines[0]


def test_unreachable_influxdb_is_one_clear_line(tmp_path):
    port = free_port()
    r = run("services", "up", env={"MIMAMORI_STATE_DIR": str(tmp_path),
                                   "MIMAMORI_MQTT__MANAGED": "false",
                                   "MIMAMORI_MQTT__URL": f"mqtt://127.0.0.1:{free_port()}",
                                   "MIMAMORI_INFLUX__MANAGED": "false",
                                   "MIMAMORI_INFLUX__URL": f"http://127.0.0.1:{port}"})
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "unreachable" in r.stderr


def test_taken_port_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("services", "up", env={"MIMAMORI_STATE_DIR": str(tmp_path),
                                       "MIMAMORI_MQTT__URL": f"mqtt://127.0.0.1:{port}"})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"port {port}" in r.stderr and "taken" in r.stderr


def test_bad_configuration_is_one_clear_line(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[mqtt]\nurl = "http://nope"\n')
    r = run("--config", str(cfg), "status")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "mqtt.url" in r.stderr


def test_run_starts_and_stops_cleanly_on_sigterm(settings):
    import signal
    import time

    env = {**os.environ, **env_for(settings)}
    p = subprocess.Popen([BIN, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = json.loads(run("status", "--json", env=env_for(settings)).stdout)
            if all(st["stages"].values()):
                break
            time.sleep(0.3)
        assert all(st["stages"].values()), st
        import httpx

        page = httpx.get(f"http://127.0.0.1:{settings.web.port}/", timeout=10)
        assert page.status_code == 200 and "見守り" in page.text
        metrics = httpx.get(f"http://127.0.0.1:{settings.web.port}/metrics", timeout=10)
        assert "mimamori_gateway_readings_total" in metrics.text
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
    assert p.returncode == 0
    st = json.loads(run("status", "--json", env=env_for(settings)).stdout)
    assert not any(st["stages"].values())


def test_ingest_with_influxdb_unreachable_says_so_in_one_line_and_buffers(services, tmp_path):
    """Ingest keeps running while InfluxDB is away (it buffers on disk and
    replays later: see tests/ingest/test_faults.py) and says so in one line."""
    import signal
    import time

    port = free_port()
    env = {**os.environ, "MIMAMORI_STATE_DIR": str(tmp_path),
           "MIMAMORI_MQTT__URL": services.mqtt.url,
           "MIMAMORI_INFLUX__URL": f"http://127.0.0.1:{port}",
           "MIMAMORI_INGEST__CLIENT_ID": f"ingest-cli-{port}"}
    p = subprocess.Popen([BIN, "ingest"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "run").glob("stage-*.json")) and p.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert p.poll() is None  # still running
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("mimamori:")]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "InfluxDB" in lines[0]
    assert "buffers" in lines[0]


def test_demo_fills_influxdb_and_leaves_nothing_running(tmp_path):
    """`mimamori demo` on its own ports: servers, stages and simulator start,
    readings reach InfluxDB, and Ctrl-C (SIGINT) stops every process."""
    import signal
    import time

    import httpx

    from mimamori.services import pid_alive

    mqtt_port, influx_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "MIMAMORI_STATE_DIR": str(tmp_path),
           "MIMAMORI_MQTT__URL": f"mqtt://127.0.0.1:{mqtt_port}",
           "MIMAMORI_INFLUX__URL": f"http://127.0.0.1:{influx_port}",
           "MIMAMORI_WEB__PORT": str(web_port),
           "MIMAMORI_DEMO__SMTP_PORT": str(free_port()),
           "MIMAMORI_DEMO__LINE_PORT": str(free_port()),
           # not the shared UDP 1700, and a real port: the demo's simulated
           # LoRa gateways send to it (port 0 makes their sendto() fail)
           "MIMAMORI_LORAWAN__PORT": str(free_port())}
    p = subprocess.Popen([BIN, "demo", "--interval", "1"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    server_pids = []
    try:
        deadline = time.monotonic() + 90
        count = 0
        while time.monotonic() < deadline and count == 0:
            time.sleep(1)
            try:
                r = httpx.get(f"http://127.0.0.1:{influx_port}/query",
                              params={"db": "mimamori", "q": "SELECT count(*) FROM paddy"},
                              timeout=5)
                series = r.json()["results"][0].get("series")
                count = series[0]["values"][0][1] if series else 0
            except (httpx.HTTPError, KeyError, ValueError):
                continue
        if count:
            page = httpx.get(f"http://127.0.0.1:{web_port}/", timeout=10)
            assert page.status_code == 200
            for name in ("mosquitto", "influxdb"):
                server_pids.append(int((tmp_path / "run" / f"{name}.pid").read_text()))
    finally:
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    assert count > 0, f"no readings reached InfluxDB; the demo said:\n{out}"
    assert p.returncode == 0, out
    assert f"http://127.0.0.1:{web_port}/" in out
    assert server_pids and not any(pid_alive(pid) for pid in server_pids)
    assert not list((tmp_path / "run").glob("*.pid"))
