"""``mimamori bench lorawan --json``: LoRaWAN uplinks handled per second on
one core — parse, MIC check (AES-CMAC), 32-bit FCnt reconstruction and
replay check, FRMPayload decryption, decode with the device's profile into
a canonical reading. No sockets, no broker: the network-server logic alone,
on pre-encoded frames, in one thread.

Baseline in the same run: the same MIC checks done the textbook way, with a
fresh OpenSSL CMAC context per frame (``cryptography``'s ``cmac.CMAC``).
"""

from __future__ import annotations

import gc
import random
import time
from typing import Annotated

import orjson
import typer

from device_profiles import load_profiles
from mimamori.contracts import now_ns

from .lorawan import Key, encode_uplink, parse_phy
from .lorawan.crypto import _b0
from .lorawan.network import NetworkServer, Session, SessionTable
from .uplink import UplinkDecoder

DEFAULT_PROFILE = "wearable_v1"


def profile_payloads(profile: str) -> list[tuple[bytes, int | None]]:
    """The valid payloads of a profile's test vectors (``*.vectors.yaml``)."""
    import yaml

    from device_profiles.profile import PROFILE_DIR

    path = PROFILE_DIR / f"{profile}.vectors.yaml"
    if not path.exists():
        return []
    out = []
    for v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("vectors", []):
        if "error" in v:
            continue
        if "hex" in v:
            payload = bytes.fromhex(str(v["hex"]).replace(" ", ""))
        elif "json" in v:
            payload = orjson.dumps(v["json"])
        elif "text" in v:
            payload = str(v["text"]).encode()
        else:
            continue
        out.append((payload, v.get("fport", 1)))
    return out


def run_bench(frames: int = 100_000, devices: int = 1000, profile: str | None = None,
              payload_hex: str | None = None, seed: int = 1) -> dict:
    from mimamori.registry import Device

    profiles = load_profiles()
    if profile is None:
        profile = DEFAULT_PROFILE if DEFAULT_PROFILE in profiles else "paddy_json_v1"
    if profile not in profiles:
        raise typer.BadParameter(f"profile {profile!r} is not installed "
                                 f"({', '.join(sorted(profiles))})")
    payloads = ([(bytes.fromhex(payload_hex), 1)] if payload_hex
                else profile_payloads(profile))
    if not payloads:
        raise typer.BadParameter(f"profile {profile} has no valid test vectors; "
                                 "give --payload-hex")
    rng = random.Random(seed)
    table = SessionTable()
    devs: dict[str, Device] = {}
    sessions = []
    for i in range(devices):
        did = f"bench-{i:05d}"
        addr = f"26{i:06x}"
        s = Session(did, addr, Key(rng.randbytes(16)), Key(rng.randbytes(16)))
        table.put(s)
        sessions.append(s)
        devs[did] = Device(did, profile, f"site-{i % 50}", dev_addr=addr)
    decoder = UplinkDecoder(profiles, devs.get)
    server = NetworkServer(table, decoder)
    phys = []
    for n in range(frames):
        s = sessions[n % devices]
        fcnt = n // devices
        payload, fport = payloads[n % len(payloads)]
        phys.append(encode_uplink(s.dev_addr, fcnt, payload, s.nwk_s_key, s.app_s_key,
                                  fport=fport or 1))
    rx: list = []
    from .lorawan.semtech import RxInfo

    rx = [RxInfo("aa555a0000000001", rssi=-90.0, snr=7.0, tmst=1, freq=923.2, datr="SF10BW125")]
    received = now_ns()

    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    ok = rejected = 0
    for phy in phys:
        out = server.handle(phy, rx, received)
        if out.reading is not None:
            ok += 1
        else:
            rejected += 1
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    server.table.take_changes()

    # baseline: MIC only, a new OpenSSL CMAC context per frame
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    sample = phys[: min(len(phys), 20_000)]
    by_addr = {s.dev_addr: s for s in sessions}
    t1 = time.perf_counter()
    for phy in sample:
        f = parse_phy(phy)
        s = by_addr[f.dev_addr]
        c = cmac.CMAC(algorithms.AES(s.nwk_s_key.raw))
        c.update(_b0(0, f.dev_addr_int, f.fcnt, len(phy) - 4) + phy[:-4])
        assert c.finalize()[:4] == f.mic
    base = time.perf_counter() - t1
    t2 = time.perf_counter()
    for phy in sample:
        f = parse_phy(phy)
        s = by_addr[f.dev_addr]
        s.nwk_s_key.cmac(_b0(0, f.dev_addr_int, f.fcnt, len(phy) - 4) + phy[:-4])
    ours = time.perf_counter() - t2
    return {
        "uplinks_per_s": round(frames / elapsed),
        # CPU seconds of this one thread: the figure less disturbed by other
        # programs sharing the machine
        "uplinks_per_cpu_s": round(frames / cpu) if cpu > 0 else None,
        "frames": frames,
        "readings": ok,
        "rejected": rejected,
        "devices": devices,
        "profile": profile,
        "distinct_payloads": len(payloads),
        "seconds": round(elapsed, 3),
        "us_per_uplink": round(elapsed / frames * 1e6, 2),
        "mic_only_per_s": {"openssl_cmac_context_per_frame": round(len(sample) / base),
                           "copied_cmac_context": round(len(sample) / ours)},
        "goal_uplinks_per_s": 20_000,
        "meets_goal": frames / elapsed >= 20_000,
        "threads": 1,
    }


