"""The Monitoring tab's rows, table columns and filter matching (the panels live next to this module).

Every cell is untrusted text (alarm names and reasons, topic endpoints, canary names): NodeTable draws cleaned
plain segments, and the detail texts are `rich.text.Text` built from `clean()`ed strings, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.style import Style

from opstui.aws.models import FleetNode
from opstui.aws.monitoring_models import (
    STATE_ORDER,
    Alarm,
    AlarmHistoryItem,
    Canary,
    CanaryRun,
    Subscription,
    Topic,
)
from opstui.runs.tracker import NodeState
from opstui.views.common.format import age
from opstui.views.common.node_table import Column, drop_order

STATE_STYLES = {
    "ALARM": Style(color="red", bold=True),
    "INSUFFICIENT_DATA": Style(color="yellow"),
    "OK": Style(color="green"),
    "FAILED": Style(color="red", bold=True),
    "PASSED": Style(color="green"),
    "RUNNING": Style(color="cyan"),
    "STOPPED": Style(dim=True),
    "ERROR": Style(color="red"),
}
STATE_LABELS = {"INSUFFICIENT_DATA": "NO DATA"}


def _since(when: datetime | None) -> str:
    return f"{age(when)} ago" if when else ""


def _metric_text(a: Alarm) -> str:
    if a.kind == "composite":
        return "composite"
    if a.metric is None:
        return "metric math" if a.uses_math else ""
    dims = ",".join(v for _, v in a.metric.dimensions)
    return f"{a.metric.name} {dims}".strip()


ALARM_COLUMNS: list[Column[Alarm]] = [
    Column("state", "State", lambda a: STATE_LABELS.get(a.state, a.state), max_width=9,
           style=lambda a: STATE_STYLES.get(a.state), sort_key=lambda a: (STATE_ORDER.get(a.state, 9), a.name.lower())),
    Column("name", "Alarm", lambda a: a.name, max_width=36),
    Column("region", "Region", lambda a: a.region, max_width=15),
    Column("since", "Since", lambda a: _since(a.state_updated), max_width=9,
           sort_key=lambda a: -(a.state_updated.timestamp() if a.state_updated else 0)),
    Column("metric", "Metric", _metric_text, max_width=34),
    Column("condition", "Condition", lambda a: a.condition, max_width=40),
    Column("actions", "Actions", lambda a: ("on" if a.actions_enabled else "OFF") if (
        a.alarm_actions or a.ok_actions) else "none", max_width=7,
           style=lambda a: Style(color="yellow") if not a.actions_enabled else None),
    Column("reason", "Reason", lambda a: a.reason, max_width=90),
]
#: 80 columns keep State, Alarm and Since (the chart and history follow the cursor); then dropped in this order
ALARM_COLUMNS = drop_order(ALARM_COLUMNS, ("metric", "condition", "actions", "reason", "region"),
                           squeeze={"name": 28, "reason": 24, "metric": 20})


HISTORY_COLUMNS: list[Column[AlarmHistoryItem]] = [
    Column("when", "When", lambda h: f"{h.timestamp.astimezone():%m-%d %H:%M:%S}" if h.timestamp else "", max_width=14),
    Column("kind", "Type", lambda h: h.kind.replace("Update", ""), max_width=13),
    Column("change", "Change", lambda h: f"{h.old_state} → {h.new_state}" if h.new_state else "", max_width=28,
           style=lambda h: STATE_STYLES.get(h.new_state)),
    Column("summary", "Summary", lambda h: h.summary, max_width=80),
]
HISTORY_COLUMNS = drop_order(HISTORY_COLUMNS, ("kind", "summary"), squeeze={"change": 12, "summary": 20})



@dataclass(frozen=True, slots=True)
class TopicRow:
    topic: Topic
    subscriptions: int
    pending: int

    @property
    def key(self) -> str:
        return self.topic.arn


TOPIC_COLUMNS: list[Column[TopicRow]] = [
    Column("name", "Topic", lambda t: t.topic.name, max_width=40),
    Column("region", "Region", lambda t: t.topic.region, max_width=15),
    Column("subs", "Subscriptions", lambda t: f"{t.subscriptions}" + (f" ({t.pending} pending)" if t.pending else ""),
           max_width=22),
    Column("arn", "ARN", lambda t: t.topic.arn, max_width=80),
]
TOPIC_COLUMNS = drop_order(TOPIC_COLUMNS, ("arn", "region"), squeeze={"name": 20, "arn": 30})


SUBSCRIPTION_COLUMNS: list[Column[Subscription]] = [
    Column("topic", "Topic", lambda s: s.topic_name, max_width=30),
    Column("protocol", "Protocol", lambda s: s.protocol, max_width=10),
    Column("endpoint", "Endpoint", lambda s: s.endpoint, max_width=60),
    Column("status", "Status", lambda s: "pending confirmation" if s.pending else "confirmed", max_width=20,
           style=lambda s: Style(color="yellow") if s.pending else None),
    Column("region", "Region", lambda s: s.region, max_width=15),
]
SUBSCRIPTION_COLUMNS = drop_order(SUBSCRIPTION_COLUMNS, ("region", "topic"), squeeze={"endpoint": 20, "topic": 14})



@dataclass(frozen=True, slots=True)
class CanaryRow:
    canary: Canary
    success: tuple[float | None, ...] = ()  # SuccessPercent per hour, last 24 h
    duration: tuple[float | None, ...] = ()  # Duration (ms) per hour, last 24 h

    @property
    def key(self) -> str:
        return self.canary.key

    @property
    def success_rate(self) -> float | None:
        vals = [v for v in self.success if v is not None]
        return sum(vals) / len(vals) if vals else None

    @property
    def mean_duration(self) -> float | None:
        vals = [v for v in self.duration if v is not None]
        return sum(vals) / len(vals) if vals else None


def _last_run(c: Canary) -> str:
    r = c.last_run
    return r.status if r else "never ran"


def _canary_state_style(row: CanaryRow) -> Style | None:
    if row.canary.failing:
        return STATE_STYLES["FAILED"]
    return STATE_STYLES.get(row.canary.last_run.status if row.canary.last_run else "")


def _spark_floor(values: tuple[float | None, ...]) -> float:
    """Success sparklines start a little under the worst hour, so a dip from 100 to 95 is visible."""
    real = [v for v in values if v is not None]
    return max(min(real) - 5, 0.0) if real else 0.0


def canary_columns(spark: callable) -> list[Column[CanaryRow]]:  # type: ignore[valid-type]
    columns = [
        Column("name", "Canary", lambda r: r.canary.name, max_width=32),
        Column("region", "Region", lambda r: r.canary.region, max_width=15),
        Column("state", "State", lambda r: r.canary.state, max_width=9,
               style=lambda r: STATE_STYLES.get(r.canary.state)),
        Column("last", "Last run", lambda r: _last_run(r.canary), max_width=9, style=_canary_state_style,
               sort_key=lambda r: (0 if r.canary.failing else 1, r.canary.name)),
        Column("when", "When", lambda r: _since(r.canary.last_run.started if r.canary.last_run else None), max_width=9),
        Column("rate", "Success 24h", lambda r: "" if r.success_rate is None else f"{r.success_rate:.0f}%",
               max_width=11, style=lambda r: Style(color="red") if r.success_rate is not None and r.success_rate < 90 else None),
        Column("spark", "Success (hourly)", lambda r: spark(r.success, low=_spark_floor(r.success), high=100),
               max_width=24),
        Column("dur", "Duration", lambda r: "" if r.mean_duration is None else f"{r.mean_duration / 1000:.2f}s",
               max_width=9),
        Column("dspark", "Duration (hourly)", lambda r: spark(r.duration), max_width=24),
        Column("schedule", "Schedule", lambda r: r.canary.schedule, max_width=20),
        Column("reason", "Last failure", lambda r: r.canary.last_run.reason if r.canary.failing and
               r.canary.last_run else "", max_width=80),
    ]
    #: 80 columns keep Canary, State, Last run, When and the success rate; then dropped in this order
    return drop_order(columns, ("schedule", "dspark", "reason", "spark", "dur", "region"),
                      squeeze={"name": 14, "reason": 20})


RUN_COLUMNS: list[Column[CanaryRun]] = [
    Column("started", "Started", lambda r: f"{r.started.astimezone():%m-%d %H:%M:%S}" if r.started else "",
           max_width=14),
    Column("status", "Result", lambda r: r.status, max_width=8, style=lambda r: STATE_STYLES.get(r.status)),
    Column("duration", "Duration", lambda r: "" if r.duration is None else f"{r.duration:.2f}s", max_width=9),
    Column("reason", "Reason", lambda r: r.reason, max_width=90),
]
RUN_COLUMNS = drop_order(RUN_COLUMNS, ("duration",), squeeze={"reason": 20})



@dataclass(frozen=True, slots=True)
class AgentRow:
    node: FleetNode
    metrics: tuple[str, ...] | None  # None: not known yet (region failed); () : no CWAgent metrics

    @property
    def key(self) -> str:
        return self.node.key

    @property
    def state(self) -> str:
        if self.metrics is None:
            return "?"
        return "reporting" if self.metrics else "no metrics"


AGENT_COLUMNS: list[Column[AgentRow]] = [
    Column("name", "Name", lambda r: r.node.name, max_width=32),
    Column("id", "Instance", lambda r: r.node.instance_id, max_width=20),
    Column("region", "Region", lambda r: r.node.region, max_width=15),
    Column("agent", "CloudWatch agent", lambda r: r.state, max_width=16,
           style=lambda r: Style(color="green") if r.metrics else Style(color="yellow") if r.metrics == () else None),
    Column("metrics", "CWAgent metrics", lambda r: ", ".join(r.metrics or ()), max_width=50),
    Column("ping", "Ping", lambda r: r.node.ping_status, max_width=15),
    Column("state", "State", lambda r: r.node.ec2_state, max_width=10),
    Column("platform", "Platform", lambda r: r.node.platform, max_width=26),
]
#: 80 columns keep Name, Instance and the agent's state
AGENT_COLUMNS = drop_order(AGENT_COLUMNS, ("platform", "state", "ping", "metrics", "region"),
                           squeeze={"name": 12, "metrics": 20})


INSTALL_COLUMNS: list[Column[tuple[str, NodeState]]] = [
    Column("step", "Step", lambda r: r[0], max_width=30),
    Column("node", "Node", lambda r: r[1].name, max_width=30),
    Column("status", "Status", lambda r: r[1].outcome, max_width=18,
           style=lambda r: STATE_STYLES["PASSED"] if r[1].outcome == "Success" else
           STATE_STYLES["FAILED"] if r[1].done and r[1].outcome != "Success" else None),
    Column("exit", "Exit", lambda r: "" if r[1].exit_code is None else str(r[1].exit_code), max_width=5),
]
INSTALL_COLUMNS = drop_order(INSTALL_COLUMNS, (), squeeze={"step": 12, "node": 12})



def matches(words: list[str], fields: dict[str, str], hay: str) -> bool:
    """`state:ALARM region:x free words`: field terms compare (case-insensitive) with the row's field, other
    words must all appear in the row's text; `!term` negates."""
    for word in words:
        negate = word.startswith("!") and len(word) > 1
        term = word[1:] if negate else word
        key, sep, value = term.partition(":")
        if sep and key in fields:
            hit = fields[key].lower() == value.lower() or (value.lower() in fields[key].lower() and key != "state")
        else:
            hit = term.lower() in hay
        if hit == negate:
            return False
    return True


def alarm_matches(a: Alarm, words: list[str]) -> bool:
    fields = {"state": a.state, "region": a.region, "instance": a.instance_id or "",
              "actions": "on" if a.actions_enabled else "off", "kind": a.kind}
    hay = " ".join((a.name, a.region, a.state, _metric_text(a), a.reason, a.description)).lower()
    return matches(words, fields, hay)


def canary_matches(r: CanaryRow, words: list[str]) -> bool:
    c = r.canary
    fields = {"state": "failing" if c.failing else (c.last_run.status if c.last_run else "none"),
              "region": c.region, "status": c.state}
    hay = " ".join((c.name, c.region, c.state, _last_run(c))).lower()
    return matches(words, fields, hay)
