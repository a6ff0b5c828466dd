"""Dashboards as code: one Grafana dashboard per device family, every panel an
InfluxQL query on the measurement of that family.

People's locations are deliberately left out of Grafana (they live only in
the web UI, for the people allowed to see them, and every view is audited).

>>> d = dashboard("paddy")
>>> d["uid"], d["panels"][0]["targets"][0]["rawQuery"]
('mimamori-paddy', True)
>>> "$timeFilter" in d["panels"][0]["targets"][0]["query"]
True
"""

from __future__ import annotations

import re
from typing import Any

DATASOURCE_UID = "mimamori-influxdb"
DATASOURCE_NAME = "mimamori InfluxDB"
FOLDER_UID = "mimamori"
FOLDER_TITLE = "見守り (mimamori)"
DS = {"type": "influxdb", "uid": DATASOURCE_UID}

# family → (title, [(panel title, unit, select, extra WHERE or "")])
# `select` is the inner expression; the device variable and $timeFilter are added.
PANELS: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "wearable": ("見守り — 腕時計 (wearable)", [
        ("心拍数 heart rate (bpm)", "none", 'mean("heart_rate_bpm")', ""),
        ("血中酸素 SpO2 (%)", "percent", 'min("spo2_pct")', ""),
        ("歩数 steps", "none", 'sum("steps")', ""),
        ("転倒・SOS falls and SOS", "none", 'count("fall")', '("fall" = true OR "sos" = true)'),
        ("電池 battery (%)", "percent", 'last("battery_pct")', ""),
    ]),
    "child_tag": ("見守り — 子ども見守りタグ (child tag)", [
        ("受信回数 uplinks", "none", 'count("battery_pct")', ""),
        ("SOS", "none", 'count("sos")', ""),
        ("電池 battery (%)", "percent", 'last("battery_pct")', ""),
    ]),
    "paddy": ("見守り — 水田 (paddy fields)", [
        ("水位 water level (cm)", "none", 'mean("water_level_cm")', ""),
        ("水温 water temperature (°C)", "celsius", 'mean("water_temp_c")', ""),
        # rain gauges (profile rain_gauge_*) send the rain since their last uplink: a sum
        ("雨量 rain (mm)", "lengthmm", 'sum("rain_mm")', ""),
        ("電池 battery (%)", "percent", 'last("battery_pct")', ""),
    ]),
    "water_main": ("見守り — 配水管 (water mains)", [
        ("水圧 pressure (MPa)", "none", 'mean("pressure_mpa")', ""),
        ("流量 flow (m³/h)", "none", 'mean("flow_m3h")', ""),
        ("日最小流量 daily minimum flow (m³/h)", "none", "MNF", ""),
        ("電池 battery (%)", "percent", 'last("battery_pct")', ""),
    ]),
}
FAMILIES = tuple(PANELS)


def _query(measurement: str, select: str, extra: str) -> str:
    dev = '("device_id" =~ /^$device$/)'
    if select == "MNF":
        # minimum of hourly means per day, days starting 02:00 JST (17:00 UTC):
        # the night minimum where a growing leak shows first
        return ('SELECT min("flow") FROM (SELECT mean("flow_m3h") AS "flow" FROM '
                f'"{measurement}" WHERE {dev} AND $timeFilter GROUP BY time(1h), "device_id") '
                'WHERE $timeFilter GROUP BY time(1d, 17h), "device_id" fill(none)')
    where = f"{dev} AND {extra} AND $timeFilter" if extra else f"{dev} AND $timeFilter"
    return (f'SELECT {select} FROM "{measurement}" WHERE {where} '
            'GROUP BY time($__interval), "device_id" fill(none)')


def _style(select: str) -> dict[str, Any]:
    """Amounts per interval (rain, steps) are drawn as bars, levels as lines."""
    if select.startswith("sum("):
        return {"custom": {"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1}}
    return {}


def dashboard(family: str) -> dict[str, Any]:
    title, panels = PANELS[family]
    out_panels = []
    for i, (ptitle, unit, select, extra) in enumerate(panels):
        out_panels.append({
            "id": i + 1, "type": "timeseries", "title": ptitle, "datasource": DS,
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit, **_style(select)}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
            "targets": [{"refId": "A", "datasource": DS, "rawQuery": True,
                         "resultFormat": "time_series", "alias": "$tag_device_id",
                         "query": _query(family, select, extra)}],
        })
    return {
        "uid": f"mimamori-{family}", "title": title, "tags": ["mimamori", family],
        "timezone": "Asia/Tokyo", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-7d", "to": "now"}, "refresh": "1m",
        "templating": {"list": [{
            "name": "device", "label": "機器 device", "type": "query", "datasource": DS,
            "query": f'SHOW TAG VALUES FROM "{family}" WITH KEY = "device_id"',
            "definition": f'SHOW TAG VALUES FROM "{family}" WITH KEY = "device_id"',
            "refresh": 1, "multi": True, "includeAll": True, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        }]},
        "panels": out_panels,
    }


def all_dashboards() -> list[dict[str, Any]]:
    return [dashboard(f) for f in FAMILIES]


def queries(d: dict[str, Any]) -> list[str]:
    """Every InfluxQL text in a dashboard: variable queries and panel targets."""
    out = [v["query"] for v in d.get("templating", {}).get("list", []) if v.get("query")]
    out += [t["query"] for p in d["panels"] for t in p.get("targets", [])]
    return out


def render_query(q: str, variables: dict[str, list[str]], range_s: int, interval: str) -> str:
    """Expand Grafana's InfluxQL macros the way Grafana does before it sends a
    query: ``$timeFilter`` → ``time >= now() - Ns``, ``$__interval`` → the
    interval, a multi-value variable inside a regex → ``(a|b)`` escaped.

    >>> render_query('WHERE "d" =~ /^$device$/ AND $timeFilter GROUP BY time($__interval)',
    ...              {"device": ["a-1", "b.2"]}, 3600, "1m")
    'WHERE "d" =~ /^(a\\\\-1|b\\\\.2)$/ AND time >= now() - 3600s GROUP BY time(1m)'
    """
    q = q.replace("$timeFilter", f"time >= now() - {range_s}s")
    q = q.replace("$__interval", interval)
    for name, values in variables.items():
        rx = "(" + "|".join(re.sub(r"([\\/^$.|?*+()\[\]{}\-])", r"\\\1", v) for v in values) + ")"
        q = q.replace(f"${name}", rx)
    return q
