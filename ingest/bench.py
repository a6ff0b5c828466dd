"""``mimamori bench ingest --json``: the ingest path measured in one run.

It starts its own Mosquitto (the shipped configuration) and InfluxDB in a
temporary state directory on free ports, then measures:

* ``influx_raw_points_per_s`` — InfluxDB's own ceiling: pre-encoded line
  protocol, batches of 10,000, two connections.
* ``naive_readings_per_s`` / ``naive_cpu_us_per_reading`` — a naive
  one-process baseline: paho subscriber (QoS 1), ``json.loads``, an f-string
  line, POST batches of 5,000.
* ``e2e_readings_per_s`` / ``e2e_cpu_us_per_reading`` — device messages at
  QoS 1 → ``mimamori gateway`` (decode with the profile, registry, batch
  envelope, QoS 1) → ``mimamori ingest`` (durable writer) → queryable in
  InfluxDB; CPU of those two processes divided by readings.
* ``loss`` — PUBACKed minus landed, for both paths (must be 0).
* ``paho_recv_cpu_us_per_msg`` / ``bus_recv_cpu_us_per_msg`` — the receive
  cost of one QoS 1 message in a plain paho subscriber and in our Bus (the
  before/after of the Bus's receive path).

Both paths get the same pre-encoded device messages from a raw-socket
publisher in several processes (:mod:`ingest.loadgen`), so the publisher is
not the bottleneck (``publish_readings_per_s`` shows its pace).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from mimamori.config import Settings, load_settings
from mimamori.services import ServiceManager, end_children, free_port

from . import loadgen
from .influx import InfluxClient

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(") ", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def _count(client: InfluxClient, measurement: str) -> int:
    try:
        rows = client.points(f'SELECT count("water_level_cm") FROM "{measurement}"')
    except Exception:
        return 0
    return int(rows[0]["count"]) if rows else 0


def _wait_landed(client: InfluxClient, measurement: str, want: int, stall_s: float = 30.0
                 ) -> tuple[int, float]:
    """Poll until ``want`` points are there or nothing changed for stall_s."""
    last, changed = -1, time.time()
    while True:
        n = _count(client, measurement)
        now = time.time()
        if n >= want:
            return n, now
        if n != last:
            last, changed = n, now
        elif now - changed > stall_s:
            return n, changed
        time.sleep(0.1)


def device_messages(root: str, n: int, devices: int) -> list[tuple[str, bytes]]:
    """n paddy JSON uplinks from ``devices`` devices, each with its own time."""
    base = int(time.time()) - 86400
    out = []
    for k in range(n):
        dev, step = k % devices, k // devices
        out.append((f"{root}/up/paddy_json_v1/bench-{dev:05d}",
                    orjson.dumps({"ts": base + step * 10, "level_mm": 30 + k % 200,
                                  "temp_c": 20.5, "bat": 88})))
    return out


# -- InfluxDB's own ceiling ------------------------------------------------------
def influx_raw(settings: Settings, points: int = 400_000, batch: int = 10_000,
               connections: int = 2) -> float:
    client = InfluxClient(settings.influx, database="bench_raw")
    client.create_database()
    base = time.time_ns() - 3600 * 10**9
    bodies = ["\n".join(f"paddy,device_id=d{i % 1000},site=s,profile=p water_level_cm="
                        f"{(i % 500) / 10},battery_pct=88i {base + i}"
                        for i in range(j, min(j + batch, points)))
              for j in range(0, points, batch)]
    clients = [InfluxClient(settings.influx, database="bench_raw") for _ in range(connections)]

    def run(k: int) -> None:
        for body in bodies[k::connections]:
            res = clients[k].write_lines(body)
            if res.outcome.value != "ok":
                raise RuntimeError(res.message)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    for c in clients + [client]:
        c.close()
    return points / dt


# -- the bus alone: receive cost per QoS 1 message ------------------------------------
def receive_cost(settings: Settings, n: int, publishers: int, plain_paho: bool) -> float:
    """CPU µs per QoS 1 message for a consumer that does nothing with it:
    our Bus (manual ack after the batch) or a plain paho client (auto ack)."""
    import uuid

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from mimamori.bus import Bus

    root = f"recv-{uuid.uuid4().hex[:6]}"
    got = [0]
    if plain_paho:
        c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                        client_id=f"{root}-paho")

        def on_message(client, userdata, msg) -> None:
            got[0] += 1

        c.on_message = on_message
        c.connect(settings.mqtt.host, settings.mqtt.port)
        c.subscribe(f"{root}/#", qos=1)
        c.loop_start()
        close = c.loop_stop
    else:
        bus = Bus(settings.mqtt, f"{root}-bus").connect()

        def handler(batch) -> None:
            got[0] += len(batch)

        bus.consume([f"{root}/#"], handler, batch_max=1000)
        close = bus.close
    time.sleep(0.5)
    items = [(f"{root}/d{k % 100}", b'{"v": %d}' % k) for k in range(n)]
    c0 = time.process_time()
    loadgen.publish(settings.mqtt.host, settings.mqtt.port, items, publishers, 0.5)
    deadline = time.time() + 120
    while got[0] < n and time.time() < deadline:
        time.sleep(0.01)
    cpu = time.process_time() - c0
    close()
    return cpu * 1e6 / max(got[0], 1)


# -- the naive baseline ------------------------------------------------------------
def _naive_consumer(host: str, port: int, topic: str, influx_url: str, db: str, n: int,
                    q) -> None:
    import json
    import resource

    import httpx
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    http = httpx.Client(base_url=influx_url, timeout=30)
    http.post("/query", data={"q": f'CREATE DATABASE "{db}"'})
    lock = threading.Lock()
    buf: list[str] = []
    state = {"got": 0, "last": time.time()}
    done = threading.Event()

    def flush() -> None:
        if buf:
            r = http.post("/write", params={"db": db}, content="\n".join(buf))
            if r.status_code != 204:
                raise RuntimeError(r.text)
            buf.clear()

    def on_message(client, userdata, msg) -> None:
        d = json.loads(msg.payload)
        dev = msg.topic.rsplit("/", 1)[1]
        with lock:
            buf.append(f"naive_paddy,device_id={dev} water_level_cm={d['level_mm'] / 10},"
                       f"water_temp_c={d['temp_c']},battery_pct={d['bat']} "
                       f"{int(d['ts']) * 1_000_000_000}")
            state["got"] += 1
            state["last"] = time.time()
            if len(buf) >= 5000:
                flush()
            if state["got"] >= n:
                flush()
                done.set()

    def on_connect(client, userdata, flags, rc, props) -> None:
        client.subscribe(topic, qos=1)

    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="naive-bench")
    c.on_message = on_message
    c.on_connect = on_connect
    c.connect(host, port)
    c.loop_start()
    time.sleep(1.0)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    q.put({"ready": True})
    while not done.wait(0.5):
        with lock:
            if buf and time.time() - state["last"] > 3:
                flush()
            if state["got"] and time.time() - state["last"] > 60:
                break
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    c.loop_stop()
    q.put({"cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
           "got": state["got"]})


def naive(settings: Settings, items: list[tuple[str, bytes]], root: str, publishers: int
          ) -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_naive_consumer, args=(
        settings.mqtt.host, settings.mqtt.port, f"{root}/up/+/+", settings.influx.url,
        "bench_naive", len(items), q))
    p.start()
    q.get(timeout=60)
    pub = loadgen.publish(settings.mqtt.host, settings.mqtt.port, items, publishers)
    client = InfluxClient(settings.influx, database="bench_naive")
    landed, t_end = _wait_landed(client, "naive_paddy", pub["acked"])
    cpu = q.get(timeout=120)
    p.join(30)
    client.close()
    return {"readings_per_s": landed / (t_end - pub["t0"]),
            "cpu_us_per_reading": cpu["cpu_s"] * 1e6 / max(landed, 1),
            "loss": pub["acked"] - landed, "published": pub["acked"],
            "publish_per_s": pub["acked"] / (pub["acked_at"] - pub["t0"])}


# -- our path end to end ---------------------------------------------------------
def _stage_env(settings: Settings, root: str, db: str,
               gateway: dict[str, int] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMAMORI_")}
    env.update({f"MIMAMORI_GATEWAY__{k.upper()}": str(v) for k, v in (gateway or {}).items()})
    env.update({
        "MIMAMORI_STATE_DIR": str(settings.state_dir),
        "MIMAMORI_MQTT__URL": settings.mqtt.url,
        "MIMAMORI_INFLUX__URL": settings.influx.url,
        "MIMAMORI_INFLUX__DATABASE": db,
        "MIMAMORI_BUS__TOPIC_ROOT": root,
        "MIMAMORI_LORAWAN__ENABLED": "false",  # UDP 1700 may be someone else's
    })
    return env


def e2e(settings: Settings, items: list[tuple[str, bytes]], root: str, devices: int,
        publishers: int, stages: list[list[str]], gateway: dict[str, int] | None = None
        ) -> dict:
    from mimamori.registry import Registry

    reg = Registry(settings.registry)
    for d in range(devices):
        reg.add_device(f"bench-{d:05d}", "paddy_json_v1", f"field-{d % 50:02d}")
    db = "bench_e2e"
    env = _stage_env(settings, root, db, gateway)
    log = open(settings.state_dir / "bench-stages.log", "ab")
    procs = []
    for group in stages:
        args = (["run", "--stages", ",".join(group)] if len(group) > 1 else group)
        procs.append(subprocess.Popen([sys.executable, "-m", "mimamori.cli", *args], env=env,
                                      cwd=settings.state_dir, stdout=log,
                                      stderr=subprocess.STDOUT))
    run = settings.state_dir / "run"
    deadline = time.time() + 90
    while len(list(run.glob("stage-*.json"))) < len(procs):
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"stages did not start; see {settings.state_dir}/bench-stages.log")
        time.sleep(0.2)
    time.sleep(1.0)
    cpu0 = [_cpu_s(p.pid) for p in procs]
    pub = loadgen.publish(settings.mqtt.host, settings.mqtt.port, items, publishers)
    client = InfluxClient(settings.influx, database=db)
    landed, t_end = _wait_landed(client, "paddy", pub["acked"])
    cpu1 = [_cpu_s(p.pid) for p in procs]
    per = {"+".join(g): round((b - a) * 1e6 / max(landed, 1), 1)
           for g, a, b in zip(stages, cpu0, cpu1)}
    end_children(*procs)
    log.close()
    client.close()
    return {"readings_per_s": landed / (t_end - pub["t0"]),
            "cpu_us_per_reading": (sum(cpu1) - sum(cpu0)) * 1e6 / max(landed, 1),
            "by_process": per,
            "loss": pub["acked"] - landed, "published": pub["acked"],
            "publish_per_s": pub["acked"] / (pub["acked_at"] - pub["t0"])}


def run_bench(readings: int = 150_000, devices: int = 1000, publishers: int = 3,
              single_process: bool = False, keep: bool = False,
              gateway: dict[str, int] | None = None) -> dict:
    state = Path(tempfile.mkdtemp(prefix="mimamori-bench-ingest-"))
    settings = load_settings(
        state_dir=state,
        mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
        influx={"url": f"http://127.0.0.1:{free_port()}"},
        web={"port": free_port()},
    )
    gw = {"consume_batch": settings.gateway.consume_batch,
          "max_unacked": settings.gateway.max_unacked, **(gateway or {})}
    mgr = ServiceManager(settings)
    mgr.up(timeout=60)
    load_before = os.getloadavg()
    try:
        recv_paho = receive_cost(settings, 50_000, publishers, plain_paho=True)
        recv_bus = receive_cost(settings, 50_000, publishers, plain_paho=False)
        raw = influx_raw(settings)
        nv = naive(settings, device_messages("naive", readings, devices), "naive", publishers)
        stages = [["gateway", "ingest"]] if single_process else [["gateway"], ["ingest"]]
        ours = e2e(settings, device_messages("e2e", readings, devices), "e2e", devices,
                   publishers, stages, gw)
    except BaseException:
        mgr.down()
        raise  # the state directory stays, for its logs
    mgr.down()
    if not keep:
        shutil.rmtree(state, ignore_errors=True)
    return {
        "influx_raw_points_per_s": round(raw),
        "naive_readings_per_s": round(nv["readings_per_s"]),
        "naive_cpu_us_per_reading": round(nv["cpu_us_per_reading"], 1),
        "e2e_readings_per_s": round(ours["readings_per_s"]),
        "e2e_cpu_us_per_reading": round(ours["cpu_us_per_reading"], 1),
        "loss": ours["loss"],
        "naive_loss": nv["loss"],
        "e2e_cpu_us_by_process": ours["by_process"],
        "paho_recv_cpu_us_per_msg": round(recv_paho, 1),
        "bus_recv_cpu_us_per_msg": round(recv_bus, 1),
        "readings": readings,
        "published_acked": ours["published"],
        "publish_readings_per_s": round(min(nv["publish_per_s"], ours["publish_per_s"])),
        "e2e_processes": "gateway+ingest in one process" if single_process
        else "gateway, ingest (two processes)",
        "gateway_consume_batch": gw["consume_batch"],
        "gateway_max_unacked": gw["max_unacked"],
        "cpu_cores": os.cpu_count(),
        "load_avg_1m_before": round(load_before[0], 2),
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }


def bench_ingest(
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    readings: Annotated[int, typer.Option(help="device messages per path")] = 150_000,
    devices: Annotated[int, typer.Option(help="simulated devices")] = 1000,
    publishers: Annotated[int, typer.Option(help="publisher processes")] = 3,
    single_process: Annotated[bool, typer.Option(
        help="run gateway and ingest in one process (`mimamori run`)")] = False,
    keep: Annotated[bool, typer.Option(help="keep the temporary state directory")] = False,
    gateway_batch: Annotated[int, typer.Option(
        help="the gateway's [gateway] consume_batch (default: the setting's)")] = 0,
    gateway_unacked: Annotated[int, typer.Option(
        help="the gateway's [gateway] max_unacked (default: the setting's)")] = 0,
    outage_s: Annotated[float, typer.Option(
        "--outage-s", help="instead: stop InfluxDB this long during a steady stream "
        "and check every reading lands exactly once")] = 0.0,
) -> None:
    """Measure InfluxDB's ceiling, a naive baseline and our path end to end."""
    if outage_s > 0:
        from .outage import run_outage

        out = run_outage(outage_s)
    else:
        gateway = {k: v for k, v in (("consume_batch", gateway_batch),
                                     ("max_unacked", gateway_unacked)) if v}
        out = run_bench(readings, devices, publishers, single_process, keep, gateway)
    if json_out:
        typer.echo(orjson.dumps(out).decode())
    else:
        for k, v in out.items():
            typer.echo(f"{k:28s} {v}")
