"""Backup, panel 2: every plan's rules (schedule in words, windows, retention, copies) and selections, one row
per rule, and the whole plan under the table; `n` creates a plan with the seed's flow in one checked form."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from opstui.aws import backup as bk
from opstui.aws.backup_models import BackupPlan, PlanSpec
from opstui.aws.regions import merged, per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.backup.account import account_id
from opstui.views.backup.details import plan_detail
from opstui.views.backup.forms import PlanFormScreen
from opstui.views.backup.rows import PLAN_COLUMNS, PlanRow
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work


class PlansPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "plans", "Plans", "2", "bk-plans"
    BINDINGS = bindings_for(commands_of("backup", "plans"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    PlansPanel #bk-plans { height: 1fr; min-height: 8; }
    PlansPanel #bk-plan-detail-box { height: 11; border: round $primary-darken-1; padding: 0 1; }
    Screen.-short PlansPanel #bk-plan-detail-box { height: 1fr; min-height: 3; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plans: list[BackupPlan] = []
        self.plan_values: dict[str, str] = {}  # what the form had when it was closed (typed text survives esc)
        self.plans_created = 0

    def compose(self) -> ComposeResult:
        yield NodeTable(PLAN_COLUMNS, key=lambda r: r.key, id="bk-plans")
        with VerticalScroll(id="bk-plan-detail-box"):
            yield Static(id="bk-plan-detail")

    def on_mount(self) -> None:
        self.table("bk-plans").border_title = Content("Backup plans")
        self.query_one("#bk-plan-detail-box").border_title = Content("Plan")

    def reset(self) -> None:
        self.plans = []
        self.query_one("#bk-plan-detail", Static).update("")
        super().reset()

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.ctx.regions:
            self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("bk-plans")
        if not self.loaded:
            table.border_title = Content("Backup plans: loading…")
        results = await ctx.fresh(per_region(ctx.regions, lambda r: bk.list_plans(ctx.aws, r), "backup"), generation)
        plans, errors = merged(results)
        self.plans, self.errors = plans, errors
        self.show_rows("bk-plans", [PlanRow(p, r) for p in plans for r in (p.rules or (None,))])
        table.border_title = Content(f"Backup plans ({len(plans)}) · n: new plan")
        self._show_detail()

    @on(NodeTable.CursorMoved, "#bk-plans")
    def _show_detail(self) -> None:
        self.query_one("#bk-plan-detail", Static).update(plan_detail(self.table("bk-plans").cursor_row))

    # -- a new plan -----------------------------------------------------------------------------------------
    def action_new_plan(self) -> None:
        if self.refused("creating a backup plan"):
            return
        ctx = self.ctx
        if not ctx.regions:
            return
        existing: dict[str, list[str]] = {}
        for plan in self.plans:
            existing.setdefault(plan.region, []).append(plan.name)

        async def create(spec: PlanSpec) -> BackupPlan:
            account = await account_id(ctx)
            return await ctx.run(bk.create_plan(ctx.aws, spec, account))

        self._plan_form(PlanFormScreen(self.plan_values, ctx.regions, existing, create))

    @action_work("bk-plan-form")
    async def _plan_form(self, form: PlanFormScreen) -> None:
        if not await self.app.push_screen_wait(form) or form.created is None:
            return
        plan = form.created
        self.plans_created += 1
        self.plan_values.clear()  # the next form starts from the seed's values again
        copy = ", ".join(f"copy to {c.destination_region}" for r in plan.rules for c in r.copy_actions)
        self.app.notify(f"Created backup plan {clean(plan.name, 60)} in {plan.region} ({copy or 'no copy'}; "
                        f"{len(plan.selections)} selection)", title="Backup plan", markup=False)
        self.load()
