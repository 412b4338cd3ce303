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
        header = HEADER.pack(
            HEADER_LENGTH,
            mtype.ljust(32, b" "),
            self.schema_version,
            self.created_date,
            self.sequence_number,
            self.flags,
            _wire_id(self.message_id),
            hashlib.sha256(self.payload).digest(),
            int(self.payload_type),
            len(self.payload),
        )
        return header + self.payload

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.payload or b"{}")


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
_ack_ids = itertools.count(int.from_bytes(os.urandom(12), "big") << 32)


def ack_for(message: ClientMessage, *, message_id: uuid.UUID | None = None, created_date: int | None = None) -> ClientMessage:
    """The acknowledge for a stream message: seq 0, flags SYN|FIN, payload type 0, compact JSON.

    On the hot path (one per 1 KB of output): the JSON is formatted directly (same bytes as json.dumps with
    compact separators; the type and id are ASCII by construction) and ids come from a random base plus a
    counter instead of os.urandom per ack.
    """
    payload = (_ACK_JSON % (message.message_type, message.message_id, message.sequence_number)).encode()
    return ClientMessage(
        message_type=ACK,
        sequence_number=0,
        flags=FLAG_SYN | FLAG_FIN,
        message_id=message_id or uuid.UUID(int=next(_ack_ids) & ((1 << 128) - 1)),
        payload_type=PayloadType.NONE,
        payload=payload,
        created_date=created_date if created_date is not None else now_ms(),
    )


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
