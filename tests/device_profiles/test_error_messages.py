"""A payload that does not decode is dead-lettered with a message naming
the device, the profile and the byte or field (codec + gateway together)."""

from device_profiles import load_profiles
from gateway.uplink import UplinkDecoder
from mimamori.deadletter import DeadLetter
from mimamori.registry import Device

PROFILES = load_profiles()
DEVICES = {"paddy-07": Device("paddy-07", "paddy_v1", "field-07"),
           "wear-01": Device("wear-01", "wearable_json_v1", "home-01")}


def _decode(device_id, payload, fport=None):
    return UplinkDecoder(PROFILES, DEVICES.get).decode(device_id, payload, received_ns=10**18,
                                                       fport=fport)


def test_out_of_range_byte_is_named():
    d = _decode("paddy-07", bytes.fromhex("03e8 0992 58"), fport=1)
    assert isinstance(d, DeadLetter) and d.reason == "out_of_range"
    assert d.detail == ("device paddy-07 (profile paddy_v1): bytes 0-1 (water_level_cm): "
                        "100.0 cm outside valid range -10.0..60.0")


def test_short_frame_and_bad_json_field_are_named():
    d = _decode("paddy-07", bytes.fromhex("002d"), fport=1)
    assert d.detail == ("device paddy-07 (profile paddy_v1): layout summary (fport 1) is "
                        "5 bytes, payload has 2")
    d = _decode("wear-01", b'{"hr": "fast"}')
    assert d.detail == "device wear-01 (profile wearable_json_v1): field 'heart_rate_bpm': " \
                       "'fast' is not float"


def test_installation_params_come_from_the_registry_device():
    devices = {"us-1": Device("us-1", "ultrasonic_paddy_v1", "field-07",
                              params={"mount_height_cm": 130}),
               "us-2": Device("us-2", "ultrasonic_paddy_v1", "field-07")}
    dec = UplinkDecoder(PROFILES, devices.get)
    r = dec.decode("us-1", bytes.fromhex("04b0 00fa 0e10"), received_ns=10**18, fport=2)
    assert r.fields == {"water_level_cm": 10.0, "battery_pct": 100.0}
    d = dec.decode("us-2", bytes.fromhex("04b0 00fa 0e10"), received_ns=10**18, fport=2)
    assert "device us-2 (profile ultrasonic_paddy_v1): water_level_cm: device parameter " \
           "'mount_height_cm' is not set" in d.detail
