"""Configuration: one TOML file plus ``MIMAMORI_*`` environment overrides.

Validated when loaded, never connects. Defaults work on a laptop: every
service listens on loopback on the ports of the port plan (README).

Precedence (highest first): explicit overrides passed to :func:`load_settings`,
environment variables (``MIMAMORI_MQTT__URL=mqtt://host:1883``), the TOML file
(``--config``, ``$MIMAMORI_CONFIG`` or ``./mimamori.toml``), defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The port plan: everything the project listens on, in one place.
PORTS = {
    "mqtt": 18830,  # Mosquitto started by the project (not 1883: a system broker may own it)
    "influx_http": 18086,  # InfluxDB HTTP API (not 8086, for the same reason)
    "influx_rpc": 18088,  # InfluxDB backup/restore RPC, loopback only
    "web": 8080,  # the one FastAPI app: status page, API, /metrics, HTTP ingest
    "lorawan_udp": 1700,  # Semtech packet-forwarder UDP (the forwarders' usual port)
    "smtp_standin": 8025,  # local SMTP server used by the demo's outbox
    "line_standin": 18090,  # local stand-in for LINE's Messaging API in the demo
}


class MqttSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = f"mqtt://127.0.0.1:{PORTS['mqtt']}"
    managed: bool = Field(True, description="start our own Mosquitto for this URL")
    username: str | None = None
    password: str | None = None
    # Anonymous access off; per-device and per-stage users and ACLs generated
    # from the registry (mimamori/mqtt_auth.py). Off by default (tests, laptops).
    auth: bool = False
    keepalive_s: int = Field(30, ge=5, le=3600)
    # How many QoS 1 messages one consumer may hold unacknowledged (MQTT 5
    # Receive Maximum). The broker holds the rest: that is the backpressure.
    max_unacked: int = Field(1000, ge=1, le=65535)

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"MQTT URL must look like mqtt://host:port, got {v!r}")
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 1883


class InfluxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = f"http://127.0.0.1:{PORTS['influx_http']}"
    database: str = "mimamori"
    managed: bool = Field(True, description="start our own InfluxDB for this URL")
    username: str | None = None
    password: str | None = None
    timeout_s: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"InfluxDB URL must look like http://host:port, got {v!r}")
        return v.rstrip("/")

    @field_validator("database")
    @classmethod
    def _check_db(cls, v: str) -> str:
        if not v or not all(c.isalnum() or c in "_-" for c in v):
            raise ValueError("database name may hold letters, digits, '_' and '-' only")
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 8086


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(PORTS["web"], ge=1, le=65535)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


class BusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Every topic the project owns starts with this root (tests use their own).
    topic_root: str = "mimamori/v1"
    partitions: int = Field(16, ge=1, le=1024)
    # Readings per bus message the gateway packs into one batch envelope.
    max_batch: int = Field(500, ge=1, le=10000)
    # How long the gateway waits to fill a batch before publishing it.
    batch_wait_ms: int = Field(50, ge=0, le=10000)
    # Inputs larger than this are refused (dead letter, reason "oversized").
    max_payload_bytes: int = Field(65536, ge=64)

    @field_validator("topic_root")
    @classmethod
    def _check_root(cls, v: str) -> str:
        v = v.strip("/")
        if not v or any(c in v for c in "+#\0"):
            raise ValueError("topic_root must be a plain topic without wildcards")
        return v


class RetentionSettings(BaseModel):
    """How long InfluxDB keeps each data category (InfluxQL durations)."""

    model_config = ConfigDict(extra="forbid")

    raw_sensor: str = "400d"  # every family's raw readings
    location: str = "30d"  # people's raw positions (measurement `location`)
    downsampled_1m: str = "1825d"  # 1-minute mean/min/max (5 years)
    downsampled_1h: str = "1825d"  # 1-hour mean/min/max (5 years)

    @field_validator("raw_sensor", "location", "downsampled_1m", "downsampled_1h")
    @classmethod
    def _check_duration(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[1-9][0-9]*[hdw]|INF", v):
            raise ValueError(f"retention must look like 400d, 52w, 24h or INF, got {v!r}")
        return v


class IngestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_points: int = Field(5000, ge=1)
    flush_ms: int = Field(200, ge=1)
    gzip: bool = False
    buffer_max_mb: int = Field(512, ge=1)
    # On-disk buffer used while InfluxDB cannot take writes; default
    # {state_dir}/ingest-buffer/{client_id}.
    buffer_dir: Path | None = None
    buffer_fsync: bool = True
    # MQTT client id (persistent session) of the ingest stage.
    client_id: str = "mimamori-ingest"
    retention: RetentionSettings = RetentionSettings()
    # Least-privilege InfluxDB users, created when [influx] username (an
    # admin) is set: the writer may only WRITE, the reader only READ.
    writer_username: str | None = None
    writer_password: str | None = None
    reader_username: str | None = None
    reader_password: str | None = None


class LorawanSettings(BaseModel):
    """The built-in LoRaWAN network server (Semtech packet-forwarder UDP)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="listen for packet forwarders in the gateway stage")
    host: str = "127.0.0.1"  # 0.0.0.0 to hear gateways on the network
    port: int = Field(PORTS["lorawan_udp"], ge=0, le=65535)
    net_id: str = Field("000000", pattern=r"^[0-9a-fA-F]{6}$")  # as written (big-endian)
    dedup_ms: int = Field(200, ge=0, le=5000)  # collect copies from several gateways
    gateway_offline_s: float = Field(60.0, gt=0)  # no keepalive for this long → offline
    rx1_delay_s: int = Field(1, ge=1, le=15)
    tx_power_dbm: int = Field(13, ge=0, le=30)
    udp_receive_buffer: int = Field(4 * 1024 * 1024, ge=65536)  # bytes (SO_RCVBUF)


class GatewaySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Subscribe to ChirpStack v4 / The Things Stack v3 integration topics.
    network_servers: bool = True
    # HTTP ingest: integration name → bearer token (per-device tokens live
    # in the device's secrets as ``http_token``).
    http_tokens: dict[str, str] = Field(default_factory=dict)
    # A device's retained status is republished at most this often.
    status_min_interval_s: float = Field(5.0, ge=0)
    # Device messages handled as one batch: decoded, published, confirmed by
    # the broker (PUBACK), then acknowledged together. The wait for PUBACK is
    # paid once per batch, so bigger batches carry more readings per second
    # (measured: 500 → 2,000 doubled `mimamori bench ingest`'s e2e rate;
    # 2,000 → 5,000 on a quiet machine: e2e from ~1.0 × to ~1.45 × naive).
    consume_batch: int = Field(5000, ge=1, le=20000)
    # Device messages the broker may send ahead unacknowledged (MQTT 5
    # Receive Maximum of the gateway's connection): at least 2 × consume_batch,
    # so the next batch arrives while one waits for its PUBACKs.
    max_unacked: int = Field(10000, ge=1, le=65535)


class DemoSettings(BaseModel):
    """Where ``mimamori demo`` runs its local SMTP server and LINE stand-in.
    Unset: the planned port, or a free one (logged) when that is taken."""

    model_config = ConfigDict(extra="forbid")

    smtp_port: int | None = Field(None, ge=1, le=65535)
    line_port: int | None = Field(None, ge=1, le=65535)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MIMAMORI_", env_nested_delimiter="__", extra="forbid"
    )

    state_dir: Path = Path(".mimamori")
    registry_url: str | None = None
    mqtt: MqttSettings = MqttSettings()
    influx: InfluxSettings = InfluxSettings()
    web: WebSettings = WebSettings()
    bus: BusSettings = BusSettings()
    ingest: IngestSettings = IngestSettings()
    lorawan: LorawanSettings = LorawanSettings()
    gateway: GatewaySettings = GatewaySettings()
    demo: DemoSettings = DemoSettings()
    # The alerts stage's routing, policies and notifiers (alerts.toml); by
    # default {state_dir}/alerts.toml when it exists, else built-in defaults.
    alerts_config: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def registry(self) -> str:
        return self.registry_url or f"sqlite:///{self.state_dir.resolve() / 'registry.db'}"

    def reader_influx(self) -> InfluxSettings:
        """[influx] as readers (query layer, Grafana) use it: with the [ingest]
        reader's credentials when auth is on and a reader is set — least
        privilege — else unchanged.

        >>> s = Settings(influx={"username": "admin", "password": "a"},
        ...              ingest={"reader_username": "r", "reader_password": "p"})
        >>> (s.reader_influx().username, s.reader_influx().password)
        ('r', 'p')
        >>> Settings(ingest={"reader_username": "r", "reader_password": "p"}).reader_influx().username
        """
        ing = self.ingest
        if not (self.influx.username and ing.reader_username):
            return self.influx
        return self.influx.model_copy(update={"username": ing.reader_username,
                                              "password": ing.reader_password})

    def public_summary(self) -> dict[str, Any]:
        """What other tools may see (no passwords)."""
        return {
            "mqtt_url": self.mqtt.url,
            "influx_url": self.influx.url,
            "influx_database": self.influx.database,
            "web_url": self.web.url,
            "topic_root": self.bus.topic_root,
            "partitions": self.bus.partitions,
            "state_dir": str(self.state_dir.resolve()),
        }


_explicit_config: Path | None = None


def _config_path() -> Path | None:
    if _explicit_config is not None:
        return _explicit_config
    env = os.environ.get("MIMAMORI_CONFIG")
    if env:
        return Path(env)
    local = Path("mimamori.toml")
    return local if local.exists() else None


class ConfigError(Exception):
    """The configuration is invalid; the message is one plain line."""


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and validate settings; raises :class:`ConfigError` with one line."""
    global _explicit_config
    from pydantic import ValidationError

    previous = _explicit_config
    if config_file is not None:
        path = Path(config_file)
        if not path.exists():
            raise ConfigError(f"configuration file {path} does not exist")
        _explicit_config = path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid configuration at {where}: {first['msg']}") from None
    except Exception as exc:  # e.g. a TOML syntax error
        raise ConfigError(f"cannot read configuration: {exc}") from None
    finally:
        _explicit_config = previous
