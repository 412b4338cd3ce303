"""The alarm form (create, or edit one alarm on one metric): the seed's flow, an alarm on a node's CPU, memory
or disk with threshold, periods, statistic, missing data and an SNS topic, checked before it is sent."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from opstui.aws import cloudwatch as cw
from opstui.aws.monitoring_models import Alarm
from opstui.safe import clean
from opstui.views.common.form import Field, FormScreen
from opstui.views.monitoring.sns import SnsPanel

if TYPE_CHECKING:
    from opstui.views.monitoring.alarms import AlarmsPanel


def _values(panel: AlarmsPanel, alarm: Alarm | None) -> tuple[str, str, str, dict[str, str]]:
    """(region, instance id, metric kind, the fields' starting values)."""
    if alarm is not None:
        kind = next((k for k, (ns, name, _) in cw.NODE_METRICS.items() if alarm.metric and
                     alarm.metric.namespace == ns and alarm.metric.name == name), "cpu")
        return alarm.region, alarm.instance_id or "", kind, {
            "name": alarm.name, "threshold": f"{alarm.threshold:g}" if alarm.threshold is not None else "",
            "period": str(alarm.period), "evals": str(alarm.evaluation_periods),
            "points": str(alarm.datapoints_to_alarm or alarm.evaluation_periods), "comparison": alarm.comparison,
            "statistic": alarm.statistic or "Average", "missing": alarm.treat_missing_data or "missing",
            "topic": alarm.alarm_actions[0] if alarm.alarm_actions else "", "description": alarm.description}
    ctx = panel.ctx
    node = ctx.fleet.cursor
    region = node.region if node else (ctx.regions[0] if ctx.regions else "")
    label = (node.name or node.instance_id) if node else "node"
    topic = next((arn for _, arn in panel.topic_options(region) if arn), "")
    return region, node.instance_id if node else "", "cpu", {
        "name": f"{label}-high-cpu", "threshold": "80", "period": "300", "evals": "3", "points": "3",
        "comparison": "GreaterThanThreshold", "statistic": "Average", "missing": "missing", "topic": topic,
        "description": ""}


async def alarm_form(panel: AlarmsPanel, alarm: Alarm | None) -> FormScreen:
    ctx = panel.ctx
    sns = panel.tab.query_one(SnsPanel)
    if not sns.loaded:  # the topic list of the form
        await sns.fetch()
    region, iid, kind, values = _values(panel, alarm)
    fields = [
        Field("name", "Alarm name", values["name"], disabled=alarm is not None),
        Field("region", "Region", region, options=tuple((r, r) for r in ctx.regions) or ((region, region),),
              disabled=alarm is not None),
        Field("instance", "Instance id", iid, placeholder="i-0123456789abcdef0", disabled=alarm is not None),
        Field("metric", "Metric", kind, options=(("CPU (AWS/EC2 CPUUtilization)", "cpu"),
                                                ("Memory (CWAgent mem_used_percent)", "memory"),
                                                ("Disk (CWAgent disk_used_percent, /)", "disk")),
              disabled=alarm is not None),
        Field("comparison", "Comparison", values["comparison"],
              options=tuple((op, op) for op in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                                "LessThanThreshold", "LessThanOrEqualToThreshold"))),
        Field("threshold", "Threshold", values["threshold"], placeholder="80"),
        Field("statistic", "Statistic", values["statistic"], options=tuple((s, s) for s in cw.STATISTICS)),
        Field("period", "Period (seconds)", values["period"], placeholder="300"),
        Field("evals", "Evaluation periods", values["evals"]),
        Field("points", "Datapoints to alarm", values["points"]),
        Field("missing", "Missing data", values["missing"], options=tuple((m, m) for m in cw.TREAT_MISSING)),
        Field("topic", "Notify SNS topic", values["topic"], options=panel.topic_options(region)),
        Field("description", "Description", values["description"]),
    ]

    def build(v: dict[str, str]) -> Any:
        problems: list[str] = []
        if alarm is not None and alarm.metric is not None:
            metric = alarm.metric
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
        if alarm is not None:  # PutMetricAlarm replaces: actions turned off with `d` stay off
            spec = replace(spec, actions_enabled=alarm.actions_enabled)
        return spec

    async def submit(spec: Any) -> None:
        if alarm is None and spec.metric.namespace == cw.AGENT_NAMESPACE:
            kind = next(k for k, (_, n, _) in cw.NODE_METRICS.items() if n == spec.metric.name)
            metric = await ctx.run(cw.resolve_node_metric(ctx.aws, spec.region, kind,
                                                          spec.metric.dimension("InstanceId") or ""))
            spec = replace(spec, metric=metric)
        await ctx.run(cw.put_metric_alarm(ctx.aws, spec))
        panel.app.notify(f"Alarm {clean(spec.name, 80)} {'saved' if alarm else 'created'} in {spec.region}",
                         markup=False)

    note = ("Edit: PutMetricAlarm replaces the alarm with these values." if alarm else
            "An alarm on a node's metric (pre-filled from the Fleet cursor node). Memory and disk need the "
            "CloudWatch agent on the node (panel 4).")
    return FormScreen("Edit alarm" if alarm else "Create alarm", fields, build, submit, note=note)
