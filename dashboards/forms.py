"""Checking what people type into the settings and admin forms — pure
functions that return the cleaned values and plain-language errors (in the
reader's language), keyed by the form field they belong to.

>>> clean_recipient({"channels": ["email"], "language": "ja", "quiet_from": "22:00",
...                  "quiet_to": "7:00"}, "en")[1]
{'quiet_to': 'Write the time as HH:MM, for example 07:30.'}
>>> clean_crop_calendar("heading, 07-11, 08-05, 5, 10", "ja")[0][0]["max_cm"]
10.0
"""

from __future__ import annotations

import re
from typing import Any

CHANNELS = ("email", "line", "phone")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_MD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")

MSG = {
    "time": ("「07:30」のように 時:分 で書いてください。", "Write the time as HH:MM, for example 07:30."),
    "both_or_none": ("開始と終了の両方を書くか、両方とも空にしてください。",
                     "Fill in both times, or leave both empty."),
    "channel": ("連絡方法を1つ以上選んでください。", "Choose at least one way to reach you."),
    "channel_addr_line": ("LINE を選ぶには、先に LINE の連携が必要です。",
                          "To choose LINE, link your LINE account first."),
    "language": ("日本語か English を選んでください。", "Choose 日本語 or English."),
    "radius": ("半径は 50 から 5000 メートルの数字で書いてください。",
               "Write the radius as a number from 50 to 5000 metres."),
    "latlon": ("{n} 行目: 「34.4870, 136.6250」のように 緯度, 経度 で書いてください。",
               "Line {n}: write latitude, longitude, for example 34.4870, 136.6250."),
    "route_len": ("通学路は 2 地点以上、50 地点までです。", "A route needs 2 to 50 points."),
    "crop_line": ("{n} 行目: 「段階名, 月-日, 月-日, 最低cm, 最高cm」の形で書いてください。",
                  "Line {n}: write name, MM-DD, MM-DD, min cm, max cm."),
    "crop_band": ("{n} 行目: 水位は 0〜30 cm で、最低は最高以下にしてください。",
                  "Line {n}: levels are 0–30 cm and the minimum may not exceed the maximum."),
    "crop_empty": ("1 段階以上書いてください。", "Write at least one stage."),
    "device_id": ("機器IDは英数字と - _ で、128文字までです。",
                  "A device id is letters, digits, - and _, up to 128 characters."),
    "profile": ("知らない種類です: {v}", "Unknown profile: {v}"),
    "site": ("登録されていない場所です: {v}", "This site is not registered: {v}"),
    "person": ("登録されていない人です: {v}", "This person is not registered: {v}"),
    "number": ("数字で書いてください。", "Write a number."),
    "csv_header": ("CSV の1行目に device_id と profile の列が必要です。",
                   "The CSV's first line needs the columns device_id and profile."),
}


def msg(key: str, lang: str, **kw: Any) -> str:
    return MSG[key][0 if lang == "ja" else 1].format(**kw)


def _time_or_empty(v: str | None) -> str | None:
    v = (v or "").strip()
    return v or None


def clean_recipient(form: dict[str, Any], lang: str, has_line: bool = True
                    ) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    channels = [c for c in form.get("channels", []) if c in CHANNELS]
    if not channels:
        errors["channels"] = msg("channel", lang)
    elif "line" in channels and not has_line:
        errors["channels"] = msg("channel_addr_line", lang)
    language = form.get("language")
    if language not in ("ja", "en"):
        errors["language"] = msg("language", lang)
    qf, qt = _time_or_empty(form.get("quiet_from")), _time_or_empty(form.get("quiet_to"))
    for key, v in (("quiet_from", qf), ("quiet_to", qt)):
        if v is not None and not _TIME.match(v):
            errors[key] = msg("time", lang)
    if not errors and (qf is None) != (qt is None):
        errors["quiet_to" if qt is None else "quiet_from"] = msg("both_or_none", lang)
    return ({"channels": channels, "language": language,
             "quiet_hours": [qf, qt] if qf and qt else None}, errors)


def clean_times(form: dict[str, Any], keys: tuple[str, ...], lang: str
                ) -> tuple[dict[str, str], dict[str, str]]:
    values, errors = {}, {}
    for k in keys:
        v = (form.get(k) or "").strip()
        if not _TIME.match(v):
            errors[k] = msg("time", lang)
        values[k] = v
    return values, errors


def clean_radius(v: str, lang: str) -> tuple[float | None, str | None]:
    try:
        r = float(v)
    except (TypeError, ValueError):
        return None, msg("radius", lang)
    if not 50 <= r <= 5000:
        return None, msg("radius", lang)
    return r, None


def clean_route(text: str, lang: str) -> tuple[list[list[float]], str | None]:
    pts = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.replace("、", ",").split(",")]
        try:
            lat, lon = float(parts[0]), float(parts[1])
            if len(parts) != 2 or not (20 <= lat <= 46 and 122 <= lon <= 154):
                raise ValueError
        except (ValueError, IndexError):
            return [], msg("latlon", lang, n=n)
        pts.append([lat, lon])
    if not 2 <= len(pts) <= 50:
        return [], msg("route_len", lang)
    return pts, None


def clean_crop_calendar(text: str, lang: str) -> tuple[list[dict[str, Any]], str | None]:
    out = []
    for n, raw in enumerate((text or "").splitlines(), 1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.replace("、", ",").split(",")]
        if len(parts) != 5 or not _ID.match(parts[0]) or not _MD.match(parts[1]) \
                or not _MD.match(parts[2]):
            return [], msg("crop_line", lang, n=n)
        try:
            lo, hi = float(parts[3]), float(parts[4])
        except ValueError:
            return [], msg("crop_line", lang, n=n)
        if not (0 <= lo <= hi <= 30):
            return [], msg("crop_band", lang, n=n)
        out.append({"stage": parts[0], "from": parts[1], "to": parts[2], "min_cm": lo,
                    "max_cm": hi})
    if not out:
        return [], msg("crop_empty", lang)
    return out, None


def calendar_text(calendar: list[dict[str, Any]]) -> str:
    return "\n".join(f"{c['stage']}, {c['from']}, {c['to']}, {c['min_cm']:g}, {c['max_cm']:g}"
                     for c in calendar)


def clean_device(row: dict[str, Any], lang: str, profiles: set[str], sites: set[str],
                 people: set[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """One device from the add form or one CSV row."""
    errors: dict[str, str] = {}
    did = (row.get("device_id") or "").strip()
    if not _ID.match(did):
        errors["device_id"] = msg("device_id", lang)
    profile = (row.get("profile") or "").strip()
    if profile not in profiles:
        errors["profile"] = msg("profile", lang, v=profile or "—")
    site = (row.get("site") or "").strip()
    if site and site not in sites:
        errors["site"] = msg("site", lang, v=site)
    person = (row.get("person_id") or "").strip() or None
    if person and person not in people:
        errors["person_id"] = msg("person", lang, v=person)
    values: dict[str, Any] = {"device_id": did, "profile": profile, "site": site,
                              "name": (row.get("name") or "").strip(), "person_id": person}
    for k in ("lat", "lon"):
        v = (row.get(k) or "").strip() if isinstance(row.get(k), str) else row.get(k)
        if v in (None, ""):
            continue
        try:
            values[k] = float(v)
        except ValueError:
            errors[k] = msg("number", lang)
    eui = (row.get("dev_eui") or "").strip().lower()
    if eui:
        values["dev_eui"] = eui
    return values, errors
