"""The sandbox's Session Manager data channel: an aiohttp websocket server playing MGS and the SSM agent.

Protocol: shared/reference/ssm-session-protocol.md; every frame goes through :mod:`opstui.session.codec`.
The server runs in its own thread with its own asyncio loop (``DataChannelServer``); all session state
lives on that loop, and other threads (moto's request handlers, tests) reach it through
:meth:`DataChannelServer.call`.

``/v1/data-channel/{session_id}``: the first TEXT frame is the OpenDataChannelInput; its TokenValue must be
the session's StartSession token or its latest ResumeSession token, else the socket gets a
``channel_closed`` with Output "invalid token" and is closed (counted; tokens are never logged).

Agent side (section 5.5/12.3), one :class:`AgentSession` per session, surviving dropped sockets:

* outgoing: sequence counter from 0 (SYN on seq 0), unacked list with per-message ``last_sent``, a 100 ms
  scheduler that resends only the front message when ``now - last_sent > RTO`` (RTO 200 ms initially, RTT
  and RTTV per section 5.4, no attempt limit), paused while no socket is attached or while paused by the
  ``pause`` fault. Output chunks are at most ``chunk_size`` bytes, cut at UTF-8 boundaries; empty payloads
  are never sent. Flow control: the PTY reader stops while ``len(unacked) >= window``; the window is
  ``settings.window`` while acks return promptly and shrinks (to 4 frames) while they return more than 2 ms
  later than the fastest seen, i.e. while the client's reader is behind: what is in flight is ahead of a
  keystroke's echo. Each wake-up reads what the window allows and sends those frames in one socket write.
* incoming: expected counter, out-of-order buffer, ack every in-order or future frame, re-ack duplicates.
  Until the shell is started, in-order input is "not ready": no ack, expected unchanged. During a
  handshake, stream data other than the HandshakeResponse is acked and dropped. The ``drop_input`` fault
  discards new input before all of this (as if lost on the way: no ack), and an ack for an output frame
  already acknowledged is counted (``acks_for_acked``), so tests can see the client re-ack duplicates.
* start: no handshake (default): the shell's first output is seq 0. ``handshake=True``: HandshakeRequest
  (seq 0), up to 15 s for the HandshakeResponse, all ActionStatus must be 1, then HandshakeComplete and the
  shell. ``kms=True`` adds a KMSEncryption action; the sandbox cannot encrypt, so a client that refuses it
  *and* one that accepts it both get a failed session (channel_closed with the reason).
* NonInteractiveCommands always starts with the handshake (the agent's plugin requires one:
  ``agent/session/plugins/noninteractivecommands/noninteractivecommands.go`` ``RequireHandshake``), so a
  command that prints nothing still gets a HandshakeComplete and the client knows the session is up.
* end: on shell exit (EOF/EIO) wait up to 2 s for the unacked output to drain; a NonInteractiveCommands
  session started with ``separateOutputStream=true`` then gets an ExitCode payload (12, ``EXIT_CODE: <n>``)
  and up to 1 s more for it to be acked, as the real agent sends it only there (``agent/session/shell/
  shell.go`` in aws/amazon-ssm-agent: ``sendExitCode`` is called from ``processCommandsWithOutputStreamSeparate``
  alone, which runs only when ``separateOutputStream`` is set; ``processCommandsWithExec`` sends stdout and
  stderr both as Output and no exit status; the PTY path for Standard_Stream and InteractiveCommands ends on
  the writePump's EOF with no exit status on the wire); then
  ``channel_closed`` (Output "") and close. The exit status stays visible in ``GET /_opstui/sessions``. TerminateSession, the grace period after a dropped socket
  (default 120 s) and ``channel_closed_112`` end the session the same way minus the ExitCode; the shell's
  process group gets SIGHUP, then SIGKILL after 1 s.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import signal
import struct
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from opstui.session import codec
from opstui.session.codec import ClientMessage, PayloadType

from .agent_shell import ShellProcess, node_bin, node_home, sanitize_name, shell_argv, shell_env, split_utf8
from .listener_guard import ListenerGuard
from .session_faults import SessionFault, SessionFaults

if TYPE_CHECKING:
    from .ssm_sessions import SessionRecord

log = logging.getLogger(__name__)

AGENT_VERSION = "3.3.1142.0"
RESEND_INTERVAL = 0.1
INITIAL_RTT = 0.1
INITIAL_RTO = 0.2
MAX_RTO = 1.0
CLOCK_GRANULARITY = 0.01
INCOMING_BUFFER = 10_000
OUTGOING_BUFFER = 100_000
EXIT_DRAIN_SECONDS = 2.0
REORDER_HOLD_SECONDS = 0.05
#: after channel_closed, how long the client gets to hang up itself before the server closes the socket
#: (the plugin drops the connection on channel_closed; closing at once would race the client's last acks)
CLOSE_LINGER_SECONDS = 0.5

_STREAM_PTYPE = {"out": PayloadType.OUTPUT, "err": PayloadType.STDERR}
_OUTPUT_TYPE = codec.OUTPUT.encode().ljust(32, b" ")
#: at most this much is read from the shell per wake-up (then cut into ``chunk_size`` frames)
READ_MAX = 64 * 1024
#: delay-based window (see AgentSession.window): acks later than this beyond the fastest seen mean the
#: client's reader is behind, and the window shrinks (never below MIN_WINDOW frames); on-time acks grow it back
QUEUE_DELAY_TARGET = 0.002
MIN_WINDOW = 4
#: while more than this is waiting in the socket's send buffer, the writer waits (backpressure)
WRITE_HIGH_WATER = 1024 * 1024


def _ws_binary_header(n: int) -> bytes:
    """The header of an unmasked, final, binary websocket frame of ``n`` bytes (RFC 6455 5.2; server side)."""
    if n < 126:
        return bytes((0x82, n))
    if n < 65536:
        return struct.pack(">BBH", 0x82, 126, n)
    return struct.pack(">BBQ", 0x82, 127, n)


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def channel_closed_frame(session_id: str, target: str, output: str, *, hl112: bool = False) -> bytes:
    """A channel_closed as MGS sends it (section 8); ``hl112``: the HeaderLength-112, NUL-padded variant."""
    message_id = uuid.uuid4()
    payload = json.dumps({
        "MessageId": str(message_id),
        "CreatedDate": _iso_now(),
        "DestinationId": target,
        "SessionId": session_id,
        "MessageType": codec.CHANNEL_CLOSED,
        "SchemaVersion": 1,
        "Output": output,
    }, separators=(",", ":")).encode()
    msg = ClientMessage(codec.CHANNEL_CLOSED, message_id=message_id, payload=payload)
    if not hl112:
        return msg.encode()
    wire_id = message_id.bytes[8:16] + message_id.bytes[0:8]
    header = struct.pack(">I32sIQqQ16s32s", 112, codec.CHANNEL_CLOSED.encode().ljust(32, b"\x00"), 1,
                         msg.created_date, 0, 0, wire_id, hashlib.sha256(payload).digest())
    return header + struct.pack(">I", len(payload)) + payload


def _corrupt_digest(raw: bytes) -> bytes:
    return raw[:80] + bytes([raw[80] ^ 0xFF]) + raw[81:]


@dataclass(slots=True)
class Outgoing:
    seq: int
    raw: bytes
    last_sent: float
    attempts: int = 0
    duplicate_after_ack: bool = False  # the ``duplicate`` fault with ``after_ack``: written again once acked


class Attachment:
    """One websocket attached to a session, with its own writer task (frames go out in queue order).

    The writer takes everything queued since it last ran and sends it in one write to the transport (one
    syscall for a window of output frames, not one per frame); the frames are built here, unmasked and
    uncompressed as aiohttp's server writer would build them, and whole frames never interleave with the
    control frames aiohttp writes itself (both write complete frames synchronously)."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None,
                 session: AgentSession) -> None:
        self.ws = ws
        self.transport = transport
        self.session = session
        self.items: deque[tuple[bytes, bool] | None] = deque()
        self._wake = asyncio.Event()
        self.held: tuple[bytes, bool] | None = None
        self._held_handle: asyncio.TimerHandle | None = None
        self.aborted = False
        self.closing = False
        self.reader_done = asyncio.Event()  # set when the handler stops reading this socket
        self.task = asyncio.get_running_loop().create_task(self._writer())

    def put(self, raw: bytes, abort_after: bool = False) -> None:
        if not self.closing:
            self.items.append((raw, abort_after))
            self._wake.set()

    def put_output(self, raw: bytes, *, duplicate: bool, reorder: bool, abort_after: bool) -> None:
        if reorder and self.held is None:
            self.held = (raw, abort_after)
            self._held_handle = asyncio.get_running_loop().call_later(REORDER_HOLD_SECONDS, self.release_held)
            return
        self.put(raw, abort_after and self.held is None)
        if duplicate:
            self.put(raw)
        self.release_held()

    def release_held(self) -> None:
        if self._held_handle is not None:
            self._held_handle.cancel()
            self._held_handle = None
        if self.held is not None:
            raw, abort_after = self.held
            self.held = None
            self.put(raw, abort_after)

    def put_close(self) -> None:
        if not self.closing:
            self.release_held()
            self.items.append(None)
            self._wake.set()
            self.closing = True

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self.aborted = True
        if self.transport is not None:
            self.transport.abort()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self.task), timeout)

    async def _writer(self) -> None:
        session = self.session
        items = self.items
        while True:
            if not items:
                self._wake.clear()
                await self._wake.wait()
                continue
            if items[0] is None:
                if not self.aborted:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.reader_done.wait(), CLOSE_LINGER_SECONDS)
                    try:
                        await asyncio.wait_for(self.ws.close(), 1.5)
                    except Exception:
                        self.abort()
                return
            delay = session.faults.delay_seconds(session.id)
            if delay:
                await asyncio.sleep(delay)
            # everything up to the close marker, or up to and including a frame that drops the socket after it
            batch: list[bytes] = []
            abort_after = False
            while items and items[0] is not None and not abort_after:
                raw, abort_after = items.popleft()  # type: ignore[misc]
                batch.append(raw)
                if delay:
                    break  # with a delay fault, each frame waits its own delay
            if self.aborted or self.ws.closed:
                continue
            try:
                await self._send(batch)
            except Exception:
                self.abort()
                continue
            session.stats["frames_sent"] += len(batch)
            if abort_after:
                session.stats["faults_dropped_sockets"] += 1
                self.abort()

    async def _send(self, batch: list[bytes]) -> None:
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            for raw in batch:
                await self.ws.send_bytes(raw)
            return
        parts = []
        for raw in batch:
            parts.append(_ws_binary_header(len(raw)))
            parts.append(raw)
        transport.write(b"".join(parts))
        while transport.get_write_buffer_size() > WRITE_HIGH_WATER and not transport.is_closing():
            await asyncio.sleep(0.005)


