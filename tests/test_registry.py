import pytest

from mimamori.registry import DeviceCache, Registry, RegistryError


@pytest.fixture
def reg(tmp_path, monkeypatch):
    monkeypatch.delenv("MIMAMORI_SECRET_KEY", raising=False)
    return Registry(f"sqlite:///{tmp_path / 'r.db'}")


def test_watchers_follow_relations_in_priority_order(reg):
    reg.add_person("grandma", "wearer", "玉城 花子")
    reg.add_person("son", "family", "玉城 一郎", email="ichiro@example.jp", language="ja")
    reg.add_person("daughter", "family", email="d@example.jp", language="en")
    reg.add_person("cm", "care_manager")
    reg.add_site("home-1", "household", "玉城 花子さん宅")
    reg.add_device("wear-1", "wearable_v1", "home-1", person_id="grandma", dev_eui="70b3d57ed0000001")
    reg.relate("daughter", "family_member_of", "person", "grandma", priority=2)
    reg.relate("son", "family_member_of", "person", "grandma", priority=1)
    reg.relate("cm", "care_manager_of", "person", "grandma", priority=3)
    assert [p.person_id for _, p in reg.watchers("wear-1")] == ["son", "daughter", "cm"]
    assert reg.get_person("daughter").language == "en"
    with pytest.raises(RegistryError):
        reg.relate("son", "friend_of", "person", "grandma")


def test_secrets_are_encrypted_at_rest(reg, tmp_path):
    reg.add_device("lora-1", "paddy_lpp", "field-1", dev_addr="26011bda")
    reg.set_device_secrets("lora-1", {"app_s_key": "00112233445566778899aabbccddeeff"})
    raw = (tmp_path / "r.db").read_bytes()
    assert b"00112233445566778899aabbccddeeff" not in raw
    assert reg.device_secrets("lora-1")["app_s_key"] == "00112233445566778899aabbccddeeff"
    # another process with the same key file reads them
    assert Registry(reg.url).device_secrets("lora-1") == reg.device_secrets("lora-1")


def test_change_counter_refreshes_caches_in_other_processes(reg):
    other = Registry(reg.url)  # e.g. the gateway's process
    cache = DeviceCache(other, check_s=0.0)
    assert cache.get("d") is None
    reg.add_device("d", "paddy_json_v1", "f", params={"mount_height_cm": 120})
    assert cache.get("d").params == {"mount_height_cm": 120}
