"""The Shells tab: Session Manager shells in sub-tabs, each an embedded terminal (`ShellSession`, in
``session.py``: its channel, its pump and its keys)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from opstui.aws.models import FleetNode
from opstui.commands import commands_of
from opstui.views.common.context import context_of
from opstui.views.common.tab import bindings_for
from opstui.views.shells.session import ShellSession

_ids = itertools.count(1)  # sub-tab ids: shell-1, shell-2, … (never reused, even after a close)




class ShellsView(Vertical):
    """The Shells tab."""

    BINDINGS = bindings_for(commands_of("shells"))

    DEFAULT_CSS = """
    ShellsView { height: 1fr; }
    ShellsView #shells-empty { padding: 1 2; color: $text-muted; }
    ShellsView #shell-tabs { height: 1fr; }
    """

    #: the messages a session posts (defined with it, in session.py), handled below
    SessionChanged = ShellSession.Changed
    CloseRequested = ShellSession.CloseRequested

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                "No shells open.\n\nIn the Fleet tab press s on a node (or select several with space, then s) "
                "to open a Session Manager shell, or use the palette (ctrl+p): Shell: <name>.\n"
                "Inside a shell every key goes to the node; ctrl+] brings you back to the app."
            ),
            id="shells-empty",
        )
        yield TabbedContent(id="shell-tabs")

    # -- the lifecycle every tab has ------------------------------------------------------------------------
    def shown(self) -> None:
        """The keyboard goes where the work is: the active shell's terminal."""
        session = self.active
        if session is not None:
            session.terminal.focus()

    def reload(self) -> None:
        """`r` has nothing to reload here (a shell is live): the Fleet is refreshed instead."""
        context_of(self).nav.refresh_fleet()

    def reset(self, generation: int) -> None:
        """Open shells belong to the session that opened them; they stay until closed."""

    def sessions(self) -> list[ShellSession]:
        return list(self.query(ShellSession))

    @property
    def active(self) -> ShellSession | None:
        tabs = self.query_one("#shell-tabs", TabbedContent)
        pane = tabs.active_pane
        if pane is None:
            return None
        found = pane.query(ShellSession)
        return found.first() if found else None

    async def open_shell(self, node: FleetNode) -> ShellSession:
        tabs = self.query_one("#shell-tabs", TabbedContent)
        session = ShellSession(node)
        pane_id = f"shell-{next(_ids)}"
        await tabs.add_pane(TabPane(session.label, session, id=pane_id))
        tabs.active = pane_id
        self.query_one("#shells-empty").display = False
        session.terminal.focus()
        return session

    @on(SessionChanged)
    def _session_changed(self, event: SessionChanged) -> None:
        tabs = self.query_one("#shell-tabs", TabbedContent)
        for pane in tabs.query(TabPane):
            if event.session in pane.query(ShellSession):
                with contextlib.suppress(Exception):
                    tabs.get_tab(pane.id or "").label = event.session.label
                break

    async def action_close_session(self) -> None:
        session = self.active
        if session is None:
            return
        if session.state == "closed":
            await self._remove(session)
            return
        await session.close_session()

    @on(CloseRequested)
    async def _close_requested(self, event: CloseRequested) -> None:
        event.stop()
        await self._remove(event.session)

    async def _remove(self, session: ShellSession) -> None:
        """Close a closed session's tab; the keyboard goes to the next shell, or the empty page says what to do."""
        tabs = self.query_one("#shell-tabs", TabbedContent)
        for pane in tabs.query(TabPane):
            if session in pane.query(ShellSession) and pane.id:
                await tabs.remove_pane(pane.id)
                break
        if not self.sessions():
            self.query_one("#shells-empty").display = True
        else:
            self.shown()
        self.refresh_bindings()

    # -- keys: what the footer offers is what works where the keyboard is ----------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a live terminal has the keyboard every key goes to the node: the footer does not offer keys
        that would be typed into the shell instead (``i``, ``w``, ``R``); ctrl+] gives the keyboard back."""
        if action in ("close_session", "reconnect", "focus_terminal"):
            session = self.active
            if session is None:
                return False
            if session.terminal.has_focus and session.state != "closed":
                return False
            if action == "reconnect":
                return session.state == "closed"
            if action == "focus_terminal":
                return session.state != "closed"
        return True

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_descendant_blur(self) -> None:
        self.refresh_bindings()

    def action_reconnect(self) -> None:
        session = self.active
        if session is not None:
            session.reconnect()
            session.terminal.focus()

    def action_focus_terminal(self) -> None:
        session = self.active
        if session is not None:
            session.terminal.focus()

    async def close_all(self, *, quick: bool = False) -> None:
        """Terminate every session at once; ``quick`` (quitting): do not wait for the channel_closed reason."""
        await asyncio.gather(*(s.close_session(quick=quick) for s in self.sessions()), return_exceptions=True)
