from .notifier import WebhookConfig, WebhookNotifier, signature, verify

__all__ = ["WebhookConfig", "WebhookNotifier", "signature", "verify"]
