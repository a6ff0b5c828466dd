"""The analytics stage: readings bus → findings bus.

Per device it keeps one detector per configured field; findings travel on
the device's partition, opened and later cleared.
"""

from __future__ import annotations

import logging

from device_profiles import Profile, load_profiles
from mimamori.bus import Bus, Message
from mimamori.config import Settings
from mimamori.contracts import (
    ContractError,
    EventKind,
    Finding,
    FindingState,
    Reading,
    Severity,
    decode_envelope,
    partition,
)
from mimamori.deadletter import DeadLetter
from mimamori.topics import Topics

from .range_detector import RangeDetector

log = logging.getLogger(__name__)
STAGE = "analytics"

_KIND = {("water_level_cm", "low"): EventKind.WATER_LOW,
         ("water_level_cm", "high"): EventKind.WATER_HIGH}


class Analytics:
    """Pure part: readings in, findings out."""

    def __init__(self, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        self.state: dict[tuple[str, str], RangeDetector] = {}

    def process(self, r: Reading) -> list[Finding]:
        profile = self.profiles.get(r.profile)
        if profile is None:
            return []
        bands = profile.detectors.get("range", {})
        out = []
        for name, band in bands.items():
            value = r.fields.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            det = self.state.get((r.device_id, name))
            if det is None:
                det = self.state[(r.device_id, name)] = RangeDetector(
                    band.get("low"), band.get("high"), band.get("hysteresis", 0.5))
            before = det.state
            side = det.update(float(value))
            if side is None:
                continue
            if side == "clear":
                state, kind = FindingState.CLEARED, _KIND.get((name, before), EventKind.OUT_OF_RANGE)
            else:
                state, kind = FindingState.OPENED, _KIND.get((name, side), EventKind.OUT_OF_RANGE)
            out.append(Finding(r.device_id, kind, Severity.WARNING, state, r.ts_ns, r.site,
                               r.profile, r.family,
                               {"field": name, "value": value, "low": det.low, "high": det.high}))
        return out


class AnalyticsStage:
    def __init__(self, settings: Settings, client_id: str = "mimamori-analytics") -> None:
        self.settings = settings
        self.topics = Topics(settings.bus.topic_root)
        self.logic = Analytics(load_profiles())
        self.bus = Bus(settings.mqtt, client_id)
        self.findings = 0

    def start(self) -> AnalyticsStage:
        self.bus.connect()
        self.bus.consume([self.topics.readings_filter], self.handle, name="analytics")
        return self

    def stop(self) -> None:
        self.bus.close()

    def handle(self, batch: list[Message]) -> None:
        out: list[tuple[str, bytes]] = []
        for m in batch:
            try:
                readings = decode_envelope(m.payload)
            except ContractError as exc:
                d = DeadLetter(STAGE, "bad_envelope", str(exc), m.payload, m.topic)
                d.count()
                out.append((self.topics.deadletter(STAGE), d.encode()))
                continue
            for r in readings:
                for f in self.logic.process(r):
                    p = partition(f.device_id, self.settings.bus.partitions)
                    out.append((self.topics.findings(p), f.encode()))
                    self.findings += 1
        if out:
            self.bus.publish_durably(out)
