"""Who may publish, on a real Mosquitto started with ``[mqtt] auth = true``:
anonymous clients are refused, a device may publish only to its own topic,
and the broker follows the registry (SIGHUP reload)."""

from __future__ import annotations

import uuid

import pytest

from mimamori.bus import Bus, BusUnavailable
from mimamori.mqtt_auth import MqttAuthWatcher, hash_password, with_stage_credentials
from mimamori.registry import Registry
from mimamori.services import Mosquitto, free_port
from mimamori.topics import Topics

from ..helpers import Collector, wait_for


def test_password_hash_format_is_mosquitto_passwd_7():
    # same construction as `mosquitto_passwd` 2.0: $7$101$<b64 salt>$<b64 PBKDF2-SHA512>
    h = hash_password("secret", salt=bytes(12))
    assert h.startswith("$7$101$AAAAAAAAAAAAAAAA$") and len(h.split("$")[-1]) == 88


@pytest.fixture
def auth_broker(settings, tmp_path):
    s = settings.model_copy(update={
        "state_dir": tmp_path / "auth-broker",
        "mqtt": settings.mqtt.model_copy(update={"url": f"mqtt://127.0.0.1:{free_port()}",
                                                 "auth": True}),
    })
    registry = Registry(s.registry)
    for dev in ("a", "b"):
        registry.add_device(f"paddy-auth-{dev}", "paddy_json_v1", "field-09",
                            mqtt_username=f"dev-{dev}")
        registry.set_device_secrets(f"paddy-auth-{dev}", {"mqtt_password": f"pw-{dev}"})
    broker = Mosquitto(s)
    broker.start(timeout=30)
    clients: list[Bus] = []

    def connect(username: str | None, password: str | None = None, timeout: float = 5) -> Bus:
        mq = s.mqtt.model_copy(update={"username": username, "password": password})
        b = Bus(mq, f"auth-test-{uuid.uuid4().hex[:6]}")
        b.connect(timeout=timeout)
        clients.append(b)
        return b

    yield s, registry, connect
    for b in clients:
        b.close()
    broker.stop()


def test_anonymous_refused_and_device_confined_to_its_own_topic(auth_broker):
    s, registry, connect = auth_broker
    topics = Topics(s.bus.topic_root)
    with pytest.raises(BusUnavailable):
        connect(None, timeout=1.5)  # a refusal never connects: a short wait is enough
    with pytest.raises(BusUnavailable):
        connect("dev-a", "wrong password", timeout=1.5)
    gw = with_stage_credentials(s, "gateway").mqtt
    assert gw.username == "mimamori-gateway"
    seen = Collector(connect(gw.username, gw.password), topics.up_filter)
    dev_a = connect("dev-a", "pw-a")
    own = topics.up("paddy_json_v1", "paddy-auth-a")
    other = topics.up("paddy_json_v1", "paddy-auth-b")
    box: list = []

    def drain() -> list:
        while not seen.q.empty():
            box.append(seen.q.get())
        return box

    # the subscription completes asynchronously: publish on the own topic until it is heard
    wait_for(lambda: dev_a.publish_durably([(own, b'{"level_mm": 1}')]) or drain(),
             timeout=30, interval=0.3, what="the gateway user's subscription")
    dev_a.publish_durably([(other, b'{"level_mm": 666}'), (own, b'{"level_mm": 50}')])
    wait_for(lambda: any(m.payload == b'{"level_mm": 50}' for m in drain()), timeout=30,
             what="the own-topic message")
    # the forged message (sent just before it, by the same client, in order) never came
    assert [m.topic for m in box if m.payload != b'{"level_mm": 1}'] == [own]
    assert all(m.topic == own for m in box)

    # the registry changes → files regenerated, broker reloaded (SIGHUP)
    registry.add_device("paddy-auth-c", "paddy_json_v1", "field-09", mqtt_username="dev-c")
    registry.set_device_secrets("paddy-auth-c", {"mqtt_password": "pw-c"})
    registry.remove_device("paddy-auth-a")
    watcher = MqttAuthWatcher(s, registry)
    watcher._version = -1
    assert watcher.check() and watcher.reloads == 1

    def can_connect(user, pw):
        try:
            connect(user, pw, timeout=1.5)
            return True
        except BusUnavailable:
            return False

    assert wait_for(lambda: can_connect("dev-c", "pw-c"), timeout=20, what="dev-c accepted")
    assert not can_connect("dev-a", "pw-a")  # removed from the registry
