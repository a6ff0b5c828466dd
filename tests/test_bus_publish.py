"""Bus.wait_published: a message published while the broker is away is kept
by paho, sent on reconnect, and waited for — not an error (paho's own
``wait_for_publish`` raises for it) and not lost."""

import threading
import time
import uuid

from paho.mqtt.enums import MQTTErrorCode

from mimamori.bus import Bus, BusError

from .helpers import own_broker, wait_for


def test_message_published_during_an_outage_is_acknowledged_after_it(tmp_path):
    s, broker = own_broker(tmp_path)
    topic = f"outage-{uuid.uuid4().hex[:6]}/t"
    try:
        consumer = Bus(s.mqtt, "outage-consumer").connect()   # persistent session
        consumer.subscribe(topic)
        producer = Bus(s.mqtt, "outage-producer", persistent=False).connect()
        producer.publish_durably([(topic, b"before")])
        broker.stop()
        wait_for(lambda: not producer.connected, timeout=30, what="the producer to notice")
        info = producer.publish(topic, b"during")
        assert info.rc == MQTTErrorCode.MQTT_ERR_AGAIN   # kept by paho for the reconnect
        assert not info.is_published()                   # (paho raised here for NO_CONN)
        outcome: list = []

        def wait():
            try:
                producer.wait_published([info], timeout=60)
                outcome.append("acknowledged")
            except (BusError, RuntimeError) as exc:   # the old code raised RuntimeError here
                outcome.append(exc)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        time.sleep(0.5)
        assert outcome == []            # still waiting: no PUBACK can have come
        broker.start()
        waiter.join(70)
        assert outcome == ["acknowledged"]
        got = []
        consumer.close()
        consumer = Bus(s.mqtt, "outage-consumer").connect()
        consumer.consume([topic], lambda b: got.extend(m.payload for m in b))
        wait_for(lambda: b"during" in got, timeout=30, what="the message sent during the outage")
        consumer.close()
        producer.close()
    finally:
        broker.stop()


def test_wait_published_times_out_with_a_clear_error(tmp_path):
    s, broker = own_broker(tmp_path)
    try:
        producer = Bus(s.mqtt, "timeout-producer", persistent=False).connect()
        broker.stop()
        wait_for(lambda: not producer.connected, timeout=30, what="the producer to notice")
        info = producer.publish("t/x", b"x")
        try:
            producer.wait_published([info], timeout=0.5)
        except BusError as exc:
            assert "did not acknowledge" in str(exc)
        else:
            raise AssertionError("no broker, yet the message was acknowledged")
        producer.close()
    finally:
        broker.stop()
