"""Monitoring, panel 1: every alarm of the loaded regions, ALARM first and red; under it the alarm's metric
over the last 3 hours with the threshold drawn across, and its state history. `n` creates an alarm on the
Fleet cursor node's CPU/memory/disk, `e` edits, `d` turns the actions (notifications) off/on, `x` deletes
(asks first). The chart and history follow the cursor a quarter second after it stops (arrow-key repeat costs
no calls)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from opstui.aws import cloudwatch as cw
from opstui.aws.errors import OpsError
from opstui.aws.monitoring_models import STATE_ORDER, Alarm, MetricQuery
from opstui.aws.regions import merged, per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.unchecked import unchecked_note
from opstui.views.common.work import action_work
from opstui.views.monitoring.alarm_form import alarm_form
from opstui.views.monitoring.chart import braille_plot
from opstui.views.monitoring.rows import ALARM_COLUMNS, HISTORY_COLUMNS, alarm_matches

CHART_HOURS = 3


class AlarmsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "alarms", "Alarms", "1", "mon-alarms"
    FILTER_HINT = "filter: words  state:ALARM  region:ap-northeast-1  instance:i-…  !negate"
    BINDINGS = bindings_for(commands_of("monitoring", "alarms"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    AlarmsPanel #mon-alarms { height: 1fr; min-height: 8; }
    AlarmsPanel #mon-alarm-detail { height: 17; }
    Screen.-short AlarmsPanel #mon-alarm-detail { height: 1fr; min-height: 7; }
    AlarmsPanel #mon-chart { width: 3fr; height: 100%; padding: 0 1; border: round $primary-darken-1; border-title-align: left; }
    AlarmsPanel #mon-history { width: 2fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alarms: list[Alarm] = []
        self.unchecked: list[str] = []  # regions whose alarms the last load could not read
        self.detail_key: str | None = None
        self.detail_loads = 0
        self.last_seconds = 0.0  # the last board load (bench/monitoring.py reads it)
        self.last_chart_seconds = 0.0
        self._detail_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield NodeTable(ALARM_COLUMNS, key=lambda a: a.key, id="mon-alarms")
        with Horizontal(id="mon-alarm-detail"):
            yield Static(id="mon-chart")
            yield NodeTable(HISTORY_COLUMNS, key=lambda h: f"{h.timestamp}{h.kind}{h.summary}", id="mon-history")

    def on_mount(self) -> None:
        self.table("mon-alarms").border_title = Content("Alarms: open the tab to load")
        self.table("mon-history").border_title = Content("State history")
        self.table("mon-alarms").sort_by("state", reverse=False)
        self.query_one("#mon-chart", Static).border_title = Content("Metric")

    def reset(self) -> None:
        self.alarms, self.detail_key, self.unchecked = [], None, []
        self.query_one("#mon-chart", Static).update("")
        super().reset()

    def header_extra(self) -> Text:
        """Alarms in ALARM, and the regions whose alarms could not be read (their count would be a guess)."""
        firing = sum(1 for a in self.alarms if a.state == "ALARM")
        text = Text(f"   {firing} in ALARM", style="bold red") if firing else Text()
        return text + unchecked_note("alarms", self.unchecked)

    # -- loading --------------------------------------------------------------------------------------------
    def load(self) -> None:
        self._load()

    @aws_work
    async def _load(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        started = asyncio.get_running_loop().time()
        results = await ctx.fresh(per_region(ctx.regions, lambda r: cw.describe_alarms(ctx.aws, r), "cloudwatch"),
                                  generation)
        alarms, errors = merged(results, kept=lambda region: [a for a in self.alarms if a.region == region])
        unchecked = [region for region, _, err in results if err is not None]
        alarms.sort(key=lambda a: (STATE_ORDER.get(a.state, 9), a.name.lower()))
        self.alarms, self.errors, self.unchecked = alarms, errors, unchecked
        self.last_seconds = asyncio.get_running_loop().time() - started
        self.show_rows("mon-alarms", alarms)
        self._retitle()
        if self.detail_key is None or not any(a.key == self.detail_key for a in alarms):
            self._detail_soon()
        elif self.detail_key:
            self._load_detail(self.detail_key)

    def matches(self, row: Any, cells: tuple[str, ...], words: list[str]) -> bool:
        return alarm_matches(row, self.filter_text.split())

    def apply_filter(self, text: str) -> None:
        super().apply_filter(text)
        self._retitle()

    def _retitle(self) -> None:
        table = self.table("mon-alarms")
        shown, total = len(table.order_shown), len(self.alarms)
        firing = sum(1 for a in self.alarms if a.state == "ALARM")
        title = f"Alarms {shown}/{total}" if shown != total else f"Alarms {total}"
        title += f" · ALARM {firing}" if firing else ""
        if self.filter_text:
            title += f" · filter: {clean(self.filter_text, 60)}"
        if self.busy and not self.loaded:
            title += " · loading…"
        table.border_title = Content(title)

    # -- the detail under the table ---------------------------------------------------------------------------
    @on(NodeTable.CursorMoved, "#mon-alarms")
    def _alarm_cursor(self) -> None:
        self._detail_soon()

    def _detail_soon(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(0.25, self.action_open)

    def action_open(self) -> None:
        """enter: the chart and history of the alarm under the cursor, now."""
        self._detail_timer = None
        alarm = self.table("mon-alarms").cursor_row
        if alarm is None:
            self.detail_key = None
            self.query_one("#mon-chart", Static).update(Text("No alarm under the cursor.", style="dim"))
            self.table("mon-history").set_rows([])
            return
        self.detail_key = alarm.key
        self._load_detail(alarm.key)

    @action_work("mon-detail")
    async def _load_detail(self, key: str) -> None:
        alarm = next((a for a in self.alarms if a.key == key), None)
        if alarm is None:
            return
        ctx, generation = self.ctx, self.ctx.generation
        end = datetime.now(UTC)
        start = end - timedelta(hours=CHART_HOURS)

        async def fetch() -> tuple[Any, Any]:
            series: Any = None
            if alarm.metric is not None:
                period = max(alarm.period or 60, 60)
                stat = alarm.statistic if alarm.statistic in cw.STATISTICS else "Average"
                try:
                    series = (await cw.get_metric_data(ctx.aws, alarm.region, [MetricQuery("m0", alarm.metric, stat,
                                                                                            period)], start, end)).get("m0")
                except OpsError as err:
                    series = err
            try:
                history: Any = await cw.alarm_history(ctx.aws, alarm.region, alarm.name, max_items=50)
            except OpsError as err:
                history = err
            return series, history

        t0 = asyncio.get_running_loop().time()
        series, history = await ctx.run(fetch())
        if generation != ctx.generation or key != self.detail_key:
            return
        self.last_chart_seconds = asyncio.get_running_loop().time() - t0
        self.detail_loads += 1
        self._draw_detail(alarm, series, history)

    def _draw_detail(self, alarm: Alarm, series: Any, history: Any) -> None:
        chart = self.query_one("#mon-chart", Static)
        chart.border_title = Content(clean(f"{alarm.name} · {alarm.region}", 80))
        text = Text()
        text.append(clean(alarm.condition, 200) + "\n", style="bold")
        rows, cols = chart.size.height or 15, max(chart.size.width, 20)
        desc = clean(alarm.description, 200) if alarm.description else ""
        desc_rows = -(-cell_len(desc) // cols) if desc and rows >= 15 else 0  # a short screen keeps the plot
        if desc_rows:
            text.append(desc + "\n", style="dim")
        plot_rows = max(min(rows - 2 - desc_rows, 9), 3)  # 2: the condition line and the time row
        if isinstance(series, OpsError):
            text.append(f"metric data: {clean(str(series), 300)}", style="red")
        elif series is None:
            text.append("no single metric to chart (composite or metric-math alarm)\n", style="dim")
            text.append(clean(alarm.rule, 400))
        else:
            width = max(min(chart.size.width - 12, 90), 20)
            text.append_text(braille_plot(series.timestamps, series.values, width=width, height=plot_rows,
                                          threshold=alarm.threshold, above_is_bad=alarm.comparison.startswith("Greater")))
        chart.update(text)
        hist = self.table("mon-history")
        if isinstance(history, OpsError):
            hist.set_rows([])
            hist.border_title = Content(f"State history: {clean(str(history), 200)}")
        else:
            hist.set_rows(history)
            hist.border_title = Content(f"State history ({len(history)})")

    # -- changes ----------------------------------------------------------------------------------------------
    def action_new(self) -> None:
        if not self.refused("creating"):
            self.open_form(None)

    def action_edit(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self.refused("editing"):
            return
        if alarm is None:
            self.app.notify("No alarm under the cursor.", markup=False)
            return
        if alarm.kind != "metric" or alarm.metric is None:
            self.app.notify("Only alarms on one metric can be edited here (composite / metric math: use the console).",
                            severity="warning", markup=False)
            return
        self.open_form(alarm)

    @action_work("mon-alarm-form")
    async def open_form(self, alarm: Alarm | None) -> None:
        """The seed's flow: an alarm on a node's CPU, memory or disk, threshold, periods, an SNS topic."""
        screen = await alarm_form(self, alarm)
        if await self.app.push_screen_wait(screen):
            self.load()

    def action_toggle_actions(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self.refused("changing alarm actions") or alarm is None:
            return
        self._toggle_actions(alarm)

    @action_work("mon-alarm-change")
    async def _toggle_actions(self, alarm: Alarm) -> None:
        ctx = self.ctx
        enable = not alarm.actions_enabled
        try:
            await ctx.run(cw.set_alarm_actions(ctx.aws, alarm.region, [alarm.name], enable))
        except OpsError as err:
            self.app.notify(str(err), title="Alarm actions", severity="error", markup=False)
            return
        self.app.notify(f"Actions of {clean(alarm.name, 80)} {'enabled' if enable else 'disabled'}", markup=False)
        self.load()

    def action_logs(self) -> None:
        """L: an alarm on a log metric -> the groups of the metric filters feeding it, from before it fired."""
        alarm = self.table("mon-alarms").cursor_row
        if alarm is None or alarm.metric is None:
            self.app.notify("No alarm on a single metric under the cursor.", markup=False)
            return
        at_ms = int(alarm.state_updated.timestamp() * 1000) if alarm.state_updated else None
        self.ctx.nav.open_metric_logs(alarm.region, alarm.metric.name, alarm.metric.namespace, at_ms)

    def action_delete(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self.refused("deleting") or alarm is None:
            return
        self._delete(alarm)

    @action_work("mon-alarm-change")
    async def _delete(self, alarm: Alarm) -> None:
        ctx = self.ctx
        lines = [f"{alarm.region} · {alarm.state}", alarm.condition, alarm.reason]
        if not await self.app.push_screen_wait(ConfirmScreen(f"Delete alarm {alarm.name}?", lines, yes="Delete",
                                                             danger=True)):
            return
        try:
            await ctx.run(cw.delete_alarms(ctx.aws, alarm.region, [alarm.name]))
        except OpsError as err:
            self.app.notify(str(err), title="Delete alarm", severity="error", markup=False)
            return
        self.app.notify(f"Deleted alarm {clean(alarm.name, 80)}", markup=False)
        self.load()

    def topic_options(self, region: str) -> tuple[tuple[str, str], ...]:
        sns = self.tab.panel_named("sns")
        opts = [("(no notification)", "")]
        opts += [(t.topic.name, t.topic.arn) for t in getattr(sns, "topics", []) if t.topic.region == region]
        return tuple(opts)

