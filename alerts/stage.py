"""The alerts stage: findings → alert store → routing, escalation and
delivery through the notifier plugins.

* The findings handler makes each finding durable in the alert store
  (open / update / reopen / resolve) before the bus acknowledges it; a bad
  finding is dead-lettered with its reason.
* LoRa gateway and device status (``{root}/status/gateway/+``,
  ``{root}/status/device/+``) feed the inhibitor; a gateway going offline
  opens its own ``gateway_offline`` alert for the operator (and back
  online resolves it).
* One engine thread runs due escalation steps and reminders, and the
  dispatcher sends what the ledger says is due (retries, fallbacks).

``AlertsStage(settings)`` with ``start()`` / ``stop()``; ``recent_alerts()``
is what the status page shows; ``store`` is the alert store the web app uses.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson

from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import ContractError, EventKind, Finding, FindingState, Severity
from mimamori.deadletter import DeadLetter
from mimamori.registry import DeviceCache, Registry
from mimamori.topics import Topics

from .ack import load_ack_key
from .config import AlertsConfig, load_alerts_config
from .delivery import Dispatcher
from .engine import AlertEngine
from .inhibit import Inhibitor
from .notifiers import NOTIFIERS
from .store import AlertStore

log = logging.getLogger(__name__)
STAGE = "alerts"


class AlertsStage:
    def __init__(self, settings: Settings, client_id: str = "mimamori-alerts",
                 config: AlertsConfig | None = None) -> None:
        self.settings = settings
        self.config = config or load_alerts_config(settings)
        self.topics = Topics(settings.bus.topic_root)
        self.store = AlertStore.for_settings(settings)
        self.registry = Registry(settings.registry)
        self.devices = DeviceCache(self.registry)
        self.bus = Bus(settings.mqtt, client_id)
        self.status_bus = Bus(settings.mqtt, f"{client_id}-status", persistent=False)
        self._lock = threading.Lock()  # findings and gateway status both open alerts
        self.inhibitor = Inhibitor()
        self._gateways: dict[str, bool] = {}  # LoRa gateway → online, from its status
        self.engine = AlertEngine(self.store, self.registry, self.config,
                                  load_ack_key(settings.state_dir),
                                  self.config.public_url or settings.web.url, self.inhibitor)
        self.notifiers = {name: cls(self.config.notifiers.get(name, {}), context=self)
                          for name, cls in NOTIFIERS.items()}
        self.dispatcher: Dispatcher | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AlertsStage:
        for n in self.notifiers.values():
            n.start()
        self.dispatcher = Dispatcher(self.store, self.notifiers, self.config)
        self.bus.connect()
        self.bus.consume([self.topics.findings_filter], self.handle, name="alerts",
                         batch_wait_s=0.005)
        # Device status arrives with every reading (thousands a second): its own
        # client and worker, so findings never queue behind it.
        self.status_bus.connect()
        self.status_bus.consume([f"{self.topics.root}/status/gateway/+",
                                 f"{self.topics.root}/status/device/+"], self._status_batch,
                                name="alerts-status", batch_max=5000)
        # The broker handles one client's packets in order: once this
        # status message is acknowledged, the subscriptions above are in place.
        up = orjson.dumps({"stage": STAGE, "state": "running", "ts_ns": time.time_ns()})
        self.bus.publish_durably([(self.topics.stage_status(STAGE), up)])
        self.status_bus.publish_durably([(self.topics.stage_status(STAGE), up)])
        self._thread = threading.Thread(target=self._run, name="alerts-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self.status_bus.close()
        self.bus.close()
        if self.dispatcher is not None:
            self.dispatcher.close()
        for n in self.notifiers.values():
            n.stop()

    def recent_alerts(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.store.recent(limit)

    # -- bus ---------------------------------------------------------------
    def handle(self, batch: list[Message]) -> None:
        out = []
        findings_prefix = f"{self.topics.root}/findings/"
        for m in batch:
            if not m.topic.startswith(findings_prefix):
                continue
            try:
                f = Finding.decode(m.payload)
            except ContractError as exc:
                d = DeadLetter(STAGE, "bad_finding", str(exc), m.payload, m.topic)
                d.count()
                out.append((self.topics.deadletter(STAGE), d.encode()))
                continue
            dev = self.devices.get(f.device_id)
            with self._lock:
                change = self.store.apply_finding(f, dev.person_id if dev else None,
                                                  self.config.flap_window_s,
                                                  latch=f.kind.value in self.config.latch_kinds)
                self.engine.on_change(change)
        if out:
            self.bus.publish_durably(out)
        self._wake.set()

    def _status_batch(self, batch: list[Message]) -> None:
        for m in batch:
            self._status(m)
        self._wake.set()

    def _status(self, m: Message) -> None:
        try:
            doc = orjson.loads(m.payload) if m.payload else {}
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict):
            return
        name = m.topic.rsplit("/", 1)[-1]
        if "/status/gateway/" in m.topic:
            state = doc.get("state", doc.get("status"))
            online = bool(doc.get("online", state not in ("offline", "down")))
            self.inhibitor.gateway_state(name, online)
            before = self._gateways.get(name)
            self._gateways[name] = online
            if before is online or (before is None and online):
                return
            # the gateway's own alert, for the operator (devices behind it stay quiet)
            f = Finding(name, EventKind.GATEWAY_OFFLINE, Severity.WARNING,
                        FindingState.CLEARED if online else FindingState.OPENED,
                        int(doc.get("last_seen_ns") or time.time_ns()), str(doc.get("site", "")),
                        evidence={"last_seen_ns": doc.get("last_seen_ns"),
                                  "source": "gateway status"})
            with self._lock:
                self.engine.on_change(self.store.apply_finding(f, None,
                                                               self.config.flap_window_s))
        else:
            gws = doc.get("gateways") or []
            ids = [g if isinstance(g, str) else g.get("gateway_id", g.get("id", "")) for g in gws]
            self.inhibitor.device_heard_by(name, [i for i in ids if i])

    # -- engine thread -------------------------------------------------------
    def _run(self) -> None:
        assert self.dispatcher is not None
        while not self._stop.is_set():
            worked = 0
            try:
                self.engine.tick()
                worked = self.dispatcher.run_once()
            except Exception:
                log.exception("alerts engine round failed; trying again")
                self._stop.wait(1.0)
            if not worked:
                self._wake.wait(self.config.tick_s)
                self._wake.clear()
