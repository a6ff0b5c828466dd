"""The two traps of SERVICES.md, shown on the real broker and paho:

1. Mosquitto's default ``max_queued_messages`` (1,000 per client) silently
   drops QoS 1 messages queued for a consumer that fell behind, while the
   publisher gets a PUBACK for every one; the configuration we ship keeps all.
2. paho-mqtt 2.2 ``publish()`` answers rc 15 (MQTT_ERR_QUEUE_SIZE) once 65,535
   QoS 1 messages are unacknowledged; ``Bus.publish`` waits for PUBACKs then
   instead of losing the message.
"""

import os
import signal
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from mimamori.bus import Bus
from mimamori.services import Mosquitto

from ..helpers import own_broker, wait_for


class DefaultMosquitto(Mosquitto):
    """Mosquitto with only what it needs to listen: every limit at its default."""

    def write_config(self):
        import getpass

        conf = self.state / "run" / "mosquitto-default.conf"
        conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} {self.host}\n"
                        "allow_anonymous true\n")
        return conf


def _queued_then_delivered(broker_cls, tmp_path, n=3000):
    s, broker = own_broker(tmp_path, broker_cls)
    topic = f"trap-{uuid.uuid4().hex[:6]}/q"
    try:
        consumer = Bus(s.mqtt, "behind").connect()  # persistent session
        consumer.subscribe(topic)
        time.sleep(0.3)
        consumer.close()  # the consumer falls behind (here: is away)
        producer = Bus(s.mqtt, "producer", persistent=False).connect()
        producer.publish_durably([(topic, str(i).encode()) for i in range(n)], timeout=60)
        producer.close()  # every one of the n got its PUBACK
        got = []
        consumer = Bus(s.mqtt, "behind").connect()
        consumer.consume([topic], lambda b: got.extend(int(m.payload) for m in b))
        wait_for(lambda: len(got) >= 1000, timeout=30, what="the queued messages")
        deadline = time.monotonic() + 2  # then whatever else still comes
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.close()
    finally:
        broker.stop()
    return got


def test_default_mosquitto_drops_acknowledged_qos1_and_ours_keeps_all(tmp_path):
    n = 3000
    default = _queued_then_delivered(DefaultMosquitto, tmp_path / "default", n)
    shipped = _queued_then_delivered(Mosquitto, tmp_path / "shipped", n)
    print(f"default config delivered {len(default)} of {n}; shipped config {len(shipped)}")
    assert len(set(default)) <= 1100  # ~1,000 queued; the rest dropped after PUBACK
    assert sorted(set(shipped)) == list(range(n))


def test_paho_refuses_with_rc_15_at_65535_unacknowledged(services):
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                    client_id=f"rc15-{uuid.uuid4().hex[:6]}")
    c.max_queued_messages_set(0)  # "unlimited" — still bounded by the packet ids
    c.connect(services.mqtt.host, services.mqtt.port)
    # No network loop runs: no PUBACK is ever read, so none is acknowledged.
    rcs = [c.publish("rc15/t", b"x", qos=1).rc for _ in range(65536)]
    c._sock_close()
    assert rcs[:65535] == [MQTTErrorCode.MQTT_ERR_SUCCESS] * 65535
    assert rcs[65535] == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE == 15


def test_bus_publish_waits_at_rc_15_and_loses_nothing(tmp_path):
    s, broker = own_broker(tmp_path)
    topic = f"rc15-{uuid.uuid4().hex[:6]}/t"
    n = 65535 + 200
    try:
        got = []
        consumer = Bus(s.mqtt, "rc15-consumer").connect()
        consumer.consume([topic], lambda b: got.extend(b), batch_max=1000)
        time.sleep(0.3)
        producer = Bus(s.mqtt, "rc15-producer", persistent=False).connect()
        os.kill(broker.pid(), signal.SIGSTOP)  # no PUBACK comes back for a while
        infos = []
        t = threading.Thread(target=lambda: infos.extend(
            producer.publish(topic, b"%d" % i) for i in range(n)), daemon=True)
        t.start()
        wait_for(lambda: producer.queue_full_waits > 0, timeout=60, what="rc 15")
        assert t.is_alive()  # publish() is waiting, not dropping
        os.kill(broker.pid(), signal.SIGCONT)
        t.join(120)
        producer.wait_published(infos, timeout=120)
        wait_for(lambda: len(got) >= n, timeout=120, what=f"{n} messages")
        producer.close()
        consumer.close()
    finally:
        if broker.pid():
            os.kill(broker.pid(), signal.SIGCONT)
        broker.stop()
    assert len(infos) == n and all(i.is_published() for i in infos)
    assert sorted(int(m.payload) for m in got) == list(range(n))
