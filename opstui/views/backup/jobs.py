"""Backup, panel 1: backup, copy and restore jobs of every region in one list, failures and "completed with
issues" first. The filter bar: time range (`t`: 24 h / 7 d / 30 d, reloads), state (`s`), kind, resource (`/`)
and vault; under the list the detail of the job under the cursor (enter asks Describe*Job for it now).

`b`, from any panel, backs up the Fleet selection now (StartBackupJob per instance, after a confirmation): the
jobs it starts show here, so the action lives with them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Select, Static

from opstui.aws import backup as bk
from opstui.aws.backup_models import BackupJob, JobList
from opstui.aws.errors import OpsError
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.backup.account import account_id
from opstui.views.backup.details import job_detail
from opstui.views.backup.rows import (
    ALL_VAULTS,
    JOB_COLUMNS,
    KIND_OPTIONS,
    RANGE_OPTIONS,
    STATE_OPTIONS,
    job_matches,
    vault_key,
)
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.context import Stale
from opstui.views.common.node_table import NodeTable, prepare_rows
from opstui.views.common.safe_input import SafeInput
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.unchecked import unchecked_note
from opstui.views.common.work import action_work

RANGES = [value for _, value in RANGE_OPTIONS]
RANGE_WORDS = {value: label for label, value in RANGE_OPTIONS}
STATES = [value for _, value in STATE_OPTIONS]


class JobsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "jobs", "Jobs", "1", "bk-jobs"
    BINDINGS = bindings_for(commands_of("backup", "jobs"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    JobsPanel #bk-job-filters { height: 3; }
    JobsPanel #bk-range { width: 22; }
    JobsPanel #bk-state { width: 32; }
    JobsPanel #bk-kind { width: 20; }
    JobsPanel #bk-resource { width: 1fr; }
    JobsPanel #bk-vault { width: 30; }
    Screen.-narrow JobsPanel #bk-job-filters { layout: grid; grid-size: 3; grid-columns: 1fr 1fr 1fr; height: 6; }
    Screen.-narrow JobsPanel #bk-job-filters > * { width: 1fr; }
    Screen.-narrow JobsPanel #bk-resource { column-span: 2; }
    JobsPanel #bk-jobs { height: 1fr; min-height: 8; }
    JobsPanel #bk-job-detail-box { height: 11; border: round $primary-darken-1; padding: 0 1; }
    Screen.-short JobsPanel #bk-job-detail-box { height: 1fr; min-height: 3; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_list: JobList | None = None
        self.range = "24h"
        self._shown_range = "24h"
        self.detail_fresh: BackupJob | None = None  # Describe*Job's answer for the job under the cursor
        self.backups_started = 0
        # timings (bench/backup.py reads them)
        self.last_jobs_seconds = 0.0
        self.last_jobs_render_seconds = 0.0
        self.last_job_calls = 0
        self.check_failed = False  # the last load failed as a whole (the header then says "could not check")

    def compose(self) -> ComposeResult:
        with Horizontal(id="bk-job-filters"):
            yield Select(RANGE_OPTIONS, allow_blank=False, value="24h", id="bk-range")
            yield Select(STATE_OPTIONS, allow_blank=False, value="all", id="bk-state")
            yield Select(KIND_OPTIONS, allow_blank=False, value="all", id="bk-kind")
            yield SafeInput(placeholder="resource: name, instance id or ARN (/)", id="bk-resource")
            yield Select([("all vaults", ALL_VAULTS)], allow_blank=False, value=ALL_VAULTS, id="bk-vault")
        yield NodeTable(JOB_COLUMNS, key=lambda j: j.key, id="bk-jobs")
        with VerticalScroll(id="bk-job-detail-box"):
            yield Static(id="bk-job-detail")

    def on_mount(self) -> None:
        self.table("bk-jobs").border_title = Content("Jobs: open the tab to load")
        self.query_one("#bk-job-detail-box").border_title = Content("Job")

    def reset(self) -> None:
        self.job_list, self.detail_fresh = None, None
        self.check_failed = False
        self.query_one("#bk-job-detail", Static).update("")
        super().reset()

    def header_extra(self) -> Text:
        """Failures found, and "no failures" only when the last load answered in every region; otherwise
        "could not check" in the warning colour (a denied or unreachable region is never an all-clear)."""
        text = Text()
        if self.job_list is None:
            return unchecked_note("backup jobs", everything=True) if self.check_failed else text
        failed, issues = bk.job_list_failures(self.job_list.jobs)
        if failed:
            text.append(f"  {failed} failed", style="bold red")
        if issues:
            text.append(f"  {issues} completed with issues", style="bold yellow")
        missing = [e.region for e in self.job_list.errors]
        everything = self.check_failed or (bool(missing) and len(missing) >= len(self.ctx.regions))
        note = unchecked_note("backup jobs", missing, everything=everything)
        text.append_text(note)
        if not failed and not issues and not note:
            text.append("  no failures", style="green")
        text.append(f" ({RANGE_WORDS[self.range]})", style="dim")
        return text

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.ctx.regions:
            self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("bk-jobs")
        window = self.range
        if not self.loaded or window != self._shown_range:  # a refresh keeps the title it has
            table.border_title = Content(f"Jobs ({RANGE_WORDS[window]}): loading…")
        started = time.perf_counter()
        try:
            result: JobList = await ctx.fresh(bk.list_jobs(ctx.aws, ctx.regions, window), generation)
        except Stale:
            raise
        except BaseException:
            self.check_failed = True  # what is shown is from an earlier load: the header must not vouch for it
            raise
        self.check_failed = False
        answered = time.perf_counter()
        self.job_list = result
        self.last_jobs_seconds = answered - started
        self.last_job_calls = result.calls
        self.errors = [e.message for e in result.errors]
        prepared = await asyncio.to_thread(prepare_rows, JOB_COLUMNS, list(result.jobs))  # cells off the UI
        if generation != ctx.generation:
            return
        table.set_prepared(prepared, self.visible)
        if window != self._shown_range:  # a new range: start at the top, where the failures are
            self._shown_range = window
            table.move_cursor(0)
        self._vault_options()
        self._retitle()
        self.last_jobs_render_seconds = time.perf_counter() - answered
        self._show_detail()

    # -- the filter bar -------------------------------------------------------------------------------------
    def _filters(self) -> tuple[str, str, str, str]:
        state = self.query_one("#bk-state", Select).value
        kind = self.query_one("#bk-kind", Select).value
        vault = self.query_one("#bk-vault", Select).value
        resource = self.query_one("#bk-resource", Input).value.strip().lower()
        return (str(state) if state is not Select.NULL else "all", str(kind) if kind is not Select.NULL else "all",
                str(vault) if vault is not Select.NULL else ALL_VAULTS, resource)

    def visible(self, order: list[int]) -> list[int]:
        """The filter bar's verdict (it is this panel's filter: `/` types into its resource box)."""
        state, kind, vault, resource = self._filters()
        rows = self.table("bk-jobs").source_rows
        return [pos for pos, src in enumerate(order) if job_matches(rows[src], state, kind, vault, resource)]

    def _refilter(self) -> None:
        self.apply_filter(self.filter_text)
        self._retitle()
        self._show_detail()

    def _vault_options(self) -> None:
        box = self.query_one("#bk-vault", Select)
        current = box.value
        keys = sorted({vault_key(j) for j in (self.job_list.jobs if self.job_list else ())})
        options = [("all vaults", ALL_VAULTS)] + [(k, k) for k in keys]
        with box.prevent(Select.Changed):
            box.set_options(options)
            box.value = current if current in {v for _, v in options} else ALL_VAULTS

    def _retitle(self) -> None:
        table = self.table("bk-jobs")
        if self.job_list is None:
            return
        total, shown = len(table.rows), len(table.order_shown)
        failed, issues = bk.job_list_failures(table.rows)
        words = RANGE_WORDS[self.range]
        parts = [f"Jobs, {words}: {shown}/{total}" if shown != total else f"Jobs, {words}: {total}"]
        if failed:
            parts.append(f"{failed} failed")
        if issues:
            parts.append(f"{issues} with issues")
        parts.append(f"{self.last_job_calls} calls, {self.last_jobs_seconds:.2f} s")
        if self.job_list.errors:
            parts.append(f"{len(self.job_list.errors)} region(s) failing")
        table.border_title = Content(" · ".join(parts))

    @on(Select.Changed, "#bk-range")
    def _range_changed(self, event: Select.Changed) -> None:
        value = str(event.value)
        if value != self.range and value in RANGES:
            self.range = value
            self.load()

    @on(Select.Changed, "#bk-state")
    @on(Select.Changed, "#bk-kind")
    @on(Select.Changed, "#bk-vault")
    @on(Input.Changed, "#bk-resource")
    def _filter_changed(self) -> None:
        if self.job_list is not None:
            self._refilter()

    @on(Input.Submitted, "#bk-resource")
    def _resource_submitted(self) -> None:
        self.table("bk-jobs").focus()

    def action_cycle_range(self) -> None:
        self.query_one("#bk-range", Select).value = RANGES[(RANGES.index(self.range) + 1) % len(RANGES)]

    def action_cycle_state(self) -> None:
        box = self.query_one("#bk-state", Select)
        current = str(box.value) if box.value in STATES else "all"
        box.value = STATES[(STATES.index(current) + 1) % len(STATES)]

    def focus_resource(self) -> None:
        self.query_one("#bk-resource", Input).focus()

    def action_back(self) -> bool:
        """esc in the filter bar: back to the jobs."""
        focused = self.app.focused
        if focused is not None and self.query_one("#bk-job-filters") in focused.ancestors:
            self.table("bk-jobs").focus()
            return True
        return False

    # -- the detail -----------------------------------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#bk-jobs")
    def _job_cursor(self) -> None:
        self.detail_fresh = None
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.table("bk-jobs").cursor_row
        fresh = self.detail_fresh if self.detail_fresh is not None and row is not None \
            and self.detail_fresh.key == row.key else None
        self.query_one("#bk-job-detail", Static).update(job_detail(fresh or row, fresh is not None))

    def action_open(self) -> None:
        """enter: what Describe*Job says about the job under the cursor now."""
        row = self.table("bk-jobs").cursor_row
        if row is not None:
            self._describe(row)

    @action_work("bk-describe")
    async def _describe(self, job: BackupJob) -> None:
        ctx = self.ctx
        try:
            fresh = await ctx.run(bk.describe_job(ctx.aws, job))
        except OpsError as err:
            self.app.notify(clean(str(err), 400), title="Describe job failed", severity="error", markup=False)
            return
        self.detail_fresh = fresh
        self._show_detail()

    # -- on-demand backup of the Fleet selection ------------------------------------------------------------
    def action_backup_now(self) -> None:
        if self.refused("on-demand backup"):
            return
        selected = self.ctx.fleet.selected_nodes()
        nodes = [n for n in selected if n.instance_id.startswith("i-")]
        skipped = len(selected) - len(nodes)
        if not nodes:
            why = " (only hybrid mi- nodes are selected: AWS Backup backs up EC2 instances)" if skipped else ""
            self.app.notify("Select the nodes to back up in the Fleet first (space, a selects all visible)" + why,
                            title="On-demand backup", severity="warning", markup=False)
            return
        names = ", ".join(clean(n.name or n.instance_id, 40) for n in nodes[:10])
        more = f" and {len(nodes) - 10} more" if len(nodes) > 10 else ""
        note = f"\n{skipped} hybrid node(s) left out (not EC2)." if skipped else ""
        question = (f"Back up {len(nodes)} instance(s) now (StartBackupJob into vault Default, role "
                    f"AWSBackupDefaultServiceRole)?\n{names}{more}{note}")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_backups([(n.region, n.instance_id) for n in nodes])

        self.app.push_screen(ConfirmScreen(question, yes="Back up now"), answered)

    @action_work("bk-start", exclusive=False)
    async def _start_backups(self, nodes: list[tuple[str, str]]) -> None:
        ctx = self.ctx
        try:
            account = await account_id(ctx)
            results = await ctx.run(bk.start_backups(ctx.aws, account, nodes))
        except OpsError as err:
            self.app.notify(clean(str(err), 400), title="On-demand backup failed", severity="error", markup=False)
            return
        ok = [r for r in results if r[3] is None]
        for region, iid, _, err in results:
            if err is not None:
                self.app.notify(clean(str(err), 400), title=f"Backup of {iid} ({region}) failed", severity="error",
                                markup=False, timeout=10)
        self.backups_started += len(ok)
        if ok:
            self.app.notify(f"Started {len(ok)} backup job(s): see the Jobs panel (state CREATED, then RUNNING)",
                            title="On-demand backup", markup=False)
            if self.tab.panel != self.NAME:
                self.tab.show_panel(self.NAME)
            self.load()

