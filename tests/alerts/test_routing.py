"""The routing tree as a table: label sets → (policy, receivers, quiet-hours
override, fan-out). Children inherit what they leave unset."""

from __future__ import annotations

import pytest

from alerts.config import AlertsConfig
from alerts.routing import Route, default_route

TREE = Route(name="root", policy="default", receivers=["mqtt"], routes=[
    Route(name="gw", match={"kind": "gateway_offline"}, policy="operator", receivers=["ops"]),
    Route(name="crit", match={"severity": "critical"}, override_quiet=True, fanout="all", routes=[
        Route(name="fall", match={"kind": ["fall", "sos"]}, policy="fall"),
        Route(name="pipe", match={"family": "water_main"}, policy="public_works",
              receivers=["mqtt", "town"]),
    ]),
    Route(name="school", match={"site_kind": "school"}, receivers=["school"], continue_=True),
    Route(name="child", match={"family": "child_tag"}, policy="child"),
])

CASES = [
    ({"kind": "fall", "severity": "critical", "family": "wearable"},
     [("fall", ("mqtt",), True, "all", "root/crit/fall")]),
    ({"kind": "burst", "severity": "critical", "family": "water_main"},
     [("public_works", ("mqtt", "town"), True, "all", "root/crit/pipe")]),
    # critical but no child matches: the critical node itself, inheriting the root's policy
    ({"kind": "heat_risk", "severity": "critical", "family": "paddy"},
     [("default", ("mqtt",), True, "all", "root/crit")]),
    ({"kind": "water_low", "severity": "warning", "family": "paddy"},
     [("default", ("mqtt",), False, "first", "root")]),
    ({"kind": "gateway_offline", "severity": "critical"},
     [("operator", ("ops",), False, "first", "root/gw")]),
    # continue: the school route matches and the child route is tried too
    ({"kind": "late_arrival", "severity": "warning", "family": "child_tag", "site_kind": "school"},
     [("default", ("school",), False, "first", "root/school"),
      ("child", ("mqtt",), False, "first", "root/child")]),
]


@pytest.mark.parametrize("labels,expected", CASES)
def test_route_table(labels, expected):
    got = [(r.policy, r.receivers, r.override_quiet, r.fanout, r.path) for r in TREE.resolve(labels)]
    assert got == expected


@pytest.mark.parametrize("labels,policy", [
    ({"kind": "fall", "severity": "critical", "family": "wearable"}, "fall"),
    ({"kind": "sos", "severity": "critical", "family": "child_tag"}, "fall"),
    ({"kind": "gateway_offline", "severity": "warning"}, "operator"),
    ({"kind": "leak", "severity": "warning", "family": "water_main"}, "public_works"),
    ({"kind": "water_low", "severity": "warning", "family": "paddy"}, "farmer"),
    ({"kind": "inactivity", "severity": "warning", "family": "wearable"}, "default"),
])
def test_default_tree(labels, policy):
    assert default_route().resolve(labels)[0].policy == policy


def test_tree_from_toml_shape_is_checked():
    cfg = AlertsConfig(route={"policy": "default", "routes": [
        {"match": {"kind": "fall"}, "policy": "fall", "continue": True}]})
    assert cfg.route.routes[0].continue_ is True
    with pytest.raises(ValueError, match="unknown policy"):
        AlertsConfig(route={"policy": "nope"})
    with pytest.raises(ValueError, match="unknown receiver"):
        AlertsConfig(route={"receivers": ["nowhere"]})


def test_alerts_config_comes_from_the_setting_then_the_state_dir(tmp_path, monkeypatch):
    """``alerts_config`` (also ``$MIMAMORI_ALERTS_CONFIG``) names the file;
    without it ``{state_dir}/alerts.toml`` is read when present; a bad file is
    refused when loaded."""
    from alerts.config import load_alerts_config
    from mimamori.config import load_settings

    assert load_alerts_config(load_settings(state_dir=tmp_path)).flap_window_s == 300
    (tmp_path / "alerts.toml").write_text("flap_window_s = 60\n")
    assert load_alerts_config(load_settings(state_dir=tmp_path)).flap_window_s == 60
    named = tmp_path / "named.toml"
    named.write_text('flap_window_s = 30\nlatch_kinds = ["sos"]\n')
    monkeypatch.setenv("MIMAMORI_ALERTS_CONFIG", str(named))
    cfg = load_alerts_config(load_settings(state_dir=tmp_path))
    assert cfg.flap_window_s == 30 and cfg.latch_kinds == ["sos"]
    named.write_text("no_such_key = 1\n")
    with pytest.raises(ValueError, match="no_such_key"):
        load_alerts_config(load_settings(state_dir=tmp_path))
