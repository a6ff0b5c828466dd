from .notifier import LineConfig, LineNotifier

__all__ = ["LineConfig", "LineNotifier"]
