"""Who may publish: Mosquitto password and ACL files generated from the
registry (``[mqtt] auth = true``; off by default so tests and a laptop can
run anonymously).

* A **device** with an ``mqtt_username`` and an ``mqtt_password`` secret may
  publish only to its own ``{root}/up/{profile}/{device_id}``.
* Each **stage** has its own user (``mimamori-gateway``, ``mimamori-ingest``
  …) with only the topics it needs; ``mimamori-admin`` is for operators'
  tools and simulators; ``mimamori-integration`` may publish ChirpStack / TTS
  uplink events. Their passwords are generated once and kept in
  ``{state_dir}/mqtt/users.json`` (mode 0600).
* Passwords are stored hashed the way ``mosquitto_passwd`` (2.0) does:
  ``$7$`` = PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt.
* :class:`MqttAuthWatcher` rewrites both files when the registry changes
  and sends Mosquitto SIGHUP, which makes it reload them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import signal
import threading
from pathlib import Path

import orjson

from .config import Settings
from .registry import Registry, RegistryError
from .topics import CHIRPSTACK_UP, TTS_UP

log = logging.getLogger(__name__)

ITERATIONS = 101


def stage_acl(root: str) -> dict[str, list[tuple[str, str]]]:
    """Stage user → (access, topic filter). Writes are only what the stage
    produces; internal stages may read the whole tree, because a refused
    subscription fails silently (no data, no error) and reading is not where
    the harm is."""
    return {
        "gateway": [("read", f"{root}/#"), ("read", CHIRPSTACK_UP), ("read", TTS_UP),
                    ("write", f"{root}/readings/#"), ("write", f"{root}/deadletter/#"),
                    ("write", f"{root}/status/#")],
        "ingest": [("read", f"{root}/#"), ("write", f"{root}/deadletter/#"),
                   ("write", f"{root}/status/#")],
        "analytics": [("read", f"{root}/#"), ("write", f"{root}/findings/#"),
                      ("write", f"{root}/deadletter/#"), ("write", f"{root}/status/#")],
        "alerts": [("read", f"{root}/#"), ("write", f"{root}/alerts/#"),
                   ("write", f"{root}/deadletter/#"), ("write", f"{root}/status/#")],
        # the web app reads everything it shows and publishes HTTP-ingest readings
        "web": [("readwrite", f"{root}/#")],
        "integration": [("write", CHIRPSTACK_UP), ("write", TTS_UP)],
        "admin": [("readwrite", "#")],
    }


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A ``mosquitto_passwd`` 2.0 hash line value ($7$)."""
    salt = salt or os.urandom(12)
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def auth_dir(settings: Settings) -> Path:
    return settings.state_dir.resolve() / "mqtt"


def stage_passwords(settings: Settings) -> dict[str, str]:
    """The stage users' passwords, generated once per state directory."""
    path = auth_dir(settings) / "users.json"
    users = stage_acl(settings.bus.topic_root)
    known: dict[str, str] = {}
    if path.exists():
        known = orjson.loads(path.read_bytes())
    missing = [u for u in users if u not in known]
    if missing:
        for u in missing:
            known[u] = secrets.token_urlsafe(24)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(known, option=orjson.OPT_INDENT_2))
        os.replace(tmp, path)
    return known


def stage_user(stage: str) -> str:
    return f"mimamori-{stage}"


def with_stage_credentials(settings: Settings, stage: str) -> Settings:
    """Settings whose MQTT user is the stage's own (when auth is on and no
    user was configured explicitly)."""
    if not settings.mqtt.auth or settings.mqtt.username:
        return settings
    pw = stage_passwords(settings)[stage]
    mqtt = settings.mqtt.model_copy(update={"username": stage_user(stage), "password": pw})
    return settings.model_copy(update={"mqtt": mqtt})


def render(settings: Settings, registry: Registry | None) -> tuple[str, str]:
    """(password file, ACL file) contents."""
    root = settings.bus.topic_root
    pw_lines: list[str] = []
    acl = ["# Written by mimamori (mimamori/mqtt_auth.py) from the registry; do not edit."]
    passwords = stage_passwords(settings)
    for stage, rules in stage_acl(root).items():
        user = stage_user(stage)
        pw_lines.append(f"{user}:{hash_password(passwords[stage])}")
        acl += ["", f"user {user}"] + [f"topic {access} {t}" for access, t in rules]
    for d in registry.devices() if registry is not None else []:
        if not d.mqtt_username:
            continue
        try:
            pw = registry.device_secrets(d.device_id).get("mqtt_password")
        except RegistryError as exc:
            log.warning("device %s: %s; no MQTT account", d.device_id, exc)
            continue
        if not pw or any(c in d.mqtt_username for c in ": \n"):
            continue
        pw_lines.append(f"{d.mqtt_username}:{hash_password(pw)}")
        acl += ["", f"user {d.mqtt_username}", f"topic write {root}/up/{d.profile}/{d.device_id}"]
    return "\n".join(pw_lines) + "\n", "\n".join(acl) + "\n"


def write_auth_files(settings: Settings, registry: Registry | None = None
                     ) -> tuple[Path, Path, bool]:
    """Write the password and ACL files; returns their paths and whether the
    ACL (who may do what) changed."""
    d = auth_dir(settings)
    d.mkdir(parents=True, exist_ok=True)
    if registry is None:
        registry = Registry(settings.registry)
    passwd, acl = render(settings, registry)
    pw_path, acl_path = d / "mosquitto.passwd", d / "mosquitto.acl"
    changed = not acl_path.exists() or acl_path.read_text() != acl
    # Password hashes are salted anew each time: compare the users instead.
    old_users = (sorted(line.split(":", 1)[0] for line in pw_path.read_text().splitlines())
                 if pw_path.exists() else [])
    changed = changed or old_users != sorted(line.split(":", 1)[0] for line in
                                             passwd.splitlines())
    for path, text in ((pw_path, passwd), (acl_path, acl)):
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return pw_path, acl_path, changed


def reload_broker(settings: Settings) -> bool:
    """SIGHUP our managed Mosquitto so it reloads password and ACL files."""
    from .services import Mosquitto

    pid = Mosquitto(settings).pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGHUP)
    return True


class MqttAuthWatcher:
    """Regenerates the files when the registry changes (devices added,
    removed, credentials changed) and reloads the broker."""

    def __init__(self, settings: Settings, registry: Registry, interval_s: float = 2.0) -> None:
        self.settings = settings
        self.registry = registry
        self.interval_s = interval_s
        self._version = registry.version()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0

    def check(self) -> bool:
        v = self.registry.version()
        if v == self._version:
            return False
        self._version = v
        # A password may have changed without the user list changing: always rewrite.
        write_auth_files(self.settings, self.registry)
        if reload_broker(self.settings):
            self.reloads += 1
            log.info("MQTT credentials regenerated from the registry; broker reloaded")
        return True

    def start(self) -> MqttAuthWatcher:
        self._thread = threading.Thread(target=self._loop, name="mqtt-auth", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception as exc:  # keep watching
                log.warning("MQTT auth files not regenerated: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
