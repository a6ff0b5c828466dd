"""LoRaWAN 1.0.x for mimamori: a minimal built-in network server.

Pure parts (no I/O): :mod:`.crypto` (CMAC, MIC, FRMPayload and join-accept
encryption, key derivation), :mod:`.frames` (PHYPayload parse/build — the
frame *encoder* that devices and simulators use), :mod:`.semtech` (the
packet-forwarder UDP protocol v2), :mod:`.network` (sessions, counters,
joins, de-duplication → readings or dead letters).
I/O parts: :mod:`.store` (sessions, frame counters and DevNonces in the
registry database), :mod:`.udp_server` (the UDP listener stage) and
:mod:`.forwarder` (a packet-forwarder client for tests and simulators).

The encoder API for simulators::

    from gateway.lorawan import encode_uplink, encode_join_request, parse_join_accept
    from gateway.lorawan import EndDevice      # keeps keys, DevAddr, FCnt, DevNonces
    from gateway.lorawan.forwarder import PacketForwarder
"""

from .crypto import Key, derive_session_keys
from .device import EndDevice
from .frames import (
    DataFrame,
    FrameError,
    JoinAccept,
    JoinRequest,
    MType,
    decrypt_data,
    encode_data,
    encode_join_accept,
    encode_join_request,
    encode_uplink,
    full_fcnt,
    parse_join_accept,
    parse_phy,
    verify_data_mic,
    verify_join_request,
)

__all__ = [
    "DataFrame", "EndDevice", "FrameError", "JoinAccept", "JoinRequest", "Key", "MType",
    "decrypt_data", "derive_session_keys", "encode_data", "encode_join_accept", "encode_join_request",
    "encode_uplink", "full_fcnt", "parse_join_accept", "parse_phy", "verify_data_mic",
    "verify_join_request",
]
