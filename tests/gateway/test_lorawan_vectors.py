"""LoRaWAN 1.0.x test vectors from public sources, each named.

Sources:
* [LP] anthonykirby/lora-packet (node.js), files ``__tests__/mic_test.ts``,
  ``decrypt_test.ts``, ``key_gen_test.ts``, ``fopts_test.ts``,
  ``join_accept_encrypt.ts``. lora-packet shows DevAddr, AppNonce, NetID
  and DevNonce big-endian; on the wire they are little-endian.
* [BL] brocaar/lorawan (Go, the ChirpStack library), ``phypayload_test.go``
  (TestPHYPayloadJoinAccept and the Example… functions).
* [RFC] RFC 4493 §4 (AES-CMAC examples) — in the crypto module's doctest.
"""

import base64

import pytest

from gateway.lorawan import (
    Key,
    MType,
    decrypt_data,
    derive_session_keys,
    encode_join_accept,
    encode_join_request,
    encode_uplink,
    parse_join_accept,
    parse_phy,
    verify_data_mic,
    verify_join_request,
)
from gateway.lorawan.frames import encode_data

LP_NWK = "44024241ed4ce9a68c6a8bc055233fd3"
LP_APP = "ec925802ae430ca77fd3dd73cb2cc588"
LP_APPKEY = "98929b92c49edba9676d646d3b612456"


def _phy(h: str) -> bytes:
    return bytes.fromhex(h)


@pytest.mark.parametrize("hex_frame, mic", [
    ("40F17DBE4900020001954378762B11FF0D", "2b11ff0d"),  # [LP] mic_test: data up
    ("40F17DBE49000300012A3518AF", "2a3518af"),  # [LP] mic_test: empty FRMPayload
    ("60f17dbe4920020001f9d65d27", "f9d65d27"),  # [LP] mic_test: downlink with ACK
])
def test_data_mic_lora_packet(hex_frame, mic):
    f = parse_phy(_phy(hex_frame))
    assert f.mic.hex() == mic
    assert verify_data_mic(f, LP_NWK, f.fcnt)


def test_bad_data_mic_detected_lora_packet():
    # [LP] mic_test "should detect incorrect data packet MIC" (aa instead of af)
    f = parse_phy(_phy("40F17DBE49000300012A3518AA"))
    assert not verify_data_mic(f, LP_NWK, f.fcnt)


def test_decrypt_test_payload_lora_packet():
    # [LP] decrypt_test "should decrypt test payload"
    f = parse_phy(_phy("40F17DBE4900020001954378762B11FF0D"))
    assert (f.mtype, f.dev_addr, f.fcnt, f.fport) == (MType.UNCONFIRMED_UP, "49be7df1", 2, 1)
    assert decrypt_data(f, LP_NWK, LP_APP, 2) == b"test"


def test_decrypt_large_payload_lora_packet():
    # [LP] decrypt_test "should decrypt large payload" (three AES blocks)
    f = parse_phy(_phy("40f17dbe490004000155332de41a11adc072553544429ce7787707d1c316e027e7e5e3"
                       "34263376affb8aa17ad30075293f28dea8a20af3c5e7"))
    assert decrypt_data(f, LP_NWK, LP_APP, f.fcnt) == b"The quick brown fox jumps over the lazy dog."


def test_bad_key_and_bad_data_lora_packet():
    # [LP] decrypt_test "bad key scrambles payload" / "bad data lightly scrambles payload"
    f = parse_phy(_phy("40F17DBE4900020001954378762B11FF0D"))
    assert decrypt_data(f, LP_NWK, "ec925802ae430ca77fd3dd73cb2cc580", 2).hex() == "5999fc3f"
    g = parse_phy(_phy("40F17DBE4900020001954478762B11FF0D"))
    assert decrypt_data(g, LP_NWK, LP_APP, 2) == b"tbst"


def test_fport0_uses_nwkskey_lora_packet():
    # [LP] decrypt_test "Should Decode Port 0": payload 02, DevAddr a1b2c3d4, FCnt 10
    nwk = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"
    phy = encode_uplink("a1b2c3d4", 10, b"\x02", nwk, "00" * 16, fport=0)
    f = parse_phy(phy)
    assert f.fport == 0 and f.frm_payload != b"\x02"
    assert decrypt_data(f, nwk, "ff" * 16, 10) == b"\x02"  # AppSKey not used on port 0


def test_fopts_parsed_lora_packet():
    # [LP] fopts_test "should parse packet #1" (github issue #18)
    f = parse_phy(_phy("4084412505A3010009110308B33750F504D4B86A"))
    assert f.fopts.hex() == "091103"
    assert (f.dev_addr, f.fcnt, f.adr, f.ack, f.fport) == ("05254184", 1, True, True, 8)


def test_downlink_mic_and_payload_brocaar_via_lora_packet():
    # [LP] fopts_test, vector taken from brocaar/lorawan: the 1.0-style MIC
    # with SNwkSIntKey and the FRMPayload with the AppSKey (FOpts there are
    # 1.1-encrypted, so only MIC and FRMPayload apply to 1.0.x).
    phy = base64.b64decode("YAQDAgEDAAAirAoB8LRo3ape0To=")
    f = parse_phy(phy)
    nwk = bytes([1] * 15 + [0])
    app = bytes(range(16, 0, -1))
    assert f.mtype is MType.UNCONFIRMED_DOWN and f.dev_addr == "01020304"
    assert verify_data_mic(f, nwk, 0)
    assert decrypt_data(f, nwk, app, 0).hex() == "01020304"


