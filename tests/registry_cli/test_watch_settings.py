"""Detector settings per person and place: defaults from DOMAIN.md,
validated on write, and the calendar logic detectors use."""

from datetime import date

import pytest

from mimamori.registry import Registry, RegistryError
from mimamori.watch_settings import (
    ChildSettings,
    FieldSettings,
    SchoolCalendar,
    SettingsError,
    effective_settings,
    validate_settings,
)


@pytest.mark.parametrize(("day", "stage"), [
    (date(2026, 4, 20), None),
    (date(2026, 5, 1), "transplant"),
    (date(2026, 5, 20), "tillering"),
    (date(2026, 6, 10), "nakaboshi"),
    (date(2026, 6, 15), "nakaboshi"),
    (date(2026, 6, 16), "panicle"),
    (date(2026, 7, 22), "heading"),
    (date(2026, 8, 1), "grain_filling"),
    (date(2026, 8, 20), "drained"),
])
def test_crop_stage_by_date_with_mie_defaults(day, stage):
    f = FieldSettings()
    assert f.stage_on(day) == stage
    if stage == "heading":
        assert (f.band_on(day).low, f.band_on(day).high) == (5.0, 10.0)


def test_school_calendar():
    cal = SchoolCalendar(holidays=[date(2026, 5, 4)], breaks=[(date(2026, 7, 20),
                                                              date(2026, 8, 31))])
    assert cal.is_school_day(date(2026, 5, 11))  # Monday
    assert not cal.is_school_day(date(2026, 5, 9))  # Saturday
    assert not cal.is_school_day(date(2026, 5, 4))  # holiday
    assert not cal.is_school_day(date(2026, 8, 3))  # summer break


def test_defaults_and_validation_messages():
    eff = effective_settings("person", "child", {})
    assert (eff["corridor_m"], eff["late_after_min"], eff["home_late_after_min"]) == (50, 15, 30)
    eff = effective_settings("site", "pipe_district", None)
    assert (eff["pressure_min_mpa"], eff["pressure_max_mpa"]) == (0.15, 0.74)
    with pytest.raises(SettingsError, match="field settings: water_band_cm: .*unknown stage"):
        validate_settings("site", "field", {"water_band_cm": {"ripening": {"low": 0, "high": 1}}})
    with pytest.raises(SettingsError, match="child settings: nickname: Extra inputs"):
        validate_settings("person", "child", {"nickname": "taro"})
    assert validate_settings("person", "family", {"anything": 1}) == {"anything": 1}
    assert ChildSettings.model_validate({"route": []}).route == []


def test_registry_validates_settings_on_write(tmp_path, monkeypatch):
    monkeypatch.delenv("MIMAMORI_SECRET_KEY", raising=False)
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}")
    reg.add_site("f-1", "field")
    v = reg.version()
    reg.set_site_settings("f-1", {"weir_height_cm": 10})
    assert reg.get_site("f-1").settings == {"weir_height_cm": 10.0}
    assert reg.version() > v  # caches in other processes notice
    with pytest.raises(RegistryError, match="site f-1: field settings: weir_height_cm"):
        reg.set_site_settings("f-1", {"weir_height_cm": -1})
    assert reg.get_site("f-1").settings == {"weir_height_cm": 10.0}
    with pytest.raises(RegistryError, match="person ghost is not registered"):
        reg.set_person_settings("ghost", {})
