"""Send with retry: the dispatcher works the delivery ledger.

Every delivery is a ledger row (``AlertStore.deliveries``) with an
idempotency key. The dispatcher claims due rows, checks the per-channel rate
limit, calls the channel's notifier, and records the answer:

* ok → ``sent`` (never sent again: the row is done);
* retry → ``pending`` again after a capped exponential backoff (or the
  notifier's ``Retry-After``), up to ``retry.max_attempts`` per channel;
* reject, or attempts used up → ``failed``/``rejected``, and a new row on the
  recipient's next channel (fallback), linked by ``fallback_from``.

A notify or reminder whose alert was acknowledged meanwhile is cancelled.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import Counter

from .config import AlertsConfig
from .notifiers.base import Outgoing, Result
from .store import AlertStore, Delivery

log = logging.getLogger(__name__)

DELIVERIES = Counter("mimamori_alert_deliveries_total", "alert deliveries by channel and outcome",
                     ["channel", "outcome"])


class TokenBucket:
    """``per_minute`` messages a minute, bursts up to a minute's worth.

    >>> b = TokenBucket(60)
    >>> b.take(now=0.0), b.tokens < 60
    (0.0, True)
    """

    def __init__(self, per_minute: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(per_minute, 1.0)
        self.tokens = self.capacity
        self.last: float | None = None
        self.lock = threading.Lock()

    def take(self, now: float | None = None) -> float:
        """0 if a message may go now (and takes a token), else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if self.last is not None:
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class Dispatcher:
    def __init__(self, store: AlertStore, notifiers: dict, config: AlertsConfig) -> None:
        self.store = store
        self.notifiers = notifiers
        self.config = config
        self.buckets = {ch: TokenBucket(r) for ch, r in config.rate_per_minute.items() if r > 0}
        self.pool = ThreadPoolExecutor(config.send_threads, thread_name_prefix="alerts-send")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)

    def run_once(self, now_ns: int | None = None, limit: int = 200) -> int:
        """Send what is due; returns how many deliveries were worked."""
        due = self.store.claim_due(now_ns or time.time_ns(), limit=limit)
        if not due:
            return 0
        # in parallel across recipients; in ledger order for one recipient and alert
        groups: dict[tuple[str, int], list[Delivery]] = {}
        for d in sorted(due, key=lambda d: d.id):
            groups.setdefault((d.recipient, d.alert_id), []).append(d)
        list(self.pool.map(self._work_group, groups.values()))
        return len(due)

    def _work_group(self, group: list[Delivery]) -> None:
        for d in group:
            self._safe_work(d)

    def _safe_work(self, d: Delivery) -> None:
        try:
            self.work(d)
        except Exception as exc:  # a bug in one notifier must not stop the others
            log.exception("delivery %s failed unexpectedly", d.id)
            self._after_failure(d, Result.retry(f"internal error: {exc}"))

    def work(self, d: Delivery) -> None:
        alert = self.store.get(d.alert_id)
        if alert is None:
            self.store.finish_delivery(d.id, "rejected", error="alert not found")
            return
        if d.purpose in ("notify", "reminder") and alert.state != "open":
            self.store.finish_delivery(d.id, "cancelled", error=f"alert {alert.state}",
                                       attempts=d.attempts - 1)
            return
        bucket = self.buckets.get(d.channel)
        wait = bucket.take() if bucket else 0.0
        if wait > 0:  # rate limited: not an attempt, just later
            self.store.finish_delivery(d.id, "pending", error="rate limited",
                                       next_ns=time.time_ns() + int(wait * 1e9),
                                       attempts=d.attempts - 1)
            return
        notifier = self.notifiers.get(d.channel)
        if notifier is None:
            result = Result.reject(f"channel {d.channel!r} is not configured")
        else:
            # an event carries the alert as it was when it happened
            snapshot = d.body.get("alert") or alert.to_dict()
            out = Outgoing(delivery_id=d.id, idem_key=d.idem_key, alert=snapshot,
                           recipient=d.recipient, address=d.address, language=d.language,
                           purpose=d.purpose, message=d.body.get("message", {}),
                           ack_url=d.body.get("ack_url"), ack_token=d.body.get("ack_token"),
                           extra=d.body.get("extra", {}))
            result = notifier.send(out)
        DELIVERIES.labels(d.channel, result.outcome).inc()
        if result.outcome == "ok":
            self.store.finish_delivery(d.id, "sent", external_id=result.external_id)
            return
        self._after_failure(d, result)

    def _after_failure(self, d: Delivery, result: Result) -> None:
        if result.outcome == "retry" and d.attempts < self.config.retry.max_attempts:
            delay = result.after_s if result.after_s is not None else \
                self.config.retry.delay(d.attempts)
            log.info("delivery %s (%s to %s) attempt %d: %s; retry in %.1fs", d.id, d.channel,
                     d.recipient, d.attempts, result.reason, delay)
            self.store.finish_delivery(d.id, "pending", error=result.reason,
                                       next_ns=time.time_ns() + int(delay * 1e9))
            self.store.record(d.alert_id, "delivery_retry", d.recipient,
                              {"delivery_id": d.id, "channel": d.channel, "attempt": d.attempts,
                               "retry_in_s": delay, "error": result.reason})
            return
        status = "rejected" if result.outcome == "reject" else "failed"
        self.store.finish_delivery(d.id, status, error=result.reason)
        if d.fallbacks:
            channel, address = d.fallbacks[0]
            self.store.add_delivery(
                idem_key=f"{d.idem_key}>{channel}", alert_id=d.alert_id, recipient=d.recipient,
                channel=channel, address=address, purpose=d.purpose, step=d.step,
                language=d.language, body=d.body, fallbacks=d.fallbacks[1:], fallback_from=d.id)
            log.warning("delivery %s to %s by %s %s (%s); falling back to %s", d.id, d.recipient,
                        d.channel, status, result.reason, channel)
