"""Typed, frozen models of CloudWatch Logs: groups, streams, events, metric filters and Insights results.

A module of its own, like ``monitoring_models.py``: the Logs tab, ``opstui logs`` and the Run Command
tracker only ever see these. Every string in them (group and stream names, messages, filter patterns, query
results) may have been written by anyone who can call PutLogEvents, so views show them through
``opstui.safe`` helpers as literal text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def ms_to_dt(ms: object) -> datetime | None:
    """Epoch milliseconds (how CloudWatch Logs gives every time) -> an aware UTC datetime."""
    if not isinstance(ms, int | float) or isinstance(ms, bool) or ms <= 0:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class LogGroup:
    region: str
    name: str
    arn: str = ""
    created: datetime | None = None
    retention_days: int | None = None  # None: never expire
    stored_bytes: int = 0
    metric_filters: int = 0
    log_class: str = ""

    @property
    def key(self) -> str:
        return f"{self.region}|{self.name}"


@dataclass(frozen=True, slots=True)
class LogStream:
    region: str
    group: str
    name: str
    created: datetime | None = None
    first_event: datetime | None = None
    last_event: datetime | None = None
    last_ingestion: datetime | None = None
    stored_bytes: int = 0

    @property
    def key(self) -> str:
        return f"{self.region}|{self.group}|{self.name}"


@dataclass(frozen=True, slots=True)
class LogEvent:
    event_id: str
    stream: str
    timestamp: int  # milliseconds since the epoch
    message: str
    group: str = ""
    region: str = ""
    ingestion: int = 0

    @property
    def key(self) -> tuple[str, str, int, str]:
        """What identifies an event across polls: (group, stream, timestamp, eventId)."""
        return (self.group, self.stream, self.timestamp, self.event_id)


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of FilterLogEvents (interleaved across streams, in timestamp order)."""

    events: tuple[LogEvent, ...]
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class StreamPage:
    """One page of GetLogEvents: one stream, with both directions' tokens."""

    events: tuple[LogEvent, ...]
    forward_token: str | None = None
    backward_token: str | None = None


@dataclass(frozen=True, slots=True)
class MetricTransformation:
    metric_name: str
    namespace: str
    value: str = "1"
    default_value: float | None = None
    unit: str = ""
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MetricFilter:
    region: str
    group: str
    name: str
    pattern: str
    transformations: tuple[MetricTransformation, ...] = ()
    created: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.region}|{self.group}|{self.name}"

    @property
    def metric(self) -> MetricTransformation | None:
        return self.transformations[0] if self.transformations else None


@dataclass(frozen=True, slots=True)
class QueryStatistics:
    records_matched: float = 0
    records_scanned: float = 0
    bytes_scanned: float = 0


@dataclass(frozen=True, slots=True)
class QueryResults:
    """GetQueryResults: rows of (field, value) pairs in the order the query produced them."""

    query_id: str
    status: str  # Scheduled | Running | Complete | Failed | Cancelled | Timeout | Unknown
    rows: tuple[tuple[tuple[str, str], ...], ...] = ()
    statistics: QueryStatistics = field(default_factory=QueryStatistics)

    @property
    def done(self) -> bool:
        return self.status not in ("Scheduled", "Running")

    @property
    def fields(self) -> list[str]:
        """Every field of every row, in first-seen order, without Insights' hidden @ptr."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for name, _ in row:
                if name != "@ptr":
                    seen.setdefault(name, None)
        return list(seen)


@dataclass(frozen=True, slots=True)
class QueryDefinition:
    """A saved Logs Insights query (DescribeQueryDefinitions): its name, query string and log groups, all
    written by whoever could call PutQueryDefinition, so shown literally."""

    region: str
    definition_id: str
    name: str
    query: str
    groups: tuple[str, ...] = ()
    modified: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.region}|{self.definition_id}"
