"""A tiny raw Session Manager data-channel client for the sandbox's tests (aiohttp + the shared codec).

Deliberately independent of opstui.session.channel: it plays the plugin's receive rules (section 5.3)
with switches the tests need (stop acking, re-attach to a new socket with the same state).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable

import aiohttp

from opstui.session import codec
from opstui.session.codec import ClientMessage, PayloadType

CLIENT_ID = str(uuid.uuid4())
_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class RawSession:
    def __init__(self) -> None:
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ack = True
        #: re-ack duplicates as the reference recommends for native clients (the plugin drops them silently,
        #: which makes the agent resend forever when an ack was lost with a dropped socket)
        self.reack_duplicates = True
        self.expected = 0
        self.out_seq = 0
        self.buffer: dict[int, ClientMessage] = {}
        self.delivered: list[ClientMessage] = []  # in-order output_stream_data
        self.received: list[tuple[int, int]] = []  # (socket number, seq) of every output frame, dups included
        self.acks_received: list[int] = []
        self.control: list[ClientMessage] = []  # pause/start_publication and others
        self.closed: ClientMessage | None = None
        self.bad_frames = 0
        self.socket_closed = False
        self.sockets = 0

    async def attach(self, http: aiohttp.ClientSession, url: str, token: str) -> RawSession:
        self.ws = await http.ws_connect(url, autoping=True)
        self.sockets += 1
        self.socket_closed = False
        await self.ws.send_str(codec.open_frame(token, client_id=CLIENT_ID, client_version="1.2.650.0"))
        return self

    # --- receiving ---------------------------------------------------------------------------------

    async def recv_one(self, timeout: float) -> ClientMessage | None:
        assert self.ws is not None
        try:
            m = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            return None
        if m.type != aiohttp.WSMsgType.BINARY:
            if m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR,
                          aiohttp.WSMsgType.CLOSING):
                self.socket_closed = True
                self.close_info = (m.type, m.data, m.extra, self.ws.exception())
            return None
        try:
            msg = codec.decode(m.data)
        except codec.DecodeError:
            self.bad_frames += 1
            return None
        if msg.message_type == codec.OUTPUT:
            await self._on_output(msg)
        elif msg.message_type == codec.ACK:
            seq = codec.acked_sequence(msg)
            if seq is not None:
                self.acks_received.append(seq)
        elif msg.message_type == codec.CHANNEL_CLOSED:
            self.closed = msg
        else:
            self.control.append(msg)
        return msg

    async def _on_output(self, msg: ClientMessage) -> None:
        seq = msg.sequence_number
        self.received.append((self.sockets, seq))
        if seq < self.expected:
            if self.ack and self.reack_duplicates:
                await self._ack(msg)
            return
        if self.ack:
            await self._ack(msg)
        if seq > self.expected:
            self.buffer[seq] = msg
            return
        self.delivered.append(msg)
        self.expected += 1
        while self.expected in self.buffer:
            self.delivered.append(self.buffer.pop(self.expected))
            self.expected += 1

    async def read_until(self, pred: Callable[[RawSession], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; text so far: {self.clean[-500:]!r}")
            if self.socket_closed and self.closed is None:
                raise AssertionError(f"socket closed ({self.close_info}); text so far: {self.clean[-300:]!r}")
            await self.recv_one(min(left, 0.5))
            if self.socket_closed and pred(self):
                return

    async def _ack(self, msg) -> None:
        """Ack a frame; a socket the server is already closing (channel_closed, then the close) takes no ack,
        as for the real client: that race is not a failure."""
        # what is still buffered (channel_closed, then the close) is read next
        with contextlib.suppress(aiohttp.ClientConnectionResetError, ConnectionResetError):
            await self.ws.send_bytes(codec.ack_for(msg).encode())  # type: ignore[union-attr]

    async def read_text(self, needle: str, timeout: float = 10.0) -> None:
        await self.read_until(lambda s: needle in s.clean, timeout)

    async def read_closed(self, timeout: float = 10.0) -> dict:
        await self.read_until(lambda s: s.closed is not None, timeout)
        assert self.closed is not None
        return json.loads(self.closed.payload)

    async def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.socket_closed:
            await self.recv_one(left)

    # --- delivered data ------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return b"".join(m.payload for m in self.delivered
                        if m.payload_type in (PayloadType.OUTPUT, PayloadType.STDERR)).decode("utf-8", "replace")

    @property
    def clean(self) -> str:
        """The text without CSI sequences and carriage returns (bash's bracketed-paste toggles etc.)."""
        return _CSI.sub("", self.text).replace("\r", "")

    def payloads(self, ptype: int) -> str:
        return b"".join(m.payload for m in self.delivered if m.payload_type == ptype).decode("utf-8", "replace")

    # --- sending -------------------------------------------------------------------------------------

    async def send(self, ptype: int, payload: bytes, seq: int | None = None) -> int:
        if seq is None:
            seq = self.out_seq
            self.out_seq += 1
        msg = ClientMessage(codec.INPUT, sequence_number=seq, payload_type=ptype, payload=payload)
        await self.ws.send_bytes(msg.encode())  # type: ignore[union-attr]
        return seq

    async def keys(self, text: str) -> int:
        return await self.send(PayloadType.OUTPUT, text.encode())

    async def size(self, cols: int, rows: int) -> int:
        return await self.send(PayloadType.SIZE, codec.size_payload(cols, rows))

    async def handshake_response(self, statuses: dict[str, int]) -> int:
        actions = [{"ActionType": k, "ActionStatus": v, "ActionResult": None,
                    "Error": "" if v == 1 else f"{k} refused by the test client"} for k, v in statuses.items()]
        errors = [a["Error"] for a in actions if a["Error"]] or None
        body = {"ClientVersion": "1.2.650.0", "ProcessedClientActions": actions, "Errors": errors}
        return await self.send(PayloadType.HANDSHAKE_RESPONSE, json.dumps(body).encode())

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
