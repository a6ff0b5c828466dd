"""A small demo town for the pages, the screenshots and the tests: people,
households, a school, fields with the area's rain gauge and water districts
in Tamaki, web accounts, a week of simulated readings written to InfluxDB,
and a few alerts.

The rain is the simulator's: the town weather of :mod:`simulators.weather`
measured by :class:`simulators.rain_gauge.RainGauge` (0.5 mm bucket tips every
10 minutes), and the fields' water rises 1 mm per mm of it. So that the demo
always has rain to show, the weather seed is the first from 7 whose past
week had at least :data:`DEMO_MIN_RAIN_MM` of rain.

Everything is made up (names, places near 玉城町's centre 34.483 N 136.633 E).
Demo accounts all use the password :data:`DEMO_PASSWORD`.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from ingest.influx import InfluxClient
from ingest.line_protocol import line
from mimamori.config import Settings
from mimamori.contracts import EventKind, Family, Finding, FindingState, Severity
from mimamori.registry import Registry
from simulators.rain_gauge import RainGauge
from simulators.weather import Weather

from .accounts import Accounts
from .alert_source import open_alert_store
from .telemetry import family_of

DEMO_PASSWORD = "mimamori-demo"
DEMO_MIN_RAIN_MM = 5.0
RAIN_GAUGE = ("rain-001", "field-higashi", 34.4757, 136.6449)  # at the edge of 東の田
H = 3600 * 10**9
GRID_NS = 600 * 10**9
WINTER_CALENDAR = [  # 冬期湛水 (winter flooding) keeps a shallow flood over winter
    {"stage": "winter_flooding", "from": "11-01", "to": "02-28", "min_cm": 2, "max_cm": 6},
]

USERS = [  # username, role, person_id, display name, language
    ("hanako", "family", "tanaka-hanako", "田中 花子", "ja"),
    ("mai", "family", "suzuki-mai", "鈴木 舞", "ja"),
    ("jiro", "family", "sato-jiro", "佐藤 次郎", "ja"),
    ("taro", "farmer", "yamada-taro", "山田 太郎", "ja"),
    ("suido", "public_works", "suido-staff", "上下水道課", "ja"),
    ("admin", "admin", None, "管理者", "ja"),
]


DEVICES = [
    ("wear-001", "wearable_v1", "home-tanaka", "和子さんの腕時計", "tanaka-kazuko"),
    ("wear-002", "wearable_v1", "home-sato", "一郎さんの腕時計", "sato-ichiro"),
    ("tag-001", "child_tag_v1", "home-suzuki", "蓮くんのタグ", "suzuki-ren"),
    ("paddy-001", "paddy_json_v1", "field-higashi", "1号田 水位計", None),
    ("paddy-002", "paddy_json_v1", "field-kawazoi", "2号田 水位計", None),
    ("rain-001", "rain_gauge_v1", "field-higashi", "雨量計 (東の田のあぜ)", None),
    ("wm-tamaru", "water_main_v1", "district-tamaru", "田丸 配水管モニター", None),
    ("wm-east", "water_main_v1", "district-east", "東部 配水管モニター", None),
    ("wm-west", "water_main_v1", "district-west", "西部 配水管モニター", None),
]


def build_registry(reg: Registry) -> None:
    sites = [
        ("home-tanaka", "household", "田中さん宅", 34.4862, 136.6281, {}),
        ("home-sato", "household", "佐藤さん宅", 34.4791, 136.6402, {}),
        ("home-suzuki", "household", "鈴木さん宅", 34.4870, 136.6250, {}),
        ("school-tamaru", "school", "田丸小学校", 34.4889, 136.6335, {}),
        ("field-higashi", "field", "東の田 (1号)", 34.4755, 136.6452,
         {"crop_calendar": WINTER_CALENDAR}),
        ("field-kawazoi", "field", "川沿いの田 (2号)", 34.4738, 136.6478,
         {"crop_calendar": WINTER_CALENDAR}),
        ("district-tamaru", "pipe_district", "田丸配水区", 34.4885, 136.6340, {}),
        ("district-east", "pipe_district", "東部配水区", 34.4800, 136.6520, {}),
        ("district-west", "pipe_district", "西部配水区", 34.4820, 136.6180, {}),
    ]
    for sid, kind, name, lat, lon, st in sites:
        reg.add_site(sid, kind, name, lat, lon, st)
    people = [
        ("tanaka-kazuko", "wearer", "田中 和子", {"safe_zone": {"radius_m": 300},
                                                "waking_hours": ["06:30", "21:30"]}),
        ("sato-ichiro", "wearer", "佐藤 一郎", {}),
        ("suzuki-ren", "child", "鈴木 蓮", {"arrive_school_by": "08:15",
                                           "arrive_home_by": "16:30",
                                           "school_site": "school-tamaru"}),
        ("tanaka-hanako", "family", "田中 花子", {}),
        ("suzuki-mai", "family", "鈴木 舞", {}),
        ("sato-jiro", "family", "佐藤 次郎", {}),
        ("yamada-taro", "farmer", "山田 太郎", {}),
        ("suido-staff", "public_works", "上下水道課", {}),
    ]
    for pid, kind, name, st in people:
        reg.add_person(pid, kind, name, settings=st, email=f"{pid}@example.jp")
    reg.relate("tanaka-hanako", "family_member_of", "person", "tanaka-kazuko")
    reg.relate("sato-jiro", "family_member_of", "person", "sato-ichiro")
    reg.relate("suzuki-mai", "guardian_of", "person", "suzuki-ren")
    reg.relate("yamada-taro", "farmer_of", "site", "field-higashi")
    reg.relate("yamada-taro", "farmer_of", "site", "field-kawazoi")
    reg.relate("suido-staff", "on_call_for", "site", "district-east")
    for did, prof, site, name, person in DEVICES:
        lat, lon = RAIN_GAUGE[2:] if did == RAIN_GAUGE[0] else (None, None)
        reg.add_device(did, prof, site, name, person_id=person, lat=lat, lon=lon)


def build_accounts(acc: Accounts) -> None:
    for username, role, pid, name, lang in USERS:
        acc.add_user(username, DEMO_PASSWORD, role, person_id=pid, display_name=name,
                     language=lang, replace=True)


WORLD_ACCOUNTS = [  # username, role, the simulated world's person id prefix (first match)
    ("world-family", "family", "family-"),
    ("world-guardian", "family", "guardian-"),
    ("world-farmer", "farmer", "farmer-"),
    ("world-suido", "public_works", "public-works-oncall-"),
]


def link_world_accounts(reg: Registry, acc: Accounts) -> list[str]:
    """Accounts for the people of the live simulator's world (``mimamori demo``
    registers it), so its live readings can be watched too; skipped when absent."""
    made = []
    people = sorted(p.person_id for p in reg.people())
    for username, role, prefix in WORLD_ACCOUNTS:
        pid = next((p for p in people if p.startswith(prefix)), None)
        if pid is not None:
            person = reg.get_person(pid)
            acc.add_user(username, DEMO_PASSWORD, role, person_id=pid,
                         display_name=person.name if person else "", replace=True)
            made.append(username)
    return made


def demo_weather(start_ns: int, end_ns: int, seed: int = 7) -> Weather:
    """The simulator's town weather, from the first seed (from ``seed``) that
    rained at least :data:`DEMO_MIN_RAIN_MM` between the two times."""
    for s in range(seed, seed + 100):
        w = Weather(s)
        if w.rain_mm(start_ns, end_ns) >= DEMO_MIN_RAIN_MM:
            return w
    return Weather(seed)


def rain_readings(start_ns: int, now_ns: int, weather: Weather,
                  seed: int = 7) -> list[tuple[int, dict[str, Any]]]:
    """The demo rain gauge's uplinks (every 10 minutes) from start to now."""
    dev, site, lat, lon = RAIN_GAUGE
    gauge = RainGauge(dev, site, seed=seed, start_ns=start_ns, end_ns=now_ns + 1,
                      weather=weather, params={"latlon": (lat, lon)})
    out: list[tuple[int, dict[str, Any]]] = []
    gauge.run_until(now_ns, out)
    return out


