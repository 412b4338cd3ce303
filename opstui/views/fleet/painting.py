"""How the Fleet paints rows before a refresh ends: the cached fleet at start (a screenful first, then all of
it) and the rows of a listing under way, one paint at a time. A mixin of :class:`FleetView`, which owns the
state it reads (``generation``, ``snapshot``, ``showing``, ``refreshes``) and ``apply_snapshot``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import work

from opstui import fleet_cache
from opstui.aws.models import FleetSnapshot
from opstui.views.fleet.columns import prepare_fleet

#: cached rows shown first, before the whole cached fleet (more than a tall terminal shows)
CACHE_FIRST_ROWS = 200


class PaintingMixin:
    generation: int
    snapshot: FleetSnapshot | None
    showing: str
    refreshes: int
    cache_painted_at: float | None
    first_rows_at: float | None
    _pending_paint: tuple[FleetSnapshot, str, int, int] | None
    _painting: bool
    ctx: Any
    apply_snapshot: Any

    @work(group="fleet-cache", exit_on_error=False)
    async def _paint_cache(self, generation: int) -> None:
        """The last known fleet, at once and marked stale, unless a refresh already showed rows: first a
        screenful (reading and preparing 10,000 rows takes about half a second of CPU), then all of it."""
        settings = self.ctx.settings
        where = (settings.profile, settings.endpoint_url, settings.regions)
        head = await asyncio.to_thread(fleet_cache.load, *where, CACHE_FIRST_ROWS)
        if head is None or generation != self.generation or self.snapshot is not None:
            return
        prepared, index = await asyncio.to_thread(prepare_fleet, head)
        if generation != self.generation or self.snapshot is not None:
            return
        self.showing = "cache"
        self.apply_snapshot(head, prepared, index)
        self.cache_painted_at = time.perf_counter()
        self.first_rows_at = self.first_rows_at or self.cache_painted_at
        if len(head.nodes) < CACHE_FIRST_ROWS:
            return  # that was all of it
        cached = await asyncio.to_thread(fleet_cache.load, *where)
        if cached is None:
            return
        prepared, index = await asyncio.to_thread(prepare_fleet, cached)
        if generation == self.generation and self.showing == "cache" and self.snapshot is head:
            self.apply_snapshot(cached, prepared, index)

    def _queue_paint(self, snapshot: FleetSnapshot, showing: str, generation: int) -> None:
        """Paint the latest progress; one paint at a time (preparing 10,000 rows is CPU the listing needs too),
        the ones that came meanwhile folded into the newest."""
        self._pending_paint = (snapshot, showing, generation, self.refreshes)
        if not self._painting:
            self._painting = True
            self._paint_progress()

    @work(group="fleet-partial", exit_on_error=False)
    async def _paint_progress(self) -> None:
        try:
            while self._pending_paint is not None:
                snapshot, showing, generation, refreshes = self._pending_paint
                self._pending_paint = None
                prepared, index = await asyncio.to_thread(prepare_fleet, snapshot)
                if generation != self.generation or refreshes != self.refreshes:
                    continue  # the refresh ended (or the context changed) meanwhile: its full table wins
                self.showing = showing
                self.apply_snapshot(snapshot, prepared, index)
                self.first_rows_at = self.first_rows_at or time.perf_counter()
        finally:
            self._painting = False
