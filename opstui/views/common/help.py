"""The `?` help screen: every binding, built from the command registry (with the user's keymap applied), so it
can neither drift from the keys nor miss a tab."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opstui.commands import GLOBAL_COMMANDS, NAVIGATION_HELP, TAB_COMMANDS, TABS, effective_key, key_label


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; max-width: 100%; height: 80%; border: round $accent;
        background: $surface; padding: 0 1; }
    """

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, header_style="bold", expand=True, box=None)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        titles = {tab: title for tab, title, _ in TABS}
        sections = (("Global", GLOBAL_COMMANDS), *((titles[tab], cmds) for tab, cmds in TAB_COMMANDS.items()))
        for title, commands in sections:
            table.add_row(Text(title, style="bold"), "")
            for cmd in commands:
                help_text = cmd.help if cmd.show or not cmd.id.startswith("tab-") else cmd.title
                table.add_row(Text(key_label(effective_key(cmd, self.keymap))), Text(help_text))  # literal
            table.add_row("", "")
        table.add_row(Text("Tables", style="bold"), "")
        for key, text in NAVIGATION_HELP:
            table.add_row(Text(key), Text(text))
        with VerticalScroll() as scroll:
            scroll.border_title = "Help — esc to close"
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