class AgentSession:
    """The agent (and MGS) for one session: reliability state + the shell. Lives on the server's loop."""

    def __init__(self, record: SessionRecord, server: DataChannelServer) -> None:
        self.record = record
        self.id = record.session_id
        self.server = server
        self.faults = server.faults
        self.loop = asyncio.get_running_loop()
        self.settings = record.settings
        self.out_seq = 0
        self.ids = codec.IdSource()
        self.unacked: OrderedDict[int, Outgoing] = OrderedDict()
        self.rtt, self.rttv, self.rto = INITIAL_RTT, 0.0, INITIAL_RTO
        self.cwnd = float(self.settings.window)
        self.base_rtt = float("inf")
        self.expected = 0
        self.inbuf: dict[int, ClientMessage] = {}
        self.dropped_inputs: set[int] = set()  # input sequence numbers the ``drop_input`` fault discarded
        self.attachment: Attachment | None = None
        self.phase = "new"  # new, handshake, starting, running, exiting, closed
        self.shell: ShellProcess | None = None
        self.carry: dict[str, bytes] = {}
        self.eof: set[str] = set()
        self.readers_active = False
        self.paused = False
        self.pending_input = bytearray()
        self.requested_actions: list[str] = []
        self.handshake_started = 0.0
        self.exit_code: int | None = None
        self.done = asyncio.Event()
        self.stats: dict[str, int] = dict.fromkeys(
            ("connects", "frames_sent", "output_frames", "resent", "acks_sent", "acks_received", "acks_withheld",
             "inputs", "duplicates", "not_ready", "dropped_during_handshake", "bad_frames", "reader_pauses",
             "faults_dropped_frames", "faults_dropped_sockets", "faults_dropped_inputs",
             "faults_duplicated_after_ack", "acks_for_acked"), 0)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._resend_task = self.loop.create_task(self._resend_loop())
        self._arm("grace", self.settings.grace_seconds, self._grace_expired)

    # --- small helpers ---------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        self._cancel(name)
        self._timers[name] = self.loop.call_later(delay, fn)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    @property
    def window(self) -> int:
        """Unacked output frames allowed in flight now: ``settings.window`` while acks come back promptly,
        down to MIN_WINDOW while they come back late (the client's reader is behind, e.g. a terminal widget
        during a flood). Whatever is in flight is ahead of a keystroke's echo, so a slow reader gets a small
        window and a fast one (a bulk `cat` into a sink) the whole of it."""
        return min(self.settings.window, int(self.cwnd))

    def snapshot(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "connected": 1 if self.attachment is not None else 0,
            "out_seq": self.out_seq,
            "expected": self.expected,
            "unacked": len(self.unacked),
            "reader_paused": bool(self.shell is not None and not self.readers_active and self.phase == "running"),
            "rto_ms": round(self.rto * 1000, 1),
            "window": self.window,
            "pid": self.shell.pid if self.shell else None,
            "exit_code": self.exit_code,
            **self.stats,
        }

    # --- sockets -----------------------------------------------------------------------------------

    def attach(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None) -> Attachment:
        old = self.attachment
        if old is not None:
            old.abort()  # one socket at a time: the new one replaces it
        att = Attachment(ws, transport, self)
        self.attachment = att
        self.stats["connects"] += 1
        self._cancel("grace")
        self.record.status = "Connected"
        if self.phase == "new":
            self._begin()
        elif self.unacked and not self.paused:
            # a re-attach after a drop: MGS replays what the client has not acknowledged, in order, at once
            # (the front-only RTO scheduler alone would trickle a full window out at ~10 frames a second)
            now = time.monotonic()
            for entry in self.unacked.values():
                entry.last_sent = now
                att.put(entry.raw)
                self.stats["resent"] += 1
        return att

    def detach(self, att: Attachment) -> None:
        if self.attachment is att:
            self.attachment = None
            if self.phase != "closed":
                self.record.status = "Disconnected"
                self._arm("grace", self.settings.grace_seconds, self._grace_expired)
        att.put_close()

    def _grace_expired(self) -> None:
        self._end("", "Terminated", details="No client connected within the grace period")

    # --- sending -----------------------------------------------------------------------------------

    def send_stream(self, ptype: int, payload: bytes) -> None:
        """Queue one output_stream_data message (kept until acked; sent now if a socket is attached)."""
        if not payload or self.phase == "closed":
            return
        seq = self.out_seq
        raw = codec.encode_frame(_OUTPUT_TYPE, seq, codec.FLAG_SYN if seq == 0 else 0, self.ids.wire(), ptype,
                                 payload, codec.now_ms())
        self.out_seq += 1
        entry = Outgoing(seq, raw, time.monotonic())
        if len(self.unacked) < OUTGOING_BUFFER:
            self.unacked[seq] = entry
        self.stats["output_frames"] += 1
        att = self.attachment
        if att is None or self.paused:
            return  # the resend scheduler delivers it once a socket is attached
        actions = self.faults.on_output(self.id)
        entry.duplicate_after_ack = actions.duplicate_after_ack
        if actions.drop:
            self.stats["faults_dropped_frames"] += 1
            if actions.abort_after:
                att.abort()
            return
        wire = _corrupt_digest(raw) if actions.bad_digest else raw
        att.put_output(wire, duplicate=actions.duplicate, reorder=actions.reorder, abort_after=actions.abort_after)

    def _send_control(self, message_type: str) -> None:
        if self.attachment is not None:
            self.attachment.put(ClientMessage(message_type).encode())

    def _ack(self, msg: ClientMessage) -> None:
        if self.faults.take_withhold_ack(self.id):
            self.stats["acks_withheld"] += 1
            return
        if self.attachment is not None:
            self.attachment.put(codec.ack_for(msg).encode())
            self.stats["acks_sent"] += 1

    async def _resend_loop(self) -> None:
        while self.phase != "closed":
            await asyncio.sleep(RESEND_INTERVAL)
            att = self.attachment
            if att is None or self.paused or not self.unacked:
                continue
            front = next(iter(self.unacked.values()))
            now = time.monotonic()
            if now - front.last_sent > self.rto:
                front.last_sent = now
                front.attempts += 1
                self.stats["resent"] += 1
                att.put(front.raw)

    async def _drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.unacked and time.monotonic() < deadline and self.phase != "closed":
            await asyncio.sleep(0.02)

    # --- receiving ---------------------------------------------------------------------------------

    def on_binary(self, data: bytes) -> None:
        seq = codec.ack_sequence_fast(data)  # one ack per output frame: the common case, without a decode
        if seq is not None:
            self._on_ack_seq(seq)
            return
        try:
            msg = codec.decode(data, verify=False)  # the agent does not check digests (section 3.2)
        except codec.DecodeError:
            self.stats["bad_frames"] += 1
            return
        if msg.message_type == codec.ACK:
            self._on_ack(msg)
        elif msg.message_type == codec.INPUT:
            if self._input_lost(msg):
                return
            self._on_input(msg)
        # start/pause_publication, channel_closed and unknown types from a client: ignored

    def _on_ack(self, msg: ClientMessage) -> None:
        seq = codec.acked_sequence(msg)
        if seq is not None:
            self._on_ack_seq(seq)

    def _on_ack_seq(self, seq: int) -> None:
        out = self.unacked.pop(seq, None)
        if out is None:
            if 0 <= seq < self.out_seq:
                # the client acknowledged a frame again (it re-acks duplicates); tests read this counter
                self.stats["acks_for_acked"] += 1
            return
        self.stats["acks_received"] += 1
        if out.duplicate_after_ack and self.attachment is not None:
            # the ``duplicate`` fault with ``after_ack``: a resend that crossed this ack on the wire
            self.stats["faults_duplicated_after_ack"] += 1
            self.attachment.put(out.raw)
        sample = time.monotonic() - out.last_sent
        if sample < self.base_rtt:
            self.base_rtt = sample
        limit = self.settings.window
        if sample - self.base_rtt > QUEUE_DELAY_TARGET:
            self.cwnd = max(min(MIN_WINDOW, limit), self.cwnd - 0.25)
        elif self.cwnd < limit:
            self.cwnd = min(limit, self.cwnd + 0.25)
        self.rttv = 0.75 * self.rttv + 0.25 * abs(self.rtt - sample)
        self.rtt = 0.875 * self.rtt + 0.125 * sample
        self.rto = min(self.rtt + max(CLOCK_GRANULARITY, 4 * self.rttv), MAX_RTO)
        if self.phase == "running" and not self.readers_active and len(self.unacked) < self.window:
            self._add_readers()

    def _input_lost(self, msg: ClientMessage) -> bool:
        """The ``drop_input`` fault: discard an input frame not accepted yet, as if lost on the way (no ack,
        not processed). Duplicates of accepted frames and resends of a discarded one pass, so the fault takes
        first transmissions only and the client's retransmission is what delivers the input."""
        seq = msg.sequence_number
        if seq < self.expected or seq in self.inbuf or seq in self.dropped_inputs:
            return False
        if not self.faults.take_drop_input(self.id):
            return False
        self.dropped_inputs.add(seq)
        self.stats["faults_dropped_inputs"] += 1
        return True

    def _on_input(self, msg: ClientMessage) -> None:
        seq = msg.sequence_number
        if seq < self.expected:
            self.stats["duplicates"] += 1
            self._ack(msg)  # re-ack: the first ack may have been lost
            return
        if seq > self.expected:
            if len(self.inbuf) < INCOMING_BUFFER:
                self._ack(msg)
                self.inbuf[seq] = msg
            return
        if not self._handle_input(msg):
            self.stats["not_ready"] += 1
            return  # no ack, expected unchanged: the client's retransmission covers it
        self._ack(msg)
        self.expected += 1
        while self.expected in self.inbuf:
            nxt = self.inbuf.pop(self.expected)
            if not self._handle_input(nxt):
                self.inbuf[self.expected] = nxt
                break
            self.expected += 1

    def _handle_input(self, msg: ClientMessage) -> bool:
        """Process one in-order input frame; False = handler not ready."""
        if self.phase == "handshake":
            if msg.payload_type == PayloadType.HANDSHAKE_RESPONSE:
                self._on_handshake_response(msg)
            else:
                self.stats["dropped_during_handshake"] += 1
            return True
        if self.phase in ("new", "starting"):
            return False
        self.stats["inputs"] += 1
        if self.phase != "running" or self.shell is None:
            return True  # exiting/closed: acked and dropped
        if msg.payload_type == PayloadType.OUTPUT:
            self._write_input(msg.payload)
        elif msg.payload_type == PayloadType.SIZE:
            try:
                size = json.loads(msg.payload)
                cols, rows = int(size["cols"]), int(size["rows"])
            except (ValueError, KeyError, TypeError):
                return True
            if 0 < cols < 10_000 and 0 < rows < 10_000:
                with contextlib.suppress(OSError):
                    self.shell.resize(cols, rows)
        # Flag (10) and anything else: ignored by a shell session
        return True

    def _write_input(self, data: bytes) -> None:
        assert self.shell is not None
        if not self.shell.pty_mode:
            return  # NonInteractiveCommands: stdin is /dev/null
        self.pending_input += data
        self._flush_input()

    def _flush_input(self) -> None:
        shell = self.shell
        if shell is None or "out" not in shell.fds:
            self.pending_input.clear()
            return
        fd = shell.fds["out"]
        try:
            n = shell.write(bytes(self.pending_input))
        except OSError:
            n = len(self.pending_input)
        del self.pending_input[:n]
        if self.pending_input:
            self.loop.add_writer(fd, self._on_writable)
        else:
            self.loop.remove_writer(fd)

    def _on_writable(self) -> None:
        self._flush_input()

    # --- start -------------------------------------------------------------------------------------

    def _begin(self) -> None:
        settings = self.settings
        # the NonInteractiveCommands plugin always asks for a handshake (agent noninteractivecommands.go:
        # RequireHandshake returns true); the shell documents only when a knob (or KMS) asks for one
        if not (settings.handshake or settings.kms or self.record.session_type == "NonInteractiveCommands"):
            self._start_shell()
            return
        self.phase = "handshake"
        rec = self.record
        actions: list[dict[str, Any]] = [{"ActionType": "SessionType", "ActionParameters": {
            "SessionType": rec.session_type, "Properties": None}}]
        if settings.kms:
            key = uuid.uuid5(uuid.NAMESPACE_URL, rec.session_id)
            actions.append({"ActionType": "KMSEncryption", "ActionParameters": {
                "KMSKeyId": f"arn:aws:kms:{rec.region}:{rec.account_id}:key/{key}",
                "Challenge": base64.b64encode(os.urandom(32)).decode()}})
        self.requested_actions = [a["ActionType"] for a in actions]
        self.handshake_started = time.monotonic()
        body = {"AgentVersion": AGENT_VERSION, "RequestedClientActions": actions}
        self.send_stream(PayloadType.HANDSHAKE_REQUEST, json.dumps(body, separators=(",", ":")).encode())
        self._arm("handshake", settings.handshake_timeout, lambda: self._end(
            "Handshake timed out. Please ensure that you have the latest version of the session manager plugin.",
            "Failed"))

    def _on_handshake_response(self, msg: ClientMessage) -> None:
        self._cancel("handshake")
        try:
            processed = json.loads(msg.payload)["ProcessedClientActions"]
            by_type = {p["ActionType"]: p for p in processed}
        except (ValueError, KeyError, TypeError):
            self._end_soon("Handshake failed: malformed HandshakeResponse", "Failed")
            return
        problems = []
        for action in self.requested_actions:
            entry = by_type.get(action)
            if entry is None:
                problems.append(f"{action}: no response")
            elif entry.get("ActionStatus") != 1:
                problems.append(f"{action}: {entry.get('Error') or 'status ' + str(entry.get('ActionStatus'))}")
        if problems:
            self._end_soon("Handshake failed: " + "; ".join(problems), "Failed")
            return
        if "KMSEncryption" in self.requested_actions:
            self._end_soon("KMS encryption is not supported by the opstui sandbox agent", "Failed")
            return
        elapsed_ns = int((time.monotonic() - self.handshake_started) * 1e9)
        body = {"HandshakeTimeToComplete": elapsed_ns, "CustomerMessage": ""}
        self.send_stream(PayloadType.HANDSHAKE_COMPLETE, json.dumps(body, separators=(",", ":")).encode())
        self._start_shell()

    def _start_shell(self) -> None:
        self.phase = "starting"
        rec = self.record
        try:
            home = node_home(self.server.state_dir, rec.target)
            computer = rec.computer_name or sanitize_name(rec.node_name, rec.target)
            bin_dir = node_bin(self.server.state_dir, rec.target, computer, rec.ip_address)
            env = shell_env(home=home, node_id=rec.target, node_name=rec.node_name, region=rec.region,
                            session_id=rec.session_id, computer_name=computer, bin_dir=bin_dir)
            if rec.platform == "Windows":
                env.update({"COMPUTERNAME": computer, "USERNAME": "ssm-user"})
            argv = shell_argv(platform=rec.platform, command=rec.command, computer_name=computer, home=home)
            self.shell = ShellProcess(argv, env=env, cwd=home, pty_mode=rec.session_type != "NonInteractiveCommands")
            self.shell.start()
        except OSError as exc:
            self.shell = None
            self._end(f"Unable to start the shell: {exc.strerror or exc}", "Failed")
            return
        self.carry = dict.fromkeys(self.shell.fds, b"")
        self.phase = "running"
        self._add_readers()

    # --- the shell's output ------------------------------------------------------------------------

    def _add_readers(self) -> None:
        assert self.shell is not None
        for name, fd in self.shell.fds.items():
            if name not in self.eof:
                self.loop.add_reader(fd, self._on_readable, name)
        self.readers_active = True

    def _remove_readers(self) -> None:
        if self.shell is not None:
            for fd in self.shell.fds.values():
                self.loop.remove_reader(fd)
        self.readers_active = False

    def _on_readable(self, name: str) -> None:
        shell = self.shell
        if shell is None or name not in shell.fds:
            return
        fd = shell.fds[name]
        carry = self.carry.get(name, b"")
        chunk = self.settings.chunk_size
        # Read what the window allows (several frames' worth) in one go, and frame it all in this pass: one
        # wake-up, one read and one socket write per window instead of per 1 KB. Frames stay <= chunk_size.
        room = max(1, self.window - len(self.unacked))
        want = max(1, min(READ_MAX, room * chunk) - len(carry))
        try:
            data = os.read(fd, want)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: every holder of the PTY slave is gone
        if data and len(data) < want:
            # a PTY master returns at most 4095 bytes a read: read on until the window is covered or the PTY
            # is empty, so the whole window goes out in one socket write (an error or EOF shows up next time)
            parts = [data]
            got = len(data)
            while got < want:
                try:
                    more = os.read(fd, want - got)
                except OSError:
                    break
                if not more:
                    break
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        # without separateOutputStream the agent sends the command's stderr as Output too (shell.go
        # processCommandsWithExec: one output file for both)
        ptype = _STREAM_PTYPE[name] if self.record.separate_output else PayloadType.OUTPUT
        if not data:
            self.loop.remove_reader(fd)
            self.eof.add(name)
            if carry:
                self.send_stream(ptype, carry)
                self.carry[name] = b""
            if self.eof >= set(shell.fds) and self.phase == "running":
                self.phase = "exiting"
                self._spawn(self._on_exit())
            return
        buf = carry + data if carry else data
        pos, end = 0, len(buf)
        while end - pos > chunk:
            complete, _tail = split_utf8(buf[pos : pos + chunk])  # a cut UTF-8 sequence goes to the next frame
            self.send_stream(ptype, complete)
            pos += len(complete)
        complete, tail = split_utf8(buf[pos:] if pos else buf)
        self.carry[name] = tail
        if complete:
            self.send_stream(ptype, complete)
        if len(self.unacked) >= self.window and self.readers_active:
            self._remove_readers()
            self.stats["reader_pauses"] += 1

    async def _on_exit(self) -> None:
        shell = self.shell
        assert shell is not None
        code = None
        for _ in range(250):  # the PTY reports EOF as the last holder closes; the exit status follows
            code = shell.poll()
            if code is not None:
                break
            await asyncio.sleep(0.02)
        if code is None:
            shell.signal(signal.SIGKILL)
            await asyncio.sleep(0.1)
            code = shell.poll()
        self.exit_code = 255 if code is None else code
        self.record.exit_code = self.exit_code
        await self._drain(EXIT_DRAIN_SECONDS)
        if self.phase == "closed":
            return
        if self.record.session_type == "NonInteractiveCommands" and self.record.separate_output:
            self.send_stream(PayloadType.EXIT_CODE, f"EXIT_CODE: {self.exit_code}".encode())
            await self._drain(1.0)
        self._end("", "Terminated")

    # --- end ---------------------------------------------------------------------------------------

    def _end_soon(self, output: str, status: str) -> None:
        self.loop.call_soon(self._end, output, status)

    def _end(self, output: str, status: str, *, hl112: bool = False, details: str | None = None) -> None:
        """End the session: channel_closed to the client, close the socket, kill the shell."""
        if self.phase == "closed":
            return
        self.phase = "closed"
        for name in list(self._timers):
            self._cancel(name)
        self._resend_task.cancel()
        rec = self.record
        att = self.attachment
        if att is not None:
            att.release_held()
            att.put(channel_closed_frame(rec.session_id, rec.target, output, hl112=hl112))
            att.put_close()
        rec.finish(status, details if details is not None else output)
        self._spawn(self._reap())

    async def _reap(self) -> None:
        shell = self.shell
        if shell is not None:
            self._remove_readers()
            if "out" in shell.fds:
                self.loop.remove_writer(shell.fds["out"])
            shell.signal(signal.SIGHUP)
            shell.signal(signal.SIGCONT)
            for _ in range(50):
                if shell.poll() is not None:
                    break
                await asyncio.sleep(0.02)
            shell.signal(signal.SIGKILL)  # whatever is left in its process group
            shell.kill_session()  # and in its session (jobs with their own process group, disowned ones)
            for _ in range(50):
                if shell.poll() is not None:
                    break
                await asyncio.sleep(0.02)
            shell.close_fds()
        if self.attachment is not None:
            await self.attachment.wait(2.0)
        self.done.set()

    # --- faults that act now -------------------------------------------------------------------------

    def apply_immediate(self, rule: SessionFault) -> bool:
        if self.phase == "closed" or self.attachment is None:
            return False
        if rule.kind == "drop":
            self.stats["faults_dropped_sockets"] += 1
            self.attachment.abort()
        elif rule.kind == "channel_closed_112":
            self._end("closed by the sandbox", "Terminated", hl112=True)
        elif rule.kind == "pause":
            self._send_control(codec.PAUSE_PUBLICATION)
            self.paused = True
            self._arm("pause", float(rule.params["ms"]) / 1000.0, self._unpause)
        return True

    def _unpause(self) -> None:
        self.paused = False
        self._send_control(codec.START_PUBLICATION)


