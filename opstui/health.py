"""Is anything wrong? What the Overview shows, gathered per region, with no UI in it.

For each region, at once: the alarms in ALARM, the canaries with their last runs, one GetMetricData for every
running node's CPU and status check plus the CloudWatch agent's memory and disk, and the last 24 h of backup
and copy jobs. After the alarms, the metric filters that feed the firing alarms' metrics (one
DescribeMetricFilters by metric name and namespace per distinct metric, only when some alarm is in ALARM):
an alarm fed by a metric filter is "errors in logs". Each part that fails becomes an error line of that region; the other parts still count (a
denied Monitoring does not hide the backups). The Overview tab (`views/overview/`) turns this into lines.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opstui.aws import backup, synthetics
from opstui.aws import cloudwatch as cw
from opstui.aws import logs as lg
from opstui.aws.backup_models import BackupJob
from opstui.aws.errors import OpsError
from opstui.aws.logs_models import MetricFilter
from opstui.aws.models import FleetNode
from opstui.aws.monitoring_models import Alarm, Canary, MetricQuery, MetricRef

CPU_HIGH = 80.0
MEMORY_HIGH = 90.0
DISK_HIGH = 90.0
SLOW_RUN_MS = 2000.0
BACKUP_WINDOW = timedelta(hours=24)
METRIC_WINDOW = timedelta(minutes=20)  # EC2 basic monitoring: a point every 5 minutes


@dataclass(frozen=True)
class LogAlarm:
    """An alarm in ALARM whose metric (namespace + name) a log metric filter produces: errors in the logs."""

    alarm: Alarm
    filters: tuple[MetricFilter, ...]

    @property
    def groups(self) -> list[str]:
        return sorted({f.group for f in self.filters})


@dataclass
class RegionHealth:
    """What one region said (or the errors it gave)."""

    region: str
    alarms: list[Alarm] = field(default_factory=list)
    canaries: list[Canary] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # instance id -> last CPU %
    status_failed: set[str] = field(default_factory=set)
    memory: dict[str, float] = field(default_factory=dict)
    disk: dict[str, float] = field(default_factory=dict)
    backups_failed: list[BackupJob] = field(default_factory=list)  # failed / expired / aborted, last 24 h
    backups_with_issues: list[BackupJob] = field(default_factory=list)
    backup_jobs: int = 0  # backup and copy jobs of the last 24 h
    log_alarms: list[LogAlarm] = field(default_factory=list)  # alarms in ALARM fed by a metric filter
    errors: list[str] = field(default_factory=list)
    #: the parts that could not be checked (:data:`PARTS`) -> why: the Overview never says "all clear" for them
    failed: dict[str, str] = field(default_factory=dict)

    def checked(self, part: str) -> bool:
        return part not in self.failed


#: what :func:`region_health` asks each region, one task each
PARTS = ("alarms", "canaries", "metrics", "backups")
#: asked after the alarms (it needs the firing ones): a failure here is its own part, not the alarms'
LOG_FILTERS = "log filters"


async def region_health(aws: Any, region: str, running: list[str]) -> RegionHealth:
    """The region's alarms in ALARM, canaries with last runs and the running nodes' load; each part that
    fails is an error line, the other parts still count."""
    health = RegionHealth(region)

    async def alarms() -> None:
        health.alarms = await cw.describe_alarms(aws, region, state="ALARM")
        try:
            health.log_alarms = await log_alarms(aws, region, health.alarms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded as the part that failed, the alarms still count
            record(LOG_FILTERS, exc)

    async def canaries() -> None:
        health.canaries = await synthetics.describe_canaries(aws, region)

    async def metrics() -> None:
        agent = await cw.list_metrics(aws, region, cw.AGENT_NAMESPACE, recently_active=True)
        queries: list[MetricQuery] = []
        kinds: dict[str, tuple[str, str]] = {}
        running_set = set(running)
        for iid in running:
            for kind, name, stat in (("cpu", "CPUUtilization", "Average"), ("status", "StatusCheckFailed", "Maximum")):
                qid = f"q{len(queries)}"
                queries.append(MetricQuery(qid, MetricRef("AWS/EC2", name, (("InstanceId", iid),)), stat, 300))
                kinds[qid] = (kind, iid)
        for ref in agent:
            iid = ref.dimension("InstanceId")
            kind = {"mem_used_percent": "memory", "disk_used_percent": "disk"}.get(ref.name)
            if not iid or not kind or iid not in running_set:
                continue
            if kind == "disk" and ref.dimension("path") not in (None, "/"):
                continue
            qid = f"q{len(queries)}"
            queries.append(MetricQuery(qid, ref, "Average", 60))
            kinds[qid] = (kind, iid)
        end = datetime.now(UTC)
        series = await cw.get_metric_data(aws, region, queries, end - METRIC_WINDOW, end)
        for qid, s in series.items():
            if s.last is None:
                continue
            kind, iid = kinds[qid]
            if kind == "cpu":
                health.cpu[iid] = s.last
            elif kind == "status" and s.last >= 1:
                health.status_failed.add(iid)
            elif kind == "memory":
                health.memory[iid] = s.last
            elif kind == "disk":
                health.disk[iid] = max(health.disk.get(iid, 0.0), s.last)

    async def backups() -> None:
        jobs, _ = await backup.list_region_jobs(aws, region, datetime.now(UTC) - BACKUP_WINDOW,
                                                kinds=("backup", "copy"))
        health.backup_jobs = len(jobs)
        health.backups_failed = [j for j in backup.sort_jobs(jobs) if j.failed]
        health.backups_with_issues = [j for j in backup.sort_jobs(jobs) if j.with_issues]

    def record(name: str, part: BaseException) -> None:
        if isinstance(part, OpsError):
            message = str(part)
        else:
            message = f"[{region}] unexpected failure: {type(part).__name__}: {part}"
        health.failed[name] = message
        if message not in health.errors:  # one denied call may fail several parts the same way
            health.errors.append(message)

    results = await asyncio.gather(alarms(), canaries(), metrics(), backups(), return_exceptions=True)
    for name, part in zip(PARTS, results, strict=True):
        if isinstance(part, asyncio.CancelledError):
            raise part
        if isinstance(part, BaseException):
            record(name, part)
    return health


def _filter_metric(namespace: str, name: str) -> bool:
    """Could a metric filter publish this metric (the Logs API's MetricName/MetricNamespace shapes)?"""
    return all(0 < len(t) <= 255 and not set(t) & set(":*$") for t in (namespace, name))


async def log_alarms(aws: Any, region: str, alarms: list[Alarm]) -> list[LogAlarm]:
    """The alarms in ALARM whose metric a metric filter produces, with those filters. One DescribeMetricFilters
    (by metric name and namespace) per distinct metric of a firing alarm; none when nothing fires. A metric
    whose name or namespace no metric filter can have (empty, over 255 characters, or with ``:``, ``*`` or
    ``$``: the MetricName / MetricNamespace pattern ``[^:*$]*`` of the Logs API, which AWS would refuse in the
    request) is not asked about: no filter feeds it.
    https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_MetricTransformation.html"""
    firing = [(a, (a.metric.namespace, a.metric.name)) for a in alarms
              if a.state == "ALARM" and a.metric and _filter_metric(a.metric.namespace, a.metric.name)]
    metrics = sorted({m for _, m in firing})
    found = await asyncio.gather(*(lg.describe_metric_filters(aws, region, metric_name=name, namespace=ns)
                                   for ns, name in metrics))
    by_metric = dict(zip(metrics, found, strict=True))
    return [LogAlarm(a, tuple(by_metric[m])) for a, m in firing if by_metric.get(m)]


async def gather_health(aws: Any, nodes: list[FleetNode], regions: list[str]) -> list[RegionHealth]:
    by_region: dict[str, list[str]] = {r: [] for r in regions}
    for n in nodes:
        if n.ec2_state == "running" and n.instance_id.startswith("i-") and n.region in by_region:
            by_region[n.region].append(n.instance_id)
    return list(await asyncio.gather(*(region_health(aws, r, ids) for r, ids in by_region.items())))
