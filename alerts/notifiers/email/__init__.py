from .notifier import EmailConfig, EmailNotifier

__all__ = ["EmailConfig", "EmailNotifier"]
