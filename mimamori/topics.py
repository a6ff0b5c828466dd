"""The MQTT topic scheme (DESIGN.md), built and parsed in one place.

>>> t = Topics("mimamori/v1")
>>> t.readings(3)
'mimamori/v1/readings/3'
>>> t.parse_up("mimamori/v1/up/paddy_json_v1/paddy-001")
('paddy_json_v1', 'paddy-001')
"""

from __future__ import annotations

from dataclasses import dataclass

CHIRPSTACK_UP = "application/+/device/+/event/up"
TTS_UP = "v3/+/devices/+/up"


def _segment(value: str, what: str) -> str:
    if not value or any(c in value for c in "/+#\0"):
        raise ValueError(f"{what} {value!r} cannot be a topic segment")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    root: str = "mimamori/v1"

    def up(self, profile: str, device_id: str) -> str:
        return f"{self.root}/up/{_segment(profile, 'profile')}/{_segment(device_id, 'device id')}"

    @property
    def up_filter(self) -> str:
        return f"{self.root}/up/+/+"

    def parse_up(self, topic: str) -> tuple[str, str] | None:
        prefix = f"{self.root}/up/"
        if not topic.startswith(prefix):
            return None
        rest = topic[len(prefix):].split("/")
        if len(rest) != 2 or not all(rest):
            return None
        return rest[0], rest[1]

    def readings(self, partition: int) -> str:
        return f"{self.root}/readings/{partition}"

    @property
    def readings_filter(self) -> str:
        return f"{self.root}/readings/+"

    def findings(self, partition: int) -> str:
        return f"{self.root}/findings/{partition}"

    @property
    def findings_filter(self) -> str:
        return f"{self.root}/findings/+"

    def device_status(self, device_id: str) -> str:
        return f"{self.root}/status/device/{_segment(device_id, 'device id')}"

    def gateway_status(self, gateway_id: str) -> str:
        return f"{self.root}/status/gateway/{_segment(gateway_id, 'gateway id')}"

    def stage_status(self, stage: str) -> str:
        return f"{self.root}/status/stage/{_segment(stage, 'stage')}"

    def alerts(self, severity: str, site: str) -> str:
        return f"{self.root}/alerts/{_segment(severity, 'severity')}/{_segment(site or '-', 'site')}"

    def deadletter(self, stage: str) -> str:
        return f"{self.root}/deadletter/{_segment(stage, 'stage')}"

    @property
    def deadletter_filter(self) -> str:
        return f"{self.root}/deadletter/+"
