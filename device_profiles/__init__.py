"""What each kind of device is: its codec (bytes → fields), field names,
units and valid ranges, expected reporting interval, InfluxDB measurement,
and which detectors apply. Profiles are commented YAML files in
``device_profiles/profiles/``; see :mod:`device_profiles.profile`."""

from .profile import DecodeResult, FieldSpec, Profile, ProfileError, load_profiles

__all__ = ["DecodeResult", "FieldSpec", "Profile", "ProfileError", "load_profiles"]
