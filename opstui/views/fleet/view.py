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

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from opstui import fleet_cache
from opstui.aws.fleet import NOT_MANAGED, carry_over, load_fleet, with_finished_regions
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
from opstui.views.fleet.painting import PaintingMixin


@dataclass
class FleetStats:
    total: int
    shown: int
    selected: int
    by_ping: Counter[str]


class FleetView(PaintingMixin, Vertical):
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

    # -- loading ------------------------------------------------------------------------------------------
    def refresh_now(self) -> None:
        """Start a refresh unless one is running (then it runs right after, once)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.loading_refresh:
            self.refresh_pending = True
            return
        self.loading_refresh = True
        self._load(self.generation)

    def reset(self, generation: int) -> None:
        """The account, profile or regions changed: forget every node of the previous one at once."""
        self.generation = generation
        self.snapshot = None
        self.ctx.fleet.set_snapshot(None)
        self.ctx.fleet.select(())
        self.index = fleet_filter.FleetIndex.build([])
        self._region_errors.clear()
        self.showing = ""
        self.table.set_rows([])
        self.query_one("#fleet-status", Static).update("")
        self.query_one("#fleet-status", Static).add_class("-empty")
        self.table.border_title = Content("Fleet: loading…")
        self.query_one(DetailPane).show(None)
        if self.loading_refresh:
            self.refresh_pending = True
        else:
            self.refresh_now()

    @work(group="fleet-refresh", exit_on_error=False)
    async def _load(self, generation: int) -> None:
        ctx = self.ctx
        started = time.perf_counter()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        ui_loop = asyncio.get_running_loop()

        def progress(partial: FleetSnapshot, done: frozenset[str]) -> None:  # on the AWS loop: to the UI loop
            ui_loop.call_soon_threadsafe(self.post_message, self.Progress(partial, done, generation))

        # only the first listing shows its rows page by page, and not when the cached fleet is about to show
        pages = self.snapshot is None and not self._cache_expected
        try:
            snapshot = await ctx.run(load_fleet(ctx.aws, ctx.settings.regions, progress, pages=pages))
            if generation == self.generation:
                # a region failing now keeps its last good rows, cached ones included (still marked stale)
                snapshot = carry_over(None if self.showing == "partial" else self.snapshot, snapshot)
            # cleaning cells and building the filter index of 10,000 rows takes a few hundred ms: off the UI thread
            prepared, index = await asyncio.to_thread(prepare_fleet, snapshot)
            if ctx.settings.fleet_cache and generation == self.generation:
                try:
                    await asyncio.to_thread(fleet_cache.save, ctx.settings.profile, ctx.settings.endpoint_url, snapshot)
                except OSError as exc:  # a full disk or a read-only home must not stop the Fleet
                    self.log(f"fleet cache not written: {exc}")
        finally:
            self.in_flight -= 1
            self.loading_refresh = False
        self.post_message(self.Refreshed(snapshot, generation, prepared, index))
        self.log(f"fleet refresh {time.perf_counter() - started:.2f}s")

    def on_fleet_view_progress(self, message: Progress) -> None:
        """A refresh under way. Before any table: its rows so far. Over a shown table (the last refresh's, or
        the cached one): only its finished regions replace theirs, so a slow region never holds the others back
        and a cached region stays (stale) until its own listing is complete."""
        if message.generation != self.generation:
            return
        if self.snapshot is None or self.showing == "partial":
            self._queue_paint(message.snapshot, "partial", message.generation)
            return
        if not message.done:
            return
        merged = with_finished_regions(self.snapshot, message.snapshot, message.done)
        still_cached = any(r.stale_since is not None and r.error is None for r in merged.regions)
        showing = "cache" if self.showing == "cache" and still_cached else ""
        self._queue_paint(merged, showing, message.generation)

    def on_fleet_view_refreshed(self, message: Refreshed) -> None:
        if message.generation == self.generation:
            self.showing = ""
            self.apply_snapshot(message.snapshot, message.prepared, message.index)
            self.first_rows_at = self.first_rows_at or time.perf_counter()
            self.refreshes += 1
            self.ctx.fleet.set_snapshot(message.snapshot)
        if self.refresh_pending:
            self.refresh_pending = False
            self.refresh_now()
        else:
            self._schedule()

    def on_worker_state_changed(self, event) -> None:  # a failed load (unexpected) still re-arms the timer
        from textual.worker import WorkerState

        if event.worker.group == "fleet-refresh" and event.state == WorkerState.ERROR:
            self.loading_refresh = False
            self.app.notify(f"Fleet refresh failed: {clean(event.worker.error)}", severity="error", markup=False)
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.ctx.settings.refresh, self.refresh_now)

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
