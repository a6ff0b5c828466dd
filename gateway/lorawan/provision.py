"""Register LoRaWAN devices in the registry with fresh keys, and get back
the matching :class:`EndDevice` (for simulators, tests and set-up scripts).

>>> import tempfile, pathlib
>>> from mimamori.registry import Registry
>>> reg = Registry(f"sqlite:///{tempfile.mkdtemp()}/r.db", secret_key=b"0" * 43 + b"=")
>>> dev = provision_abp(reg, "paddy-9", "paddy_v1", "field-9", dev_addr="26000009")
>>> reg.get_device("paddy-9").dev_addr, sorted(reg.device_secrets("paddy-9"))
('26000009', ['app_s_key', 'nwk_s_key'])
>>> dev.activated
True
"""

from __future__ import annotations

import os
import random

from mimamori.registry import Registry

from .device import EndDevice


def _merge_secrets(registry: Registry, device_id: str, **new: str) -> None:
    secrets = registry.device_secrets(device_id)  # keep e.g. an MQTT password or HTTP token
    secrets.update(new)
    registry.set_device_secrets(device_id, secrets)


def provision_abp(registry: Registry, device_id: str, profile: str, site: str = "", *,
                  dev_addr: str | None = None, rng: random.Random | None = None,
                  **extra) -> EndDevice:
    """An activation-by-personalisation device: DevAddr and session keys."""
    rnd = (lambda n: rng.randbytes(n)) if rng else os.urandom
    addr = dev_addr or f"{0x26000000 | int.from_bytes(rnd(4), 'big') & 0x01FFFFFF:08x}"
    nwk, app = rnd(16), rnd(16)
    registry.add_device(device_id, profile, site, dev_addr=addr, **extra)
    _merge_secrets(registry, device_id, nwk_s_key=nwk.hex(), app_s_key=app.hex())
    return EndDevice.abp(addr, nwk, app)


def provision_otaa(registry: Registry, device_id: str, profile: str, site: str = "", *,
                   dev_eui: str | None = None, join_eui: str = "70b3d57ed0000000",
                   rng: random.Random | None = None, **extra) -> EndDevice:
    """An over-the-air-activation device: DevEUI, JoinEUI and AppKey; it
    joins through a packet forwarder (``EndDevice.join_via``)."""
    rnd = (lambda n: rng.randbytes(n)) if rng else os.urandom
    eui = dev_eui or rnd(8).hex()
    app_key = rnd(16)
    registry.add_device(device_id, profile, site, dev_eui=eui, join_eui=join_eui, **extra)
    _merge_secrets(registry, device_id, app_key=app_key.hex())
    return EndDevice.otaa(eui, join_eui, app_key, rng=rng)
