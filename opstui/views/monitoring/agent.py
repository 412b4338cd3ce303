"""Monitoring, panel 4: per node, does the CloudWatch agent publish CWAgent metrics? `i` installs and starts it
on the selected nodes (here, or the Fleet's selection) through Run Command: AWS-ConfigureAWSPackage, then
AmazonCloudWatch-ManageAgent on the nodes where the install succeeded, with progress per node. `c` sets it up:
a configuration from presets (:mod:`opstui.cwagent_presets`), stored with PutParameter in each region of the
selection, then ManageAgent ``configure`` from that parameter, through the same confirmation and progress."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static

from opstui import cwagent_presets as presets
from opstui.aws import cloudwatch as cw
from opstui.aws import ssm
from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest, FleetNode
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.runs.launch import send_plan
from opstui.runs.targets import TargetError, plan_for_nodes
from opstui.runs.tracker import RunTracker
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.monitoring.agent_setup import AgentSetupForm
from opstui.views.monitoring.rows import AGENT_COLUMNS, INSTALL_COLUMNS, AgentRow

INSTALL_DOC = "AWS-ConfigureAWSPackage"
MANAGE_DOC = presets.MANAGE_DOC
STEPS = (
    (INSTALL_DOC, {"action": ["Install"], "name": ["AmazonCloudWatchAgent"],
                   "installationType": ["Uninstall and reinstall"]}),
    (MANAGE_DOC, {"action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["default"],
                  "optionalRestart": ["yes"]}),
)


class AgentPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "agent", "Agent", "4", "mon-agents"
    BINDINGS = bindings_for(commands_of("monitoring", "agent"))
    DEFAULT_CSS = """
    AgentPanel #mon-agents { height: 1fr; }
    AgentPanel #mon-install { height: 12; display: none; }
    AgentPanel.-installing #mon-install { display: block; }
    AgentPanel #mon-install-status { height: auto; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics: dict[str, dict[str, tuple[str, ...]]] = {}  # region -> instance id -> metric names
        self.install_running = False
        self.setup_values: dict[str, str] = {}  # what the set-up form had (kept across esc)

    def compose(self) -> ComposeResult:
        yield NodeTable(AGENT_COLUMNS, key=lambda r: r.key, id="mon-agents")
        yield Static(id="mon-install-status")
        yield NodeTable(INSTALL_COLUMNS, key=lambda r: f"{r[0]}/{r[1].key}", id="mon-install")

    def on_mount(self) -> None:
        self.table("mon-agents").border_title = Content("CloudWatch agent per node")
        self.table("mon-install").border_title = Content("Install")
        self.ctx.fleet.snapshot_changed.subscribe(self, lambda _snapshot: self.fleet_changed())

    def reset(self) -> None:
        self.metrics = {}
        super().reset()

    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        results = await ctx.fresh(per_region(ctx.regions, lambda r: cw.agent_nodes(ctx.aws, r), "cloudwatch"),
                                  generation)
        errors = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                self.metrics.pop(region, None)
            else:
                self.metrics[region] = value
        self.errors = errors
        self.render_agents()

    def render_agents(self) -> None:
        nodes = [n for n in self.ctx.fleet.nodes if n.instance_id.startswith("i-")]
        rows = []
        for n in nodes:
            region = self.metrics.get(n.region)
            rows.append(AgentRow(n, None if region is None else region.get(n.instance_id, ())))
        self.show_rows("mon-agents", rows)
        table = self.table("mon-agents")
        title = f"CloudWatch agent per node {len(table.order_shown)}/{len(table.rows)}"
        if self.filter_text:
            title += f" · filter: {clean(self.filter_text, 60)}"
        table.border_title = Content(title)

    def fleet_changed(self) -> None:
        if self.loaded:
            self.render_agents()

    def action_toggle_select(self) -> None:
        table = self.table("mon-agents")
        table.toggle_selected()
        table.action_cursor(1)

    # -- install ----------------------------------------------------------------------------------------------
    def target_nodes(self) -> list[FleetNode]:
        """The nodes selected here, else the Fleet's selection, else the node under the cursor; [] says why."""
        table = self.table("mon-agents")
        nodes: list[FleetNode] = [r.node for r in table.selected_rows()] or self.ctx.fleet.selected_nodes()
        if not nodes and table.cursor_row is not None:
            nodes = [table.cursor_row.node]
        if not nodes:
            self.app.notify("Select nodes first (space here or in the Fleet).", markup=False)
            return []
        if self.install_running:
            self.app.notify("An agent installation or set-up is already running.", markup=False)
            return []
        return list(nodes)

    def action_install_agent(self) -> None:
        if self.refused("installing the agent"):
            return
        nodes = self.target_nodes()
        if nodes:
            self._install(nodes)

    # -- set-up: configuration from presets -> Parameter Store -> ManageAgent ----------------------------------
    def action_configure_agent(self) -> None:
        if self.refused("configuring the agent"):
            return
        nodes = self.target_nodes()
        if not nodes:
            return
        try:
            platform = presets.platform_of(n.platform for n in nodes)
        except presets.PresetError as err:
            self.app.notify(str(err), severity="error", markup=False)
            return
        self._configure(nodes, platform)

    @action_work("mon-install")
    async def _configure(self, nodes: list[FleetNode], platform: str) -> None:
        """The form (presets, parameter, preview), the blast radius, then PutParameter in each region of the
        selection and ManageAgent configure from it on the nodes, with progress per node."""
        try:
            plan = plan_for_nodes(nodes)
        except TargetError as err:
            self.app.notify(str(err), severity="error", markup=False)
            return
        chosen: list[presets.AgentSetup] = []

        async def decided(setup: presets.AgentSetup) -> None:
            chosen.append(setup)

        if not await self.app.push_screen_wait(AgentSetupForm(platform, len(nodes), self.setup_values, decided)):
            return
        setup = chosen[-1]
        regions = sorted({n.region for n in nodes})
        radius = plan.radius
        lines = radius.summary() + [
            "", f"1. PutParameter {clean(setup.parameter, 120)} (String, overwrite) in {', '.join(regions)}",
            f"   {'; '.join(setup.labels)}",
            *([f"   log groups: {clean(', '.join(setup.groups), 200)}"] if setup.groups else []),
            f"2. {MANAGE_DOC} (action configure, from ssm:{clean(setup.parameter, 120)}, restart: yes)",
            "Nodes without the agent fail step 2: install it first (i)."]
        if not await self.app.push_screen_wait(ConfirmScreen(
                f"Store the agent configuration and apply it to {radius.count} node(s)?", lines, yes="Apply",
                danger=radius.prod)):
            return
        self.add_class("-installing")
        self.install_running = True
        status = self.query_one("#mon-install-status", Static)
        try:
            ctx = self.ctx
            for region in regions:
                try:
                    await ctx.run(ssm.put_parameter(ctx.aws, region, setup.parameter, setup.text,
                                                    description="CloudWatch agent configuration (opstui presets)"))
                except OpsError as err:
                    status.update(Content(f"✗ PutParameter {clean(setup.parameter, 120)} in {region}: "
                                          f"{clean(str(err), 300)}"))
                    return
            done = await self._run_steps(plan, {n.instance_id: n.name for n in nodes},
                                         ((MANAGE_DOC, presets.manage_parameters(setup.parameter)),),
                                         f"agent configured from {clean(setup.parameter, 120)}")
            if done:
                self.app.notify(f"CloudWatch agent configured from {setup.parameter} on {done} node(s)",
                                markup=False)
        finally:
            self.install_running = False
        await asyncio.sleep(1.0)
        self.load()

    @action_work("mon-install")
    async def _install(self, nodes: list[FleetNode]) -> None:
        """The seed's procedure, through Run Command: install the package, then configure and start the agent
        on the nodes where the install succeeded. Each step is one send + one tracker, polled until done."""
        try:
            plan = plan_for_nodes(nodes)
        except TargetError as err:
            self.app.notify(str(err), severity="error", markup=False)
            return
        radius = plan.radius
        lines = radius.summary() + ["", f"1. {INSTALL_DOC} (action Install, name AmazonCloudWatchAgent)",
                                    f"2. {MANAGE_DOC} (action configure, default config, restart: yes)"]
        if not await self.app.push_screen_wait(ConfirmScreen(
                f"Install and start the CloudWatch agent on {radius.count} node(s)?", lines, yes="Install",
                danger=radius.prod)):
            return
        self.add_class("-installing")
        self.install_running = True
        try:
            done = await self._run_steps(plan, {n.instance_id: n.name for n in nodes}, STEPS,
                                         "CloudWatch agent installed and started")
            if done:
                self.app.notify(f"CloudWatch agent running on {done} node(s)", markup=False)
        finally:
            self.install_running = False
        await asyncio.sleep(1.0)
        self.load()

    async def _run_steps(self, plan: Any, names: dict[str, str], steps: Any, done_text: str) -> int:
        """The steps in turn, each on the nodes where the previous succeeded. Returns how many got through."""
        ctx = self.ctx
        status = self.query_one("#mon-install-status", Static)
        progress_rows: dict[str, tuple[str, Any]] = {}
        self.table("mon-install").set_rows([])
        for number, (document, params) in enumerate(steps, start=1):
            step = f"{number}/{len(steps)} {document}"
            request = CommandRequest(document=document, parameters=params, comment=f"opstui: CloudWatch agent {step}")
            try:
                result = await ctx.run(send_plan(ctx.aws, plan, request))
            except OpsError as err:
                status.update(Content(f"✗ step {step}: {clean(str(err), 300)}"))
                return 0
            tracker = RunTracker(ctx.aws, list(result.commands), names=names)
            while True:
                update = await ctx.run(tracker.poll())
                for state in tracker.states():
                    progress_rows[f"{number}/{state.key}"] = (step, state)
                self.table("mon-install").set_rows(list(progress_rows.values()))
                p = update.progress
                status.update(Content(f"Step {step}: {p.done}/{p.total} done, {p.failed} failed"
                                      + ("" if not update.errors else f" · {clean(update.errors[0], 200)}")))
                if update.finished:
                    break
                await asyncio.sleep(1.0)
            ok = [n for n in plan.radius.nodes
                  if any(s.instance_id == n.instance_id and s.outcome == "Success" for s in tracker.states())]
            if not ok:
                status.update(Content(f"✗ step {step} succeeded on no node: stopped here"))
                return 0
            plan = plan_for_nodes(ok)
        status.update(Content(f"✓ {done_text} on {len(plan.radius.nodes)} node(s); "
                              "its metrics appear within a minute or two (r reloads)"))
        return len(plan.radius.nodes)
