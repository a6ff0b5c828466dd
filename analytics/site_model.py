"""The multivariate model: an IsolationForest per site on rolling features.

The streaming detectors judge one field (or one physical relation) per
device; this model learns what a *site's* readings look like together —
pressure, flow and leak noise of a district's monitors, the level and
temperature of a field — and flags readings that fit none of it.

* :class:`RollingFeatures` — per device, from each reading: the values, the
  step from the previous reading, the deviation from the mean of the last
  ``window`` readings, their spread, and the hour of day (sin/cos).
* :class:`SiteModel` — scikit-learn's IsolationForest fitted on one site's
  history; the alarm threshold is the ``quantile`` of the training scores.
* :func:`train_sites` — one model per (site, measurement) from InfluxDB
  history through the ingest query layer (:class:`ingest.query.ReadingsQuery`).
* :class:`BatchScorer` — readings are buffered per site and scored together
  every ``batch_readings`` readings or ``batch_s`` seconds (one vectorised
  forest call per batch, not one per reading); ``min_hits`` anomalous
  readings in a row of one device open an ``anomaly`` finding, ``clear_after``
  normal ones clear it. The stage retrains every ``retrain_s``.

>>> import random
>>> rnd = random.Random(1)
>>> rows = {f"w{d}": [(i * 300 * NS, {"pressure_mpa": 0.45 - 0.004 * q, "flow_m3h": q})
...                   for i in range(600) for q in [20 + 5 * math.sin(i / 40) + rnd.gauss(0, 0.3)]]
...         for d in range(2)}
>>> cfg = SiteModelConfig(fields={"water_main": ["pressure_mpa", "flow_m3h"]})
>>> m = SiteModel.fit("d1", "water_main", rows, cfg, 0)
>>> m.n_train, len(m.features)
(1194, 10)
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sklearn.ensemble import IsolationForest

from mimamori.contracts import EventKind, Finding, Reading, Severity

from .engine import Change, Engine

log = logging.getLogger(__name__)
NS = 1_000_000_000
JST_S = 9 * 3600

DEFAULT_FIELDS = {"water_main": ["pressure_mpa", "flow_m3h", "acoustic_db"],
                  "paddy": ["water_level_cm", "water_temp_c"],
                  "wearable": ["heart_rate_bpm", "spo2_pct", "skin_temp_c", "activity"]}


class SiteModelConfig(BaseModel):
    """Settings of the per-site model (defaults declared once, here)."""

    fields: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_FIELDS))
    history_s: float = 14 * 86400      # training window
    retrain_s: float = 86400           # retrain every day
    batch_readings: int = 64           # score a site after this many readings …
    batch_s: float = 300.0             # … or once its oldest buffered reading waited this long
    window: int = 6                    # rolling window (readings) of the features
    n_estimators: int = 100
    max_samples: int = 256
    quantile: float = 0.002            # alarm below this quantile of the training scores
    min_hits: int = 2                  # anomalous readings in a row that open a finding
    clear_after: int = 3               # normal readings in a row that clear it
    min_train: int = 200               # fewer training rows: no model for the site
    seed: int = 0


class RollingFeatures:
    """Feature vectors of one device's readings, in time order."""

    __slots__ = ("fields", "last", "past")

    def __init__(self, fields: list[str], window: int) -> None:
        self.fields = fields
        self.past: deque[list[float]] = deque(maxlen=window)
        self.last: list[float] | None = None

    @staticmethod
    def names(fields: list[str]) -> list[str]:
        return ([*fields, *(f"{f}_step" for f in fields), *(f"{f}_dev" for f in fields),
                 *(f"{f}_spread" for f in fields), "hour_sin", "hour_cos"])

    def push(self, ts_ns: int, values: dict[str, Any]) -> list[float] | None:
        """The reading's features (None while the window is still short or a
        field has never been seen); the reading then joins the window."""
        cur = []
        for i, f in enumerate(self.fields):
            v = values.get(f)
            if type(v) in (int, float):
                cur.append(float(v))
            elif self.last is not None:
                cur.append(self.last[i])   # a missing field: carry the last value
            else:
                return None
        out = None
        if len(self.past) >= 3 and self.last is not None:
            n = len(self.past)
            means = [sum(p[i] for p in self.past) / n for i in range(len(cur))]
            spreads = [math.sqrt(sum((p[i] - means[i]) ** 2 for p in self.past) / n)
                       for i in range(len(cur))]
            h = ((ts_ns // NS + JST_S) % 86400) / 86400 * 2 * math.pi
            out = [*cur, *(c - p for c, p in zip(cur, self.last)),
                   *(c - m for c, m in zip(cur, means)), *spreads, math.sin(h), math.cos(h)]
        self.past.append(cur)
        self.last = cur
        return out


@dataclass
class SiteModel:
    site: str
    measurement: str
    features: list[str]
    forest: IsolationForest
    threshold: float
    mean: np.ndarray
    scale: np.ndarray
    trained_ns: int
    n_train: int

    @classmethod
    def fit(cls, site: str, measurement: str, rows_by_device: dict[str, list[tuple[int, dict]]],
            cfg: SiteModelConfig, trained_ns: int) -> SiteModel | None:
        fields = cfg.fields.get(measurement)
        if not fields:
            return None
        xs = []
        for rows in rows_by_device.values():
            rf = RollingFeatures(fields, cfg.window)
            for ts, values in sorted(rows, key=lambda r: r[0]):
                v = rf.push(ts, values)
                if v is not None:
                    xs.append(v)
        if len(xs) < cfg.min_train:
            return None
        X = np.asarray(xs, dtype=float)
        forest = IsolationForest(n_estimators=cfg.n_estimators,
                                 max_samples=min(cfg.max_samples, len(X)),
                                 random_state=cfg.seed).fit(X)
        scores = forest.score_samples(X)
        return cls(site, measurement, RollingFeatures.names(fields), forest,
                   float(np.quantile(scores, cfg.quantile)), X.mean(axis=0),
                   X.std(axis=0) + 1e-9, trained_ns, len(X))

    def explain(self, x: np.ndarray, top: int = 3) -> dict[str, float]:
        """The features furthest from the training data (z), for the evidence."""
        z = (x - self.mean) / self.scale
        idx = np.argsort(-np.abs(z))[:top]
        return {self.features[i]: round(float(z[i]), 1) for i in idx}


def train_sites(query: Any, cfg: SiteModelConfig, now_ns: int) -> dict[tuple[str, str], SiteModel]:
    """One model per (site, measurement) from the last ``history_s`` of
    InfluxDB history (raw series; devices found by their latest point)."""
    start = now_ns - int(cfg.history_s * NS)
    models: dict[tuple[str, str], SiteModel] = {}
    for meas, fields in cfg.fields.items():
        by_site: dict[str, list[str]] = {}
        for dev, last in query.latest(meas, since_ns=max(0, start)).items():
            by_site.setdefault(str(last.get("site") or ""), []).append(dev)
        for site, devices in sorted(by_site.items()):
            rows = {}
            for dev in devices:
                h = query.history(dev, meas, start, now_ns, fields=fields, resolution="raw")
                rows[dev] = [(int(p["time"]), p) for p in h.points]
            m = SiteModel.fit(site, meas, rows, cfg, now_ns)
            if m is not None:
                models[(site, meas)] = m
    return models


class BatchScorer:
    def __init__(self, cfg: SiteModelConfig | None = None) -> None:
        self.cfg = cfg or SiteModelConfig()
        self.models: dict[tuple[str, str], SiteModel] = {}
        self.rolling: dict[str, RollingFeatures] = {}
        # site key → buffered (device_id, ts_ns, features); when the first arrived
        self.pending: dict[tuple[str, str], list[tuple[str, int, list[float]]]] = {}
        self.first_at: dict[tuple[str, str], float] = {}
        self.hits: dict[str, int] = {}
        self.cool: dict[str, int] = {}
        self.open: set[str] = set()
        self.scored = 0
        self.batches = 0

    def set_models(self, models: dict[tuple[str, str], SiteModel]) -> None:
        self.models = models

    def add(self, r: Reading, now: float | None = None) -> tuple[str, str] | None:
        """Buffer one reading; returns the site key when its batch is full."""
        meas = r.family.value
        fields = self.cfg.fields.get(meas)
        if not fields:
            return None
        rf = self.rolling.get(r.device_id)
        if rf is None:
            rf = self.rolling[r.device_id] = RollingFeatures(fields, self.cfg.window)
        x = rf.push(r.ts_ns, r.fields)
        key = (r.site, meas)
        if x is None or key not in self.models:
            return None
        buf = self.pending.setdefault(key, [])
        if not buf:
            self.first_at[key] = time.monotonic() if now is None else now
        buf.append((r.device_id, r.ts_ns, x))
        return key if len(buf) >= self.cfg.batch_readings else None

    def due(self, now: float | None = None) -> list[tuple[str, str]]:
        """Sites whose oldest buffered reading has waited ``batch_s``."""
        now = time.monotonic() if now is None else now
        return [k for k, buf in self.pending.items()
                if buf and now - self.first_at.get(k, now) >= self.cfg.batch_s]

    def score(self, key: tuple[str, str]) -> list[Change]:
        """Score a site's buffered readings in one call; findings to emit."""
        buf = self.pending.pop(key, [])
        model = self.models.get(key)
        if not buf or model is None:
            return []
        X = np.asarray([x for _, _, x in buf], dtype=float)
        scores = model.forest.score_samples(X)
        self.scored += len(buf)
        self.batches += 1
        out = []
        for (dev, ts, _), s, x in zip(buf, scores, X):
            if s < model.threshold:
                self.hits[dev] = self.hits.get(dev, 0) + 1
                self.cool[dev] = 0
                if dev not in self.open and self.hits[dev] >= self.cfg.min_hits:
                    self.open.add(dev)
                    out.append(Change(dev, "opened", ts, {
                        "detector": "site_model", "site": key[0], "score": round(float(s), 4),
                        "threshold": round(model.threshold, 4), "unusual": model.explain(x),
                        "trained_ns": model.trained_ns}))
            else:
                self.hits[dev] = 0
                if dev in self.open:
                    self.cool[dev] = self.cool.get(dev, 0) + 1
                    if self.cool[dev] >= self.cfg.clear_after:
                        self.open.discard(dev)
                        out.append(Change(dev, "cleared", ts, {
                            "detector": "site_model", "site": key[0],
                            "score": round(float(s), 4)}))
        return out


def score_into(scorer: BatchScorer, engine: Engine, key: tuple[str, str]) -> list[Finding]:
    """Score a site's batch and pass its changes through the engine (one open
    ``anomaly`` finding per device, shared with any other anomaly detector)."""
    return engine.external_changes(scorer.score(key), "site_model", EventKind.ANOMALY,
                                   Severity.WARNING)
