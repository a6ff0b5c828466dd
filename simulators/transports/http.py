"""HTTP: each uplink is ``POST /ingest/devices/{device_id}`` on the web app
with the device's own payload (its profile's encoder; ``?fport=`` for
binary layouts) and ``Authorization: Bearer <http_token>`` — the device's
secret, created by provisioning. 202 = the broker has the reading."""

from __future__ import annotations

import random
from typing import Any

import httpx

from ..model import DeviceModel
from .base import Transport, TransportUnavailable
from .payloads import encode, frames_for


class HttpTransport(Transport):
    name = "http"

    def provision(self, model: DeviceModel, index: int, seed: int | str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
        r = random.Random(f"{seed}/{model.device_id}/http")
        return {}, {"http_token": r.randbytes(16).hex()}

    def open(self, devices: list[DeviceModel]) -> None:
        from mimamori.registry import Registry

        reg = Registry(self.settings.registry)
        self.tokens = {}
        for m in devices:
            tok = reg.device_secrets(m.device_id).get("http_token")
            if not tok:
                raise TransportUnavailable(f"device {m.device_id} has no http_token "
                                           "(provision it first)")
            self.tokens[m.device_id] = tok
        self.client = httpx.Client(base_url=self.settings.web.url.rstrip("/"), timeout=10.0)
        self.rejected = 0
        self.last_error = ""

    def send(self, device: DeviceModel, ts_ns: int, fields: dict[str, Any]) -> None:
        for port, _confirmed, f in frames_for(device.profile, fields):
            payload = encode(device.profile, f, port, ts_ns)
            r = self.client.post(f"/ingest/devices/{device.device_id}",
                                 params={"fport": port} if port else None, content=payload,
                                 headers={"Authorization": f"Bearer {self.tokens[device.device_id]}",
                                          "Content-Type": "application/octet-stream"})
            if r.status_code == 202:
                self.sent += 1
            else:
                self.rejected += 1
                self.last_error = f"{r.status_code} {r.text[:200]}"

    def close(self) -> None:
        self.client.close()
