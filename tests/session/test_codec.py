"""The wire codec against every hex vector of shared/reference/ssm-session-protocol.md (section 3.4)."""

import hashlib
import uuid

import pytest

from opstui.session import codec
from opstui.session.codec import ClientMessage, DecodeError, PayloadType

A = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
B = uuid.UUID("a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8")
CREATED = 1700000000000


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


EX1 = h(
    "00000074696e7075745f73747265616d5f64617461202020202020202020202020202020000000010000018bcfe568000000"
    "00000000000000000000000000008899aabbccddeeff00112233445566771d887ce0f8672e4914d9000e801cd74ecd805dd9"
    "366c0bc42dc16adc0197dc2f00000001000000036c730d"
)
EX2 = h(
    """00000074 696e7075745f73747265616d5f64617461202020202020202020202020202020 00000001 0000018bcfe56800
    0000000000000001 0000000000000000 d1d2d3d4d5d6d7d8a1a2a3a4b1b2c1c2
    d53ca1ea7dce87c11432052a8550ed2615cf715ca843c89710ed83325b691cba 00000003 00000015
    7b22636f6c73223a38302c22726f7773223a32347d"""
)
EX3_ACK_JSON = (
    b'{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"00112233-4455-6677-8899-aabbccddeeff",'
    b'"AcknowledgedMessageSequenceNumber":5,"IsSequentialMessage":true}'
)
EX3 = (
    h(
        """00000074 61636b6e6f776c65646765202020202020202020202020202020202020202020 00000001 0000018bcfe56800
        0000000000000000 0000000000000003 d1d2d3d4d5d6d7d8a1a2a3a4b1b2c1c2
        c042f04dae720ddf0a04ac868690251897ea8e1f56ee6bc073b455575d2e1996 00000000 000000b0"""
    )
    + EX3_ACK_JSON
)
PLUGIN_KEYSTROKE = h(
    """00000074 696e7075745f73747265616d5f64617461202020202020202020202020202020 00000001 000001a22327ba54
    0000000000000001 0000000000000000 bca3ec948e3cbc1bd58b0832e2f04012
    acac86c0e609ca906f632b0e2dacccb2b77d22b0621f20ebece1a4835b93f6f0 00000001 00000001 6c"""
)


def test_ex1_keystrokes_encode_and_decode_byte_exact():
    msg = ClientMessage(codec.INPUT, 0, 0, A, PayloadType.OUTPUT, b"ls\r", CREATED)
    assert msg.encode() == EX1
    assert codec.decode(EX1) == msg


def test_ex2_size_message():
    msg = ClientMessage(codec.INPUT, 1, 0, B, PayloadType.SIZE, codec.size_payload(80, 24), CREATED)
    assert msg.encode() == EX2
    back = codec.decode(EX2)
    assert back.json() == {"cols": 80, "rows": 24} and back.message_id == B


def test_ex3_acknowledge():
    acked = ClientMessage(codec.OUTPUT, 5, 0, A, PayloadType.OUTPUT, b"x", CREATED)
    ack = codec.ack_for(acked, message_id=B, created_date=CREATED)
    assert ack.encode() == EX3
    assert codec.acked_sequence(codec.decode(EX3)) == 5


def test_captured_plugin_keystroke_frame_decodes():
    msg = codec.decode(PLUGIN_KEYSTROKE)
    assert msg.message_type == codec.INPUT and msg.sequence_number == 1 and msg.payload == b"l"
    assert msg.message_id == uuid.UUID("d58b0832-e2f0-4012-bca3-ec948e3cbc1b")
    assert msg.encode() == PLUGIN_KEYSTROKE


def test_hl112_nul_padded_channel_closed_parses():
    payload = b'{"MessageType":"channel_closed","SessionId":"s-1","Output":"bye","SchemaVersion":1}'
    import struct

    frame = (
        struct.pack(">I", 112)
        + b"channel_closed".ljust(32, b"\x00")
        + struct.pack(">IQqQ", 1, CREATED, 0, 0)
        + A.bytes[8:] + A.bytes[:8]
        + hashlib.sha256(payload).digest()
        + struct.pack(">I", len(payload))
        + payload
    )
    msg = codec.decode(frame)
    assert msg.message_type == codec.CHANNEL_CLOSED and msg.payload_type == 0
    assert msg.json()["Output"] == "bye" and msg.header_length == 112


