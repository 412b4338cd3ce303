"""Run Command, the form panel: compose a command (document, parameters, targets, options) and send it.

Its loads are the document list of the first region (completion in the document field) and the document's
parameter schema (the fields are generated from it). The target is the Fleet selection (the Fleet's `c`, or
whatever is selected when the tab is shown) or an expression; the line under it previews who it reaches
from the fleet snapshot. ctrl+s checks everything, shows the blast radius and sends once confirmed (`send.py`);
in read-only mode it says why in the form instead.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button

from opstui.aws import ssm
from opstui.aws.errors import OpsError
from opstui.aws.models import DocumentDetail, FleetNode
from opstui.commands import commands_of
from opstui.runs.launch import request_problems
from opstui.runs.targets import Plan, TargetError, parse_target, plan_for, plan_for_nodes
from opstui.safe import clean
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.runcommand.active import RunStarted
from opstui.views.runcommand.fields import DEFAULT_DOCUMENT, RunForm
from opstui.views.runcommand.send import build_request, confirm_and_send, resolve_plan

READ_ONLY_PROBLEM = "read-only mode: sending commands is disabled (restart without --read-only to run commands)"


class FormPanel(Panel):
    NAME, TITLE = "form", "Compose"
    BINDINGS = bindings_for(commands_of("run", "form"))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fleet_nodes: list[FleetNode] = []

    def compose(self) -> ComposeResult:
        yield RunForm(id="rc-form")

    @property
    def fields(self) -> RunForm:
        return self.query_one(RunForm)

    def on_mount(self) -> None:
        self.fields.set_read_only(self.ctx.read_only)
        self.load()  # at once, not when first shown: the form is ready when the Fleet's `c` brings it up

    def shown(self) -> None:
        super().shown()
        self.fields.focus_first()

    def reset(self) -> None:
        """Another account or region: its nodes are not the old ones, its documents may differ."""
        super().reset()
        self.fleet_nodes = []
        self.fields.set_fleet_count(0, use=False)
        self._update_preview()
        self.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            return True  # live in read-only mode too: ctrl+s says why in the form (the button is disabled)
        return super().check_action(action, parameters)

    # -- documents ------------------------------------------------------------------------------------------
    def load(self) -> None:
        if self.ctx.regions:
            self._load_documents()

    @aws_work
    async def _load_documents(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        region = ctx.regions[0]
        try:
            docs = await ctx.fresh(ssm.list_documents(ctx.aws, region), generation)
        except OpsError as err:  # said in the form, under the document field: typing a name still works
            self.fields.set_documents([], str(err))
        else:
            self.fields.set_documents([d.name for d in docs])
        wanted = self.fields.values().document or DEFAULT_DOCUMENT
        if self.fields.detail is None or self.fields.detail.name != wanted:
            self._describe(wanted)

    @on(RunForm.DocumentChosen)
    def _document_chosen(self, event: RunForm.DocumentChosen) -> None:
        self._describe(event.name)

    @aws_work
    async def _describe(self, name: str) -> None:
        detail = await self._fetch_detail(name)
        if detail is not None and self.fields.values().document == name:
            await self.fields.set_detail(detail)

    async def _fetch_detail(self, name: str) -> DocumentDetail | None:
        """DescribeDocument; on failure the form says why (unknown document) and keeps what was typed."""
        ctx, generation = self.ctx, self.ctx.generation
        region = ctx.regions[0]
        try:
            return await ctx.fresh(ssm.describe_document(ctx.aws, region, name), generation)
        except OpsError as err:
            self.fields.set_document_error(f"unknown document {clean(name, 80)!r} in {region}: {clean(err, 300)}")
            return None

    # -- targets ----------------------------------------------------------------------------------------------
    def use_fleet_nodes(self, nodes: list[FleetNode], *, select: bool = True) -> None:
        """Target these Fleet nodes (the Fleet's c, or the Fleet selection when the tab is shown)."""
        self.fleet_nodes = list(nodes)
        self.fields.set_fleet_count(len(self.fleet_nodes), use=True if select and nodes else None)
        self._update_preview()

    @on(RunForm.TargetEdited)
    def _target_edited(self) -> None:
        self._update_preview()

    def _update_preview(self) -> None:
        form = self.fields
        try:
            if form.target_mode == "fleet":
                if not self.fleet_nodes:
                    form.set_target_preview("")
                    return
                plan = plan_for_nodes(self.fleet_nodes)
            else:
                text = form.values().target_text
                if not text.strip():
                    form.set_target_preview("")
                    return
                spec = parse_target(text)
                if spec.kind == "group":
                    form.set_target_preview(f"→ resource group {spec.key}: members resolved when sending")
                    return
                snapshot = self.ctx.fleet.snapshot
                if snapshot is None:
                    form.set_target_preview("(the fleet is still loading)")
                    return
                plan = plan_for(spec, snapshot)
        except TargetError as err:
            form.set_target_preview(str(err), error=True)
            return
        r = plan.radius
        form.set_target_preview(f"→ {r.summary()[0]}{'  PROD' if r.prod else ''}\n   {r.names}")

    # -- send ----------------------------------------------------------------------------------------------
    def action_send(self) -> None:
        if self.refused("sending commands"):
            self.fields.show_problems([READ_ONLY_PROBLEM])
            return
        self._send()

    @on(Button.Pressed, "#rc-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#rc-history")
    def _history_pressed(self) -> None:
        self.tab.show_panel("history")

    @action_work("rc-send")
    async def _send(self) -> None:
        """Every check first (document, parameters, options, targets), all problems at once; then the blast
        radius and, once confirmed, SendCommand."""
        form = self.fields
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
        request, timeout_problems = build_request(values)
        problems.extend(timeout_problems)
        problems.extend(p for p in request_problems(request, detail) if p not in problems)
        plan: Plan | None = None
        try:
            plan = await resolve_plan(self.ctx, values, self.fleet_nodes)
            if detail is not None:
                plan = plan.for_platforms(detail.platform_types)  # e.g. a shell script skips Windows nodes
        except TargetError as err:
            problems.append(str(err))
        if problems or plan is None:
            form.show_problems(problems)
            return
        form.show_problems([])
        run = await confirm_and_send(self, form, plan, request)
        if run is not None:
            self.post_message(RunStarted(run))
        elif self.tab.panel == self.NAME:
            form.focus_first()
