"""The Session Manager data channel: a reliable, ordered byte stream over a websocket that survives drops.

Follows shared/reference/ssm-session-protocol.md, and does better where it names the reference plugin's flaws:
- every outgoing stream message enters the retransmission list even when the websocket write fails (the
  plugin loses it), and each message has its own timer (the plugin's copy bug resends every 100 ms);
- duplicates are re-acked (the plugin drops them silently, so a lost ack makes the agent resend forever);
- after a dropped socket we resume (ResumeSession, re-dial, new token) keeping every counter and buffer, and
  give up after a bounded time with a clear error and a TerminateSession (the plugin stays stuck);
- KMS-encrypted sessions are refused with the specified HandshakeResponse and a clear message.

No Textual here, and the session token never appears in a log line, an error or a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from opstui.session import codec
from opstui.session.codec import ClientMessage, DecodeError, PayloadType

try:  # aiohttp's C masking routine (used by its own writer); a pure-Python fallback keeps us independent of it
    from aiohttp._websocket.helpers import websocket_mask as _ws_mask_inplace
except Exception:  # pragma: no cover
    _ws_mask_inplace = None

log = logging.getLogger(__name__)

Ack = tuple[bytes, int]  # (message id in wire order, sequence number) of an output_stream_data to acknowledge

CLIENT_VERSION = "1.2.650.0"
RESEND_TICK = 0.05
INITIAL_RTT = 0.1
INITIAL_RTO = 0.2
MAX_RTO = 1.0
CLOSE_WAIT = 2.0  # seconds to wait for the service's websocket close frame
CLOCK_GRANULARITY = 0.01
INCOMING_BUFFER = 10_000
GIVE_UP_RESENDING_AFTER = 300.0  # seconds of unacknowledged resends (the plugin's 3000 x 100 ms)
KMS_REFUSAL = "KMS-encrypted sessions are not supported by this client"

ResumeFn = Callable[[], Awaitable[str]]  # calls ssm:ResumeSession, returns the new token
TerminateFn = Callable[[], Awaitable[None]]  # calls ssm:TerminateSession


class SessionError(Exception):
    """A session could not start or ended abnormally; the message is safe to show (no token)."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind  # kms | timeout | resume-failed | closed | invalid-token | error


@dataclass
class _Outgoing:
    raw: bytes
    seq: int
    first_sent: float
    last_sent: float
    attempts: int = 0


