"""A slow consumer: the bus holds at most its bound in memory (the broker and
TCP hold the rest), and every message still arrives, each once acknowledged.

Mosquitto 2.0 sends more QoS 1 messages than the Receive Maximum we ask for,
so the bound has to come from us: the network thread stops reading the socket
while the inbox is full."""

from __future__ import annotations

import threading
import time

from mimamori.bus import Bus


def test_slow_consumer_pending_stays_within_the_bound_and_nothing_is_lost(settings, bus_factory):
    topic = f"{settings.bus.topic_root}/slow"
    n = 6000
    consumer = Bus(settings.mqtt, f"slow-{settings.bus.topic_root[5:15]}", max_unacked=20)
    bound = consumer.max_unacked + 16
    # a persistent session that exists before anything is published: the
    # broker keeps everything for it while it is slow
    consumer.connect()
    seen: list[bytes] = []
    peak = [0]
    gate = threading.Event()

    def slow(batch):
        gate.wait(30)  # the first batch waits until all is published: a backlog builds
        peak[0] = max(peak[0], consumer.pending())
        seen.extend(m.payload for m in batch)
        time.sleep(0.002)

    try:
        consumer.consume([topic], slow, batch_max=50, batch_wait_s=0.0)
        producer = bus_factory(persistent=False)
        body = b"." * 200
        producer.publish_durably([(topic, b"%d|" % i + body) for i in range(n)], timeout=120)
        time.sleep(1.0)  # the broker pushes what it will into our socket
        peak[0] = max(peak[0], consumer.pending())
        gate.set()
        deadline = time.monotonic() + 120
        while len(seen) < n and time.monotonic() < deadline:
            peak[0] = max(peak[0], consumer.pending())
            time.sleep(0.01)
    finally:
        consumer.close()
    got = sorted(int(p.split(b"|")[0]) for p in seen)
    assert got == list(range(n))  # all of them, each once, nothing lost
    assert peak[0] <= bound, f"{peak[0]} messages pending with a bound of {bound}"
