"""``mimamori bench ingest --outage-s 30``: InfluxDB stopped for a while
during a steady stream, then started again; every reading must be present
exactly once. (The test suite runs the same with a 6-second outage.)

Real processes: its own Mosquitto and InfluxDB (temporary state directory,
free ports) and ``mimamori ingest`` as a separate process; the stream is
published at QoS 1 and only PUBACKed readings count.
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

from mimamori.bus import Bus, BusError
from mimamori.config import load_settings
from mimamori.contracts import Family, Reading, encode_envelope
from mimamori.services import InfluxDB, ServiceManager, end_children, free_port
from mimamori.topics import Topics

from .influx import InfluxClient


def _seqs(client: InfluxClient) -> list[int]:
    try:
        return [r["seq"] for r in client.points("SELECT seq FROM paddy")]
    except Exception:
        return []


def run_outage(outage_s: float = 30.0, rate_per_s: int = 2000, per_msg: int = 50) -> dict:
    state = Path(tempfile.mkdtemp(prefix="mimamori-outage-"))
    s = load_settings(state_dir=state, mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
                      influx={"url": f"http://127.0.0.1:{free_port()}", "database": "outage"},
                      bus={"topic_root": "outage/v1"})
    mgr = ServiceManager(s)
    mgr.up(timeout=60)
    influx = InfluxDB(s)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMAMORI_")}
    env.update({"MIMAMORI_STATE_DIR": str(state), "MIMAMORI_MQTT__URL": s.mqtt.url,
                "MIMAMORI_INFLUX__URL": s.influx.url, "MIMAMORI_INFLUX__DATABASE": "outage",
                "MIMAMORI_BUS__TOPIC_ROOT": "outage/v1",
                "MIMAMORI_LORAWAN__ENABLED": "false"})
    log = open(state / "ingest.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "mimamori.cli", "ingest"], env=env,
                            cwd=state, stdout=log, stderr=subprocess.STDOUT)
    client = InfluxClient(s.influx)
    topics = Topics(s.bus.topic_root)
    acked: list[int] = []
    stop = threading.Event()
    buffer_dir = state / "ingest-buffer" / s.ingest.client_id
    max_buffered = [0]

    def stream() -> None:
        bus = Bus(s.mqtt, "outage-publisher", persistent=False).connect()
        base = time.time_ns()
        seq = 0
        interval = per_msg / rate_per_s
        nxt = time.monotonic()
        while not stop.is_set():
            rs = [Reading(f"p-{(seq + i) % 50}", "paddy_json_v1", Family.PADDY, "f",
                          base + (seq + i) * 1000, {"seq": seq + i}) for i in range(per_msg)]
            try:
                bus.publish_durably([(topics.readings(seq % 16), encode_envelope(rs))])
                acked.extend(range(seq, seq + per_msg))
            except BusError:
                pass
            seq += per_msg
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))
            max_buffered[0] = max(max_buffered[0], len(list(buffer_dir.glob("*.lp"))))
        bus.close()

    try:
        deadline = time.time() + 60
        while not list((state / "run").glob("stage-*.json")) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        t = threading.Thread(target=stream, daemon=True)
        t.start()
        time.sleep(5)
        influx.stop()
        stopped_at = time.time()
        time.sleep(outage_s)
        influx.start(timeout=60)
        down_s = time.time() - stopped_at
        time.sleep(5)
        stop.set()
        t.join(30)
        want = set(acked)
        deadline = time.time() + 120
        while time.time() < deadline:
            seqs = _seqs(client)
            if want <= set(seqs) and not list(buffer_dir.glob("*.lp")):
                break
            time.sleep(0.5)
        seqs = _seqs(client)
    finally:
        stop.set()
        end_children(proc)
        log.close()
        client.close()
        mgr.down()
        shutil.rmtree(state, ignore_errors=True)
    return {
        "influx_down_s": round(down_s, 1),
        "published_acked": len(acked),
        "landed": len(seqs),
        "missing": len(set(acked) - set(seqs)),
        "duplicates": len(seqs) - len(set(seqs)),
        "max_buffered_batches": max_buffered[0],
        "exactly_once": set(acked) <= set(seqs) and len(seqs) == len(set(seqs)),
    }
