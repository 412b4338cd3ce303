"""Inventory, panel `b`: the nodes with inventory -> the node's types -> the type's entries.

The nodes are listed from every region at once (a region that fails is a line in the status area; the other
regions' nodes stay), named from the Fleet when it knows them, and marked stale (> 24 h) or late (two
schedule periods of the region's association missed). Moving the cursor loads the node's types, then the
type's entries, a moment after the cursor stops (arrow-key repeat costs no calls); enter goes a level in,
esc a level out. `space` selects nodes and `c` hands them to Run Command.

The tab's refresh (and `r`) reloads the nodes and the associations; the node's types and entries are loaded
again only when the node under the cursor changed or reported a new inventory (its capture time): a node's
inventory only changes when it is captured, and its entries may be ten thousand rows.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer

from opstui.aws import ssm_inventory as inv
from opstui.aws.errors import OpsError
from opstui.aws.models import InventoryNode, InventorySchema
from opstui.aws.regions import as_ops_error, per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.format import age
from opstui.views.common.node_table import NodeTable, prepare_rows
from opstui.views.common.tab import aws_work, bindings_for
from opstui.views.inventory.panel import InventoryPanel
from opstui.views.inventory.rows import (
    NODE_COLUMNS,
    TYPE_COLUMNS,
    EntryRow,
    NodeRow,
    TypeRow,
    entry_columns,
    staleness,
)

ENTRY_LIMIT = 10_000  # what AWS keeps per type per node


class BrowsePanel(InventoryPanel):
    NAME, TITLE, KEY, MAIN_TABLE = "browse", "Browse nodes", "b", "inv-nodes"
    BINDINGS = bindings_for(commands_of("inventory", "browse"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    BrowsePanel { layout: horizontal; }
    BrowsePanel #inv-left { width: 76; height: 1fr; }
    BrowsePanel #inv-right { height: 1fr; }
    BrowsePanel #inv-types { height: 11; }
    BrowsePanel #inv-nodes { min-height: 8; }
    Screen.-short BrowsePanel #inv-types { height: 1fr; min-height: 8; }
    Screen.-narrow BrowsePanel #inv-left { width: 100%; }
    Screen.-narrow BrowsePanel #inv-right { display: none; }
    Screen.-narrow BrowsePanel.-at-entries #inv-left { display: none; }
    Screen.-narrow BrowsePanel.-at-entries #inv-right { display: block; width: 100%; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.node_errors: dict[str, str] = {}  # region -> why its nodes are missing
        self.schemas: dict[str, InventorySchema] = {}
        self.type_names: list[str] = list(inv.AWS_TYPES[:6])
        self.entries_info: tuple[NodeRow, TypeRow, bool] | None = None  # node, type, all entries came
        self._types_timer: Timer | None = None
        self._types_of: tuple[str, datetime | None] | None = None  # (node key, capture time) the types are of
        self._entries_timer: Timer | None = None
        # counters and timings (tests and bench/inventory.py read them)
        self.node_loads = 0
        self.type_loads = 0
        self.entry_loads = 0
        self.last_entries_render_seconds = 0.0

    def compose(self) -> ComposeResult:
        with Vertical(id="inv-left"):
            yield NodeTable(NODE_COLUMNS, key=lambda r: r.key, id="inv-nodes")
            yield NodeTable(TYPE_COLUMNS, key=lambda r: r.key, id="inv-types")
        with Vertical(id="inv-right"):
            yield NodeTable(entry_columns([]), key=lambda r: r.key, id="inv-entries")

    def on_mount(self) -> None:
        self.table("inv-nodes").border_title = Content("Nodes with inventory: open the tab to load")
        self.table("inv-types").border_title = Content("Types")
        self.table("inv-entries").border_title = Content("Entries")

    def reset(self) -> None:
        for timer in (self._types_timer, self._entries_timer):
            if timer is not None:
                timer.stop()
        self.node_errors.clear()
        self.entries_info, self._types_of = None, None
        super().reset()

    # -- the nodes -------------------------------------------------------------------------------------------
    def load(self) -> None:
        """The nodes, and the set-up panel's associations (their schedules say which nodes are late)."""
        self._load_nodes()
        self.tab.panel_named("setup").load()

    @aws_work
    async def _load_nodes(self) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        regions = ctx.regions
        if not regions:
            return
        if not self.loaded:
            self.table("inv-nodes").border_title = Content("Nodes with inventory: loading…")

        async def load() -> tuple[list[tuple[str, Any, OpsError | None]], list[InventorySchema] | OpsError]:
            nodes = await per_region(regions, lambda r: inv.list_inventory_nodes(ctx.aws, r), "ssm")
            try:  # the schema only adds columns to the entries: its failure costs nothing else
                schemas: list[InventorySchema] | OpsError = await inv.get_inventory_schema(ctx.aws, regions[0])
            except Exception as exc:
                schemas = as_ops_error(exc, regions[0], "ssm")
            return nodes, schemas

        results, schemas = await ctx.fresh(load(), generation)
        if isinstance(schemas, list) and schemas:
            self.schemas = {s.type_name: s for s in schemas}
            known = [t for t in inv.AWS_TYPES if t in self.schemas]
            self.type_names = known + sorted(t for t in self.schemas if t not in known)
        self.node_errors = {}
        found: list[InventoryNode] = []
        for region, nodes, err in results:
            if err is not None:
                self.node_errors[region] = clean(str(err), 400)
                self.app.notify(clean(str(err), 400), title=f"Inventory: {region} failed", severity="error",
                                markup=False, timeout=10)
            else:
                found.extend(nodes)
        self.errors = list(self.node_errors.values())
        self._set_node_rows(found)
        self.node_loads += 1

    def periods_changed(self) -> None:
        if self.shared.nodes:
            self._set_node_rows()  # staleness depends on each region's schedule

    def _set_node_rows(self, found: list[InventoryNode] | None = None) -> None:
        shared = self.shared
        fleet = self.ctx.fleet.by_key()
        if found is None:
            found = [r.node for r in shared.nodes.values()]
        rows = []
        for node in found:
            f = fleet.get(node.key)
            name = (f.name if f else "") or node.computer_name or node.instance_id
            rows.append(NodeRow(node, name, staleness(node.capture_time, shared.periods.get(node.region))))
        rows.sort(key=lambda r: (r.name.lower(), r.node.region))
        shared.nodes = {r.key: r for r in rows}
        self.show_rows("inv-nodes", rows)
        self.retitle("inv-nodes")

    def retitle(self, table_id: str) -> None:
        if table_id == "inv-nodes":
            self._title_nodes()
        elif table_id == "inv-entries":
            self._title_entries()

    def _title_nodes(self) -> None:
        table = self.table("inv-nodes")
        rows = list(self.shared.nodes.values())
        stale = sum(1 for r in rows if r.stale == "stale")
        late = sum(1 for r in rows if r.stale == "late")
        text = self.filters.get("inv-nodes", "")
        parts = [f"Nodes with inventory {len(table.order_shown)}/{len(rows)}" if text
                 else f"Nodes with inventory {len(rows)}"]
        if stale:
            parts.append(f"⚠ {stale} stale (> 24 h)")
        if late:
            parts.append(f"{late} late (> 2 schedule periods)")
        if table.selected:
            parts.append(f"selected {len(table.selected)}")
        if self.node_errors:
            parts.append(f"{len(self.node_errors)} region(s) failing")
        if text:
            parts.append(f"filter: {clean(text, 40)}")
        table.border_title = Content(" · ".join(parts))

    @on(NodeTable.CursorMoved, "#inv-nodes")
    def _node_cursor(self, event: NodeTable.CursorMoved) -> None:
        if self._types_timer is not None:
            self._types_timer.stop()
        row = event.row
        if row is not None and (row.key, row.node.capture_time) != self._types_of:
            self._types_timer = self.set_timer(0.15, lambda: self._load_types(row))

    # -- the node's types and the type's entries -------------------------------------------------------------
    @aws_work
    async def _load_types(self, row: NodeRow) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        types_table = self.table("inv-types")
        types_table.border_title = Content(f"Types of {clean(row.name, 40)}: loading…")
        self._types_of = None
        try:
            infos = await ctx.fresh(inv.node_inventory_types(ctx.aws, row.node.region, row.node.instance_id,
                                                             self.type_names), generation)
        except OpsError:
            types_table.set_rows([])
            types_table.border_title = Content(f"Types of {clean(row.name, 40)}: failed")
            raise
        period = self.shared.periods.get(row.node.region)
        rows = [TypeRow(i.type_name, i.capture_time, staleness(i.capture_time, period)) for i in infos]
        self.show_rows("inv-types", rows)
        types_table.border_title = Content(f"Types of {clean(row.name, 40)} ({len(rows)})")
        self._types_of = (row.key, row.node.capture_time)
        self.type_loads += 1

    @on(NodeTable.CursorMoved, "#inv-types")
    def _type_cursor(self, event: NodeTable.CursorMoved) -> None:
        if self._entries_timer is not None:
            self._entries_timer.stop()
        node = self.table("inv-nodes").cursor_row
        type_row = event.row
        if node is not None and type_row is not None:
            self._entries_timer = self.set_timer(0.1, lambda: self._load_entries(node, type_row))

    @aws_work
    async def _load_entries(self, node: NodeRow, type_row: TypeRow) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        table = self.table("inv-entries")
        table.border_title = Content(f"{clean(type_row.type_name, 60)} on {clean(node.name, 40)}: loading…")
        try:
            got = await ctx.fresh(inv.list_inventory_entries(ctx.aws, node.node.region, node.node.instance_id,
                                                             type_row.type_name, limit=ENTRY_LIMIT), generation)
        except OpsError:
            table.set_rows([])
            table.border_title = Content(f"{clean(type_row.type_name, 60)}: failed")
            raise
        started = time.perf_counter()
        schema = self.schemas.get(type_row.type_name)
        columns = entry_columns(got.entries, schema.attributes if schema else ())
        rows = [EntryRow(i, e) for i, e in enumerate(got.entries)]
        prepared = await asyncio.to_thread(prepare_rows, columns, rows)
        same_type = self.entries_info is not None and self.entries_info[1].type_name == type_row.type_name
        table.columns = columns
        if not same_type or table.sort_column not in {c.key for c in columns}:
            table.sort_column, table.sort_reverse = None, False
        table.set_prepared(prepared, self.visible_fn(table))
        captured = got.capture_time or type_row.captured
        stale = staleness(captured, self.shared.periods.get(node.node.region))
        self.entries_info = (node, TypeRow(type_row.type_name, captured, stale), got.complete)
        self._title_entries()
        self.last_entries_render_seconds = time.perf_counter() - started
        self.entry_loads += 1

    def _title_entries(self) -> None:
        if self.entries_info is None:
            return
        node, type_row, complete = self.entries_info
        table = self.table("inv-entries")
        total, shown = len(table.rows), len(table.order_shown)
        parts = [f"{clean(type_row.type_name, 60)} on {clean(node.name, 40)}",
                 f"{shown}/{total} entries" if shown != total else f"{total} entries"]
        if not complete:
            parts.append(f"first {total} only")
        if type_row.captured:
            parts.append(f"captured {type_row.captured.astimezone():%Y-%m-%d %H:%M} ({age(type_row.captured)} ago)")
        if type_row.stale == "stale":
            parts.append("⚠ STALE: older than 24 h")
        elif type_row.stale == "late":
            period = self.shared.periods.get(node.node.region)
            parts.append(f"late: older than two schedule periods ({inv.human_duration(period)})" if period
                         else "late")
        if self.filters.get("inv-entries"):
            parts.append(f"filter: {clean(self.filters['inv-entries'], 40)}")
        table.border_title = Content(" · ".join(parts))

    def export_name(self, table: NodeTable) -> str:
        if table.id == "inv-entries" and self.entries_info is not None:
            node, type_row, _ = self.entries_info
            return f"{node.node.instance_id}-{type_row.type_name}"
        return super().export_name(table)

    # -- keys ------------------------------------------------------------------------------------------------
    def action_open(self) -> None:
        """enter: a level in (nodes -> types -> entries)."""
        table = self.focused_table()
        if table is not None and table.id == "inv-nodes":
            self._go("inv-types")
        elif table is not None and table.id == "inv-types":
            self._go("inv-entries")

    def back_from(self, table: NodeTable) -> bool:
        if table.id == "inv-entries":
            self._go("inv-types")
            return True
        if table.id == "inv-types":
            self._go("inv-nodes")
            return True
        return False

    def _go(self, table_id: str) -> None:
        """Focus a level; below 100 columns the entries take the whole width, so the class comes first."""
        self._at(table_id)
        self.table(table_id).focus()

    def _at(self, table_id: str) -> None:
        """-at-entries while the entries have the focus: narrow screens show them instead of nodes and types."""
        self.set_class(table_id == "inv-entries", "-at-entries")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, NodeTable) and event.widget.id:
            self._at(event.widget.id)

    def action_toggle_select(self) -> None:
        self.select_under_cursor("inv-nodes")

    def action_run_command(self) -> None:
        """The selected nodes (or the one under the cursor) in the Fleet's selection and in Run Command."""
        nodes = self.table("inv-nodes")
        rows = nodes.selected_rows() or ([nodes.cursor_row] if nodes.cursor_row is not None else [])
        self.send_to_run_command(r.key for r in rows)
