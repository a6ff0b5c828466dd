"""The analytics stage: readings bus → findings bus.

Consumes ``readings/{partition}`` (QoS 1, persistent session; by default all
partitions, or the ``partitions`` given — run one stage per partition group
to spread devices over workers: a device's readings always travel on the
same partition). Findings are published durably on the device's
``findings/{partition}`` before the readings batch is acknowledged.
Time-driven checks (silence, late arrival) run on a clock. The detectors'
state is checkpointed to ``{state_dir}/analytics/{client_id}.json`` every
``checkpoint_s`` seconds and on stop, and restored on start.

The per-site multivariate model (:mod:`analytics.site_model`) is trained
from InfluxDB history in a background thread at start and every
``retrain_s``; readings are buffered per site and scored in batches (every
``batch_readings`` readings, or by the clock after ``batch_s``); its
``anomaly`` findings go through the engine like every other finding.
``site_model=None`` switches it off.

The area drift check (:mod:`analytics.area_drift`) sees every paddy-family
reading after the engine has judged it: the fields' levels beside their
farming area's rain gauge (areas from the registry's positions, taken again
when the registry changes); its ``sensor_drift`` findings go through the
engine too, and its state is part of the checkpoint. Before the engine
judges a field's reading, the check gives it the derived field
``area_dry_h`` (hours since the area's gauge last counted rain; the
water_high detector reads it). ``area_drift=None`` switches both off.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from device_profiles import load_profiles
from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import ContractError, Family, Finding, decode_envelope, partition
from mimamori.deadletter import DeadLetter
from mimamori.registry import Registry
from mimamori.topics import Topics

from .area_drift import AreaDrift, AreaDriftConfig, area_into, area_role, assign_areas
from .engine import Engine
from .settings_ctx import RegistryCtx
from .site_model import BatchScorer, SiteModelConfig, score_into, train_sites

log = logging.getLogger(__name__)
STAGE = "analytics"


def save_checkpoint(path: Path, state: dict | str) -> None:
    """Write ``state`` (a dict, or its JSON text) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # dumps, not dump: the same text, but json's C encoder (dump uses the
    # pure-Python one, seconds of CPU for 10,000 wearables)
    text = state if isinstance(state, str) else json.dumps(state, separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("analytics checkpoint %s unreadable (%s); starting fresh", path, exc)
        return None


class AnalyticsStage:
    def __init__(self, settings: Settings, client_id: str = "mimamori-analytics",
                 partitions: list[int] | None = None, checkpoint_s: float = 30.0,
                 tick_s: float = 5.0,
                 site_model: SiteModelConfig | None = SiteModelConfig(),
                 area_drift: AreaDriftConfig | None = AreaDriftConfig()) -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.partitions = partitions
        self.registry = Registry(settings.registry)
        self.ctx = RegistryCtx(self.registry)
        self.engine = Engine(load_profiles(), self.ctx)
        self.bus = Bus(settings.mqtt, client_id)
        self.checkpoint_path = Path(settings.state_dir) / "analytics" / f"{client_id}.json"
        self.checkpoint_s, self.tick_s = checkpoint_s, tick_s
        self.findings = 0
        self.deadlettered = 0
        self._lock = threading.Lock()
        self._cp_lock = threading.Lock()
        self._stop = threading.Event()
        self._clock: threading.Thread | None = None
        self._unsent: list[tuple[str, bytes]] = []  # findings of a batch whose publish failed
        self.site_cfg = site_model
        self.scorer = BatchScorer(site_model) if site_model is not None else None
        self._trainer: threading.Thread | None = None
        self.trained = threading.Event()   # set after each (re)training
        self.area = AreaDrift(area_drift) if area_drift is not None else None
        self._area_version: int | None = None

    # -- life cycle ------------------------------------------------------
    def start(self) -> AnalyticsStage:
        state = load_checkpoint(self.checkpoint_path)
        if state is not None:
            with self._lock:
                self.engine.load_state(state)
                if self.area is not None and isinstance(state.get("area"), dict):
                    self.area.load_state(state["area"])
        self.ctx.refresh()  # the registry snapshot now, not on the first reading
        self.bus.connect()
        topics = [self.topics.readings(p) for p in self.partitions] if self.partitions \
            else [self.topics.readings_filter]
        self.bus.consume(topics, self.handle, name="analytics")
        self._clock = threading.Thread(target=self._run_clock, name="analytics-clock",
                                       daemon=True)
        self._clock.start()
        if self.scorer is not None:
            self._trainer = threading.Thread(target=self._run_trainer, name="analytics-train",
                                             daemon=True)
            self._trainer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._clock is not None:
            self._clock.join(10)
        if self._trainer is not None:
            self._trainer.join(30)
        self.bus.close()
        self.checkpoint()

    def checkpoint(self) -> None:
        # one writer at a time: stop() may run while a slow clock checkpoint
        # is still writing the same temporary file
        with self._cp_lock:
            with self._lock:
                ids = list(self.engine.devices)
            # In slices of 500 devices, taken and encoded one after the other:
            # 10,000 wearables take ~1.5 s of CPU to checkpoint, and readings
            # must not wait that long (each device's state is whole).
            parts = []
            for i in range(0, len(ids), 500):
                with self._lock:
                    part = self.engine.state(ids[i:i + 500])["devices"]
                if part:
                    parts.append(json.dumps(part, separators=(",", ":"))[1:-1])
            area = ""
            if self.area is not None:
                with self._lock:
                    area = ',"area":' + json.dumps(self.area.state(), separators=(",", ":"))
            save_checkpoint(self.checkpoint_path,
                            '{"v":1,"devices":{' + ",".join(parts) + "}" + area + "}")

    def train_now(self) -> int:
        """Train the site models from InfluxDB history; returns how many."""
        from ingest.query import ReadingsQuery

        assert self.site_cfg is not None and self.scorer is not None
        q = ReadingsQuery(self.settings)
        try:
            models = train_sites(q, self.site_cfg, time.time_ns())
        finally:
            q.close()
        with self._lock:
            self.scorer.set_models(models)
        self.trained.set()
        log.info("analytics: %d site models trained", len(models))
        return len(models)

    def _run_trainer(self) -> None:
        assert self.site_cfg is not None
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                self.train_now()
                wait = self.site_cfg.retrain_s
            except Exception as exc:  # noqa: BLE001 — InfluxDB away: try again later
                if "database not found" in str(exc):  # a new installation: nothing stored yet
                    log.info("analytics: no history in InfluxDB yet; site models wait for it")
                else:
                    log.warning("analytics: site model training failed: %s", exc)
                wait = min(300.0, self.site_cfg.retrain_s)

    def _score_site(self, key: tuple[str, str]) -> list[Finding]:
        """Score one site's buffered batch (under the lock)."""
        assert self.scorer is not None
        return score_into(self.scorer, self.engine, key)

    def _run_clock(self) -> None:
        last_cp = time.monotonic()
        while not self._stop.wait(self.tick_s):
            try:
                with self._lock:
                    found = self.engine.advance(time.time_ns())
                    if self.scorer is not None:
                        for key in self.scorer.due():
                            found.extend(self._score_site(key))
                if found:
                    self.bus.publish_durably(self._encode(found))
                if time.monotonic() - last_cp >= self.checkpoint_s:
                    self.checkpoint()
                    last_cp = time.monotonic()
            except Exception as exc:  # noqa: BLE001 — keep the clock alive; the next tick retries
                log.warning("analytics clock: %s", exc)

    # -- the work --------------------------------------------------------
    def _refresh_areas(self) -> None:
        """Fields → their area's rain gauge, from the registry's positions
        (a device's own, else its site's); again whenever the registry changes."""
        assert self.area is not None
        snap = self.ctx.snapshot
        if snap.version == self._area_version:   # every batch asks: unchanged, no work
            return
        rows = []
        for d in snap.all().values():
            lat, lon = d.lat, d.lon
            if lat is None or lon is None:
                site = snap.site(d.site) if d.site else None
                lat, lon = (site.lat, site.lon) if site is not None else (None, None)
            rows.append((d.device_id, area_role(self.engine.profiles.get(d.profile)), lat, lon))
        self.area.set_areas(assign_areas(rows, self.area.cfg.radius_m))
        self._area_version = snap.version

    def _encode(self, found: list[Finding]) -> list[tuple[str, bytes]]:
        n = self.settings.bus.partitions
        self.findings += len(found)
        return [(self.topics.findings(partition(f.device_id, n)), f.encode()) for f in found]

    def handle(self, batch: list[Message]) -> None:
        # A batch whose publish failed comes again; the engine skips readings
        # it has judged already (per device, in time order), so the findings
        # kept from that attempt go out now instead.
        out: list[tuple[str, bytes]] = self._unsent
        self._unsent = []
        found: list[Finding] = []
        with self._lock:
            for m in batch:
                try:
                    readings = decode_envelope(m.payload)
                except ContractError as exc:
                    d = DeadLetter(STAGE, "bad_envelope", str(exc), m.payload, m.topic)
                    d.count()
                    self.deadlettered += 1
                    out.append((self.topics.deadletter(STAGE), d.encode()))
                    continue
                if self.area is not None:
                    self._refresh_areas()
                for r in readings:
                    judged = self.engine.readings
                    if self.area is not None and r.family is Family.PADDY:
                        self.area.annotate(r.device_id, r.ts_ns, r.fields)
                    found.extend(self.engine.process(r))
                    # the area check sees what the engine judged (not a duplicate)
                    if self.area is not None and r.family is Family.PADDY and \
                            self.engine.readings > judged:
                        dev = self.engine.devices.get(r.device_id)
                        found.extend(area_into(self.area, self.engine, r.device_id, r.ts_ns,
                                               r.fields, dev.ctx if dev is not None else None))
                    if self.scorer is not None:
                        key = self.scorer.add(r)
                        if key is not None:
                            found.extend(self._score_site(key))
        out.extend(self._encode(found))
        if out:
            try:
                self.bus.publish_durably(out)
            except Exception:
                self._unsent = out
                raise
