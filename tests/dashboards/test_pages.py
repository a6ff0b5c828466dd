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
    r = app_client.get("/fields/field-001")
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
