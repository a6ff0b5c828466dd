"""Readings → findings for many devices: the pure heart of the stage.

Per device it keeps the detector instances its profile asks for (each
wrapped in :class:`~analytics.detectors.threshold.Thresholded`) and the
device's settings (``ctx``: registry params + site/person settings). Several
detectors may speak about one event kind (a heart-rate range and a personal
baseline); the device has at most one open finding per kind: opened when
the first opens, cleared when the last clears.

Time-driven detectors (silence, late arrival) give a deadline; :meth:`advance`
runs every deadline up to a moment, so offline replays and the live stage
see the same findings.

>>> from mimamori.contracts import Family, Reading
>>> eng = Engine()
>>> r = lambda t, sos: Reading("w1", "wearable_v1", Family.WEARABLE, "hh", t * 10**9,
...                            {"sos": sos, "battery_pct": 80.0})
>>> [f.state.value for f in eng.process(r(1, True))], [f.kind.value for f in eng.process(r(2, False))]
(['opened'], ['sos'])
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mimamori.contracts import EventKind, Family, Finding, FindingState, Reading, Severity

from .config import detector_specs
from .detectors.base import Detector, Sample
from .detectors.threshold import Thresholded

SettingsFor = Callable[[str, str], dict[str, Any]]  # (device_id, site) → ctx


@dataclass
class Change:
    """A finding of one device opens or clears, decided outside its per-reading
    detectors (the site model's batches, the area drift check)."""

    device_id: str
    change: str          # opened | cleared
    ts_ns: int
    evidence: dict[str, Any] = field(default_factory=dict)


class DeviceDetectors:
    __slots__ = (
        "active",
        "ctx",
        "deadline",
        "device_id",
        "family",
        "last_ns",
        "profile",
        "site",
        "timed",
        "wrappers",
    )

    def __init__(self, device_id: str, profile: str, family: Family, site: str,
                 wrappers: dict[str, Thresholded], ctx: dict[str, Any]) -> None:
        self.device_id, self.profile, self.family, self.site = device_id, profile, family, site
        self.wrappers = wrappers
        # the wrappers whose detector is also time-driven (has deadlines)
        self.timed = [w for w in wrappers.values()
                      if type(w.det).deadline_ns is not Detector.deadline_ns]
        self.active: dict[str, list[str]] = {}   # kind → instance names with an open finding
        self.ctx = ctx
        self.deadline: int | None = None
        self.last_ns = 0

    def state(self) -> dict[str, Any]:
        return {"profile": self.profile, "family": self.family.value, "site": self.site,
                "active": {k: list(v) for k, v in self.active.items()}, "last_ns": self.last_ns,
                "wrappers": {k: w.state() for k, w in self.wrappers.items()}}


class Engine:
    def __init__(self, profiles: dict[str, Any] | None = None,
                 settings_for: SettingsFor | None = None) -> None:
        self.profiles = profiles or {}
        self.settings_for = settings_for
        self.devices: dict[str, DeviceDetectors] = {}
        self._specs: dict[tuple[str, str], dict] = {}
        self._due: list[tuple[int, str]] = []
        self.readings = 0
        self.findings = 0
        self.skipped = 0

    # -- set-up --------------------------------------------------------
    def _specs_for(self, profile_id: str, family: Family) -> dict:
        key = (profile_id, family.value)
        specs = self._specs.get(key)
        if specs is None:
            prof = self.profiles.get(profile_id)
            dets = getattr(prof, "detectors", None) if prof is not None else None
            interval = int(getattr(prof, "interval_s", 0) or 600)
            specs = self._specs[key] = detector_specs(family.value, dets, interval)
        return specs

    def device(self, r: Reading) -> DeviceDetectors:
        dev = self.devices.get(r.device_id)
        if dev is None or dev.profile != r.profile:
            specs = self._specs_for(r.profile, r.family)
            ctx = self.settings_for(r.device_id, r.site) if self.settings_for else {}
            dev = DeviceDetectors(r.device_id, r.profile, r.family, r.site,
                                  {n: Thresholded(make()) for n, make in specs.items()}, ctx)
            self.devices[r.device_id] = dev
        return dev

    def set_ctx(self, device_id: str, ctx: dict[str, Any]) -> None:
        dev = self.devices.get(device_id)
        if dev is not None:
            dev.ctx = ctx

    # -- running -------------------------------------------------------
    def process(self, r: Reading) -> list[Finding]:
        """Findings due before this reading, then this reading's findings.

        Readings are judged in time order per device: a duplicate or a reading
        older than the last one judged is skipped (``self.skipped``)."""
        ts = r.ts_ns
        due = self._due
        out = self.advance(ts - 1) if due and due[0][0] < ts else []
        dev = self.devices.get(r.device_id)
        if dev is None or dev.profile != r.profile:
            dev = self.device(r)
        if ts <= dev.last_ns:
            self.skipped += 1
            return out
        dev.last_ns = ts
        x = Sample(ts, r.fields, dev.ctx)
        for name, w in dev.wrappers.items():
            change = w.step(x)
            if change is not None:
                f = self._transition(dev, name, w, change, ts, x)
                if f is not None:
                    out.append(f)
        self._schedule(dev, ts)
        self.readings += 1
        return out

    def advance(self, now_ns: int) -> list[Finding]:
        """Run time-driven checks whose deadline is at or before ``now_ns``."""
        out: list[Finding] = []
        while self._due and self._due[0][0] <= now_ns:
            t, device_id = heapq.heappop(self._due)
            dev = self.devices.get(device_id)
            if dev is None or dev.deadline != t:
                continue  # superseded
            dev.deadline = None
            for name, w in dev.wrappers.items():
                d = w.det.deadline_ns(t - 1)
                if d is not None and d <= t:
                    change = w.tick(t)
                    if change is not None:
                        f = self._transition(dev, name, w, change, t, None)
                        if f is not None:
                            out.append(f)
            self._schedule(dev, t)
        return out

    def _schedule(self, dev: DeviceDetectors, now_ns: int) -> None:
        best = None
        for w in dev.timed:
            d = w.det.deadline_ns(now_ns)
            if d is not None and d > now_ns and (best is None or d < best):
                best = d
        if best is not None and best != dev.deadline:
            dev.deadline = best
            heapq.heappush(self._due, (best, dev.device_id))

    def _transition(self, dev: DeviceDetectors, name: str, w: Thresholded, change: str,
                    ts_ns: int, x: Sample | None) -> Finding | None:
        return self._emit(dev, name, w.det.kind, w.det.severity, change, ts_ns,
                          lambda: {"detector": name, "score": w.last_score, **w.det.evidence(x)})

    def external(self, device_id: str, name: str, kind: EventKind, severity: Severity,
                 change: str, ts_ns: int, evidence: dict[str, Any]) -> Finding | None:
        """A finding change from outside the per-reading detectors (the batched
        site model): the same rule of one open finding per device and kind."""
        dev = self.devices.get(device_id)
        if dev is None or (change == "cleared" and name not in dev.active.get(kind.value, [])):
            return None
        return self._emit(dev, name, kind, severity, change, ts_ns, lambda: evidence)

    def external_changes(self, changes: Iterable[Change], name: str, kind: EventKind,
                         severity: Severity) -> list[Finding]:
        """:meth:`external` for each change of one component; the findings to publish."""
        out = []
        for c in changes:
            f = self.external(c.device_id, name, kind, severity, c.change, c.ts_ns, c.evidence)
            if f is not None:
                out.append(f)
        return out

    def _emit(self, dev: DeviceDetectors, name: str, kind: EventKind, severity: Severity,
              change: str, ts_ns: int, evidence: Callable[[], dict[str, Any]]) -> Finding | None:
        holders = dev.active.setdefault(kind.value, [])
        state = None
        if change == "opened":
            if not holders:
                state = FindingState.OPENED
            if name not in holders:
                holders.append(name)
        elif change == "updated":
            state = FindingState.UPDATED
        elif change == "cleared":
            if name in holders:
                holders.remove(name)
            if not holders:
                state = FindingState.CLEARED
        if state is None:
            return None
        self.findings += 1
        return Finding(dev.device_id, kind, severity, state, ts_ns, dev.site, dev.profile,
                       dev.family, evidence())

    # -- checkpoints -----------------------------------------------------
    def state(self, device_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """Checkpoint of every device, or of ``device_ids`` (a stage can then
        take it in slices, so its readings never wait for the whole fleet)."""
        ids = self.devices if device_ids is None else device_ids
        return {"v": 1, "devices": {d: self.devices[d].state() for d in ids
                                    if d in self.devices}}

    def load_state(self, s: dict[str, Any]) -> None:
        for device_id, ds in s.get("devices", {}).items():
            r = Reading(device_id, ds["profile"], Family(ds["family"]), ds["site"], 1, {"_": 0})
            dev = self.device(r)
            dev.active = {k: list(v) for k, v in ds.get("active", {}).items()}
            dev.last_ns = int(ds.get("last_ns", 0))
            for name, ws in ds.get("wrappers", {}).items():
                if name in dev.wrappers:
                    dev.wrappers[name].load_state(ws)
            self._schedule(dev, 0)
