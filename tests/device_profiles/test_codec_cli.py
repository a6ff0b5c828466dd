"""``mimamori codec decode`` and ``mimamori bench codecs`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BIN = str(Path(sys.executable).parent / "mimamori")
JS = Path(__file__).resolve().parents[2] / "device_profiles" / "profiles" / "js" / "sos_button_v1.js"


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


def test_decode_with_a_profile():
    r = run("codec", "decode", "--profile", "paddy_v1", "--fport", "1", "002d099258")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["fields"] == {"water_level_cm": 4.5, "water_temp_c": 24.5,
                                              "battery_pct": 88.0}


def test_decode_errors_name_profile_and_byte_and_exit_1():
    r = run("codec", "decode", "--profile", "wearable_v1", "--fport", "1", "48618700782a01ff65")
    assert r.returncode == 1
    err = json.loads(r.stdout)["errors"]
    assert err == ["profile wearable_v1: byte 8 (battery_pct): 101.0 % outside valid range "
                   "0.0..100.0"]


def test_decode_with_params_and_text():
    r = run("codec", "decode", "--profile", "ultrasonic_paddy_v1", "--fport", "2",
            "--param", "mount_height_cm=130", "04b0 00fa 0e10")
    assert json.loads(r.stdout)["fields"]["water_level_cm"] == 10.0
    r = run("codec", "decode", "--profile", "paddy_json_v1", "--text", '{"level_mm": 50}')
    assert json.loads(r.stdout)["fields"] == {"water_level_cm": 5.0}


def test_decode_with_a_js_file(tmp_path):
    r = run("codec", "decode", "--js", str(JS), "--fport", "1", "015a")
    assert r.returncode == 0, r.stdout
    assert json.loads(r.stdout)["data"] == {"sos": True, "battery": 90}
    hang = tmp_path / "hang.js"
    hang.write_text("function decodeUplink(input) { while (true) {} }")
    r = run("codec", "decode", "--js", str(hang), "--fport", "1", "--timeout-ms", "30", "01")
    assert r.returncode == 1
    assert "time budget of 30 ms" in json.loads(r.stdout)["errors"][0]


def test_bad_input_is_one_json_error():
    r = run("codec", "decode", "--profile", "nope_v1", "00")
    assert r.returncode == 1 and "no profile 'nope_v1'" in json.loads(r.stdout)["errors"][0]
    r = run("codec", "decode", "--profile", "paddy_v1", "zz")
    assert r.returncode == 1 and "not hexadecimal" in json.loads(r.stdout)["errors"][0]


def test_bench_codecs_prints_one_json_object():
    r = run("bench", "codecs", "--json", "--seconds", "0.05")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"json", "binary", "cayenne_lpp", "js"}
    assert all(v["readings_per_s"] > 0 for v in doc.values())
