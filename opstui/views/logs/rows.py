"""The Logs tab's table columns (the panels live next to this module).

Every cell is untrusted text (group and stream names, filter patterns, query results): NodeTable draws
cleaned plain segments, never markup.
"""

from __future__ import annotations

from rich.style import Style

from opstui.aws.logs_models import LogGroup, LogStream, MetricFilter
from opstui.views.common.format import age, size_text
from opstui.views.common.node_table import Column

QueryRow = tuple[tuple[str, str], ...]


def _retention(g: LogGroup) -> str:
    return "never expire" if g.retention_days is None else f"{g.retention_days} d"


GROUP_COLUMNS: list[Column[LogGroup]] = [
    Column("name", "Log group", lambda g: g.name, max_width=48),
    Column("region", "Region", lambda g: g.region, max_width=15),
    Column("retention", "Retention", _retention, max_width=12,
           style=lambda g: Style(color="yellow") if g.retention_days is None else None,
           sort_key=lambda g: g.retention_days or 10**9),
    Column("stored", "Stored", lambda g: size_text(g.stored_bytes), max_width=10, sort_key=lambda g: -g.stored_bytes),
    Column("filters", "Metric filters", lambda g: str(g.metric_filters) if g.metric_filters else "",
           max_width=14, sort_key=lambda g: -g.metric_filters),
    Column("created", "Created", lambda g: f"{age(g.created)} ago" if g.created else "", max_width=10,
           sort_key=lambda g: -(g.created.timestamp() if g.created else 0)),
]

STREAM_COLUMNS: list[Column[LogStream]] = [
    Column("name", "Stream", lambda s: s.name, max_width=60),
    Column("last", "Last event", lambda s: f"{age(s.last_event)} ago" if s.last_event else "", max_width=11,
           sort_key=lambda s: -(s.last_event.timestamp() if s.last_event else 0)),
    Column("first", "First event", lambda s: f"{age(s.first_event)} ago" if s.first_event else "", max_width=11,
           sort_key=lambda s: -(s.first_event.timestamp() if s.first_event else 0)),
]

FILTER_COLUMNS: list[Column[MetricFilter]] = [
    Column("group", "Log group", lambda f: f.group, max_width=40),
    Column("name", "Filter", lambda f: f.name, max_width=28),
    Column("pattern", "Pattern", lambda f: f.pattern or "(every event)", max_width=44),
    Column("metric", "Metric", lambda f: f.metric.metric_name if f.metric else "", max_width=28),
    Column("namespace", "Namespace", lambda f: f.metric.namespace if f.metric else "", max_width=20),
    Column("value", "Value", lambda f: f.metric.value if f.metric else "", max_width=10),
    Column("region", "Region", lambda f: f.region, max_width=15),
]


def query_columns(fields: list[str]) -> list[Column[QueryRow]]:
    """One column per field of the results, in the order the query produced them."""
    return [Column(name, name, lambda row, name=name: next((v for k, v in row if k == name), ""),
                   max_width=80 if name == "@message" else 36) for name in fields]
