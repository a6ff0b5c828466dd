"""``mimamori bench alerts --json``: latency from publishing an anomalous
reading to the notification arriving at a webhook receiver and at a real
SMTP server, through the whole path (gateway → analytics → alerts).

For each fleet size N (default 1,000 and 10,000 devices): N paddy sensors
(``paddy_json_v1``) send 2,000 readings/s in total, from a separate load
process; 200 anomalies (a water level below the band) are injected at
random moments, each on its own device, whose field has its own farmer.
Each anomaly is timed from just before its reading is published to (a) the
signed webhook POST with the "opened" alert event and (b) the e-mail to the
farmer arriving at the aiosmtpd server. Reported per fleet: p50/p99 of the
later of the two (both have arrived), and each channel on its own.

Runs on its own topic root, registry and alert store in a temporary state
directory; uses (and starts if needed) the configured Mosquitto.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import shutil
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

PROFILE = "paddy_json_v1"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(q * (len(v) - 1))))], 1)


def _load(mqtt_url: str, root: str, devices: list[str], schedule: list[tuple[float, str]],
          rate: float, duration_s: float, out: Any) -> None:
    """The load process: ``rate`` readings/s round-robin over ``devices``;
    at each scheduled moment the device's next reading is anomalous (and
    stays so). Sends {device: publish time ns} back through ``out``."""
    from mimamori.bus import Bus
    from mimamori.config import MqttSettings
    from mimamori.topics import Topics

    topics = Topics(root)
    bus = Bus(MqttSettings(url=mqtt_url), f"bench-load-{uuid.uuid4().hex[:6]}",
              persistent=False).connect()
    normal = [orjson.dumps({"level_mm": 50 + i % 30, "temp_c": 24.5, "bat": 90})
              for i in range(97)]
    low = orjson.dumps({"level_mm": 3, "temp_c": 24.5, "bat": 90})
    bad: set[str] = set()
    t0s: dict[str, int] = {}
    start = time.monotonic()
    sent, i, k = 0, 0, 0
    tick = 0.01
    while True:
        el = time.monotonic() - start
        if el >= duration_s:
            break
        while k < len(schedule) and schedule[k][0] <= el:
            dev = schedule[k][1]
            t0s[dev] = time.time_ns()
            bus.publish(topics.up(PROFILE, dev), low)
            bad.add(dev)
            sent += 1
            k += 1
        due = int(el * rate) - sent
        for _ in range(max(0, due)):
            dev = devices[i % len(devices)]
            i += 1
            bus.publish(topics.up(PROFILE, dev), low if dev in bad else normal[i % 97])
            sent += 1
        time.sleep(tick)
    bus.close()
    out.put({"t0": t0s, "sent": sent, "elapsed_s": time.monotonic() - start})


class _Hooks(BaseHTTPRequestHandler):
    got: dict[str, int] = {}

    def do_POST(self):  # noqa: N802
        body = orjson.loads(self.rfile.read(int(self.headers["content-length"])))
        now = time.time_ns()
        if body.get("event") == "opened":
            self.got.setdefault(body["alert"]["device_id"], now)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _register(registry, n: int, anomalous: list[str]) -> list[str]:
    """Bulk rows straight into the registry's tables (10,000 devices in seconds)."""
    from mimamori import registry as r

    now = time.time_ns()
    devices = [f"bench-{i:05d}" for i in range(n)]
    with registry.engine.begin() as c:
        c.execute(r.sites.insert(), [{"site_id": f"f-{d}", "kind": "field", "name": f"田 {d}",
                                      "settings": "{}"} for d in devices])
        c.execute(r.devices.insert(), [{"device_id": d, "profile": PROFILE, "site": f"f-{d}",
                                        "name": "", "params": "{}", "created_ns": now}
                                       for d in devices])
        c.execute(r.people.insert(), [{"person_id": f"farmer-{d}", "kind": "farmer",
                                       "name": f"農家 {d}", "language": "ja",
                                       "email": f"{d}@bench.example", "channels": '["email"]',
                                       "settings": "{}"} for d in anomalous])
        c.execute(r.relations.insert(), [{"person_id": f"farmer-{d}", "relation": "farmer_of",
                                          "subject_kind": "site", "subject_id": f"f-{d}",
                                          "priority": 1} for d in anomalous])
        registry._bump(c)
    return devices


