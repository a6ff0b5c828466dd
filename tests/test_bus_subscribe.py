"""Bus.subscribe returns only once the broker confirmed: a message published
right afterwards from another connection (not retained) is never missed."""

from .helpers import Collector


def test_message_published_right_after_consume_arrives(settings, bus_factory):
    topic = f"{settings.bus.topic_root}/subscribe-check"
    for i in range(20):  # a fresh subscriber each round: no time to settle
        consumer = bus_factory(persistent=False)
        got = Collector(consumer, f"{topic}/{i}")
        producer = bus_factory(persistent=False)
        producer.publish_durably([(f"{topic}/{i}", b"x")])
        assert got.wait(1, timeout=30)[0].payload == b"x"
