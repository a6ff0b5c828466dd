"""PNG charts of a week of one device per family, injected anomalies shaded
(matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from mimamori.offline import Label

from .build import build_models
from .geo import distance_m
from .model import DeviceModel
from .scenario import Scenario
from .timebase import JST, NS

PANELS = {
    "wearable": [("heart_rate_bpm", "心拍 HR (bpm)"), ("spo2_pct", "SpO₂ (%)"),
                 ("skin_temp_c", "皮膚温 skin (°C)"), ("steps", "歩数 steps / uplink"),
                 ("battery_pct", "電池 battery (%)")],
    "child_tag": [("_home_m", "自宅から from home (m)"), ("_school_m", "学校から from school (m)"),
                  ("gps_accuracy_m", "GPS 精度 accuracy (m)"), ("battery_pct", "電池 battery (%)")],
    "paddy": [("water_level_cm", "水位 level (cm)"), ("water_temp_c", "水温 water (°C)"),
              ("battery_pct", "電池 battery (%)")],
    "water_main": [("flow_m3h", "流量 flow (m³/h)"), ("pressure_mpa", "水圧 pressure (MPa)"),
                   ("acoustic_db", "音響 acoustic (dB)")],
}
COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#17becf",
          "#bcbd22", "#1f77b4", "#7f7f7f"]


def _series(model: DeviceModel, rows) -> dict[str, tuple[list, list]]:
    out: dict[str, tuple[list, list]] = {}
    for ts, f in rows:
        t = datetime.fromtimestamp(ts / NS, JST)
        vals = dict(f)
        if model.family.value == "child_tag":
            home = model.home_ll  # type: ignore[attr-defined]
            school = model.school_ll  # type: ignore[attr-defined]
            vals["_home_m"] = distance_m(home[0], home[1], f["lat"], f["lon"])
            vals["_school_m"] = distance_m(school[0], school[1], f["lat"], f["lon"])
        for k, v in vals.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                xs, ys = out.setdefault(k, ([], []))
                xs.append(t)
                ys.append(v)
    return out


def plot_device(model: DeviceModel, rows, labels: list[Label], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = ["Noto Sans CJK JP", "DejaVu Sans"]
    panels = PANELS[model.family.value]
    series = _series(model, rows)
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 2.1 * len(panels) + 0.8), sharex=True)
    kinds = sorted({lb.kind.value for lb in labels})
    color = {k: COLORS[i % len(COLORS)] for i, k in enumerate(kinds)}
    for ax, (field, title) in zip(axes, panels):
        if field in series:
            xs, ys = series[field]
            ax.plot(xs, ys, lw=0.8, color="#222222")
        ax.set_ylabel(title, fontsize=8)
        ax.grid(alpha=0.3)
        for lb in labels:
            a = datetime.fromtimestamp(lb.start_ns / NS, JST)
            b = datetime.fromtimestamp(max(lb.end_ns, lb.start_ns + 300 * NS) / NS, JST)
            ax.axvspan(a, b, color=color[lb.kind.value], alpha=0.25, lw=0)
    # the device's own event flags (fall candidates, SOS presses)
    for ts, f in rows:
        if f.get("fall") or f.get("sos"):
            t = datetime.fromtimestamp(ts / NS, JST)
            for ax in axes:
                ax.axvline(t, color="#d62728" if f.get("sos") else "#555555", lw=0.8, ls="--")
    from matplotlib.patches import Patch

    handles = [Patch(color=color[k], alpha=0.4, label=k) for k in kinds]
    if any(f.get("fall") or f.get("sos") for _, f in rows):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#555555", ls="--", label="device flag (fall/SOS)"))
    if handles:
        axes[0].legend(handles=handles, loc="upper left", fontsize=7, ncol=6)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=JST))
    fig.suptitle(f"{model.device_id} ({model.family.value}, {model.profile}) — "
                 "shaded: injected anomalies (ground truth)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_week(scenario: Scenario, out_dir: Path) -> list[Path]:
    """One PNG per device of the scenario (meant for one device per family)."""
    paths = []
    for m in build_models(scenario):
        rows: list = []
        m.run_until(scenario.end_ns, rows)
        paths.append(plot_device(m, rows, m.finish(), Path(out_dir) / f"{m.device_id}.png"))
    return paths
