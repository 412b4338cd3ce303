"""Run Command, the run panel: follow a run live, read it per node or grouped, act on it.

A progress header (bar, counts by outcome, command ids), the per-node table (or, `g`, the groups of nodes
with identical output and exit code, largest first) and the output of the row under the cursor. `d` diffs a
group against the largest, `f` fetches a truncated node's whole output from S3, `x` cancels, `R` sends the
same request to the failed nodes (the blast radius again), `e` exports the run; those actions are in
`run_actions.py`.

Output streaming: each poll returns the text appended per node; only the node shown in the output pane is
drawn (others are read from the tracker when the cursor reaches them). A node's output is fetched together
with the number of polls the tracker had done, and text of later polls that arrived meanwhile is replayed on
top, so nothing is shown twice or lost when the cursor moves while a run streams.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import ContentSwitcher, Static

from opstui.aws.logs import FollowTarget
from opstui.commands import commands_of
from opstui.runs.grouping import OutputGroup
from opstui.runs.tracker import NodeState, RunUpdate
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, bindings_for
from opstui.views.common.work import action_work
from opstui.views.runcommand import run_actions
from opstui.views.runcommand.active import ActiveRun, merge_chunks
from opstui.views.runcommand.output import OutputLog
from opstui.views.runcommand.rows import GROUP_COLUMNS, NODE_COLUMNS, RunTable, group_key, progress_header

NO_RUN = "No run yet: compose one (n) or open one from the history (h)."
RUN_ACTIONS = frozenset({"toggle_grouped", "diff", "full_output", "cancel", "rerun_failed", "export"})


def poll_interval() -> float:
    """The package's POLL_INTERVAL, read at each poll: the tests and the bench set it on the package."""
    return float(sys.modules[__package__].POLL_INTERVAL)


