"""The REST API with bearer tokens: same access rules and audit as the pages."""

from __future__ import annotations

from dashboards.accounts import Accounts
from dashboards.demo_town import DEMO_PASSWORD


def bearer(client, user):
    r = client.post("/api/v1/token", data={"username": user, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_openapi_lists_the_resources(app_client):
    doc = app_client.get("/openapi.json").json()
    paths = set(doc["paths"])
    for p in ("/api/v1/devices", "/api/v1/sites", "/api/v1/people",
              "/api/v1/devices/{device_id}/latest", "/api/v1/devices/{device_id}/history",
              "/api/v1/alerts", "/api/v1/alerts/{alert_id}/ack",
              "/api/v1/alerts/{alert_id}/resolve", "/api/v1/people/{person_id}/preferences"):
        assert p in paths
    assert app_client.get("/docs").status_code == 200


def test_api_needs_a_token(app_client):
    assert app_client.get("/api/v1/people").status_code == 401
    assert app_client.post("/api/v1/token", data={"username": "hanako",
                                                  "password": "wrong-password"}).status_code == 401


def test_family_api_sees_only_their_people_and_is_audited(app_client, town):
    h = bearer(app_client, "hanako")
    people = app_client.get("/api/v1/people", headers=h).json()
    assert [p["person_id"] for p in people] == ["tanaka-kazuko"]
    assert people[0]["state"] == "check" and "alert_open" in people[0]["reasons"]
    assert app_client.get("/api/v1/people/sato-ichiro", headers=h).status_code == 404
    assert app_client.get("/api/v1/devices/wear-002/latest", headers=h).status_code == 404
    latest = app_client.get("/api/v1/devices/wear-001/latest", headers=h).json()
    assert 40 < latest["fields"]["heart_rate_bpm"] < 120
    loc = app_client.get("/api/v1/people/tanaka-kazuko/location", headers=h).json()
    assert abs(loc["lat"] - 34.4863) < 1e-6
    entries = Accounts(town.registry).audit_entries(username="hanako")
    assert ("denied", "sato-ichiro") in {(e.action, e.subject_id) for e in entries}
    assert {"health", "location"} <= {e.what for e in entries if e.subject_id == "tanaka-kazuko"}


def test_history_with_resolution(app_client):
    h = bearer(app_client, "taro")
    r = app_client.get("/api/v1/devices/paddy-001/history",
                       params={"fields": ["water_level_cm", "water_temp_c"],
                               "since_s": 7 * 86400, "resolution": "1h"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["resolution"] == "1h" and len(body["series"]["water_level_cm"]) >= 7 * 24 - 2
    raw = app_client.get("/api/v1/devices/paddy-001/history",
                         params={"fields": ["water_level_cm"], "since_s": 3 * 3600},
                         headers=h).json()
    assert raw["resolution"] == "raw" and 2 <= len(raw["series"]["water_level_cm"]) <= 4


def test_rain_totals_per_hour_and_what_is_refused(app_client):
    h = bearer(app_client, "taro")
    body = app_client.get("/api/v1/devices/rain-001/totals",
                          params={"field": "rain_mm", "since_s": 7 * 86400}, headers=h).json()
    assert body["every"] == "1h" and len(body["totals"]) >= 7 * 24 - 2
    hourly = sum(v for _, v in body["totals"])
    ten = app_client.get("/api/v1/devices/rain-001/totals",
                         params={"field": "rain_mm", "since_s": 7 * 86400, "every": "10m"},
                         headers=h).json()["totals"]
    assert len(ten) >= 6 * len(body["totals"]) - 12 and hourly >= 5.0
    assert abs(sum(v for _, v in ten) - hourly) < 1e-6  # the same rain, finer
    bad = app_client.get("/api/v1/devices/rain-001/totals",
                         params={"field": "rain_mm) FROM x"}, headers=h)
    assert bad.status_code == 422
    assert app_client.get("/api/v1/devices/rain-001/totals", params={"field": "rain_mm"},
                          headers=bearer(app_client, "hanako")).status_code == 404


def test_alerts_ack_and_resolve_by_role(app_client):
    fam = bearer(app_client, "hanako")
    mine = app_client.get("/api/v1/alerts?state=open", headers=fam).json()
    assert [a["kind"] for a in mine] == ["fall"]
    a = app_client.post(f"/api/v1/alerts/{mine[0]['alert_id']}/ack", headers=fam).json()
    assert a["state"] == "acknowledged" and a["acked_by"] == "hanako"
    assert app_client.post(f"/api/v1/alerts/{mine[0]['alert_id']}/resolve",
                           headers=fam).status_code == 403
    pw = bearer(app_client, "suido")
    leaks = app_client.get("/api/v1/alerts?state=active", headers=pw).json()
    assert {x["kind"] for x in leaks} == {"leak"}
    assert app_client.post(f"/api/v1/alerts/{mine[0]['alert_id']}/ack",
                           headers=pw).status_code == 404  # not theirs
    r = app_client.post(f"/api/v1/alerts/{leaks[0]['alert_id']}/resolve", headers=pw).json()
    assert r["state"] == "resolved"


def test_cookie_session_needs_csrf_header_to_change_things(app_client):
    from .conftest import csrf_of, login

    login(app_client, "hanako")
    csrf = csrf_of(app_client.get("/family").text)
    alerts = app_client.get("/api/v1/alerts?state=open").json()
    aid = alerts[0]["alert_id"]
    assert app_client.post(f"/api/v1/alerts/{aid}/ack").status_code == 403
    assert app_client.post(f"/api/v1/alerts/{aid}/ack",
                           headers={"X-CSRF-Token": csrf}).status_code == 200


def test_preferences_own_only_with_plain_errors(app_client, town):
    h = bearer(app_client, "hanako")
    r = app_client.put("/api/v1/people/tanaka-hanako/preferences", headers=h,
                       json={"channels": ["email", "phone"], "language": "en",
                             "quiet_hours": ["22:00", "07:00"]})
    assert r.status_code == 200 and r.json()["quiet_hours"] == ["22:00", "07:00"]
    bad = app_client.put("/api/v1/people/tanaka-hanako/preferences", headers=h,
                         json={"channels": [], "language": "ja", "quiet_hours": ["25:00", "7"]})
    assert bad.status_code == 422 and "channels" in bad.json()["detail"]
    assert app_client.get("/api/v1/people/sato-jiro/preferences", headers=h).status_code == 404
