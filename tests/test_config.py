import pytest

from mimamori.config import ConfigError, load_settings


def test_toml_then_environment_override(tmp_path, monkeypatch):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[influx]\ndatabase = "town"\nurl = "http://10.0.0.5:8086"\n'
                   '[bus]\npartitions = 4\n')
    monkeypatch.setenv("MIMAMORI_BUS__PARTITIONS", "8")
    s = load_settings(cfg)
    assert s.influx.database == "town" and s.influx.port == 8086
    assert s.bus.partitions == 8  # environment beats the file


def test_defaults_work_on_a_laptop(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.mqtt.host == "127.0.0.1" and s.influx.host == "127.0.0.1"
    assert s.registry.startswith("sqlite:///")


@pytest.mark.parametrize("toml,where", [
    ('[bus]\npartitions = 0\n', "bus.partitions"),
    ('[influx]\ndatabase = "a b"\n', "influx.database"),
    ('[mqtt]\nbogus = 1\n', "mqtt.bogus"),
    ('[mqtt\n', "cannot read"),
])
def test_invalid_configuration_names_the_place(tmp_path, toml, where):
    cfg = tmp_path / "m.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_settings(cfg)
