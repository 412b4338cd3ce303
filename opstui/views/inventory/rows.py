"""The Inventory tab's rows, table columns and staleness (the panels live next to this module).

Every cell is an untrusted string reported by a node: tables clean it (`NodeTable` draws cleaned plain
segments), titles and status lines are built as `rich.text.Text` / `Content`, never markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from rich.style import Style

from opstui.advisories import outdated_mark
from opstui.aws.models import (
    ApplicationMatch,
    Association,
    AssociationExecution,
    InventoryCount,
    InventoryNode,
)
from opstui.aws.ssm_inventory import version_key
from opstui.views.common.format import age
from opstui.views.common.node_table import Column, drop_order

STALE_AFTER = timedelta(hours=24)
STALE_STYLES = {"stale": Style(color="red", bold=True), "late": Style(color="yellow")}
OUTDATED_STYLE = Style(color="red", bold=True)  # a version below a security fix (opstui/advisories.py)


def staleness(captured: datetime | None, period: timedelta | None = None, now: datetime | None = None) -> str:
    """"stale": older than 24 hours (or never captured); "late": younger than that but older than two periods
    of the region's inventory schedule (the node missed two runs: its agent or the association needs a
    look); "": fresh. Two levels, so a 30-minute schedule does not paint a whole fleet red after an hour."""
    if captured is None:
        return "stale"
    now = now or datetime.now(UTC)
    old = now - captured
    if old > STALE_AFTER:
        return "stale"
    if period is not None and old > 2 * period:
        return "late"
    return ""


def captured_text(captured: datetime | None, stale: str) -> str:
    if captured is None:
        return "never ⚠"
    text = f"{age(captured)} ago"
    if stale == "stale":
        return f"{text} ⚠ stale"
    return f"{text} · late" if stale == "late" else text


def _time_sort(when: datetime | None) -> float:
    return -when.timestamp() if when else float("inf")


# -- rows -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A node with inventory, named from the Fleet when the Fleet knows it."""

    node: InventoryNode
    name: str
    stale: str  # "" | "late" | "stale"

    @property
    def key(self) -> str:
        return self.node.key


@dataclass(frozen=True, slots=True)
class TypeRow:
    type_name: str
    captured: datetime | None
    stale: str

    @property
    def key(self) -> str:
        return self.type_name


@dataclass(frozen=True, slots=True)
class EntryRow:
    index: int
    values: dict[str, str] = field(hash=False)

    @property
    def key(self) -> str:
        return str(self.index)


@dataclass(frozen=True, slots=True)
class MatchRow:
    match: ApplicationMatch
    name: str  # node name (Fleet) or computer name
    platform: str

    @property
    def key(self) -> str:
        return self.match.key

    @property
    def node_key(self) -> str:
        return f"{self.match.region}/{self.match.instance_id}"


@dataclass(frozen=True, slots=True)
class CountRow:
    count: InventoryCount
    searched: str = ""  # the application searched ("openssl", or a prefix "openssl*"): says what the value is

    @property
    def key(self) -> str:
        return self.count.value

    @property
    def app_version(self) -> tuple[str, str]:
        """(application, version) of the counted value ("name version" when the search was a prefix)."""
        if self.searched.strip().endswith("*"):
            name, _, version = self.count.value.partition(" ")
            return name, version
        return self.searched.strip(), self.count.value


@dataclass(frozen=True, slots=True)
class AssociationRow:
    association: Association | None
    region: str
    error: str = ""

    @property
    def key(self) -> str:
        return self.region


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    execution: AssociationExecution
    region: str

    @property
    def key(self) -> str:
        return f"{self.region}/{self.execution.execution_id}"


NODE_COLUMNS: list[Column[NodeRow]] = [
    Column("name", "Name", lambda r: r.name, max_width=22),
    Column("captured", "Captured", lambda r: captured_text(r.node.capture_time, r.stale), max_width=14,
           style=lambda r: STALE_STYLES.get(r.stale), sort_key=lambda r: _time_sort(r.node.capture_time)),
    Column("region", "Region", lambda r: r.node.region, max_width=14),
    Column("platform", "Platform", lambda r: f"{r.node.platform_name} {r.node.platform_version}".strip(),
           max_width=24),
    Column("id", "Instance", lambda r: r.node.instance_id, max_width=20),
]
#: 80 columns keep Name, Captured and Instance (the node's id, for what follows); then dropped in this order
NODE_COLUMNS = drop_order(NODE_COLUMNS, ("platform", "region"), squeeze={"name": 12, "platform": 14})


TYPE_COLUMNS: list[Column[TypeRow]] = [
    Column("type", "Type", lambda r: r.type_name, max_width=34),
    Column("captured", "Captured", lambda r: captured_text(r.captured, r.stale), max_width=16,
           style=lambda r: STALE_STYLES.get(r.stale), sort_key=lambda r: _time_sort(r.captured)),
]
TYPE_COLUMNS = drop_order(TYPE_COLUMNS, (), squeeze={"type": 16})


MATCH_COLUMNS: list[Column[MatchRow]] = [
    Column("name", "Node", lambda r: r.name, max_width=26),
    Column("id", "Instance", lambda r: r.match.instance_id, max_width=20),
    Column("region", "Region", lambda r: r.match.region, max_width=15),
    Column("app", "Application", lambda r: r.match.name, max_width=28),
    Column("version", "Version", lambda r: r.match.version + outdated_mark(r.match.name, r.match.version),
           max_width=32, sort_key=lambda r: version_key(r.match.version),
           style=lambda r: OUTDATED_STYLE if outdated_mark(r.match.name, r.match.version) else None),
    Column("platform", "Platform", lambda r: r.platform, max_width=22),
    Column("captured", "Captured", lambda r: captured_text(r.match.capture_time, staleness(r.match.capture_time)),
           max_width=16, sort_key=lambda r: _time_sort(r.match.capture_time)),
]
#: 80 columns keep Node, Version and Instance; then dropped in this order
MATCH_COLUMNS = drop_order(MATCH_COLUMNS, ("platform", "app", "captured", "region"),
                           squeeze={"name": 12, "version": 10, "app": 12})