class RunPanel(Panel):
    NAME, TITLE, MAIN_TABLE = "run", "Run", "run-nodes"
    BINDINGS = bindings_for(commands_of("run", "run"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    RunPanel #run-progress { height: 3; padding: 0 1; background: $boost; }
    RunPanel #run-banner { height: auto; max-height: 4; color: $warning; padding: 0 1; display: none; }
    RunPanel #run-banner.-shown { display: block; }
    RunPanel #run-tables { height: 12; }
    RunPanel RunTable { height: 1fr; }
    RunPanel OutputLog { height: 1fr; border: round $primary-darken-1; border-title-align: left; }
    RunPanel OutputLog:focus { border: round $accent; }
    Screen.-short RunPanel #run-tables { height: 1fr; min-height: 8; }
    Screen.-short RunPanel OutputLog { min-height: 5; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run: ActiveRun | None = None
        self.shown_key: str | None = None
        self._shown_group: str | None = None  # group_key of the group whose output the pane shows
        self._shown_loaded = False
        self._stash: list[tuple[int, str, str]] = []
        self._notified_errors: set[str] = set()
        self.export_dir: Path = sys.modules[__package__].EXPORT_DIR
        self.last_export: tuple[Path, Path] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(NO_RUN), id="run-progress")
        yield Static("", id="run-banner")
        with ContentSwitcher(initial="run-nodes", id="run-tables"):
            yield RunTable(NODE_COLUMNS, key=lambda s: s.key, id="run-nodes")
            yield RunTable(GROUP_COLUMNS, key=group_key, id="run-groups")
        yield OutputLog(id="run-output")

    # -- the widgets ------------------------------------------------------------------------------------------
    @property
    def nodes_table(self) -> RunTable:
        return self.query_one("#run-nodes", RunTable)

    @property
    def groups_table(self) -> RunTable:
        return self.query_one("#run-groups", RunTable)

    @property
    def output(self) -> OutputLog:
        return self.query_one(OutputLog)

    @property
    def grouped(self) -> bool:
        return self.query_one("#run-tables", ContentSwitcher).current == "run-groups"

    def set_grouped(self, grouped: bool) -> None:
        self.query_one("#run-tables", ContentSwitcher).current = "run-groups" if grouped else "run-nodes"
        (self.groups_table if grouped else self.nodes_table).focus()
        self.fit_tables()

    def fit_tables(self) -> None:
        """The table as tall as its rows (at most 45% of the panel): the output gets the rest."""
        rows = len((self.groups_table if self.grouped else self.nodes_table).order_shown)
        limit = max(int(self.size.height * 0.45), 6)
        self.query_one("#run-tables").styles.height = max(min(rows + 3, limit), 5)

    def on_resize(self) -> None:
        self.fit_tables()

    def set_banner(self, lines: list[str]) -> None:
        banner = self.query_one("#run-banner", Static)
        banner.set_class(bool(lines), "-shown")
        banner.update(Content("\n".join(f"⚠ {clean(line, 300)}" for line in lines[-3:])))

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def shown(self) -> None:
        (self.groups_table if self.grouped else self.nodes_table).focus()

    def reset(self) -> None:
        """The run belongs to the previous profile or regions: it stops being polled and shown."""
        self.run = None
        self.shown_key = self._shown_group = None
        self.output.clear()
        self.output.border_title = Content("Output")
        self.set_banner([])
        self.query_one("#run-progress", Static).update(Text(NO_RUN))
        super().reset()

    def on_unmount(self) -> None:
        self.run = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No run: its keys are hidden. Diff only in the grouped view, cancel only while it runs (greyed)."""
        if action in RUN_ACTIONS:
            if self.run is None:
                return False
            if action == "diff" and not self.grouped:
                return None
            if action == "cancel" and self.run.finished:
                return None
        return super().check_action(action, parameters)  # greys cancel and re-run in read-only mode

    # -- the live run -------------------------------------------------------------------------------------------
    def start(self, run: ActiveRun) -> None:
        self.run = run
        self.shown_key = self._shown_group = None
        self._notified_errors.clear()
        self.nodes_table.sort_column = "name"
        self.nodes_table.set_rows([])
        self.groups_table.set_rows([])
        self.fit_tables()
        self.output.clear("waiting for output…")
        self.output.border_title = Content("Output")
        self.set_banner([])
        self.set_grouped(False)
        self.render_progress(run)
        self._poll(run)

    def render_progress(self, run: ActiveRun) -> None:
        tracker = run.tracker
        self.query_one("#run-progress", Static).update(
            progress_header(tracker.document, run.title, run.progress, run.finished, self.grouped,
                            tracker.command_ids))
        if run.progress is not None:
            p = run.progress
            self.nodes_table.border_title = Content(f"Nodes {p.done}/{p.total} · g grouped")
            self.groups_table.border_title = Content(f"Groups {len(run.groups)} · d diff vs largest · g per node")

    @work(group="rc-poll", exclusive=True, exit_on_error=False)
    async def _poll(self, run: ActiveRun) -> None:
        ctx = self.ctx

        async def step() -> tuple[int, RunUpdate]:
            async with run.aws_lock():  # a poll and a node's output read never interleave (see ActiveRun)
                update = await run.tracker.poll()
                run.seq += 1
                return run.seq, update

        while self.run is run:
            try:
                seq, update = await ctx.run(step())
            except Exception as exc:  # the tracker reports API errors in update.errors; this is unexpected
                self._report_errors(run, [f"polling failed: {type(exc).__name__}: {exc}"])
                await asyncio.sleep(poll_interval() * 3)
                continue
            if self.run is not run:
                return
            await self._apply(run, seq, update)
            if update.finished:
                p = update.progress
                counts = ", ".join(f"{o} {c}" for o, c in p.by_outcome)
                self.app.notify(f"Run finished: {counts} ({p.done}/{p.total} in {p.elapsed:.1f} s). "
                                "g: grouped output · e: export", severity="error" if p.failed else "information",
                                markup=False)
                return
            await asyncio.sleep(poll_interval())

    async def _apply(self, run: ActiveRun, seq: int, update: RunUpdate) -> None:
        run.progress = update.progress
        run.finished = update.finished
        running = any(s.started is not None and not s.done for s in run.states.values())
        if update.changed or running:  # a running node's Time counts up at each poll
            for state in update.changed:
                run.states[state.key] = state
            self.nodes_table.set_rows(list(run.states.values()))
            self.fit_tables()
            if not self.grouped and self.shown_key is not None and self.shown_key in {s.key for s in update.changed}:
                self._title_node(run.states[self.shown_key])
        if self.shown_key is not None and not self.grouped:
            chunks = [(stream, text) for key, stream, text in update.appended if key == self.shown_key]
            if self._shown_loaded:
                for stream, text in merge_chunks(chunks):
                    self.output.append(stream, text)
            else:
                self._stash.extend((seq, stream, text) for stream, text in chunks)
        if update.errors:
            self._report_errors(run, list(update.errors))
        if self.grouped and (update.changed or update.finished):
            await self.refresh_groups(run)
        self.render_progress(run)
        self.refresh_bindings()

    def _report_errors(self, run: ActiveRun, errors: list[str]) -> None:
        run.errors = (run.errors + errors)[-20:]
        self.set_banner(run.errors)
        for message in errors:
            if message not in self._notified_errors:
                self._notified_errors.add(message)
                self.app.notify(clean(message, 400), title="Run Command", severity="warning", markup=False)

    # -- the output pane ---------------------------------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#run-nodes")
    def _node_cursor(self, event: NodeTable.CursorMoved) -> None:
        self.show_node(event.row)

    def show_node(self, state: NodeState | None) -> None:
        if self.run is None or state is None or state.key == self.shown_key:
            return
        self.shown_key = state.key
        self._shown_loaded = False
        self._stash = []
        self._title_node(state)
        self.output.clear("loading…")
        self._load_node_output(self.run, state.key)

    def _title_node(self, state: NodeState) -> None:
        code = "" if state.exit_code is None or not state.done else f" · exit {state.exit_code}"
        self.output.border_title = Content(
            f"{clean(state.name, 40)} {state.instance_id} · {state.outcome}{code}"
            + (" · truncated: f fetches the full output" if state.truncated else ""))

    @action_work("rc-output")
    async def _load_node_output(self, run: ActiveRun, key: str) -> None:
        async def read() -> tuple[int, tuple[str, str]]:
            async with run.aws_lock():
                return run.seq, run.tracker.output(key)

        seq, (stdout, stderr) = await self.ctx.run(read())
        if self.run is not run or self.shown_key != key:
            return
        self.output.show(stdout, stderr, "(no output yet)" if key not in run.states or not run.states[key].done
                         else "(no output)")
        for stream, text in merge_chunks([(s, t) for n, s, t in self._stash if n > seq]):
            self.output.append(stream, text)
        self._stash = []
        self._shown_loaded = True

    @on(NodeTable.CursorMoved, "#run-groups")
    def _group_cursor(self, event: NodeTable.CursorMoved) -> None:
        group = event.row
        # the table posts CursorMoved on every data swap: re-showing the same group would reset the pane's
        # scroll position (and drop a diff) on every poll
        if group is not None and group_key(group) != self._shown_group:
            self._show_group(group)

    def _title_group(self, group: OutputGroup) -> None:
        code = "" if group.exit_code is None else f" · exit {group.exit_code}"
        self.output.border_title = Content(
            f"{clean(group.label, 100)} · {group.size} node{'s' if group.size != 1 else ''} · {group.outcome}{code}")

    def _show_group(self, group: OutputGroup) -> None:
        self._shown_group = group_key(group)
        self._title_group(group)
        stderr = group.members[0].stderr if group.members else ""
        self.output.show(group.stdout, stderr)

    async def refresh_groups(self, run: ActiveRun) -> None:
        async def read() -> list[OutputGroup]:
            return run.tracker.groups()

        run.groups = await self.ctx.run(read())
        table = self.groups_table
        before = table.cursor_row
        table.set_rows(run.groups)
        self.fit_tables()
        after = table.cursor_row
        if after is None:
            return
        if group_key(after) != self._shown_group:
            self._show_group(after)
        elif before is not None and after.size != before.size and self.output.diff is None:
            self._title_group(after)  # same output, more nodes: the pane keeps its scroll position

    def show_nodes(self) -> None:
        """Back to the per-node table: the pane shows the node under its cursor again."""
        self.shown_key = self._shown_group = None
        self.show_node(self.nodes_table.cursor_row)

    # -- keys (what the AWS-touching ones do is in run_actions.py) ------------------------------------------
    def _need_run(self) -> ActiveRun | None:
        if self.run is None:
            self.app.notify("No run yet: send one (ctrl+s) or open one from the history (h).", markup=False)
        return self.run

    async def action_toggle_grouped(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if self.tab.panel != self.NAME:
            self.tab.show_panel(self.NAME)
        grouped = not self.grouped
        self.set_grouped(grouped)
        if grouped:
            await self.refresh_groups(run)
        else:
            self.show_nodes()
        self.render_progress(run)
        self.refresh_bindings()

    def action_logs(self) -> None:
        """L: the Logs tab following the output stream(s) of the node under the cursor."""
        run = self._need_run()
        if run is None:
            return
        if self.grouped:
            group = self.groups_table.cursor_row
            key = group.members[0].key if group is not None and group.members else ""
        else:
            node = self.nodes_table.cursor_row
            key = node.key if node is not None else ""
        state = run.states.get(key)
        command = next((c for c in run.tracker.commands if state is not None and c.command_id == state.command_id
                        and c.region == state.region), None)
        if state is None or command is None:
            self.app.notify("No node under the cursor.", markup=False)
            return
        if not command.cloudwatch_output:
            self.app.notify("This run's output was not sent to CloudWatch Logs.", severity="warning", markup=False)
            return
        since = int(command.requested.timestamp() * 1000) - 60_000 if command.requested else None
        target = FollowTarget(state.region, command.log_group, stream_prefix=f"{command.command_id}/{state.instance_id}/")
        self.ctx.nav.open_logs([target], since_ms=since)

    async def action_diff(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if not self.grouped:
            await self.action_toggle_grouped()
        await run_actions.show_diff(self, run)

    @action_work("rc-full")
    async def action_full_output(self) -> None:
        run = self._need_run()
        if run is not None:
            await run_actions.full_output(self, run)

    @action_work("rc-cancel")
    async def action_cancel(self) -> None:
        if self.refused("cancelling a run"):
            return
        run = self._need_run()
        if run is not None:
            await run_actions.cancel(self, run)

    @action_work("rc-send")
    async def action_rerun_failed(self) -> None:
        if self.refused("re-running a command"):
            return
        run = self._need_run()
        if run is not None:
            await run_actions.rerun_failed(self, run)

    @action_work("rc-export")
    async def action_export(self) -> None:
        run = self._need_run()
        if run is not None:
            await run_actions.export(self, run)
