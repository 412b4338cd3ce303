"""The Session Manager ClientMessage wire format (shared/reference/ssm-session-protocol.md, section 3).

One websocket binary message = one ClientMessage: a 120-byte big-endian header, then the payload.

    0  HeaderLength u32 (116 written; 112 and 116 read)   48 SequenceNumber i64     80 PayloadDigest sha256
    4  MessageType 32 bytes, space-padded                  56 Flags u64             112 PayloadType u32
    36 SchemaVersion u32 (1)                               64 MessageId, 8-byte     116 PayloadLength u32
    40 CreatedDate u64 (ms since epoch)                       halves swapped        120 Payload

Both the native client (opstui.session.channel) and the sandbox's agent use this module, so the two sides can
never disagree about the format; the reference's hex vectors pin it in tests.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import struct
import time
import uuid
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">I32sIQqQ16s32sII")  # 120 bytes, through PayloadLength
HEADER_LENGTH = 116
EMPTY_DIGEST = hashlib.sha256(b"").digest()

INPUT = "input_stream_data"
OUTPUT = "output_stream_data"
ACK = "acknowledge"
CHANNEL_CLOSED = "channel_closed"
START_PUBLICATION = "start_publication"
PAUSE_PUBLICATION = "pause_publication"
AGENT_SESSION_STATE = "agent_session_state"

FLAG_SYN = 1
FLAG_FIN = 2


class PayloadType(IntEnum):
    NONE = 0
    OUTPUT = 1
    ERROR = 2
    SIZE = 3
    PARAMETER = 4
    HANDSHAKE_REQUEST = 5
    HANDSHAKE_RESPONSE = 6
    HANDSHAKE_COMPLETE = 7
    ENC_CHALLENGE_REQUEST = 8
    ENC_CHALLENGE_RESPONSE = 9
    FLAG = 10
    STDERR = 11
    EXIT_CODE = 12


class DecodeError(ValueError):
    """A frame that is not a valid ClientMessage (too short, bad lengths, bad digest): drop it, never ack."""


def _wire_id(message_id: uuid.UUID) -> bytes:
    b = message_id.bytes
    return b[8:16] + b[0:8]


wire_id_of = _wire_id  # a message id in wire order (the 8-byte halves swapped)


def _uuid_from_wire(raw: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=raw[8:16] + raw[0:8])


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class ClientMessage:
    message_type: str
    sequence_number: int = 0
    flags: int = 0
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    payload_type: int = 0
    payload: bytes = b""
    created_date: int = field(default_factory=now_ms)
    schema_version: int = 1
    header_length: int = HEADER_LENGTH

    def encode(self) -> bytes:
        """Bytes exactly as the reference plugin serializes them (HL 116, space padding, SHA-256 digest)."""
        mtype = self.message_type.encode("ascii")
        if len(mtype) > 32:
            raise ValueError(f"message type too long: {self.message_type!r}")
        return encode_frame(mtype.ljust(32, b" "), self.sequence_number, self.flags, _wire_id(self.message_id),
                            int(self.payload_type), self.payload, self.created_date, self.schema_version)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.payload or b"{}")


def encode_frame(mtype: bytes, seq: int, flags: int, wire_id: bytes, ptype: int, payload: bytes,
                 created: int, schema: int = 1) -> bytes:
    """One frame from its parts (``mtype`` already space-padded to 32 bytes, ``wire_id`` in wire order).

    The hot path of both ends (one call per 1 KB of output and per ack): no dataclass, no UUID object."""
    return HEADER.pack(HEADER_LENGTH, mtype, schema, created, seq, flags, wire_id, _sha256(payload).digest(),
                       ptype, len(payload)) + payload


_sha256 = hashlib.sha256
_OUTPUT_TYPE = OUTPUT.encode().ljust(32, b" ")
_HL116 = HEADER_LENGTH.to_bytes(4, "big")
_OUTPUT_FIELDS = struct.Struct(">QqQ16s32sII")  # created, seq, flags, id, digest, payload type, length (at 40)


def decode_output(data: bytes) -> tuple[int, int, bytes, bytes] | None:
    """Fast path for the common frame, an HL-116 output_stream_data: (seq, payload type, payload, wire id).

    None when the frame is anything else (the caller then uses :func:`decode`, which handles every form);
    DecodeError exactly where :func:`decode` would raise one (bad digest, bad lengths, no created date)."""
    if data[4:36] != _OUTPUT_TYPE or data[:4] != _HL116:
        return None
    if len(data) < 120:
        raise DecodeError(f"frame too short ({len(data)} bytes)")
    created, seq, _flags, wire_id, digest, ptype, plen = _OUTPUT_FIELDS.unpack_from(data, 40)
    payload = data[120 : 120 + plen]
    if len(payload) != plen:
        raise DecodeError(f"payload length {plen} but {len(payload)} bytes present")
    if created == 0:
        raise DecodeError("missing message type or created date")
    if plen and _sha256(payload).digest() != digest:
        raise DecodeError("payload digest mismatch")
    return seq, ptype, payload, wire_id


def uuid_text(wire_id: bytes) -> str:
    """The canonical text of a message id given in wire order (== str(UUID)), without a UUID object."""
    h = (wire_id[8:16] + wire_id[0:8]).hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class IdSource:
    """Message ids for the hot path: a random 128-bit base plus a counter, in wire order (no os.urandom per
    message). Ids only have to be unique within a session; they are echoed back in acks, never interpreted."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = itertools.count(int.from_bytes(os.urandom(12), "big") << 32).__next__

    def wire(self) -> bytes:
        b = (self._next() & _MASK128).to_bytes(16, "big")
        return b[8:16] + b[0:8]


