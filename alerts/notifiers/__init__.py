"""Notifier plugins, one folder each (code, sample config, README, tests),
registered by channel name in :data:`NOTIFIERS`.

>>> sorted(NOTIFIERS)
['email', 'line', 'mqtt', 'webhook']
"""

from __future__ import annotations

from .base import Notifier, Outgoing, Result
from .email import EmailNotifier
from .line import LineNotifier
from .mqtt import MqttNotifier
from .webhook import WebhookNotifier

NOTIFIERS: dict[str, type] = {
    "email": EmailNotifier,
    "line": LineNotifier,
    "webhook": WebhookNotifier,
    "mqtt": MqttNotifier,
}

__all__ = ["NOTIFIERS", "Notifier", "Outgoing", "Result"]
