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
) -> None:
    """LoRaWAN uplinks per second on one core: MIC + decrypt + FCnt + decode."""
    res = run_bench(frames, devices, profile, payload_hex)
    if json_out:
        typer.echo(orjson.dumps(res).decode())
        return
    typer.echo(f"{res['uplinks_per_s']:,} uplinks/s on one core "
               f"({res['us_per_uplink']} µs each; goal 20,000) — {res['readings']:,} readings")
    typer.echo(f"MIC only: {res['mic_only_per_s']['copied_cmac_context']:,}/s copying a keyed CMAC context, "
               f"{res['mic_only_per_s']['openssl_cmac_context_per_frame']:,}/s with a new "
               "OpenSSL CMAC per frame")
