"""Detector settings come from one snapshot of the registry and follow its changes."""

from __future__ import annotations

from analytics.settings_ctx import RegistryCtx
from mimamori.registry import Registry


def test_ctx_merges_site_person_device_and_follows_registry_changes(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.add_site("home-1", "household", "家", lat=34.48, lon=136.63,
                 settings={"a": "site", "b": 1})
    reg.add_person("ume", "wearer", "ウメ", settings={"a": "person"})
    reg.add_device("w-1", "wearable_v1", "home-1", person_id="ume", params={"c": 3})
    ctx = RegistryCtx(reg, check_s=0.0)
    got = ctx("w-1", "home-1")
    assert got["a"] == "person" and got["b"] == 1 and got["c"] == 3
    assert got["home"] == [34.48, 136.63]
    assert ctx("unknown", "home-1")["a"] == "site"
    reg.add_person("ume", "wearer", "ウメ", settings={"a": "changed"})
    assert ctx("w-1", "home-1")["a"] == "changed"
    # a device added after the snapshot is found at once
    reg.add_device("w-2", "wearable_v1", "home-1", params={"c": 4})
    assert RegistryCtx(reg)("w-2", "home-1")["c"] == 4
    # right after a snapshot (no new look for 0.2 s), a device added meanwhile
    # is still seen with its own settings and its person's
    slow = RegistryCtx(reg, check_s=3600)
    slow.refresh()
    reg.add_person("kiku", "wearer", "キク", settings={"a": "kiku"})
    reg.add_device("w-3", "wearable_v1", "home-1", person_id="kiku", params={"c": 5})
    got = slow("w-3", "home-1")
    assert got["c"] == 5 and got["a"] == "kiku"
