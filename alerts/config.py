"""Alerts configuration: ``alerts.toml`` (the ``alerts_config`` setting,
e.g. ``$MIMAMORI_ALERTS_CONFIG``, else ``{state_dir}/alerts.toml``), validated when loaded, never connecting.
Every key has a default, so no file is needed to start.

>>> c = AlertsConfig()
>>> sorted(c.policies)[:2], c.retry.delay(3)
(['default', 'fall'], 4.0)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .escalation import Policy, default_policies, parse_target
from .routing import Route, default_route


class RetryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(5, ge=1)  # per channel, then fall back to the next channel
    base_s: float = Field(1.0, gt=0)
    factor: float = Field(2.0, ge=1)
    max_s: float = Field(300.0, gt=0)

    def delay(self, attempt: int) -> float:
        """Backoff after failed attempt number ``attempt`` (1-based)."""
        return min(self.base_s * self.factor ** (attempt - 1), self.max_s)


class ReceiverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    address: str = ""


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flap_window_s: float = Field(300.0, ge=0)
    # after this many reopenings, the alert is "flapping": no more recovery messages
    flap_quiet_after: int = Field(1, ge=1)
    # kinds whose alert a cleared finding does not resolve while nobody has
    # acknowledged it: an SOS press is a call for help, and the next reading
    # without the flag does not answer it; a fall stays a fall when the
    # wearer moves again — someone should still check (acknowledging then
    # resolves it)
    latch_kinds: list[str] = Field(default_factory=lambda: ["sos", "fall"])
    route: Route = Field(default_factory=default_route)
    policies: dict[str, Policy] = Field(default_factory=default_policies)
    notifiers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    receivers: dict[str, ReceiverConfig] = Field(
        default_factory=lambda: {"mqtt": ReceiverConfig(channel="mqtt")})
    retry: RetryConfig = RetryConfig()
    # messages per minute per channel (a token bucket); 0 = no limit
    rate_per_minute: dict[str, float] = Field(
        default_factory=lambda: {"line": 600.0, "email": 600.0, "webhook": 0.0, "mqtt": 0.0})
    ack_ttl_s: float = Field(7 * 86400, gt=0)
    public_url: str | None = None  # base of acknowledge links; default: the web app's URL
    timezone: str = "Asia/Tokyo"
    tick_s: float = Field(0.05, gt=0)
    send_threads: int = Field(4, ge=1, le=64)

    @field_validator("policies", mode="before")
    @classmethod
    def _merge_defaults(cls, v: Any) -> Any:
        """Policies given by name replace the default of that name; the rest stay."""
        if isinstance(v, dict):
            return {**default_policies(), **v}
        return v

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        def walk(r: Route) -> None:
            if r.policy is not None and r.policy not in self.policies:
                raise ValueError(f"route {r.name or r.match} names unknown policy {r.policy!r}")
            for name in r.receivers or []:
                if name not in self.receivers:
                    raise ValueError(f"route {r.name or r.match} names unknown receiver {name!r}")
            for c in r.routes:
                walk(c)
        walk(self.route)
        for pname, p in self.policies.items():
            for s in p.steps:
                for t in s.notify:
                    tt = parse_target(t)
                    if tt.kind == "receiver" and tt.value not in self.receivers:
                        raise ValueError(f"policy {pname} names unknown receiver {tt.value!r}")
        return self


def load_alerts_config(settings=None, path: Path | str | None = None) -> AlertsConfig:
    """From ``path``, the ``alerts_config`` setting or ``{state_dir}/alerts.toml``."""
    if path is None and settings is not None:
        if settings.alerts_config is not None:
            path = settings.alerts_config
        else:
            candidate = Path(settings.state_dir) / "alerts.toml"
            path = candidate if candidate.exists() else None
    if path is None:
        return AlertsConfig()
    with open(path, "rb") as f:
        return AlertsConfig(**tomllib.load(f))
