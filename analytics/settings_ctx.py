"""Per-device detector settings (``ctx``) from the registry.

A device's ``params``, its site's ``settings`` and its person's ``settings``
are merged (device wins over person wins over site), plus the site's and
device's coordinates as ``site_latlon`` / ``device_latlon``. A ``home`` given
nowhere else defaults to the household site's coordinates.
"""

from __future__ import annotations

from typing import Any

from mimamori.registry import DeviceCache, Registry


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
    """Callable ``(device_id, site) → ctx`` from one snapshot of the
    registry's devices, sites and people (:class:`DeviceCache`, taken again
    when the registry's change counter moves): three queries per change
    instead of three per device — a cold start with 10,000 devices took
    seconds of per-device queries while their first readings waited. A device
    added since the snapshot is looked up in the registry at once."""

    def __init__(self, registry: Registry, check_s: float = 2.0) -> None:
        self.registry = registry
        self.snapshot = DeviceCache(registry, check_s, sites_and_people=True)
        self._version: int | None = None
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}

    def refresh(self) -> None:
        self.snapshot.refresh()

    def __call__(self, device_id: str, site: str) -> dict[str, Any]:
        snap = self.snapshot
        dev = snap.get(device_id)
        if snap.version != self._version:
            self._cache.clear()
            self._version = snap.version
        key = (device_id, site)
        ctx = self._cache.get(key)
        if ctx is None:
            if dev is not None:
                site_id = site or dev.site
                site_row = snap.site(site_id)
                person = snap.person(dev.person_id) if dev.person_id else None
            else:  # added since the snapshot (or unknown): ask the registry
                dev = self.registry.get_device(device_id)
                site_id = site or (dev.site if dev else "")
                site_row = self.registry.get_site(site_id) if site_id else None
                pid = dev.person_id if dev else None
                person = self.registry.get_person(pid) if pid else None
            ctx = self._cache[key] = merge_ctx(dev, site_row, person)
        return ctx
