"""CloudWatch: alarms (metric and composite), their history, metric data and the alarm changes.

Costs, because a board of 2,000 alarms and charts of 500 series are the cases that matter:
- DescribeAlarms returns up to 100 alarms a page, metric and composite alarms in two lists of the same page
  (botocore's paginator yields one result key per call of our `paginate`, so the loop here follows NextToken
  itself to keep both lists in one pass).
- GetMetricData takes up to 500 queries a call and pages the *datapoints* (NextToken) when the answer passes
  100,800 points; `get_metric_data` cuts the queries into batches of 500, sends the batches together, follows
  every batch's NextToken and joins the pages per query id.

Input for PutMetricAlarm is checked here (`alarm_spec`) before anything is sent, so a form can say at once
"threshold: not a number" instead of showing a ValidationError later. Every mutating call is refused by the
read-only guard of `opstui.aws.clients` (PutMetricAlarm, DeleteAlarms, Enable/DisableAlarmActions,
SetAlarmState are not reads).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.models import utc
from opstui.aws.monitoring_models import (
    COMPARISONS,
    Alarm,
    AlarmHistoryItem,
    AlarmSpec,
    MetricQuery,
    MetricRef,
    MetricSeries,
)

MAX_QUERIES = 500  # GetMetricData queries per call
ALARM_PAGE = 100  # DescribeAlarms MaxRecords
AGENT_NAMESPACE = "CWAgent"
BATCHES_IN_FLIGHT = 4
#: the node metrics an alarm can be created for from a node: label -> (namespace, metric, extra dimensions)
NODE_METRICS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "cpu": ("AWS/EC2", "CPUUtilization", ()),
    "memory": (AGENT_NAMESPACE, "mem_used_percent", ()),
    "disk": (AGENT_NAMESPACE, "disk_used_percent", (("path", "/"),)),
}
STATISTICS = ("Average", "Maximum", "Minimum", "Sum", "SampleCount")
TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")
_ALARM_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


def _dims(raw: Iterable[dict[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(d.get("Name", "")), str(d.get("Value", ""))) for d in raw or ()))


def metric_ref(namespace: str, name: str, dimensions: dict[str, str] | Iterable[tuple[str, str]] = ()) -> MetricRef:
    items = dimensions.items() if isinstance(dimensions, dict) else dimensions
    return MetricRef(namespace, name, tuple(sorted((str(k), str(v)) for k, v in items)))


def node_metric(kind: str, instance_id: str) -> MetricRef:
    """The metric of a node an alarm watches: cpu (AWS/EC2), memory or disk (CWAgent, needs the agent)."""
    namespace, name, extra = NODE_METRICS[kind]
    return metric_ref(namespace, name, (("InstanceId", instance_id), *extra))


async def resolve_node_metric(aws: AwsClients, region: str, kind: str, instance_id: str) -> MetricRef:
    """The node metric with the dimensions the node really publishes: the agent appends device and fstype to
    disk_used_percent (an alarm must name every dimension of the series), so CWAgent metrics are looked up
    with ListMetrics; the root filesystem is preferred. Falls back to `node_metric` when none is found."""
    base = node_metric(kind, instance_id)
    if base.namespace != AGENT_NAMESPACE:
        return base
    found = await list_metrics(aws, region, base.namespace, name=base.name, dimensions={"InstanceId": instance_id})
    if not found:
        return base
    return next((m for m in found if m.dimension("path") == "/"), found[0])


# -- alarms ------------------------------------------------------------------------------------------------


def alarm_from_api(raw: dict[str, Any], region: str, kind: str = "metric") -> Alarm:
    metric = None
    if raw.get("MetricName"):
        metric = MetricRef(str(raw.get("Namespace", "")), str(raw["MetricName"]), _dims(raw.get("Dimensions")))
    statistic = str(raw.get("Statistic") or raw.get("ExtendedStatistic") or "")
    threshold = raw.get("Threshold")
    return Alarm(
        name=str(raw.get("AlarmName", "")),
        region=region,
        arn=str(raw.get("AlarmArn", "")),
        kind=kind,
        state=str(raw.get("StateValue", "INSUFFICIENT_DATA")),
        reason=str(raw.get("StateReason", "")),
        state_updated=utc(raw.get("StateUpdatedTimestamp") or raw.get("StateTransitionedTimestamp")),
        actions_enabled=bool(raw.get("ActionsEnabled", True)),
        alarm_actions=tuple(raw.get("AlarmActions") or ()),
        ok_actions=tuple(raw.get("OKActions") or ()),
        insufficient_data_actions=tuple(raw.get("InsufficientDataActions") or ()),
        description=str(raw.get("AlarmDescription") or ""),
        metric=metric,
        statistic=statistic,
        period=int(raw.get("Period") or 0),
        evaluation_periods=int(raw.get("EvaluationPeriods") or 0),
        datapoints_to_alarm=int(raw["DatapointsToAlarm"]) if raw.get("DatapointsToAlarm") else None,
        threshold=float(threshold) if threshold is not None else None,
        comparison=str(raw.get("ComparisonOperator", "")),
        treat_missing_data=str(raw.get("TreatMissingData", "")),
        unit=str(raw.get("Unit") or ""),
        rule=str(raw.get("AlarmRule", "")),
        uses_math=bool(raw.get("Metrics")),
    )


async def describe_alarms(
    aws: AwsClients,
    region: str,
    *,
    state: str | None = None,
    prefix: str | None = None,
    names: Sequence[str] | None = None,
    composite: bool = True,
) -> list[Alarm]:
    """Every alarm of the region (metric and, unless `composite=False`, composite), paged 100 at a time."""
    params: dict[str, Any] = {"MaxRecords": ALARM_PAGE,
                              "AlarmTypes": ["MetricAlarm", "CompositeAlarm"] if composite else ["MetricAlarm"]}
    if state:
        params["StateValue"] = state
    if prefix:
        params["AlarmNamePrefix"] = prefix
    if names:
        params["AlarmNames"] = list(names)[:100]
    alarms: list[Alarm] = []
    token: str | None = None
    while True:
        page = await aws.call("cloudwatch", region, "describe_alarms", **params, **({"NextToken": token} if token else {}))
        alarms.extend(alarm_from_api(a, region) for a in page.get("MetricAlarms") or ())
        if composite:
            alarms.extend(alarm_from_api(a, region, "composite") for a in page.get("CompositeAlarms") or ())
        token = page.get("NextToken")
        if not token:
            return alarms


def _history_item(raw: dict[str, Any]) -> AlarmHistoryItem:
    old = new = ""
    if raw.get("HistoryItemType") == "StateUpdate":
        try:
            data = json.loads(raw.get("HistoryData") or "{}")
            old = str((data.get("oldState") or {}).get("stateValue", ""))
            new = str((data.get("newState") or {}).get("stateValue", ""))
        except (ValueError, AttributeError):
            pass
    return AlarmHistoryItem(
        alarm_name=str(raw.get("AlarmName", "")),
        timestamp=utc(raw.get("Timestamp")),
        kind=str(raw.get("HistoryItemType", "")),
        summary=str(raw.get("HistorySummary", "")),
        old_state=old,
        new_state=new,
    )


async def alarm_history(
    aws: AwsClients, region: str, name: str, *, kind: str | None = None, max_items: int = 100, days: int = 14
) -> list[AlarmHistoryItem]:
    """The newest `max_items` history entries of one alarm (AWS keeps 30 days), newest first."""
    params: dict[str, Any] = {
        "AlarmName": name,
        "ScanBy": "TimestampDescending",
        "StartDate": datetime.now(UTC) - timedelta(days=days),
        "EndDate": datetime.now(UTC) + timedelta(minutes=5),
        "PaginationConfig": {"MaxItems": max_items, "PageSize": min(max_items, 100)},
    }
    if kind:
        params["HistoryItemType"] = kind
    items: list[AlarmHistoryItem] = []
    async for page in aws.paginate("cloudwatch", region, "describe_alarm_history", "AlarmHistoryItems", **params):
        items.extend(_history_item(raw) for raw in page)
    items.sort(key=lambda i: i.timestamp or datetime.min.replace(tzinfo=UTC), reverse=True)
    return items[:max_items]


def _number(text: str, what: str, problems: list[str], *, integer: bool = False, minimum: float | None = None,
            maximum: float | None = None) -> float:
    raw = text.strip()
    try:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        problems.append(f"{what}: {raw!r} is not a number" if raw else f"{what}: required (a number)")
        return 0.0
    if integer and value != int(value):
        problems.append(f"{what}: a whole number, not {raw}")
    if minimum is not None and value < minimum:
        problems.append(f"{what}: at least {minimum:g}")
    if maximum is not None and value > maximum:
        problems.append(f"{what}: at most {maximum:g}")
    return value


class AlarmInputError(ValueError):
    """The alarm form's values cannot make an alarm; `problems` says each thing to fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def alarm_spec(
    *,
    name: str,
    region: str,
    metric: MetricRef,
    threshold: str,
    comparison: str = "GreaterThanThreshold",
    statistic: str = "Average",
    period: str = "300",
    evaluation_periods: str = "3",
    datapoints: str = "3",
    treat_missing: str = "missing",
    topic_arns: Sequence[str] = (),
    description: str = "",
) -> AlarmSpec:
    """Check the form's text and build the spec, or raise AlarmInputError listing every problem.

    AWS's rules: period 10, 30 or a multiple of 60 seconds; evaluation periods x period at most one day;
    datapoints to alarm between 1 and the evaluation periods."""
    problems: list[str] = []
    clean_name = name.strip()
    if not clean_name:
        problems.append("name: required")
    elif not _ALARM_NAME.match(clean_name):
        problems.append("name: 1 to 255 characters, no control characters")
    value = _number(threshold, "threshold", problems)
    seconds = int(_number(period, "period (seconds)", problems, integer=True, minimum=10))
    if seconds and seconds not in (10, 30) and seconds % 60:
        problems.append("period (seconds): 10, 30 or a multiple of 60")
    evals = int(_number(evaluation_periods, "evaluation periods", problems, integer=True, minimum=1))
    points = int(_number(datapoints, "datapoints to alarm", problems, integer=True, minimum=1))
    if evals and points > evals:
        problems.append(f"datapoints to alarm: at most the evaluation periods ({evals})")
    if seconds and evals and seconds * evals > 86_400:
        problems.append("evaluation periods × period: at most one day (86,400 seconds)")
    if comparison not in COMPARISONS:
        problems.append(f"comparison: one of {', '.join(COMPARISONS)}")
    if statistic not in STATISTICS:
        problems.append(f"statistic: one of {', '.join(STATISTICS)}")
    if treat_missing not in TREAT_MISSING:
        problems.append(f"missing data: one of {', '.join(TREAT_MISSING)}")
    bad_topics = [t for t in topic_arns if not t.startswith("arn:")]
    if bad_topics:
        problems.append(f"SNS topic: not an ARN: {bad_topics[0]}")
    if len(description) > 1024:
        problems.append("description: at most 1,024 characters")
    if problems:
        raise AlarmInputError(problems)
    return AlarmSpec(name=clean_name, region=region, metric=metric, threshold=value, comparison=comparison,
                     statistic=statistic, period=seconds, evaluation_periods=evals, datapoints_to_alarm=points,
                     treat_missing_data=treat_missing, topic_arns=tuple(topic_arns), description=description)


