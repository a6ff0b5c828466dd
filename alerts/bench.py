"""``mimamori bench alerts --json``: latency from publishing an anomalous
reading to the notification arriving at a webhook receiver and at a real
SMTP server, through the whole path (gateway → analytics → alerts).

For each fleet size N (default 1,000 and 10,000 devices): N wearables
(``wearable_json_v1``) send 2,000 readings/s in total, from a separate load
process; 200 anomalies (an SOS press, which analytics turns into a critical
finding at once) are injected at random moments, each on its own device,
whose wearer has her own family member to tell.
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
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

PROFILE = "wearable_json_v1"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(round(q * (len(v) - 1))))], 1)


def _load(mqtt_url: str, root: str, devices: list[str], schedule: list[tuple[float, str]],
          rate: float, duration_s: float, out: Any) -> None:
    """The load process: ``rate`` readings/s round-robin over ``devices``;
    at each scheduled moment that device sends an SOS reading. Sends
    {device: publish time ns} back through ``out``."""
    from mimamori.bus import Bus
    from mimamori.config import MqttSettings
    from mimamori.topics import Topics

    topics = Topics(root)
    bus = Bus(MqttSettings(url=mqtt_url), f"bench-load-{uuid.uuid4().hex[:6]}",
              persistent=False).connect()
    normal = [orjson.dumps({"hr": 64 + i % 12, "spo2": 97, "skin_temp": 33.5, "worn": True,
                            "fall": False, "sos": False, "bat": 80}) for i in range(97)]
    low = orjson.dumps({"hr": 88, "spo2": 96, "skin_temp": 33.5, "worn": True, "fall": False,
                        "sos": True, "bat": 80})
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
            sent += 1
            k += 1
        due = int(el * rate) - sent
        for _ in range(max(0, due)):
            dev = devices[i % len(devices)]
            i += 1
            bus.publish(topics.up(PROFILE, dev), normal[i % 97])
            sent += 1
        time.sleep(tick)
    bus.close()
    out.put({"t0": t0s, "sent": sent, "elapsed_s": time.monotonic() - start})


class _Hooks(BaseHTTPRequestHandler):
    got: dict[str, int] = {}

    def do_POST(self):  # noqa: N802
        body = orjson.loads(self.rfile.read(int(self.headers["content-length"])))
        now = time.time_ns()
        if body.get("event") == "opened" and body["alert"].get("kind") == "sos":
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
        c.execute(r.sites.insert(), [{"site_id": f"h-{d}", "kind": "household",
                                      "name": f"家 {d}", "settings": "{}"} for d in devices])
        c.execute(r.devices.insert(), [{"device_id": d, "profile": PROFILE, "site": f"h-{d}",
                                        "name": "", "person_id": f"wearer-{d}", "params": "{}",
                                        "created_ns": now} for d in devices])
        if not anomalous:
            registry._bump(c)
            return devices
        c.execute(r.people.insert(), [{"person_id": f"wearer-{d}", "kind": "wearer",
                                       "name": f"利用者 {d}", "language": "ja",
                                       "channels": "[]", "settings": "{}"} for d in anomalous])
        c.execute(r.people.insert(), [{"person_id": f"family-{d}", "kind": "family",
                                       "name": f"家族 {d}", "language": "ja",
                                       "email": f"{d}@bench.example", "channels": '["email"]',
                                       "settings": "{}"} for d in anomalous])
        c.execute(r.relations.insert(), [{"person_id": f"family-{d}",
                                          "relation": "family_member_of",
                                          "subject_kind": "person", "subject_id": f"wearer-{d}",
                                          "priority": 1} for d in anomalous])
        registry._bump(c)
    return devices


def run_one(base, n: int, rate: float, anomalies: int, duration_s: float, seed: int,
            wait_s: float = 60.0, keep: bool = False) -> dict[str, Any]:
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

        store = stages[-1].store

        def mails() -> dict[str, int]:
            # only the SOS alerts' first notification counts (the same family
            # also hears of other alerts, e.g. a silent device after the load)
            sos = {a.alert_id: a.device_id for a in store.list_alerts(kind="sos", limit=100_000)}
            out: dict[str, int] = {}
            with smtp.lock:
                for m in smtp.messages:
                    key = m["delivery"].split(":")
                    if len(key) > 2 and key[1] == "notify" and key[0].isdigit() \
                            and int(key[0]) in sos:
                        out.setdefault(sos[int(key[0])], m["ts_ns"])
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
        missing = sorted(d for d in t0 if d not in _Hooks.got or d not in got_mail)
        # where the time went, from the alert store: publish → gateway (the
        # reading's time) → alert stored (analytics, findings bus, store) →
        # both notifications sent (routing, ledger, dispatcher)
        seg: dict[str, list[float]] = {"to_gateway": [], "gateway_to_alert": [],
                                       "alert_to_sent": []}
        for a in store.list_alerts(kind="sos", limit=100_000):
            if a.device_id not in t0:
                continue
            seg["to_gateway"].append((a.happened_ns - t0[a.device_id]) / 1e6)
            seg["gateway_to_alert"].append((a.opened_ns - a.happened_ns) / 1e6)
            sent = [d.sent_ns for d in store.deliveries(a.alert_id, status="sent")
                    if d.sent_ns and (d.purpose == "notify" or (
                        d.purpose == "event" and d.body.get("extra", {}).get("event") == "opened"))]
            if len(sent) == 2:
                seg["alert_to_sent"].append((max(sent) - a.opened_ns) / 1e6)
        p99 = _pct(both, 0.99)
        return {
            "p50_ms": _pct(both, 0.5), "p99_ms": p99,
            "max_ms": round(max(both), 1) if both else None,
            # every anomaly must arrive on both channels: a missing one is a failure
            "arrived": len(both), "missing": missing[:20],
            "goal_met": not missing and p99 is not None and p99 < 1000,
            "sos_alerts_opened": len(store.list_alerts(kind="sos", limit=100_000)),
            "stages_ms": {k: {"p50": _pct(v, 0.5), "p99": _pct(v, 0.99)}
                          for k, v in seg.items()},
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
        if keep:
            typer.echo(f"kept {tmp} (alerts.db: the alert store and delivery ledger)", err=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def bench_alerts(
    json_out: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
    devices: Annotated[str, typer.Option(help="fleet sizes, comma-separated")] = "1000,10000",
    rate: Annotated[float, typer.Option(help="readings per second in total")] = 2000.0,
    anomalies: Annotated[int, typer.Option(help="anomalies injected per fleet")] = 200,
    duration: Annotated[float, typer.Option(help="seconds of load per fleet")] = 30.0,
    seed: Annotated[int, typer.Option()] = 1,
    keep: Annotated[bool, typer.Option(help="keep each fleet's state dir (alert store, "
                                            "ledger) and say where")] = False,
    log_level: Annotated[str, typer.Option(help="log to stderr at this level")] = "",
) -> None:
    """Alert latency: anomalous reading published → webhook and e-mail received."""
    from mimamori.cli import settings
    from mimamori.services import ServiceManager

    if log_level:
        import logging

        logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    s = settings()
    mgr = ServiceManager(s)
    started = mgr.up()
    try:
        result = {}
        for n in [int(x) for x in devices.split(",") if x.strip()]:
            if not json_out:
                typer.echo(f"{n} devices, {rate:.0f} readings/s, {anomalies} anomalies…", err=True)
            result[str(n)] = run_one(s, n, rate, anomalies, duration, seed, keep=keep)
    finally:
        mgr.down(only=started)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
