"""Logs, panel 4: the metric filters of every group: pattern, metric, namespace, value. ``n`` creates one on
the group under the cursor of panel 1 (AWS's pattern syntax: ``ERROR``, ``"exact phrase"``, ``?ERROR ?FATAL``,
``-DEBUG``, ``{ $.level = "ERROR" }``), ``x`` deletes (asks first), ``a`` shows the alarms on its metric in
the Monitoring tab, where the alarm that closes the loop "errors in the log -> alarm -> SNS" is made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.content import Content

from opstui.aws import cloudwatch as cw
from opstui.aws import logs as lg
from opstui.aws import sns
from opstui.aws.errors import OpsError
from opstui.aws.logs_models import LogGroup, MetricFilter
from opstui.aws.monitoring_models import AlarmSpec
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.confirm import ConfirmScreen
from opstui.views.common.form import Field
from opstui.views.common.kept_form import FieldProblems, KeptForm
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel, aws_work, bindings_for
from opstui.views.common.work import action_work
from opstui.views.logs.groups import GroupsPanel
from opstui.views.logs.rows import FILTER_COLUMNS

LABELS = {"group": "Log group", "name": "Filter name", "pattern": "Pattern", "metric": "Metric name",
          "namespace": "Namespace", "value": "Value per event", "threshold": "Alarm at (per minute)",
          "topic": "Notify (SNS topic)"}


@dataclass(frozen=True)
class FilterSpec:
    region: str
    group: str
    name: str
    pattern: str
    metric: str
    namespace: str
    value: str
    alarm: AlarmSpec | None = None  # the seed's flow: an alarm on the new metric, notifying a topic


def alarm_for(region: str, name: str, metric: str, namespace: str, threshold: str, topic: str) -> AlarmSpec:
    """An alarm on the filter's metric: the sum over one minute at or above the threshold, once; no events
    (no data) is not a breach. Raises AlarmInputError with the problems."""
    return cw.alarm_spec(name=f"{name}-alarm", region=region, metric=cw.metric_ref(namespace, metric),
                         threshold=threshold, comparison="GreaterThanOrEqualToThreshold", statistic="Sum",
                         period="60", evaluation_periods="1", datapoints="1", treat_missing="notBreaching",
                         topic_arns=[topic] if topic else [],
                         description=f"metric filter {name}: matching log events per minute")


def filter_fields(group: LogGroup, store: dict[str, str], topics: tuple[tuple[str, str], ...] = ()) -> list[Field]:
    base = group.name.strip("/").replace("/", "-") or "group"
    return [
        Field("group", LABELS["group"], f"{group.name} ({group.region})", disabled=True),
        Field("name", LABELS["name"], store.get("name") or f"{base}-errors"),
        Field("pattern", LABELS["pattern"], store.get("pattern") or "ERROR",
              placeholder='ERROR   ?ERROR ?FATAL   { $.level = "ERROR" }   [ip, id, user, ts, req, status=5*, size]'),
        Field("metric", LABELS["metric"], store.get("metric") or f"{base}-errors"),
        Field("namespace", LABELS["namespace"], store.get("namespace") or lg.DEFAULT_NAMESPACE),
        Field("value", LABELS["value"], store.get("value") or "1", placeholder="1, or $.latency"),
        Field("threshold", LABELS["threshold"], store.get("threshold", "1"),
              placeholder="blank: no alarm; e.g. 5 (matching events in a minute)"),
        Field("topic", LABELS["topic"], store.get("topic", ""), options=(("(no notification)", ""), *topics)),
    ]


class FiltersPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "filters", "Metric filters", "4", "logs-filters"
    BINDINGS = bindings_for(commands_of("logs", "filters"))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters: list[MetricFilter] = []
        self.form_values: dict[str, str] = {}
        self.created = 0

    def compose(self) -> ComposeResult:
        yield NodeTable(FILTER_COLUMNS, key=lambda f: f.key, id="logs-filters")

    def on_mount(self) -> None:
        self.table("logs-filters").border_title = Content("Metric filters")

    def reset(self) -> None:
        self.filters = []
        super().reset()

    def load(self) -> None:
        if self.ctx.regions:
            self._load()

    @aws_work
    async def _load(self) -> None:
        ctx = self.ctx
        results = await ctx.fresh(per_region(ctx.regions, lambda r: lg.describe_metric_filters(ctx.aws, r), "logs"),
                                  ctx.generation)
        found: list[MetricFilter] = []
        errors: list[str] = []
        for region, value, err in results:
            if err is not None:
                errors.append(str(err))
                found.extend(f for f in self.filters if f.region == region)
            else:
                found.extend(value)
        found.sort(key=lambda f: (f.group.lower(), f.name.lower(), f.region))
        self.filters, self.errors = found, errors
        self.show_rows("logs-filters", found)
        self.table("logs-filters").border_title = Content(f"Metric filters {len(found)}")

    # -- changes ------------------------------------------------------------------------------------------------
    def action_new_filter(self) -> None:
        if self.refused("creating a metric filter"):
            return
        groups = self.tab.query_one(GroupsPanel).selected_groups()
        if not groups:
            self.app.notify("Pick the log group in panel 1 first (the group under its cursor).", severity="warning",
                            markup=False)
            return
        self._open_form(groups[0])

    @action_work("logs-filter-form")
    async def _open_form(self, group: LogGroup) -> None:
        ctx = self.ctx
        try:
            topics = tuple((t.name, t.arn) for t in await ctx.run(sns.list_topics(ctx.aws, group.region)))
        except OpsError as err:  # the form still opens: the filter does not need a topic
            topics = ()
            self.app.notify(f"SNS topics not listed: {err}", severity="warning", markup=False)

        def build(values: dict[str, str]) -> FilterSpec:
            problems = lg.metric_filter_problems(values["name"], values["pattern"], values["metric"],
                                                 values["namespace"], values["value"])
            alarm = None
            if values["threshold"].strip() and not problems:
                try:
                    alarm = alarm_for(group.region, values["name"].strip(), values["metric"].strip(),
                                      values["namespace"].strip(), values["threshold"], values["topic"])
                except cw.AlarmInputError as err:
                    problems["threshold"] = "; ".join(p.split(": ", 1)[-1] for p in err.problems)
            elif values["topic"] and not values["threshold"].strip():
                problems["threshold"] = "a notification needs an alarm: give the threshold"
            if problems:
                raise FieldProblems(problems, LABELS)
            return FilterSpec(group.region, group.name, values["name"].strip(), values["pattern"],
                              values["metric"].strip(), values["namespace"].strip(), values["value"].strip(), alarm)

        async def submit(spec: FilterSpec) -> None:
            await ctx.run(lg.put_metric_filter(ctx.aws, spec.region, spec.group, spec.name, spec.pattern, spec.metric,
                                               spec.namespace, spec.value))
            if spec.alarm is not None:
                await ctx.run(cw.put_metric_alarm(ctx.aws, spec.alarm))

        screen = KeptForm(f"New metric filter on {group.name}", filter_fields(group, self.form_values, topics), build,
                          submit, store=self.form_values, submit_label="Create",
                          note="Each event matching the pattern adds the value to the metric (0 when none match); "
                               "with a threshold, an alarm on the metric's sum per minute notifies the topic "
                               "(errors in the log -> alarm -> SNS). `a` shows the metric's alarms in Monitoring.")
        if await self.app.push_screen_wait(screen):
            self.created += 1
            self.app.notify(f"Metric filter {clean(self.form_values.get('name', ''), 80)} created", markup=False)
            self.form_values.clear()
            self.load()

    def action_delete_filter(self) -> None:
        mf = self.table("logs-filters").cursor_row
        if self.refused("deleting a metric filter") or mf is None:
            return
        self._delete(mf)

    @action_work("logs-filter-change")
    async def _delete(self, mf: MetricFilter) -> None:
        ctx = self.ctx
        lines = [f"{mf.region} · {mf.group}", f"pattern: {mf.pattern or '(every event)'}",
                 f"metric: {mf.metric.namespace}/{mf.metric.metric_name}" if mf.metric else ""]
        if not await self.app.push_screen_wait(ConfirmScreen(f"Delete metric filter {mf.name}?", lines, yes="Delete",
                                                             danger=True)):
            return
        try:
            await ctx.run(lg.delete_metric_filter(ctx.aws, mf.region, mf.group, mf.name))
        except OpsError as err:
            self.app.notify(str(err), title="Delete metric filter", severity="error", markup=False)
            return
        self.app.notify(f"Deleted metric filter {clean(mf.name, 80)}", markup=False)
        self.load()

    def action_alarms(self) -> None:
        mf = self.table("logs-filters").cursor_row
        if mf is None or mf.metric is None:
            self.app.notify("No metric filter under the cursor.", markup=False)
            return
        self.ctx.nav.jump_to("monitoring", mf.metric.metric_name, "alarms")
