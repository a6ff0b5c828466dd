"""Alert messages: short, calm, plain — Japanese by default, English per
recipient. Each says what happened, to whom or where, when, the value
against its normal, what to do now, and the acknowledge link.

>>> m = render({"kind": "fall", "severity": "critical", "happened_ns": 1_780_000_000 * 10**9,
...             "evidence": {"fall_confidence": 0.92}}, "ja",
...            subject="山田 花子", where="玉城町 佐田", ack_url="http://x/a/t")
>>> m.subject
'【見守り】山田 花子さんが転倒したようです'
>>> "http://x/a/t" in m.text
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Tokyo")

# kind → language → (what happened, what to do now). "{who}" is the person or place.
KINDS: dict[str, dict[str, tuple[str, str]]] = {
    "fall": {"ja": ("{who}さんが転倒したようです", "すぐに電話で様子を確かめてください。つながらなければ訪問するか、119番に連絡してください。"),
             "en": ("{who} may have fallen", "Call now to check. If there is no answer, visit or call 119.")},
    "sos": {"ja": ("{who}さんが緊急ボタンを押しました", "すぐに電話してください。つながらなければ訪問するか、119番に連絡してください。"),
            "en": ("{who} pressed the SOS button", "Call now. If there is no answer, visit or call 119.")},
    "inactivity": {"ja": ("{who}さんの動きが長い時間ありません", "電話で様子を確かめてください。"),
                   "en": ("{who} has not moved for a long time", "Please call to check on them.")},
    "heart_rate_abnormal": {"ja": ("{who}さんの心拍がいつもと違います", "体調を電話で確かめてください。"),
                            "en": ("{who}'s heart rate is unusual", "Please call to ask how they feel.")},
    "spo2_low": {"ja": ("{who}さんの血中酸素が低めです", "息苦しさがないか確かめてください。苦しそうなら119番へ。"),
                 "en": ("{who}'s blood oxygen is low", "Ask if they are short of breath. If so, call 119.")},
    "wandering": {"ja": ("{who}さんがいつもの範囲の外にいます", "電話で居場所を確かめてください。"),
                  "en": ("{who} is outside their usual area", "Please call to find out where they are.")},
    "not_worn": {"ja": ("{who}さんの見守り端末が外れています", "つけ直すよう声をかけてください。"),
                 "en": ("{who}'s watch-over device is not being worn", "Please remind them to wear it.")},
    "off_route": {"ja": ("{who}さんがいつもの通学路から外れています", "居場所を確かめてください。"),
                  "en": ("{who} has left the usual school route", "Please check where they are.")},
    "late_arrival": {"ja": ("{who}さんがまだ到着していません", "学校か本人に確かめてください。"),
                     "en": ("{who} has not arrived yet", "Please check with the school or the child.")},
    "water_low": {"ja": ("{who}の水位が低くなっています", "水口を確かめてください。"),
                  "en": ("The water in {who} is low", "Please check the water inlet.")},
    "water_high": {"ja": ("{who}の水位が高くなっています", "排水口を確かめてください。"),
                   "en": ("The water in {who} is high", "Please check the drain.")},
    "sudden_drop": {"ja": ("{who}の水位が急に下がりました", "あぜの崩れや漏れがないか見てください。"),
                    "en": ("The water in {who} dropped suddenly", "Check the levee for a breach or leak.")},
    "burst": {"ja": ("{who}で水道管の破裂の疑いがあります", "現地を確認し、必要なら弁を閉めてください。"),
              "en": ("Possible water-main burst in {who}", "Inspect on site and close valves if needed.")},
    "leak": {"ja": ("{who}で漏水の疑いがあります", "夜間流量を確かめ、調査を手配してください。"),
             "en": ("Possible leak in {who}", "Check the night flow and arrange a survey.")},
    "pressure_out_of_range": {"ja": ("{who}の水圧が基準の外です", "水圧計と弁の状態を確かめてください。"),
                              "en": ("Water pressure in {who} is out of range", "Check gauges and valves.")},
    "device_silent": {"ja": ("{who}の端末から連絡がありません", "電池と電波の状態を確かめてください。"),
                      "en": ("The device at {who} has gone silent", "Check its battery and signal.")},
    "low_battery": {"ja": ("{who}の端末の電池が少なくなっています", "充電か電池交換をしてください。"),
                    "en": ("The device at {who} has a low battery", "Please charge or replace the battery.")},
    "gateway_offline": {"ja": ("LoRa基地局 {who} が応答しません", "電源と回線を確かめてください。この基地局経由の端末の知らせは止めています。"),
                        "en": ("LoRa gateway {who} is offline", "Check its power and backhaul. Alerts for devices behind it are held.")},
}
GENERIC = {"ja": ("{who}で異常を検知しました", "状況を確かめてください。"),
           "en": ("Something unusual at {who}", "Please check.")}

FIELDS = {
    "water_level_cm": ("水位", "water level", "cm"), "water_temp_c": ("水温", "water temperature", "°C"),
    "heart_rate_bpm": ("心拍", "heart rate", "bpm"), "spo2_pct": ("血中酸素", "blood oxygen", "%"),
    "pressure_mpa": ("水圧", "pressure", "MPa"), "flow_m3h": ("流量", "flow", "m³/h"),
    "battery_pct": ("電池", "battery", "%"), "skin_temp_c": ("皮膚温", "skin temperature", "°C"),
    "fall_confidence": ("転倒の確からしさ", "fall confidence", ""),
}

LABELS = {
    "ja": {"when": "いつ", "where": "どこ", "value": "測定値", "normal": "ふだん", "todo": "いますぐ",
           "ack": "確認したら、このリンクを押してください（ほかの人への連絡が止まります）",
           "recovered": "回復しました", "reminder": "再送", "brand": "【見守り】",
           "recovery_text": "{what}という知らせは、{when}に解消しました。ご対応ありがとうございました。"},
    "en": {"when": "When", "where": "Where", "value": "Value", "normal": "normal", "todo": "Do now",
           "ack": "When you have it in hand, open this link (it stops messages to others)",
           "recovered": "Resolved", "reminder": "Reminder", "brand": "[mimamori] ",
           "recovery_text": "The alert \"{what}\" cleared at {when}. Thank you."},
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    short: str  # one line, for LINE's alt text and notifications

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "text": self.text, "short": self.short}


def _when(ns: int, lang: str) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, TZ)
    return (f"{dt.month}月{dt.day}日 {dt:%H:%M}" if lang == "ja" else f"{dt:%d %b %H:%M} JST")


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def value_line(evidence: dict[str, Any], lang: str) -> str | None:
    """'水位 2.1 cm（ふだん 5〜10 cm）' from the finding's evidence."""
    field = evidence.get("field")
    value = evidence.get("value")
    if field is None:
        field = next((k for k in evidence if k in FIELDS), None)
        value = evidence.get(field) if field else None
    if field is None or value is None:
        return None
    ja, en, unit = FIELDS.get(field, (field, field, ""))
    name = ja if lang == "ja" else en
    text = f"{name} {_num(value)}{(' ' + unit) if unit else ''}"
    low, high = evidence.get("low"), evidence.get("high")
    normal = evidence.get("baseline")
    rng = None
    if low is not None and high is not None:
        rng = f"{_num(low)}〜{_num(high)}" if lang == "ja" else f"{_num(low)}–{_num(high)}"
    elif normal is not None:
        rng = _num(normal)
    if rng:
        n = LABELS[lang]["normal"]
        text += f"（{n} {rng}{(' ' + unit) if unit else ''}）" if lang == "ja" else f" ({n} {rng}{(' ' + unit) if unit else ''})"
    return text


def render(alert: dict[str, Any], lang: str, *, subject: str, where: str = "",
           ack_url: str | None = None, purpose: str = "notify") -> Rendered:
    lang = lang if lang in LABELS else "ja"
    L = LABELS[lang]
    what_t, todo = KINDS.get(alert["kind"], GENERIC).get(lang, GENERIC[lang])
    what = what_t.format(who=subject)
    if purpose == "recovery":
        when = _when(alert.get("resolved_ns") or alert["happened_ns"], lang)
        head = f"{L['brand']}{L['recovered']}: {what}"
        return Rendered(head, L["recovery_text"].format(what=what, when=when), head)
    prefix = f"{L['brand']}{L['reminder']}: " if purpose == "reminder" else L["brand"]
    lines = [what, f"{L['when']}: {_when(alert['happened_ns'], lang)}"]
    if where:
        lines.append(f"{L['where']}: {where}")
    v = value_line(alert.get("evidence") or {}, lang)
    if v:
        lines.append(f"{L['value']}: {v}")
    lines.append(f"{L['todo']}: {todo}")
    if ack_url:
        lines += ["", f"{L['ack']}:", ack_url]
    return Rendered(f"{prefix}{what}", "\n".join(lines), f"{prefix}{what}")
