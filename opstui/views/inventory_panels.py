"""The Inventory tab's four panels (browse, search, summary, set-up), their table columns, staleness and CSV.

Only layout and pure helpers live here; loading, keys and wiring are in `opstui.views.inventory`.
Every cell is an untrusted string reported by a node: tables clean it (`NodeTable` draws cleaned plain
segments), status lines are built as `rich.text.Text` / `Content`, never markup.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Select, Static

from opstui.aws.models import (
    ApplicationMatch,
    Association,
    AssociationExecution,
    InventoryCount,
    InventoryNode,
)
from opstui.aws.ssm_inventory import DEFAULT_SCHEDULE, version_key
from opstui.private_files import open_private
from opstui.safe import clean
from opstui.views.common.format import age
from opstui.views.common.node_table import Column, NodeTable
from opstui.views.common.safe_input import SafeInput

STALE_AFTER = timedelta(hours=24)
STALE_STYLES = {"stale": Style(color="red", bold=True), "late": Style(color="yellow")}


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

    @property
    def key(self) -> str:
        return self.count.value


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

TYPE_COLUMNS: list[Column[TypeRow]] = [
    Column("type", "Type", lambda r: r.type_name, max_width=34),
    Column("captured", "Captured", lambda r: captured_text(r.captured, r.stale), max_width=16,
           style=lambda r: STALE_STYLES.get(r.stale), sort_key=lambda r: _time_sort(r.captured)),
]

MATCH_COLUMNS: list[Column[MatchRow]] = [
    Column("name", "Node", lambda r: r.name, max_width=26),
    Column("id", "Instance", lambda r: r.match.instance_id, max_width=20),
    Column("region", "Region", lambda r: r.match.region, max_width=15),
    Column("app", "Application", lambda r: r.match.name, max_width=28),
    Column("version", "Version", lambda r: r.match.version, max_width=24,
           sort_key=lambda r: version_key(r.match.version)),
    Column("platform", "Platform", lambda r: r.platform, max_width=22),
    Column("captured", "Captured", lambda r: captured_text(r.match.capture_time, staleness(r.match.capture_time)),
           max_width=16, sort_key=lambda r: _time_sort(r.match.capture_time)),
]


def count_columns(label: str, *, versions: bool = False) -> list[Column[CountRow]]:
    return [
        Column("value", label, lambda r: r.count.value or "(none)", max_width=32,
               sort_key=(lambda r: version_key(r.count.value)) if versions else None),
        Column("count", "Nodes", lambda r: str(r.count.count), max_width=7, sort_key=lambda r: -r.count.count),
    ]


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
        columns.append(Column(k, k, (lambda r, k=k: r.values.get(k, "")), max_width=40 if k == "Name" else 28,
                              sort_key=sort_key))
    return columns or [Column("empty", "(no entries)", lambda r: "", max_width=20)]


def _number_of(key: str, row: EntryRow) -> float:
    try:
        return float(row.values.get(key, ""))
    except ValueError:
        return float("inf")


def _version_of(key: str, row: EntryRow) -> tuple:
    return version_key(row.values.get(key, ""))


# -- CSV ------------------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """Literal text for a spreadsheet: control characters made visible, and a value that a spreadsheet
    would run as a formula (`=cmd|...`, `+`, `-`, `@`) prefixed with an apostrophe."""
    text = clean(value, None)
    return "'" + text if text.startswith(_FORMULA_START) else text


def file_part(text: str) -> str:
    """Untrusted text (a custom inventory type may be named `Custom:../../x`) made safe for a file name:
    letters, digits, `-_.`; anything else, `/` first, becomes `_`."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def write_csv(path: Path, table: NodeTable) -> int:
    """The rows the table shows (filter and sort applied), every column, raw values; returns rows written."""
    rows = table.visible_rows()
    with open_private(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([c.label for c in table.columns])
        for row in rows:
            writer.writerow([csv_cell(c.get(row)) for c in table.columns])
    return len(rows)


# -- panels ---------------------------------------------------------------------------------------------------


class BrowsePanel(Horizontal):
    """Per node: nodes (left, top) -> types (left, bottom) -> entries (right) with a filter box."""

    def compose(self) -> ComposeResult:
        with Vertical(id="inv-left"):
            yield NodeTable(NODE_COLUMNS, key=lambda r: r.key, id="inv-nodes")
            yield NodeTable(TYPE_COLUMNS, key=lambda r: r.key, id="inv-types")
        with Vertical(id="inv-right"):
            yield NodeTable(entry_columns([]), key=lambda r: r.key, id="inv-entries")


class SearchPanel(Vertical):
    """Which nodes have application X (version op V): counts by version (left) and the nodes (right)."""

    OPS = [("any version", "any"), ("version =", "Equal"), ("version ≠", "NotEqual"), ("version <", "LessThan"),
           ("version >", "GreaterThan"), ("version begins with", "BeginWith")]

    def compose(self) -> ComposeResult:
        with Horizontal(id="inv-search-form"):
            yield SafeInput(placeholder="application, e.g. openssl (a trailing * matches a prefix)", id="inv-app")
            yield Select(self.OPS, allow_blank=False, value="any", id="inv-op")
            yield SafeInput(placeholder="version, e.g. 3.0.13", id="inv-version")
            yield Button("Search", id="inv-search-go", variant="primary")
        with Horizontal(id="inv-search-results"):
            yield NodeTable(count_columns("Version", versions=True), key=lambda r: r.key, id="inv-versions")
            yield NodeTable(MATCH_COLUMNS, key=lambda r: r.key, id="inv-matches")


class SummaryPanel(Horizontal):
    """Counts by platform, OS version and agent version, all regions together."""

    def compose(self) -> ComposeResult:
        yield NodeTable(count_columns("Platform"), key=lambda r: r.key, id="inv-by-platform")
        yield NodeTable(count_columns("OS version", versions=True), key=lambda r: r.key, id="inv-by-os")
        yield NodeTable(count_columns("Agent version", versions=True), key=lambda r: r.key, id="inv-by-agent")


class SetupPanel(Vertical):
    """The inventory association of every region: show it, create it, change its schedule."""

    def compose(self) -> ComposeResult:
        yield Static("READ-ONLY: creating or changing the association is disabled (opstui was started with "
                     "--read-only).", id="inv-setup-readonly")
        with Horizontal(id="inv-setup-form"):
            yield Static("Schedule", id="inv-schedule-label")
            yield SafeInput(value=DEFAULT_SCHEDULE, placeholder="rate(30 minutes) | rate(12 hours) | cron(0 */2 * * ? *)",
                        id="inv-schedule")
            yield Button("Create / update (ctrl+s)", id="inv-apply", variant="primary")
        yield Static(id="inv-schedule-problem")
        yield NodeTable(ASSOCIATION_COLUMNS, key=lambda r: r.key, id="inv-assocs")
        yield NodeTable(EXECUTION_COLUMNS, key=lambda r: r.key, id="inv-execs")
