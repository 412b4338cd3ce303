"""The log viewer's search: a mixin of :class:`~opstui.views.logs.viewer.LogViewer`, which owns the lines,
``shown``, the mark and the strip caches this reads and clears.

Search (find without filtering): a plain, case-insensitive substring of the stored message (``needle in
message.lower()``, the fastest of the ways measured: ~0.1-0.2 s for a million 80-character lines, where a
compiled ``re.IGNORECASE`` took 0.4-0.6 s and a joined, lowered blob with ``str.find`` 0.15-0.4 s). The scan
runs in slices of ``SEARCH_SLICE`` lines with the event loop served in between, so keys and frames go on while
it runs; lines appended meanwhile are scanned as they come. Matches are positions in ``shown``; a re-sort (a
late line), a new filter or a trim renumbers ``shown`` and starts the scan again. Every match on screen is
highlighted; ``n``/``N`` pause following and bring the next/previous matching line into view, marked.
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections import OrderedDict
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from opstui.views.logs.lines import Line, Search

SEARCH_SLICE = 20_000  # lines scanned between two turns of the event loop (~3 ms of CPU)


class SearchMixin:
    lines: list[Line]
    shown: list[int]
    following: bool
    mark: int | None
    search: Search | None
    search_style: Style
    scroll_y: float
    _version: int
    _scanner: Search | None
    _pending_jump: bool
    _strips: OrderedDict[int, Strip]
    _wraps: OrderedDict[int, list[Strip]]
    SearchChanged: Any
    post_message: Any
    refresh: Any
    run_worker: Any
    set_following: Any
    _forget: Any
    _jump: Any
    _on_screen_positions: Any

    # -- search -------------------------------------------------------------------------------------------------
    def start_search(self, text: str) -> None:
        """Find ``text`` (case-insensitive substring of the message) in the shown lines; highlight every match
        and, once the scan is done, bring the first match at or below the top (the newest while following)."""
        if not text:
            self.end_search()
            return
        self.search = Search(text, version=self._version)
        self._pending_jump = True
        self._forget()
        self.refresh()
        self._search_more()
        if not self.searching:
            self._pending_jump = False  # nothing shown yet: lines arriving later must not pull the view
        self.post_message(self.SearchChanged(self))

    def end_search(self) -> bool:
        """Stop searching (esc); False when there was no search."""
        if self.search is None:
            return False
        self.search = None
        self._pending_jump = False
        self._set_mark(None)
        self._forget()
        self.refresh()
        self.post_message(self.SearchChanged(self))
        return True

    @property
    def searching(self) -> bool:
        """A scan is under way (tests and the bench wait for it to end)."""
        return self.search is not None and self.search.scanned < len(self.shown)

    def _search_more(self) -> None:
        """Scan what is not scanned yet: a few lines in place (appends), a large rest in slices (a worker)."""
        search = self.search
        if search is None or self._scanner is search or search.scanned >= len(self.shown):
            return
        if len(self.shown) - search.scanned <= SEARCH_SLICE // 10:
            found = len(search.hits)
            self._scan_slice(search, SEARCH_SLICE)
            self._scan_done(search, changed=len(search.hits) != found)
            return
        self._scanner = search
        self.run_worker(self._scan(search), group="log-search", exclusive=True, exit_on_error=False)

    def _scan_slice(self, search: Search, limit: int) -> None:
        shown, lines, needle = self.shown, self.lines, search.needle
        start = search.scanned
        stop = min(len(shown), start + limit)
        search.hits.extend([p for p in range(start, stop) if needle in lines[shown[p]][2].lower()])
        search.scanned = stop

    async def _scan(self, search: Search) -> None:
        try:
            while self.search is search and search.scanned < len(self.shown):
                self._scan_slice(search, SEARCH_SLICE)
                self.post_message(self.SearchChanged(self))
                await asyncio.sleep(0)  # keys and frames between two slices
        finally:
            if self._scanner is search:
                self._scanner = None
        if self.search is search:
            self._scan_done(search, changed=True)

    def _scan_done(self, search: Search, *, changed: bool) -> None:
        if self._pending_jump:
            self._pending_jump = False
            if search.hits:
                if self.following:
                    self._go(len(search.hits) - 1)
                else:
                    k = bisect.bisect_left(search.hits, round(self.scroll_y))
                    self._go(k if k < len(search.hits) else 0, wrapped=k >= len(search.hits))
            changed = True
        if changed:
            self.refresh()
            self.post_message(self.SearchChanged(self))

    def search_step(self, direction: int) -> bool:
        """``n`` (1) / ``N`` (-1): the next / previous matching line, from the marked match if it is on screen,
        else from the screen; round the end to the other end. False when there is nothing to go to."""
        search = self.search
        if search is None or not search.hits:
            self.post_message(self.SearchChanged(self))
            return False
        hits = search.hits
        positions = self._on_screen_positions()
        current = search.current
        if current is not None and current < len(hits) and hits[current] in positions:
            k = current + direction
        elif direction > 0:
            k = bisect.bisect_left(hits, positions[0] if positions else 0)
        else:
            k = bisect.bisect_right(hits, positions[-1] if positions else len(self.shown)) - 1
        self._go(k % len(hits), wrapped=not 0 <= k < len(hits))
        return True

    def _go(self, k: int, *, wrapped: bool = False) -> None:
        """Pause, mark the k-th match and bring it into view (kept where it is when already on screen)."""
        search = self.search
        assert search is not None
        search.current, search.wrapped = k, wrapped
        position = search.hits[k]
        self.set_following(False)
        self._set_mark(position)
        if position not in self._on_screen_positions():
            self._jump(max(position - 2, 0))
        self.refresh()
        self.post_message(self.SearchChanged(self))

    def search_status(self) -> str:
        """One line for the status area: "match 3 of 120 for "x"", "no match for "x"", "searching…"."""
        search = self.search
        if search is None:
            return ""
        what = f'"{search.text}"'
        if search.scanned < len(self.shown):
            done = search.scanned * 100 // max(len(self.shown), 1)
            return f"searching {what}… {done}% · {len(search.hits):,} matches so far"
        if not search.hits:
            return f"no match for {what} · esc: end the search"
        if search.current is None:
            return f"{len(search.hits):,} matches for {what} · n / N: next / previous · esc: end the search"
        note = " (wrapped round)" if search.wrapped else ""
        return (f"match {search.current + 1:,} of {len(search.hits):,} for {what}{note} · n / N: next / previous "
                "· esc: end the search")

    def _set_mark(self, position: int | None) -> None:
        for old in (self.mark, position):
            if old is not None and old < len(self.shown):
                self._strips.pop(self.shown[old], None)
                self._wraps.pop(self.shown[old], None)
        self.mark = position

    def _renumbered(self) -> None:
        """``shown`` was renumbered: positions (mark, matches) are void; the search scans again."""
        self._version += 1
        if self.mark is not None:
            self.mark = None
            self._forget()  # the marked line's strip is cached with its mark
        search = self.search
        if search is not None:
            search.hits, search.scanned, search.current, search.version = [], 0, None, self._version

    def _highlight(self, text: Text, needle: str, start: int) -> None:
        """Every occurrence of ``needle`` after ``start`` (the message, not the time or the label)."""
        plain = text.plain
        lowered = plain.lower()
        if len(lowered) != len(plain):  # a character whose lower case is longer (İ): offsets would drift
            for found in re.finditer(re.escape(needle), plain[start:], re.IGNORECASE):
                text.stylize(self.search_style, start + found.start(), start + found.end())
            return
        at = lowered.find(needle, start)
        while at >= 0:
            text.stylize(self.search_style, at, at + len(needle))
            at = lowered.find(needle, at + len(needle))
