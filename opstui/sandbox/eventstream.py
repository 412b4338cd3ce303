"""AWS's event-stream framing (``application/vnd.amazon.eventstream``), the encoding half.

Why here: moto answers StartLiveTail with one buffered body; the sandbox streams its own (:mod:`.logs_live_tail`)
and needs to frame each event itself. The wire format
(https://smithy.io/2.0/aws/amazon-eventstream.html, and what ``botocore.eventstream`` decodes):

    [total length: u32][headers length: u32][prelude CRC32: u32]
    headers: [name length: u8][name][type: u8 = 7, string][value length: u16][value] ...
    [payload][message CRC32 of everything before it: u32]

Only string headers are written: ``:message-type`` (``event`` or ``exception``), ``:event-type`` or
``:exception-type``, ``:content-type``. Lengths are big-endian. ``tests/sandbox/test_logs_live_tail.py``
decodes these frames with botocore's own decoder.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

_STRING = 7
PRELUDE = 12  # total length, headers length, prelude CRC
MAX_HEADER_VALUE = 32_767  # botocore's limit on a string header
MAX_PAYLOAD = 16 * 1024 * 1024  # botocore's limit on a message's payload


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode_headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        if not 0 < len(raw_name) < 256 or len(raw_value) > MAX_HEADER_VALUE:
            raise ValueError(f"header {name!r} does not fit the event-stream format")
        out += struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One framed message: prelude + its CRC, headers, payload, message CRC."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload larger than an event-stream message allows")
    raw_headers = encode_headers(headers)
    total = PRELUDE + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    body = prelude + struct.pack("!I", _crc(prelude)) + raw_headers + payload
    return body + struct.pack("!I", _crc(body))


def event(event_type: str, payload: Any) -> bytes:
    """An event message with a JSON payload (the JSON protocol's events)."""
    return encode_message({":message-type": "event", ":event-type": event_type,
                           ":content-type": "application/json"},
                          json.dumps(payload, ensure_ascii=False).encode())


def exception(exception_type: str, message: str) -> bytes:
    """A modelled exception on the stream (botocore raises ``EventStreamError`` with this code)."""
    return encode_message({":message-type": "exception", ":exception-type": exception_type,
                           ":content-type": "application/json"},
                          json.dumps({"message": message}, ensure_ascii=False).encode())
