"""The Fleet tab: every managed node of every region in one table, filtered, sorted, multi-selected.

Loading happens on the AWS loop (opstui.aws.runner) through a Textual worker; results arrive as a message.
Refreshes never overlap: the next one is scheduled with `set_timer` only after the previous one finished.

First paint: at mount the last known fleet of this profile and these regions is read from the cache
(`opstui.fleet_cache`, in a thread) and shown at once, marked stale in the title ("cached … ago, refreshing");
with no cache, the rows of the first listing are shown as their pages arrive (`load_fleet`'s progress, at most
once a second). Either is replaced by the full table when the refresh ends, which is written back to the cache.
The tab is the writer of the app's fleet model (`views/common/context.py`): each refresh publishes the
snapshot and each change of the selection the selection; a filter another tab asks for arrives as a signal.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from opstui import fleet_cache
from opstui.aws.fleet import NOT_MANAGED
from opstui.aws.models import FleetNode, FleetSnapshot
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.context import AppContext, context_of
from opstui.views.common.format import age
from opstui.views.common.node_table import NodeTable, PreparedRows
from opstui.views.common.safe_input import SafeInput
from opstui.views.common.tab import bindings_for
from opstui.views.fleet import filter as fleet_filter
from opstui.views.fleet.columns import FLEET_COLUMNS, prepare_fleet
from opstui.views.fleet.detail import DetailPane
from opstui.views.fleet.loading import LoadingMixin
from opstui.views.fleet.painting import PaintingMixin


@dataclass
class FleetStats:
    total: int
    shown: int
    selected: int
    by_ping: Counter[str]


class FleetView(LoadingMixin, PaintingMixin, Vertical):
    """The Fleet tab."""

    BINDINGS = bindings_for(commands_of("fleet"))

    DEFAULT_CSS = """
    FleetView { height: 1fr; }
    FleetView #fleet-filter { display: none; height: 3; }
    FleetView #fleet-filter.-shown { display: block; }
    FleetView #fleet-main { height: 1fr; }
    FleetView #fleet-table { border: round $primary-darken-1; border-title-align: left; }
    FleetView #fleet-table:focus { border: round $accent; }
    FleetView #fleet-status { height: auto; max-height: 6; color: $error; padding: 0 1; }
    FleetView #fleet-status.-empty { display: none; }
    """

    class Refreshed(Message):
        """A refresh finished (successfully or not for some regions)."""

        def __init__(
            self,
            snapshot: FleetSnapshot,
            generation: int,
            prepared: PreparedRows[FleetNode] | None = None,
            index: fleet_filter.FleetIndex | None = None,
        ) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.generation = generation
            self.prepared = prepared
            self.index = index

    class Progress(Message):
        """A refresh still under way: its regions in ``done`` are final, the others the pages seen so far."""

        def __init__(self, snapshot: FleetSnapshot, done: frozenset[str], generation: int) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.done = done
            self.generation = generation

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.snapshot: FleetSnapshot | None = None
        #: what the table shows until the first refresh ends: "cache" (the last known fleet, stale), "partial"
        #: (the pages of the first listing seen so far) or "" (a finished refresh)
        self.showing = ""
        self.cache_painted_at: float | None = None  # perf_counter when the cached rows were shown (bench)
        self.first_rows_at: float | None = None  # perf_counter when the first rows of any kind were shown
        self.mounted_at: float | None = None  # perf_counter at mount (the bench's first paint is measured from it)
        #: the latest progress to paint (snapshot, showing, generation, refreshes) and whether a paint is busy
        self._pending_paint: tuple[FleetSnapshot, str, int, int] | None = None
        self._painting = False
        self._cache_expected = False  # a cache file exists: the first listing does not paint page by page
        self.index = fleet_filter.FleetIndex.build([])
        self.query_text = ""
        self.loading_refresh = False
        self.refresh_pending = False
        self._timer: Timer | None = None
        self._region_errors: dict[str, str] = {}
        self.generation = 0
        self.last_filter_ms = 0.0
        self.refreshes = 0  # completed refreshes (tests and the bench wait on it)
        self.in_flight = 0
        self.peak_in_flight = 0  # stays 1: refreshes never overlap

    def compose(self) -> ComposeResult:
        yield SafeInput(
            placeholder="filter: text  tag:Role=web  state:stopped  ping:ConnectionLost  !negate   (enter: apply, esc: close)",
            id="fleet-filter",
        )
        with Horizontal(id="fleet-main"):
            yield NodeTable(FLEET_COLUMNS, key=lambda n: n.key, id="fleet-table")
            yield DetailPane(id="fleet-detail")
        yield Static(id="fleet-status", classes="-empty")  # a row for the table while there is nothing to say

    @property
    def table(self) -> NodeTable[FleetNode]:
        return self.query_one("#fleet-table", NodeTable)

    @property
    def ctx(self) -> AppContext:
        return context_of(self)

    def on_mount(self) -> None:
        self.mounted_at = time.perf_counter()
        self.table.border_title = Content("Fleet: loading…")
        settings = self.ctx.settings
        if settings.fleet_cache:
            self._cache_expected = fleet_cache.exists(settings.profile, settings.endpoint_url, settings.regions)
            self._paint_cache(self.generation)
        # no focus here: focusing a widget of a hidden pane makes TabbedContent show that pane, and the
        # Overview is the home screen (the app focuses the table whenever the Fleet tab is shown)
        self.ctx.fleet.selection_changed.subscribe(self, self._selection_from_model)
        self.ctx.fleet.filter_requested.subscribe(self, self.show_filter)

    # -- the lifecycle every tab has ------------------------------------------------------------------------
    def shown(self) -> None:
        self.table.focus()

    def reload(self) -> None:
        self.refresh_now()

    def apply_snapshot(
        self,
        snapshot: FleetSnapshot,
        prepared: PreparedRows[FleetNode] | None = None,
        index: fleet_filter.FleetIndex | None = None,
    ) -> None:
        if prepared is None or index is None:
            prepared, index = prepare_fleet(snapshot)
        self.snapshot = snapshot
        self.index = index
        self.table.set_prepared(prepared, self._visible_for if self.query_text else None)
        self._report_errors(snapshot)
        self._update_title()

    def _report_errors(self, snapshot: FleetSnapshot) -> None:
        lines = []
        current: dict[str, str] = {}
        for region in snapshot.errors:
            message = clean(str(region.error), 400)
            current[region.region] = message
            stale = ""
            if region.stale_since is not None:
                stale = f" (showing its {len(region.nodes)} nodes as of {region.stale_since.astimezone():%H:%M:%S})"
            lines.append(f"⚠ {message}{stale}")
            if self._region_errors.get(region.region) != message:
                self.app.notify(message, title=f"Fleet: {region.region} failed", severity="error", markup=False, timeout=10)
        self._region_errors = current
        status = self.query_one("#fleet-status", Static)
        status.update(Content("\n".join(lines)))
        status.set_class(not lines, "-empty")

    # -- filter -------------------------------------------------------------------------------------------
    def _visible_for(self, order: list[int]) -> list[int]:
        """Display positions whose source row matches the filter."""
        matched = bytearray(len(self.index.hay))
        for i in fleet_filter.apply_index(self.query_text, self.index):
            matched[i] = 1
        return [pos for pos, src in enumerate(order) if matched[src]]

    def _refilter(self) -> None:
        started = time.perf_counter()
        table = self.table
        visible = self._visible_for(table.order) if self.query_text else list(range(len(table.rows)))
        table.set_visible(visible)
        self._update_title()
        self.last_filter_ms = (time.perf_counter() - started) * 1000

    def set_filter(self, text: str) -> None:
        self.query_text = text
        self._refilter()

    def show_filter(self, text: str) -> None:
        """Another tab's jump: this filter in the box and applied, the table in front."""
        box = self.query_one("#fleet-filter", Input)
        box.value = text
        box.set_class(bool(text), "-shown")
        self.set_filter(text)
        self.table.focus()

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#fleet-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_escape(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        if box.has_focus:
            if not box.value:
                box.remove_class("-shown")
            self.table.focus()
            return
        detail = self.query_one(DetailPane)
        if detail.has_class("-shown"):
            detail.remove_class("-shown")
            return
        if self.table.selected:
            self.table.clear_selection()
            return
        if self.query_text:
            box.value = ""
            box.remove_class("-shown")

    # -- selection, sort, detail ----------------------------------------------------------------------------
    def action_toggle_select(self) -> None:
        self.table.toggle_selected()
        self.table.action_cursor(1)

    def action_select_visible(self) -> None:
        self.table.select_visible()

    @on(NodeTable.SelectionChanged, "#fleet-table")
    def _selection_changed(self) -> None:
        """The table's selection changed here: the model (and whoever follows it) learns it."""
        self._update_title()
        if self.ctx.fleet.selection != self.table.selected:
            self.ctx.fleet.select(self.table.selected)

    def _selection_from_model(self, keys: frozenset[str]) -> None:
        """Another tab chose the selection (the Inventory's found nodes): the table shows it."""
        if set(keys) != self.table.selected:
            self.table.set_selected(set(keys))
            self._update_title()

    def action_toggle_detail(self) -> None:
        detail = self.query_one(DetailPane)
        detail.toggle_class("-shown")
        if detail.has_class("-shown"):
            detail.show(self.table.cursor_row)

    def action_shell(self) -> None:
        nodes = self.table.selected_rows() or ([self.table.cursor_row] if self.table.cursor_row else [])
        if nodes:
            self.ctx.nav.open_shells(nodes)

    def action_run_command(self) -> None:
        nodes = self.table.selected_rows() or ([self.table.cursor_row] if self.table.cursor_row else [])
        self.ctx.nav.open_run_command(nodes)

    def action_logs(self) -> None:
        """L: the Logs tab following each node's stream in every log group of its region."""
        nodes = self.table.selected_rows() or ([self.table.cursor_row] if self.table.cursor_row else [])
        if nodes:
            self.ctx.nav.open_node_logs(nodes)

    def action_sort_next(self) -> None:
        keys = [c.key for c in FLEET_COLUMNS]
        current = self.table.sort_column
        nxt = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        self.table.sort_by(nxt, reverse=False)

    def action_sort_reverse(self) -> None:
        self.table.sort_by(self.table.sort_column or FLEET_COLUMNS[0].key, reverse=not self.table.sort_reverse)

    @on(NodeTable.CursorMoved, "#fleet-table")
    def _cursor_moved(self, event: NodeTable.CursorMoved) -> None:
        self.ctx.fleet.cursor_key = event.row.key if event.row is not None else None
        detail = self.query_one(DetailPane)
        if detail.has_class("-shown"):
            detail.show(event.row)

    @on(NodeTable.SortChanged, "#fleet-table")
    def _sort_changed(self, event: NodeTable.SortChanged) -> None:
        self._update_title()

    # -- title ----------------------------------------------------------------------------------------------
    def stats(self) -> FleetStats:
        rows = self.table.rows
        return FleetStats(
            total=len(rows),
            shown=len(self.table.order_shown),
            selected=len(self.table.selected),
            by_ping=Counter(n.ping_status for n in rows),
        )

    def _update_title(self) -> None:
        s = self.stats()
        parts = [f"Fleet {s.shown}/{s.total}" if s.shown != s.total else f"Fleet {s.total}"]
        for status in ("Online", "ConnectionLost", "Inactive", NOT_MANAGED):
            if s.by_ping.get(status):
                parts.append(f"{status} {s.by_ping[status]}")
        if s.selected:
            parts.append(f"selected {s.selected}")
        if self.query_text:
            parts.append(f"filter: {clean(self.query_text, 60)}")
        if self.snapshot and self.snapshot.errors:
            parts.append(f"{len(self.snapshot.errors)} region(s) failing")
        if self.showing == "cache" and self.snapshot is not None:
            parts.append(f"STALE: cached {age(self.snapshot.taken_at)} ago, refreshing…")
        elif self.showing == "partial":
            parts.append("loading…")
        self.table.border_title = Content(" · ".join(parts))
