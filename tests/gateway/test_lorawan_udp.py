"""The LoRaWAN gateway on the real Mosquitto, fed by packet-forwarder
clients speaking Semtech UDP v2 with real encrypted LoRaWAN frames."""

from __future__ import annotations

import base64

import orjson
import pytest

from gateway.lorawan import (
    Key,
    derive_session_keys,
    encode_join_request,
    encode_uplink,
    parse_join_accept,
    parse_phy,
    verify_data_mic,
)
from gateway.lorawan.forwarder import PacketForwarder
from gateway.lorawan.store import LorawanStore
from gateway.lorawan.udp_server import LorawanGateway
from mimamori.contracts import decode_envelope
from mimamori.registry import Registry
from mimamori.topics import Topics

from ..helpers import Collector, wait_for

NWK = "2b7e151628aed2a6abf7158809cf4f3c"
APP = "000102030405060708090a0b0c0d0e0f"
APPKEY = "88888888888888888888888888888888"
GW = ["aa555a0000000001", "aa555a0000000002", "aa555a0000000003"]


@pytest.fixture
def lora(settings):
    s = settings.model_copy(update={"lorawan": settings.lorawan.model_copy(
        update={"port": 0, "dedup_ms": 150, "gateway_offline_s": 1.5})})
    registry = Registry(s.registry)
    registry.add_device("paddy-lora-1", "paddy_json_v1", "field-01", dev_addr="26011bda")
    registry.set_device_secrets("paddy-lora-1", {"nwk_s_key": NWK, "app_s_key": APP})
    made: list = []

    def start():
        gw = LorawanGateway(s, registry, client_id=f"lorawan-{len(made)}").start()
        made.append(gw)
        return gw

    yield s, registry, start
    for gw in made:
        if gw.sock is not None and gw.sock.fileno() != -1:
            gw.stop()


def _readings(c: Collector, n: int) -> list:
    """n readings, however the gateway packed them into envelopes."""
    k = 1
    while True:
        rs = [r for m in c.wait(k) for r in decode_envelope(m.payload)]
        if len(rs) >= n:
            return rs
        k += 1


def _letters(c: Collector, n: int) -> list[dict]:
    return [orjson.loads(m.payload) for m in c.wait(n)]


