"""Inventory, panel `a`: the association that keeps the inventory fresh, per region.

Each region's AWS-GatherSoftwareInventory association (all managed nodes): its schedule, status, nodes by
status and last executions. ctrl+s creates it where it is missing, or sets its schedule where it differs
(>= 30 minutes, checked while typing; AWS refuses shorter). In read-only mode the form is disabled and says
why. The schedules also tell the browse panel which nodes missed two runs (late).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Button, Input, Static

from opstui.aws import ssm_inventory as inv
from opstui.aws.models import Association, AssociationExecution
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.inventory.forms import ScheduleForm
from opstui.views.inventory.panel import InventoryPanel
from opstui.views.inventory.rows import ASSOCIATION_COLUMNS, EXECUTION_COLUMNS, AssociationRow, ExecutionRow


class SetupPanel(InventoryPanel):
    NAME, TITLE, KEY, MAIN_TABLE = "setup", "Set-up", "a", "inv-assocs"
    BINDINGS = bindings_for(commands_of("inventory", "setup"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    SetupPanel #inv-setup-readonly { display: none; background: $warning; color: $text; padding: 0 1; }
    SetupPanel.-read-only #inv-setup-readonly { display: block; }
    SetupPanel #inv-assocs { height: 10; }
    SetupPanel #inv-execs { height: 1fr; min-height: 8; }
    Screen.-short SetupPanel #inv-assocs { height: 1fr; min-height: 6; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.applies = 0  # finished create / update rounds (the tests read it)

    def compose(self) -> ComposeResult:
        yield Static("READ-ONLY: creating or changing the association is disabled (opstui was started with "
                     "--read-only).", id="inv-setup-readonly")
        yield ScheduleForm(id="inv-schedule-form")
        yield NodeTable(ASSOCIATION_COLUMNS, key=lambda r: r.key, id="inv-assocs")
        yield NodeTable(EXECUTION_COLUMNS, key=lambda r: r.key, id="inv-execs")

    def on_mount(self) -> None:
        read_only = self.ctx.read_only
        self.set_class(read_only, "-read-only")
        self.query_one("#inv-apply", Button).disabled = read_only
        self.table("inv-assocs").border_title = Content("Inventory association per region")
        self.table("inv-execs").border_title = Content("Last executions")

    # -- loading ----------------------------------------------------------------------------------------------
    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        if not ctx.regions:
            return
        if not self.loaded:
            self.table("inv-assocs").border_title = Content("Inventory association per region: loading…")

        async def one(region: str) -> tuple[Association | None, list[AssociationExecution]]:
            found = await inv.find_inventory_association(ctx.aws, region)
            execs = (await inv.describe_association_executions(ctx.aws, region, found.association_id, limit=5)
                     if found else [])
            return found, execs

        results = await ctx.fresh(per_region(ctx.regions, one, "ssm"), generation)
        assoc_rows: list[AssociationRow] = []
        exec_rows: list[ExecutionRow] = []
        errors: list[str] = []
        schedules: set[str] = set()
        periods = self.shared.periods
        for region, value, err in results:
            if err is not None:
                message = clean(str(err), 400)
                errors.append(message)
                assoc_rows.append(AssociationRow(None, region, error=message))
                continue
            found, execs = value
            assoc_rows.append(AssociationRow(found, region))
            if found is not None:
                periods[region] = inv.schedule_period(found.schedule)
                schedules.add(found.schedule)
            exec_rows.extend(ExecutionRow(e, region) for e in execs)
        exec_rows.sort(key=lambda r: r.execution.created or datetime.min.replace(tzinfo=UTC), reverse=True)
        self.errors = errors
        self.show_rows("inv-assocs", assoc_rows)
        self.table("inv-assocs").border_title = Content(
            f"Inventory association per region ({inv.INVENTORY_DOCUMENT}, all managed nodes)")
        self.show_rows("inv-execs", exec_rows)
        self.table("inv-execs").border_title = Content(f"Last executions ({len(exec_rows)})")
        if len(schedules) == 1:
            self.query_one(ScheduleForm).show_loaded(next(iter(schedules)))
        for panel in self.tab.panels():
            if isinstance(panel, InventoryPanel):
                panel.periods_changed()

    # -- create / update --------------------------------------------------------------------------------------
    @on(Input.Submitted, "#inv-schedule")
    @on(Button.Pressed, "#inv-apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        """ctrl+s: create the association where it is missing, set the schedule where it differs."""
        if self.refused("creating or changing the inventory association"):
            return
        form = self.query_one(ScheduleForm)
        schedule = form.schedule
        problem = inv.schedule_problem(schedule)
        if problem:
            form.show_problem(problem)
            self.app.notify(problem, title="Schedule refused", severity="error", markup=False)
            return
        self._apply(schedule)

    @action_work("inv-apply")
    async def _apply(self, schedule: str) -> None:
        ctx = self.ctx
        results = await ctx.run(per_region(ctx.regions, lambda r: inv.ensure_inventory_association(ctx.aws, r,
                                                                                                 schedule), "ssm"))
        done, errors = [], []
        for region, value, err in results:
            if err is not None:
                errors.append(clean(str(err), 400))
            else:
                done.append(f"{region}: {value[1]}")
        if done:
            self.app.notify(f"Inventory association ({schedule}): " + ", ".join(done), markup=False)
        for message in errors:
            self.app.notify(message, title="Inventory association failed", severity="error", markup=False, timeout=10)
        self.applies += 1
        self.load()
