"""The Backup tab: what failed last night, the plans behind it, the recovery points, and S3 file backups.

Four panels in one tab (a ContentSwitcher; `1` `2` `3` `4`):

    jobs    backup, copy and restore jobs of every region in one list, failures and "completed with issues"
            first; filters for time range (`t`: 24 h / 7 d / 30 d, reloads), state (`s`), kind, resource (`/`)
            and vault; the detail of the job under the cursor (enter asks Describe*Job for it now)
    plans   every plan's rules (schedule in words, windows, retention, copies) and selections; `n` creates a
            plan with the seed's flow in one validated form
    points  vaults of every region and the recovery points of the vault under the cursor; `R` restores the
            point under the cursor (a new instance), after a confirmation
    files   S3 buckets (versioning, lifecycle, newest object), the objects and versions under a prefix (enter
            goes into a prefix, esc goes up), `u` uploads a local file, `d` downloads the version under the
            cursor, with a progress bar
`b` backs up the Fleet selection now (StartBackupJob per instance, after a confirmation). Creating a plan,
on-demand backups, restores and uploads are disabled, with the reason shown, in read-only mode (and refused
by the aws layer's guard besides). Every AWS call is a worker running an aws-layer coroutine on the AWS loop.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState

from opstui.aws import backup as bk
from opstui.aws import s3
from opstui.aws.backup_models import (
    BackupJob,
    BackupPlan,
    BackupVault,
    BucketInfo,
    JobList,
    RecoveryPoint,
    S3Entry,
)
from opstui.aws.errors import OpsError
from opstui.aws.regions import as_ops_error, per_region
from opstui.aws.sts import caller_identity
from opstui.commands import BACKUP_COMMANDS
from opstui.safe import clean
from opstui.views.backup_forms import (
    DOWNLOAD_DIR,
    DownloadScreen,
    PlanFormScreen,
    UploadScreen,
    plan_form_values,
)
from opstui.views.backup_panels import (
    ALL_VAULTS,
    JOB_COLUMNS,
    RANGE_OPTIONS,
    STATE_OPTIONS,
    FilesPanel,
    JobsPanel,
    PlanRow,
    PlansPanel,
    PointsPanel,
    job_detail,
    job_resource,
    plan_detail,
    state_matches,
)
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.format import size_text
from opstui.views.common.node_table import NodeTable, prepare_rows

PANELS = {"jobs": "bk-jobs-panel", "plans": "bk-plans-panel", "points": "bk-points-panel", "files": "bk-files-panel"}
PANEL_KEYS = (("1", "jobs", "Jobs"), ("2", "plans", "Plans"), ("3", "points", "Recovery points"),
              ("4", "files", "S3 files"))
MAIN_TABLE = {"jobs": "bk-jobs", "plans": "bk-plans", "points": "bk-vaults", "files": "bk-buckets"}
SHORT_LABELS = {"backup-jobs": "Jobs", "backup-plans": "Plans", "backup-points": "Points", "backup-files": "S3",
                "backup-range": "Range", "backup-state": "State", "backup-filter": "Resource",
                "backup-new-plan": "New plan", "backup-now": "Back up selection", "backup-restore": "Restore",
                "backup-upload": "Upload", "backup-download": "Download", "backup-sort": "Sort"}
#: actions that only make sense on one panel (hidden elsewhere)
PANEL_ONLY = {"cycle_range": "jobs", "cycle_state": "jobs", "filter": "jobs", "new_plan": "plans",
              "restore": "points", "upload": "files", "download": "files"}
MUTATING = {"new_plan": "creating a backup plan", "backup_now": "on-demand backup", "restore": "restore",
            "upload": "upload"}
RANGES = [value for _, value in RANGE_OPTIONS]
RANGE_OPTIONS_REV = [(value, label) for label, value in RANGE_OPTIONS]
STATES = [value for _, value in STATE_OPTIONS]


def _view_action(action: str) -> str:
    """`backup('jobs')` (the app-level action of the registry) -> `jobs` (the view's own action)."""
    return action.removeprefix("backup('").removesuffix("')")


def _failure(err: BaseException, region: str, service: str = "backup") -> OpsError:
    return as_ops_error(err, region, service)


async def _per_region(regions: list[str], call) -> list[tuple[str, Any, OpsError | None]]:
    return await per_region(regions, call, "backup")


def _vault_key(job: BackupJob) -> str:
    if job.kind == "copy":
        parts = job.destination.split(":")
        return f"{parts[3] if len(parts) > 3 else '?'}/{job.vault}"
    return f"{job.region}/{job.vault}"


class BackupView(Vertical):
    """The Backup tab."""

    BINDINGS = [
        Binding(cmd.key, _view_action(cmd.action), SHORT_LABELS.get(cmd.id, cmd.title), show=cmd.show,
                id=cmd.id, tooltip=cmd.help)
        for cmd in BACKUP_COMMANDS
    ] + [
        Binding("enter", "open", "Open", show=False),
        Binding("escape", "back", "Back", show=False),
        Binding("backspace", "up", "Up", show=False),
    ]

    DEFAULT_CSS = """
    BackupView { height: 1fr; }
    BackupView #bk-header { height: 1; padding: 0 1; background: $boost; }
    BackupView #bk-readonly { display: none; height: auto; background: $warning; color: $background; padding: 0 1; }
    BackupView.-read-only #bk-readonly { display: block; }
    BackupView ContentSwitcher#bk-panels { height: 1fr; }
    BackupView NodeTable { border: round $primary-darken-1; border-title-align: left; }
    BackupView NodeTable:focus { border: round $accent; }
    BackupView #bk-job-filters { height: 3; }
    BackupView #bk-range { width: 22; }
    BackupView #bk-state { width: 32; }
    BackupView #bk-kind { width: 20; }
    BackupView #bk-resource { width: 1fr; }
    BackupView #bk-vault { width: 30; }
    BackupView #bk-job-detail-box, BackupView #bk-plan-detail-box { height: 11; border: round $primary-darken-1;
        padding: 0 1; }
    BackupView #bk-vaults { width: 58; }
    BackupView #bk-buckets { height: 9; }
    BackupView #bk-transfer { height: 1; display: none; padding: 0 1; }
    BackupView #bk-transfer.-shown { display: block; }
    BackupView #bk-transfer-label { width: auto; padding: 0 1 0 0; }
    BackupView #bk-status { height: auto; max-height: 6; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self.panel = "jobs"
        self.loaded: set[str] = set()
        self.job_list: JobList | None = None
        self.range = "24h"
        self._shown_range = "24h"
        self.errors: dict[str, list[str]] = {p: [] for p in PANELS}
        self.plans: list[BackupPlan] = []
        self.vaults: list[BackupVault] = []
        self.buckets: list[BucketInfo] = []
        self.bucket: BucketInfo | None = None
        self.prefix = ""
        self.plan_values: dict[str, Any] = {}
        self.upload_values: dict[str, str] = {}
        self.download_values: dict[str, str] = {}
        self.transfer: dict[str, Any] = {"active": False, "done": 0, "total": 0, "what": ""}
        self._transfer_timer: Timer | None = None
        self._points_timer: Timer | None = None
        self.detail_fresh: BackupJob | None = None
        # counters and timings (tests and bench/backup.py read them)
        self.job_loads = 0
        self.plan_loads = 0
        self.point_loads = 0
        self.bucket_loads = 0
        self.listing_loads = 0
        self.transfers = 0
        self.plans_created = 0
        self.backups_started = 0
        self.restores_started = 0
        self.last_jobs_seconds = 0.0
        self.last_jobs_render_seconds = 0.0
        self.last_job_calls = 0
        self.last_transfer: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="bk-header")
        yield Static("READ-ONLY: creating plans, on-demand backups, restores and uploads are disabled (opstui was "
                     "started with --read-only).", id="bk-readonly")
        with ContentSwitcher(initial=PANELS["jobs"], id="bk-panels"):
            yield JobsPanel(id=PANELS["jobs"])
            yield PlansPanel(id=PANELS["plans"])
            yield PointsPanel(id=PANELS["points"])
            yield FilesPanel(lambda: self.prefix, id=PANELS["files"])
        yield Static(id="bk-status")

    def on_mount(self) -> None:
        self.set_class(self.read_only, "-read-only")
        for table_id, title in (("bk-jobs", "Jobs: open the tab to load"), ("bk-plans", "Backup plans"),
                                ("bk-vaults", "Vaults"), ("bk-points", "Recovery points"),
                                ("bk-buckets", "S3 buckets"), ("bk-objects", "Objects")):
            self.table(table_id).border_title = Content(title)
        self.query_one("#bk-job-detail-box").border_title = "Job"
        self.query_one("#bk-plan-detail-box").border_title = "Plan"
        self._render_header()

    # -- helpers --------------------------------------------------------------------------------------------
    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id.lstrip('#')}", NodeTable)

    @property
    def regions(self) -> list[str]:
        return list(self.app.settings.regions)  # type: ignore[attr-defined]

    @property
    def read_only(self) -> bool:
        return bool(self.app.settings.read_only)  # type: ignore[attr-defined]

    def _is_active(self) -> bool:
        try:
            return self.app.query_one("#tabs").active == "backup"  # type: ignore[attr-defined]
        except Exception:
            return False

    def _render_header(self) -> None:
        text = Text()
        for key, panel, title in PANEL_KEYS:
            style = "bold reverse" if panel == self.panel else "bold"
            text.append(f" {key} {title} ", style=style)
            text.append(" ")
        if self.job_list is not None:
            failed, issues = bk.job_list_failures(self.job_list.jobs)
            if failed:
                text.append(f"  {failed} failed", style="bold red")
            if issues:
                text.append(f"  {issues} completed with issues", style="bold yellow")
            if not failed and not issues:
                text.append("  no failures", style="green")
            text.append(f" ({dict(RANGE_OPTIONS_REV)[self.range]})", style="dim")
        if self.read_only:
            text.append("  ")
            text.append(" READ-ONLY ", style="bold black on yellow")
        self.query_one("#bk-header", Static).update(text)

    def _render_status(self, info: str = "") -> None:
        text = Text()
        if info:
            text.append(info)
        for line in self.errors.get(self.panel, []):
            if text:
                text.append("\n")
            text.append("⚠ " + clean(line, 400), style="bold red")
        self.query_one("#bk-status", Static).update(text)

    def focused_table(self) -> NodeTable | None:
        focused = self.app.focused
        if isinstance(focused, NodeTable) and self in focused.ancestors:
            return focused
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANEL_ONLY and PANEL_ONLY[action] != self.panel:
            return False
        if action in MUTATING and self.read_only:
            return None  # shown greyed: the banner says why
        return True

    def _refused(self, action: str) -> bool:
        if self.read_only:
            self.app.notify(f"read-only mode: {MUTATING[action]} is disabled (restart opstui without --read-only)",
                            severity="warning", markup=False)
            return True
        return False

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's unexpected failure becomes a readable notice (AWS failures are handled
        where they happen; this is for bugs, so they are not silent)."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.app.notify(f"{type(err).__name__}: {clean(str(err), 300)}", title=f"Backup: {event.worker.group}",
                            severity="error", markup=False, timeout=10)

    # -- tab life cycle -------------------------------------------------------------------------------------
    def shown(self) -> None:  # the lifecycle every tab has
        self.on_shown()

    def on_shown(self) -> None:
        if self.regions and self.panel not in self.loaded:
            self._load(self.panel)
        self.focus_current()

    def focus_current(self) -> None:
        self.table(MAIN_TABLE[self.panel]).focus()

    def reset(self, generation: int) -> None:
        """Profile or regions changed: drop everything shown; reload what is in front of you."""
        self.generation = generation
        self.loaded.clear()
        self.job_list = None
        self.plans, self.vaults, self.buckets = [], [], []
        self.bucket, self.prefix = None, ""
        self.errors = {p: [] for p in PANELS}
        for table_id in ("bk-jobs", "bk-plans", "bk-vaults", "bk-points", "bk-buckets", "bk-objects"):
            self.table(table_id).set_rows([])
        self._render_header()
        self._render_status()
        if self._is_active():
            self.on_shown()

    def reload(self) -> None:
        """`r` on this tab: reload the panel in front of you."""
        self._load(self.panel)

    def _load(self, panel: str) -> None:
        if not self.regions:
            return
        self.loaded.add(panel)
        if panel == "jobs":
            self._load_jobs()
        elif panel == "plans":
            self._load_plans()
        elif panel == "points":
            self._load_vaults()
        else:
            self._load_buckets()
            if self.bucket is not None:
                self._load_listing()

    def show_panel(self, panel: str) -> None:
        self.panel = panel
        self.query_one("#bk-panels", ContentSwitcher).current = PANELS[panel]
        self._render_header()
        self._render_status()
        self.refresh_bindings()
        if panel not in self.loaded:
            self._load(panel)
        self.focus_current()

    def action_jobs(self) -> None:
        self.show_panel("jobs")

    def action_plans(self) -> None:
        self.show_panel("plans")

    def action_points(self) -> None:
        self.show_panel("points")

    def action_files(self) -> None:
        self.show_panel("files")

    # -- jobs -----------------------------------------------------------------------------------------------
    @work(group="bk-jobs", exclusive=True, exit_on_error=False)
    async def _load_jobs(self) -> None:
        app: Any = self.app
        generation = app.generation
        table = self.table("bk-jobs")
        window = self.range
        table.border_title = Content(f"Jobs ({dict(RANGE_OPTIONS_REV)[window]}): loading…")
        started = time.perf_counter()
        result: JobList = await app.aws_loop.run(bk.list_jobs(app.aws, self.regions, window))
        answered = time.perf_counter()
        if generation != app.generation:
            return
        self.job_list = result
        self.last_jobs_seconds = answered - started
        self.last_job_calls = result.calls
        self.errors["jobs"] = [e.message for e in result.errors]
        prepared = await asyncio.to_thread(prepare_rows, JOB_COLUMNS, list(result.jobs))
        table.set_prepared(prepared, lambda _order: self._job_positions())
        if window != self._shown_range:  # a new range: start at the top, where the failures are
            self._shown_range = window
            table.move_cursor(0)
        self._vault_options()
        self._title_jobs()
        self.last_jobs_render_seconds = time.perf_counter() - answered
        self.job_loads += 1
        self._render_header()
        if self.panel == "jobs":
            self._render_status()
        self._show_job_detail()

    def _filters(self) -> tuple[str, str, str, str]:
        state = self.query_one("#bk-state", Select).value
        kind = self.query_one("#bk-kind", Select).value
        vault = self.query_one("#bk-vault", Select).value
        resource = self.query_one("#bk-resource", Input).value.strip().lower()
        return (str(state) if state is not Select.NULL else "all", str(kind) if kind is not Select.NULL else "all",
                str(vault) if vault is not Select.NULL else ALL_VAULTS, resource)

    def _job_positions(self) -> list[int]:
        state, kind, vault, resource = self._filters()
        table = self.table("bk-jobs")
        out = []
        for pos, job in enumerate(table.rows):
            if kind != "all" and job.kind != kind:
                continue
            if not state_matches(job, state):
                continue
            if vault != ALL_VAULTS and _vault_key(job) != vault:
                continue
            if resource and resource not in job_resource(job).lower() and resource not in job.resource_arn.lower():
                continue
            out.append(pos)
        return out

    def _refilter_jobs(self) -> None:
        self.table("bk-jobs").set_visible(self._job_positions())
        self._title_jobs()
        self._show_job_detail()

    def _vault_options(self) -> None:
        box = self.query_one("#bk-vault", Select)
        current = box.value
        keys = sorted({_vault_key(j) for j in (self.job_list.jobs if self.job_list else ())})
        options = [("all vaults", ALL_VAULTS)] + [(k, k) for k in keys]
        with box.prevent(Select.Changed):
            box.set_options(options)
            box.value = current if current in {v for _, v in options} else ALL_VAULTS

    def _title_jobs(self) -> None:
        table = self.table("bk-jobs")
        if self.job_list is None:
            return
        total = len(table.rows)
        shown = len(table.order_shown)
        failed, issues = bk.job_list_failures(table.rows)
        parts = [f"Jobs, {dict(RANGE_OPTIONS_REV)[self.range]}: {shown}/{total}" if shown != total
                 else f"Jobs, {dict(RANGE_OPTIONS_REV)[self.range]}: {total}"]
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
            self._load_jobs()

    @on(Select.Changed, "#bk-state")
    @on(Select.Changed, "#bk-kind")
    @on(Select.Changed, "#bk-vault")
    @on(Input.Changed, "#bk-resource")
    def _job_filter_changed(self) -> None:
        if self.job_list is not None:
            self._refilter_jobs()

    @on(Input.Submitted, "#bk-resource")
    def _resource_submitted(self) -> None:
        self.table("bk-jobs").focus()

    def action_cycle_range(self) -> None:
        box = self.query_one("#bk-range", Select)
        box.value = RANGES[(RANGES.index(self.range) + 1) % len(RANGES)]

    def action_cycle_state(self) -> None:
        box = self.query_one("#bk-state", Select)
        current = str(box.value) if box.value in STATES else "all"
        box.value = STATES[(STATES.index(current) + 1) % len(STATES)]

    def action_filter(self) -> None:
        if self.panel != "jobs":
            self.show_panel("jobs")
        self.query_one("#bk-resource", Input).focus()

    @on(NodeTable.CursorMoved, "#bk-jobs")
    def _job_cursor(self, event: NodeTable.CursorMoved) -> None:
        self.detail_fresh = None
        self._show_job_detail()

    def _show_job_detail(self) -> None:
        row = self.table("bk-jobs").cursor_row
        fresh = self.detail_fresh if self.detail_fresh is not None and row is not None \
            and self.detail_fresh.key == row.key else None
        self.query_one("#bk-job-detail", Static).update(job_detail(fresh or row, fresh is not None))

    @work(group="bk-describe", exclusive=True, exit_on_error=False)
    async def _describe(self, job: BackupJob) -> None:
        app: Any = self.app
        try:
            fresh = await app.aws_loop.run(bk.describe_job(app.aws, job))
        except Exception as exc:
            self.app.notify(clean(str(_failure(exc, job.region)), 400), title="Describe job failed",
                            severity="error", markup=False)
            return
        self.detail_fresh = fresh
        self._show_job_detail()

    # -- plans ----------------------------------------------------------------------------------------------
    @work(group="bk-plans", exclusive=True, exit_on_error=False)
    async def _load_plans(self) -> None:
        app: Any = self.app
        generation = app.generation
        table = self.table("bk-plans")
        table.border_title = Content("Backup plans: loading…")
        results = await app.aws_loop.run(_per_region(self.regions, lambda r: bk.list_plans(app.aws, r)))
        if generation != app.generation:
            return
        plans: list[BackupPlan] = []
        self.errors["plans"] = []
        for _region, value, err in results:
            if err is not None:
                self.errors["plans"].append(str(err))
            else:
                plans.extend(value)
        self.plans = plans
        rows = [PlanRow(p, r) for p in plans for r in (p.rules or (None,))]
        table.set_rows(rows)
        table.border_title = Content(f"Backup plans ({len(plans)}) · n: new plan")
        self.plan_loads += 1
        if self.panel == "plans":
            self._render_status()
        self._show_plan_detail()

    @on(NodeTable.CursorMoved, "#bk-plans")
    def _plan_cursor(self) -> None:
        self._show_plan_detail()

    def _show_plan_detail(self) -> None:
        self.query_one("#bk-plan-detail", Static).update(plan_detail(self.table("bk-plans").cursor_row))

    def action_new_plan(self) -> None:
        if self._refused("new_plan"):
            return
        if self.panel != "plans":
            self.show_panel("plans")
        if not self.regions:
            return
        if not self.plan_values:
            self.plan_values.update(plan_form_values(self.regions))
        existing: dict[str, list[str]] = {}
        for plan in self.plans:
            existing.setdefault(plan.region, []).append(plan.name)
        app: Any = self.app

        async def create(spec):
            account = await self._account()
            return await app.aws_loop.run(bk.create_plan(app.aws, spec, account))

        def done(plan: BackupPlan | None) -> None:
            if plan is None:
                return
            self.plans_created += 1
            self.plan_values.clear()  # the next form starts from the seed's values again
            copy = ", ".join(f"copy to {c.destination_region}" for r in plan.rules for c in r.copy_actions)
            self.app.notify(f"Created backup plan {clean(plan.name, 60)} in {plan.region} ({copy or 'no copy'}; "
                            f"{len(plan.selections)} selection)", title="Backup plan", markup=False)
            self._load_plans()

        self.app.push_screen(PlanFormScreen(self.plan_values, self.regions, existing, create, self.read_only), done)

    async def _account(self) -> str:
        app: Any = self.app
        if str(app.account).isdigit():
            return str(app.account)
        ident = await app.aws_loop.run(caller_identity(app.aws, self.regions[0]))
        return ident.account

    # -- on-demand backup -----------------------------------------------------------------------------------
    def action_backup_now(self) -> None:
        if self._refused("backup_now"):
            return
        app: Any = self.app
        selected = list(app.fleet_view.table.selected_rows())
        nodes = [n for n in selected if n.instance_id.startswith("i-")]
        skipped = len(selected) - len(nodes)
        if not nodes:
            why = (" (only hybrid mi- nodes are selected: AWS Backup backs up EC2 instances)" if skipped else "")
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

    @work(group="bk-start", exclusive=False, exit_on_error=False)
    async def _start_backups(self, nodes: list[tuple[str, str]]) -> None:
        app: Any = self.app
        try:
            account = await self._account()
            results = await app.aws_loop.run(bk.start_backups(app.aws, account, nodes))
        except Exception as exc:
            self.app.notify(clean(str(_failure(exc, nodes[0][0])), 400), title="On-demand backup failed",
                            severity="error", markup=False)
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
            if self.panel != "jobs":
                self.show_panel("jobs")
            self._load_jobs()

    # -- recovery points and restore ------------------------------------------------------------------------
    @work(group="bk-vaults", exclusive=True, exit_on_error=False)
    async def _load_vaults(self) -> None:
        app: Any = self.app
        generation = app.generation
        results = await app.aws_loop.run(_per_region(self.regions, lambda r: bk.list_vaults(app.aws, r)))
        if generation != app.generation:
            return
        vaults: list[BackupVault] = []
        self.errors["points"] = []
        for _region, value, err in results:
            if err is not None:
                self.errors["points"].append(str(err))
            else:
                vaults.extend(value)
        self.vaults = vaults
        table = self.table("bk-vaults")
        table.set_rows(vaults)
        table.border_title = Content(f"Vaults ({len(vaults)} in {len(self.regions)} region(s))")
        if self.panel == "points":
            self._render_status()
        row = table.cursor_row
        if row is not None:
            self._load_points(row)

    @on(NodeTable.CursorMoved, "#bk-vaults")
    def _vault_cursor(self, event: NodeTable.CursorMoved) -> None:
        if self._points_timer is not None:
            self._points_timer.stop()
        row = event.row
        if row is not None and self.vaults:
            self._points_timer = self.set_timer(0.15, lambda: self._load_points(row))

    @work(group="bk-points", exclusive=True, exit_on_error=False)
    async def _load_points(self, vault: BackupVault) -> None:
        app: Any = self.app
        generation = app.generation
        table = self.table("bk-points")
        table.border_title = Content(f"Recovery points of {clean(vault.name, 40)} ({vault.region}): loading…")
        try:
            points = await app.aws_loop.run(bk.list_recovery_points(app.aws, vault.region, vault.name))
        except Exception as exc:
            table.set_rows([])
            table.border_title = Content(f"Recovery points of {clean(vault.name, 40)}: failed")
            self.errors["points"] = [str(_failure(exc, vault.region))]
            self._render_status()
            return
        if generation != app.generation:
            return
        table.set_rows(points)
        copies = sum(1 for p in points if p.source_vault_arn)
        title = f"Recovery points of {clean(vault.name, 40)} in {vault.region}: {len(points)}"
        if copies:
            title += f" ({copies} copied in from another region)"
        table.border_title = Content(title + (" · R: restore" if not self.read_only else ""))
        self.point_loads += 1

    def action_restore(self) -> None:
        if self._refused("restore"):
            return
        point: RecoveryPoint | None = self.table("bk-points").cursor_row
        if point is None:
            self.app.notify("Move the cursor to a recovery point first (3: Recovery points)", severity="warning",
                            markup=False)
            return
        if point.status != "COMPLETED":
            self.app.notify(f"Only completed recovery points can be restored (this one is {point.status})",
                            severity="warning", markup=False)
            return
        name = clean(point.resource_name or point.resource_arn, 60)
        question = (f"Restore {name} from the recovery point of {point.created:%Y-%m-%d %H:%M} UTC "
                    f"({size_text(point.size_bytes)}) in {point.region}, vault {clean(point.vault, 40)}?\n"
                    f"{clean(point.arn, 120)}\nThis launches a NEW instance from the backup "
                    f"(StartRestoreJob); the original instance is not touched.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_restore(point)

        self.app.push_screen(ConfirmScreen(question, yes="Restore"), answered)

    @work(group="bk-restore", exclusive=False, exit_on_error=False)
    async def _start_restore(self, point: RecoveryPoint) -> None:
        app: Any = self.app
        instance_id = point.resource_arn.rsplit("/", 1)[-1]
        fleet = {n.instance_id: n for n in app.fleet_view.table.rows}
        node = fleet.get(instance_id)
        try:
            account = await self._account()
            job_id, source = await app.aws_loop.run(
                bk.start_restore(app.aws, point, account, instance_type=node.instance_type if node else ""))
        except Exception as exc:
            self.app.notify(clean(str(_failure(exc, point.region)), 400), title="Restore failed", severity="error",
                            markup=False, timeout=10)
            return
        self.restores_started += 1
        self.app.notify(f"Restore job {job_id} started in {point.region} ({source}); it shows in the Jobs panel",
                        title="Restore", markup=False)
        if "jobs" in self.loaded:
            self._load_jobs()

    # -- S3 files -------------------------------------------------------------------------------------------
    @work(group="bk-buckets", exclusive=True, exit_on_error=False)
    async def _load_buckets(self) -> None:
        app: Any = self.app
        generation = app.generation
        table = self.table("bk-buckets")
        table.border_title = Content("S3 buckets: loading…")
        try:
            buckets = await app.aws_loop.run(s3.list_buckets(app.aws, self.regions[0]))
        except Exception as exc:
            self.errors["files"] = [str(_failure(exc, self.regions[0], "s3"))]
            table.border_title = Content("S3 buckets: failed")
            self._render_status()
            return
        if generation != app.generation:
            return
        self.errors["files"] = [f"{b.name}: {b.error}" for b in buckets if b.error]
        self.buckets = buckets
        table.set_rows(buckets)
        versioned = sum(1 for b in buckets if b.versioning == "Enabled")
        table.border_title = Content(f"S3 buckets ({len(buckets)}, {versioned} versioned) · enter: objects")
        self.bucket_loads += 1
        if self.panel == "files":
            self._render_status()

    @work(group="bk-listing", exclusive=True, exit_on_error=False)
    async def _load_listing(self) -> None:
        app: Any = self.app
        bucket, prefix = self.bucket, self.prefix
        if bucket is None:
            return
        table = self.table("bk-objects")
        where = f"s3://{clean(bucket.name, 60)}/{clean(prefix, 120)}"
        table.border_title = Content(f"{where}: loading…")
        try:
            listing = await app.aws_loop.run(s3.list_versions(app.aws, bucket.region or self.regions[0], bucket.name,
                                                              prefix))
        except Exception as exc:
            table.set_rows([])
            table.border_title = Content(f"{where}: failed")
            self.errors["files"] = [str(_failure(exc, bucket.region, "s3"))]
            self._render_status()
            return
        if (self.bucket, self.prefix) != (bucket, prefix):
            return
        table.set_rows(list(listing.entries))
        versions = sum(1 for e in listing.entries if e.kind == "version")
        folders = sum(1 for e in listing.entries if e.kind == "prefix")
        parts = [where, f"{folders} prefixes, {versions} versions"]
        if not listing.complete:
            parts.append(f"first {len(listing.entries)} only")
        parts.append("enter: open · esc: up · d: download" + ("" if self.read_only else " · u: upload"))
        table.border_title = Content(" · ".join(parts))
        self.listing_loads += 1

    def open_prefix(self, bucket: BucketInfo, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix
        self._load_listing()
        self.table("bk-objects").focus()

    def action_upload(self) -> None:
        if self._refused("upload"):
            return
        if self.bucket is None:
            self.app.notify("Open a bucket first (4: S3 files, enter on a bucket)", severity="warning", markup=False)
            return
        bucket, prefix = self.bucket, self.prefix

        def chosen(value: tuple[Path, str] | None) -> None:
            if value is not None:
                self._upload(bucket, value[0], value[1])

        self.app.push_screen(UploadScreen(self.upload_values, bucket.name, prefix), chosen)

    def action_download(self) -> None:
        entry: S3Entry | None = self.table("bk-objects").cursor_row
        if self.bucket is None or entry is None or entry.kind != "version":
            self.app.notify("Move the cursor to an object version first (enter on a bucket, then on a prefix)",
                            severity="warning", markup=False)
            return
        bucket = self.bucket
        name = Path(entry.key).name or "object"
        if not entry.is_latest and entry.version_id:
            stem, dot, ext = name.partition(".")
            name = f"{stem}.{entry.version_id[:8]}{dot}{ext}"
        what = (f"s3://{clean(bucket.name, 60)}/{clean(entry.key, 200)}\nversion {clean(entry.version_id or 'null', 60)}"
                f"{' (latest)' if entry.is_latest else ''}, {size_text(entry.size)}")

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._download(bucket, entry, path)

        self.app.push_screen(DownloadScreen(self.download_values, what, DOWNLOAD_DIR / name), chosen)

    def _progress(self, done: int, total: int) -> None:
        """Called on the AWS loop: only stores numbers (a timer on the UI side draws them)."""
        self.transfer["done"] = done
        self.transfer["total"] = total

    def _begin_transfer(self, what: str) -> None:
        self.transfer.update(active=True, done=0, total=0, what=what, started=time.perf_counter())
        self.query_one("#bk-transfer").add_class("-shown")
        self.query_one("#bk-transfer-label", Label).update(Content(what))
        if self._transfer_timer is None:
            self._transfer_timer = self.set_interval(0.1, self._draw_transfer)
        else:
            self._transfer_timer.resume()

    def _draw_transfer(self) -> None:
        if not self.transfer["active"]:
            return
        bar = self.query_one("#bk-transfer-bar", ProgressBar)
        total = self.transfer["total"] or None
        bar.update(total=total, progress=self.transfer["done"])

    def _end_transfer(self, ok: bool, message: str) -> None:
        elapsed = time.perf_counter() - self.transfer.get("started", time.perf_counter())
        self.transfer["active"] = False
        if self._transfer_timer is not None:
            self._transfer_timer.pause()
        bar = self.query_one("#bk-transfer-bar", ProgressBar)
        bar.update(total=self.transfer["total"] or 1, progress=self.transfer["done"] if ok else bar.progress)
        self.query_one("#bk-transfer-label", Label).update(Content(message))
        self.last_transfer = {"ok": ok, "bytes": self.transfer["done"], "seconds": elapsed}
        self.transfers += 1

    @work(group="bk-transfer", exclusive=True, exit_on_error=False)
    async def _upload(self, bucket: BucketInfo, path: Path, key: str) -> None:
        app: Any = self.app
        self._begin_transfer(f"Uploading {clean(path.name, 40)} → s3://{clean(bucket.name, 40)}/{clean(key, 60)}")
        try:
            version = await app.aws_loop.run(s3.upload_file(app.aws, bucket.region or self.regions[0], bucket.name,
                                                            key, path, progress=self._progress))
        except Exception as exc:
            err = _failure(exc, bucket.region, "s3")
            self._end_transfer(False, f"Upload failed: {clean(str(err), 200)}")
            self.app.notify(clean(str(err), 400), title="Upload failed", severity="error", markup=False)
            return
        size = self.transfer["total"]
        self._end_transfer(True, f"Uploaded {clean(key, 80)} ({size_text(size)})"
                           + (f", version {clean(version, 40)}" if version else ""))
        self.app.notify(f"Uploaded {clean(path.name, 80)} to s3://{clean(bucket.name, 60)}/{clean(key, 200)}"
                        + (f" (version {clean(version, 60)})" if version else ""), title="Upload", markup=False)
        self._load_listing()

    @work(group="bk-transfer", exclusive=True, exit_on_error=False)
    async def _download(self, bucket: BucketInfo, entry: S3Entry, path: Path) -> None:
        app: Any = self.app
        self._begin_transfer(f"Downloading {clean(Path(entry.key).name, 40)} → {clean(str(path), 60)}")
        try:
            written = await app.aws_loop.run(s3.download_file(
                app.aws, bucket.region or self.regions[0], bucket.name, entry.key, path,
                version_id=entry.version_id if entry.version_id and entry.version_id != "null" else "",
                progress=self._progress))
        except Exception as exc:
            err = _failure(exc, bucket.region, "s3")
            self._end_transfer(False, f"Download failed: {clean(str(err), 200)}")
            self.app.notify(clean(str(err), 400), title="Download failed", severity="error", markup=False)
            return
        self._end_transfer(True, f"Downloaded {size_text(written)} to {clean(str(path), 80)}")
        self.app.notify(f"Wrote {written} bytes to {clean(str(path), 200)}", title="Download", markup=False)

    # -- sort, open, back -----------------------------------------------------------------------------------
    def action_sort_next(self) -> None:
        table = self.focused_table() or self.table(MAIN_TABLE[self.panel])
        keys = [c.key for c in table.columns]
        current = table.sort_column
        table.sort_by(keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0], reverse=False)

    def action_open(self) -> None:
        table = self.focused_table()
        if table is None:
            return
        row = table.cursor_row
        if table.id == "bk-jobs" and row is not None:
            self._describe(row)
        elif table.id == "bk-buckets" and row is not None:
            self.open_prefix(row, "")
        elif table.id == "bk-objects" and row is not None and self.bucket is not None:
            if row.kind == "prefix":
                self.open_prefix(self.bucket, row.key)
            else:
                self.action_download()
        elif table.id == "bk-vaults":
            self.table("bk-points").focus()

    def action_up(self) -> None:
        table = self.focused_table()
        if table is not None and table.id == "bk-objects":
            self._prefix_up()

    def _prefix_up(self) -> bool:
        if self.bucket is None or not self.prefix:
            return False
        parent = self.prefix.rstrip("/").rpartition("/")[0]
        self.open_prefix(self.bucket, parent + "/" if parent else "")
        return True

    def action_back(self) -> None:
        focused = self.app.focused
        if isinstance(focused, Input | Select):
            self.table(MAIN_TABLE[self.panel]).focus()
            return
        table = self.focused_table()
        if table is None:
            return
        if table.id == "bk-objects":
            if not self._prefix_up():
                self.table("bk-buckets").focus()
        elif table.id == "bk-points":
            self.table("bk-vaults").focus()

