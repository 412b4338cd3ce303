"""The Run Command tab: compose a command, confirm its blast radius, follow it live, read it grouped.

Three panels in one tab (a ContentSwitcher): the form (`runcommand_form`), the live run (`runcommand_run`)
and the history. Everything non-visual is the lead's `opstui.runs` package: target parsing and blast radius
(`targets`), request checks and sending (`launch`), polling, output and grouping (`tracker`). The tracker
lives on the AWS loop: every call to it goes through `app.aws_loop.run(...)`, and what comes back is
immutable, so the UI keeps it without locks.

Output streaming: each poll returns the text appended per node; only the node shown in the output pane is
drawn (others are read from the tracker when the cursor reaches them). A node's output is fetched together
with the number of polls the tracker had done, and text of later polls that arrived meanwhile is replayed on
top, so nothing is shown twice or lost when the cursor moves while a run streams.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, ContentSwitcher

from opstui.aws import resource_groups, ssm
from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest, CommandSummary, DocumentDetail, FleetNode
from opstui.commands import commands_of
from opstui.private_files import write_private
from opstui.runs.grouping import OutputGroup, diff_groups
from opstui.runs.launch import request_problems, send_plan
from opstui.runs.targets import Plan, TargetError, parse_target, plan_for, plan_for_nodes
from opstui.runs.tracker import NodeState, Progress, RunTracker, RunUpdate
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.context import context_of
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import bindings_for
from opstui.views.runcommand_confirm import ConfirmRunScreen, RunConfirmation
from opstui.views.runcommand_form import DEFAULT_DOCUMENT, FormValues, RunForm
from opstui.views.runcommand_run import HistoryPanel, RunPanel, group_key, render_header

POLL_INTERVAL = 1.0  # seconds between tracker polls (each poll costs pages, not calls per node)
EXPORT_DIR = Path.home() / "opstui-runs"


@dataclass
class ActiveRun:
    """The run shown in the run panel (sent from the form, re-run, or reopened from the history)."""

    tracker: RunTracker
    request: CommandRequest | None
    title: str
    states: dict[str, NodeState] = field(default_factory=dict)
    progress: Progress | None = None
    finished: bool = False
    errors: list[str] = field(default_factory=list)
    groups: list[OutputGroup] = field(default_factory=list)
    seq: int = 0  # polls completed (incremented on the AWS loop, read there too)
    _lock: asyncio.Lock | None = None

    def aws_lock(self) -> asyncio.Lock:
        """Held (on the AWS loop) by a poll and by a node's output read. A poll appends text to the tracker
        before it returns and bumps `seq`; a read in between would return text that includes a chunk under
        the old number, and the stash would add that chunk a second time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock


def request_from_summary(c: CommandSummary) -> CommandRequest:
    """The request that produced a command (to re-run it, e.g. on its failed nodes)."""
    return CommandRequest(document=c.document, parameters={k: list(v) for k, v in c.parameters.items()},
                          max_concurrency=c.max_concurrency or "50", max_errors=c.max_errors or "0",
                          comment=c.comment, cloudwatch_output=c.cloudwatch_output,
                          cloudwatch_group=c.cloudwatch_group, s3_bucket=c.s3_bucket, s3_prefix=c.s3_prefix)


def one_line_title(request: CommandRequest) -> str:
    commands = request.parameters.get("commands")
    if commands:
        return " ⏎ ".join(line for line in commands if line.strip())
    return ", ".join(f"{k}={' '.join(v)}" for k, v in request.parameters.items())


RUN_ACTIONS = {"toggle_grouped", "diff", "full_output", "cancel", "rerun_failed", "export"}