def run_one(base, n: int, rate: float, anomalies: int, duration_s: float, seed: int,
            wait_s: float = 60.0) -> dict[str, Any]:
    from alerts.config import AlertsConfig, ReceiverConfig
    from alerts.routing import default_route
    from alerts.smtp_standin import SmtpStandin
    from alerts.stage import AlertsStage
    from analytics.stage import AnalyticsStage
    from gateway.mqtt_gateway import MqttGateway
    from mimamori.registry import Registry
    from mimamori.services import free_port

    rng = random.Random(seed + n)
    tmp = Path(tempfile.mkdtemp(prefix=f"mimamori-bench-alerts-{n}-"))
    tag = uuid.uuid4().hex[:8]
    s = base.model_copy(update={
        "state_dir": tmp, "registry_url": f"sqlite:///{tmp / 'registry.db'}",
        "bus": base.bus.model_copy(update={"topic_root": f"bench-{tag}/mimamori/v1"})})
    anomalous = rng.sample([f"bench-{i:05d}" for i in range(n)], anomalies)
    devices = _register(Registry(s.registry), n, anomalous)
    moments = sorted(rng.uniform(2.0, duration_s - 3.0) for _ in anomalous)
    schedule = list(zip(moments, anomalous))

    smtp = SmtpStandin(free_port()).start()
    _Hooks.got = {}
    hooks = ThreadingHTTPServer(("127.0.0.1", free_port()), _Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    route = default_route()
    route.receivers = ["bench"]
    config = AlertsConfig(
        route=route, receivers={"bench": ReceiverConfig(
            channel="webhook", address=f"http://127.0.0.1:{hooks.server_port}/hook")},
        notifiers={"email": {"port": smtp.port}, "webhook": {"secret": "bench"}},
        rate_per_minute={"email": 0, "webhook": 0})
    stages = [MqttGateway(s, client_id=f"bench-gw-{tag}"),
              AnalyticsStage(s, client_id=f"bench-an-{tag}"),
              AlertsStage(s, client_id=f"bench-al-{tag}", config=config)]
    for st in stages:
        st.start()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_load, args=(s.mqtt.url, s.bus.topic_root, devices, schedule,
                                           rate, duration_s, q))
    try:
        proc.start()
        load = q.get(timeout=duration_s + 120)
        proc.join(30)
        t0 = load["t0"]
        deadline = time.monotonic() + wait_s

        def mails() -> dict[str, int]:
            out: dict[str, int] = {}
            with smtp.lock:
                for m in smtp.messages:
                    if ":notify:" in m["delivery"]:
                        out.setdefault(m["to"][0].split("@")[0], m["ts_ns"])
            return out

        while time.monotonic() < deadline:
            if len(_Hooks.got) >= len(t0) and len(mails()) >= len(t0):
                break
            time.sleep(0.2)
        got_mail = mails()
        web = [(_Hooks.got[d] - t0[d]) / 1e6 for d in t0 if d in _Hooks.got]
        mail = [(got_mail[d] - t0[d]) / 1e6 for d in t0 if d in got_mail]
        both = [max(_Hooks.got[d], got_mail[d]) / 1e6 - t0[d] / 1e6 for d in t0
                if d in _Hooks.got and d in got_mail]
        return {
            "p50_ms": _pct(both, 0.5), "p99_ms": _pct(both, 0.99),
            "max_ms": round(max(both), 1) if both else None,
            "webhook": {"p50_ms": _pct(web, 0.5), "p99_ms": _pct(web, 0.99), "received": len(web)},
            "smtp": {"p50_ms": _pct(mail, 0.5), "p99_ms": _pct(mail, 0.99), "received": len(mail)},
            "anomalies": len(t0), "readings_sent": load["sent"],
            "readings_per_s": round(load["sent"] / load["elapsed_s"]),
        }
    finally:
        if proc.is_alive():
            proc.terminate()
        for st in reversed(stages):
            st.stop()
        hooks.shutdown()
        smtp.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def bench_alerts(
    json_out: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
    devices: Annotated[str, typer.Option(help="fleet sizes, comma-separated")] = "1000,10000",
    rate: Annotated[float, typer.Option(help="readings per second in total")] = 2000.0,
    anomalies: Annotated[int, typer.Option(help="anomalies injected per fleet")] = 200,
    duration: Annotated[float, typer.Option(help="seconds of load per fleet")] = 30.0,
    seed: Annotated[int, typer.Option()] = 1,
) -> None:
    """Alert latency: anomalous reading published → webhook and e-mail received."""
    from mimamori.cli import settings
    from mimamori.services import ServiceManager

    s = settings()
    mgr = ServiceManager(s)
    started = mgr.up()
    try:
        result = {}
        for n in [int(x) for x in devices.split(",") if x.strip()]:
            if not json_out:
                typer.echo(f"{n} devices, {rate:.0f} readings/s, {anomalies} anomalies…", err=True)
            result[str(n)] = run_one(s, n, rate, anomalies, duration, seed)
    finally:
        mgr.down(only=started)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
