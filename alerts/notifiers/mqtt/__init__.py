from .notifier import MqttNotifier, MqttNotifierConfig

__all__ = ["MqttNotifier", "MqttNotifierConfig"]
