"""Per-device detector settings (``ctx``) from the registry.

A device's ``params``, its site's ``settings`` and its person's ``settings``
are merged (device wins over person wins over site), plus the site's and
device's coordinates as ``site_latlon`` / ``device_latlon``. A ``home`` given
nowhere else defaults to the household site's coordinates.
"""

from __future__ import annotations

import time
from typing import Any

from mimamori.registry import Registry


def merge_ctx(device: Any | None, site: Any | None, person: Any | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if site is not None:
        ctx.update(site.settings or {})
        if site.lat is not None and site.lon is not None:
            ctx["site_latlon"] = [site.lat, site.lon]
            if site.kind == "household":
                ctx.setdefault("home", [site.lat, site.lon])
            if site.kind == "school":
                ctx.setdefault("school_latlon", [site.lat, site.lon])
    if person is not None:
        ctx.update(person.settings or {})
    if device is not None:
        ctx.update(device.params or {})
        if device.lat is not None and device.lon is not None:
            ctx["device_latlon"] = [device.lat, device.lon]
    return ctx


class RegistryCtx:
    """Callable ``(device_id, site) → ctx`` with a short cache."""

    def __init__(self, registry: Registry, ttl_s: float = 60.0) -> None:
        self.registry, self.ttl_s = registry, ttl_s
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def __call__(self, device_id: str, site: str) -> dict[str, Any]:
        hit = self._cache.get(device_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        dev = self.registry.get_device(device_id)
        site_row = self.registry.get_site(site or (dev.site if dev else "")) if (
            site or dev) else None
        person = self.registry.get_person(dev.person_id) if dev and dev.person_id else None
        ctx = merge_ctx(dev, site_row, person)
        self._cache[device_id] = (now, ctx)
        return ctx
