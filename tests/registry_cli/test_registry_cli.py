"""``mimamori devices|people|sites`` against a real SQLite registry."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mimamori import cli as cli_module
from mimamori.registry import Registry

KEY = "00112233445566778899aabbccddeeff"


@pytest.fixture
def mm(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMAMORI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("MIMAMORI_SECRET_KEY", raising=False)
    monkeypatch.delenv("MIMAMORI_REGISTRY_URL", raising=False)
    runner = CliRunner()

    def run(*args, env=None, ok=True):
        cli_module._state.clear()
        r = runner.invoke(cli_module.app, list(args), env=env)
        out = r.stdout + (r.stderr if r.stderr_bytes is not None else "")
        if ok:
            assert r.exit_code == 0, out
        else:
            assert r.exit_code == 1, out
        return out

    run.registry = lambda: Registry(f"sqlite:///{tmp_path / 'state' / 'registry.db'}")
    return run


def test_device_lifecycle_and_keys_never_shown(mm, tmp_path):
    mm("sites", "add", "field-01", "--kind", "field", "--lat", "34.48", "--lon", "136.6")
    out = mm("devices", "add", "us-1", "--profile", "ultrasonic_paddy_v1", "--site", "field-01",
             "--param", "mount_height_cm=120", "--dev-eui", "70B3D57ED0000001",
             env={"MIMAMORI_APP_KEY": KEY})
    assert KEY not in out
    show = mm("devices", "show", "us-1", "--json")
    doc = json.loads(show)
    assert doc["dev_eui"] == "70b3d57ed0000001" and doc["params"] == {"mount_height_cm": 120}
    assert doc["secrets"] == ["app_key"] and KEY not in show
    assert mm.registry().device_secrets("us-1") == {"app_key": KEY}
    assert KEY not in (tmp_path / "state" / "registry.db").read_bytes().decode("latin-1")
    export = mm("devices", "export", "-")
    assert "us-1,ultrasonic_paddy_v1,field-01" in export and KEY not in export
    assert "us-1" in mm("devices", "list")
    mm("devices", "remove", "us-1")
    assert mm("devices", "remove", "us-1", ok=False).count("not registered") == 1


def test_device_add_refuses_with_a_reason(mm):
    out = mm("devices", "add", "us-2", "--profile", "ultrasonic_paddy_v1", ok=False)
    assert "needs the device parameter mount_height_cm" in out
    out = mm("devices", "add", "x-1", "--profile", "nope_v1", ok=False)
    assert "unknown profile 'nope_v1'" in out
    out = mm("devices", "add", "x-1", "--profile", "paddy_v1", "--dev-eui", "123", ok=False)
    assert "dev_eui must be 16 hex digits" in out
    out = mm("devices", "add", "x-1", "--profile", "paddy_v1", "--app-key", "not-a-key-secret",
             ok=False)
    assert "app_key must be 32 hex digits" in out and "not-a-key-secret" not in out
    out = mm("devices", "add", "bad id!", "--profile", "paddy_v1", ok=False)
    assert "device_id" in out


def test_csv_round_trip_and_all_or_nothing_import(mm, tmp_path):
    good = tmp_path / "devices.csv"
    good.write_text(
        "device_id,profile,site,name,person_id,dev_eui,dev_addr,join_eui,mqtt_username,params,"
        "lat,lon,app_s_key,nwk_s_key\n"
        f"paddy-1,paddy_v1,field-01,田んぼ1,,,26011bda,,,,34.49,136.61,{KEY},{KEY[::-1]}\n"
        'us-1,ultrasonic_paddy_v1,field-02,,,,,,,"{""mount_height_cm"": 130}",,,,\n'
        "wear-1,wearable_json_v1,home-1,,grandma,,,,wear-1,,,,,\n", encoding="utf-8")
    assert "imported 3 device(s)" in mm("devices", "import", str(good))
    reg = mm.registry()
    assert reg.get_device("us-1").params == {"mount_height_cm": 130}
    assert reg.get_device("paddy-1").name == "田んぼ1"
    assert reg.device_secrets("paddy-1")["app_s_key"] == KEY
    out = tmp_path / "out.csv"
    mm("devices", "export", str(out))
    text = out.read_text(encoding="utf-8")
    assert KEY not in text and "26011bda" in text
    # an exported file imports again unchanged
    before = [d for d in reg.devices()]
    mm("devices", "import", str(out))
    assert mm.registry().devices() == before

    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,profile,dev_eui\nok-1,paddy_v1,\nbad-1,paddy_v1,xyz\n"
                   "bad-2,nope_v1,\n", encoding="utf-8")
    out = mm("devices", "import", str(bad), ok=False)
    assert "bad.csv line 3: dev_eui: dev_eui must be 16 hex digits" in out
    assert "bad.csv line 4: unknown profile 'nope_v1'" in out
    assert "nothing imported" in out
    assert mm.registry().get_device("ok-1") is None


def test_people_relations_and_validated_settings(mm, tmp_path):
    mm("people", "add", "grandma", "--kind", "wearer", "--name", "玉城 花子")
    mm("people", "add", "son", "--kind", "family", "--email", "ichiro@example.jp",
       "--channels", "email,line", "--quiet-hours", "22:00-07:00")
    mm("people", "relate", "son", "family_member_of", "--to-person", "grandma")
    doc = json.loads(mm("people", "show", "grandma", "--json"))
    assert doc["watched_by"][0]["person_id"] == "son"
    eff = json.loads(mm("people", "settings", "grandma"))
    assert eff["waking_hours"] == ["06:00", "22:00"] and eff["inactivity_floor_h"] == 3.0
    eff = json.loads(mm("people", "settings", "grandma", "--set", 'waking_hours=["05:30","21:00"]',
                        "--set", 'safe_zones=[{"name":"home","lat":34.4885,"lon":136.634}]'))
    assert eff["waking_hours"] == ["05:30", "21:00"] and eff["safe_zones"][0]["radius_m"] == 50
    out = mm("people", "settings", "grandma", "--set", "waking_hours=[\"25:00\",\"21:00\"]",
             ok=False)
    assert "wearer settings: waking_hours.0" in out
    assert mm.registry().get_person("grandma").settings["waking_hours"] == ["05:30", "21:00"]
    out = mm("people", "relate", "son", "friend_of", "--to-person", "grandma", ok=False)
    assert "unknown relation" in out

    mm("people", "add", "taro", "--kind", "child", "--settings",
       '{"route": [[34.49, 136.62], [34.488, 136.634]], "school_arrival": "08:10"}')
    eff = json.loads(mm("people", "settings", "taro"))
    assert eff["corridor_m"] == 50 and eff["late_after_min"] == 15
    assert eff["calendar"]["school_days"] == [0, 1, 2, 3, 4]
    out = mm("people", "add", "jiro", "--kind", "child", "--settings",
             '{"route": [[34.49, 136.62]]}', ok=False)
    assert "route: a route needs at least two points" in out

    csv_out = mm("people", "export", "-")
    assert "son,family" in csv_out and "22:00-07:00" in csv_out
    path = tmp_path / "people.csv"
    path.write_text(csv_out, encoding="utf-8")
    mm("people", "remove", "son")
    mm("people", "import", str(path))
    assert mm.registry().get_person("son").quiet_hours == ["22:00", "07:00"]


def test_sites_settings_defaults_and_validation(mm):
    mm("sites", "add", "district-a", "--kind", "pipe_district", "--name", "田丸配水区")
    eff = json.loads(mm("sites", "settings", "district-a"))
    assert (eff["pressure_min_mpa"], eff["pressure_max_mpa"]) == (0.15, 0.74)
    out = mm("sites", "settings", "district-a", "--set", "normal_min_mpa=0.6", ok=False)
    assert "normal_min_mpa 0.6 must be below normal_max_mpa 0.5" in out
    mm("sites", "add", "field-01", "--kind", "field")
    eff = json.loads(mm("sites", "settings", "field-01", "--set", "water_band_cm.heading.low=6"))
    assert eff["water_band_cm"]["heading"] == {"low": 6.0, "high": 10.0}
    out = mm("sites", "settings", "field-01", "--set", "calendar.heading=05-02", ok=False)
    assert "comes after heading" in out or "heading (05-02)" in out
    out = mm("sites", "add", "x", "--kind", "castle", ok=False)
    assert "kind must be one of household, field, pipe_district, school" in out
    assert "district-a" in mm("sites", "export", "-")
