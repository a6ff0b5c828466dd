"""Fault tests with real processes: InfluxDB stopped during a steady stream,
and the ingest process killed with SIGKILL mid-stream (also while it holds
acknowledged readings only in its disk buffer). Each test starts its own
InfluxDB, so stopping it disturbs no other test."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from ingest.influx import InfluxClient, InfluxError, InfluxUnavailable
from ingest.stage import IngestStage
from mimamori.bus import Bus, BusError
from mimamori.contracts import Family, Reading, encode_envelope
from mimamori.services import InfluxDB, free_port
from mimamori.topics import Topics

from ..helpers import wait_for


@pytest.fixture
def own_influx(settings, tmp_path):
    s = settings.model_copy(update={
        "state_dir": tmp_path / "own",
        "influx": settings.influx.model_copy(update={"url": f"http://127.0.0.1:{free_port()}"}),
    })
    server = InfluxDB(s)
    server.start(timeout=60)
    client = InfluxClient(s.influx)
    yield s, server, client
    client.close()
    server.stop()


class Stream:
    """Publishes envelopes of readings (field ``seq``) at a steady pace and
    remembers which ones the broker acknowledged (PUBACK)."""

    def __init__(self, settings, per_msg=20, interval=0.02):
        self.topics = Topics(settings.bus.topic_root)
        self.bus = Bus(settings.mqtt, f"pub-{uuid.uuid4().hex[:6]}", persistent=False).connect()
        self.per_msg, self.interval = per_msg, interval
        self.acked: list[int] = []
        self.stop = threading.Event()
        self.base = time.time_ns()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        seq = 0
        while not self.stop.is_set():
            rs = [Reading(f"p-{(seq + i) % 7}", "paddy_json_v1", Family.PADDY, "f",
                          self.base + (seq + i) * 1000, {"seq": seq + i})
                  for i in range(self.per_msg)]
            try:
                self.bus.publish_durably([(self.topics.readings((seq // self.per_msg) % 4),
                                           encode_envelope(rs))], timeout=10)
                self.acked.extend(range(seq, seq + self.per_msg))
            except BusError:
                pass
            seq += self.per_msg
            time.sleep(self.interval)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.thread.join(20)
        self.bus.close()


def _seqs(client):
    try:
        return [r["seq"] for r in client.points("SELECT seq FROM paddy")]
    except (InfluxError, InfluxUnavailable):  # not created yet / stopped
        return []


def test_influxdb_stopped_mid_stream_every_reading_lands_exactly_once(own_influx):
    s, server, client = own_influx
    stage = IngestStage(s, client_id=f"ingest-{uuid.uuid4().hex[:6]}").start()
    stream = Stream(s).start()
    try:
        time.sleep(2)
        server.stop()  # InfluxDB goes away for ~6 s while readings keep coming
        wait_for(lambda: stage.writer.buffered > 0, timeout=30, what="buffering on disk")
        time.sleep(6)
        assert stage.buffer.depth() > 0
        server.start(timeout=60)
        time.sleep(2)
        stream.finish()
        n = len(stream.acked)
        try:
            wait_for(lambda: len(_seqs(client)) >= n, timeout=90, what=f"{n} readings")
        except AssertionError:
            missing = sorted(set(stream.acked) - set(_seqs(client)))
            raise AssertionError(
                f"{len(missing)} of {n} missing (first {missing[:5]}); buffer "
                f"{stage.buffer.depth()} batches, written {stage.writer.written}, buffered "
                f"{stage.writer.buffered}, inbox {stage.bus.pending()}, acked msgs "
                f"{stage.bus.acked}, connected {stage.bus.connected}") from None
        wait_for(lambda: stage.buffer.empty(), timeout=30, what="the buffer to drain")
        time.sleep(0.5)
        seqs = _seqs(client)
    finally:
        stream.finish()
        stage.stop()
    assert n > 1000
    assert sorted(seqs) == list(range(len(seqs)))  # every one, none twice, none invented
    assert set(stream.acked) <= set(seqs)


def _ingest_process(s, client_id, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMAMORI_")}
    env.update({
        "MIMAMORI_STATE_DIR": str(s.state_dir),
        "MIMAMORI_MQTT__URL": s.mqtt.url,
        "MIMAMORI_INFLUX__URL": s.influx.url,
        "MIMAMORI_INFLUX__DATABASE": s.influx.database,
        "MIMAMORI_BUS__TOPIC_ROOT": s.bus.topic_root,
        "MIMAMORI_INGEST__CLIENT_ID": client_id,
        "MIMAMORI_INGEST__FLUSH_MS": "20",
        "MIMAMORI_LORAWAN__ENABLED": "false",
    })
    return subprocess.Popen([sys.executable, "-m", "mimamori.cli", "ingest"], env=env,
                            cwd=s.state_dir, stdout=log, stderr=subprocess.STDOUT)


def test_kill_9_of_ingest_loses_no_acknowledged_reading(own_influx):
    s, server, client = own_influx
    s.state_dir.mkdir(parents=True, exist_ok=True)
    cid = f"ingest-{uuid.uuid4().hex[:6]}"
    buf = s.state_dir / "ingest-buffer" / cid
    log = open(s.state_dir / "ingest.log", "ab")
    procs = [_ingest_process(s, cid, log)]
    # Its persistent session exists once the stage runs (it records itself).
    wait_for(lambda: list((s.state_dir / "run").glob("stage-*.json")), timeout=60,
             what="ingest subscribed")
    time.sleep(0.5)
    stream = Stream(s).start()
    try:
        # 1. killed while writing straight to InfluxDB
        wait_for(lambda: len(_seqs(client)) > 200, timeout=60, what="ingest running")
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        time.sleep(1)  # readings keep coming; the broker holds them
        procs.append(_ingest_process(s, cid, log))
        # 2. killed while acknowledged readings exist only in its disk buffer
        time.sleep(1.5)
        server.stop()
        wait_for(lambda: len(list(buf.glob("*.lp"))) >= 3, timeout=60, what="buffered batches")
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        stream.finish()
        server.start(timeout=60)
        procs.append(_ingest_process(s, cid, log))
        n = len(stream.acked)
        wait_for(lambda: set(stream.acked) <= set(_seqs(client)), timeout=90,
                 what=f"all {n} acknowledged readings")
        wait_for(lambda: not list(buf.glob("*.lp")), timeout=30, what="buffer replayed")
    finally:
        stream.finish()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
        log.close()
    seqs = _seqs(client)
    assert n > 500
    assert len(seqs) == len(set(seqs))
