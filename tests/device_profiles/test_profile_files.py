"""A profile file that is wrong is refused at load time, with the file and
the problem named; codec settings are checked then, not at the first uplink."""

from __future__ import annotations

import textwrap

import pytest

from device_profiles import ProfileError, load_profiles
from device_profiles.profile import load_profile

BASE = """
id: test_v1
family: paddy
interval_s: 600
measurement: paddy
fields:
  water_level_cm: {unit: cm, min: -10, max: 60}
  battery_pct: {unit: "%", min: 0, max: 100}
"""


def _write(tmp_path, codec: str, extra: str = ""):
    path = tmp_path / "test_v1.yaml"
    path.write_text(BASE + textwrap.dedent(codec) + textwrap.dedent(extra), encoding="utf-8")
    return path


@pytest.mark.parametrize(("codec", "message"), [
    ("codec: {kind: morse}", "unknown codec kind 'morse'"),
    ("""
     codec:
       kind: binary
       layouts:
         1: {fields: [{name: depth, at: 0, type: u8}]}
     """, "'depth' is neither a profile field nor a derive source"),
    ("""
     codec:
       kind: binary
       layouts:
         1: {fields: [{name: battery_pct, at: 0, type: u9}]}
     """, "codec binary: layouts.1.fields.0.type: Input should be"),
    ("""
     codec:
       kind: binary
       default_fport: 2
       layouts:
         1: {fields: [{name: battery_pct, at: 0, type: u8}]}
     """, "default_fport 2 has no layout"),
    ("""
     codec:
       kind: binary
       layouts:
         1: {length: 1, fields: [{name: battery_pct, at: 1, type: u16}]}
     """, "length 1 < end of last field 3"),
    ("""
     codec:
       kind: binary
       layouts:
         1: {fields: [{name: battery_pct, at: 0, type: f32, bit: 1}]}
     """, "bit fields need an integer type"),
    ("""
     codec: {kind: cayenne_lpp, map: {1/sonar: battery_pct}}
     """, "unknown LPP type 'sonar'"),
    ("""
     codec: {kind: js, file: missing.js}
     """, "codec file missing.js"),
    ("""
     codec:
       kind: binary
       layouts:
         1: {fields: [{name: d, at: 0, type: u16}]}
     derive:
       - {kind: height_minus, source: d, param: mount_cm, field: water_level_cm}
     """, "parameter 'mount_cm' is not declared"),
])
def test_bad_profiles_are_refused_with_a_reason(tmp_path, codec, message):
    with pytest.raises(ProfileError, match="test_v1.yaml") as exc:
        load_profile(_write(tmp_path, codec))
    assert message in str(exc.value)


def test_a_broken_js_codec_file_is_refused(tmp_path):
    (tmp_path / "c.js").write_text("function decodeUplink(input) { return {", encoding="utf-8")
    with pytest.raises(ProfileError, match="c.js: cannot load: JavaScript error: SyntaxError"):
        load_profile(_write(tmp_path, "codec: {kind: js, file: c.js}"))


def test_extra_profile_folders_and_duplicate_ids(tmp_path):
    _write(tmp_path, """
     codec:
       kind: binary
       endian: little
       layouts:
         7: {allow_trailing: true, fields: [{name: water_level_cm, at: 0, type: i16, scale: 0.1},
                                           {name: battery_pct, at: 2, type: u8}]}
     """)
    profiles = load_profiles(tmp_path)
    p = profiles["test_v1"]
    assert p.decode(bytes.fromhex("2d00 58 ffff"), 7).fields == {"water_level_cm": 4.5,
                                                               "battery_pct": 88.0}
    (tmp_path / "copy.yaml").write_text((tmp_path / "test_v1.yaml").read_text())
    with pytest.raises(ProfileError, match="duplicate profile id 'test_v1'"):
        load_profiles(tmp_path)


def test_overlapping_slots_bits_and_floats(tmp_path):
    _write(tmp_path, """
     codec:
       kind: binary
       layouts:
         1:
           fields:
             - {name: hdr, at: 0, type: u8, expect: 0x11}
             - {name: water_level_cm, at: 1, type: f32}
             - {name: battery_pct, at: 1, type: u8, bits: [0, 6]}
     """)
    p = load_profile(tmp_path / "test_v1.yaml")
    import struct

    ok = b"\x11" + struct.pack(">f", 4.5)
    r = p.decode(ok, 1)
    assert r.errors == [] and r.fields["water_level_cm"] == 4.5
    assert p.decode(b"\x12" + ok[1:], 1).errors == ["byte 0 (hdr): 0x12, expected 0x11"]
    nan = b"\x11" + struct.pack(">f", float("nan"))
    assert "bytes 1-4 (water_level_cm): not a finite number" in p.decode(nan, 1).errors
