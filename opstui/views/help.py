"""The `?` help screen: every binding, built from the command registry so it cannot drift."""

from __future__ import annotations

from rich.table import Table
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
        table.add_row("[b]Global[/b]", "")
        for cmd in GLOBAL_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Overview[/b]", "")
        for cmd in OVERVIEW_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Fleet[/b]", "")
        for cmd in FLEET_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Shells[/b]", "")
        for cmd in SHELL_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Run Command[/b]", "")
        for cmd in RUN_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Inventory[/b]", "")
        for cmd in INVENTORY_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Monitoring[/b]", "")
        for cmd in MONITORING_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Backup[/b]", "")
        for cmd in BACKUP_COMMANDS:
            table.add_row(key_label(cmd.key), cmd.help)
        table.add_row("", "")
        table.add_row("[b]Tables[/b]", "")
        for key, text in NAVIGATION_HELP:
            table.add_row(key, text)
        with VerticalScroll() as scroll:
            scroll.border_title = "Help — esc to close"
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
