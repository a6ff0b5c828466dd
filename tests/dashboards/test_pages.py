"""The pages over HTTP (no browser): login, family state and acknowledge,
object-level access with the audit log, farmer and public-works pages."""

from __future__ import annotations

from .conftest import csrf_of, login


def test_login_sets_secure_httponly_cookie_and_lands_on_role_page(app_client):
    r = login(app_client, "hanako")
    assert r.status_code == 303 and r.headers["location"] == "/family"
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("mimamori_session=")][0]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_wrong_password_is_refused_in_plain_words(app_client):
    r = login(app_client, "hanako", "not the password")
    assert r.status_code == 401 and "ユーザー名かパスワードが違います" in r.text
    assert "mimamori_session" not in app_client.cookies


def test_pages_need_login(app_client):
    r = app_client.get("/family", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_family_sees_state_and_acknowledges_alert(app_client, town):
    login(app_client, "hanako")
    page = app_client.get("/family")
    assert page.status_code == 200
    assert "田中 和子" in page.text and "確認してください" in page.text  # open fall alert
    assert "佐藤 一郎" not in page.text  # another family's person
    alert_id = int(page.text.split('action="/alerts/')[1].split("/")[0])
    r = app_client.post(f"/alerts/{alert_id}/ack",
                        data={"csrf_token": csrf_of(page.text), "back": "/family"},
                        follow_redirects=False)
    assert r.status_code == 303
    again = app_client.get("/family")
    assert "確認済み: hanako" in again.text
    assert "元気です" in again.text  # the only alert is seen; the wearer reports fine


def test_acknowledge_without_csrf_token_is_refused(app_client):
    login(app_client, "hanako")
    page = app_client.get("/family")
    alert_id = int(page.text.split('action="/alerts/')[1].split("/")[0])
    r = app_client.post(f"/alerts/{alert_id}/ack", data={"csrf_token": "forged"},
                        follow_redirects=False)
    assert r.status_code == 403
    assert "確認済み" not in app_client.get("/family").text


def test_other_familys_person_is_not_found_and_audited(app_client, town):
    from dashboards.accounts import Accounts

    login(app_client, "hanako")
    r = app_client.get("/people/sato-ichiro")
    assert r.status_code == 404 and "佐藤" not in r.text
    assert app_client.get("/people/nobody-at-all").status_code == 404
    denied = Accounts(town.registry).audit_entries(username="hanako", outcome="denied")
    assert {(e.subject_kind, e.subject_id) for e in denied} >= {("person", "sato-ichiro"),
                                                                ("person", "nobody-at-all")}


def test_person_page_shows_health_and_guardian_sees_location_audited(app_client, town):
    from dashboards.accounts import Accounts

    login(app_client, "mai")
    r = app_client.get("/people/suzuki-ren")
    assert r.status_code == 200 and 'id="location-map"' in r.text and "田丸小学校" in r.text
    whats = {e.what for e in Accounts(town.registry).audit_entries(username="mai",
                                                                   subject_id="suzuki-ren")}
    assert {"health", "location"} <= whats


def test_farmer_sees_water_chart_and_not_people(app_client):
    login(app_client, "taro")
    r = app_client.get("/fields/field-higashi")
    assert r.status_code == 200
    assert 'id="chart-level"' in r.text and "<polyline" in r.text and "冬期湛水" in r.text
    assert app_client.get("/people/tanaka-kazuko").status_code == 404
    assert app_client.get("/family").status_code == 403


def test_public_works_sees_districts_and_leak(app_client):
    login(app_client, "suido")
    r = app_client.get("/public-works")
    assert r.status_code == 200 and 'id="districts-map"' in r.text
    assert "漏水のおそれ" in r.text and "警報あり" in r.text
    d = app_client.get("/districts/district-east")
    assert d.status_code == 200 and 'id="chart-mnf"' in d.text


def test_english_switch(app_client):
    login(app_client, "hanako")
    r = app_client.get("/family?lang=en")
    assert '<html lang="en">' in r.text and "People you watch over" in r.text
    assert '<html lang="en">' in app_client.get("/family").text  # remembered


def test_live_updates_stream_state(app_client):
    login(app_client, "hanako")
    with app_client.stream("GET", "/events?once=true") as r:
        body = "".join(r.iter_text())
    assert "event: update" in body and "state-tanaka-kazuko" in body


def test_settings_forms_explain_errors_and_save(app_client, town):
    from mimamori.registry import Registry

    login(app_client, "hanako")
    page = app_client.get("/settings")
    csrf = csrf_of(page.text)
    bad = app_client.post("/settings", data={"csrf_token": csrf, "channels": ["email"],
                                             "language": "ja", "quiet_from": "22:00",
                                             "quiet_to": "7時"})
    assert bad.status_code == 422 and "時:分 で書いてください" in bad.text
    assert 'aria-invalid="true"' in bad.text
    ok = app_client.post("/settings", data={"csrf_token": csrf, "channels": ["email", "phone"],
                                            "language": "ja", "quiet_from": "22:00",
                                            "quiet_to": "07:00"})
    assert ok.status_code == 200 and "保存しました" in ok.text
    assert Registry(town.registry).get_person("tanaka-hanako").quiet_hours == ["22:00", "07:00"]
    bad = app_client.post("/settings/people/tanaka-kazuko",
                          data={"csrf_token": csrf, "radius_m": "10", "wake": "06:30",
                                "sleep": "21:30"})
    assert bad.status_code == 422 and "50 から 5000" in bad.text
    ok = app_client.post("/settings/people/tanaka-kazuko",
                         data={"csrf_token": csrf, "radius_m": "400", "wake": "06:00",
                               "sleep": "21:00"})
    assert ok.status_code == 200
    kazuko = Registry(town.registry).get_person("tanaka-kazuko")
    assert kazuko.settings["safe_zone"]["radius_m"] == 400
    assert kazuko.settings["waking_hours"] == ["06:00", "21:00"]
    assert app_client.get("/settings/people/sato-ichiro").status_code == 404


def test_child_route_and_crop_calendar_forms(app_client, town):
    from mimamori.registry import Registry

    login(app_client, "mai")
    csrf = csrf_of(app_client.get("/settings").text)
    bad = app_client.post("/settings/people/suzuki-ren",
                          data={"csrf_token": csrf, "route": "34.487, 136.625\nhere",
                                "arrive_school_by": "08:15", "arrive_home_by": "16:30"})
    assert bad.status_code == 422 and "2 行目" in bad.text
    ok = app_client.post("/settings/people/suzuki-ren",
                         data={"csrf_token": csrf, "route": "34.487, 136.625\n34.4889, 136.6335",
                               "arrive_school_by": "08:10", "arrive_home_by": "16:30"})
    assert ok.status_code == 200
    assert Registry(town.registry).get_person("suzuki-ren").settings["route"][1] == [34.4889,
                                                                                  136.6335]
    app_client.post("/logout", data={"csrf_token": csrf})
    login(app_client, "taro")
    csrf = csrf_of(app_client.get("/settings").text)
    bad = app_client.post("/settings/fields/field-higashi",
                          data={"csrf_token": csrf, "calendar": "heading, 07-11, 08-05, 9, 5"},
                          headers={"accept-language": "en"})
    assert bad.status_code == 422 and "1 行目" in bad.text
    ok = app_client.post("/settings/fields/field-higashi",
                         data={"csrf_token": csrf,
                               "calendar": "winter_flooding, 11-01, 02-28, 3, 8"})
    assert ok.status_code == 200
    cal = Registry(town.registry).get_site("field-higashi").settings["crop_calendar"]
    assert cal == [{"stage": "winter_flooding", "from": "11-01", "to": "02-28", "min_cm": 3.0,
                    "max_cm": 8.0}]


def test_admin_adds_and_imports_devices(app_client, town):
    from mimamori.registry import Registry

    login(app_client, "admin")
    page = app_client.get("/admin")
    assert page.status_code == 200 and "wm-east" in page.text
    csrf = csrf_of(page.text)
    bad = app_client.post("/admin/devices", data={"csrf_token": csrf, "device_id": "x y",
                                                  "profile": "nope", "site": ""})
    assert bad.status_code == 422 and "知らない種類です" in bad.text
    ok = app_client.post("/admin/devices", data={"csrf_token": csrf, "device_id": "paddy-009",
                                                 "profile": "paddy_json_v1", "site": "field-higashi",
                                                 "name": "new"})
    assert ok.status_code == 200 and Registry(town.registry).get_device("paddy-009")
    csv_bad = "device_id,profile,site\nwm-9,water_main_v1,district-east\nwm-10,water_main_v1,nowhere\n"
    r = app_client.post("/admin/devices/import", data={"csrf_token": csrf},
                        files={"file": ("d.csv", csv_bad.encode(), "text/csv")})
    assert r.status_code == 422 and "3: 登録されていない場所です: nowhere" in r.text
    assert Registry(town.registry).get_device("wm-9") is None  # all or nothing
    csv_ok = "device_id,profile,site,name\nwm-9,water_main_v1,district-east,東 2\n"
    r = app_client.post("/admin/devices/import", data={"csrf_token": csrf},
                        files={"file": ("d.csv", csv_ok.encode(), "text/csv")})
    assert r.status_code == 200 and Registry(town.registry).get_device("wm-9").name == "東 2"
    login(app_client, "hanako")
    assert app_client.get("/admin").status_code == 403


def test_world_accounts_follow_the_simulated_people(settings, cheap_password_hashing):
    from dashboards.access import scope_for
    from dashboards.accounts import Accounts
    from dashboards.demo_town import link_world_accounts
    from mimamori.registry import Registry

    reg, acc = Registry(settings.registry), Accounts(settings.registry)
    assert link_world_accounts(reg, acc) == []  # no simulated world yet
    reg.add_person("elder-w1", "wearer", "佐藤 ハナ")
    reg.add_person("family-w1", "family", "佐藤 健一")
    reg.relate("family-w1", "family_member_of", "person", "elder-w1")
    reg.add_person("farmer-001", "farmer", "山本 誠")
    assert link_world_accounts(reg, acc) == ["world-family", "world-farmer"]
    scope = scope_for(acc.get_user("world-family"), reg)
    assert scope.can_person("elder-w1") and not scope.can_person("farmer-001")


def test_field_page_shows_the_areas_rain_with_level_and_temperature(app_client, town):
    """Rain from the area's gauge: on 東の田 itself, and 2号田 ~0.3 km away
    reads the same gauge; hourly bars in the level chart, the numbers in a
    day-by-day table that agrees with what InfluxDB holds."""
    import re
    import time
    from datetime import datetime

    from dashboards.svg import JST
    from ingest.query import ReadingsQuery

    login(app_client, "taro")
    here = app_client.get("/fields/field-higashi").text
    away = app_client.get("/fields/field-kawazoi").text
    assert "雨量計 (東の田のあぜ) (この田んぼ)" in here
    assert re.search(r"雨量計 \(東の田のあぜ\) \(0\.[1-9] km 先\)", away)
    q = ReadingsQuery(town)
    try:
        end = time.time_ns()
        hourly = q.totals("rain-001", "paddy", end - 7 * 86400 * 10**9, end, "rain_mm")
    finally:
        q.close()
    assert sum(v for _, v in hourly) >= 5.0  # the demo town's week had rain
    for page in (here, away):
        chart = page.split('id="chart-level"')[1].split("</svg>")[0]
        assert "雨量" in chart and "mm/h" in chart
        bars = chart.count('class="bar"')
        assert abs(bars - len(hourly)) <= 1 and bars >= 7 * 24 - 2
        table = page.split('id="days-')[1].split("</table>")[0]
        rows = re.findall(r'<th scope="row"><time datetime="(\d{4}-\d\d-\d\d)">\d\d/\d\d</time>'
                          r'</th><td>([\d.]+|—)</td>', table)
        assert len(rows) in (7, 8)  # today and the days back to a week ago
        by_day: dict[str, float] = {}
        for ts, v in hourly:
            d = datetime.fromtimestamp(ts / 1e9, JST).strftime("%Y-%m-%d")
            by_day[d] = by_day.get(d, 0.0) + v
        inner = [(d, v) for d, v in rows][1:-1]  # whole days: not cut by the window's edges
        assert inner and all(float(v) == round(by_day[d], 1) for d, v in inner)
        assert 'id="chart-temp"' in page and "<polyline" in page.split('id="chart-temp"')[1]
    farmer = app_client.get("/farmer").text
    assert farmer.count('class="bar"') >= 2 * (7 * 24 - 2) and 'id="rain-field-kawazoi"' in farmer
