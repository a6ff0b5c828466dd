"""Canonical fields → what a device puts on the air, using its profile's
own encoder (``Profile.encode``, device_profiles): which uplink (FPort) a
reading becomes, and its bytes.

Rules (the profile's ``uplinks`` say which FPorts are events):

* a fall flag or SOS goes in the confirmed event uplink that carries it
  (e.g. the wearable's 11-byte alert, the tag's SOS frame);
* otherwise the regular layout that carries most of the reading's fields;
  if a GPS fix does not fit in it, a position frame goes too;
* over MQTT there is no FPort: only the profile's default layout is used.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from device_profiles import Profile, load_profiles


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    return load_profiles()


def profile(profile_id: str) -> Profile:
    p = profiles().get(profile_id)
    if p is None:
        raise KeyError(f"profile {profile_id!r} is not installed")
    return p


def _layouts(p: Profile) -> dict[int, set[str]]:
    codec = getattr(p, "_codec", None)
    settings = getattr(codec, "settings", None)
    layouts = getattr(settings, "layouts", None) or {}
    return {int(port): {f.name for f in lay.fields} for port, lay in layouts.items()}


def _default_port(p: Profile) -> int | None:
    settings = getattr(getattr(p, "_codec", None), "settings", None)
    return getattr(settings, "default_fport", None)


@lru_cache(maxsize=256)
def _plan(profile_id: str) -> tuple[dict[int, frozenset[str]], set[int], set[int], int | None]:
    p = profile(profile_id)
    lay = {k: frozenset(v) for k, v in _layouts(p).items()}
    events, confirmed = set(), set()
    for u in (getattr(p, "uplinks", None) or {}).values():
        if getattr(u, "event", False):
            events.add(u.fport)
        if getattr(u, "confirmed", False):
            confirmed.add(u.fport)
    return lay, events, confirmed, _default_port(p)


def frames_for(profile_id: str, fields: dict[str, Any], *, with_fport: bool = True
               ) -> list[tuple[int | None, bool, dict[str, Any]]]:
    """[(fport, confirmed, fields of that frame)] for one reading."""
    lay, events, confirmed, default = _plan(profile_id)
    if not lay:  # JSON and other non-layout codecs: one frame, everything in it
        return [(default or 1 if with_fport else None, False, fields)]
    if not with_fport:
        return [(None, False, fields)]
    present = {k for k, v in fields.items() if v is not None}
    alert = bool(fields.get("fall") or fields.get("sos"))
    if alert:
        for port in sorted(confirmed & events):
            names = lay.get(port, frozenset())
            if ("fall" in names and fields.get("fall")) or ("sos" in names and fields.get("sos")):
                return [(port, True, fields)]
    regular = [p for p in lay if p not in events] or list(lay)
    best = max(regular, key=lambda p: (len(lay[p] & present), p == default, -p))
    out = [(best, best in confirmed, fields)]
    if "lat" in present and "lat" not in lay[best]:
        pos = [p for p in lay if "lat" in lay[p] and p not in confirmed]
        if pos:
            q = max(pos, key=lambda p: (len(lay[p] & present), -p))
            out.append((q, False, fields))
    return out


def encode(profile_id: str, fields: dict[str, Any], fport: int | None,
           ts_ns: int | None = None) -> bytes:
    """The payload bytes (the profile's own encoder)."""
    p = profile(profile_id)
    if not hasattr(p, "encode"):  # a profiles package without encoders
        if p.codec.kind == "json":
            import orjson

            return orjson.dumps({"ts": ts_ns, **fields} if ts_ns is not None else fields)
        raise ValueError(f"profile {profile_id} cannot encode here")
    if ts_ns is not None and p.codec.kind == "json":
        return p.encode(fields, fport, ts_ns=ts_ns)
    return p.encode(_fit(p, fields), fport)


def _fit(p: Profile, fields: dict[str, Any]) -> dict[str, Any]:
    """Values the wire format can hold: integers where the layout stores
    whole units, clipped into the field's declared range."""
    out = {}
    for k, v in fields.items():
        spec = p.fields.get(k)
        if spec is not None and isinstance(v, (int, float)) and not isinstance(v, bool):
            lo, hi = getattr(spec, "min", None), getattr(spec, "max", None)
            if lo is not None:
                v = max(lo, v)
            if hi is not None:
                v = min(hi, v)
        out[k] = v
    return out
