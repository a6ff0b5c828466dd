"""``mimamori bench codecs``: decoded readings per second for each codec
kind, on one core, through the full ``Profile.decode`` path (decode, type
coercion and range checks)."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer

# codec kind → (profile, payloads, fport); payloads vary so nothing is cached.
CASES: dict[str, tuple[str, list[bytes], int | None]] = {
    "json": ("wearable_json_v1", [orjson.dumps(
        {"ts": 1767225600 + i, "hr": 60 + i % 40, "spo2": 95 + i % 5, "skin_temp": 33.5,
         "steps": i, "activity": i % 256, "worn": True, "fall": False, "sos": False,
         "bat": 80}) for i in range(256)], None),
    "binary": ("wearable_v1", [bytes([60 + i % 40, 95 + i % 5, 135, i >> 8 & 0xFF, i & 0xFF,
                                      i % 256, 1, 0xFF, 80]) for i in range(256)], 1),
    "cayenne_lpp": ("gps_tracker_lpp_v1", [bytes.fromhex("01880542e814d936000fa0")[:-3]
                                           + i.to_bytes(3, "big") for i in range(256)], 1),
    "js": ("sos_button_v1", [bytes([i % 3, i % 101]) for i in range(256)], 1),
}


def measure(kind: str, seconds: float = 1.0) -> dict:
    from .profile import load_profiles

    pid, payloads, fport = CASES[kind]
    profile = load_profiles()[pid]
    for p in payloads:  # warm up, and prove every payload decodes
        r = profile.decode(p, fport)
        if r.errors:
            raise RuntimeError(f"bench payload for {pid} does not decode: {r.errors}")
    decode = profile.decode
    n = 0
    c0 = time.thread_time()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for p in payloads:
            decode(p, fport)
        n += len(payloads)
        if time.perf_counter() >= deadline:
            break
    dt = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    # readings_per_s is wall-clock; readings_per_cpu_s counts only the CPU
    # time this thread got, so it stays comparable on a busy machine.
    return {"readings_per_s": round(n / dt), "readings_per_cpu_s": round(n / max(cpu, 1e-9)),
            "profile": pid,
            "payload_bytes": len(payloads[0]), "readings": n}


def bench_codecs(
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    seconds: Annotated[float, typer.Option(help="seconds per codec kind")] = 2.0,
) -> None:
    """Decode rate per codec kind (json, binary, cayenne_lpp, js) on one core."""
    out = {kind: measure(kind, seconds) for kind in CASES}
    if json_out:
        typer.echo(orjson.dumps(out).decode())
        return
    for kind, r in out.items():
        typer.echo(f"{kind:12s} {r['readings_per_s']:>10,d} readings/s wall, "
                   f"{r['readings_per_cpu_s']:>10,d} per CPU-second  ({r['profile']}, "
                   f"{r['payload_bytes']} B)")
