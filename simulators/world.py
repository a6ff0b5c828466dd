"""The people, places and relations behind simulated devices, written to the
registry so alerts have recipients: elderly wearers with their families
(e-mail ``name@example.jp`` and LINE ids — reaching the local stand-ins in
the demo), care managers and the town welfare section; children with their
guardians and school staff; farmers with their fields (and the area's rain
gauges, standing at a field's edge); the public-works
on-call rota for each pipe district.

Names, e-mails and LINE ids are drawn from a seeded stream per device, so a
scenario always builds the same town.

>>> w = build_world_for("wearable-0001", "wearable", seed=1)
>>> w["family"]["email"].endswith("@example.jp"), w["family"]["line_user_id"][:1]
(True, 'U')
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mimamori.contracts import Family
from mimamori.registry import Registry

from .geo import SCHOOLS
from .model import DeviceModel
from .rain_gauge import RainGauge

SURNAMES = (("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"),
            ("伊藤", "ito"), ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"),
            ("小林", "kobayashi"), ("加藤", "kato"), ("西村", "nishimura"), ("奥田", "okuda"),
            ("中西", "nakanishi"), ("前田", "maeda"), ("浜口", "hamaguchi"), ("世古", "seko"))
ELDER_NAMES = ("ハナ", "トメ", "キヨ", "フミ", "シズ", "茂", "勇", "正男", "清", "博")
ADULT_NAMES = (("健一", "kenichi"), ("直子", "naoko"), ("美由紀", "miyuki"), ("誠", "makoto"),
               ("裕子", "yuko"), ("大輔", "daisuke"), ("恵", "megumi"), ("聡", "satoshi"))
CHILD_NAMES = ("陽翔", "結衣", "蓮", "葵", "湊", "陽菜", "悠真", "凛")
FIELDS_PER_FARMER = 3
WEARERS_PER_CARE_MANAGER = 10


def _line_id(rng: random.Random) -> str:
    return "U" + "".join(rng.choice("0123456789abcdef") for _ in range(32))


def build_world_for(device_id: str, family: str, seed: int | str) -> dict[str, Any]:
    """The person (and relatives) around one device."""
    rng = random.Random(f"{seed}/{device_id}/people")
    sur, sur_r = rng.choice(SURNAMES)
    given, given_r = rng.choice(ADULT_NAMES)
    n = rng.randint(1, 99)
    relative = {"name": f"{sur} {given}", "email": f"{given_r}.{sur_r}{n}@example.jp",
                "line_user_id": _line_id(rng)}
    if family == Family.WEARABLE.value:
        return {"surname": sur, "subject": f"{sur} {rng.choice(ELDER_NAMES)}",
                "family": relative}
    if family == Family.CHILD_TAG.value:
        return {"surname": sur, "subject": f"{sur} {rng.choice(CHILD_NAMES)}",
                "family": relative}
    return {"surname": sur, "owner": relative}


Provision = Callable[[DeviceModel, int], tuple[dict[str, Any], dict[str, str]]]


def register_world(registry: Registry, seed: int | str, models: list[DeviceModel],
                   provision: Provision | None = None) -> int:
    """Write sites, people, relations and devices (with what their transport
    needs: DevAddr, keys, tokens — from ``provision``); returns the count."""
    welfare_added = False
    schools_added: set[str] = set()
    wearers = 0
    paddies = 0
    for index, m in enumerate(models):
        info = m.describe()
        params = info.get("params", {})
        lat, lon = info.get("lat"), info.get("lon")
        fam = m.family.value
        w = build_world_for(m.device_id, fam, seed)
        person_id = None
        if m.family is Family.WEARABLE:
            wearers += 1
            person_id = f"elder-{m.device_id}"
            registry.add_site(m.site, "household", f"{w['surname']}さん宅", lat, lon,
                              {"home": params.get("home"),
                               "safe_radius_m": params.get("safe_radius_m")})
            registry.add_person(person_id, "wearer", w["subject"], channels=[],
                                settings={"usual_wake": params.get("usual_wake"),
                                          "usual_bed": params.get("usual_bed")})
            fid = f"family-{m.device_id}"
            registry.add_person(fid, "family", w["family"]["name"], email=w["family"]["email"],
                                line_user_id=w["family"]["line_user_id"],
                                channels=["line", "email"])
            registry.relate(fid, "family_member_of", "person", person_id, priority=1)
            cm = f"care-manager-{(wearers - 1) // WEARERS_PER_CARE_MANAGER + 1:02d}"
            registry.add_person(cm, "care_manager", f"ケアマネジャー {cm[-2:]}",
                                email=f"{cm}@example.jp", channels=["email"])
            registry.relate(cm, "care_manager_of", "person", person_id, priority=2)
            if not welfare_added:
                registry.add_person("welfare-tamaki", "welfare", "玉城町 福祉課",
                                    email="fukushi@example.jp", channels=["email"],
                                    quiet_hours=None)
                welfare_added = True
            registry.relate("welfare-tamaki", "welfare_for", "person", person_id, priority=3)
            name = f"見守りバンド（{w['subject']}）"
        elif m.family is Family.CHILD_TAG:
            person_id = f"child-{m.device_id}"
            if m.site not in schools_added:
                schools_added.add(m.site)
                sname, slat, slon = SCHOOLS[m.site]
                registry.add_site(m.site, "school", sname, slat, slon, {})
                staff = f"staff-{m.site}"
                registry.add_person(staff, "operator", f"{sname} 教頭",
                                    email=f"{m.site}@example.jp", channels=["email"],
                                    settings={"role": "school"})
                registry.relate(staff, "on_call_for", "site", m.site, priority=2)
            registry.add_person(person_id, "child", w["subject"], channels=[])
            gid = f"guardian-{m.device_id}"
            registry.add_person(gid, "family", w["family"]["name"], email=w["family"]["email"],
                                line_user_id=w["family"]["line_user_id"],
                                channels=["line", "email"])
            registry.relate(gid, "guardian_of", "person", person_id, priority=1)
            name = f"通学タグ（{w['subject']}）"
        elif isinstance(m, RainGauge):
            # the area's gauge stands at the edge of a field; fields nearby read its rain
            if registry.get_site(m.site) is None:
                registry.add_site(m.site, "field", f"雨量計 {m.device_id} 設置場所", lat, lon, {})
            name = f"雨量計 {m.device_id}"
        elif m.family is Family.PADDY:
            paddies += 1
            k = (paddies - 1) // FIELDS_PER_FARMER + 1
            farmer = f"farmer-{k:03d}"
            if (paddies - 1) % FIELDS_PER_FARMER == 0:
                registry.add_person(farmer, "farmer", w["owner"]["name"],
                                    email=w["owner"]["email"],
                                    line_user_id=w["owner"]["line_user_id"],
                                    channels=["line", "email"])
            registry.add_site(m.site, "field", f"水田 {m.device_id}", lat, lon, params)
            registry.relate(farmer, "farmer_of", "site", m.site, priority=1)
            name = f"水位センサー {m.device_id}"
        else:
            registry.add_site(m.site, "pipe_district", f"配水区 {m.device_id}", lat, lon, params)
            for prio in (1, 2):
                pid = f"public-works-oncall-{prio}"
                registry.add_person(pid, "public_works", f"上下水道課 当番{prio}",
                                    email=f"suido-oncall{prio}@example.jp",
                                    line_user_id=_line_id(random.Random(f"{seed}/{pid}")),
                                    channels=["line", "email"])
                registry.relate(pid, "on_call_for", "site", m.site, priority=prio)
            name = f"配水管モニター {m.device_id}"
        columns, secrets = provision(m, index) if provision else ({}, {})
        registry.add_device(m.device_id, m.profile, m.site, name, person_id=person_id,
                            lat=lat, lon=lon, params=params, **columns)
        if secrets:
            registry.set_device_secrets(m.device_id, secrets)
    return len(models)
