"""Backup, panel 3: the vaults of every region and the recovery points of the vault under the cursor (enter
goes from the vaults to its points, esc back); `R` restores the point under the cursor as a NEW instance
(StartRestoreJob), after a confirmation that says so."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer

from opstui.aws import backup as bk
from opstui.aws.backup_models import BackupVault, RecoveryPoint
from opstui.aws.errors import OpsError
from opstui.aws.regions import merged, per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.backup.account import account_id
from opstui.views.backup.rows import POINT_COLUMNS, VAULT_COLUMNS
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.format import size_text
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work


class PointsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "points", "Recovery points", "3", "bk-vaults"
    BINDINGS = bindings_for(commands_of("backup", "points"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    PointsPanel #bk-points-row { height: 1fr; }
    PointsPanel #bk-vaults { width: 58; }
    PointsPanel #bk-points { width: 1fr; }
    Screen.-narrow PointsPanel #bk-points-row { layout: vertical; }
    Screen.-narrow PointsPanel #bk-vaults { width: 100%; height: 1fr; min-height: 8; }
    Screen.-narrow PointsPanel #bk-points { width: 100%; height: 2fr; min-height: 8; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vaults: list[BackupVault] = []
        self.point_loads = 0  # recovery point lists shown (tests wait on it)
        self.restores_started = 0
        self._points_timer: Timer | None = None
        self._listed: str | None = None  # the vault whose points the table shows

    def compose(self) -> ComposeResult:
        with Horizontal(id="bk-points-row"):
            yield NodeTable(VAULT_COLUMNS, key=lambda v: v.key, id="bk-vaults")
            yield NodeTable(POINT_COLUMNS, key=lambda p: p.key, id="bk-points")

    def on_mount(self) -> None:
        self.table("bk-vaults").border_title = Content("Vaults")
        self.table("bk-points").border_title = Content("Recovery points")

    def reset(self) -> None:
        self.vaults, self._listed = [], None
        super().reset()

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.ctx.regions:
            self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        results = await ctx.fresh(per_region(ctx.regions, lambda r: bk.list_vaults(ctx.aws, r), "backup"), generation)
        vaults, errors = merged(results)
        self.vaults, self.errors = vaults, errors
        self.show_rows("bk-vaults", vaults)  # its CursorMoved (re)loads the points of the vault under the cursor
        self.table("bk-vaults").border_title = Content(f"Vaults ({len(vaults)} in {len(ctx.regions)} region(s))")

    @on(NodeTable.CursorMoved, "#bk-vaults")
    def _vault_cursor(self, event: NodeTable.CursorMoved) -> None:
        """The points follow the vault cursor once it rests (arrow-key repeat costs no calls)."""
        if self._points_timer is not None:
            self._points_timer.stop()
        row = event.row
        if row is not None and self.vaults:
            self._points_timer = self.set_timer(0.15, lambda: self._load_points(row))

    @aws_work
    async def _load_points(self, vault: BackupVault) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("bk-points")
        name = clean(vault.name, 40)
        if vault.key != self._listed:  # a refresh of the same vault keeps its title
            table.border_title = Content(f"Recovery points of {name} ({vault.region}): loading…")
        try:
            points = await ctx.fresh(bk.list_recovery_points(ctx.aws, vault.region, vault.name), generation)
        except OpsError:
            self._listed = None
            table.set_rows([])
            table.border_title = Content(f"Recovery points of {name}: failed")
            raise  # the status line says why
        self._listed = vault.key
        table.set_rows(points)
        copies = sum(1 for p in points if p.source_vault_arn)
        title = f"Recovery points of {name} in {vault.region}: {len(points)}"
        if copies:
            title += f" ({copies} copied in from another region)"
        table.border_title = Content(title + ("" if ctx.read_only else " · R: restore"))
        self.point_loads += 1

    # -- keys -----------------------------------------------------------------------------------------------
    def action_open(self) -> None:
        """enter on a vault: into its recovery points."""
        self.table("bk-points").focus()

    def action_back(self) -> bool:
        """esc in the points: back to the vaults."""
        points = self.table("bk-points")
        if points.has_focus:
            self.table("bk-vaults").focus()
            return True
        return False

    # -- restore --------------------------------------------------------------------------------------------
    def action_restore(self) -> None:
        if self.refused("restore"):
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

    @action_work("bk-restore", exclusive=False)
    async def _start_restore(self, point: RecoveryPoint) -> None:
        ctx = self.ctx
        instance_id = point.resource_arn.rsplit("/", 1)[-1]
        node = next((n for n in ctx.fleet.nodes if n.instance_id == instance_id), None)  # same size as the original
        try:
            account = await account_id(ctx)
            job_id, source = await ctx.run(
                bk.start_restore(ctx.aws, point, account, instance_type=node.instance_type if node else ""))
        except OpsError as err:
            self.app.notify(clean(str(err), 400), title="Restore failed", severity="error", markup=False, timeout=10)
            return
        self.restores_started += 1
        self.app.notify(f"Restore job {job_id} started in {point.region} ({source}); it shows in the Jobs panel",
                        title="Restore", markup=False)
        jobs = self.tab.panel_named("jobs")
        if jobs.loaded:
            jobs.load()
