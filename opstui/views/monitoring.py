"""The Monitoring tab: alarms, SNS, canaries and the CloudWatch agent, one panel each (`1`..`4`).

    alarms    every alarm of the loaded regions, ALARM first and red; the detail under it charts the alarm's
              metric over the last 3 hours with the threshold drawn across, and lists the state history.
              `n` creates an alarm on the Fleet cursor node's CPU/memory/disk, `e` edits, `d` turns the
              actions (notifications) off/on, `x` deletes (asks first).
    sns       topics and their subscriptions; `n` new topic, `s` subscribe (email/http/https/sms), `t` test
              message.
    canaries  status, last run, success rate and duration over 24 h (hourly sparklines), runs of the canary
              under the cursor; `p` starts/stops it, `n` creates a heartbeat canary (name, URL, rate).
    agent     per node: does the CloudWatch agent publish CWAgent metrics? `i` installs and starts it on the
              selected nodes (here, or the Fleet's selection) with AWS-ConfigureAWSPackage then
              AmazonCloudWatch-ManageAgent through Run Command, progress shown per node.

`/` filters the table in front of you (`state:ALARM`, `region:…`, `!word`). Every AWS call is a worker that
runs an aws-layer coroutine on the AWS loop; regions are queried together, and a region that fails is a line
in the status area while the others' rows stay. In read-only mode the changing keys are disabled (shown
greyed in the footer) and the header says why; the aws layer refuses them anyway.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Input, Static

from opstui.aws import cloudwatch as cw
from opstui.aws import sns, synthetics
from opstui.aws.errors import OpsError
from opstui.aws.models import CommandRequest, FleetNode
from opstui.aws.monitoring_models import STATE_ORDER, Alarm, HeartbeatSpec, MetricQuery, Subscription
from opstui.aws.regions import per_region
from opstui.commands import MONITORING_COMMANDS
from opstui.runs.launch import send_plan
from opstui.runs.targets import TargetError, plan_for_nodes
from opstui.runs.tracker import RunTracker
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.context import context_of
from opstui.views.common.form import Field, FormScreen
from opstui.views.common.node_table import NodeTable
from opstui.views.common.safe_input import SafeInput
from opstui.views.monitoring_chart import braille_plot, sparkline
from opstui.views.monitoring_panels import (
    AgentPanel,
    AgentRow,
    AlarmsPanel,
    CanariesPanel,
    CanaryRow,
    SnsPanel,
    TopicRow,
    alarm_matches,
    canary_columns,
    canary_matches,
)

PANELS = {"alarms": "mon-p-alarms", "sns": "mon-p-sns", "canaries": "mon-p-canaries", "agent": "mon-p-agent"}
PANEL_KEYS = (("1", "alarms", "Alarms"), ("2", "sns", "SNS"), ("3", "canaries", "Canaries"), ("4", "agent", "Agent"))
MAIN_TABLE = {"alarms": "mon-alarms", "sns": "mon-topics", "canaries": "mon-canaries", "agent": "mon-agents"}
#: actions that change something (disabled in read-only mode) and the panels they belong to
MUTATING = {"new": None, "edit": "alarms", "delete": "alarms", "toggle_actions": "alarms", "subscribe": "sns",
            "test_message": "sns", "start_stop": "canaries", "install_agent": "agent"}
PANEL_ONLY = {"edit": "alarms", "delete": "alarms", "toggle_actions": "alarms", "subscribe": "sns",
              "test_message": "sns", "start_stop": "canaries", "install_agent": "agent"}
SHORT_LABELS = {"monitoring-alarms": "Alarms", "monitoring-sns": "SNS", "monitoring-canaries": "Canaries",
                "monitoring-agent": "Agent", "monitoring-new": "New", "monitoring-edit": "Edit",
                "monitoring-delete": "Delete", "monitoring-actions": "Actions on/off",
                "monitoring-subscribe": "Subscribe", "monitoring-test": "Test message",
                "monitoring-start-stop": "Start/stop", "monitoring-install": "Install agent",
                "monitoring-filter": "Filter"}
CHART_HOURS = 3
INSTALL_DOC = "AWS-ConfigureAWSPackage"
MANAGE_DOC = "AmazonCloudWatch-ManageAgent"
HEARTBEAT_ROLE = "arn:aws:iam::{account}:role/CloudWatchSyntheticsRole"
HEARTBEAT_ARTIFACTS = "s3://cw-syn-results-{account}-{region}/canary/"


def _view_action(action: str) -> str:
    """`monitoring('new')` (the registry's app-level action) -> `new` (the view's own action)."""
    return action.removeprefix("monitoring('").removesuffix("')")


class MonitoringView(Vertical):
    """The Monitoring tab."""

    BINDINGS = [
        Binding(cmd.key, _view_action(cmd.action), SHORT_LABELS.get(cmd.id, cmd.title), show=cmd.show,
                id=cmd.id, tooltip=cmd.help)
        for cmd in MONITORING_COMMANDS
    ] + [
        Binding("enter", "open", "Detail", show=False),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    DEFAULT_CSS = """
    MonitoringView { height: 1fr; }
    MonitoringView #mon-header { height: 1; padding: 0 1; background: $boost; }
    MonitoringView #mon-filter { display: none; height: 3; }
    MonitoringView #mon-filter.-shown { display: block; }
    MonitoringView ContentSwitcher#mon-panels { height: 1fr; }
    MonitoringView NodeTable { border: round $primary-darken-1; border-title-align: left; }
    MonitoringView NodeTable:focus { border: round $accent; }
    MonitoringView #mon-status { height: auto; max-height: 6; padding: 0 1; color: $error; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self.panel = "alarms"
        self.alarms: list[Alarm] = []
        self.topics: list[TopicRow] = []
        self.subscriptions: list[Subscription] = []
        self.canaries: list[CanaryRow] = []
        self.agent_metrics: dict[str, dict[str, tuple[str, ...]]] = {}  # region -> instance id -> metric names
        self.errors: dict[str, list[str]] = {p: [] for p in PANELS}
        self.filters: dict[str, str] = {p: "" for p in PANELS}
        self.loaded: set[str] = set()
        self.busy_panels: set[str] = set()
        self.install_running = False
        self._timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._runs_timer: Timer | None = None
        self.detail_key: str | None = None
        # counters (tests and bench/monitoring.py read them)
        self.alarm_loads = 0
        self.detail_loads = 0
        self.canary_loads = 0
        self.sns_loads = 0
        self.agent_loads = 0
        self.last_alarm_seconds = 0.0
        self.last_chart_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield Static(id="mon-header")
        yield SafeInput(placeholder="filter: words  state:ALARM  region:ap-northeast-1  !negate   (enter: apply, esc: close)",
                    id="mon-filter")
        with ContentSwitcher(initial=PANELS["alarms"], id="mon-panels"):
            yield AlarmsPanel(id=PANELS["alarms"])
            yield SnsPanel(id=PANELS["sns"])
            yield CanariesPanel(canary_columns(sparkline), id=PANELS["canaries"])
            yield AgentPanel(id=PANELS["agent"])
        yield Static(id="mon-status")

    def on_mount(self) -> None:
        context_of(self).fleet.snapshot_changed.subscribe(self, lambda _snapshot: self.fleet_changed())
        for table_id, title in (("mon-alarms", "Alarms: open the tab to load"), ("mon-history", "State history"),
                                ("mon-topics", "SNS topics"), ("mon-subs", "Subscriptions"),
                                ("mon-canaries", "Canaries"), ("mon-runs", "Runs"),
                                ("mon-agents", "CloudWatch agent per node"), ("mon-install", "Install")):
            self.table(table_id).border_title = Content(title)
        self.table("mon-alarms").sort_by("state", reverse=False)
        self.query_one("#mon-chart", Static).border_title = Content("Metric")
        self._render_header()

    # -- helpers --------------------------------------------------------------------------------------------
    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id}", NodeTable)

    @property
    def regions(self) -> list[str]:
        return list(self.app.settings.regions)  # type: ignore[attr-defined]

    @property
    def read_only(self) -> bool:
        return bool(self.app.settings.read_only)  # type: ignore[attr-defined]

    def _is_active(self) -> bool:
        try:
            return self.app.query_one("#tabs").active == "monitoring"  # type: ignore[attr-defined]
        except Exception:
            return False

    def _render_header(self) -> None:
        text = Text()
        for key, panel, title in PANEL_KEYS:
            style = "bold reverse" if panel == self.panel else ""
            text.append(f" {key} {title} ", style=style)
            text.append(" ")
        if self.read_only:
            text.append("  ")
            text.append(" READ-ONLY: creating, changing and deleting are disabled ", style="bold black on yellow")
        firing = sum(1 for a in self.alarms if a.state == "ALARM")
        if firing:
            text.append(f"   {firing} in ALARM", style="bold red")
        failing = sum(1 for r in self.canaries if r.canary.failing)
        if failing:
            text.append(f"   {failing} canar{'y' if failing == 1 else 'ies'} failing", style="bold red")
        self.query_one("#mon-header", Static).update(text)

    def _render_status(self) -> None:
        lines = [f"⚠ {clean(e, 400)}" for e in self.errors.get(self.panel, [])]
        self.query_one("#mon-status", Static).update(Content("\n".join(lines)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANEL_ONLY and PANEL_ONLY[action] != self.panel:
            return False  # hidden: not a key of this panel
        if action == "new" and self.panel == "agent":
            return False
        if action in MUTATING and self.read_only:
            return None  # shown greyed: the header says why
        return True

    def _refused(self, what: str) -> bool:
        if self.read_only:
            self.app.notify(f"read-only mode: {what} is disabled (restart opstui without --read-only)",
                            severity="warning", markup=False)
            return True
        return False

    # -- panels ---------------------------------------------------------------------------------------------
    def show_panel(self, panel: str, filter_text: str | None = None) -> None:
        """Switch to a panel (and set its filter: the Overview's jumps), loading it the first time."""
        self.panel = panel
        self.query_one("#mon-panels", ContentSwitcher).current = PANELS[panel]
        if filter_text is not None:
            self.filters[panel] = filter_text
        box = self.query_one("#mon-filter", Input)
        with box.prevent(Input.Changed):
            box.value = self.filters[panel]
        box.set_class(bool(self.filters[panel]), "-shown")
        self._apply_filter(panel)
        self._render_header()
        self._render_status()
        self.refresh_bindings()
        self.table(MAIN_TABLE[panel]).focus()
        if panel not in self.loaded and panel not in self.busy_panels:
            self.load(panel)

    def shown(self) -> None:  # the lifecycle every tab has
        self.on_shown()

    def on_shown(self) -> None:
        """The tab became active: focus its table, load what was never loaded."""
        self.show_panel(self.panel)
        if "alarms" not in self.loaded and "alarms" not in self.busy_panels:
            self.load("alarms")

    def action_alarms(self) -> None:
        self.show_panel("alarms")

    def action_sns(self) -> None:
        self.show_panel("sns")

    def action_canaries(self) -> None:
        self.show_panel("canaries")

    def action_agent(self) -> None:
        self.show_panel("agent")

    def reload(self) -> None:
        """`r`: the panel in front of you again."""
        self.load(self.panel)

    def reset(self, generation: int) -> None:
        """Profile or regions changed: forget everything of the previous account."""
        self.generation = generation
        self.alarms, self.topics, self.subscriptions, self.canaries = [], [], [], []
        self.agent_metrics = {}
        self.loaded.clear()
        self.errors = {p: [] for p in PANELS}
        for table_id in ("mon-alarms", "mon-history", "mon-topics", "mon-subs", "mon-canaries", "mon-runs",
                         "mon-agents"):
            self.table(table_id).set_rows([])
        self.query_one("#mon-chart", Static).update("")
        self._render_header()
        self._render_status()
        if self._is_active():
            self.load(self.panel)

    def load(self, panel: str) -> None:
        {"alarms": self._load_alarms, "sns": self._load_sns, "canaries": self._load_canaries,
         "agent": self._load_agent}[panel](self.generation)

    def _schedule(self) -> None:
        """The panel in front of you comes back on the app's refresh interval while the tab is shown (set_timer
        after each load of any panel: refreshes never overlap, and the chain never stops whichever panel the
        timer finds)."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.app.settings.refresh, self._tick)  # type: ignore[attr-defined]

    def _tick(self) -> None:
        self._timer = None
        if self._is_active() and not self.app.screen.is_modal:
            self.load(self.panel)
        else:
            self._schedule()

    # -- alarms ---------------------------------------------------------------------------------------------
    @work(group="mon-alarms", exclusive=True, exit_on_error=False)
    async def _load_alarms(self, generation: int) -> None:
        app = self.app
        self.busy_panels.add("alarms")
        started = asyncio.get_running_loop().time()
        try:
            results = await app.aws_loop.run(per_region(  # type: ignore[attr-defined]
                self.regions, lambda r: cw.describe_alarms(app.aws, r), "cloudwatch"))  # type: ignore[attr-defined]
        finally:
            self.busy_panels.discard("alarms")
        if generation != self.generation:
            return
        alarms: list[Alarm] = []
        errors: list[str] = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                alarms.extend(a for a in self.alarms if a.region == region)  # keep what we had
            else:
                alarms.extend(value)
        alarms.sort(key=lambda a: (STATE_ORDER.get(a.state, 9), a.name.lower()))
        self.alarms = alarms
        self.errors["alarms"] = errors
        self.loaded.add("alarms")
        self.alarm_loads += 1
        self.last_alarm_seconds = asyncio.get_running_loop().time() - started
        table = self.table("mon-alarms")
        table.set_rows(alarms)
        self._apply_filter("alarms")
        self._render_header()
        self._render_status()
        if self.detail_key is None or not any(a.key == self.detail_key for a in alarms):
            self._detail_soon()
        elif self.detail_key:
            self._load_detail(self.detail_key, generation)
        self._schedule()

    def _apply_filter(self, panel: str) -> None:
        words = self.filters[panel].split()
        table = self.table(MAIN_TABLE[panel])
        if panel == "alarms":
            visible = [pos for pos, a in enumerate(table.rows) if alarm_matches(a, words)]
            table.set_visible(visible)
            total, firing = len(self.alarms), sum(1 for a in self.alarms if a.state == "ALARM")
            title = f"Alarms {len(visible)}/{total}" if len(visible) != total else f"Alarms {total}"
            title += f" · ALARM {firing}" if firing else ""
        elif panel == "canaries":
            visible = [pos for pos, r in enumerate(table.rows) if canary_matches(r, words)]
            table.set_visible(visible)
            title = f"Canaries {len(visible)}/{len(table.rows)}"
        else:
            lowered = [w.lower() for w in words]
            visible = [pos for pos, cells in enumerate(table.cells)
                       if all(w in " ".join(cells).lower() for w in lowered)]
            table.set_visible(visible)
            title = {"sns": "SNS topics", "agent": "CloudWatch agent per node"}[panel] + \
                f" {len(visible)}/{len(table.rows)}"
        if self.filters[panel]:
            title += f" · filter: {clean(self.filters[panel], 60)}"
        if panel in self.busy_panels and panel not in self.loaded:
            title += " · loading…"
        table.border_title = Content(title)

    @on(NodeTable.CursorMoved, "#mon-alarms")
    def _alarm_cursor(self, event: NodeTable.CursorMoved) -> None:
        self._detail_soon()

    def _detail_soon(self) -> None:
        """Chart and history follow the cursor, 0.25 s after it stops (arrow-key repeat costs no calls)."""
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(0.25, self._detail_now)

    def _detail_now(self) -> None:
        self._detail_timer = None
        alarm = self.table("mon-alarms").cursor_row
        if alarm is None:
            self.detail_key = None
            self.query_one("#mon-chart", Static).update(Text("No alarm under the cursor.", style="dim"))
            self.table("mon-history").set_rows([])
            return
        self.detail_key = alarm.key
        self._load_detail(alarm.key, self.generation)

    def alarm(self, key: str) -> Alarm | None:
        return next((a for a in self.alarms if a.key == key), None)

    @work(group="mon-detail", exclusive=True, exit_on_error=False)
    async def _load_detail(self, key: str, generation: int) -> None:
        alarm = self.alarm(key)
        if alarm is None:
            return
        app = self.app
        end = datetime.now(UTC)
        start = end - timedelta(hours=CHART_HOURS)

        async def fetch() -> tuple[Any, Any]:
            series: Any = None
            if alarm.metric is not None:
                period = max(alarm.period or 60, 60)
                query = MetricQuery("m0", alarm.metric, alarm.statistic if alarm.statistic in cw.STATISTICS else
                                    "Average", period)
                try:
                    series = (await cw.get_metric_data(app.aws, alarm.region, [query], start, end)).get("m0")  # type: ignore[attr-defined]
                except OpsError as err:
                    series = err
            try:
                history: Any = await cw.alarm_history(app.aws, alarm.region, alarm.name, max_items=50)  # type: ignore[attr-defined]
            except OpsError as err:
                history = err
            return series, history

        t0 = asyncio.get_running_loop().time()
        series, history = await app.aws_loop.run(fetch())  # type: ignore[attr-defined]
        if generation != self.generation or key != self.detail_key:
            return
        self.last_chart_seconds = asyncio.get_running_loop().time() - t0
        self.detail_loads += 1
        chart = self.query_one("#mon-chart", Static)
        chart.border_title = Content(clean(f"{alarm.name} · {alarm.region}", 80))
        text = Text()
        text.append(clean(alarm.condition, 200) + "\n", style="bold")
        if alarm.description:
            text.append(clean(alarm.description, 200) + "\n", style="dim")
        if isinstance(series, OpsError):
            text.append(f"metric data: {clean(str(series), 300)}", style="red")
        elif series is None:
            text.append("no single metric to chart (composite or metric-math alarm)\n", style="dim")
            text.append(clean(alarm.rule, 400))
        else:
            width = max(min(self.query_one("#mon-chart", Static).size.width - 12, 90), 20)
            above = alarm.comparison.startswith("Greater")
            text.append_text(braille_plot(series.timestamps, series.values, width=width, height=9,
                                          threshold=alarm.threshold, above_is_bad=above))
        chart.update(text)
        hist = self.table("mon-history")
        if isinstance(history, OpsError):
            hist.set_rows([])
            hist.border_title = Content(f"State history: {clean(str(history), 200)}")
        else:
            hist.set_rows(history)
            hist.border_title = Content(f"State history ({len(history)})")

    # -- alarm actions --------------------------------------------------------------------------------------
    def _cursor_node(self) -> FleetNode | None:
        fleet = self.app.fleet_view  # type: ignore[attr-defined]
        return fleet.table.cursor_row

    def _topic_options(self, region: str) -> tuple[tuple[str, str], ...]:
        opts = [("(no notification)", "")]
        opts += [(t.topic.name, t.topic.arn) for t in self.topics if t.topic.region == region]
        return tuple(opts)

    def action_new(self) -> None:
        if self._refused("creating"):
            return
        if self.panel == "alarms":
            self.open_alarm_form(None)
        elif self.panel == "sns":
            self._new_topic()
        elif self.panel == "canaries":
            self._new_canary()

    def action_edit(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self._refused("editing"):
            return
        if alarm is None:
            self.app.notify("No alarm under the cursor.", markup=False)
            return
        if alarm.kind != "metric" or alarm.metric is None:
            self.app.notify("Only alarms on one metric can be edited here (composite / metric math: use the console).",
                            severity="warning", markup=False)
            return
        self.open_alarm_form(alarm)

    @work(group="mon-alarm-form", exclusive=True, exit_on_error=False)
    async def open_alarm_form(self, alarm: Alarm | None) -> None:
        """The seed's flow: an alarm on a node's CPU, memory or disk, threshold, periods, an SNS topic."""
        app = self.app
        if "sns" not in self.loaded:  # the topic list of the form
            await self._fetch_sns(self.generation)
        node = self._cursor_node()
        if alarm is not None:
            region, iid = alarm.region, alarm.instance_id or ""
            kind = next((k for k, (ns, name, _) in cw.NODE_METRICS.items() if alarm.metric and
                         alarm.metric.namespace == ns and alarm.metric.name == name), "cpu")
            values = {"name": alarm.name, "threshold": f"{alarm.threshold:g}" if alarm.threshold is not None else "",
                      "period": str(alarm.period), "evals": str(alarm.evaluation_periods),
                      "points": str(alarm.datapoints_to_alarm or alarm.evaluation_periods),
                      "comparison": alarm.comparison, "statistic": alarm.statistic or "Average",
                      "missing": alarm.treat_missing_data or "missing",
                      "topic": alarm.alarm_actions[0] if alarm.alarm_actions else "", "description": alarm.description}
        else:
            region = node.region if node else (self.regions[0] if self.regions else "")
            iid = node.instance_id if node else ""
            kind = "cpu"
            label = (node.name or node.instance_id) if node else "node"
            topic = next((t.topic.arn for t in self.topics if t.topic.region == region), "")
            values = {"name": f"{label}-high-cpu", "threshold": "80", "period": "300", "evals": "3", "points": "3",
                      "comparison": "GreaterThanThreshold", "statistic": "Average", "missing": "missing",
                      "topic": topic, "description": ""}
        fields = [
            Field("name", "Alarm name", values["name"], disabled=alarm is not None),
            Field("region", "Region", region, options=tuple((r, r) for r in self.regions) or ((region, region),),
                  disabled=alarm is not None),
            Field("instance", "Instance id", iid, placeholder="i-0123456789abcdef0", disabled=alarm is not None),
            Field("metric", "Metric", kind, options=(("CPU (AWS/EC2 CPUUtilization)", "cpu"),
                                                    ("Memory (CWAgent mem_used_percent)", "memory"),
                                                    ("Disk (CWAgent disk_used_percent, /)", "disk")),
                  disabled=alarm is not None),
            Field("comparison", "Comparison", values["comparison"],
                  options=tuple((f"{op}", op) for op in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                                        "LessThanThreshold", "LessThanOrEqualToThreshold"))),
            Field("threshold", "Threshold", values["threshold"], placeholder="80"),
            Field("statistic", "Statistic", values["statistic"], options=tuple((s, s) for s in cw.STATISTICS)),
            Field("period", "Period (seconds)", values["period"], placeholder="300"),
            Field("evals", "Evaluation periods", values["evals"]),
            Field("points", "Datapoints to alarm", values["points"]),
            Field("missing", "Missing data", values["missing"], options=tuple((m, m) for m in cw.TREAT_MISSING)),
            Field("topic", "Notify SNS topic", values["topic"], options=self._topic_options(region)),
            Field("description", "Description", values["description"]),
        ]
        existing = alarm

        def build(v: dict[str, str]) -> Any:
            problems: list[str] = []
            if existing is not None and existing.metric is not None:
                metric = existing.metric
            else:
                inst = v["instance"].strip()
                if not inst.startswith(("i-", "mi-")):
                    problems.append("instance id: like i-0123456789abcdef0 (move the Fleet cursor to a node first)")
                metric = cw.node_metric(v["metric"] or "cpu", inst)
            try:
                spec = cw.alarm_spec(name=v["name"], region=v["region"] or region, metric=metric,
                                     threshold=v["threshold"], comparison=v["comparison"], statistic=v["statistic"],
                                     period=v["period"], evaluation_periods=v["evals"], datapoints=v["points"],
                                     treat_missing=v["missing"], topic_arns=[v["topic"]] if v["topic"] else [],
                                     description=v["description"])
            except cw.AlarmInputError as err:
                raise cw.AlarmInputError(problems + err.problems) from None
            if problems:
                raise cw.AlarmInputError(problems)
            if existing is not None:  # PutMetricAlarm replaces: actions turned off with `d` stay off
                spec = replace(spec, actions_enabled=existing.actions_enabled)
            return spec

        async def submit(spec: Any) -> None:
            if existing is None and spec.metric.namespace == cw.AGENT_NAMESPACE:
                kind = next(k for k, (_, n, _) in cw.NODE_METRICS.items() if n == spec.metric.name)
                metric = await app.aws_loop.run(cw.resolve_node_metric(  # type: ignore[attr-defined]
                    app.aws, spec.region, kind, spec.metric.dimension("InstanceId") or ""))  # type: ignore[attr-defined]
                spec = replace(spec, metric=metric)
            await app.aws_loop.run(cw.put_metric_alarm(app.aws, spec))  # type: ignore[attr-defined]
            app.notify(f"Alarm {clean(spec.name, 80)} {'saved' if existing else 'created'} in {spec.region}",
                       markup=False)

        note = ("Edit: PutMetricAlarm replaces the alarm with these values." if alarm else
                "An alarm on a node's metric (pre-filled from the Fleet cursor node). Memory and disk need the "
                "CloudWatch agent on the node (panel 4).")
        saved = await app.push_screen_wait(FormScreen("Edit alarm" if alarm else "Create alarm", fields, build, submit,
                                                      note=note))
        if saved:
            self.load("alarms")

    def action_toggle_actions(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self._refused("changing alarm actions") or alarm is None:
            return
        self._toggle_actions(alarm)

    @work(group="mon-alarm-change", exit_on_error=False)
    async def _toggle_actions(self, alarm: Alarm) -> None:
        app = self.app
        enable = not alarm.actions_enabled
        try:
            await app.aws_loop.run(cw.set_alarm_actions(app.aws, alarm.region, [alarm.name], enable))  # type: ignore[attr-defined]
        except OpsError as err:
            app.notify(str(err), title="Alarm actions", severity="error", markup=False)
            return
        app.notify(f"Actions of {clean(alarm.name, 80)} {'enabled' if enable else 'disabled'}", markup=False)
        self.load("alarms")

    def action_delete(self) -> None:
        alarm = self.table("mon-alarms").cursor_row
        if self._refused("deleting") or alarm is None:
            return
        self._delete(alarm)

    @work(group="mon-alarm-change", exit_on_error=False)
    async def _delete(self, alarm: Alarm) -> None:
        app = self.app
        lines = [f"{alarm.region} · {alarm.state}", alarm.condition, alarm.reason]
        if not await app.push_screen_wait(ConfirmScreen(f"Delete alarm {alarm.name}?", lines, yes="Delete",
                                                        danger=True)):
            return
        try:
            await app.aws_loop.run(cw.delete_alarms(app.aws, alarm.region, [alarm.name]))  # type: ignore[attr-defined]
        except OpsError as err:
            app.notify(str(err), title="Delete alarm", severity="error", markup=False)
            return
        app.notify(f"Deleted alarm {clean(alarm.name, 80)}", markup=False)
        self.load("alarms")

    # -- SNS ------------------------------------------------------------------------------------------------
    async def _fetch_sns(self, generation: int) -> None:
        app = self.app

        async def both(region: str) -> tuple[Any, Any]:
            topics, subs = await asyncio.gather(sns.list_topics(app.aws, region),  # type: ignore[attr-defined]
                                                sns.list_subscriptions(app.aws, region))  # type: ignore[attr-defined]
            return topics, subs

        self.busy_panels.add("sns")
        try:
            results = await app.aws_loop.run(per_region(self.regions, both, "sns"))  # type: ignore[attr-defined]
        finally:
            self.busy_panels.discard("sns")
        if generation != self.generation:
            return
        topics: list[TopicRow] = []
        subs: list[Subscription] = []
        errors: list[str] = []
        for _region, value, err in results:
            if err is not None:
                errors.append(str(err))
                continue
            region_topics, region_subs = value
            subs.extend(region_subs)
            for t in region_topics:
                mine = [s for s in region_subs if s.topic_arn == t.arn]
                topics.append(TopicRow(t, len(mine), sum(1 for s in mine if s.pending)))
        self.topics, self.subscriptions = topics, subs
        self.errors["sns"] = errors
        self.loaded.add("sns")
        self.sns_loads += 1
        self.table("mon-topics").set_rows(topics)
        self.table("mon-subs").set_rows(subs)
        self._apply_filter("sns")
        self._show_topic_subs()
        self._render_status()

    @work(group="mon-sns", exclusive=True, exit_on_error=False)
    async def _load_sns(self, generation: int) -> None:
        await self._fetch_sns(generation)
        self._schedule()

    @on(NodeTable.CursorMoved, "#mon-topics")
    def _show_topic_subs(self) -> None:
        row = self.table("mon-topics").cursor_row
        subs = self.table("mon-subs")
        if row is None:
            subs.set_visible(list(range(len(subs.rows))))
            subs.border_title = Content(f"Subscriptions ({len(subs.rows)})")
            return
        visible = [i for i, s in enumerate(subs.rows) if s.topic_arn == row.topic.arn]
        subs.set_visible(visible)
        subs.border_title = Content(f"Subscriptions of {clean(row.topic.name, 60)} ({len(visible)})")

    def _new_topic(self) -> None:
        app = self.app
        region = self.regions[0] if self.regions else ""
        fields = [Field("name", "Topic name", "", placeholder="ops-alerts"),
                  Field("region", "Region", region, options=tuple((r, r) for r in self.regions))]

        def build(v: dict[str, str]) -> Any:
            problem = sns.topic_name_problem(v["name"])
            if problem:
                raise ValueError(problem)
            return v

        async def submit(v: dict[str, str]) -> None:
            topic = await app.aws_loop.run(sns.create_topic(app.aws, v["region"], v["name"]))  # type: ignore[attr-defined]
            app.notify(f"Created topic {clean(topic.arn, 120)}", markup=False)

        self._form(FormScreen("Create SNS topic", fields, build, submit, submit_label="Create"), "sns")

    def action_subscribe(self) -> None:
        row = self.table("mon-topics").cursor_row
        if self._refused("subscribing") or row is None:
            if row is None and not self.read_only:
                self.app.notify("No topic under the cursor.", markup=False)
            return
        app = self.app
        topic = row.topic
        fields = [Field("protocol", "Protocol", "email", options=tuple((p, p) for p in sns.PROTOCOLS)),
                  Field("endpoint", "Endpoint", "", placeholder="ops@example.com · https://hooks.example.com/x · "
                                                                "+81901234567")]

        def build(v: dict[str, str]) -> Any:
            problem = sns.endpoint_problem(v["protocol"], v["endpoint"])
            if problem:
                raise ValueError(problem)
            return v

        async def submit(v: dict[str, str]) -> None:
            arn = await app.aws_loop.run(sns.subscribe(app.aws, topic.region, topic.arn, v["protocol"],  # type: ignore[attr-defined]
                                                       v["endpoint"]))
            app.notify(f"Subscribed {clean(v['endpoint'], 80)} to {clean(topic.name, 60)}: {clean(arn, 120)}",
                       markup=False)

        self._form(FormScreen(f"Subscribe to {topic.name}", fields, build, submit, submit_label="Subscribe",
                              note="E-mail and http(s) endpoints must confirm before they receive messages."), "sns")

    def action_test_message(self) -> None:
        row = self.table("mon-topics").cursor_row
        if self._refused("publishing") or row is None:
            return
        app = self.app
        topic = row.topic
        fields = [Field("subject", "Subject", "opstui test message"),
                  Field("message", "Message", f"Test message from opstui to {topic.name}: if you read this, "
                                              "notifications reach you.")]

        def build(v: dict[str, str]) -> Any:
            if not v["message"].strip():
                raise ValueError("message: required")
            return v

        async def submit(v: dict[str, str]) -> None:
            mid = await app.aws_loop.run(sns.publish(app.aws, topic.region, topic.arn, v["message"], v["subject"]))  # type: ignore[attr-defined]
            app.notify(f"Published to {clean(topic.name, 60)} ({row.subscriptions} subscription(s)): "
                       f"message {clean(mid, 60)}", markup=False)

        self._form(FormScreen(f"Test message to {topic.name}", fields, build, submit, submit_label="Publish"), None)

    @work(group="mon-form", exclusive=True, exit_on_error=False)
    async def _form(self, screen: FormScreen, reload: str | None) -> None:
        if await self.app.push_screen_wait(screen) and reload:
            self.load(reload)

    # -- canaries -------------------------------------------------------------------------------------------
    @work(group="mon-canaries", exclusive=True, exit_on_error=False)
    async def _load_canaries(self, generation: int) -> None:
        app = self.app
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(hours=24)

        async def region_rows(region: str) -> list[CanaryRow]:
            canaries = await synthetics.describe_canaries(app.aws, region)  # type: ignore[attr-defined]
            queries = []
            for i, c in enumerate(canaries):
                dims = {"CanaryName": c.name}
                queries.append(MetricQuery(f"s{i}", cw.metric_ref("CloudWatchSynthetics", "SuccessPercent", dims),
                                           "Average", 3600))
                queries.append(MetricQuery(f"d{i}", cw.metric_ref("CloudWatchSynthetics", "Duration", dims),
                                           "Average", 3600))
            try:
                series = await cw.get_metric_data(app.aws, region, queries, start, end)  # type: ignore[attr-defined]
            except OpsError:
                series = {}
            hours = [start + timedelta(hours=h) for h in range(24)]

            def hourly(qid: str) -> tuple[float | None, ...]:
                s = series.get(qid)
                if s is None:
                    return ()
                by_hour = {t.replace(minute=0, second=0, microsecond=0): v for t, v in zip(s.timestamps, s.values,
                                                                                         strict=False)}
                return tuple(by_hour.get(h) for h in hours)

            return [CanaryRow(c, hourly(f"s{i}"), hourly(f"d{i}")) for i, c in enumerate(canaries)]

        self.busy_panels.add("canaries")
        try:
            results = await app.aws_loop.run(per_region(self.regions, region_rows, "synthetics"))  # type: ignore[attr-defined]
        finally:
            self.busy_panels.discard("canaries")
        if generation != self.generation:
            return
        rows: list[CanaryRow] = []
        errors: list[str] = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                rows.extend(r for r in self.canaries if r.canary.region == region)
            else:
                rows.extend(value)
        rows.sort(key=lambda r: (0 if r.canary.failing else 1, r.canary.name))
        self.canaries = rows
        self.errors["canaries"] = errors
        self.loaded.add("canaries")
        self.canary_loads += 1
        self.table("mon-canaries").set_rows(rows)
        self._apply_filter("canaries")
        self._render_header()
        self._render_status()
        self._runs_soon()
        self._schedule()

    @on(NodeTable.CursorMoved, "#mon-canaries")
    def _canary_cursor(self) -> None:
        self._runs_soon()

    def _runs_soon(self) -> None:
        if self._runs_timer is not None:
            self._runs_timer.stop()
        self._runs_timer = self.set_timer(0.25, self._runs_now)

    def _runs_now(self) -> None:
        self._runs_timer = None
        row = self.table("mon-canaries").cursor_row
        if row is not None:
            self._load_runs(row.canary.region, row.canary.name, self.generation)

    @work(group="mon-runs", exclusive=True, exit_on_error=False)
    async def _load_runs(self, region: str, name: str, generation: int) -> None:
        app = self.app
        runs_table = self.table("mon-runs")
        try:
            runs = await app.aws_loop.run(synthetics.canary_runs(app.aws, region, name, max_runs=100))  # type: ignore[attr-defined]
        except OpsError as err:
            runs_table.set_rows([])
            runs_table.border_title = Content(f"Runs of {clean(name, 60)}: {clean(str(err), 200)}")
            return
        if generation != self.generation:
            return
        runs_table.set_rows(runs)
        failed = sum(1 for r in runs if r.failed)
        runs_table.border_title = Content(f"Runs of {clean(name, 60)} ({len(runs)}, {failed} failed)")

    def action_start_stop(self) -> None:
        row = self.table("mon-canaries").cursor_row
        if self._refused("starting or stopping canaries") or row is None:
            return
        self._start_stop(row.canary.region, row.canary.name, row.canary.state)

    @work(group="mon-canary-change", exit_on_error=False)
    async def _start_stop(self, region: str, name: str, state: str) -> None:
        app = self.app
        stop = state in ("RUNNING", "STARTING")
        call = synthetics.stop_canary if stop else synthetics.start_canary
        try:
            await app.aws_loop.run(call(app.aws, region, name))  # type: ignore[attr-defined]
        except OpsError as err:
            app.notify(str(err), title="Canary", severity="error", markup=False)
            return
        app.notify(f"{'Stopping' if stop else 'Starting'} canary {clean(name, 80)}", markup=False)
        self.load("canaries")

    def _new_canary(self) -> None:
        app = self.app
        region = self.regions[0] if self.regions else ""
        account = getattr(app, "account", "") or "123456789012"
        model = next((r.canary for r in self.canaries if r.canary.region == region and r.canary.execution_role), None)
        role = model.execution_role if model else HEARTBEAT_ROLE.format(account=account)
        artifacts = model.artifact_location if model else HEARTBEAT_ARTIFACTS.format(account=account, region=region)
        fields = [Field("name", "Name", "", placeholder="storefront-heartbeat"),
                  Field("url", "URL", "", placeholder="https://shop.example.com/health"),
                  Field("schedule", "Schedule", "rate(1 minute)"),
                  Field("region", "Region", region, options=tuple((r, r) for r in self.regions)),
                  Field("role", "Execution role ARN", role),
                  Field("artifacts", "Artifacts (S3)", artifacts)]

        def build(v: dict[str, str]) -> Any:
            problems = synthetics.heartbeat_problems(v["name"], v["url"], v["schedule"], v["role"], v["artifacts"])
            if problems:
                err = ValueError("; ".join(problems))
                err.problems = problems  # type: ignore[attr-defined]
                raise err
            return HeartbeatSpec(name=v["name"].strip(), region=v["region"], url=v["url"].strip(),
                                 schedule=v["schedule"].strip(), execution_role=v["role"].strip(),
                                 artifact_location=v["artifacts"].strip())

        async def submit(spec: HeartbeatSpec) -> None:
            await app.aws_loop.run(synthetics.create_heartbeat(app.aws, spec))  # type: ignore[attr-defined]
            app.notify(f"Created and started heartbeat canary {clean(spec.name, 60)} on {clean(spec.url, 120)}",
                       markup=False)

        self._form(FormScreen("Create heartbeat canary", fields, build, submit, submit_label="Create",
                              note="The console's heartbeat blueprint: loads the URL on the schedule, fails on a "
                                   "status outside 200-299."), "canaries")

    # -- CloudWatch agent -----------------------------------------------------------------------------------
    @work(group="mon-agent", exclusive=True, exit_on_error=False)
    async def _load_agent(self, generation: int) -> None:
        app = self.app
        self.busy_panels.add("agent")
        try:
            results = await app.aws_loop.run(per_region(  # type: ignore[attr-defined]
                self.regions, lambda r: cw.agent_nodes(app.aws, r), "cloudwatch"))  # type: ignore[attr-defined]
        finally:
            self.busy_panels.discard("agent")
        if generation != self.generation:
            return
        errors = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                self.agent_metrics.pop(region, None)
            else:
                self.agent_metrics[region] = value
        self.errors["agent"] = errors
        self.loaded.add("agent")
        self.agent_loads += 1
        self.render_agents()
        self._render_status()
        self._schedule()

    def render_agents(self) -> None:
        snapshot = self.app.fleet_view.snapshot  # type: ignore[attr-defined]
        nodes = [n for n in (snapshot.nodes if snapshot else ()) if n.instance_id.startswith("i-")]
        rows = []
        for n in nodes:
            region = self.agent_metrics.get(n.region)
            rows.append(AgentRow(n, None if region is None else region.get(n.instance_id, ())))
        self.table("mon-agents").set_rows(rows)
        self._apply_filter("agent")

    def fleet_changed(self) -> None:
        if "agent" in self.loaded:
            self.render_agents()

    def action_install_agent(self) -> None:
        if self._refused("installing the agent"):
            return
        table = self.table("mon-agents")
        rows = table.selected_rows()
        nodes = [r.node for r in rows]
        if not nodes:
            nodes = self.app.fleet_view.table.selected_rows()  # type: ignore[attr-defined]
        if not nodes and table.cursor_row is not None:
            nodes = [table.cursor_row.node]
        if not nodes:
            self.app.notify("Select nodes first (space here or in the Fleet).", markup=False)
            return
        if self.install_running:
            self.app.notify("An agent installation is already running.", markup=False)
            return
        self._install(list(nodes))

    def action_toggle_select(self) -> None:
        if self.panel == "agent":
            table = self.table("mon-agents")
            table.toggle_selected()
            table.action_cursor(1)

    @work(group="mon-install", exclusive=True, exit_on_error=False)
    async def _install(self, nodes: list[FleetNode]) -> None:
        """The seed's procedure, through Run Command: install the package, then configure and start the agent
        on the nodes where the install succeeded. Each step is one send + one tracker, polled until done."""
        app = self.app
        try:
            plan = plan_for_nodes(nodes)
        except TargetError as err:
            app.notify(str(err), severity="error", markup=False)
            return
        radius = plan.radius
        lines = radius.summary() + ["", f"1. {INSTALL_DOC} (action Install, name AmazonCloudWatchAgent)",
                                    f"2. {MANAGE_DOC} (action configure, default config, restart: yes)"]
        if not await app.push_screen_wait(ConfirmScreen(
                f"Install and start the CloudWatch agent on {radius.count} node(s)?", lines, yes="Install",
                danger=radius.prod)):
            return
        panel = self.query_one(AgentPanel)
        panel.add_class("-installing")
        self.install_running = True
        progress_rows: dict[str, tuple[str, Any]] = {}
        status = self.query_one("#mon-install-status", Static)
        names = {n.instance_id: n.name for n in nodes}
        steps = [
            (INSTALL_DOC, {"action": ["Install"], "name": ["AmazonCloudWatchAgent"], "installationType":
                           ["Uninstall and reinstall"]}),
            (MANAGE_DOC, {"action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["default"],
                          "optionalRestart": ["yes"]}),
        ]
        try:
            for number, (document, params) in enumerate(steps, start=1):
                step = f"{number}/2 {document}"
                request = CommandRequest(document=document, parameters=params, comment=f"opstui: CloudWatch agent {step}")
                try:
                    result = await app.aws_loop.run(send_plan(app.aws, plan, request))  # type: ignore[attr-defined]
                except OpsError as err:
                    status.update(Content(f"✗ step {step}: {clean(str(err), 300)}"))
                    return
                tracker = RunTracker(app.aws, list(result.commands), names=names)  # type: ignore[attr-defined]
                while True:
                    update = await app.aws_loop.run(tracker.poll())  # type: ignore[attr-defined]
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
                    return
                plan = plan_for_nodes(ok)
            status.update(Content(f"✓ CloudWatch agent installed and started on {len(plan.radius.nodes)} node(s); "
                                  "its metrics appear within a minute or two (r reloads)"))
            app.notify(f"CloudWatch agent running on {len(plan.radius.nodes)} node(s)", markup=False)
        finally:
            self.install_running = False
        await asyncio.sleep(1.0)
        self.load("agent")

    # -- filter, enter, escape ------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#mon-filter", Input)
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#mon-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filters[self.panel] = event.value
        self._apply_filter(self.panel)

    @on(Input.Submitted, "#mon-filter")
    def _filter_submitted(self) -> None:
        self.table(MAIN_TABLE[self.panel]).focus()

    def action_open(self) -> None:
        if self.panel == "alarms":
            self._detail_now()
        elif self.panel == "canaries":
            self._runs_now()

    def action_back(self) -> None:
        box = self.query_one("#mon-filter", Input)
        if box.has_focus:
            if not box.value:
                box.remove_class("-shown")
            self.table(MAIN_TABLE[self.panel]).focus()
            return
        if self.filters[self.panel]:
            box.value = ""
            box.remove_class("-shown")