async def put_metric_alarm(aws: AwsClients, spec: AlarmSpec) -> None:
    """Create the alarm, or replace it with the same name (that is how AWS edits an alarm)."""
    params: dict[str, Any] = {
        "AlarmName": spec.name,
        "AlarmDescription": spec.description,
        "ActionsEnabled": spec.actions_enabled,
        "Namespace": spec.metric.namespace,
        "MetricName": spec.metric.name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.metric.dimensions],
        "Statistic": spec.statistic,
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.treat_missing_data,
    }
    if spec.topic_arns:
        params["AlarmActions"] = list(spec.topic_arns)
        params["OKActions"] = list(spec.topic_arns)
    await aws.call("cloudwatch", spec.region, "put_metric_alarm", **params)


async def delete_alarms(aws: AwsClients, region: str, names: Sequence[str]) -> None:
    for start in range(0, len(names), 100):  # DeleteAlarms takes at most 100 names
        await aws.call("cloudwatch", region, "delete_alarms", AlarmNames=list(names[start:start + 100]))


async def set_alarm_actions(aws: AwsClients, region: str, names: Sequence[str], enabled: bool) -> None:
    """Enable or disable the actions (notifications) of alarms; their state keeps being evaluated."""
    op = "enable_alarm_actions" if enabled else "disable_alarm_actions"
    for start in range(0, len(names), 100):
        await aws.call("cloudwatch", region, op, AlarmNames=list(names[start:start + 100]))