_MASK128 = (1 << 128) - 1


def decode(data: bytes, *, verify: bool = True) -> ClientMessage:
    """Parse one frame robustly: HL 116 or 112, space or NUL padding; bad digests raise DecodeError."""
    if len(data) < 116:
        raise DecodeError(f"frame too short ({len(data)} bytes)")
    (hl,) = struct.unpack_from(">I", data, 0)
    if hl not in (112, 116):
        raise DecodeError(f"unexpected header length {hl}")
    mtype = data[4:36].strip(b"\x00").decode("ascii", "replace").strip()
    schema, created, seq, flags = struct.unpack_from(">IQqQ", data, 36)
    message_id = _uuid_from_wire(data[64:80])
    digest = data[80:112]
    ptype = struct.unpack_from(">I", data, 112)[0] if hl >= 116 else 0
    if len(data) < hl + 4:
        raise DecodeError("frame ends inside the header")
    (plen,) = struct.unpack_from(">I", data, hl)
    payload = data[hl + 4 : hl + 4 + plen]
    if len(payload) != plen:
        raise DecodeError(f"payload length {plen} but {len(payload)} bytes present")
    if mtype not in (START_PUBLICATION, PAUSE_PUBLICATION):
        if not mtype or created == 0:
            raise DecodeError("missing message type or created date")
        if verify and plen and hashlib.sha256(payload).digest() != digest:
            raise DecodeError("payload digest mismatch")
    return ClientMessage(
        message_type=mtype,
        sequence_number=seq,
        flags=flags,
        message_id=message_id,
        payload_type=ptype,
        payload=payload,
        created_date=created,
        schema_version=schema,
        header_length=hl,
    )


_ACK_JSON = (
    '{"AcknowledgedMessageType":"%s","AcknowledgedMessageId":"%s",'
    '"AcknowledgedMessageSequenceNumber":%d,"IsSequentialMessage":true}'
)
_ACK_TYPE = ACK.encode().ljust(32, b" ")
_ack_ids = IdSource()


def ack_for(message: ClientMessage, *, message_id: uuid.UUID | None = None, created_date: int | None = None) -> ClientMessage:
    """The acknowledge for a stream message: seq 0, flags SYN|FIN, payload type 0, compact JSON."""
    payload = (_ACK_JSON % (message.message_type, message.message_id, message.sequence_number)).encode()
    return ClientMessage(
        message_type=ACK,
        sequence_number=0,
        flags=FLAG_SYN | FLAG_FIN,
        message_id=message_id or _uuid_from_wire(_ack_ids.wire()),
        payload_type=PayloadType.NONE,
        payload=payload,
        created_date=created_date if created_date is not None else now_ms(),
    )


def ack_frame(message_type: str, message_id: str, sequence_number: int, created_date: int) -> bytes:
    """The encoded acknowledge for a stream message given by its type, id text and sequence number: the same
    bytes as ``ack_for(message).encode()`` (the JSON is formatted directly, the same bytes as json.dumps with
    compact separators; type and id are ASCII by construction), without building any object. On the hot
    path: one per 1 KB of output."""
    payload = (_ACK_JSON % (message_type, message_id, sequence_number)).encode()
    return encode_frame(_ACK_TYPE, 0, FLAG_SYN | FLAG_FIN, _ack_ids.wire(), 0, payload, created_date)


def ack_sequence_fast(data: bytes) -> int | None:
    """The acknowledged sequence number of a well-formed HL-116 acknowledge in the compact form, else None
    (the caller then decodes the frame fully). No digest check: for the agent, which does not verify them
    (section 3.2)."""
    if data[4:36] != _ACK_TYPE or data[:4] != _HL116 or len(data) < 120:
        return None
    created, _seq, _flags, _id, _digest, _ptype, plen = _OUTPUT_FIELDS.unpack_from(data, 40)
    if created == 0 or len(data) != 120 + plen:
        return None
    match = _ACK_SEQ.search(data, 120)
    return int(match.group(1)) if match is not None else None


_ACK_SEQ = re.compile(rb'"AcknowledgedMessageSequenceNumber":\s*(-?\d+)\s*[,}]')


def acked_sequence(message: ClientMessage) -> int | None:
    """The sequence number an acknowledge refers to (None if the payload is not an ack).

    One ack arrives per output frame, so the common compact form is read with a regex; anything else goes
    through the JSON parser."""
    match = _ACK_SEQ.search(message.payload)
    if match is not None:
        return int(match.group(1))
    try:
        value = json.loads(message.payload)["AcknowledgedMessageSequenceNumber"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None


def size_payload(cols: int, rows: int) -> bytes:
    return json.dumps({"cols": int(cols), "rows": int(rows)}, separators=(",", ":")).encode()


def open_frame(token: str, *, client_id: str, request_id: str | None = None, client_version: str) -> str:
    """The first (text) websocket frame: OpenDataChannelInput. Contains the token: never log it."""
    return json.dumps(
        {
            "MessageSchemaVersion": "1.0",
            "RequestId": request_id or str(uuid.uuid4()),
            "TokenValue": token,
            "ClientId": client_id,
            "ClientVersion": client_version,
        },
        separators=(",", ":"),
    )
