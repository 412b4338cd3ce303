"""Typed, frozen models of CloudWatch alarms and metrics, SNS topics and Synthetics canaries.

A module of its own (not a section of models.py, which is past 400 lines): the Monitoring and Overview tabs
only ever see these. Every string in them came from AWS and may have been typed by anyone with
PutMetricAlarm / CreateTopic rights (names, reasons, descriptions, endpoints): views show them through
`opstui.safe.clean` as literal text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Pairs = tuple[tuple[str, str], ...]

ALARM_STATES = ("ALARM", "INSUFFICIENT_DATA", "OK")
#: ALARM first, then no data, then OK (the board's default order)
STATE_ORDER = {s: i for i, s in enumerate(ALARM_STATES)}
COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside",
    "LessThanLowerThreshold": "< lower",
    "GreaterThanUpperThreshold": "> upper",
}


# -- CloudWatch metrics ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricRef:
    """One metric: namespace, name and dimensions (sorted, so two refs to the same metric compare equal)."""

    namespace: str
    name: str
    dimensions: Pairs = ()

    def dimension(self, key: str) -> str | None:
        for k, v in self.dimensions:
            if k == key:
                return v
        return None

    def to_api(self) -> dict[str, object]:
        return {"Namespace": self.namespace, "MetricName": self.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions]}

    @property
    def label(self) -> str:
        dims = " ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.name}" + (f" {dims}" if dims else "")


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """One GetMetricData query (`id` must start with a lowercase letter: AWS's rule)."""

    id: str
    metric: MetricRef
    stat: str = "Average"
    period: int = 300


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """The answer to one query, oldest point first."""

    id: str
    label: str
    timestamps: tuple[datetime, ...] = ()
    values: tuple[float, ...] = ()
    status: str = "Complete"  # Complete | PartialData | InternalError | Forbidden

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    @property
    def peak(self) -> float | None:
        return max(self.values) if self.values else None


# -- CloudWatch alarms -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alarm:
    """A metric alarm or a composite alarm (DescribeAlarms returns both, in two lists)."""

    name: str
    region: str
    arn: str = ""
    kind: str = "metric"  # metric | composite
    state: str = "INSUFFICIENT_DATA"
    reason: str = ""
    state_updated: datetime | None = None
    actions_enabled: bool = True
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    description: str = ""
    metric: MetricRef | None = None
    statistic: str = ""  # Average | Maximum | ... | p99 (extended statistics)
    period: int = 0
    evaluation_periods: int = 0
    datapoints_to_alarm: int | None = None
    threshold: float | None = None
    comparison: str = ""
    treat_missing_data: str = ""
    unit: str = ""
    rule: str = ""  # composite alarms: the AlarmRule expression
    uses_math: bool = False  # an alarm on a metric-math expression (Metrics=[...]) has no single metric

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"

    @property
    def instance_id(self) -> str | None:
        return self.metric.dimension("InstanceId") if self.metric else None

    @property
    def condition(self) -> str:
        """"CPUUtilization > 80 for 3 of 3 × 5 min" (or the rule of a composite alarm)."""
        if self.kind == "composite":
            return self.rule
        if self.metric is None:
            return "metric math" if self.uses_math else ""
        op = COMPARISONS.get(self.comparison, self.comparison)
        threshold = "" if self.threshold is None else f"{self.threshold:g}"
        m = self.datapoints_to_alarm or self.evaluation_periods
        period = f"{self.period // 60} min" if self.period % 60 == 0 and self.period >= 60 else f"{self.period} s"
        return f"{self.metric.name} {op} {threshold} for {m} of {self.evaluation_periods} × {period}"


@dataclass(frozen=True, slots=True)
class AlarmHistoryItem:
    """One DescribeAlarmHistory entry; `old_state`/`new_state` parsed from HistoryData for StateUpdate."""

    alarm_name: str
    timestamp: datetime | None
    kind: str  # StateUpdate | ConfigurationUpdate | Action | AlarmContributorStateUpdate | ...
    summary: str
    old_state: str = ""
    new_state: str = ""


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """What PutMetricAlarm needs for a node's metric: built (and checked) by `cloudwatch.alarm_spec`."""

    name: str
    region: str
    metric: MetricRef
    threshold: float
    comparison: str = "GreaterThanThreshold"
    statistic: str = "Average"
    period: int = 300
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 3
    treat_missing_data: str = "missing"
    topic_arns: tuple[str, ...] = ()
    description: str = ""
    actions_enabled: bool = True


# -- SNS ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Topic:
    arn: str
    region: str

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class Subscription:
    arn: str  # "PendingConfirmation" until the endpoint confirms
    topic_arn: str
    protocol: str
    endpoint: str
    region: str

    @property
    def pending(self) -> bool:
        return self.arn in ("PendingConfirmation", "pending confirmation", "")

    @property
    def topic_name(self) -> str:
        return self.topic_arn.rsplit(":", 1)[-1]


# -- Synthetics --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CanaryRun:
    """One run of a canary (GetCanaryRuns / DescribeCanariesLastRun)."""

    id: str
    name: str
    status: str  # PASSED | FAILED | RUNNING
    reason: str = ""
    started: datetime | None = None
    completed: datetime | None = None
    artifact: str = ""

    @property
    def duration(self) -> float | None:
        if self.started and self.completed:
            return max((self.completed - self.started).total_seconds(), 0.0)
        return None

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


@dataclass(frozen=True, slots=True)
class Canary:
    name: str
    region: str
    state: str  # CREATING | READY | STARTING | RUNNING | UPDATING | STOPPING | STOPPED | ERROR | DELETING
    state_reason: str = ""
    schedule: str = ""
    runtime: str = ""
    handler: str = ""
    artifact_location: str = ""
    execution_role: str = ""
    last_run: CanaryRun | None = None

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"

    @property
    def failing(self) -> bool:
        """Running (or just stopped) and its last run failed: the service it watches is down."""
        return self.last_run is not None and self.last_run.failed


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    """A heartbeat canary as the console's blueprint makes it: one URL, a rate, a role, an S3 location."""

    name: str
    region: str
    url: str
    schedule: str = "rate(1 minute)"
    execution_role: str = ""
    artifact_location: str = ""
    runtime: str = "syn-nodejs-puppeteer-9.1"
    timeout_seconds: int = 60
    start: bool = True
