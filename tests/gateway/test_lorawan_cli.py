"""`mimamori lorawan decode` as a user runs it (a real subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

BIN = str(Path(sys.executable).parent / "mimamori")


def run(*args):
    return subprocess.run([BIN, "lorawan", "decode", *args], capture_output=True, text=True,
                          timeout=60)


def test_decode_data_frame_with_keys():
    # anthonykirby/lora-packet README example frame and keys
    r = run("40F17DBE4900020001954378762B11FF0D",
            "--nwkskey", "44024241ed4ce9a68c6a8bc055233fd3",
            "--appskey", "ec925802ae430ca77fd3dd73cb2cc588")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["type"] == "UnconfirmedUp" and out["dev_addr"] == "49be7df1"
    assert out["fcnt"] == 2 and out["fport"] == 1 and out["mic_valid"] is True
    assert out["payload"] == "74657374" and out["payload_text"] == "test"
    wrong = json.loads(run("40F17DBE4900020001954378762B11FF0D",
                           "--nwkskey", "00" * 16).stdout)
    assert wrong["mic_valid"] is False and "payload" not in wrong


def test_decode_join_accept_derives_keys_and_bad_input_is_one_line():
    # brocaar/lorawan TestPHYPayloadJoinAccept frame
    r = run("20493eeb51fba2116f810edb3742975142", "--appkey",
            "00112233445566778899aabbccddeeff", "--devnonce", "258")
    out = json.loads(r.stdout)
    assert out["type"] == "JoinAccept" and out["mic_valid"] and out["dev_addr"] == "02031980"
    assert len(out["nwk_s_key"]) == 32 and out["nwk_s_key"] != out["app_s_key"]
    bad = run("00112233")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "cannot decode" in bad.stderr