class DataChannel:
    """One session's data channel. `start()`, then `send()` / `resize()`, read with `read()` or `async for`."""

    def __init__(
        self,
        *,
        stream_url: str,
        token: str,
        session_id: str,
        resume: ResumeFn | None = None,
        terminate: TerminateFn | None = None,
        client_version: str = CLIENT_VERSION,
        resume_timeout: float = 60.0,
        ready_timeout: float = 30.0,
        size_debounce: float = 0.1,
        output_limit: int = 4 * 1024 * 1024,
        heartbeat: float = 30.0,
    ) -> None:
        self.stream_url = stream_url
        self._token = token
        self.session_id = session_id
        self._resume = resume
        self._terminate = terminate
        self.client_version = client_version
        self.client_id = str(uuid.uuid4())
        self.resume_timeout = resume_timeout
        self.ready_timeout = ready_timeout
        self.size_debounce = size_debounce
        self.output_limit = output_limit
        self.heartbeat = heartbeat

        self.state = "connecting"  # connecting | connected | reconnecting | closed
        self.ready = False
        self.exit_code: int | None = None
        self.close_reason = ""
        self.error: SessionError | None = None
        self.customer_message = ""
        self.reconnects = 0
        #: where StdErr (payload 11) goes when set: called with each chunk as it arrives, in order with the
        #: other stream frames, and the frame is acked at once (a non-interactive command's stderr, kept
        #: apart by `opstui shell -- COMMAND`), and the HandshakeComplete CustomerMessage too; when None, both
        #: are read with the output, as a terminal shows them
        self.on_stderr: Callable[[bytes], None] | None = None

        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._out_seq = 0
        self._unacked: OrderedDict[int, _Outgoing] = OrderedDict()
        self._pending: list[tuple[int, bytes]] = []  # (payload type, payload) held until ready
        self._expected = 0
        self._incoming: dict[int, ClientMessage] = {}
        self._rtt = INITIAL_RTT
        self._rttv = 0.0
        self.rto = INITIAL_RTO
        self._size: tuple[int, int] | None = None
        self._size_sent: tuple[int, int] | None = None
        self._size_task: asyncio.Task[None] | None = None
        # (chunk, the messages to acknowledge once the chunk is consumed) or None at the end
        self._output: asyncio.Queue[tuple[bytes, list[Ack] | None] | None] = asyncio.Queue()
        self._unconsumed: set[int] = set()  # sequence numbers delivered but not yet read (ack pending)
        self._acks_due: list[Ack] = []
        self._ack_flush_scheduled = False
        # in-order output taken off the socket in one pass of the reader, queued as one chunk when it yields
        self._batch: list[bytes] = []
        self._batch_acks: list[Ack] = []
        self._batch_scheduled = False
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._output_bytes = 0
        self._output_space = asyncio.Event()
        self._output_space.set()
        self._ready_event = asyncio.Event()
        self._closed_event = asyncio.Event()
        self._attached = asyncio.Event()
        self._local_close = False
        self.stats = {"frames_in": 0, "frames_out": 0, "resent": 0, "acks_in": 0, "acks_out": 0, "dropped_bad": 0}

    def __repr__(self) -> str:  # never the token
        return f"DataChannel(session_id={self.session_id!r}, state={self.state!r})"

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Dial, send the open frame and wait until the session is ready for input (or fails)."""
        self._http = aiohttp.ClientSession()
        try:
            await self._dial()
        except Exception as exc:
            await self._fail(SessionError(f"cannot open the data channel: {_describe(exc)}", kind="error"))
            raise self.error from None  # type: ignore[misc]
        self._tasks = [
            asyncio.create_task(self._reader(), name="ssm-reader"),
            asyncio.create_task(self._resender(), name="ssm-resender"),
        ]
        waiter = asyncio.create_task(self._ready_event.wait())
        closed = asyncio.create_task(self._closed_event.wait())
        try:
            done, _ = await asyncio.wait({waiter, closed}, timeout=self.ready_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            closed.cancel()
        if self._ready_event.is_set():
            return
        if not done:
            await self._fail(SessionError(
                f"the session did not start within {self.ready_timeout:.0f}s (no output from the agent)",
                kind="timeout"), terminate=True)
        raise self.error or SessionError(self.close_reason or "the session closed before it started", kind="closed")

    async def _dial(self) -> None:
        assert self._http is not None
        # ws_close bounds the wait for the service's close frame when we end the session (aiohttp's default
        # is 10 s): ctrl+c on a loaded machine must not hang on a goodbye
        ws = await self._http.ws_connect(
            self.stream_url, heartbeat=self.heartbeat, autoping=True, compress=0, max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_WAIT),
        )
        await ws.send_str(
            codec.open_frame(self._token, client_id=self.client_id, client_version=self.client_version)
        )
        with contextlib.suppress(Exception):
            await ws.ping(b"keepalive")
        self._ws = ws
        if self.state != "closed":
            self.state = "connected"
        self._attached.set()

    async def close(self, *, terminate: bool = True, linger: float = 2.0) -> None:
        """End the session: TerminateSession (the service then sends channel_closed, which carries the reason:
        wait up to ``linger`` seconds for it; 0 when quitting), then tear down."""
        if self.state == "closed":
            await self._teardown()
            return
        self._local_close = True
        if terminate and self._terminate is not None:
            with contextlib.suppress(Exception):
                await self._terminate()
            # give the service a moment to send channel_closed (it carries the reason)
            if linger > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._closed_event.wait(), linger)
        self._finish(self.close_reason or "closed by you")
        await self._teardown()

    async def _teardown(self) -> None:
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            if task is not asyncio.current_task():
                with contextlib.suppress(BaseException):
                    await task
        if self._size_task:
            self._size_task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._http is not None:
            with contextlib.suppress(Exception):
                await self._http.close()

    def _finish(self, reason: str) -> None:
        if self.state == "closed":
            return
        self._flush_batch()
        self.state = "closed"
        self.close_reason = reason
        self._closed_event.set()
        self._output.put_nowait(None)

    async def _fail(self, error: SessionError, *, terminate: bool = False) -> None:
        self.error = self.error or error
        if terminate and self._terminate is not None:
            with contextlib.suppress(Exception):
                await self._terminate()
        self._finish(str(error))

    async def wait_closed(self) -> None:
        await self._closed_event.wait()

    # -- input ---------------------------------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        """Keystrokes (PayloadType Output). Held until the session is ready; never lost."""
        if self.state == "closed":
            raise SessionError(f"the session is closed: {self.close_reason}", kind="closed")
        for start in range(0, len(data), 1024):
            chunk = data[start : start + 1024]
            if self.ready:
                await self._send_stream(PayloadType.OUTPUT, chunk)
            else:
                self._pending.append((PayloadType.OUTPUT, chunk))

    def send_nowait(self, data: bytes) -> None:
        """Keystrokes without awaiting: numbered, kept for retransmission and written to the socket now, in
        this call (the terminal sends each key from its key handler, ahead of any output waiting to be drawn,
        instead of a task that starts on a later turn of the event loop). Held until ready; never lost: a
        frame that cannot be written here is resent by the retransmission timer or after resume."""
        if self.state == "closed":
            raise SessionError(f"the session is closed: {self.close_reason}", kind="closed")
        for start in range(0, len(data), 1024):
            chunk = data[start : start + 1024]
            if not self.ready:
                self._pending.append((PayloadType.OUTPUT, chunk))
                continue
            msg = ClientMessage(codec.INPUT, self._out_seq, 0, uuid.uuid4(), PayloadType.OUTPUT, chunk)
            raw = msg.encode()
            now = time.monotonic()
            self._unacked[self._out_seq] = _Outgoing(raw, self._out_seq, now, now)
            self._out_seq += 1
            if not self._write_now([raw]):
                self._unacked[msg.sequence_number].last_sent = now - self.rto  # resent at the next tick

    def resize(self, cols: int, rows: int) -> None:
        """Remember the size; a Size message goes out after `size_debounce` seconds of quiet."""
        self._size = (int(cols), int(rows))
        if not self.ready or self.state == "closed":
            return
        if self._size_task is None or self._size_task.done():
            self._size_task = asyncio.create_task(self._send_size_later())

    async def _send_size_later(self) -> None:
        await asyncio.sleep(self.size_debounce)
        if self._size and self._size != self._size_sent and self.state != "closed":
            await self._send_size()

    async def _send_size(self) -> None:
        if self._size is None:
            return
        self._size_sent = self._size
        await self._send_stream(PayloadType.SIZE, codec.size_payload(*self._size))

    async def _send_stream(self, ptype: int, payload: bytes) -> None:
        msg = ClientMessage(codec.INPUT, self._out_seq, 0, uuid.uuid4(), ptype, payload)
        raw = msg.encode()
        now = time.monotonic()
        # recorded before the write: a failed write is retransmitted after resume, never lost
        self._unacked[self._out_seq] = _Outgoing(raw, self._out_seq, now, now)
        self._out_seq += 1
        await self._write(raw)

    async def _write(self, raw: bytes) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_bytes(raw)
        except Exception:
            return False
        self.stats["frames_out"] += 1
        return True

    async def _become_ready(self) -> None:
        if self.ready:
            return
        self.ready = True
        if self._size is not None:
            await self._send_size()
        pending, self._pending = self._pending, []
        for ptype, payload in pending:
            await self._send_stream(ptype, payload)
        self._ready_event.set()

    # -- output --------------------------------------------------------------------------------------------
    async def read(self) -> bytes | None:
        """The next chunk of terminal output, or None once the session is over."""
        return self._consumed(await self._output.get())

    def read_nowait(self) -> bytes | None:
        """A chunk if one is queued, else b"" (None once the session is over)."""
        try:
            item = self._output.get_nowait()
        except asyncio.QueueEmpty:
            return b""
        return self._consumed(item)

    def _consumed(self, item: tuple[bytes, list[Ack] | None] | None) -> bytes | None:
        if item is None:
            self._output.put_nowait(None)  # keep returning None
            return None
        chunk, acks = item
        self._output_bytes -= len(chunk)
        if self._output_bytes <= self.output_limit:
            self._output_space.set()
        if acks:
            # Flow control: a frame is acknowledged when its bytes are taken, not when they arrive. The agent
            # keeps a bounded number of unacknowledged frames in flight, so a reader that falls behind (the
            # terminal widget during a flood) slows the remote shell down, and the backlog between a key's echo
            # and the screen stays one agent window, not whatever the socket buffers hold.
            for _wire_id, seq in acks:
                self._unconsumed.discard(seq)
            self._acks_due.extend(acks)
            if not self._ack_flush_scheduled:
                self._ack_flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._flush_acks)
        return chunk

    def _flush_acks(self) -> None:
        """Send every ack due, in one write to the socket (one syscall for a window of output)."""
        self._ack_flush_scheduled = False
        due, self._acks_due = self._acks_due, []
        if not due or self.state == "closed":
            return
        created = codec.now_ms()
        frames = [codec.ack_frame(codec.OUTPUT, codec.uuid_text(wid), seq, created) for wid, seq in due]
        if self._write_now(frames):
            self.stats["acks_out"] += len(frames)
            return
        task = asyncio.create_task(self._send_frames(frames))
        self._ack_tasks.add(task)
        task.add_done_callback(self._ack_tasks.discard)

    async def _send_frames(self, frames: list[bytes]) -> None:
        for raw in frames:
            if await self._write(raw):
                self.stats["acks_out"] += 1

    def _write_now(self, frames: list[bytes]) -> bool:
        """Write whole websocket frames straight to the transport, in one write; False if that cannot be done
        here (no socket, or not aiohttp's usual writer), and the caller sends them one by one instead.

        The frames are built as aiohttp's client writer builds them (final, binary, masked, uncompressed;
        the session is dialled with compress=0) and always whole, so they never interleave with the frames
        aiohttp writes itself; the data is small (acks), so no drain is needed."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        transport = getattr(getattr(ws, "_writer", None), "transport", None)
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return False
        keys = os.urandom(4 * len(frames))
        parts = []
        for i, raw in enumerate(frames):
            n = len(raw)
            header = bytes((0x82, 0x80 | n)) if n < 126 else (
                bytes((0x82, 0xFE)) + n.to_bytes(2, "big") if n < 65536 else bytes((0x82, 0xFF)) + n.to_bytes(8, "big"))
            key = keys[4 * i : 4 * i + 4]
            parts.append(header)
            parts.append(key)
            parts.append(_masked(key, raw))
        try:
            transport.write(b"".join(parts))
        except Exception:
            return False
        self.stats["frames_out"] += len(frames)
        return True

    def __aiter__(self) -> DataChannel:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    @property
    def buffered_output(self) -> int:
        return self._output_bytes

    async def _deliver(self, data: bytes, ack: Ack | None = None) -> None:
        self._flush_batch()  # keep order with output taken on the fast path
        if not data:
            if ack is not None:
                await self._write_ack(*ack)
            return
        # Flow control: while the reader of this channel is behind, stop here. Frames then stay unread on the
        # socket and unacked, so the agent's window fills and it stops reading its pty: the producer slows
        # down, memory stays bounded, and keystrokes still go out (sending does not wait for this).
        while self._output_bytes > self.output_limit and self.state != "closed":
            self._output_space.clear()
            await self._output_space.wait()
        self._output_bytes += len(data)
        if ack is not None:
            self._unconsumed.add(ack[1])
        self._output.put_nowait((data, [ack] if ack is not None else None))

    def _take_output(self, seq: int, payload: bytes, wid: bytes) -> None:
        """The fast path: the next in-order, non-empty output frame while ready and not behind. No await: the
        reader goes on with the next frame already received, and everything taken in this pass becomes one
        queued chunk (and, once read, one write of acks) when the reader waits for the socket again."""
        self.stats["frames_in"] += 1
        self._expected = seq + 1
        self._unconsumed.add(seq)
        self._output_bytes += len(payload)
        self._batch.append(payload)
        self._batch_acks.append((wid, seq))
        if not self._batch_scheduled:
            self._batch_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_batch)

    def _flush_batch(self) -> None:
        self._batch_scheduled = False
        if not self._batch:
            return
        batch, acks = self._batch, self._batch_acks
        self._batch, self._batch_acks = [], []
        self._output.put_nowait((batch[0] if len(batch) == 1 else b"".join(batch), acks))

    # -- the reader ------------------------------------------------------------------------------------------
    async def _reader(self) -> None:
        binary = aiohttp.WSMsgType.BINARY
        while self.state != "closed":
            ws = self._ws
            if ws is None:
                break
            try:
                msg = await ws.receive()
            except asyncio.CancelledError:
                raise
            except Exception:
                msg = None
            if msg is not None and msg.type is binary:
                data = msg.data
                if self.ready and not self._incoming and self._output_bytes <= self.output_limit:
                    try:
                        fast = codec.decode_output(data)
                    except DecodeError:
                        self.stats["dropped_bad"] += 1  # dropped unacked; the agent's retransmission repairs it
                        continue
                    if fast is not None:
                        seq, ptype, payload, wid = fast
                        if seq == self._expected and payload and (
                                ptype == PayloadType.OUTPUT or (ptype == PayloadType.STDERR and self.on_stderr is None)):
                            self._take_output(seq, payload, wid)
                            continue
                self._flush_batch()
                await self._on_frame(data)
                continue
            if msg is not None and msg.type == aiohttp.WSMsgType.TEXT:
                self._flush_batch()
                await self._on_frame(msg.data.encode())
                continue
            self._flush_batch()
            # the socket is gone (error, close frame, or abort)
            if self.state == "closed" or self._local_close:
                break
            if not await self._reconnect():
                break

    async def _on_frame(self, data: bytes) -> None:
        try:
            message = codec.decode(data)
        except DecodeError:
            self.stats["dropped_bad"] += 1  # dropped without an ack; the agent's retransmission repairs it
            return
        self.stats["frames_in"] += 1
        mtype = message.message_type
        if mtype == codec.OUTPUT:
            await self._on_output(message)
        elif mtype == codec.ACK:
            self._on_ack(message)
        elif mtype == codec.CHANNEL_CLOSED:
            self._on_channel_closed(message)
        elif mtype in (codec.START_PUBLICATION, codec.PAUSE_PUBLICATION):
            pass  # the plugin ignores both; resends continue on their own timers
        else:
            log.debug("ignoring unknown message type %r", mtype)

    async def _ack(self, message: ClientMessage) -> None:
        await self._write_ack(codec.wire_id_of(message.message_id), message.sequence_number, message.message_type)

    async def _write_ack(self, wid: bytes, seq: int, message_type: str = codec.OUTPUT) -> None:
        if await self._write(codec.ack_frame(message_type, codec.uuid_text(wid), seq, codec.now_ms())):
            self.stats["acks_out"] += 1

    async def _on_output(self, message: ClientMessage) -> None:
        seq = message.sequence_number
        if seq == self._expected:
            if message.payload_type in (PayloadType.HANDSHAKE_REQUEST, PayloadType.HANDSHAKE_COMPLETE,
                                        PayloadType.ENC_CHALLENGE_REQUEST):
                await self._ack(message)
                await self._handle(message)
            elif message.payload_type in (PayloadType.OUTPUT, PayloadType.STDERR):
                await self._handle(message, ack_when_read=True)  # acked when the reader takes the bytes
            else:
                await self._handle(message)
                await self._ack(message)
            self._expected += 1
            while self._expected in self._incoming:
                await self._handle(self._incoming.pop(self._expected))
                self._expected += 1
        elif seq > self._expected:
            if len(self._incoming) < INCOMING_BUFFER:
                await self._ack(message)
                self._incoming[seq] = message
        elif seq not in self._unconsumed:
            await self._ack(message)  # a duplicate: re-ack so the agent stops resending it
        # (a duplicate of a frame still waiting to be read is acked when it is read)

    async def _handle(self, message: ClientMessage, *, ack_when_read: bool = False) -> None:
        ptype = message.payload_type
        if ptype == PayloadType.STDERR and self.on_stderr is not None:
            self._flush_batch()
            self.on_stderr(message.payload)
            if ack_when_read:
                await self._ack(message)
        elif ptype in (PayloadType.OUTPUT, PayloadType.STDERR):
            ack = (codec.wire_id_of(message.message_id), message.sequence_number) if ack_when_read else None
            await self._deliver(message.payload, ack)
            if not self.ready and ptype == PayloadType.OUTPUT:
                await self._become_ready()  # no-handshake path: first output means the shell is up
        elif ptype == PayloadType.EXIT_CODE:
            self.exit_code = _parse_exit_code(message.payload)
        elif ptype == PayloadType.HANDSHAKE_REQUEST:
            await self._on_handshake_request(message)
        elif ptype == PayloadType.HANDSHAKE_COMPLETE:
            with contextlib.suppress(ValueError, AttributeError):
                self.customer_message = str(message.json().get("CustomerMessage") or "")
            if self.customer_message and self.on_stderr is not None:
                self.on_stderr(self.customer_message.encode() + b"\n")  # a note for the person, not output
            elif self.customer_message:
                await self._deliver(self.customer_message.encode() + b"\r\n")
            await self._become_ready()
        elif ptype == PayloadType.ENC_CHALLENGE_REQUEST:
            await self._fail(SessionError(_kms_message(), kind="kms"), terminate=True)

    async def _on_handshake_request(self, message: ClientMessage) -> None:
        try:
            actions = message.json().get("RequestedClientActions") or []
        except ValueError:
            actions = []
        processed = []
        errors = []
        kms = False
        for action in actions:
            kind = action.get("ActionType", "")
            if kind == "SessionType":
                processed.append({"ActionType": kind, "ActionStatus": 1, "ActionResult": None, "Error": ""})
            elif kind == "KMSEncryption":
                kms = True
                processed.append({"ActionType": kind, "ActionStatus": 2, "ActionResult": None, "Error": KMS_REFUSAL})
                errors.append(KMS_REFUSAL)
            else:
                error = f"Unsupported action {kind}"
                processed.append({"ActionType": kind, "ActionStatus": 3, "ActionResult": None, "Error": error})
                errors.append(error)
        response = {"ClientVersion": self.client_version, "ProcessedClientActions": processed,
                    "Errors": errors or None}
        await self._send_stream(PayloadType.HANDSHAKE_RESPONSE, json.dumps(response, separators=(",", ":")).encode())
        if kms:
            await self._fail(SessionError(_kms_message(), kind="kms"), terminate=True)
            if self._ws is not None:
                with contextlib.suppress(Exception):
                    await self._ws.close()

    def _on_ack(self, message: ClientMessage) -> None:
        seq = codec.acked_sequence(message)
        if seq is None:
            return
        self.stats["acks_in"] += 1
        entry = self._unacked.pop(seq, None)
        if entry is None:
            return  # an ack for an unknown or already-acked sequence
        sample = time.monotonic() - entry.last_sent
        self._rttv = 0.75 * self._rttv + 0.25 * abs(self._rtt - sample)
        self._rtt = 0.875 * self._rtt + 0.125 * sample
        self.rto = min(self._rtt + max(CLOCK_GRANULARITY, 4 * self._rttv), MAX_RTO)

    def _on_channel_closed(self, message: ClientMessage) -> None:
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(message.json().get("Output") or "")
        self._finish(reason or "the session ended")

    # -- retransmission -------------------------------------------------------------------------------------
    async def _resender(self) -> None:
        while self.state != "closed":
            await asyncio.sleep(RESEND_TICK)
            if self.state != "connected" or not self._unacked:
                continue
            now = time.monotonic()
            for entry in list(self._unacked.values()):
                if now - entry.last_sent <= self.rto:
                    continue
                if now - entry.first_sent > GIVE_UP_RESENDING_AFTER:
                    await self._fail(SessionError(
                        "the agent stopped acknowledging input for 5 minutes; the session was terminated",
                        kind="timeout"), terminate=True)
                    return
                if not await self._write(entry.raw):
                    break
                entry.last_sent = now
                entry.attempts += 1
                self.stats["resent"] += 1

    # -- resume ------------------------------------------------------------------------------------------------
    async def _reconnect(self) -> bool:
        """ResumeSession + re-dial with the new token, keeping all state; bounded in time."""
        self._attached.clear()
        self.state = "reconnecting"
        if self._resume is None:
            await self._fail(SessionError("the connection dropped and this session cannot resume", kind="closed"))
            return False
        deadline = time.monotonic() + self.resume_timeout
        delay = 0.1
        last_error = ""
        while time.monotonic() < deadline and not self._local_close:
            try:
                token = await self._resume()
                if not token:
                    await self._fail(SessionError("the session timed out on the service side", kind="closed"))
                    return False
                self._token = token
                if self._ws is not None:
                    with contextlib.suppress(Exception):
                        await self._ws.close()
                await self._dial()
                self.reconnects += 1
                # unacked input is resent right away on the new socket; the agent resends its output
                for entry in list(self._unacked.values()):
                    if await self._write(entry.raw):
                        entry.last_sent = time.monotonic()
                        self.stats["resent"] += 1
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last_error = _describe(exc)
                if getattr(exc, "kind", "") in ("denied", "expired", "clock", "read-only", "not-found"):
                    break
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = delay * 2 if delay < 5 else 0.1
        await self._fail(SessionError(
            f"the connection dropped and could not be resumed within {self.resume_timeout:.0f}s"
            + (f" ({last_error})" if last_error else "") + "; the session was terminated",
            kind="resume-failed"), terminate=True)
        return False


def _masked(key: bytes, data: bytes) -> bytes | bytearray:
    """``data`` XOR the 4-byte websocket masking ``key`` (RFC 6455 5.3)."""
    if _ws_mask_inplace is not None:
        buf = bytearray(data)
        _ws_mask_inplace(key, buf)
        return buf
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def _parse_exit_code(payload: bytes) -> int | None:
    text = payload.decode("utf-8", "replace").strip()
    if text.upper().startswith("EXIT_CODE:"):
        text = text.split(":", 1)[1].strip()
    try:
        return int(text)
    except ValueError:
        return None


def _kms_message() -> str:
    return "this account encrypts sessions with KMS; not supported yet (the session was refused and terminated)"


def _describe(exc: BaseException) -> str:
    """A short, token-free description of a connection failure."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
