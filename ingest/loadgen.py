"""A load generator that is not the bottleneck: MQTT 3.1.1 PUBLISH packets
(QoS 1) encoded before the clock starts and written to raw sockets from
several processes; a reader counts the broker's PUBACKs.

>>> encode_publish("a/b", b"hi", 1, qos=1).hex()
'32090003612f6200016869'
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import struct
import time


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def encode_publish(topic: str, payload: bytes, packet_id: int, qos: int = 1) -> bytes:
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", packet_id) if qos else b"")
    body += payload
    return bytes([0x30 | (qos << 1)]) + _remaining_length(len(body)) + body


def connect_packet(client_id: str, keepalive: int = 60) -> bytes:
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02" + struct.pack("!H", keepalive)  # v3.1.1, clean session
    body = var + struct.pack("!H", len(cid)) + cid
    return b"\x10" + _remaining_length(len(body)) + body


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


def _publisher(host: str, port: int, items: list[tuple[str, bytes]], client_id: str,
               start_at: float, result: mp.Queue) -> None:
    packets = [encode_publish(t, p, (i % 65535) + 1) for i, (t, p) in enumerate(items)]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    if _read_exact(sock, 4)[3] != 0:
        raise ConnectionError("CONNACK refused")
    acked = 0
    want = len(packets)
    import threading

    done = threading.Event()

    def read_acks() -> None:
        nonlocal acked
        pending = b""
        while acked < want:
            data = sock.recv(65536)
            if not data:
                break
            pending += data
            # PUBACK = 0x40 0x02 id id (4 bytes); nothing else arrives here.
            n = len(pending) // 4
            acked += n
            pending = pending[n * 4:]
        done.set()

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    while time.time() < start_at:
        time.sleep(0.001)
    t0 = time.time()
    chunk = 256
    for i in range(0, want, chunk):
        sock.sendall(b"".join(packets[i:i + chunk]))
    sent = time.time()
    done.wait(600)
    result.put({"acked": acked, "t0": t0, "sent": sent, "acked_at": time.time()})
    sock.close()


def publish(host: str, port: int, items: list[tuple[str, bytes]], processes: int = 3,
            start_delay: float = 1.0) -> dict:
    """Publish ``items`` (topic, payload) at QoS 1 from ``processes``
    processes; returns acked count, start time and when all were acked."""
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    start_at = time.time() + start_delay + 0.3 * len(items) / 100_000
    procs = []
    for k in range(processes):
        part = items[k::processes]
        p = ctx.Process(target=_publisher,
                        args=(host, port, part, f"loadgen-{k}-{time.time_ns()}", start_at, q))
        p.start()
        procs.append(p)
    results = [q.get(timeout=900) for _ in procs]
    for p in procs:
        p.join(30)
    return {"acked": sum(r["acked"] for r in results),
            "t0": min(r["t0"] for r in results),
            "sent": max(r["sent"] for r in results),
            "acked_at": max(r["acked_at"] for r in results)}