class RunCommandView(Vertical):
    """The Run Command tab."""

    BINDINGS = [
        *bindings_for(commands_of("run")),
        Binding("enter", "open_history", "Open"),
        Binding("r", "reload_history", "Reload"),
        Binding("escape", "back", "Back"),
    ]

    DEFAULT_CSS = """
    RunCommandView { height: 1fr; }
    RunCommandView ContentSwitcher#rc-panels { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run: ActiveRun | None = None
        self.fleet_nodes: list[FleetNode] = []
        self.shown_key: str | None = None
        self._shown_group: str | None = None  # group_key of the group whose output the pane shows
        self._shown_loaded = False
        self._stash: list[tuple[int, str, str]] = []
        self._notified_errors: set[str] = set()
        self._before_history = "rc-form"
        self.export_dir = EXPORT_DIR
        self.sent_runs = 0  # runs started (tests wait on it)

    def compose(self) -> ComposeResult:
        with ContentSwitcher(initial="rc-form", id="rc-panels"):
            yield RunForm(id="rc-form")
            yield RunPanel(id="rc-run")
            yield HistoryPanel(id="rc-history")

    @property
    def form(self) -> RunForm:
        return self.query_one(RunForm)

    @property
    def panel(self) -> RunPanel:
        return self.query_one(RunPanel)

    @property
    def history(self) -> HistoryPanel:
        return self.query_one(HistoryPanel)

    @property
    def current(self) -> str:
        return self.query_one("#rc-panels", ContentSwitcher).current or "rc-form"

    def _switch(self, panel: str) -> None:
        self.query_one("#rc-panels", ContentSwitcher).current = panel
        self.refresh_bindings()
        self.focus_current()

    # -- the lifecycle every tab has ------------------------------------------------------------------------
    def shown(self) -> None:
        self.sync_fleet_selection()
        self.focus_current()

    def reload(self) -> None:
        context_of(self).nav.refresh_fleet()

    def reset(self, generation: int) -> None:
        self.reload_documents()

    def focus_current(self) -> None:
        """Put the keyboard where the panel's work is (called when the tab is shown too)."""
        current = self.current
        if current == "rc-form":
            self.form.focus_first()
        elif current == "rc-run":
            (self.panel.groups_table if self.panel.grouped else self.panel.nodes_table).focus()
        else:
            self.history.table.focus()

    def on_mount(self) -> None:
        self.form.set_read_only(self.app.settings.read_only)  # type: ignore[attr-defined]
        self.reload_documents()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in RUN_ACTIONS:
            if self.current != "rc-run" or self.run is None:
                return False
            if action == "diff" and not self.panel.grouped:
                return None
            if action == "cancel" and self.run.finished:
                return None
            if action in ("cancel", "rerun_failed") and self.app.settings.read_only:  # type: ignore[attr-defined]
                return None  # shown greyed: CancelCommand and SendCommand are refused in read-only mode
        if action == "new":
            return self.current != "rc-form"
        if action in ("open_history", "back", "reload_history"):
            return self.current == "rc-history"
        if action == "send":
            return self.current == "rc-form"
        return True

    # -- documents ------------------------------------------------------------------------------------------
    def reload_documents(self) -> None:
        if self.app.settings.regions:  # type: ignore[attr-defined]
            self._load_documents()

    @work(group="rc-documents", exclusive=True, exit_on_error=False)
    async def _load_documents(self) -> None:
        app = self.app
        region = app.settings.regions[0]  # type: ignore[attr-defined]
        try:
            docs = await app.aws_loop.run(ssm.list_documents(app.aws, region))  # type: ignore[attr-defined]
        except OpsError as err:
            self.form.set_documents([], str(err))
            docs = []
        else:
            self.form.set_documents([d.name for d in docs])
        wanted = self.form.values().document or DEFAULT_DOCUMENT
        if self.form.detail is None or self.form.detail.name != wanted:
            self._describe(wanted)

    @on(RunForm.DocumentChosen)
    def _document_chosen(self, event: RunForm.DocumentChosen) -> None:
        self._describe(event.name)

    @work(group="rc-describe", exclusive=True, exit_on_error=False)
    async def _describe(self, name: str) -> None:
        detail = await self._fetch_detail(name)
        if detail is not None and self.form.values().document == name:
            await self.form.set_detail(detail)

    async def _fetch_detail(self, name: str) -> DocumentDetail | None:
        """DescribeDocument; on failure the form says why (unknown document) and keeps what was typed."""
        app = self.app
        region = app.settings.regions[0]  # type: ignore[attr-defined]
        try:
            return await app.aws_loop.run(ssm.describe_document(app.aws, region, name))  # type: ignore[attr-defined]
        except OpsError as err:
            self.form.set_document_error(f"unknown document {clean(name, 80)!r} in {region}: {clean(err, 300)}")
            return None

    # -- targets ----------------------------------------------------------------------------------------------
    def use_fleet_nodes(self, nodes: list[FleetNode], *, select: bool = True) -> None:
        """Target these Fleet nodes (the Fleet's c, or the Fleet selection when the tab is shown)."""
        self.fleet_nodes = list(nodes)
        self.form.set_fleet_count(len(self.fleet_nodes), use=True if select and nodes else None)
        self._update_preview()

    def sync_fleet_selection(self) -> None:
        """The tab was shown: a non-empty Fleet selection becomes the Fleet target (an empty one keeps the
        nodes picked before, so `c` on one node survives a look at another tab)."""
        selected = self.app.fleet_view.table.selected_rows()  # type: ignore[attr-defined]
        if selected and [n.key for n in selected] != [n.key for n in self.fleet_nodes]:
            self.use_fleet_nodes(selected, select=True)

    @on(RunForm.TargetEdited)
    def _target_edited(self) -> None:
        self._update_preview()

    def _update_preview(self) -> None:
        values_mode = self.form.target_mode
        try:
            if values_mode == "fleet":
                if not self.fleet_nodes:
                    self.form.set_target_preview("")
                    return
                plan = plan_for_nodes(self.fleet_nodes)
            else:
                text = self.form.values().target_text
                if not text.strip():
                    self.form.set_target_preview("")
                    return
                spec = parse_target(text)
                if spec.kind == "group":
                    self.form.set_target_preview(f"→ resource group {spec.key}: members resolved when sending")
                    return
                snapshot = self.app.fleet_view.snapshot  # type: ignore[attr-defined]
                if snapshot is None:
                    self.form.set_target_preview("(the fleet is still loading)")
                    return
                plan = plan_for(spec, snapshot)
        except TargetError as err:
            self.form.set_target_preview(str(err), error=True)
            return
        r = plan.radius
        self.form.set_target_preview(f"→ {r.summary()[0]}{'  PROD' if r.prod else ''}\n   {r.names}")

    async def _plan(self, values: FormValues) -> Plan:
        """Resolve the form's target (resource groups through ListGroupResources). Raises TargetError."""
        if values.target_mode == "fleet":
            if not self.fleet_nodes:
                parse_target("")  # raises the "no targets" message
            return plan_for_nodes(self.fleet_nodes)
        spec = parse_target(values.target_text)
        app = self.app
        snapshot = app.fleet_view.snapshot  # type: ignore[attr-defined]
        if snapshot is None:
            raise TargetError("the fleet is still loading: try again in a moment")
        members = None
        if spec.kind == "group":
            members = {}
            for region in app.settings.regions:  # type: ignore[attr-defined]
                try:
                    members[region] = await app.aws_loop.run(  # type: ignore[attr-defined]
                        resource_groups.list_group_instances(app.aws, region, spec.key))  # type: ignore[attr-defined]
                except OpsError as err:
                    if err.kind != "not-found":  # not-found: no such group in this region
                        raise TargetError(f"resource group {spec.key!r} in {region}: {err}") from None
        return plan_for(spec, snapshot, members)

    # -- send ----------------------------------------------------------------------------------------------
    def action_send(self) -> None:
        if self.current != "rc-form":
            self._switch("rc-form")
            return
        if self.app.settings.read_only:  # type: ignore[attr-defined]
            message = "read-only mode: sending commands is disabled (restart without --read-only to run commands)"
            self.form.show_problems([message])
            self.app.notify(message, severity="warning", markup=False)
            return
        self._send()

    @on(Button.Pressed, "#rc-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#rc-history")
    def _history_pressed(self) -> None:
        self.action_history()

    @work(group="rc-send", exclusive=True, exit_on_error=False)
    async def _send(self) -> None:
        form = self.form
        values = form.values()
        problems: list[str] = []
        detail = form.detail
        if values.document and (detail is None or detail.name != values.document):
            detail = await self._fetch_detail(values.document)
            if detail is None:
                problems.append(f"unknown document {values.document!r}: pick one of the documents listed "
                                f"(e.g. {DEFAULT_DOCUMENT})")
            else:
                await form.set_detail(detail)
                values = form.values()
        timeout: int | None = None
        if values.timeout:
            try:
                timeout = int(values.timeout)
            except ValueError:
                problems.append(f"delivery timeout {values.timeout!r}: a number of seconds (30..2592000)")
        bucket, _, prefix = values.s3.partition("/")
        request = CommandRequest(
            document=values.document, parameters=values.parameters, max_concurrency=values.max_concurrency,
            max_errors=values.max_errors, timeout_seconds=timeout, comment=values.comment,
            cloudwatch_output=values.cloudwatch, s3_bucket=bucket.strip(), s3_prefix=prefix.strip("/ "),
        )
        problems.extend(p for p in request_problems(request, detail) if p not in problems)
        plan: Plan | None = None
        try:
            plan = await self._plan(values)
            if detail is not None:
                plan = plan.for_platforms(detail.platform_types)  # e.g. a shell script skips Windows nodes
        except TargetError as err:
            problems.append(str(err))
        if problems or plan is None:
            form.show_problems(problems)
            return
        form.show_problems([])
        await self._confirm_and_send(plan, request)

    async def _confirm_and_send(self, plan: Plan, request: CommandRequest) -> None:
        """Blast radius first; sent only when confirmed (a typed count when the radius needs one)."""
        app = self.app
        if app.settings.read_only:  # type: ignore[attr-defined]
            app.notify("read-only mode: sending commands is disabled", severity="warning", markup=False)
            return
        options = [f"max concurrency {request.max_concurrency}", f"max errors {request.max_errors}",
                   "CloudWatch Logs on" if request.cloudwatch_output else "CloudWatch Logs off"]
        if request.timeout_seconds:
            options.append(f"delivery timeout {request.timeout_seconds} s")
        if request.s3_bucket:
            options.append(f"S3 {request.s3_bucket}/{request.s3_prefix}".rstrip("/"))
        if request.comment:
            options.append(f"comment: {clean(request.comment, 100)}")
        preview = "\n".join(request.parameters.get("commands", ())) or one_line_title(request)
        confirmation = RunConfirmation(f"Run {request.document}", preview, plan.radius, " · ".join(options))
        confirmed = await app.push_screen_wait(ConfirmRunScreen(confirmation))
        if not confirmed:
            self.focus_current()
            return
        try:
            result = await app.aws_loop.run(send_plan(app.aws, plan, request))  # type: ignore[attr-defined]
        except OpsError as err:
            self._switch("rc-form")
            self.form.show_problems([f"not sent: {err}"])
            app.notify(f"Not sent: {clean(err, 300)}", severity="error", markup=False)
            return
        for err in result.errors:
            app.notify(f"Not sent to {err.region or 'a region'}: {clean(err, 300)}", severity="error", markup=False,
                       timeout=15)
        if not result.commands:
            self.form.show_problems(["not sent: " + "; ".join(str(e) for e in result.errors)])
            return
        names = {n.instance_id: n.name for n in plan.radius.nodes if n.name}
        tracker = RunTracker(app.aws, list(result.commands), names=names)  # type: ignore[attr-defined]
        self.start_run(ActiveRun(tracker, request, one_line_title(request)))

    # -- the live run -------------------------------------------------------------------------------------------
    def start_run(self, run: ActiveRun) -> None:
        self.run = run
        self.sent_runs += 1
        self.shown_key = self._shown_group = None
        self._notified_errors.clear()
        panel = self.panel
        panel.nodes_table.sort_column = "name"
        panel.nodes_table.set_rows([])
        panel.groups_table.set_rows([])
        panel.fit_tables()
        panel.output.clear("waiting for output…")
        panel.output.border_title = Content("Output")
        panel.set_banner([])
        panel.set_grouped(False)
        self._render_header(run)
        self._switch("rc-run")
        self._poll(run)

    def _render_header(self, run: ActiveRun) -> None:
        panel = self.panel
        tracker = run.tracker
        panel.set_header(render_header(tracker.document, run.title, run.progress, run.finished, panel.grouped,
                                       tracker.command_ids))
        if run.progress is not None:
            p = run.progress
            panel.nodes_table.border_title = Content(f"Nodes {p.done}/{p.total} · g grouped")
            panel.groups_table.border_title = Content(f"Groups {len(run.groups)} · d diff vs largest · g per node")

    @work(group="rc-poll", exclusive=True, exit_on_error=False)
    async def _poll(self, run: ActiveRun) -> None:
        loop = self.app.aws_loop  # type: ignore[attr-defined]

        async def step() -> tuple[int, RunUpdate]:
            async with run.aws_lock():  # a poll and a node's output read never interleave (see ActiveRun)
                update = await run.tracker.poll()
                run.seq += 1
                return run.seq, update

        while self.run is run:
            try:
                seq, update = await loop.run(step())
            except Exception as exc:  # the tracker reports API errors in update.errors; this is unexpected
                self._report_errors(run, [f"polling failed: {type(exc).__name__}: {exc}"])
                await asyncio.sleep(POLL_INTERVAL * 3)
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
            await asyncio.sleep(POLL_INTERVAL)

    async def _apply(self, run: ActiveRun, seq: int, update: RunUpdate) -> None:
        panel = self.panel
        run.progress = update.progress
        run.finished = update.finished
        if update.changed:
            for state in update.changed:
                run.states[state.key] = state
            panel.nodes_table.set_rows(list(run.states.values()))
            panel.fit_tables()
            if not panel.grouped and self.shown_key in {s.key for s in update.changed}:
                self._title_node(run.states[self.shown_key])  # type: ignore[index]
        if self.shown_key is not None and not panel.grouped:
            chunks = [(stream, text) for key, stream, text in update.appended if key == self.shown_key]
            if self._shown_loaded:
                for stream, text in _merge_chunks(chunks):
                    panel.output.append(stream, text)
            else:
                self._stash.extend((seq, stream, text) for stream, text in chunks)
        if update.errors:
            self._report_errors(run, list(update.errors))
        if panel.grouped and (update.changed or update.finished):
            await self._refresh_groups(run)
        self._render_header(run)
        self.refresh_bindings()

    def _report_errors(self, run: ActiveRun, errors: list[str]) -> None:
        run.errors = (run.errors + errors)[-20:]
        self.panel.set_banner(run.errors)
        for message in errors:
            if message not in self._notified_errors:
                self._notified_errors.add(message)
                self.app.notify(clean(message, 400), title="Run Command", severity="warning", markup=False)

    # -- the output pane ---------------------------------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#run-nodes")
    def _node_cursor(self, event: NodeTable.CursorMoved) -> None:
        state = event.row
        if self.run is None or state is None or state.key == self.shown_key:
            return
        self.shown_key = state.key
        self._shown_loaded = False
        self._stash = []
        self._title_node(state)
        self.panel.output.clear("loading…")
        self._load_node_output(self.run, state.key)

    def _title_node(self, state: NodeState) -> None:
        code = "" if state.exit_code is None else f" · exit {state.exit_code}"
        self.panel.output.border_title = Content(
            f"{clean(state.name, 40)} {state.instance_id} · {state.outcome}{code}"
            + (" · truncated: f fetches the full output" if state.truncated else ""))

    @work(group="rc-output", exclusive=True, exit_on_error=False)
    async def _load_node_output(self, run: ActiveRun, key: str) -> None:
        async def read() -> tuple[int, tuple[str, str]]:
            async with run.aws_lock():
                return run.seq, run.tracker.output(key)

        seq, (stdout, stderr) = await self.app.aws_loop.run(read())  # type: ignore[attr-defined]
        if self.run is not run or self.shown_key != key:
            return
        output = self.panel.output
        output.show(stdout, stderr, "(no output yet)" if key not in run.states or not run.states[key].done
                    else "(no output)")
        for stream, text in _merge_chunks([(s, t) for n, s, t in self._stash if n > seq]):
            output.append(stream, text)
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
        self.panel.output.border_title = Content(
            f"{clean(group.label, 100)} · {group.size} node{'s' if group.size != 1 else ''} · {group.outcome}{code}")

    def _show_group(self, group: OutputGroup) -> None:
        self._shown_group = group_key(group)
        self._title_group(group)
        stderr = group.members[0].stderr if group.members else ""
        self.panel.output.show(group.stdout, stderr)

    async def _refresh_groups(self, run: ActiveRun) -> None:
        async def read() -> list[OutputGroup]:
            return run.tracker.groups()

        run.groups = await self.app.aws_loop.run(read())  # type: ignore[attr-defined]
        table = self.panel.groups_table
        before = table.cursor_row
        table.set_rows(run.groups)
        self.panel.fit_tables()
        after = table.cursor_row
        if after is None:
            return
        if group_key(after) != self._shown_group:
            self._show_group(after)
        elif before is not None and after.size != before.size and self.panel.output.diff is None:
            self._title_group(after)  # same output, more nodes: the pane keeps its scroll position

    # -- actions on a run ---------------------------------------------------------------------------------
    def _need_run(self) -> ActiveRun | None:
        if self.run is None:
            self.app.notify("No run yet: send one (ctrl+s) or open one from the history (h).", markup=False)
        return self.run

    def action_new(self) -> None:
        self._switch("rc-form")

    async def action_toggle_grouped(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if self.current != "rc-run":
            self._switch("rc-run")
        grouped = not self.panel.grouped
        self.panel.set_grouped(grouped)
        if grouped:
            await self._refresh_groups(run)
        else:
            self.shown_key = self._shown_group = None
            row = self.panel.nodes_table.cursor_row
            if row is not None:
                self._node_cursor(NodeTable.CursorMoved(self.panel.nodes_table, row))
        self._render_header(run)
        self.refresh_bindings()

    async def action_diff(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if not self.panel.grouped:
            await self.action_toggle_grouped()
        group = self.panel.groups_table.cursor_row
        if not run.groups or group is None:
            self.app.notify("No groups yet: nodes appear here as they finish.", markup=False)
            return
        base = run.groups[0]
        if group is base or _same_group(group, base):
            self.app.notify("This is the largest group: move to another group to diff it against this one.",
                            markup=False)
            return
        lines = await asyncio.to_thread(diff_groups, base, group)
        output = self.panel.output
        output.show_diff(lines)
        output.border_title = Content(f"diff: {clean(base.label, 50)} ({base.size}) → {clean(group.label, 50)} "
                                      f"({group.size}) · move the cursor to see the output again")

    def _key_under_cursor(self) -> str | None:
        if self.panel.grouped:
            group = self.panel.groups_table.cursor_row
            return group.members[0].key if group is not None and group.members else None
        state = self.panel.nodes_table.cursor_row
        return state.key if state is not None else None

    @work(group="rc-full", exclusive=True, exit_on_error=False)
    async def action_full_output(self) -> None:
        run = self._need_run()
        key = self._key_under_cursor() if run is not None else None
        if run is None or key is None:
            return
        state = run.states.get(key)
        if state is None or not state.truncated:
            self.app.notify("This output is complete: nothing more to fetch.", markup=False)
            return

        async def fetch() -> tuple[str, str]:
            await run.tracker.full_output(key)
            return run.tracker.output(key)

        try:
            stdout, stderr = await self.app.aws_loop.run(fetch())  # type: ignore[attr-defined]
        except OpsError as err:
            self.app.notify(f"Full output: {clean(err, 300)}", severity="error", markup=False)
            return
        if self.run is run:
            self.panel.output.show(stdout, stderr)
            self.app.notify(f"Full output of {clean(state.name, 60)}: {len(stdout):,} characters.", markup=False)

    @work(group="rc-cancel", exclusive=True, exit_on_error=False)
    async def action_cancel(self) -> None:
        run = self._need_run()
        if run is None:
            return
        if run.finished:
            self.app.notify("This run has finished: nothing to cancel.", markup=False)
            return
        p = run.progress
        pending = (p.total - p.done) if p else len(run.states)
        question = f"Cancel {run.tracker.document} on the {pending} node(s) that have not finished?"
        if not await self.app.push_screen_wait(ConfirmScreen(question, yes="Cancel run")):
            return

        async def cancel() -> list[str]:
            return await run.tracker.cancel()

        try:
            ids = await self.app.aws_loop.run(cancel())  # type: ignore[attr-defined]
        except OpsError as err:
            self.app.notify(f"Cancel failed: {clean(err, 300)}", severity="error", markup=False)
            return
        self.app.notify(f"Cancel requested for {', '.join(ids) or 'nothing (already finished)'}", markup=False)

    @work(group="rc-send", exclusive=True, exit_on_error=False)
    async def action_rerun_failed(self) -> None:
        run = self._need_run()
        if run is None:
            return

        async def failed() -> list[str]:
            return run.tracker.failed_keys()

        keys = await self.app.aws_loop.run(failed())  # type: ignore[attr-defined]
        if not keys:
            self.app.notify("No failed nodes in this run." + ("" if run.finished else " (still running)"),
                            markup=False)
            return
        snapshot = self.app.fleet_view.snapshot  # type: ignore[attr-defined]
        by_key = {n.key: n for n in snapshot.nodes} if snapshot else {}
        nodes = [by_key[k] for k in keys if k in by_key]
        missing = len(keys) - len(nodes)
        if missing:
            self.app.notify(f"{missing} failed node(s) are not in the loaded fleet and are left out.",
                            severity="warning", markup=False)
        request = run.request or request_from_summary(run.tracker.commands[0])
        try:
            plan = plan_for_nodes(nodes)
        except TargetError as err:
            self.app.notify(str(err), severity="warning", markup=False)
            return
        await self._confirm_and_send(plan, request)

    @work(group="rc-export", exclusive=True, exit_on_error=False)
    async def action_export(self) -> None:
        run = self._need_run()
        if run is None:
            return

        async def export() -> tuple[str, str]:
            return run.tracker.export_json(), run.tracker.export_text()

        as_json, as_text = await self.app.aws_loop.run(export())  # type: ignore[attr-defined]
        first = run.tracker.commands[0].command_id if run.tracker.commands else "run"
        document = re.sub(r"[^A-Za-z0-9._-]+", "_", run.tracker.document or "run")[:60]
        stem = f"{datetime.now():%Y%m%d-%H%M%S}-{document}-{first[:8]}"
        directory = self.export_dir

        def write() -> tuple[Path, Path]:  # private: node output can hold secrets
            json_path, text_path = directory / f"{stem}.json", directory / f"{stem}.txt"
            write_private(json_path, as_json)
            write_private(text_path, as_text)
            return json_path, text_path

        try:
            json_path, text_path = await asyncio.to_thread(write)
        except OSError as err:
            self.app.notify(f"Export failed: {clean(err, 300)}", severity="error", markup=False)
            return
        self.last_export = (json_path, text_path)
        self.app.notify(f"Exported to {json_path} and {text_path.name}", title="Run exported", markup=False,
                        timeout=10)

    # -- history -------------------------------------------------------------------------------------------------
    def action_history(self) -> None:
        if self.current != "rc-history":
            self._before_history = self.current
        self._switch("rc-history")
        self._load_history()

    def action_reload_history(self) -> None:
        self._load_history()

    def action_back(self) -> None:
        target = self._before_history if self._before_history != "rc-history" else "rc-form"
        if target == "rc-run" and self.run is None:
            target = "rc-form"
        self._switch(target)

    @work(group="rc-history", exclusive=True, exit_on_error=False)
    async def _load_history(self) -> None:
        app = self.app
        table = self.history.table
        table.border_title = Content("History: loading…")
        regions = list(app.settings.regions)  # type: ignore[attr-defined]

        async def one(region: str) -> list[CommandSummary]:
            return await ssm.list_commands(app.aws, region)  # type: ignore[attr-defined]

        results = await asyncio.gather(*(app.aws_loop.run(one(r)) for r in regions),  # type: ignore[attr-defined]
                                       return_exceptions=True)
        found: list[CommandSummary] = []
        for region, res in zip(regions, results, strict=True):
            if isinstance(res, BaseException):
                app.notify(f"History of {region}: {clean(res, 300)}", severity="warning", markup=False)
            else:
                found.extend(res)
        found.sort(key=lambda c: c.requested.timestamp() if c.requested else 0, reverse=True)
        table.set_rows(found)
        table.border_title = Content(f"History: {len(found)} command(s) in {', '.join(regions)}")

    def action_open_history(self) -> None:
        summary = self.history.table.cursor_row
        if summary is None:
            return
        snapshot = self.app.fleet_view.snapshot  # type: ignore[attr-defined]
        names = {n.instance_id: n.name for n in snapshot.nodes if n.name} if snapshot else {}
        tracker = RunTracker(self.app.aws, [summary], names=names)  # type: ignore[attr-defined]
        request = request_from_summary(summary)
        self.start_run(ActiveRun(tracker, request, one_line_title(request)))

    def on_unmount(self) -> None:
        self.run = None


def _same_group(a: OutputGroup, b: OutputGroup) -> bool:
    return a.members == b.members and a.exit_code == b.exit_code and a.outcome == b.outcome


def _merge_chunks(chunks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive chunks of the same stream joined: one append (one repaint) per stream run per poll."""
    merged: list[tuple[str, list[str]]] = []
    for stream, text in chunks:
        if merged and merged[-1][0] == stream:
            merged[-1][1].append(text)
        else:
            merged.append((stream, [text]))
    return [(stream, "".join(parts)) for stream, parts in merged]
