"""The Inventory tab: what is installed where, across the fleet, and the association that keeps it fresh.

Four panels in one tab (a ContentSwitcher; `b`, `f`, `u`, `a`):

    browse   nodes with inventory -> the node's types -> the type's entries (filter `/`, sort `o`/`O`)
    find     which nodes have application X (version op V): counts by version + the nodes; enter shows
             the node in the Fleet, `c` sends the matching nodes to Run Command
    summary  counts by platform, OS version and agent version (GetInventory aggregators)
    set-up   the AWS-GatherSoftwareInventory association of each region (all managed nodes): status, last
             executions, create it or change its schedule (>= 30 minutes; disabled in read-only mode)

`e` writes the table in front of you to CSV. Every AWS call is a worker that runs the aws-layer coroutine on
the AWS loop (`app.aws_loop.run`); regions are queried together and each region's failure is shown on its
own line (region, what failed, what to do) while the other regions' data stays.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Button, ContentSwitcher, Input, Select, Static

from opstui.aws import ssm_inventory as inv
from opstui.aws.errors import OpsError
from opstui.aws.models import ApplicationSearch, FleetNode, InventoryNode, InventorySchema
from opstui.aws.regions import as_ops_error, per_region
from opstui.commands import INVENTORY_COMMANDS
from opstui.safe import clean
from opstui.views.common.format import age
from opstui.views.common.node_table import NodeTable, prepare_rows
from opstui.views.common.safe_input import SafeInput
from opstui.views.inventory_panels import (
    AssociationRow,
    BrowsePanel,
    CountRow,
    EntryRow,
    ExecutionRow,
    MatchRow,
    NodeRow,
    SearchPanel,
    SetupPanel,
    SummaryPanel,
    TypeRow,
    entry_columns,
    file_part,
    staleness,
    write_csv,
)

EXPORT_DIR = Path.home() / "opstui-exports"
PANELS = {"browse": "inv-browse", "find": "inv-search", "summary": "inv-summary", "setup": "inv-setup"}
PANEL_TITLES = (("b", "browse", "Browse nodes"), ("f", "find", "Find application"), ("u", "summary", "Summary"),
                ("a", "setup", "Set-up"))
#: the table each panel exports / filters when none of its tables has the focus
MAIN_TABLE = {"inv-browse": "#inv-entries", "inv-search": "#inv-matches", "inv-summary": "#inv-by-platform",
              "inv-setup": "#inv-assocs"}
SHORT_LABELS = {"inventory-browse": "Browse", "inventory-find": "Find app", "inventory-summary": "Summary",
                "inventory-setup": "Set-up", "inventory-apply": "Create/update", "inventory-filter": "Filter",
                "inventory-sort": "Sort", "inventory-run": "Run command", "inventory-export": "Export CSV"}
ENTRY_LIMIT = 10_000  # what AWS keeps per type per node


def _view_action(action: str) -> str:
    """`inventory('find')` (the app-level action of the registry) -> `find` (the view's own action)."""
    return action.removeprefix("inventory('").removesuffix("')")


def _failure(err: BaseException, region: str) -> OpsError:
    return as_ops_error(err, region, "ssm")


async def _per_region(regions: list[str], call) -> list[tuple[str, Any, OpsError | None]]:
    return await per_region(regions, call, "ssm")


class InventoryView(Vertical):
    """The Inventory tab."""

    BINDINGS = [
        Binding(cmd.key, _view_action(cmd.action), SHORT_LABELS.get(cmd.id, cmd.title), show=cmd.show,
                id=cmd.id, tooltip=cmd.help)
        for cmd in INVENTORY_COMMANDS
    ] + [
        Binding("enter", "open", "Open", tooltip="Drill down (browse), filter by version or show in the Fleet (find)"),
        Binding("escape", "back", "Back", show=False),
    ]

    DEFAULT_CSS = """
    InventoryView { height: 1fr; }
    InventoryView #inv-header { height: 1; padding: 0 1; background: $boost; }
    InventoryView #inv-filter { display: none; height: 3; }
    InventoryView #inv-filter.-shown { display: block; }
    InventoryView ContentSwitcher#inv-panels { height: 1fr; }
    InventoryView NodeTable { border: round $primary-darken-1; border-title-align: left; }
    InventoryView NodeTable:focus { border: round $accent; }
    InventoryView #inv-left { width: 76; }
    InventoryView #inv-types { height: 11; }
    InventoryView #inv-search-form { height: 3; }
    InventoryView #inv-app { width: 1fr; }
    InventoryView #inv-op { width: 26; }
    InventoryView #inv-version { width: 24; }
    InventoryView #inv-versions { width: 38; }
    InventoryView #inv-setup-form { height: 3; }
    InventoryView #inv-schedule-label { width: 10; padding: 1 1; }
    InventoryView #inv-schedule { width: 40; }
    InventoryView #inv-schedule-problem { height: auto; padding: 0 1; color: $error; }
    InventoryView #inv-setup-readonly { display: none; background: $warning; color: $text; padding: 0 1; }
    InventoryView #inv-setup.-read-only #inv-setup-readonly { display: block; }
    InventoryView #inv-assocs { height: 10; }
    InventoryView #inv-execs { height: 1fr; }
    InventoryView #inv-status { height: auto; max-height: 6; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.generation = 0
        self.loaded = False
        self.nodes: dict[str, NodeRow] = {}
        self.node_errors: dict[str, str] = {}
        self.schemas: dict[str, InventorySchema] = {}
        self.type_names: list[str] = list(inv.AWS_TYPES[:6])
        self.periods: dict[str, timedelta | None] = {}  # region -> inventory schedule period
        self.filters: dict[str, str] = {}  # table id -> filter text
        self.filter_target = "inv-entries"
        self.version_pick: str | None = None
        self.search_results: list[ApplicationSearch] = []
        self.search_errors: list[str] = []
        self.summary_errors: list[str] = []
        self.setup_errors: list[str] = []
        self.entries_info: tuple[NodeRow, TypeRow, bool] | None = None
        self.export_dir = EXPORT_DIR
        self.last_export: Path | None = None
        self._types_timer: Timer | None = None
        self._entries_timer: Timer | None = None
        self._schedule_touched = False
        # counters and timings (tests and bench/inventory.py read them)
        self.node_loads = 0
        self.type_loads = 0
        self.entry_loads = 0
        self.searches = 0
        self.summaries = 0
        self.setup_loads = 0
        self.applies = 0
        self.last_search_seconds = 0.0
        self.last_search_render_seconds = 0.0
        self.last_entries_render_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield Static(id="inv-header")
        yield SafeInput(placeholder="filter the table: words that must all appear (enter: apply, esc: close)",
                    id="inv-filter")
        with ContentSwitcher(initial="inv-browse", id="inv-panels"):
            yield BrowsePanel(id="inv-browse")
            yield SearchPanel(id="inv-search")
            yield SummaryPanel(id="inv-summary")
            yield SetupPanel(id="inv-setup")
        yield Static(id="inv-status")

    def on_mount(self) -> None:
        read_only = bool(self.app.settings.read_only)  # type: ignore[attr-defined]
        self.query_one(SetupPanel).set_class(read_only, "-read-only")
        self.query_one("#inv-apply", Button).disabled = read_only
        for table_id, title in (("inv-nodes", "Nodes with inventory: open the tab to load"),
                                ("inv-types", "Types"), ("inv-entries", "Entries"),
                                ("inv-versions", "Counts by version"), ("inv-matches", "Nodes"),
                                ("inv-by-platform", "By platform"), ("inv-by-os", "By OS version"),
                                ("inv-by-agent", "By agent version"), ("inv-assocs", "Inventory association per region"),
                                ("inv-execs", "Last executions")):
            self.table(table_id).border_title = Content(title)
        self._render_header()

    # -- helpers --------------------------------------------------------------------------------------------
    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id.lstrip('#')}", NodeTable)

    @property
    def current(self) -> str:
        return self.query_one("#inv-panels", ContentSwitcher).current or "inv-browse"

    def _render_header(self) -> None:
        text = Text()
        for key, name, title in PANEL_TITLES:
            active = PANELS[name] == self.current
            text.append(f" {key} ", style="bold reverse" if active else "bold")
            text.append(f" {title}  ", style="bold" if active else "dim")
        text.append("  / filter  o sort  e export CSV  r reload", style="dim")
        self.query_one("#inv-header", Static).update(text)

    def _status(self, lines: list[str], info: str = "") -> None:
        text = Text()
        if info:
            text.append(info + "\n" if lines else info)
        for i, line in enumerate(lines):
            text.append("⚠ " + line, style="bold red")
            if i < len(lines) - 1:
                text.append("\n")
        self.query_one("#inv-status", Static).update(text)

    def _show_status(self) -> None:
        panel = self.current
        if panel == "inv-browse":
            self._status(list(self.node_errors.values()))
        elif panel == "inv-search":
            self._status(self.search_errors, self._search_info())
        elif panel == "inv-summary":
            self._status(self.summary_errors, "Counts from GetInventory aggregators (AWS:InstanceInformation), "
                                              "every node that reported inventory")
        else:
            self._status(self.setup_errors)

    def focused_table(self) -> NodeTable | None:
        focused = self.app.focused
        if isinstance(focused, NodeTable) and self in focused.ancestors:
            return focused
        return None

    def _fleet_nodes(self) -> dict[str, FleetNode]:
        return {n.key: n for n in self.app.fleet_view.table.rows}  # type: ignore[attr-defined]

    # -- tab life cycle ---------------------------------------------------------------------------------------
    def shown(self) -> None:  # the lifecycle every tab has
        self.on_shown()

    def on_shown(self) -> None:
        """The tab was shown: load once, then put the keyboard on the panel's main table."""
        if not self.loaded and self.app.settings.regions:  # type: ignore[attr-defined]
            self.loaded = True
            self._load_nodes()
            self._load_setup()
        self.focus_current()

    def focus_current(self) -> None:
        panel = self.current
        if panel == "inv-browse":
            self.table("inv-nodes").focus()
        elif panel == "inv-search":
            if self.search_results:
                self.table("inv-matches").focus()
            else:
                self.query_one("#inv-app", Input).focus()
        elif panel == "inv-summary":
            self.table("inv-by-platform").focus()
        else:
            self.table("inv-assocs").focus()

    def reset(self, generation: int) -> None:
        """Profile or regions changed: drop everything shown, reload when the tab is next shown (or now)."""
        self.generation = generation
        self.nodes.clear()
        self.node_errors.clear()
        self.periods.clear()
        self.search_results = []
        self.search_errors = []
        self.entries_info = None
        for table_id in ("inv-nodes", "inv-types", "inv-entries", "inv-versions", "inv-matches", "inv-by-platform",
                         "inv-by-os", "inv-by-agent", "inv-assocs", "inv-execs"):
            self.table(table_id).set_rows([])
        self.loaded = False
        self._show_status()
        tabs = self.app.query_one("#tabs")
        if getattr(tabs, "active", "") == "inventory":
            self.on_shown()

    def reload(self) -> None:
        """`r` on this tab: reload what the current panel shows."""
        panel = self.current
        self.loaded = True
        if panel == "inv-browse":
            self._load_nodes()
            self._load_setup()
        elif panel == "inv-search":
            if self.search_results:
                first = self.search_results[0]
                self._search(first.name, first.op, first.version)
        elif panel == "inv-summary":
            self._load_summary()
        else:
            self._load_setup()

    def _switch(self, panel: str) -> None:
        self.query_one("#inv-panels", ContentSwitcher).current = panel
        self.query_one("#inv-filter", Input).remove_class("-shown")
        self._render_header()
        self._show_status()
        self.refresh_bindings()
        if panel == "inv-summary" and not self.summaries:
            self._load_summary()
        if panel == "inv-setup" and not self.setup_loads and self.app.settings.regions:  # type: ignore[attr-defined]
            self._load_setup()
        self.focus_current()

    def action_browse(self) -> None:
        self._switch("inv-browse")

    def action_find(self) -> None:
        self._switch("inv-search")
        self.query_one("#inv-app", Input).focus()

    def action_summary(self) -> None:
        self._switch("inv-summary")

    def action_setup(self) -> None:
        self._switch("inv-setup")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        panel = self.current
        if action == "apply":
            if panel != "inv-setup":
                return False
            return None if self.app.settings.read_only else True  # type: ignore[attr-defined]
        if action == "run_command":
            return panel in ("inv-search", "inv-browse")
        if action == "toggle_select":
            return panel in ("inv-search", "inv-browse")
        return True

    # -- browse: nodes ------------------------------------------------------------------------------------
    @work(group="inv-nodes", exclusive=True, exit_on_error=False)
    async def _load_nodes(self) -> None:
        app: Any = self.app
        generation = app.generation
        regions = list(app.settings.regions)
        self.table("inv-nodes").border_title = Content("Nodes with inventory: loading…")

        async def load() -> tuple[list, list[InventorySchema] | OpsError]:
            nodes = await _per_region(regions, lambda r: inv.list_inventory_nodes(app.aws, r))
            try:
                schemas: list[InventorySchema] | OpsError = await inv.get_inventory_schema(app.aws, regions[0])
            except Exception as exc:
                schemas = _failure(exc, regions[0])
            return nodes, schemas

        results, schemas = await app.aws_loop.run(load())
        if generation != app.generation:
            return
        if isinstance(schemas, list) and schemas:
            self.schemas = {s.type_name: s for s in schemas}
            known = [t for t in inv.AWS_TYPES if t in self.schemas]
            self.type_names = known + sorted(t for t in self.schemas if t not in known)
        self.node_errors = {}
        found: list[InventoryNode] = []
        for region, nodes, err in results:
            if err is not None:
                self.node_errors[region] = f"{clean(str(err), 400)}"
                self.app.notify(clean(str(err), 400), title=f"Inventory: {region} failed", severity="error",
                                markup=False, timeout=10)
            else:
                found.extend(nodes)
        self._set_node_rows(found)
        self.node_loads += 1
        if self.current == "inv-browse":
            self._show_status()

    def _set_node_rows(self, found: list[InventoryNode] | None = None) -> None:
        fleet = self._fleet_nodes()
        if found is None:
            found = [r.node for r in self.nodes.values()]
        rows = []
        for node in found:
            f = fleet.get(node.key)
            name = (f.name if f else "") or node.computer_name or node.instance_id
            rows.append(NodeRow(node, name, staleness(node.capture_time, self.periods.get(node.region))))
        rows.sort(key=lambda r: (r.name.lower(), r.node.region))
        self.nodes = {r.key: r for r in rows}
        table = self.table("inv-nodes")
        table.set_rows(rows, self._visible_fn(table))
        self._title_nodes()

    def _title_nodes(self) -> None:
        table = self.table("inv-nodes")
        rows = list(self.nodes.values())
        stale = sum(1 for r in rows if r.stale == "stale")
        late = sum(1 for r in rows if r.stale == "late")
        parts = [f"Nodes with inventory {len(table.order_shown)}/{len(rows)}" if self.filters.get("inv-nodes")
                 else f"Nodes with inventory {len(rows)}"]
        if stale:
            parts.append(f"⚠ {stale} stale (> 24 h)")
        if late:
            parts.append(f"{late} late (> 2 schedule periods)")
        if table.selected:
            parts.append(f"selected {len(table.selected)}")
        if self.node_errors:
            parts.append(f"{len(self.node_errors)} region(s) failing")
        if self.filters.get("inv-nodes"):
            parts.append(f"filter: {clean(self.filters['inv-nodes'], 40)}")
        table.border_title = Content(" · ".join(parts))

    @on(NodeTable.CursorMoved, "#inv-nodes")
    def _node_cursor(self, event: NodeTable.CursorMoved) -> None:
        if self._types_timer is not None:
            self._types_timer.stop()
        row = event.row
        if row is None:
            return
        self._types_timer = self.set_timer(0.15, lambda: self._load_types(row))

    # -- browse: types and entries ------------------------------------------------------------------------
    @work(group="inv-types", exclusive=True, exit_on_error=False)
    async def _load_types(self, row: NodeRow) -> None:
        app: Any = self.app
        generation = app.generation
        types_table = self.table("inv-types")
        types_table.border_title = Content(f"Types of {clean(row.name, 40)}: loading…")
        try:
            infos = await app.aws_loop.run(
                inv.node_inventory_types(app.aws, row.node.region, row.node.instance_id, self.type_names))
        except Exception as exc:
            err = _failure(exc, row.node.region)
            types_table.set_rows([])
            types_table.border_title = Content(f"Types of {clean(row.name, 40)}: failed")
            self._status([clean(str(err), 400)])
            return
        if generation != app.generation:
            return
        period = self.periods.get(row.node.region)
        rows = [TypeRow(i.type_name, i.capture_time, staleness(i.capture_time, period)) for i in infos]
        types_table.set_rows(rows)
        types_table.border_title = Content(f"Types of {clean(row.name, 40)} ({len(rows)})")
        self.type_loads += 1

    @on(NodeTable.CursorMoved, "#inv-types")
    def _type_cursor(self, event: NodeTable.CursorMoved) -> None:
        if self._entries_timer is not None:
            self._entries_timer.stop()
        node = self.table("inv-nodes").cursor_row
        type_row = event.row
        if node is None or type_row is None:
            return
        self._entries_timer = self.set_timer(0.1, lambda: self._load_entries(node, type_row))

    @work(group="inv-entries", exclusive=True, exit_on_error=False)
    async def _load_entries(self, node: NodeRow, type_row: TypeRow) -> None:
        app: Any = self.app
        generation = app.generation
        table = self.table("inv-entries")
        table.border_title = Content(f"{clean(type_row.type_name, 60)} on {clean(node.name, 40)}: loading…")
        try:
            got = await app.aws_loop.run(inv.list_inventory_entries(
                app.aws, node.node.region, node.node.instance_id, type_row.type_name, limit=ENTRY_LIMIT))
        except Exception as exc:
            err = _failure(exc, node.node.region)
            table.set_rows([])
            table.border_title = Content(f"{clean(type_row.type_name, 60)}: failed")
            self._status([clean(str(err), 400)])
            return
        if generation != app.generation:
            return
        started = time.perf_counter()
        schema = self.schemas.get(type_row.type_name)
        columns = entry_columns(got.entries, schema.attributes if schema else ())
        rows = [EntryRow(i, e) for i, e in enumerate(got.entries)]
        prepared = await asyncio.to_thread(prepare_rows, columns, rows)
        same_type = self.entries_info is not None and self.entries_info[1].type_name == type_row.type_name
        table.columns = columns
        if not same_type or table.sort_column not in {c.key for c in columns}:
            table.sort_column, table.sort_reverse = None, False
        table.set_prepared(prepared, self._visible_fn(table))
        captured = got.capture_time or type_row.captured
        stale = staleness(captured, self.periods.get(node.node.region))
        self.entries_info = (node, TypeRow(type_row.type_name, captured, stale), got.complete)
        self._title_entries()
        self.last_entries_render_seconds = time.perf_counter() - started
        self.entry_loads += 1

    def _title_entries(self) -> None:
        if self.entries_info is None:
            return
        node, type_row, complete = self.entries_info
        table = self.table("inv-entries")
        total = len(table.rows)
        shown = len(table.order_shown)
        parts = [f"{clean(type_row.type_name, 60)} on {clean(node.name, 40)}",
                 f"{shown}/{total} entries" if shown != total else f"{total} entries"]
        if not complete:
            parts.append(f"first {total} only")
        if type_row.captured:
            parts.append(f"captured {type_row.captured.astimezone():%Y-%m-%d %H:%M} ({age(type_row.captured)} ago)")
        if type_row.stale == "stale":
            parts.append("⚠ STALE: older than 24 h")
        elif type_row.stale == "late":
            period = self.periods.get(node.node.region)
            parts.append(f"late: older than two schedule periods ({inv.human_duration(period)})" if period
                         else "late")
        if self.filters.get("inv-entries"):
            parts.append(f"filter: {clean(self.filters['inv-entries'], 40)}")
        table.border_title = Content(" · ".join(parts))

    # -- filter and sort ----------------------------------------------------------------------------------
    def _visible_fn(self, table: NodeTable):
        """The filter of this table as NodeTable's `visible_fn` (display positions to show)."""
        table_id = table.id or ""

        def visible(_order: list[int]) -> list[int]:
            return self._visible_positions(table_id, table)

        return visible

    def _visible_positions(self, table_id: str, table: NodeTable) -> list[int]:
        terms = (self.filters.get(table_id) or "").lower().split()
        pick = self.version_pick if table_id == "inv-matches" else None
        if not terms and pick is None:
            return list(range(len(table.rows)))
        searched = self.search_results[0].name if self.search_results else ""
        out = []
        for pos, cells in enumerate(table.cells):
            if pick is not None:
                m = table.rows[pos].match
                if inv.version_label(searched, m.name, m.version) != pick:
                    continue
            hay = "\x00".join(cells).lower()
            if all(t in hay for t in terms):
                out.append(pos)
        return out

    def _refilter(self, table: NodeTable) -> None:
        table.set_visible(self._visible_positions(table.id or "", table))
        self._retitle(table.id or "")

    def _retitle(self, table_id: str) -> None:
        if table_id == "inv-nodes":
            self._title_nodes()
        elif table_id == "inv-entries":
            self._title_entries()
        elif table_id in ("inv-matches", "inv-versions"):
            self._title_matches()

    def action_filter(self) -> None:
        table = self.focused_table() or self.query_one(MAIN_TABLE[self.current], NodeTable)
        self.filter_target = table.id or ""
        box = self.query_one("#inv-filter", Input)
        box.value = self.filters.get(self.filter_target, "")
        box.border_title = Content(f"filter {table.id}")
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#inv-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filters[self.filter_target] = event.value
        self._refilter(self.table(self.filter_target))

    @on(Input.Submitted, "#inv-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table(self.filter_target).focus()

    def action_sort_next(self) -> None:
        table = self.focused_table() or self.query_one(MAIN_TABLE[self.current], NodeTable)
        keys = [c.key for c in table.columns]
        current = table.sort_column
        table.sort_by(keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0], reverse=False)

    def action_sort_reverse(self) -> None:
        table = self.focused_table() or self.query_one(MAIN_TABLE[self.current], NodeTable)
        table.sort_by(table.sort_column or table.columns[0].key, reverse=not table.sort_reverse)

    # -- navigation ---------------------------------------------------------------------------------------
    def action_open(self) -> None:
        table = self.focused_table()
        if table is None:
            return
        if table.id == "inv-nodes":
            self.table("inv-types").focus()
        elif table.id == "inv-types":
            self.table("inv-entries").focus()
        elif table.id == "inv-versions":
            row = table.cursor_row
            if row is not None:
                self.version_pick = None if self.version_pick == row.count.value else row.count.value
                self._refilter(self.table("inv-matches"))
        elif table.id == "inv-matches":
            row = table.cursor_row
            if row is not None:
                self.show_in_fleet(row.match.instance_id)

    def action_back(self) -> None:
        box = self.query_one("#inv-filter", Input)
        focused = self.app.focused
        if focused is box:
            if not box.value:
                box.remove_class("-shown")
            self.table(self.filter_target).focus()
            return
        if isinstance(focused, Input | Select | Button):
            self.query_one(MAIN_TABLE[self.current], NodeTable).focus()
            return
        table = self.focused_table()
        if table is None:
            return
        table_id = table.id or ""
        # like the Fleet: esc first clears what narrows the table (selection, filter, version), then goes back
        if table.selected:
            table.clear_selection()
            self._retitle(table_id)
        elif self.filters.get(table_id):
            self.filters[table_id] = ""
            box.remove_class("-shown")
            self._refilter(table)
        elif table_id == "inv-matches" and self.version_pick is not None:
            self.version_pick = None
            self._refilter(table)
        elif table_id == "inv-entries":
            self.table("inv-types").focus()
        elif table_id == "inv-types":
            self.table("inv-nodes").focus()

    def action_toggle_select(self) -> None:
        table = self.focused_table()
        if table is not None and table.id in ("inv-matches", "inv-nodes"):
            table.toggle_selected()
            table.action_cursor(1)
            self._retitle(table.id or "")

    # -- Fleet and Run Command ----------------------------------------------------------------------------
    def show_in_fleet(self, instance_id: str) -> None:
        """The Fleet tab filtered to this node."""
        app: Any = self.app
        fleet = app.fleet_view
        box = fleet.query_one("#fleet-filter", Input)
        box.value = instance_id
        box.add_class("-shown")
        fleet.set_filter(instance_id)
        app.show_tab("fleet")

    def _target_keys(self) -> list[str]:
        table = self.focused_table()
        if self.current == "inv-search" or (table is not None and table.id == "inv-matches"):
            matches = self.table("inv-matches")
            rows = matches.selected_rows() or matches.visible_rows()
            return list(dict.fromkeys(r.node_key for r in rows))
        nodes = self.table("inv-nodes")
        rows = nodes.selected_rows() or ([nodes.cursor_row] if nodes.cursor_row is not None else [])
        return [r.key for r in rows]

    def action_run_command(self) -> None:
        """Select the nodes in the Fleet and open Run Command with them as the target."""
        app: Any = self.app
        keys = self._target_keys()
        fleet = self._fleet_nodes()
        nodes = [fleet[k] for k in keys if k in fleet]
        if not nodes:
            self.app.notify("None of these nodes is in the Fleet (not loaded yet, or no longer managed).",
                            severity="warning", markup=False)
            return
        missing = len(keys) - len(nodes)
        table = app.fleet_view.table
        table.clear_selection()
        table.selected.update(n.key for n in nodes)
        table.refresh()
        app.fleet_view._update_title()
        app.open_run_command(nodes)
        note = f" ({missing} not in the Fleet left out)" if missing else ""
        self.app.notify(f"Run Command target: {len(nodes)} node(s) from the inventory{note}", markup=False)

    # -- find application ---------------------------------------------------------------------------------
    @on(Input.Submitted, "#inv-app")
    @on(Input.Submitted, "#inv-version")
    @on(Button.Pressed, "#inv-search-go")
    def _search_submitted(self) -> None:
        self.start_search()

    def start_search(self, name: str | None = None, op: str | None = None, version: str | None = None) -> None:
        if name is not None:
            self.query_one("#inv-app", Input).value = name
            self.query_one("#inv-op", Select).value = op or "any"
            self.query_one("#inv-version", Input).value = version or ""
        name = self.query_one("#inv-app", Input).value.strip()
        op_value = self.query_one("#inv-op", Select).value
        op = None if op_value in ("any", Select.NULL) else str(op_value)
        version = self.query_one("#inv-version", Input).value.strip() or None
        if not name:
            self._status(["type an application name first (e.g. openssl; a trailing * matches a prefix)"])
            return
        if op and not version:
            self._status([f"type the version to compare with ({op}), or choose 'any version'"])
            return
        self._search(name, op, version)

    @work(group="inv-search", exclusive=True, exit_on_error=False)
    async def _search(self, name: str, op: str | None, version: str | None) -> None:
        app: Any = self.app
        generation = app.generation
        regions = list(app.settings.regions)
        what = f"{name} (version {op} {version})" if op else name
        self.table("inv-matches").border_title = Content(f"Searching {clean(what, 80)}…")
        started = time.perf_counter()
        results = await app.aws_loop.run(inv.find_application_everywhere(app.aws, regions, name, op, version))
        answered = time.perf_counter()
        if generation != app.generation:
            return
        self.last_search_seconds = answered - started
        self.search_results = results
        self.search_errors = [clean(str(r.error), 400) for r in results if r.error is not None]
        fleet = self._fleet_nodes()
        rows = []
        for result in results:
            for m in result.matches:
                key = f"{m.region}/{m.instance_id}"
                f = fleet.get(key)
                n = self.nodes.get(key)
                node_name = (f.name if f else "") or m.computer_name or m.instance_id
                platform = (f.platform if f else "") or (
                    f"{n.node.platform_name} {n.node.platform_version}".strip() if n else "")
                rows.append(MatchRow(m, node_name, platform))
        rows.sort(key=lambda r: (r.name.lower(), r.match.region, inv.version_key(r.match.version)))
        self.version_pick = None
        matches = self.table("inv-matches")
        matches.clear_selection()
        matches.set_rows(rows, self._visible_fn(matches))
        counts = inv.merge_counts(*(r.by_version for r in results))
        self.table("inv-versions").set_rows([CountRow(c) for c in counts])
        self._title_matches()
        self.searches += 1
        self.last_search_render_seconds = time.perf_counter() - answered
        if self.current == "inv-search":
            self._show_status()
            if isinstance(self.app.focused, Input | Select | Button) or self.app.focused is None:
                matches.focus()

    def _search_info(self) -> str:
        if not self.search_results:
            return "Find: which nodes have an application (GetInventory filters AWS:Application.Name / .Version)"
        first = self.search_results[0]
        source = {r.counts_source for r in self.search_results if r.error is None}
        how = ("counts by version from a GetInventory aggregator (AWS:Application.Name → .Version)"
               if source <= {"aggregator"}
               else "counts by version from a GetInventory aggregator; too many versions to list them per node")
        pages = sum(r.pages for r in self.search_results)
        return (f"{clean(first.name, 60)}: answered in {self.last_search_seconds:.2f}s "
                f"({pages} GetInventory page(s)); {how}. enter: show in Fleet · c: Run Command on these nodes · "
                f"space: select")

    def _title_matches(self) -> None:
        matches = self.table("inv-matches")
        if not self.search_results:
            return
        first = self.search_results[0]
        what = f"{first.name} {first.op} {first.version}" if first.op else first.name
        nodes = {r.node_key for r in matches.rows}
        parts = [f"Nodes with {clean(what, 60)}: {len(nodes)}"]
        if len(matches.order_shown) != len(matches.rows):
            parts.append(f"showing {len(matches.order_shown)} row(s)")
        if self.version_pick is not None:
            parts.append(f"version {clean(self.version_pick, 30)} only (esc: all)")
        if matches.selected:
            parts.append(f"selected {len(matches.selected)}")
        if self.search_errors:
            parts.append(f"{len(self.search_errors)} region(s) failing")
        matches.border_title = Content(" · ".join(parts))
        versions = self.table("inv-versions")
        versions.border_title = Content(f"Counts by version ({len(versions.rows)})")

    # -- summary ------------------------------------------------------------------------------------------
    @work(group="inv-summary", exclusive=True, exit_on_error=False)
    async def _load_summary(self) -> None:
        app: Any = self.app
        generation = app.generation
        regions = list(app.settings.regions)
        for table_id in ("inv-by-platform", "inv-by-os", "inv-by-agent"):
            self.table(table_id).border_title = Content("loading…")

        async def load():
            return await asyncio.gather(*(inv.inventory_summary(app.aws, r) for r in regions))

        results = await app.aws_loop.run(load())
        if generation != app.generation:
            return
        ok = [r for r in results if r.error is None]
        self.summary_errors = [clean(str(r.error), 400) for r in results if r.error is not None]
        for table_id, title, attr in (("inv-by-platform", "By platform", "by_platform"),
                                      ("inv-by-os", "By OS version", "by_os_version"),
                                      ("inv-by-agent", "By agent version", "by_agent")):
            counts = inv.merge_counts(*(getattr(r, attr) for r in ok))
            table = self.table(table_id)
            table.set_rows([CountRow(c) for c in counts], self._visible_fn(table))
            table.border_title = Content(f"{title} ({sum(c.count for c in counts)} nodes)")
        self.summaries += 1
        if self.current == "inv-summary":
            self._show_status()

    # -- set-up -------------------------------------------------------------------------------------------
    @work(group="inv-setup", exclusive=True, exit_on_error=False)
    async def _load_setup(self) -> None:
        app: Any = self.app
        generation = app.generation
        regions = list(app.settings.regions)
        self.table("inv-assocs").border_title = Content("Inventory association per region: loading…")

        async def one(region: str):
            found = await inv.find_inventory_association(app.aws, region)
            execs = await inv.describe_association_executions(app.aws, region, found.association_id, limit=5) \
                if found else []
            return found, execs

        results = await app.aws_loop.run(_per_region(regions, one))
        if generation != app.generation:
            return
        assoc_rows, exec_rows, self.setup_errors = [], [], []
        schedules = set()
        for region, value, err in results:
            if err is not None:
                message = clean(str(err), 400)
                self.setup_errors.append(message)
                assoc_rows.append(AssociationRow(None, region, error=message))
                continue
            found, execs = value
            assoc_rows.append(AssociationRow(found, region))
            if found is not None:
                self.periods[region] = inv.schedule_period(found.schedule)
                schedules.add(found.schedule)
            exec_rows.extend(ExecutionRow(e, region) for e in execs)
        exec_rows.sort(key=lambda r: r.execution.created or datetime.min.replace(tzinfo=UTC), reverse=True)
        self.table("inv-assocs").set_rows(assoc_rows)
        self.table("inv-assocs").border_title = Content(
            f"Inventory association per region ({inv.INVENTORY_DOCUMENT}, all managed nodes)")
        self.table("inv-execs").set_rows(exec_rows)
        self.table("inv-execs").border_title = Content(f"Last executions ({len(exec_rows)})")
        if len(schedules) == 1 and not self._schedule_touched:
            box = self.query_one("#inv-schedule", Input)
            with box.prevent(Input.Changed):
                box.value = next(iter(schedules))
        if self.nodes:
            self._set_node_rows()  # staleness depends on each region's schedule
        self.setup_loads += 1
        if self.current == "inv-setup":
            self._show_status()

    @on(Input.Changed, "#inv-schedule")
    def _schedule_changed(self, event: Input.Changed) -> None:
        self._schedule_touched = True
        problem = inv.schedule_problem(event.value)
        self.query_one("#inv-schedule-problem", Static).update(Content("⚠ " + problem) if problem else "")

    @on(Input.Submitted, "#inv-schedule")
    @on(Button.Pressed, "#inv-apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        app: Any = self.app
        if app.settings.read_only:
            self.app.notify("Read-only mode: the inventory association cannot be created or changed "
                            "(restart opstui without --read-only).", severity="warning", markup=False)
            return
        schedule = self.query_one("#inv-schedule", Input).value.strip()
        problem = inv.schedule_problem(schedule)
        if problem:
            self.query_one("#inv-schedule-problem", Static).update(Content("⚠ " + problem))
            self.app.notify(problem, title="Schedule refused", severity="error", markup=False)
            return
        self._apply(schedule)

    @work(group="inv-apply", exclusive=True, exit_on_error=False)
    async def _apply(self, schedule: str) -> None:
        app: Any = self.app
        regions = list(app.settings.regions)
        results = await app.aws_loop.run(
            _per_region(regions, lambda r: inv.ensure_inventory_association(app.aws, r, schedule)))
        done, errors = [], []
        for region, value, err in results:
            if err is not None:
                errors.append(clean(str(err), 400))
            else:
                done.append(f"{region}: {value[1]}")
        if done:
            self.app.notify(f"Inventory association ({schedule}): " + ", ".join(done), markup=False)
        for message in errors:
            self.app.notify(message, title="Inventory association failed", severity="error", markup=False, timeout=10)
        self.applies += 1
        self._load_setup()

    # -- export -------------------------------------------------------------------------------------------
    def action_export(self) -> None:
        table = self.focused_table() or self.query_one(MAIN_TABLE[self.current], NodeTable)
        what = (table.id or "table").removeprefix("inv-")
        if table.id == "inv-entries" and self.entries_info is not None:
            node, type_row, _ = self.entries_info
            what = f"{node.node.instance_id}-{type_row.type_name}"
        elif table.id == "inv-matches" and self.search_results:
            what = f"find-{self.search_results[0].name}"
        path = self.export_dir / f"inventory-{file_part(what)}-{datetime.now():%Y%m%d-%H%M%S}.csv"
        try:
            count = write_csv(path, table)
        except OSError as err:
            self.app.notify(f"Export failed: {clean(str(err), 300)}", severity="error", markup=False)
            return
        self.last_export = path
        self.app.notify(f"Wrote {count} row(s) to {path}", title="Exported CSV", markup=False, timeout=10)