async def set_alarm_state(aws: AwsClients, region: str, name: str, state: str, reason: str) -> None:
    """Force a state until the next evaluation (to test the notification path)."""
    await aws.call("cloudwatch", region, "set_alarm_state", AlarmName=name, StateValue=state, StateReason=reason)


# -- metrics -----------------------------------------------------------------------------------------------


async def list_metrics(
    aws: AwsClients,
    region: str,
    namespace: str,
    *,
    name: str | None = None,
    dimensions: dict[str, str] | None = None,
    recently_active: bool = False,
) -> list[MetricRef]:
    params: dict[str, Any] = {"Namespace": namespace}
    if name:
        params["MetricName"] = name
    if dimensions:
        params["Dimensions"] = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    if recently_active:
        params["RecentlyActive"] = "PT3H"
    refs: list[MetricRef] = []
    async for page in aws.paginate("cloudwatch", region, "list_metrics", "Metrics", **params):
        refs.extend(MetricRef(str(m.get("Namespace", "")), str(m.get("MetricName", "")), _dims(m.get("Dimensions")))
                    for m in page)
    return refs


async def agent_nodes(aws: AwsClients, region: str) -> dict[str, tuple[str, ...]]:
    """Instance id -> names of its CWAgent metrics, for the nodes whose CloudWatch agent publishes metrics
    (ListMetrics of the CWAgent namespace, last 3 hours: an agent stopped longer ago counts as absent)."""
    found: dict[str, set[str]] = {}
    for ref in await list_metrics(aws, region, AGENT_NAMESPACE, recently_active=True):
        iid = ref.dimension("InstanceId")
        if iid:
            found.setdefault(iid, set()).add(ref.name)
    return {iid: tuple(sorted(names)) for iid, names in found.items()}