def history_lines(now_ns: int, days: int = 7, seed: int = 7) -> list[str]:
    """A week of readings for every demo device (hourly for infrastructure,
    every 10 minutes for the rain gauge, and for people's devices over the
    last day)."""
    rng = random.Random(seed)
    out: list[str] = []
    # on a 10-minute grid: seeding again later (every `mimamori demo` does) overwrites the
    # rain gauge's points instead of adding a second copy of the week's rain
    now_ns = now_ns // GRID_NS * GRID_NS
    start = now_ns - days * 86400 * 10**9

    def tags(dev: str, site: str, profile: str) -> dict[str, str]:
        return {"device_id": dev, "site": site, "profile": profile}

    # rain: the area's gauge measures the simulated town weather
    weather = demo_weather(start, now_ns, seed)
    rain = rain_readings(start - H, now_ns, weather, seed)
    for ts, fields in rain:
        out.append(line("paddy", tags(RAIN_GAUGE[0], RAIN_GAUGE[1], "rain_gauge_v1"), fields, ts))
    # paddy: hourly, slowly falling then refilled, +1 mm per mm of rain up to the
    # outlet weir; field-kawazoi drifts low (leaky levee)
    for dev, site, base, loss in (("paddy-001", "field-higashi", 4.5, 0.04),
                                  ("paddy-002", "field-kawazoi", 3.2, 0.09)):
        level = base
        for i in range(days * 24 + 1):
            ts = start + i * H
            level -= loss * (1 + rng.random())
            level = min(level + weather.rain_mm(ts - H, ts) / 10, 8.0)
            if level < 2.6 and dev == "paddy-001":
                level += 2.0
            level = max(level, 0.3)
            hour = ((ts // H) + 9) % 24
            temp = 11 + 4 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.3)
            out.append(line("paddy", tags(dev, site, "paddy_json_v1"),
                            {"water_level_cm": round(level + rng.gauss(0, 0.05), 2),
                             "water_temp_c": round(temp, 2),
                             "battery_pct": round(95 - i * 0.01, 1)}, ts))
    # water mains: hourly pressure and flow; district-east's night flow rises (a leak)
    for dev, site, q0, leak in (("wm-tamaru", "district-tamaru", 40.0, 0.0),
                                ("wm-east", "district-east", 25.0, 0.35),
                                ("wm-west", "district-west", 18.0, 0.0)):
        for i in range(28 * 24 + 1):
            ts = now_ns - 28 * 86400 * 10**9 + i * H
            hour = ((ts // H) + 9) % 24
            demand = 0.35 + 0.65 * max(0.0, math.sin((hour - 5) / 19 * math.pi)) \
                if 5 <= hour else 0.3
            day = i / 24
            flow = q0 * demand + (leak * day if day > 14 else 0) + rng.gauss(0, 0.4)
            pressure = 0.42 - 0.1 * demand + rng.gauss(0, 0.004)
            out.append(line("water_main", tags(dev, site, "water_main_v1"),
                            {"pressure_mpa": round(pressure, 4), "flow_m3h": round(flow, 2),
                             "battery_pct": 88.0}, ts))
    # people's devices: every 10 minutes over the last day
    step = 600 * 10**9
    for dev, site, person_ok, battery in (("wear-001", "home-tanaka", True, 64.0),
                                          ("wear-002", "home-sato", True, 81.0)):
        for i in range(24 * 6 + 1):
            ts = now_ns - 86400 * 10**9 + i * step
            out.append(line("wearable", tags(dev, site, "wearable_v1"),
                            {"heart_rate_bpm": round(68 + rng.gauss(0, 4), 1),
                             "spo2_pct": round(97 + rng.gauss(0, 0.8), 1),
                             "steps": rng.randint(0, 120), "worn": person_ok,
                             "fall": dev == "wear-001" and i == 24 * 6 - 2, "sos": False,
                             "battery_pct": round(battery - i * 0.02, 1)}, ts))
        out.append(line("location", tags(dev, site, "wearable_v1"),
                        {"lat": 34.4863, "lon": 136.6284, "gps_accuracy_m": 8.0}, now_ns - step))
    for i in range(24 * 6 + 1):
        ts = now_ns - 86400 * 10**9 + i * step
        out.append(line("child_tag", tags("tag-001", "home-suzuki", "child_tag_v1"),
                        {"battery_pct": round(72 - i * 0.03, 1), "sos": False}, ts))
        frac = (i % 12) / 11
        out.append(line("location", tags("tag-001", "home-suzuki", "child_tag_v1"),
                        {"lat": round(34.4870 + (34.4889 - 34.4870) * frac, 6),
                         "lon": round(136.6250 + (136.6335 - 136.6250) * frac, 6),
                         "gps_accuracy_m": 6.0}, ts))
    return out


DEMO_ALERTS: list[tuple[str, EventKind, Severity, str, str | None, dict[str, Any]]] = [
    ("wear-001", EventKind.FALL, Severity.CRITICAL, "home-tanaka", "tanaka-kazuko",
     {"fall_confidence": 0.91}),
    ("wear-002", EventKind.LOW_BATTERY, Severity.WARNING, "home-sato", "sato-ichiro",
     {"battery_pct": 12}),
    ("paddy-002", EventKind.WATER_LOW, Severity.WARNING, "field-kawazoi", None,
     {"water_level_cm": 1.1, "band": [2, 6]}),
    ("wm-east", EventKind.LEAK, Severity.WARNING, "district-east", None,
     {"night_flow_rise_m3h": 4.9}),
]


def add_alerts(store: Any, now_ns: int) -> list[Any]:
    out = []
    for i, (dev, kind, sev, site, person, ev) in enumerate(DEMO_ALERTS):
        profile = next(d[1] for d in DEVICES if d[0] == dev)
        f = Finding(dev, kind, sev, FindingState.OPENED, now_ns - (i + 1) * 20 * 60 * 10**9,
                    site=site, profile=profile, family=Family(family_of(profile)), evidence=ev)
        ch = store.apply_finding(f, subject_person=person)
        out.append(getattr(ch, "alert", ch))
    return out


def write_history(settings: Settings, lines: list[str], days: int = 29) -> int:
    """Write through ingest's storage layout (sensor series to the raw RP,
    locations to their own short-lived RP), then fill the downsampled series
    for those days the way the continuous queries do for new readings."""
    from ingest.points import measurement_of
    from ingest.schema import DS_1H, DS_1M, RAW, SENSOR_MEASUREMENTS, InfluxV1Layout, quote_ident

    client = InfluxClient(settings.influx)
    try:
        layout = InfluxV1Layout(client, settings.ingest, settings.influx)
        layout.ensure()
        by_rp: dict[str, list[str]] = {}
        for ln in lines:
            by_rp.setdefault(layout.target(measurement_of(ln)), []).append(ln)
        for rp, group in by_rp.items():
            for i in range(0, len(group), 5000):
                res = client.write_lines(group[i:i + 5000], retention_policy=rp)
                if res.outcome.value != "ok":
                    raise RuntimeError(f"InfluxDB refused the demo history: {res.message}")
        db = quote_ident(client.database)
        sensors = "|".join(SENSOR_MEASUREMENTS)
        for rp, every in ((DS_1M, "1m"), (DS_1H, "1h")):
            client.query(f"SELECT mean(*), min(*), max(*) INTO {db}.{quote_ident(rp)}.:MEASUREMENT "
                         f"FROM {db}.{quote_ident(RAW)}./^({sensors})$/ "
                         f"WHERE time >= now() - {days}d GROUP BY time({every}), *",
                         method="POST")
    finally:
        client.close()
    return len(lines)


def seed(settings: Settings, *, with_history: bool = True, with_alerts: bool = True) -> dict:
    """Create (or refresh) the demo town; returns counts."""
    reg = Registry(settings.registry)
    build_registry(reg)
    acc = Accounts(settings.registry)
    build_accounts(acc)
    world = link_world_accounts(reg, acc)
    now = time.time_ns()
    n = 0
    if with_history:
        n = write_history(settings, history_lines(now))
    alerts = []
    if with_alerts:
        store = open_alert_store(settings)
        if not store.list_alerts("active", limit=1):
            alerts = add_alerts(store, now)
    return {"users": len(USERS), "world_users": world, "points": n, "alerts": len(alerts)}
