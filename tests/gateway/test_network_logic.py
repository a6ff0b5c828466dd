"""The network-server logic without I/O: counters, roll-over, gaps, shared
DevAddrs, binary profiles; and that the bench command runs."""

from __future__ import annotations

from device_profiles import load_profiles
from gateway.bench import profile_payloads, run_bench
from gateway.lorawan import Key, encode_uplink
from gateway.lorawan.network import NetworkServer, Session, SessionTable
from gateway.lorawan.semtech import RxInfo
from gateway.uplink import UplinkDecoder
from mimamori.registry import Device

RX = [RxInfo("aa555a0000000009", rssi=-100.0, snr=2.0, tmst=10, time_ns=1_780_000_000_123_456_789)]
NWK, APP = "0f" * 16, "f0" * 16
T = 1_780_000_001_000_000_000  # received, a second after the gateway heard it


def server(*sessions: Session, profile: str = "wearable_v1") -> NetworkServer:
    table = SessionTable()
    devices = {}
    for s in sessions:
        table.put(s)
        devices[s.device_id] = Device(s.device_id, profile, "home-1")
    return NetworkServer(table, UplinkDecoder(load_profiles(), devices.get))


def session(device_id: str = "wear-1", addr: str = "26000001", nwk: str = NWK,
            app: str = APP, fcnt_up: int | None = None) -> Session:
    return Session(device_id, addr, Key.from_hex(nwk), Key.from_hex(app), fcnt_up)


def test_binary_wearable_uplink_decoded_with_gateway_time():
    payload, fport = profile_payloads("wearable_v1")[0]
    ns = server(session())
    out = ns.handle(encode_uplink("26000001", 0, payload, NWK, APP, fport=fport), RX,
                    received_ns=1_780_000_001_000_000_000)
    assert out.dead is None, out.dead
    assert out.reading.fields["heart_rate_bpm"] == 72.0
    assert out.reading.ts_ns == 1_780_000_000_123_456_789  # the gateway's GPS time
    assert out.reading.meta["gateway"] == "aa555a0000000009"
    ch = ns.table.take_changes()
    assert ch.counters["wear-1"].fcnt_up == 0


def test_counter_rollover_gap_and_replay():
    payload, fport = profile_payloads("wearable_v1")[0]
    ns = server(session(fcnt_up=0xFFFE))
    ok = ns.handle(encode_uplink("26000001", 0x1_0001, payload, NWK, APP, fport=fport), RX, T)
    assert ok.reading is not None and ok.meta["fcnt"] == 0x1_0001  # 16 bits rolled over
    old = ns.handle(encode_uplink("26000001", 0xFFFF, payload, NWK, APP, fport=fport), RX, T)
    assert old.dead.reason == "replay"  # below the last accepted counter, MIC genuine
    far = ns.handle(encode_uplink("26000001", 0x1_0001 + 20_000, payload, NWK, APP,
                                  fport=fport), RX, T)
    assert far.dead.reason == "fcnt_gap"
    forged = ns.handle(encode_uplink("26000001", 0x1_0002, payload, NWK, "00" * 16,
                                     fport=fport)[:-4] + b"\0\0\0\0", RX, T)
    assert forged.dead.reason == "bad_mic"


def test_two_devices_sharing_a_devaddr_are_told_apart_by_the_mic():
    payload, fport = profile_payloads("wearable_v1")[0]
    ns = server(session("wear-a", nwk="01" * 16), session("wear-b", nwk="02" * 16))
    out = ns.handle(encode_uplink("26000001", 3, payload, "02" * 16, APP, fport=fport), RX, T)
    assert out.reading.device_id == "wear-b"


def test_confirmed_uplink_gets_an_ack_with_the_next_downlink_counter():
    payload, fport = profile_payloads("wearable_v1")[0]
    s = session()
    s.fcnt_down = 7
    ns = server(s)
    out = ns.handle(encode_uplink("26000001", 1, payload, NWK, APP, fport=fport, confirmed=True),
                    RX, T)
    assert out.downlink is not None and out.downlink.what == "ack"
    assert out.downlink.delay_us == 1_000_000 and s.fcnt_down == 8


def test_repeated_confirmed_frame_is_acked_again_without_a_second_reading():
    payload, fport = profile_payloads("wearable_v1")[0]
    s = session()
    ns = server(s)
    phy = encode_uplink("26000001", 4, payload, NWK, APP, fport=fport, confirmed=True)
    first = ns.handle(phy, RX, T)
    again = ns.handle(phy, RX, T)
    assert first.reading is not None and first.downlink.what == "ack"
    assert again.reading is None and again.dead is None and again.event == "retransmission"
    assert again.downlink.what == "ack" and s.fcnt_down == 2
    # an unconfirmed frame sent twice is a replay
    plain = encode_uplink("26000001", 5, payload, NWK, APP, fport=fport)
    assert ns.handle(plain, RX, T).reading is not None
    assert ns.handle(plain, RX, T).dead.reason == "replay"


def test_bench_runs_and_every_frame_becomes_a_reading():
    res = run_bench(frames=300, devices=7)
    assert res["readings"] == 300 and res["rejected"] == 0 and res["profile"] == "wearable_v1"
