"""How the Fleet loads: one refresh at a time (the next is scheduled with ``set_timer`` only after the previous
one ended, and a refresh asked for meanwhile runs right after, once), its progress page by page, and the
reset after a profile or region switch. A mixin of :class:`~opstui.views.fleet.view.FleetView`, which owns
the state it reads and writes, the ``Progress``/``Refreshed`` messages and ``apply_snapshot``; the painting
of rows before a refresh ends is :mod:`opstui.views.fleet.painting`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import work
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from opstui import fleet_cache
from opstui.aws.fleet import carry_over, load_fleet, with_finished_regions
from opstui.aws.models import FleetSnapshot
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.fleet import filter as fleet_filter
from opstui.views.fleet.columns import prepare_fleet
from opstui.views.fleet.detail import DetailPane


class LoadingMixin:
    generation: int
    snapshot: FleetSnapshot | None
    showing: str
    refreshes: int
    first_rows_at: float | None
    loading_refresh: bool
    refresh_pending: bool
    in_flight: int
    peak_in_flight: int
    index: fleet_filter.FleetIndex
    _timer: Timer | None
    _region_errors: dict[str, str]
    _cache_expected: bool
    ctx: Any
    app: Any
    table: NodeTable
    Progress: Any
    Refreshed: Any
    apply_snapshot: Any
    _queue_paint: Any
    post_message: Any
    set_timer: Any
    query_one: Any
    log: Any

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

    def on_fleet_view_progress(self, message: Any) -> None:
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

    def on_fleet_view_refreshed(self, message: Any) -> None:
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
