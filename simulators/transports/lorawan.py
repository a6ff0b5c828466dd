"""LoRaWAN through several simulated gateways: each device is an ABP
end-device with its own DevAddr and session keys (stored in the registry,
encrypted, by provisioning); each uplink is a real encrypted LoRaWAN data
frame with MIC (gateway.lorawan.frames), pushed over Semtech UDP by every
simulated gateway that hears it (gateway.lorawan.forwarder — the packet
forwarder on the wire), so the network server sees overlapping coverage,
deduplicates and keeps the best RSSI.

Devices are ABP by default; with group ``params: {lorawan_activation:
otaa}`` they are provisioned with DevEUI/JoinEUI/AppKey and join over the
air first (join-request → join-accept on the gateway's PULL_RESP path →
session keys derived on both sides).

Radio model [A]: 13 dBm, log-distance path loss 40 + 25·log10(d m) with 6 dB
log-normal shadowing; heard above −130 dBm (SF10 sensitivity ≈ −132);
SNR = RSSI + 117 dB (noise floor at 125 kHz). Frame counters continue from
what the network server last accepted (a device keeps its counter in NVM),
so restarting the simulator is not a replay.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from typing import Any

from mimamori.registry import Registry

from ..geo import distance_m
from ..model import DeviceModel
from .base import Transport, TransportUnavailable
from .payloads import encode, frames_for

# Simulated gateways [A]: rooftops at the town hall (田丸), the north plain and
# the 宮川 side and the 外城田川 paddy belt — overlapping coverage over the town.
DEFAULT_GATEWAYS = (
    ("aa555a0000000101", 34.4870, 136.6300),
    ("aa555a0000000102", 34.5060, 136.6250),
    ("aa555a0000000103", 34.4650, 136.6600),
    ("aa555a0000000104", 34.4800, 136.6000),
)
TX_DBM = 13.0
SENSITIVITY_DBM = -130.0
KEEPALIVE_S = 10.0


def rssi_dbm(d_m: float, shadow_db: float) -> float:
    """Received power at a distance (log-distance model)."""
    return TX_DBM - (40.0 + 25.0 * math.log10(max(d_m, 10.0))) + shadow_db


JOIN_EUI = "70b3d57ed0000000"


def otaa(model: DeviceModel) -> bool:
    """Group ``params: {lorawan_activation: otaa}`` joins over the air;
    the default is ABP."""
    return model.params.get("lorawan_activation", "abp") == "otaa"


def abp_identity(seed: int | str, device_id: str, index: int) -> dict[str, str]:
    """DevAddr (unique per simulated device) and session keys, from the seed."""
    r = random.Random(f"{seed}/{device_id}/lorawan")
    return {"dev_addr": f"{0x26000000 + index:08x}",
            "nwk_s_key": r.randbytes(16).hex(), "app_s_key": r.randbytes(16).hex()}


class LoraWanTransport(Transport):
    name = "lorawan"
    gateways = DEFAULT_GATEWAYS

    def provision(self, model: DeviceModel, index: int, seed: int | str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
        if otaa(model):
            r = random.Random(f"{seed}/{model.device_id}/otaa")
            return ({"dev_eui": f"70b3d57e{0x10000000 + index:08x}", "join_eui": JOIN_EUI},
                    {"app_key": r.randbytes(16).hex()})
        ident = abp_identity(seed, model.device_id, index)
        return ({"dev_addr": ident["dev_addr"]},
                {"nwk_s_key": ident["nwk_s_key"], "app_s_key": ident["app_s_key"]})

    def open(self, devices: list[DeviceModel]) -> None:
        try:
            from gateway.lorawan.forwarder import PacketForwarder
            from gateway.lorawan.frames import encode_uplink
            from gateway.lorawan.store import LorawanStore
        except ImportError as exc:  # pragma: no cover - the gateway package ships with us
            raise TransportUnavailable(f"LoRaWAN needs gateway.lorawan ({exc})") from None
        self._encode_uplink = encode_uplink
        lw = self.settings.lorawan
        host = "127.0.0.1" if lw.host in ("0.0.0.0", "") else lw.host
        self.forwarders = [(PacketForwarder((host, lw.port), eui), lat, lon)
                           for eui, lat, lon in self.gateways]
        registry = Registry(self.settings.registry)
        store = LorawanStore(registry)
        self.state: dict[str, list] = {}
        self.rng = random.Random(f"radio/{self.client_id}")
        for f, _, _ in self.forwarders:
            f.pull()  # opens each gateway's downlink path (join-accepts)
        self.joined = 0
        for m in devices:
            d = registry.get_device(m.device_id)
            sec = registry.device_secrets(m.device_id) if d else {}
            info = m.describe()
            if d is not None and otaa(m) and "app_key" in sec:
                st = self._join(m, d, sec["app_key"], info)
            elif d is not None and d.dev_addr and "nwk_s_key" in sec:
                last = store.counters_of(m.device_id)
                fcnt = (last[0] + 1) if last and last[0] is not None else 0
                st = [d.dev_addr, sec["nwk_s_key"], sec["app_s_key"], fcnt]
            else:
                raise TransportUnavailable(f"device {m.device_id} has no LoRaWAN session "
                                           "in the registry (provision it first)")
            self.state[m.device_id] = st + [info.get("lat"), info.get("lon")]
        self.lost = 0
        self.heard_by: list[int] = []
        self._stop = threading.Event()
        self._keepalive = threading.Thread(target=self._pull_loop, daemon=True,
                                           name="sim-lorawan-keepalive")
        self._keepalive.start()

    def _join(self, m: DeviceModel, d: Any, app_key: str, info: dict) -> list:
        """OTAA: a join-request through the gateway nearest the device, the
        join-accept back on that gateway's downlink path; a DevNonce the
        network server has seen before is refused, so retry with the next."""
        from gateway.lorawan.device import EndDevice

        dev = EndDevice.otaa(d.dev_eui, d.join_eui or JOIN_EUI, app_key,
                             rng=random.Random(os.urandom(8)))
        lat, lon = info.get("lat") or DEFAULT_GATEWAYS[0][1], info.get("lon") or \
            DEFAULT_GATEWAYS[0][2]
        fwd, glat, glon = min(self.forwarders,
                              key=lambda g: distance_m(lat, lon, g[1], g[2]))
        rssi = round(rssi_dbm(distance_m(lat, lon, glat, glon), 0.0))
        for _ in range(3):
            if dev.join_via(fwd, timeout=10, rssi=rssi, snr=round(rssi + 117.0, 1)):
                self.joined += 1
                return [dev.dev_addr, dev.nwk_s_key, dev.app_s_key, dev.fcnt_up]
        raise TransportUnavailable(f"device {m.device_id}: OTAA join got no join-accept")

    def _pull_loop(self) -> None:
        while not self._stop.wait(KEEPALIVE_S):
            for f, _, _ in self.forwarders:
                try:
                    f.pull()
                except OSError:
                    pass

    def position(self, device: DeviceModel, fields: dict[str, Any]) -> tuple[float, float]:
        st = self.state[device.device_id]
        if "lat" in fields and "lon" in fields:
            return fields["lat"], fields["lon"]
        if st[4] is not None:
            return st[4], st[5]
        return DEFAULT_GATEWAYS[0][1], DEFAULT_GATEWAYS[0][2]

    def send(self, device: DeviceModel, ts_ns: int, fields: dict[str, Any]) -> None:
        st = self.state[device.device_id]
        lat, lon = self.position(device, fields)
        for port, confirmed, f in frames_for(device.profile, fields):
            payload = encode(device.profile, f, port, ts_ns)
            phy = self._encode_uplink(st[0], st[3], payload, st[1], st[2], fport=port or 1,
                                      confirmed=confirmed)
            st[3] += 1
            hearing = []
            for fwd, glat, glon in self.forwarders:
                rssi = rssi_dbm(distance_m(lat, lon, glat, glon), self.rng.gauss(0, 6.0))
                if rssi >= SENSITIVITY_DBM:
                    hearing.append((fwd, fwd.rxpk(phy, rssi=round(rssi),
                                                  snr=round(rssi + 117.0, 1))))
            heard = self._push_together(hearing)
            self.heard_by.append(heard)
            if heard:
                self.sent += 1
            else:
                self.lost += 1

    def _push_together(self, hearing: list) -> int:
        """Every gateway that heard the frame forwards it at (nearly) the same
        moment, as on air; then each waits for its PUSH_ACK. Returns how many
        were acknowledged."""
        from gateway.lorawan import semtech

        sent = []
        for fwd, rxpk in hearing:
            token = int.from_bytes(os.urandom(2), "big")
            fwd.up.sendto(semtech.push_data(token, fwd.eui, [rxpk], None), fwd.server)
            sent.append((fwd, token))
        acked = 0
        for fwd, token in sent:
            try:
                data, _ = fwd.up.recvfrom(64)
            except TimeoutError:
                continue
            acked += data[:4] == bytes((2, token >> 8, token & 0xFF, semtech.Kind.PUSH_ACK))
        return acked

    def flush(self) -> None:
        pass  # every push waited for its PUSH_ACK

    def close(self) -> None:
        self._stop.set()
        for f, _, _ in self.forwarders:
            try:
                f.close()
            except Exception:  # noqa: BLE001 - closing sockets only
                pass
        time.sleep(0)