def bench_lorawan(
    json_out: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
    frames: Annotated[int, typer.Option(help="uplinks to handle")] = 100_000,
    devices: Annotated[int, typer.Option(help="distinct devices (sessions)")] = 1000,
    profile: Annotated[str | None, typer.Option(
        help="device profile (default wearable_v1; payloads from its test vectors)")] = None,
    payload_hex: Annotated[str | None, typer.Option(help="payload for non-JSON profiles")] = None,
    udp: Annotated[bool, typer.Option(
        "--udp", help="end to end instead: UDP listener + a Mosquitto of its own")] = False,
    rate: Annotated[float, typer.Option(help="--udp: frames offered per second")] = 5000.0,
    gateways: Annotated[int, typer.Option(help="--udp: gateways hearing each frame")] = 1,
) -> None:
    """LoRaWAN uplinks per second on one core: MIC + decrypt + FCnt + decode."""
    if udp:
        res = run_udp_bench(min(frames, 50_000), min(devices, 500), rate, gateways)
        typer.echo(orjson.dumps(res).decode())
        return
    res = run_bench(frames, devices, profile, payload_hex)
    if json_out:
        typer.echo(orjson.dumps(res).decode())
        return
    typer.echo(f"{res['uplinks_per_s']:,} uplinks/s on one core "
               f"({res['us_per_uplink']} µs each; goal 20,000) — {res['readings']:,} readings")
    typer.echo(f"MIC only: {res['mic_only_per_s']['copied_cmac_context']:,}/s copying a keyed CMAC context, "
               f"{res['mic_only_per_s']['openssl_cmac_context_per_frame']:,}/s with a new "
               "OpenSSL CMAC per frame")


def run_udp_bench(frames: int = 20_000, devices: int = 200, rate: float = 5000.0,
                  gateways: int = 1) -> dict:
    """End to end on real parts: a Mosquitto of its own (temporary state
    directory, free port), the LoRaWAN UDP listener, one packet-forwarder
    socket per gateway sending PUSH_DATA at ``rate`` frames/s, and a
    subscriber counting the readings that arrive on the bus."""
    import socket
    import tempfile
    import threading
    from pathlib import Path

    from mimamori.bus import Bus
    from mimamori.config import load_settings
    from mimamori.contracts import decode_envelope
    from mimamori.registry import Registry
    from mimamori.services import Mosquitto, free_port

    from .lorawan.forwarder import PacketForwarder
    from .lorawan.provision import provision_abp
    from .lorawan.semtech import push_data
    from .lorawan.udp_server import LorawanGateway

    tmp = Path(tempfile.mkdtemp(prefix="mimamori-bench-lorawan-"))
    s = load_settings(state_dir=tmp, mqtt={"url": f"mqtt://127.0.0.1:{free_port()}"},
                      lorawan={"port": 0, "dedup_ms": 200})
    broker = Mosquitto(s)
    broker.start(timeout=30)
    registry = Registry(s.registry)
    rng = random.Random(3)
    payloads = profile_payloads(DEFAULT_PROFILE)
    devs = [provision_abp(registry, f"bench-{i:04d}", DEFAULT_PROFILE, "site-1", rng=rng)
            for i in range(devices)]
    phys = [devs[n % devices].uplink(*payloads[n % len(payloads)]) for n in range(frames)]
    got = {"readings": 0, "last": 0.0}
    done = threading.Event()

    def count(batch) -> None:
        for m in batch:
            got["readings"] += len(decode_envelope(m.payload))
        got["last"] = time.perf_counter()
        if got["readings"] >= frames:
            done.set()

    sub = Bus(s.mqtt, "bench-lorawan-sub", persistent=False)
    sub.connect()
    sub.consume([s.bus.topic_root + "/readings/+"], count, batch_wait_s=0.0)
    gw = LorawanGateway(s, registry).start()
    assert gw.sock is not None
    rcvbuf = gw.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    euis = [f"aa555a00000000{g:02x}" for g in range(gateways)]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in euis]
    fwd = PacketForwarder(gw.address, euis[0])  # only to shape rxpk entries
    try:
        t0 = time.perf_counter()
        for n, phy in enumerate(phys):
            for g, sock in enumerate(socks):
                item = fwd.rxpk(phy, rssi=-90.0 - g, snr=5.0)
                sock.sendto(push_data(n & 0xFFFF, euis[g], [item]), gw.address)
            ahead = (n + 1) / rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
        sent_s = time.perf_counter() - t0
        while not done.wait(3.0):  # until everything arrived or nothing moved for 3 s
            if time.perf_counter() - got["last"] > 3.0:
                break
        elapsed = max(got["last"] - t0, 1e-9)
        received = gw.datagrams
    finally:
        fwd.close()
        for sock in socks:
            sock.close()
        gw.stop()
        sub.close()
        broker.stop()
    return {
        "mode": "udp_end_to_end",
        "frames": frames,
        "gateways_per_frame": gateways,
        "readings": got["readings"],
        "lost": frames - got["readings"],
        "datagrams_sent": frames * gateways,
        "datagrams_received": received,
        "offered_rate_per_s": rate,
        "sent_in_s": round(sent_s, 2),
        "readings_per_s": round(got["readings"] / elapsed),
        "dead_letters": gw.rejected,
        "udp_receive_buffer_bytes": rcvbuf,
        "devices": devices,
    }
