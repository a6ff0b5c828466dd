"""Pure logic: one device uplink → a canonical :class:`Reading` or a
:class:`DeadLetter`. No I/O here, so it is tested fast.

The timestamp is set here, once: the device's own time when the payload
carries one, else the network server's receive time, else ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from device_profiles import Profile
from mimamori.contracts import Reading
from mimamori.deadletter import DeadLetter
from mimamori.registry import Device

STAGE = "gateway"
MAX_FUTURE_NS = 5 * 60 * 10**9  # device clocks may run ahead a little, not more


class UplinkDecoder:
    def __init__(
        self,
        profiles: dict[str, Profile],
        lookup: Callable[[str], Device | None],
        max_payload_bytes: int = 65536,
    ) -> None:
        self.profiles = profiles
        self.lookup = lookup
        self.max_payload_bytes = max_payload_bytes

    def _dead(self, reason: str, detail: str, payload: bytes, topic: str, device_id: str = "",
              received_ns: int = 0) -> DeadLetter:
        return DeadLetter(STAGE, reason, detail, payload, topic, device_id,
                          received_ns=received_ns)

    def decode(
        self,
        device_id: str,
        payload: bytes,
        *,
        received_ns: int,
        topic: str = "",
        claimed_profile: str | None = None,
        fport: int | None = None,
        network_ns: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Reading | DeadLetter:
        if len(payload) > self.max_payload_bytes:
            return self._dead("oversized",
                              f"payload of {len(payload)} bytes exceeds {self.max_payload_bytes}",
                              payload[:1024], topic, device_id, received_ns)
        device = self.lookup(device_id)
        if device is None:
            return self._dead("unknown_device", f"device {device_id!r} is not registered",
                              payload, topic, device_id, received_ns)
        if claimed_profile is not None and claimed_profile != device.profile:
            return self._dead("profile_mismatch",
                              f"device {device_id} has profile {device.profile}, "
                              f"topic says {claimed_profile}", payload, topic, device_id,
                              received_ns)
        profile = self.profiles.get(device.profile)
        if profile is None:
            return self._dead("unknown_profile",
                              f"device {device_id} uses profile {device.profile!r}, "
                              "which is not installed", payload, topic, device_id, received_ns)
        result = profile.decode(payload, fport, params=device.params)
        if result.errors:
            reason = ("out_of_range" if all("outside valid range" in e for e in result.errors)
                      else "decode_error")
            return self._dead(reason,
                              f"device {device_id} (profile {profile.id}): "
                              + "; ".join(result.errors), payload, topic, device_id, received_ns)
        if not result.fields:
            return self._dead("decode_error", f"device {device_id} (profile {profile.id}): "
                              "payload carried no fields", payload, topic, device_id, received_ns)
        ts = result.ts_ns or network_ns or received_ns
        if ts > received_ns + MAX_FUTURE_NS:
            return self._dead("future_timestamp",
                              f"device {device_id}: timestamp {ts} is "
                              f"{(ts - received_ns) / 1e9:.0f}s in the future", payload, topic,
                              device_id, received_ns)
        return Reading(device.device_id, profile.id, profile.family, device.site, ts,
                       result.fields, meta or {})