def test_bad_digest_is_rejected():
    bad = bytearray(EX1)
    bad[-1] ^= 0xFF
    with pytest.raises(DecodeError):
        codec.decode(bytes(bad))


def test_truncated_and_garbage_frames_are_rejected():
    for junk in (b"", b"\x00" * 50, EX1[:119], b"\xff" * 200):
        with pytest.raises(DecodeError):
            codec.decode(junk)


def test_empty_payload_skips_digest_check_and_publication_frames_skip_validation():
    msg = ClientMessage(codec.OUTPUT, 4, 0, A, PayloadType.OUTPUT, b"", CREATED)
    assert codec.decode(msg.encode()).payload == b""
    pub = ClientMessage(codec.START_PUBLICATION, created_date=0)
    assert codec.decode(pub.encode()).message_type == codec.START_PUBLICATION


def test_open_frame_carries_all_five_fields():
    import json

    frame = json.loads(codec.open_frame("tok", client_id="c", request_id="r", client_version="1.2.650.0"))
    assert frame == {"MessageSchemaVersion": "1.0", "RequestId": "r", "TokenValue": "tok", "ClientId": "c",
                     "ClientVersion": "1.2.650.0"}


# --- the hot-path helpers give the same bytes and the same verdicts as the general codec ---------------------

def test_decode_output_agrees_with_decode():
    msg = ClientMessage(codec.OUTPUT, 7, 0, B, PayloadType.STDERR, b"out\xe2\x82", CREATED)
    raw = msg.encode()
    seq, ptype, payload, wid = codec.decode_output(raw)
    full = codec.decode(raw)
    assert (seq, ptype, payload) == (full.sequence_number, full.payload_type, full.payload)
    assert codec.uuid_text(wid) == str(full.message_id) == str(B)
    assert codec.decode_output(EX1) is None  # input_stream_data: not this fast path
    assert codec.decode_output(EX3) is None
    bad = bytearray(raw)
    bad[-1] ^= 0xFF
    with pytest.raises(DecodeError):
        codec.decode_output(bytes(bad))
    with pytest.raises(DecodeError):
        codec.decode_output(raw[:-1])
    undated = ClientMessage(codec.OUTPUT, 7, 0, B, PayloadType.OUTPUT, b"x", created_date=0).encode()
    with pytest.raises(DecodeError):
        codec.decode_output(undated)


def test_encode_frame_and_ack_frame_match_the_dataclass():
    msg = ClientMessage(codec.OUTPUT, 3, codec.FLAG_SYN, A, PayloadType.OUTPUT, b"hello", CREATED)
    raw = codec.encode_frame(codec.OUTPUT.encode().ljust(32, b" "), 3, codec.FLAG_SYN, codec.wire_id_of(A), 1,
                             b"hello", CREATED)
    assert raw == msg.encode()
    acked = ClientMessage(codec.OUTPUT, 5, 0, A, PayloadType.OUTPUT, b"x", CREATED)
    fast = codec.ack_frame(codec.OUTPUT, str(A), 5, CREATED)
    slow = codec.ack_for(acked, created_date=CREATED).encode()
    assert fast[:64] == slow[:64] and fast[80:] == slow[80:]  # all but the (fresh) ack id
    assert fast[80:] == EX3[80:] and codec.decode(fast).payload == EX3_ACK_JSON


def test_ack_sequence_fast():
    assert codec.ack_sequence_fast(EX3) == 5
    assert codec.ack_sequence_fast(EX1) is None  # not an ack
    assert codec.ack_sequence_fast(EX3[:-1]) is None  # truncated: left to the full decoder
    ids = codec.IdSource()
    assert len({ids.wire() for _ in range(1000)}) == 1000


def test_client_websocket_masking_round_trips():
    from opstui.session.channel import _masked

    data = bytes(range(256)) * 3 + b"tail"
    key = b"\x01\x82\x7f\xff"
    once = bytes(_masked(key, data))
    assert once != data and bytes(_masked(key, once)) == data
    assert once[:4] == bytes(d ^ k for d, k in zip(data[:4], key, strict=True))