def _series(raw: dict[str, Any]) -> tuple[str, str, list[datetime], list[float], str]:
    stamps = [utc(t) or datetime.min.replace(tzinfo=UTC) for t in raw.get("Timestamps") or ()]
    return (str(raw.get("Id", "")), str(raw.get("Label", "")), stamps,
            [float(v) for v in raw.get("Values") or ()], str(raw.get("StatusCode", "Complete")))


async def _one_batch(aws: AwsClients, region: str, batch: Sequence[MetricQuery], start: datetime,
                     end: datetime) -> dict[str, MetricSeries]:
    queries = [{"Id": q.id, "MetricStat": {"Metric": q.metric.to_api(), "Period": q.period, "Stat": q.stat},
                "ReturnData": True} for q in batch]
    points: dict[str, dict[datetime, float]] = {q.id: {} for q in batch}
    labels: dict[str, str] = {q.id: q.metric.name for q in batch}
    status: dict[str, str] = {q.id: "Complete" for q in batch}
    token: str | None = None
    while True:
        page = await aws.call("cloudwatch", region, "get_metric_data", MetricDataQueries=queries, StartTime=start,
                              EndTime=end, ScanBy="TimestampAscending", **({"NextToken": token} if token else {}))
        for raw in page.get("MetricDataResults") or ():
            qid, label, stamps, values, code = _series(raw)
            if qid not in points:
                continue
            points[qid].update(zip(stamps, values, strict=False))
            labels[qid] = label or labels[qid]
            if code != "Complete" or status[qid] == "Complete":
                status[qid] = code
        token = page.get("NextToken")
        if not token:
            break
    out: dict[str, MetricSeries] = {}
    for qid, by_time in points.items():
        stamps_sorted = sorted(by_time)
        out[qid] = MetricSeries(qid, labels[qid], tuple(stamps_sorted), tuple(by_time[t] for t in stamps_sorted),
                                status[qid])
    return out


async def get_metric_data(
    aws: AwsClients,
    region: str,
    queries: Sequence[MetricQuery],
    start: datetime,
    end: datetime,
    *,
    batch_size: int = MAX_QUERIES,
) -> dict[str, MetricSeries]:
    """Series per query id, oldest point first: batches of up to 500 queries sent together (at most four in
    flight), each batch's pages (NextToken) joined."""
    if not queries:
        return {}
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise ValueError("GetMetricData query ids must be unique")
    batch_size = max(1, min(batch_size, MAX_QUERIES))
    batches = [queries[i:i + batch_size] for i in range(0, len(queries), batch_size)]
    gate = asyncio.Semaphore(BATCHES_IN_FLIGHT)

    async def run(batch: Sequence[MetricQuery]) -> dict[str, MetricSeries]:
        async with gate:
            return await _one_batch(aws, region, batch, start, end)

    merged: dict[str, MetricSeries] = {}
    for part in await asyncio.gather(*(run(b) for b in batches)):
        merged.update(part)
    return merged


def query_id(index: int, prefix: str = "q") -> str:
    """A valid GetMetricData id (lowercase first letter, then letters, digits, underscores)."""
    return f"{prefix}{index}"