class DataChannelServer:
    """aiohttp websocket server in its own thread and loop; owns every AgentSession."""

    def __init__(self, host: str, state_dir: Path, faults: SessionFaults,
                 lookup: Callable[[str], SessionRecord | None]) -> None:
        self.host = host
        self.state_dir = Path(state_dir)
        self.faults = faults
        self.lookup = lookup
        self.port: int | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.agents: dict[str, AgentSession] = {}
        self.refused_invalid_token = 0
        self.refused_requests = 0  # foreign Host, browser Origin, preflight (listener_guard)
        self.guard = ListenerGuard(host)
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._setup())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="opstui-sandbox-datachannel", daemon=True)
        self._thread.start()
        ready.wait(15)
        if errors or self.port is None:
            self._thread.join(1)
            self._thread = None
            self.loop = None
            raise RuntimeError(f"data-channel server failed to start: {errors[0] if errors else 'timeout'}")

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        """The listener guard (foreign Host, browsers) before any handler, websocket or not."""
        reason = self.guard.refusal(request.method, request.headers.get("Host"), request.headers.items())
        if reason is not None:
            self.refused_requests += 1
            return web.Response(status=403, text=reason + "\n")
        return await handler(request)

    async def _setup(self) -> None:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/v1/data-channel/{session_id}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.guard.bind(self.port)

    def stop(self) -> None:
        """End every session (killing its shell), stop the server and the thread. Idempotent."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        except Exception:
            log.exception("data-channel shutdown")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self.loop = None
        self.port = None

    async def _shutdown(self) -> None:
        for agent in list(self.agents.values()):
            agent._end("The sandbox is shutting down", "Terminated")
        dones = [agent.done.wait() for agent in self.agents.values()]
        if dones:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*dones), 5)
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not current]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.gather(*rest, return_exceptions=True)

    # --- cross-thread calls ------------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result (directly if already there)."""
        loop = self.loop
        if loop is None:
            raise RuntimeError("data-channel server not running")
        if threading.current_thread() is self._thread:
            return fn(*args)
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:
                fut.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return fut.result(timeout)

    def create_agent(self, record: SessionRecord) -> None:
        def make() -> None:
            self.agents[record.session_id] = AgentSession(record, self)

        self.call(make)

    def terminate(self, session_id: str, output: str = "") -> None:
        def end() -> None:
            agent = self.agents.get(session_id)
            if agent is not None:
                agent._end(output, "Terminated")

        self.call(end)

    def apply_immediate(self, rule: SessionFault) -> int:
        def apply() -> int:
            return sum(1 for sid, agent in list(self.agents.items())
                       if rule.matches(sid) and agent.apply_immediate(rule))

        return self.call(apply)

    def snapshot(self, session_id: str) -> dict[str, Any] | None:
        agent = self.agents.get(session_id)
        return agent.snapshot() if agent is not None else None

    # --- the websocket -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        session_id = request.match_info["session_id"]
        ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20, timeout=1.0)
        await ws.prepare(request)
        try:
            first = await ws.receive(timeout=30)
        except TimeoutError:
            await ws.close()
            return ws
        token: Any = None
        if first.type == WSMsgType.TEXT:
            with contextlib.suppress(ValueError, AttributeError):
                token = json.loads(first.data).get("TokenValue")
        record = self.lookup(session_id)
        agent = self.agents.get(session_id)
        if record is None or agent is None or not isinstance(token, str) or not record.token_ok(token):
            self.refused_invalid_token += 1
            if record is not None:
                record.invalid_tokens += 1
            log.info("data channel %s: refused an open with an invalid token", session_id)
            await self._refuse(ws, session_id, record.target if record else "", "invalid token")
            return ws
        if agent.phase == "closed":
            await self._refuse(ws, session_id, record.target, f"Session {session_id} has ended")
            return ws
        att = agent.attach(ws, request.transport)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    agent.on_binary(msg.data)
        except Exception:
            log.debug("data channel %s: socket error", session_id, exc_info=True)
        finally:
            att.reader_done.set()
            agent.detach(att)
            await att.wait(3.0)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse, session_id: str, target: str, output: str) -> None:
        with contextlib.suppress(Exception):
            await ws.send_bytes(channel_closed_frame(session_id, target, output))
            deadline = time.monotonic() + CLOSE_LINGER_SECONDS
            while not ws.closed and (left := deadline - time.monotonic()) > 0:
                msg = await ws.receive(timeout=left)
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
            await asyncio.wait_for(ws.close(), 1.5)
