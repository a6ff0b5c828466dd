"""Offline evaluation against ground truth: readings + labels → per event
class recall, precision, false alerts per 100 device-days and detection
delay (median / p95).

Input is an offline run folder (``readings.csv``, ``labels.csv``,
``devices.json`` as the simulators write them, :mod:`mimamori.offline`).
Each device is replayed alone, in time order, through a fresh
:class:`~analytics.engine.Engine` with the device's registered facts
(``devices.json`` params; the school calendar from the scenario) as its
settings — the same code the stage runs, accelerated. The cross-device
area drift check (:mod:`analytics.area_drift`) runs first over the
paddy-family readings of all devices merged in time order
(:func:`replay_areas`); its changes are replayed into each field's engine
right after the reading that caused them, as the stage does.

Matching: a finding of kind K on device D, from opened to cleared,
detects the labels of kind K on D it overlaps (label start − ``early_s`` …
end + ``late_s``). Recall = detected labels / labels; precision = opened
findings that overlap a label / opened findings; a false alert is an opened
finding that overlaps no label. Delay = the first overlapping finding's
opening (or the label start, if it was already open) − label start.
``fall_flagged`` is the subset of fall labels whose device sent its fall
flag, ``fall_unflagged`` the rest (found from stillness and heart rate; its
precision/false-alert columns are left empty — a fall finding is one kind); ``*_within_interval`` is recall counting only detections within one
reporting interval of the start.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimamori.contracts import FindingState, Reading
from mimamori.offline import Label, read_labels, read_readings

from .area_drift import (AreaDrift, AreaDriftConfig, area_changes_into, area_role,
                         assign_areas)
from .engine import Change, Engine

NS = 1_000_000_000
# A label can only be detected from readings that carry the signal: one that
# starts while the device is silent (dead, out of coverage), or during which
# no reading carries its key field (a heart rate while the band is off the
# wrist), or a fall or inactivity while the band is not worn, is reported as unobservable
# and left out of recall; so is a label the simulator wrote unobservable (its
# ``observable`` flag: a drifting paddy probe while the water never stood at a
# level known without it — the farmer's fill ending at the target, the weir).
KEY_FIELDS = {"heart_rate_abnormal": ("heart_rate_bpm",), "spo2_low": ("spo2_pct",),
              "sos": ("sos",), "fall": ("fall",)}
# Classes read from one sensor's value (paddy level, main pressure): while the
# device's own sensor is labelled faulty (stuck, drifting) at the label's
# start, the reading does not show the event — the fault finding is the alert
# that can be raised — so the label is unobservable.
SENSOR_FAULTS = ("sensor_stuck", "sensor_drift")
HIDDEN_BY_FAULT = {"water_low", "water_high", "sudden_drop", "pressure_out_of_range",
                   "pressure_transient"}
# A label that begins in the scenario's run-out (its last ``run_out``, in
# devices.json as ``run_out_s``) is not scored: the run ends before a detector
# that needs nights of data could judge it. It is counted apart (``run_out``,
# and how many of those were found anyway), and a finding on it is not false.


@dataclass
class ClassStats:
    labels: int = 0
    unobservable: int = 0
    run_out: int = 0
    run_out_detected: int = 0
    detected: int = 0
    detected_within_interval: int = 0
    opened: int = 0
    matching: int = 0
    delays_s: list[float] = field(default_factory=list)
    delays_intervals: list[float] = field(default_factory=list)
    device_days: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        def q(xs: list[float], p: float) -> float | None:
            if not xs:
                return None
            s = sorted(xs)
            return round(s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))], 1)
        false = self.opened - self.matching
        return {
            "labels": self.labels, "unobservable": self.unobservable,
            "run_out": self.run_out, "run_out_detected": self.run_out_detected,
            "detected": self.detected,
            "recall": round(self.detected / self.labels, 4) if self.labels else None,
            "recall_within_interval": round(self.detected_within_interval / self.labels, 4)
            if self.labels else None,
            "opened": self.opened,
            "precision": round(self.matching / self.opened, 4) if self.opened else None,
            "false_alerts": false,
            "false_per_100_device_days": round(100 * false / self.device_days, 3)
            if self.device_days else None,
            "delay_median_s": q(self.delays_s, 0.5), "delay_p95_s": q(self.delays_s, 0.95),
            "delay_p95_intervals": q(self.delays_intervals, 0.95),
        }


def load_devices(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    if not path.exists():
        return {}, {}
    doc = json.loads(path.read_text(encoding="utf-8"))
    return {d["device_id"]: d for d in doc.get("devices", [])}, doc


def device_ctx(info: dict[str, Any], holidays: list[str]) -> dict[str, Any]:
    ctx = dict(info.get("params") or {})
    if holidays:
        ctx.setdefault("holidays", holidays)
    return ctx


def evaluate_dir(data_dir: Path | str, holidays: list[str] | None = None,
                 early_s: float = 60.0, late_s: float = 900.0,
                 profiles: dict[str, Any] | None = None,
                 area_cfg: AreaDriftConfig | None = None,
                 run_out_s: float | None = None) -> dict[str, Any]:
    data = Path(data_dir)
    devices, meta = load_devices(data / "devices.json")
    if run_out_s is None:
        run_out_s = float(meta.get("run_out_s") or 0)
    labels = read_labels(data / "labels.csv")
    if profiles is None:
        from device_profiles import load_profiles

        profiles = load_profiles()
    by_device: dict[str, list[Reading]] = defaultdict(list)
    for r in read_readings(data / "readings.csv"):
        by_device[r.device_id].append(r)
    labels_by_device: dict[str, list[Label]] = defaultdict(list)
    for lb in labels:
        labels_by_device[lb.device_id].append(lb)
    end_ns = max((rs[-1].ts_ns for rs in by_device.values() if rs), default=0)
    start_ns = min((rs[0].ts_ns for rs in by_device.values() if rs), default=0)
    for lb in labels:
        end_ns = max(end_ns, lb.end_ns)
    scored_until_ns = end_ns - int(run_out_s * NS)

    area_changes = replay_areas(by_device, devices, holidays or [], profiles, area_cfg)
    stats: dict[str, ClassStats] = defaultdict(ClassStats)
    family_days: dict[str, float] = defaultdict(float)
    kinds_of_family: dict[str, set[str]] = defaultdict(set)
    readings_total = findings_total = 0
    for device_id in sorted(set(by_device) | set(labels_by_device)):
        rs = sorted(by_device.get(device_id, []), key=lambda r: r.ts_ns)
        info = devices.get(device_id, {})
        family = info.get("family") or (rs[0].family.value if rs else "generic")
        interval_s = float(info.get("interval_s") or 600)
        family_days[family] += (end_ns - start_ns) / NS / 86400
        ctx = device_ctx(info, holidays or [])
        eng = Engine(profiles, lambda _d, _s, ctx=ctx: ctx)
        # findings as intervals: [opened, cleared] per kind
        spans: list[list] = []   # [kind, open_ns, clear_ns]
        open_at: dict[str, int] = {}
        changes = area_changes.get(device_id, [])
        ci = 0
        for r in rs:
            _note(eng.process(r), spans, open_at, end_ns)
            # the area check judged this reading after the engine (as the stage does)
            while ci < len(changes) and changes[ci].ts_ns <= r.ts_ns:
                _note(area_changes_into(eng, [changes[ci]]), spans, open_at, end_ns)
                ci += 1
        _note(eng.advance(end_ns), spans, open_at, end_ns)
        opened = [(t0, k) for k, t0, _ in spans]
        readings_total += len(rs)
        findings_total += len(opened)
        flagged = [r.ts_ns for r in rs if r.fields.get("fall") is True]
        dev_labels = labels_by_device.get(device_id, [])
        silent = [(lb.start_ns, lb.end_ns) for lb in dev_labels
                  if lb.kind.value == "device_silent"]
        faulty = [(lb.start_ns, lb.end_ns) for lb in dev_labels
                  if lb.kind.value in SENSOR_FAULTS]
        for kind in {k for _, k in opened} | {lb.kind.value for lb in dev_labels}:
            kinds_of_family[family].add(kind)
        # a label is detected by a finding of its kind open at some time during it
        used: set[int] = set()
        for lb in dev_labels:
            classes = [lb.kind.value]
            if lb.kind.value == "fall":
                classes.append("fall_flagged" if any(lb.start_ns <= t <= lb.start_ns + 60 * NS
                                                     for t in flagged) else "fall_unflagged")
            hits = sorted((max(t0, lb.start_ns), i) for i, (k, t0, t1) in enumerate(spans)
                          if k == lb.kind.value and t0 <= lb.end_ns + late_s * NS
                          and t1 >= lb.start_ns - early_s * NS)
            used.update(i for _, i in hits)
            if run_out_s > 0 and lb.start_ns >= scored_until_ns:
                for c in classes:
                    stats[c].run_out += 1
                    stats[c].run_out_detected += int(bool(hits))
                continue
            if not _observable(lb, rs, silent, faulty):
                for c in classes:
                    stats[c].unobservable += 1
                continue
            for c in classes:
                st = stats[c]
                st.labels += 1
                if hits:
                    st.detected += 1
                    delay = max(0.0, (hits[0][0] - lb.start_ns) / NS)
                    st.delays_s.append(delay)
                    st.delays_intervals.append(delay / interval_s)
                    if delay <= interval_s:
                        st.detected_within_interval += 1
        for i, (t, k) in enumerate(opened):
            st = stats[k]
            st.opened += 1
            if i in used:
                st.matching += 1
            if k == "fall":
                stats["fall_flagged"].opened += 1
                stats["fall_flagged"].matching += int(i in used)
    for kind, st in stats.items():
        base = "fall" if kind.startswith("fall_") else kind
        st.device_days = 0.0 if kind == "fall_unflagged" else \
            sum(d for fam, d in family_days.items() if base in kinds_of_family[fam])
    return {"scenario": meta.get("scenario"), "seed": meta.get("seed"),
            "devices": len(by_device), "readings": readings_total, "opened": findings_total,
            "device_days": round(sum(family_days.values()), 1), "run_out_s": run_out_s,
            "classes": {k: stats[k].as_dict() for k in sorted(stats)}}


def replay_areas(by_device: dict[str, list[Reading]], devices: dict[str, dict[str, Any]],
                 holidays: list[str], profiles: dict[str, Any],
                 cfg: AreaDriftConfig | None = None,
                 ) -> dict[str, list[Change]]:
    """The cross-device area drift check over every paddy-family reading
    (fields and their areas' rain gauges) merged in time order, as the stage
    sees them; its changes per field, to replay beside the field's own."""
    import heapq

    area = AreaDrift(cfg)
    area.set_areas(assign_areas(((d, area_role(profiles.get(i.get("profile") or "")),
                                  i.get("lat"), i.get("lon")) for d, i in devices.items()),
                                area.cfg.radius_m))
    if not area.area_of:
        return {}
    gauges = set(area.area_of.values())
    members = [d for d in by_device if d in area.area_of or d in gauges]
    ctxs = {d: device_ctx(devices.get(d, {}), holidays) for d in members}
    out: dict[str, list[Change]] = defaultdict(list)
    streams = [sorted(by_device[d], key=lambda r: r.ts_ns) for d in members]
    for r in heapq.merge(*streams, key=lambda r: r.ts_ns):
        area.annotate(r.device_id, r.ts_ns, r.fields)   # the engine replay reads it too
        for ch in area.process(r.device_id, r.ts_ns, r.fields, ctxs[r.device_id]):
            out[ch.device_id].append(ch)
    return out


def _note(found: list, spans: list[list], open_at: dict[str, int], end_ns: int) -> None:
    for f in found:
        k = f.kind.value
        if f.state is FindingState.OPENED:
            open_at[k] = len(spans)
            spans.append([k, f.ts_ns, end_ns])
        elif f.state is FindingState.CLEARED and k in open_at:
            spans[open_at.pop(k)][2] = f.ts_ns


def _observable(lb: Label, rs: list[Reading], silent: list[tuple[int, int]],
                faulty: list[tuple[int, int]] | None = None) -> bool:
    if not lb.observable:
        return False
    if lb.kind.value == "device_silent":
        return True
    if any(a <= lb.start_ns <= b for a, b in silent):
        return False
    if lb.kind.value in HIDDEN_BY_FAULT and any(a <= lb.start_ns <= b for a, b in faulty or ()):
        return False
    # only a band on the wrist can sense its wearer fall, or lie still
    if lb.kind.value in ("fall", "inactivity"):
        before = [r for r in rs if r.ts_ns <= lb.start_ns + 60 * NS and "worn" in r.fields]
        return bool(before) and before[-1].fields.get("worn") is True
    keys = KEY_FIELDS.get(lb.kind.value)
    if keys is None:
        return True
    return any(lb.start_ns <= r.ts_ns <= lb.end_ns and any(k in r.fields for k in keys)
               for r in rs)


def table(report: dict[str, Any]) -> str:
    head = (f"{'class':<24}{'labels':>7}{'unobs':>6}{'runout':>7}{'recall':>8}{'in 1 int':>9}"
            f"{'precision':>10}"
            f"{'false/100dd':>12}{'delay med':>10}{'p95':>9}")
    title = (f"scenario {report.get('scenario')} seed {report.get('seed')}: "
             f"{report['devices']} devices, {report['device_days']} device-days, "
             f"{report['readings']} readings")
    if report.get("run_out_s"):
        title += (f"; labels that begin in the last {_dur(report['run_out_s'])} "
                  f"are not scored (runout)")
    lines = [title, head]

    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)
    for k, c in report["classes"].items():
        lines.append(f"{k:<24}{c['labels']:>7}{c['unobservable']:>6}{c.get('run_out', 0):>7}"
                     f"{f(c['recall'], '.3f'):>8}"
                     f"{f(c['recall_within_interval'], '.3f'):>9}{f(c['precision'], '.3f'):>10}"
                     f"{f(c['false_per_100_device_days'], '.2f'):>12}"
                     f"{_dur(c['delay_median_s']):>10}{_dur(c['delay_p95_s']):>9}")
    return "\n".join(lines)


def _dur(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    return f"{s / 3600:.1f}h"


def plot(report: dict[str, Any], path: Path | str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = [k for k, c in report["classes"].items() if c["labels"]]
    recall = [report["classes"][k]["recall"] or 0 for k in classes]
    prec = [report["classes"][k]["precision"] or 0 for k in classes]
    delay = [(report["classes"][k]["delay_median_s"] or 0) / 60 for k in classes]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 0.45 * len(classes) + 1.5))
    y = range(len(classes))
    a1.barh([i + 0.2 for i in y], recall, height=0.4, label="recall")
    a1.barh([i - 0.2 for i in y], prec, height=0.4, label="precision")
    a1.set_yticks(list(y), classes)
    a1.set_xlim(0, 1.05)
    a1.axvline(0.9, color="grey", lw=0.8, ls="--")
    a1.legend(loc="lower right")
    a1.set_title("recall / precision per class")
    a2.barh(list(y), delay, color="tab:green")
    a2.set_yticks(list(y), classes)
    a2.set_xscale("symlog")
    a2.set_title("median detection delay (minutes)")
    fig.suptitle(f"scenario {report.get('scenario')} seed {report.get('seed')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
