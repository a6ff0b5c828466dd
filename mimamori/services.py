"""Start, check and stop the real servers the project uses: Mosquitto and
InfluxDB, on loopback, with project-local configuration, data and logs under
the state directory. Processes are tracked by pid file and stopped by pid.

When a URL in the configuration is marked ``managed = false`` the server is
someone else's: it is only checked, never started or stopped.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .config import PORTS, Settings


class ServiceError(Exception):
    """A service could not be started or reached; the message is one line
    saying what failed, where, and what to do."""


@dataclass
class ServiceStatus:
    name: str
    url: str
    managed: bool
    running: bool
    ready: bool
    pid: int | None
    detail: str = ""

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"):
        p = Path(d) / name
        if p.exists() and os.access(p, os.X_OK):
            return str(p)
    return None


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def end_children(*procs: subprocess.Popen, timeout: float = 20.0) -> None:
    """Ask child processes to stop (SIGTERM, all at once), kill those that
    are still running after ``timeout`` seconds each."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def mqtt_ready(host: str, port: int, timeout: float = 1.0, username: str | None = None,
               password: str | None = None) -> tuple[bool, str]:
    """True when the broker answers CONNECT with a successful CONNACK."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    result: dict = {}
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                    client_id=f"mimamori-probe-{os.getpid()}")
    if username:
        c.username_pw_set(username, password)

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc

    c.on_connect = on_connect
    try:
        c.connect(host, port, keepalive=5)
    except OSError as exc:
        return False, str(exc.strerror or exc)
    deadline = time.monotonic() + timeout
    while "rc" not in result and time.monotonic() < deadline:
        c.loop(timeout=0.05)
    c.disconnect()
    if "rc" not in result:
        return False, "no CONNACK"
    rc = result["rc"]
    return (not rc.is_failure), str(rc)


def influx_ready(url: str, timeout: float = 1.0) -> tuple[bool, str]:
    try:
        r = httpx.get(f"{url}/ping", timeout=timeout)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    return r.status_code == 204, f"HTTP {r.status_code}"


class _Server:
    name = ""
    binary = ""
    debian_package = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = settings.state_dir.resolve()
        self.run_dir = self.state / "run"
        self.log_dir = self.state / "logs"
        self.data_dir = self.state / "data" / self.name

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    # subclasses
    managed: bool
    url: str
    host: str
    port: int

    def write_config(self) -> Path:
        raise NotImplementedError

    def command(self, config: Path, binary: str) -> list[str]:
        raise NotImplementedError

    def ready(self) -> tuple[bool, str]:
        raise NotImplementedError

    def status(self) -> ServiceStatus:
        pid = self.pid() if self.managed else None
        ok, detail = self.ready()
        return ServiceStatus(self.name, self.url, self.managed, bool(pid) or ok, ok, pid, detail)

    def start(self, timeout: float = 30.0) -> bool:
        """Start if managed and not running; wait until ready.
        Returns True when this call started the process."""
        if not self.managed:
            ok, detail = self.ready()
            if not ok:
                raise ServiceError(
                    f"{self.name} at {self.url} is unreachable ({detail}); start it, "
                    f"or set managed = true to let mimamori run its own"
                )
            return False
        if self.pid():
            self._wait_ready(timeout)
            return False
        binary = find_binary(self.binary)
        if binary is None:
            raise ServiceError(
                f"{self.name} is not installed ({self.binary} not found); run: "
                f"sudo apt-get install -y {self.debian_package}   (or: make setup)"
            )
        if not port_is_free(self.host, self.port):
            raise ServiceError(
                f"port {self.port} on {self.host} needed by {self.name} is taken by another "
                f"program; stop it, or point mimamori at another port "
                f"(e.g. MIMAMORI_{self.env_key}__URL)"
            )
        for d in (self.run_dir, self.log_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        log = open(self.log_file, "ab")
        proc = subprocess.Popen(
            self.command(config, binary),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal does not reach it; we stop it by pid
        )
        log.close()
        self.pid_file.write_text(str(proc.pid))
        try:
            self._wait_ready(timeout, proc)
        except ServiceError:
            self.stop()
            raise
        return True

    env_key = ""

    def _wait_ready(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        detail = ""
        while time.monotonic() < deadline:
            ok, detail = self.ready()
            if ok:
                return
            if proc is not None and proc.poll() is not None:
                tail = self._log_tail()
                raise ServiceError(
                    f"{self.name} exited at start (code {proc.returncode}): {tail} "
                    f"— see {self.log_file}"
                )
            time.sleep(0.1)
        raise ServiceError(
            f"{self.name} at {self.url} not ready after {timeout:.0f}s ({detail}); "
            f"see {self.log_file}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def stop(self, timeout: float = 15.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class Mosquitto(_Server):
    name = "mosquitto"
    binary = "mosquitto"
    debian_package = "mosquitto"
    env_key = "MQTT"

    @property
    def managed(self) -> bool:  # type: ignore[override]
        return self.settings.mqtt.managed

    @property
    def url(self) -> str:  # type: ignore[override]
        return self.settings.mqtt.url

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.settings.mqtt.host

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.settings.mqtt.port

    def write_config(self) -> Path:
        conf = self.state / "run" / "mosquitto.conf"
        auth = None
        if self.settings.mqtt.auth:
            from .mqtt_auth import write_auth_files

            pw, acl, _ = write_auth_files(self.settings)
            auth = (pw, acl)
        conf.write_text(mosquitto_conf(self.host, self.port, self.data_dir, self.log_file, auth))
        return conf

    def command(self, config: Path, binary: str) -> list[str]:
        return [binary, "-c", str(config)]

    def ready(self) -> tuple[bool, str]:
        if self.settings.mqtt.auth:
            s = self.settings.mqtt
            if s.username:
                return mqtt_ready(self.host, self.port, username=s.username, password=s.password)
            from .mqtt_auth import stage_passwords, stage_user

            return mqtt_ready(self.host, self.port, username=stage_user("admin"),
                              password=stage_passwords(self.settings)["admin"])
        return mqtt_ready(self.host, self.port)


def mosquitto_conf(host: str, port: int, data_dir: Path, log_file: Path,
                   auth: tuple[Path, Path] | None = None) -> str:
    """The Mosquitto configuration the project ships (see SERVICES.md).
    ``auth`` = (password file, ACL file) turns anonymous access off."""
    access = ("allow_anonymous true" if auth is None else
              f"allow_anonymous false\npassword_file {auth[0]}\nacl_file {auth[1]}")
    return f"""# Written by mimamori; edit mimamori/services.py, not this file.
