"""The server-side SVG figures: readable labels, honest axes."""

from __future__ import annotations

import re

from dashboards.svg import MapPoint, Series, _ticks, line_chart, schematic_map


def test_ticks_cover_the_data():
    for lo, hi in ((14.2, 33.9), (0.0, 0.8), (5.5, 16.0), (-3.0, 2.0)):
        t = _ticks(lo, hi, 4)
        assert t[0] <= lo and t[-1] >= hi and len(t) <= 8


def test_nearby_map_labels_do_not_overlap():
    pts = [MapPoint("a", "西部配水区", 34.4820, 136.6180, "ok", "正常"),
           MapPoint("b", "東部配水区", 34.4821, 136.6190, "alert", "警報あり"),
           MapPoint("c", "田丸配水区", 34.4885, 136.6340)]
    svg = schematic_map(pts, title="map")
    label = r'<text x="[\d.]+" y="([\d.]+)" font-size="14" text-anchor="(?:start|end)"'
    ys = [float(y) for y in re.findall(label, svg)]
    assert len(ys) == 3 and abs(ys[0] - ys[1]) >= 18


def test_chart_floor_at_zero_when_asked():
    svg = line_chart([Series("水位", [(0, 0.3), (3600 * 10**9, 4.0)])], title="t", unit="cm",
                     y_min=0)
    labels = re.findall(r'text-anchor="end" fill="#1a1a1a">([-\d.]+)<', svg)
    assert labels[0] == "0" and not any(v.startswith("-") for v in labels)
