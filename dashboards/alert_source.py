"""The alerts the pages and the API show, behind one small interface.

The web needs four verbs of the alert store — ``list_alerts``, ``get``,
``acknowledge``, ``resolve`` — and these fields of an alert: ``alert_id``,
``device_id``, ``kind``, ``severity``, ``site``, ``subject_person``, ``state``
(open | acknowledged | resolved), ``opened_ns``, ``acked_by``, ``acked_ns``,
``resolved_ns``, ``evidence``. :class:`alerts.store.AlertStore` (the alerts
area) provides them; the demo and the tests open alerts through its
``apply_finding``.
"""

from __future__ import annotations

from typing import Any, Protocol


class AlertSource(Protocol):
    def list_alerts(self, state: str | list[str] | None = None, *, site: str | None = None,
                    device_id: str | None = None, subject_person: str | None = None,
                    kind: str | None = None, limit: int = 100, offset: int = 0
                    ) -> list[Any]: ...
    def get(self, alert_id: int) -> Any | None: ...
    def acknowledge(self, alert_id: int, by: str, via: str = "web") -> bool: ...
    def resolve(self, alert_id: int, by: str, via: str = "web") -> bool: ...


def open_alert_store(settings) -> AlertSource:
    from alerts.store import AlertStore

    return AlertStore.for_settings(settings)
