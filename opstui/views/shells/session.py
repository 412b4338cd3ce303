"""One Session Manager shell: a node's data channel, its embedded terminal and its status line.

A `ShellSession` owns one data channel. StartSession / ResumeSession / TerminateSession run on the AWS loop
(through the aws layer, so --read-only refuses them); the websocket runs on the UI loop, and a pump feeds the
emulator within a time budget per frame. When the pump falls behind it simply stops reading, the channel stops
acknowledging, and the agent stops reading its pty: a flood slows the remote shell down instead of freezing the
UI. Keystrokes never wait for the pump. The Shells tab (``view.py``) holds the sessions in sub-tabs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from opstui.aws import ssm
from opstui.aws.errors import OpsError
from opstui.aws.models import FleetNode
from opstui.safe import clean
from opstui.session.channel import DataChannel, SessionError
from opstui.terminal.recording import AsciicastWriter
from opstui.terminal.widget import FEED_SLICE, TerminalView
from opstui.views.common.context import context_of

PUMP_BUDGET = 0.008  # seconds of parsing per turn before the pump lets the UI paint and take keys
# Output queued ahead of the emulator. Small on purpose: after Ctrl-C everything already queued must still be
# parsed before the prompt shows, so this bounds how long a flood outlives Ctrl-C.
OUTPUT_LIMIT = 128 * 1024

STATE_STYLES = {"connecting": "yellow", "connected": "green", "reconnecting": "yellow", "closed": "red"}




class ShellSession(Vertical):
    """One node's shell: the terminal and a status line."""

    class Changed(Message):
        """The session's state changed (connecting, connected, reconnecting, closed): the tab label follows."""

        def __init__(self, session: ShellSession) -> None:
            super().__init__()
            self.session = session

    class CloseRequested(Message):
        """`w` typed into a closed session's terminal: close its tab."""

        def __init__(self, session: ShellSession) -> None:
            super().__init__()
            self.session = session

    DEFAULT_CSS = """
    ShellSession { height: 1fr; }
    ShellSession TerminalView { height: 1fr; }
    ShellSession .shell-status { height: auto; max-height: 2; background: $panel; color: $text-muted;
        padding: 0 1; }
    """

    def __init__(self, node: FleetNode, **kwargs) -> None:
        super().__init__(**kwargs)
        self.node = node
        self.channel: DataChannel | None = None
        self.state = "connecting"
        self.reason = ""
        self.exit_code: int | None = None
        self._typed: list[bytes] = []  # keys typed before the channel exists: sent, in order, once it does
        self._closing = False
        self.session_id = ""
        self.recording: AsciicastWriter | None = None

    def compose(self) -> ComposeResult:
        yield TerminalView(id="term")
        yield Static(classes="shell-status")

    @property
    def terminal(self) -> TerminalView:
        return self.query_one(TerminalView)

    @property
    def label(self) -> Content:
        name = clean(self.node.name or self.node.instance_id, 28)
        state = self.state
        if self.state == "closed" and self.exit_code is not None:
            state = f"closed ({self.exit_code})"
        return Content(f"{name} · {state}")

    def on_mount(self) -> None:
        self.set_interval(0.25, self._poll_state)
        self._render_status()
        self.connect()

    # -- state ------------------------------------------------------------------------------------------
    def _set_state(self, state: str, reason: str = "") -> None:
        changed = (state, reason) != (self.state, self.reason)
        self.state, self.reason = state, reason
        if changed:
            self._render_status()
            self.post_message(ShellSession.Changed(self))
        if state == "closed" and self.is_mounted and self.terminal.has_focus:
            # a closed terminal takes no keys: the keyboard goes back to the app, where R and w (the keys the
            # status line offers) work
            self._escape_to_app()

    def _poll_state(self) -> None:
        channel = self.channel
        if channel is not None and channel.state in ("reconnecting", "connected") and channel.state != self.state:
            self._set_state(channel.state)

    def _render_status(self) -> None:
        """State, name, the keys that work now, why it closed, the ids last: at 80 columns the keys never go,
        and a long reason wraps onto a second line (at most) instead of pushing them off."""
        text = Text()
        text.append(f" {self.state} ", style=f"bold black on {STATE_STYLES.get(self.state, 'white')}")
        text.append(f" {clean(self.node.name or self.node.instance_id, 32)}", style="bold")
        if self.state == "closed":
            text.append("  R reconnect · w close tab", style="bold")
        else:
            text.append("  ctrl+] app · w close", style="dim")
        if self.reason:
            text.append(f"  {clean(self.reason, 160)}")
        with contextlib.suppress(Exception):
            status = self.query_one(".shell-status", Static)
            ids = f"  {self.node.instance_id} {self.node.region}"
            if text.cell_len + len(ids) <= status.content_region.width:  # only where they fit on the line
                text.append(ids, style="dim")
            status.update(text)

    def on_resize(self) -> None:
        self._render_status()

    # -- connect and pump -----------------------------------------------------------------------------------
    @work(exit_on_error=False, group="shell")
    async def connect(self) -> None:
        app = self.app
        ctx = context_of(self)
        aws, loop = ctx.aws, ctx.loop
        region, target = self.node.region, self.node.instance_id
        self.exit_code = None
        self._set_state("connecting")
        try:
            started = await loop.run(ssm.start_session(aws, region, target))
        except OpsError as err:
            self._set_state("closed", str(err))
            return
        self.session_id = started.session_id

        async def resume() -> str:
            return await loop.run(ssm.resume_session(aws, region, started.session_id))

        async def terminate() -> None:
            await loop.run(ssm.terminate_session(aws, region, started.session_id))

        channel = DataChannel(stream_url=started.stream_url, token=started.token, session_id=started.session_id,
                              resume=resume, terminate=terminate, output_limit=OUTPUT_LIMIT)
        term = self.terminal.terminal
        channel.resize(term.cols, term.rows)
        self.channel = channel
        typed, self._typed = self._typed, []
        for data in typed:
            await channel.send(data)  # held by the channel until the shell is ready
        try:
            await channel.start()
        except SessionError as err:
            self._set_state("closed", str(err))
            return
        self._set_state("connected")
        if context_of(self).settings.record_sessions:
            try:
                self.recording = AsciicastWriter.for_session(self.node.name or target, started.session_id,
                                                             term.cols, term.rows)
            except OSError as exc:
                app.notify(f"Cannot record this session: {clean(exc, 200)}", severity="warning", markup=False)
        try:
            await self._pump(channel)
        finally:
            if self.recording is not None:
                self.recording.close()

    async def _pump(self, channel: DataChannel) -> None:
        view = self.terminal
        turn_started = time.perf_counter()
        ended = False
        while not ended:
            chunk = channel.read_nowait()
            if chunk == b"":
                chunk = await channel.read()
                turn_started = time.perf_counter()
            if chunk is None:
                break
            # everything already queued goes to the emulator in one call (up to FEED_SLICE): fewer calls, and
            # the emulator draws longer blocks of whole lines at once
            parts = [chunk]
            size = len(chunk)
            while size < FEED_SLICE:
                more = channel.read_nowait()
                if not more:
                    ended = more is None
                    break
                parts.append(more)
                size += len(more)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            view.feed(data)
            if self.recording is not None:
                self.recording.output(data)
            if time.perf_counter() - turn_started > PUMP_BUDGET:
                await asyncio.sleep(0)  # let the UI paint and take keys; unread output stays queued
                turn_started = time.perf_counter()
        self.exit_code = channel.exit_code
        reason = channel.close_reason
        if channel.error is not None:
            reason = str(channel.error)
        elif channel.exit_code is not None:
            reason = f"the shell exited with code {channel.exit_code}"
        self._set_state("closed", reason)

    # -- input --------------------------------------------------------------------------------------------
    @on(TerminalView.Input)
    def _input(self, event: TerminalView.Input) -> None:
        event.stop()
        channel = self.channel
        if self.state == "closed" or (channel is not None and channel.state == "closed"):
            # the keys the status line offers work even with the focus still in the terminal
            if event.data == b"R":
                self.reconnect()
            elif event.data == b"w":
                self.post_message(ShellSession.CloseRequested(self))
            else:
                self.app.notify("This session is closed: R reconnects, w closes the tab.", severity="warning",
                                markup=False)
            return
        if channel is None:
            if self.state == "connecting":
                self._typed.append(event.data)
            return
        # numbered and written now, ahead of output still to be drawn (the channel numbers every message
        # before its first await, so this keeps order with anything sent by a task)
        with contextlib.suppress(SessionError):
            channel.send_nowait(event.data)

    @on(TerminalView.Resized)
    def _resized(self, event: TerminalView.Resized) -> None:
        event.stop()
        if self.channel is not None:
            self.channel.resize(event.cols, event.rows)
        if self.recording is not None:
            self.recording.resize(event.cols, event.rows)

    @on(TerminalView.Escape)
    def _escape(self, event: TerminalView.Escape) -> None:
        event.stop()
        self._escape_to_app()

    def _escape_to_app(self) -> None:
        with contextlib.suppress(Exception):
            self.screen.query_one("#shell-tabs Tabs").focus()

    # -- close / reconnect -----------------------------------------------------------------------------------
    async def close_session(self, *, quick: bool = False) -> None:
        """TerminateSession (the sandbox/AWS then closes the channel)."""
        channel = self.channel
        if channel is not None and channel.state != "closed":
            await channel.close(terminate=True, linger=0.0 if quick else 2.0)
        if self.state != "closed":
            self._set_state("closed", "closed by you")

    async def on_unmount(self) -> None:
        """Leaving (tab closed or app quitting): terminate the session so nothing keeps running on the node."""
        channel = self.channel
        if channel is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(terminate=channel.state != "closed"), 4)

    def reconnect(self) -> None:
        """A new session to the same node (after a close, a failed start or a failed resume)."""
        if self.state != "closed":
            return
        self.channel = None
        self.reason = ""
        self.connect()
        with contextlib.suppress(Exception):
            self.terminal.focus()
