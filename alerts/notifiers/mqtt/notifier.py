"""MQTT: the alert event as JSON on ``{root}/alerts/{severity}/{site}``
(QoS 1, sent only when the broker acknowledged it), through the stage's one
bus client. For other systems on the bus (SCADA, dashboards, a siren).
"""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ConfigDict

from mimamori.bus import BusError

from ..base import Outgoing, Result


class MqttNotifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout_s: float = 10.0


class MqttNotifier:
    channel = "mqtt"

    def __init__(self, config: dict | MqttNotifierConfig | None = None, context=None) -> None:
        self.config = (config if isinstance(config, MqttNotifierConfig)
                       else MqttNotifierConfig(**(config or {})))
        self.context = context  # needs .bus and .topics

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def send(self, out: Outgoing) -> Result:
        if self.context is None or getattr(self.context, "bus", None) is None:
            return Result.reject("no bus to publish on")
        a = out.alert
        topic = self.context.topics.alerts(a.get("severity", "info"), a.get("site") or "-")
        event = {**a, "event": out.extra.get("event", out.purpose)}
        try:
            self.context.bus.publish_durably([(topic, orjson.dumps(event))],
                                             timeout=self.config.timeout_s)
        except BusError as exc:
            return Result.retry(str(exc))
        return Result.ok(topic)