def count_columns(label: str, *, versions: bool = False) -> list[Column[CountRow]]:
    return drop_order([
        Column("value", label, lambda r: (r.count.value or "(none)") + (outdated_mark(*r.app_version) if versions
                                                                         else ""), max_width=32,
               sort_key=(lambda r: version_key(r.count.value)) if versions else None,
               style=(lambda r: OUTDATED_STYLE if outdated_mark(*r.app_version) else None) if versions else None),
        Column("count", "Nodes", lambda r: str(r.count.count), max_width=7, sort_key=lambda r: -r.count.count),
    ], (), squeeze={"value": 10})


def _counts_text(a: Association) -> str:
    return " ".join(f"{k} {v}" for k, v in a.status_counts)


def _targets_text(a: Association) -> str:
    return "; ".join(f"{k}={','.join(v)}" for k, v in a.targets)


def _when(when: datetime | None) -> str:
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S} ({age(when)} ago)" if when else "never"


ASSOCIATION_COLUMNS: list[Column[AssociationRow]] = [
    Column("region", "Region", lambda r: r.region, max_width=15),
    Column("name", "Association", lambda r: (r.association.name or r.association.association_id)
           if r.association else ("⚠ " + r.error if r.error else "none: press ctrl+s to create it"), max_width=40,
           style=lambda r: Style(color="red") if r.error else (Style(color="yellow") if not r.association else None)),
    Column("schedule", "Schedule", lambda r: r.association.schedule if r.association else "", max_width=22),
    Column("targets", "Targets", lambda r: _targets_text(r.association) if r.association else "", max_width=22),
    Column("status", "Status", lambda r: r.association.status if r.association else "", max_width=10,
           style=lambda r: Style(color="green") if r.association and r.association.status == "Success"
           else (Style(color="red") if r.association and r.association.status == "Failed" else None)),
    Column("counts", "Nodes by status", lambda r: _counts_text(r.association) if r.association else "", max_width=26),
    Column("last", "Last execution", lambda r: _when(r.association.last_execution) if r.association else "",
           max_width=32),
]
ASSOCIATION_COLUMNS = drop_order(ASSOCIATION_COLUMNS, ("targets", "counts", "name", "last"),
                                 squeeze={"name": 14, "schedule": 14})


EXECUTION_COLUMNS: list[Column[ExecutionRow]] = [
    Column("region", "Region", lambda r: r.region, max_width=15),
    Column("id", "Execution", lambda r: r.execution.execution_id, max_width=38),
    Column("status", "Status", lambda r: r.execution.status, max_width=10,
           style=lambda r: Style(color="green") if r.execution.status == "Success"
           else (Style(color="red") if r.execution.status == "Failed" else None)),
    Column("detail", "Detail", lambda r: r.execution.detailed_status, max_width=14),
    Column("created", "Started", lambda r: _when(r.execution.created), max_width=32,
           sort_key=lambda r: _time_sort(r.execution.created)),
    Column("resources", "Nodes by status", lambda r: r.execution.resource_counts, max_width=30),
]
EXECUTION_COLUMNS = drop_order(EXECUTION_COLUMNS, ("id", "detail", "resources"), squeeze={"created": 16})


FIRST_ATTRIBUTES = ("Name", "Version", "InstanceId", "ComputerName", "DisplayName", "ServiceType", "Status",
                    "IPV4", "MacAddress", "HotFixId")


def entry_columns(entries: Sequence[dict[str, str]], attributes: Sequence[tuple[str, str]] = ()) -> list[Column[EntryRow]]:
    """Columns for one type's rows: the schema's attributes (if known) plus any other key the rows have,
    the usual identifying ones first. Numbers sort as numbers, versions as versions."""
    keys: dict[str, str] = {name: dtype for name, dtype in attributes}
    for row in entries[:200]:
        for k in row:
            keys.setdefault(k, "string")
    order = [k for k in FIRST_ATTRIBUTES if k in keys] + [k for k in keys if k not in FIRST_ATTRIBUTES]
    columns: list[Column[EntryRow]] = []
    for k in order:
        sort_key: Callable[[EntryRow], Any] | None = None
        if keys[k].lower() == "number":
            sort_key = partial(_number_of, k)
        elif "version" in k.lower():
            sort_key = partial(_version_of, k)
        if k == "Version" and "Name" in keys:  # an application's version: flagged when known to be outdated
            columns.append(Column(k, k, _entry_version, max_width=36, sort_key=sort_key, style=_entry_version_style))
            continue
        columns.append(Column(k, k, (lambda r, k=k: r.values.get(k, "")), max_width=40 if k == "Name" else 28,
                              sort_key=sort_key))
    return columns or [Column("empty", "(no entries)", lambda r: "", max_width=20)]


def _entry_version(row: EntryRow) -> str:
    version = row.values.get("Version", "")
    return version + outdated_mark(row.values.get("Name", ""), version)


def _entry_version_style(row: EntryRow) -> Style | None:
    return OUTDATED_STYLE if outdated_mark(row.values.get("Name", ""), row.values.get("Version", "")) else None


def _number_of(key: str, row: EntryRow) -> float:
    try:
        return float(row.values.get(key, ""))
    except ValueError:
        return float("inf")


def _version_of(key: str, row: EntryRow) -> tuple:
    return version_key(row.values.get(key, ""))
