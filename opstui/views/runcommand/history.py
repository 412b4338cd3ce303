"""Run Command, the history panel: earlier runs of the loaded regions (ListCommands), newest first, one row per
run (a run sent to two regions is two commands; `runs/history.py` puts them together again).

`h` brings it up (and reloads it), `r` reloads it, enter reopens the command under the cursor in the run
panel (its nodes and their output, as any run), esc goes back to where `h` was pressed. Regions are asked
together; one that fails is a line in the status area while the others' commands stay.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static

from opstui.aws import ssm
from opstui.aws.regions import merged, per_region
from opstui.commands import commands_of
from opstui.runs.history import PastRun, group_runs
from opstui.runs.tracker import RunTracker
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.runcommand.active import ActiveRun, RunStarted, one_line_title, request_from_summary
from opstui.views.runcommand.rows import HISTORY_COLUMNS, RunTable
from opstui.views.runcommand.run import RunPanel


class HistoryPanel(Panel):
    NAME, TITLE, MAIN_TABLE = "history", "History", "history-table"
    BINDINGS = [*bindings_for(commands_of("run", "history")), Binding("r", "reload", "Reload")]
    DEFAULT_CSS = """
    HistoryPanel #history-note { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.back_to = "form"  # the panel esc returns to (where `h` was pressed)

    def compose(self) -> ComposeResult:
        yield Static("enter: open the command (its nodes and output) · esc: back · r: reload", id="history-note")
        yield RunTable(HISTORY_COLUMNS, key=lambda c: c.key, id="history-table")

    @property
    def commands_table(self) -> RunTable:
        return self.query_one("#history-table", RunTable)

    def shown(self) -> None:
        """Each time it comes up: a run sent a moment ago should be in it."""
        self.commands_table.focus()
        if not self.busy:
            self.load()

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        regions = ctx.regions
        self.commands_table.border_title = Content("History: loading…")
        results = await ctx.fresh(per_region(regions, lambda r: ssm.list_commands(ctx.aws, r), "ssm"), generation)
        found, errors = merged(results)
        runs = group_runs(found)  # one row per run, not per region (a run is one command per region)
        self.errors = errors
        self.show_rows(self.MAIN_TABLE, runs)
        self.commands_table.border_title = Content(
            f"History: {len(runs)} run(s), {len(found)} command(s) in {', '.join(regions)}")

    # -- keys -----------------------------------------------------------------------------------------------
    def action_open(self) -> None:
        """enter: the command under the cursor in the run panel, polled like a run sent from here."""
        past: PastRun | None = self.commands_table.cursor_row
        if past is None:
            return
        tracker = RunTracker(self.ctx.aws, list(past.commands), names=self.ctx.fleet.names())
        request = request_from_summary(past.first)
        self.post_message(RunStarted(ActiveRun(tracker, request, one_line_title(request))))

    def action_back(self) -> bool:
        """esc: back to the panel `h` was pressed in (the form when there is no run to go back to)."""
        target = self.back_to if self.back_to != self.NAME else "form"
        if target == "run" and self.tab.query_one(RunPanel).run is None:
            target = "form"
        self.tab.show_panel(target)
        return True
