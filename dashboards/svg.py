"""Server-side SVG charts and schematic maps: no JavaScript, no tiles, no CDN.

Each figure has ``role="img"``, a ``<title>`` and a ``<desc>`` saying what it
shows in words; pages also put the numbers in a table for screen readers.
Colours keep at least 3:1 against white (WCAG 1.4.11) and state is never
told by colour alone (a text label goes beside every mark).

>>> svg = line_chart([Series("水位", [(0, 4.0), (3600 * 10**9, 5.0)])], title="水位",
...                  band=(3.0, 6.0), unit="cm")
>>> svg.startswith("<svg") and "<title" in svg and "polyline" in svg
True
>>> svg = line_chart([Series("水位", [(0, 4.0), (7200 * 10**9, 5.0)])], title="水位と雨量",
...                  bars=Series("雨量", [(0, 1.5), (3600 * 10**9, 0.0)]), bar_unit="mm/h")
>>> svg.count('class="bar"'), "mm/h" in svg
(2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape

JST = timezone(timedelta(hours=9))
LINE_COLOURS = ("#1f5fa8", "#a3320b", "#2d6a1f", "#6b3fa0")
BAR_COLOUR = "#007c89"  # rain: teal, 4.9:1 on white; bars, so not told from the lines by colour alone
STATE_COLOURS = {"ok": "#1c7c3a", "warn": "#8a5a00", "alert": "#b00020", "unknown": "#5c5c5c",
                 "check": "#b00020", "low": "#b00020", "high": "#b00020", "no_target": "#5c5c5c"}


@dataclass
class Series:
    name: str
    points: list[tuple[int, float]]  # (ts_ns, value)
    colour: str | None = None
    dashed: bool = False


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    v = math.floor(lo / step) * step
    out = [round(v, 6)]
    while v < hi - step * 1e-6:  # the last tick is at or above the highest value
        v += step
        out.append(round(v, 6))
    return out


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:.0f}"


def line_chart(series: list[Series], *, title: str, unit: str = "", desc: str = "",
               band: tuple[float, float] | None = None, band_label: str = "",
               width: int = 400, height: int = 240, chart_id: str = "chart",
               y_min: float | None = None, bars: Series | None = None, bar_unit: str = "",
               bar_width_s: int = 3600) -> str:
    """Lines on the left axis; optional ``bars`` (amounts per ``bar_width_s``,
    e.g. rain per hour) on their own right axis, from zero."""
    # drawn at phone width: 1 SVG unit ≈ 1 CSS pixel on a phone, larger on a desktop
    left, right, top, bottom = 44, (40 if bars else 10), 26, 44
    pw, ph = width - left - right, height - top - bottom
    pts = [(t, v) for s in series for t, v in s.points if v is not None]
    bar_pts = [(t, v) for t, v in (bars.points if bars else []) if v is not None]
    ts = [t for t, _ in pts] + [t for t, _ in bar_pts] or [0, 1]
    vs = [v for _, v in pts] + (list(band) if band else [])
    t0, t1 = min(ts), max(ts)
    if t1 == t0:
        t1 = t0 + 1
    lo = min(vs) if vs else 0.0
    hi = max(vs) if vs else 1.0
    if y_min is not None:
        lo = min(lo, y_min)
    pad = (hi - lo) * 0.08 or 1.0
    floor = lo - pad if y_min is None else max(lo - pad, y_min)
    ticks = _ticks(floor, hi + pad, 4)
    lo, hi = ticks[0], ticks[-1]

    def x(t: int) -> float:
        return left + (t - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    tid, did = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="{tid} {did}" class="chart" id="{chart_id}">',
             f'<title id="{tid}">{escape(title)}</title>',
             f'<desc id="{did}">{escape(desc)}</desc>']
    if band:
        yb0, yb1 = y(band[1]), y(band[0])
        parts.append(f'<rect x="{left}" y="{yb0:.1f}" width="{pw}" height="{max(yb1 - yb0, 1):.1f}" '
                     f'fill="#d8efd8" stroke="#2d6a1f" stroke-dasharray="4 3"/>')
        if band_label:
            parts.append(f'<text x="{left + 6}" y="{yb0 + 14:.1f}" font-size="13" '
                         f'fill="#1f4d17">{escape(band_label)}</text>')
    for tv in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(tv):.1f}" y2="{y(tv):.1f}" '
                     f'stroke="#c8c8c8" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tv) + 4:.1f}" font-size="13" text-anchor="end" '
                     f'fill="#1a1a1a">{_fmt(tv)}</text>')
    if unit:
        parts.append(f'<text x="4" y="14" font-size="13" fill="#1a1a1a">{escape(unit)}</text>')
    # time axis: one label per day (or per 6 h for short spans), Japan time
    span_h = (t1 - t0) / 3.6e12
    step_h = 24 if span_h > 48 else 6 if span_h > 12 else 1
    if step_h == 24:  # at least ~48 units between date labels
        step_h *= max(1, math.ceil(span_h / 24 * 48 / pw))
    start = datetime.fromtimestamp(t0 / 1e9, JST).replace(minute=0, second=0, microsecond=0)
    if step_h >= 24:
        start = start.replace(hour=0)
    tick = start
    while tick.timestamp() * 1e9 <= t1:
        tn = int(tick.timestamp() * 1e9)
        if tn >= t0:
            label = tick.strftime("%m/%d") if step_h >= 24 else tick.strftime("%H:%M")
            parts.append(f'<line x1="{x(tn):.1f}" x2="{x(tn):.1f}" y1="{top}" y2="{top + ph}" '
                         f'stroke="#e2e2e2"/>')
            parts.append(f'<text x="{x(tn):.1f}" y="{height - 20}" font-size="13" '
                         f'text-anchor="middle" fill="#1a1a1a">{label}</text>')
        tick += timedelta(hours=step_h)
    if bars is not None:
        bticks = _ticks(0.0, max([v for _, v in bar_pts] + [1.0]), 4)
        btop = bticks[-1]
        bw = max(1.0, bar_width_s * 1e9 / (t1 - t0) * pw - 0.5)
        for tv in bticks:
            yb = top + ph - tv / btop * ph
            parts.append(f'<text x="{left + pw + 4}" y="{yb + 4:.1f}" font-size="13" '
                         f'fill="{BAR_COLOUR}">{_fmt(tv)}</text>')
        if bar_unit:
            parts.append(f'<text x="{width - 4}" y="14" font-size="13" text-anchor="end" '
                         f'fill="{BAR_COLOUR}">{escape(bar_unit)}</text>')
        for t, v in bar_pts:
            hgt = v / btop * ph
            parts.append(f'<rect class="bar" x="{x(t):.1f}" y="{top + ph - hgt:.1f}" '
                         f'width="{min(bw, left + pw - x(t)):.1f}" height="{hgt:.1f}" '
                         f'fill="{BAR_COLOUR}"/>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
                 f'stroke="#767676"/>')
    for i, s in enumerate(series):
        colour = s.colour or LINE_COLOURS[i % len(LINE_COLOURS)]
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points if v is not None)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        if coords:
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                         f'stroke-width="2.5"{dash}/>')
        lx = left + i * 150
        parts.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{height - 6}" y2="{height - 6}" '
                     f'stroke="{colour}" stroke-width="3"{dash}/>'
                     f'<text x="{lx + 30}" y="{height - 2}" font-size="13" fill="#1a1a1a">'
                     f'{escape(s.name)}</text>')
    if bars is not None:
        lx = left + len(series) * 150
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="12" height="12" '
                     f'fill="{BAR_COLOUR}"/><text x="{lx + 18}" y="{height - 2}" font-size="13" '
                     f'fill="#1a1a1a">{escape(bars.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _text_width(text: str, size: float) -> float:
    """Rough rendered width: full-width (CJK) characters ≈ 1 em, others ≈ 0.55 em."""
    return sum(size if ord(c) >= 0x2E80 else size * 0.55 for c in text)


@dataclass
class MapPoint:
    key: str
    label: str
    lat: float
    lon: float
    state: str = "unknown"
    state_text: str = ""
    shape: str = "circle"  # circle | square | star
    href: str | None = None


def schematic_map(points: list[MapPoint], *, title: str, desc: str = "", width: int = 400,
                  height: int = 300, map_id: str = "map") -> str:
    """Places drawn at their relative positions (equirectangular, north up),
    with a 100 m / 1 km scale bar; no tiles, so it works offline."""
    pts = [p for p in points if p.lat is not None and p.lon is not None]
    margin = 40
    if pts:
        lat0, lat1 = min(p.lat for p in pts), max(p.lat for p in pts)
        lon0, lon1 = min(p.lon for p in pts), max(p.lon for p in pts)
    else:
        lat0 = lat1 = 34.483
        lon0 = lon1 = 136.633
    kx = math.cos(math.radians((lat0 + lat1) / 2)) * 111_320  # metres per degree lon
    ky = 110_574.0
    span_m = max((lon1 - lon0) * kx, (lat1 - lat0) * ky, 200.0)
    scale = min(width - 2 * margin, height - 2 * margin) / span_m  # px per metre
    cx, cy = (lon0 + lon1) / 2, (lat0 + lat1) / 2

    def xy(p: MapPoint) -> tuple[float, float]:
        return (width / 2 + (p.lon - cx) * kx * scale, height / 2 - (p.lat - cy) * ky * scale)

    tid, did = f"{map_id}-title", f"{map_id}-desc"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="{tid} {did}" class="map" id="{map_id}">',
           f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>',
           f'<rect width="{width}" height="{height}" fill="#f4f6f2" stroke="#767676"/>',
           f'<text x="{width - 24}" y="24" font-size="14" text-anchor="middle" '
           f'fill="#1a1a1a">N ↑</text>']
    bar_m = 1000 if span_m > 3000 else 100
    bar_px = bar_m * scale
    out.append(f'<line x1="16" x2="{16 + bar_px:.1f}" y1="{height - 16}" y2="{height - 16}" '
               f'stroke="#1a1a1a" stroke-width="3"/><text x="16" y="{height - 22}" font-size="13" '
               f'fill="#1a1a1a">{"1 km" if bar_m == 1000 else "100 m"}</text>')
    placed: list[tuple[float, float, float]] = []  # label boxes: (x0, x1, baseline y)
    for p in sorted(pts, key=lambda p: (p.shape == "star", xy(p)[1], xy(p)[0])):
        px, py = xy(p)
        colour = STATE_COLOURS.get(p.state, "#5c5c5c")
        if p.shape == "square":
            mark = (f'<rect x="{px - 9:.1f}" y="{py - 9:.1f}" width="18" height="18" '
                    f'fill="{colour}" stroke="#1a1a1a"/>')
        elif p.shape == "star":
            mark = (f'<circle cx="{px:.1f}" cy="{py:.1f}" r="11" fill="#fff" stroke="{colour}" '
                    f'stroke-width="4"/><circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"/>')
        else:
            mark = (f'<circle cx="{px:.1f}" cy="{py:.1f}" r="10" fill="{colour}" '
                    f'stroke="#1a1a1a"/>')
        raw = p.label + (f"（{p.state_text}）" if p.state_text else "")
        w = _text_width(raw, 14)
        anchor = "end" if px + 14 + w > width - 4 else "start"
        x0, x1 = (px - 14 - w, px - 14) if anchor == "end" else (px + 14, px + 14 + w)
        ly = py + 5
        while any(x0 < qx1 and qx0 < x1 and abs(ly - qy) < 18 for qx0, qx1, qy in placed):
            ly += 18  # keep labels of nearby places from overlapping
        placed.append((x0, x1, ly))
        lx = x1 if anchor == "end" else x0
        label = (f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="14" text-anchor="{anchor}" '
                 f'fill="#1a1a1a" stroke="#f4f6f2" stroke-width="3" paint-order="stroke">'
                 f'{escape(raw)}</text>')
        if p.href:
            out.append(f'<a href="{escape(p.href)}">{mark}{label}</a>')
        else:
            out.append(mark + label)
    out.append("</svg>")
    return "".join(out)