def test_three_gateways_one_reading_then_replay_bitflip_unknown_and_bad_json(lora, bus_factory):
    s, registry, start = lora
    topics = Topics(s.bus.topic_root)
    watch = bus_factory()
    readings = Collector(watch, topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    gw = start()
    fwds = [PacketForwarder(gw.address, eui) for eui in GW]
    try:
        phy = encode_uplink("26011bda", 7, b'{"level_mm": 52, "bat": 91}', NWK, APP, fport=2)
        for f, rssi in zip(fwds, (-110, -72, -95), strict=True):
            assert f.push(phy, rssi=rssi, snr=rssi / 10 + 15)  # PUSH_ACK received
        got = readings.wait(1)
        rs = decode_envelope(got[0].payload)
        assert len(rs) == 1
        r = rs[0]
        assert r.device_id == "paddy-lora-1" and r.fields["water_level_cm"] == 5.2
        assert r.meta["transport"] == "lorawan" and r.meta["fcnt"] == 7
        assert r.meta["gateway"] == GW[1] and r.meta["rssi"] == -72
        assert sorted(g["id"] for g in r.meta["gateways"]) == sorted(GW)

        # the same frame again, later: a replay
        assert fwds[0].push(phy)
        # one flipped bit in the encrypted payload
        bad = bytearray(encode_uplink("26011bda", 8, b'{"level_mm": 40}', NWK, APP, fport=2))
        bad[12] ^= 0x04
        assert fwds[0].push(bytes(bad))
        # a DevAddr nobody has
        assert fwds[0].push(encode_uplink("26019999", 1, b'{"level_mm": 1}', NWK, APP))
        # authentic frame, payload is not JSON
        assert fwds[0].push(encode_uplink("26011bda", 9, b"{not json", NWK, APP, fport=2))
        letters = _letters(dead, 4)
        by_reason = {d["reason"]: d for d in letters}
        assert sorted(by_reason) == ["bad_mic", "decode_error", "replay", "unknown_devaddr"]
        assert by_reason["replay"]["device_id"] == "paddy-lora-1"
        assert base64.b64decode(by_reason["replay"]["payload"]) == phy
        assert by_reason["decode_error"]["payload"] == "{not json"  # decrypted, kept as evidence
        # still alive: a good frame gets through, and exactly one reading came before
        assert fwds[2].push(encode_uplink("26011bda", 10, b'{"level_mm": 48}', NWK, APP, fport=2))
        got = readings.wait(2)
        assert [decode_envelope(m.payload)[0].meta["fcnt"] for m in got] == [7, 10]
        assert LorawanStore(registry).counters_of("paddy-lora-1") == (10, 0)

        # restart the gateway: the counter survived, the replay is still refused
        gw.stop()
        gw2 = start()
        f2 = PacketForwarder(gw2.address, GW[0])
        fwds.append(f2)
        assert f2.push(phy)
        letter = _letters(dead, 5)[-1]
        assert letter["reason"] == "replay"
        assert f2.push(encode_uplink("26011bda", 11, b'{"level_mm": 47}', NWK, APP, fport=2))
        assert decode_envelope(readings.wait(3)[-1].payload)[0].meta["fcnt"] == 11
    finally:
        for f in fwds:
            f.close()


def test_otaa_join_accept_via_pull_resp_then_confirmed_uplink_is_acked(lora, bus_factory):
    s, registry, start = lora
    registry.add_device("paddy-otaa-1", "paddy_json_v1", "field-02",
                        dev_eui="70b3d57ed0000001", join_eui="70b3d57ed00000ff")
    registry.set_device_secrets("paddy-otaa-1", {"app_key": APPKEY})
    topics = Topics(s.bus.topic_root)
    readings = Collector(bus_factory(), topics.readings_filter)
    dead = Collector(bus_factory(), topics.deadletter_filter)
    gw = start()
    with PacketForwarder(gw.address, GW[0]) as fwd:
        assert fwd.pull()  # PULL_ACK: the downlink path is open
        fwd.push(encode_join_request("70b3d57ed00000ff", "70b3d57ed0000001", 0x1234, APPKEY))
        txpk = fwd.wait_downlink(15)
        assert txpk is not None, "no join-accept"
        assert txpk["imme"] is False and txpk["ipol"] is True and txpk["freq"] == 923.2
        ja, mic_ok = parse_join_accept(base64.b64decode(txpk["data"]), APPKEY)
        assert mic_ok
        nwk, app = derive_session_keys(Key.from_hex(APPKEY), ja.app_nonce, ja.net_id,
                                       (0x1234).to_bytes(2, "little"))
        assert registry.get_device("paddy-otaa-1").dev_addr == ja.dev_addr

        fwd.push(encode_uplink(ja.dev_addr, 0, b'{"level_mm": 33}', nwk, app, fport=2,
                               confirmed=True))
        r = decode_envelope(readings.wait(1)[0].payload)[0]
        assert r.device_id == "paddy-otaa-1" and r.meta["confirmed"] is True
        ack = fwd.wait_downlink(15)
        assert ack is not None, "no ACK for the confirmed uplink"
        down = parse_phy(base64.b64decode(ack["data"]))
        assert down.ack and down.dev_addr == ja.dev_addr and down.fcnt == 0
        assert verify_data_mic(down, nwk, 0)

        # the same DevNonce again is refused, even after a restart
        gw.stop()
        gw2 = start()
        with PacketForwarder(gw2.address, GW[1]) as fwd2:
            fwd2.push(encode_join_request("70b3d57ed00000ff", "70b3d57ed0000001", 0x1234,
                                          APPKEY))
            letter = orjson.loads(dead.wait(1)[0].payload)
    assert letter["reason"] == "devnonce_reused" and letter["device_id"] == "paddy-otaa-1"


def test_end_device_joins_and_sends_through_a_forwarder(lora, bus_factory):
    from gateway.lorawan.provision import provision_otaa

    s, registry, start = lora
    dev = provision_otaa(registry, "paddy-otaa-2", "paddy_json_v1", "field-02")
    readings = Collector(bus_factory(), Topics(s.bus.topic_root).readings_filter)
    gw = start()
    with PacketForwarder(gw.address, GW[0]) as fwd:
        assert fwd.pull() and dev.join_via(fwd, timeout=15)
        for level in (30, 31):
            fwd.push(dev.uplink(orjson.dumps({"level_mm": level}), fport=2))
        got = _readings(readings, 2)
    assert [r.meta["fcnt"] for r in got] == [0, 1]
    assert all(r.device_id == "paddy-otaa-2" for r in got)


def test_gateway_online_offline_and_bad_datagrams_do_not_stop_it(lora, bus_factory):
    s, _registry, start = lora
    topics = Topics(s.bus.topic_root)
    status = Collector(bus_factory(), topics.gateway_status(GW[2]))
    dead = Collector(bus_factory(), topics.deadletter_filter)
    readings = Collector(bus_factory(), topics.readings_filter)
    gw = start()
    with PacketForwarder(gw.address, GW[2]) as fwd:
        assert fwd.stat(rxnb=3, rxok=3)
        first = orjson.loads(status.wait(1)[0].payload)
        assert first["online"] is True and first["stat"]["rxnb"] == 3
        fwd.send_raw(b"\x07\x00")  # too short
        fwd.send_raw(b"\x02\x00\x01\x00" + bytes.fromhex(GW[2]) + b"{not json")
        fwd.send_raw(b"\x09\x00\x01\x00" + bytes(8))  # unknown protocol version
        fwd.push_rxpk([{"data": "!!!", "rssi": -1}])
        reasons = sorted(orjson.loads(m.payload)["reason"] for m in dead.wait(4))
        assert reasons == ["malformed_datagram", "malformed_json", "malformed_json",
                           "unsupported_protocol"]
        # no keepalive for longer than gateway_offline_s → offline, retained
        later = wait_for(lambda: [m for m in status.wait(2, timeout=20)
                                  if not orjson.loads(m.payload)["online"]], timeout=20,
                         what="gateway offline")
        assert orjson.loads(later[0].payload)["gateway_id"] == GW[2]
        assert fwd.push(encode_uplink("26011bda", 1, b'{"level_mm": 20}', NWK, APP, fport=2))
        assert decode_envelope(readings.wait(1)[0].payload)[0].fields["water_level_cm"] == 2.0
    retained = Collector(bus_factory(), topics.gateway_status(GW[2]))
    assert retained.wait(1)[0].retain
