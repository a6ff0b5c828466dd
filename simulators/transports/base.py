"""The transport interface: open once with the platform settings and the
devices it carries, send each uplink (device time in ns and canonical
fields), flush (wait until the platform side acknowledged), close."""

from __future__ import annotations

from typing import Any

from mimamori.config import Settings

from ..model import DeviceModel


class TransportUnavailable(Exception):
    """A transport cannot be used here; the message is one plain line."""


class Transport:
    name = "base"

    def __init__(self, settings: Settings, client_id: str = "mimamori-sim") -> None:
        self.settings = settings
        self.client_id = client_id
        self.sent = 0

    def provision(self, model: DeviceModel, index: int, seed: int | str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
        """Registry columns (e.g. ``dev_addr``) and encrypted secrets (keys,
        tokens) this transport needs for a device; ``index`` is unique per
        device in the run."""
        return {}, {}

    def open(self, devices: list[DeviceModel]) -> None:
        """Connect; register per-device state (keys, sessions) if needed."""

    def send(self, device: DeviceModel, ts_ns: int, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Block until every sent uplink was accepted by the platform's edge."""

    def settle(self) -> None:
        """Bound what is in flight without stalling: wait for the uplinks sent
        before the previous call (those sent since may still be in flight)."""
        self.flush()

    def close(self) -> None:
        """Flush and disconnect."""