def test_confirmed_uplink_encoder_brocaar():
    # [BL] ExampleNewPHYPayload: ConfirmedDataUp, DevAddr 01020304, FCnt 0,
    # FPort 10, payload 01020304
    nwk = bytes(range(1, 17))
    app = bytes(range(16, 0, -1))
    phy = encode_uplink("01020304", 0, bytes([1, 2, 3, 4]), nwk, app, fport=10, confirmed=True)
    assert list(phy) == [128, 4, 3, 2, 1, 0, 0, 0, 10, 226, 100, 212, 247, 181, 106, 14, 117]


def test_join_request_mic_lora_packet():
    # [LP] mic_test "should calculate & verify correct join request packet MIC"
    phy = _phy("0039363463336913AA05693574323831330489C65B1304")
    req = parse_phy(phy)
    assert req.mic.hex() == "c65b1304"
    assert verify_join_request(req, LP_APPKEY)
    bad = parse_phy(_phy("0039363463336913AA05693574323831330489C65B1305"))
    assert not verify_join_request(bad, LP_APPKEY)
    # and our encoder reproduces it byte for byte
    assert encode_join_request(req.join_eui, req.dev_eui, req.dev_nonce, LP_APPKEY) == phy


def test_join_request_encoder_brocaar():
    # [BL] ExampleNewPHYPayload_joinRequest: AppEUI 01…, DevEUI 02…, DevNonce 0303
    phy = encode_join_request("0101010101010101", "0202020202020202", 0x0303, bytes(range(1, 17)))
    assert list(phy) == [0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 9, 185, 123, 50]


def test_join_accept_mic_lora_packet():
    # [LP] mic_test "should calculate & verify correct join accept packet MIC" (plain):
    # 20 | AppNonce 386337 | NetID ccbbaa | DevAddr e7cd2c01 (wire) | 00 | 00 | MIC d9d0a6e7
    from gateway.lorawan.crypto import join_mic

    plain = _phy("20386337CCBBAAE7CD2C010000D9D0A6E7")
    assert join_mic(Key.from_hex(LP_APPKEY), plain[:-4]).hex() == "d9d0a6e7"


def test_join_accept_zero_key_lora_packet():
    # [LP] join_accept_encrypt "should create join accept packet with zero value"
    key = "00" * 16
    phy = encode_join_accept(key, bytes(3), bytes(3), "00000000", rx_delay=0)
    assert phy.hex() == "20e3de108795f776b8037610ef7869b5b3"
    ja, ok = parse_join_accept(phy, key)
    assert ok and ja.mic.hex() == "f86f0a91"


def test_join_accept_decrypt_brocaar():
    # [BL] TestPHYPayloadJoinAccept: 20493eeb51fba2116f810edb3742975142 with
    # AppKey 00112233445566778899aabbccddeeff → MIC [67 72 91 188], DevAddr 02031980
    key = "00112233445566778899aabbccddeeff"
    ja, ok = parse_join_accept(_phy("20493eeb51fba2116f810edb3742975142"), key)
    assert ok
    assert list(ja.mic) == [67, 72, 91, 188]
    assert ja.dev_addr == "02031980"
    assert list(ja.app_nonce[::-1]) == [87, 11, 199] and list(ja.net_id[::-1]) == [34, 17, 1]
    assert (ja.dl_settings, ja.rx_delay, ja.cf_list) == (0, 0, b"")
    # and built the other way round
    assert encode_join_accept(key, ja.app_nonce, ja.net_id, ja.dev_addr, rx_delay=0) \
        == _phy("20493eeb51fba2116f810edb3742975142")


def test_join_accept_encoder_brocaar():
    # [BL] ExampleNewPHYPayload_joinAcceptSend: AppNonce 010101, NetID 020202,
    # DevAddr 01020304, AppKey 0102…10
    phy = encode_join_accept(bytes(range(1, 17)), bytes([1, 1, 1]), bytes([2, 2, 2]),
                             "01020304", rx_delay=0)
    assert list(phy) == [32, 35, 207, 51, 84, 137, 170, 227, 24, 60, 11, 224, 186, 168, 222,
                         229, 243]


def test_session_keys_lora_packet():
    # [LP] key_gen_test: AppNonce 376338, NetID aabbcc, DevNonce f18e (shown
    # big-endian there; wire order reversed here)
    nwk, app = derive_session_keys(Key.from_hex(LP_APPKEY), bytes.fromhex("386337"),
                                   bytes.fromhex("ccbbaa"), bytes.fromhex("8ef1"))
    assert nwk.hex() == "4e3d6e6afbcc67af2ba3c8e8ec4acf4b"
    assert app.hex() == "610897aa6f1460623443b527d3ac6a9d"


def test_encoder_round_trip_with_fopts_and_32bit_counter():
    # Not a published vector: our encoder and parser agree, the MIC binds
    # the high 16 bits of the counter, and FOpts stay in clear (1.0.x).
    nwk, app = "11" * 16, "22" * 16
    phy = encode_data(MType.CONFIRMED_UP, "26011234", 0x1_0005, b"\x01\x02", nwk, app,
                      fport=2, fopts=bytes([0x02]), adr=True)
    f = parse_phy(phy)
    assert (f.fcnt, f.fopts, f.adr, f.confirmed) == (5, b"\x02", True, True)
    assert verify_data_mic(f, nwk, 0x1_0005) and not verify_data_mic(f, nwk, 5)
    assert decrypt_data(f, nwk, app, 0x1_0005) == b"\x01\x02"