# Runs as the user who started it (no privilege drop to 'mosquitto').
user {getpass.getuser()}
listener {port} {host}
{access}

# Persistent sessions and their queued QoS 1 messages survive a restart.
persistence true
persistence_location {data_dir}/
autosave_interval 10

# Mosquitto's default (1,000 per client) silently DROPS queued QoS 1
# messages when a consumer falls behind, while publishers still get PUBACK.
# 0 = no limit: the broker keeps everything for a slow or absent consumer.
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
max_keepalive 3600
max_packet_size 1048576

log_dest file {log_file}
log_type error
log_type warning
log_type notice
connection_messages false
"""


class InfluxDB(_Server):
    name = "influxdb"
    binary = "influxd"
    debian_package = "influxdb"
    env_key = "INFLUX"

    @property
    def managed(self) -> bool:  # type: ignore[override]
        return self.settings.influx.managed

    @property
    def url(self) -> str:  # type: ignore[override]
        return self.settings.influx.url

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.settings.influx.host

    @property
    def port(self) -> int:  # type: ignore[override]
        return self.settings.influx.port

    @property
    def rpc_port(self) -> int:
        # Default setups use the plan's port; others (tests) take the next free one.
        if self.port == PORTS["influx_http"]:
            return PORTS["influx_rpc"]
        return free_port(self.host)

    @property
    def auth(self) -> bool:
        """Authentication is on when ``[influx] username`` (an admin) is set."""
        return bool(self.settings.influx.username)

    def write_config(self) -> Path:
        conf = self.state / "run" / "influxdb.conf"
        conf.write_text(influx_conf(self.host, self.port, self.rpc_port, self.data_dir,
                                    auth=self.auth))
        return conf

    def command(self, config: Path, binary: str) -> list[str]:
        return [binary, "-config", str(config)]

    def ready(self) -> tuple[bool, str]:
        return influx_ready(self.url)

    def start(self, timeout: float = 30.0) -> bool:
        started = super().start(timeout)
        if self.managed and self.auth:
            s = self.settings.influx
            influx_ensure_admin(self.url, s.username or "", s.password or "", s.timeout_s)
        return started


def _influxql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influx_ensure_admin(url: str, username: str, password: str, timeout: float = 10.0) -> None:
    """On an InfluxDB with authentication on: make sure ``username`` is an
    admin with ``password``. A fresh InfluxDB 1.x accepts exactly one
    unauthenticated statement, creating the first admin; that is done here."""
    if not password:
        raise ServiceError(f"[influx] username {username!r} needs a password "
                           "(MIMAMORI_INFLUX__PASSWORD)")

    def query(q: str, auth: tuple[str, str] | None) -> str:
        try:
            r = httpx.post(f"{url}/query", data={"q": q}, auth=auth, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ServiceError(f"influxdb at {url} is unreachable ({type(exc).__name__})"
                               ) from None
        try:
            body = r.json()
        except ValueError:
            return f"HTTP {r.status_code}"
        err = body.get("error") or next((x.get("error") for x in body.get("results", [])
                                         if x.get("error")), None)
        return err or ("" if r.status_code == 200 else f"HTTP {r.status_code}")

    err = query("SHOW USERS", (username, password))
    if "create admin user first" in err:
        ident = '"' + username.replace("\\", "\\\\").replace('"', '\\"') + '"'
        err = query(f"CREATE USER {ident} WITH PASSWORD {_influxql_string(password)} "
                    "WITH ALL PRIVILEGES", None) or query("SHOW USERS", (username, password))
    if err:
        raise ServiceError(f"influxdb at {url} refused the admin [influx] username "
                           f"{username!r} ({err}); check MIMAMORI_INFLUX__PASSWORD")


def influx_conf(host: str, port: int, rpc_port: int, data_dir: Path, auth: bool = False) -> str:
    return f"""# Written by mimamori; edit mimamori/services.py, not this file.
reporting-enabled = false
bind-address = "{host}:{rpc_port}"

[meta]
  dir = "{data_dir}/meta"

[data]
  dir = "{data_dir}/data"
  wal-dir = "{data_dir}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{host}:{port}"
  log-enabled = false
  # on when [influx] username is set; anonymous requests are then refused
  auth-enabled = {str(auth).lower()}

[continuous_queries]
  enabled = true
  log-enabled = false

[logging]
  level = "warn"
"""


class ServiceManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servers: list[_Server] = [Mosquitto(settings), InfluxDB(settings)]

    def up(self, timeout: float = 30.0) -> list[str]:
        """Start what is managed and not running. Returns the names started."""
        started = []
        for s in self.servers:
            if s.start(timeout):
                started.append(s.name)
        return started

    def down(self, only: list[str] | None = None) -> list[str]:
        stopped = []
        for s in reversed(self.servers):
            if only is not None and s.name not in only:
                continue
            if s.managed and s.stop():
                stopped.append(s.name)
        return stopped

    def status(self) -> list[ServiceStatus]:
        return [s.status() for s in self.servers]
