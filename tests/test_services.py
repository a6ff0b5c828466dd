"""The Mosquitto configuration we ship, checked against the real broker:
it keeps queued QoS 1 messages for a slow or absent consumer (Mosquitto's
default of 1,000 per client would silently drop them) and keeps persistent
sessions across a broker restart."""

import uuid

from mimamori.bus import Bus
from mimamori.config import load_settings
from mimamori.services import Mosquitto, ServiceManager, free_port

from .helpers import Collector, own_broker


def test_shipped_config_sets_the_queue_limits(tmp_path):
    # The file the project actually writes for the broker it starts.
    s = load_settings(state_dir=tmp_path, mqtt={"url": "mqtt://127.0.0.1:18999"})
    (tmp_path / "run").mkdir()
    conf = Mosquitto(s).write_config().read_text()
    assert "max_queued_messages 0" in conf and "persistence true" in conf
    assert "listener 18999 127.0.0.1" in conf


def test_broker_keeps_5000_queued_messages_and_survives_restart(tmp_path):
    # Own broker: this test restarts it.
    s, broker = own_broker(tmp_path)
    topic = f"t-{uuid.uuid4().hex[:6]}/q"
    try:
        # A consumer subscribes with a persistent session, then goes away.
        consumer = Bus(s.mqtt, "slow-consumer").connect()
        consumer.subscribe(topic)
        import time
        time.sleep(0.3)
        consumer.close()
        producer = Bus(s.mqtt, "producer", persistent=False).connect()
        n = 5000  # five times Mosquitto's default per-client queue
        producer.publish_durably([(topic, str(i).encode()) for i in range(n)], timeout=60)
        producer.close()
        broker.stop()  # clean stop: Mosquitto writes its persistence file
        broker.start()
        consumer = Bus(s.mqtt, "slow-consumer").connect()
        got = Collector(consumer, topic).wait(n, timeout=60)
        consumer.close()
    finally:
        broker.stop()
    assert sorted(int(m.payload) for m in got) == list(range(n))


def test_service_manager_reports_and_stops_what_it_started(tmp_path):
    s = load_settings(state_dir=tmp_path, mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
                      influx={"url": f"http://127.0.0.1:{free_port()}"})
    mgr = ServiceManager(s)
    assert mgr.up(timeout=60) == ["mosquitto", "influxdb"]
    assert mgr.up() == []  # already running
    st = {x.name: x for x in mgr.status()}
    assert st["mosquitto"].ready and st["influxdb"].ready
    pids = [st["mosquitto"].pid, st["influxdb"].pid]
    assert sorted(mgr.down()) == ["influxdb", "mosquitto"]
    from mimamori.services import pid_alive

    assert not any(pid_alive(p) for p in pids)
