"""Monitoring, panel 3: Synthetics canaries, failing first: last run, success rate and duration over 24 h as
hourly sparklines, and the runs of the canary under the cursor; `p` starts/stops it, `n` creates a heartbeat
canary (name, URL, schedule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.timer import Timer

from opstui.aws import cloudwatch as cw
from opstui.aws import synthetics
from opstui.aws.errors import OpsError
from opstui.aws.monitoring_models import HeartbeatSpec, MetricQuery
from opstui.aws.regions import merged, per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.form import Field, FormProblems, FormScreen
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.unchecked import unchecked_note
from opstui.views.common.work import action_work
from opstui.views.monitoring.chart import sparkline
from opstui.views.monitoring.rows import RUN_COLUMNS, CanaryRow, canary_columns, canary_matches

HEARTBEAT_ROLE = "arn:aws:iam::{account}:role/CloudWatchSyntheticsRole"
HEARTBEAT_ARTIFACTS = "s3://cw-syn-results-{account}-{region}/canary/"


class CanariesPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "canaries", "Canaries", "3", "mon-canaries"
    FILTER_HINT = "filter: words  state:failing  region:ap-northeast-1  !negate"
    BINDINGS = bindings_for(commands_of("monitoring", "canaries"))
    DEFAULT_CSS = """
    CanariesPanel #mon-canaries { height: 1fr; }
    CanariesPanel #mon-runs { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.canaries: list[CanaryRow] = []
        self.unchecked: list[str] = []  # regions whose canaries the last load could not read
        self._runs_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield NodeTable(canary_columns(sparkline), key=lambda r: r.key, id="mon-canaries")
        yield NodeTable(RUN_COLUMNS, key=lambda r: r.id, id="mon-runs")

    def on_mount(self) -> None:
        self.table("mon-canaries").border_title = Content("Canaries")
        self.table("mon-runs").border_title = Content("Runs")

    def reset(self) -> None:
        self.canaries, self.unchecked = [], []
        super().reset()

    def header_extra(self) -> Content | Any:
        """Failing canaries, and the regions whose canaries could not be read."""
        from rich.text import Text

        failing = sum(1 for r in self.canaries if r.canary.failing)
        text = Text(f"   {failing} canar{'y' if failing == 1 else 'ies'} failing", style="bold red") if failing else Text()
        return text + unchecked_note("canaries", self.unchecked)

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(hours=24)

        async def region_rows(region: str) -> list[CanaryRow]:
            canaries = await synthetics.describe_canaries(ctx.aws, region)
            queries = []
            for i, c in enumerate(canaries):
                dims = {"CanaryName": c.name}
                queries.append(MetricQuery(f"s{i}", cw.metric_ref("CloudWatchSynthetics", "SuccessPercent", dims),
                                           "Average", 3600))
                queries.append(MetricQuery(f"d{i}", cw.metric_ref("CloudWatchSynthetics", "Duration", dims),
                                           "Average", 3600))
            try:
                series = await cw.get_metric_data(ctx.aws, region, queries, start, end)
            except OpsError:
                series = {}
            hours = [start + timedelta(hours=h) for h in range(24)]

            def hourly(qid: str) -> tuple[float | None, ...]:
                s = series.get(qid)
                if s is None:
                    return ()
                by_hour = {t.replace(minute=0, second=0, microsecond=0): v
                           for t, v in zip(s.timestamps, s.values, strict=False)}
                return tuple(by_hour.get(h) for h in hours)

            return [CanaryRow(c, hourly(f"s{i}"), hourly(f"d{i}")) for i, c in enumerate(canaries)]

        results = await ctx.fresh(per_region(ctx.regions, region_rows, "synthetics"), generation)
        rows, errors = merged(results, kept=lambda region: [r for r in self.canaries if r.canary.region == region])
        unchecked = [region for region, _, err in results if err is not None]
        rows.sort(key=lambda r: (0 if r.canary.failing else 1, r.canary.name))
        self.canaries, self.errors, self.unchecked = rows, errors, unchecked
        self.show_rows("mon-canaries", rows)
        self._retitle()
        self._runs_soon()

    def matches(self, row: Any, cells: tuple[str, ...], words: list[str]) -> bool:
        return canary_matches(row, self.filter_text.split())

    def apply_filter(self, text: str) -> None:
        super().apply_filter(text)
        self._retitle()

    def _retitle(self) -> None:
        table = self.table("mon-canaries")
        title = f"Canaries {len(table.order_shown)}/{len(table.rows)}"
        if self.filter_text:
            title += f" · filter: {clean(self.filter_text, 60)}"
        table.border_title = Content(title)

    # -- runs of the canary under the cursor ------------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#mon-canaries")
    def _canary_cursor(self) -> None:
        self._runs_soon()

    def _runs_soon(self) -> None:
        if self._runs_timer is not None:
            self._runs_timer.stop()
        self._runs_timer = self.set_timer(0.25, self.action_open)

    def action_open(self) -> None:
        self._runs_timer = None
        row = self.table("mon-canaries").cursor_row
        if row is not None:
            self._load_runs(row.canary.region, row.canary.name)

    @action_work("mon-runs")
    async def _load_runs(self, region: str, name: str) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        runs_table = self.table("mon-runs")
        try:
            runs = await ctx.run(synthetics.canary_runs(ctx.aws, region, name, max_runs=100))
        except OpsError as err:
            runs_table.set_rows([])
            runs_table.border_title = Content(f"Runs of {clean(name, 60)}: {clean(str(err), 200)}")
            return
        if generation != ctx.generation:
            return
        runs_table.set_rows(runs)
        failed = sum(1 for r in runs if r.failed)
        runs_table.border_title = Content(f"Runs of {clean(name, 60)} ({len(runs)}, {failed} failed)")

    # -- changes ----------------------------------------------------------------------------------------------
    def action_start_stop(self) -> None:
        row = self.table("mon-canaries").cursor_row
        if self.refused("starting or stopping canaries") or row is None:
            return
        self._start_stop(row.canary.region, row.canary.name, row.canary.state)

    @action_work("mon-canary-change")
    async def _start_stop(self, region: str, name: str, state: str) -> None:
        ctx = self.ctx
        stop = state in ("RUNNING", "STARTING")
        call = synthetics.stop_canary if stop else synthetics.start_canary
        try:
            await ctx.run(call(ctx.aws, region, name))
        except OpsError as err:
            self.app.notify(str(err), title="Canary", severity="error", markup=False)
            return
        self.app.notify(f"{'Stopping' if stop else 'Starting'} canary {clean(name, 80)}", markup=False)
        self.load()

    def action_new(self) -> None:
        if self.refused("creating"):
            return
        ctx = self.ctx
        region = ctx.regions[0] if ctx.regions else ""
        account = ctx.account or "123456789012"
        model = next((r.canary for r in self.canaries if r.canary.region == region and r.canary.execution_role), None)
        role = model.execution_role if model else HEARTBEAT_ROLE.format(account=account)
        artifacts = model.artifact_location if model else HEARTBEAT_ARTIFACTS.format(account=account, region=region)
        fields = [Field("name", "Name", "", placeholder="storefront-heartbeat"),
                  Field("url", "URL", "", placeholder="https://shop.example.com/health"),
                  Field("schedule", "Schedule", "rate(1 minute)"),
                  Field("region", "Region", region, options=tuple((r, r) for r in ctx.regions)),
                  Field("role", "Execution role ARN", role),
                  Field("artifacts", "Artifacts (S3)", artifacts)]

        def build(v: dict[str, str]) -> Any:
            problems = synthetics.heartbeat_problems(v["name"], v["url"], v["schedule"], v["role"], v["artifacts"])
            if problems:
                raise FormProblems(problems)
            return HeartbeatSpec(name=v["name"].strip(), region=v["region"], url=v["url"].strip(),
                                 schedule=v["schedule"].strip(), execution_role=v["role"].strip(),
                                 artifact_location=v["artifacts"].strip())

        async def submit(spec: HeartbeatSpec) -> None:
            await ctx.run(synthetics.create_heartbeat(ctx.aws, spec))
            self.app.notify(f"Created and started heartbeat canary {clean(spec.name, 60)} on {clean(spec.url, 120)}",
                            markup=False)

        self.form(FormScreen("Create heartbeat canary", fields, build, submit, submit_label="Create",
                             note="The console's heartbeat blueprint: loads the URL on the schedule, fails on a "
                                  "status outside 200-299."))

    @action_work("mon-form")
    async def form(self, screen: FormScreen) -> None:
        if await self.app.push_screen_wait(screen):
            self.load()
