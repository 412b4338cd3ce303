"""The `?` help screen: every binding, built from the command registry so it cannot drift."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opstui.commands import (
    BACKUP_COMMANDS,
    FLEET_COMMANDS,
    GLOBAL_COMMANDS,
    INVENTORY_COMMANDS,
    MONITORING_COMMANDS,
    NAVIGATION_HELP,
    OVERVIEW_COMMANDS,
    RUN_COMMANDS,
    SHELL_COMMANDS,
    key_label,
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96; height: 80%; border: round $accent; background: $surface; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, header_style="bold", expand=True, box=None)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        sections = (("Global", GLOBAL_COMMANDS), ("Overview", OVERVIEW_COMMANDS), ("Fleet", FLEET_COMMANDS),
                    ("Shells", SHELL_COMMANDS), ("Run Command", RUN_COMMANDS), ("Inventory", INVENTORY_COMMANDS),
                    ("Monitoring", MONITORING_COMMANDS), ("Backup", BACKUP_COMMANDS))
        for title, commands in sections:
            table.add_row(Text(title, style="bold"), "")
            for cmd in commands:
                table.add_row(Text(key_label(cmd.key)), Text(cmd.help))  # literal: help texts hold [...]
            table.add_row("", "")
        table.add_row(Text("Tables", style="bold"), "")
        for key, text in NAVIGATION_HELP:
            table.add_row(Text(key), Text(text))
        with VerticalScroll() as scroll:
            scroll.border_title = "Help — esc to close"
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
