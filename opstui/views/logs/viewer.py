"""The log viewer: Textual's Line API (a ScrollView drawing only the rows on screen), like toolong's LogLines.

Why not a RichLog or a widget per line: at 100,000 lines a widget per line costs seconds and hundreds of MB;
here a line is one tuple ``(timestamp ms, source index, message)`` and is turned into a Strip only when it is
on screen (an LRU of rendered strips keeps scrolling back and forth cheap). Appending is a list extend plus
the filter check; filtering is an index list over the lines (``shown``), so a keystroke in the filter box
costs one pass over the messages, not a re-render.

Follow mode (``tail -f``): while following, each append scrolls to the bottom. Scrolling up (keys, wheel,
scrollbar) pauses it; lines keep arriving and the border says "N new lines"; ``end``/``G`` (or scrolling back
to the bottom) resumes. Several groups and streams are merged by timestamp: a line older than the newest
shown is inserted in its place (bisect), so following five groups reads as one log. Each source (group, or
group and stream) gets a label in a colour of its own.

The text is untrusted. A line keeps its SGR colours (parsed by Rich's ANSI decoder in ``opstui.safe.ansi_text``)
and nothing else: OSC titles and hyperlinks are dropped, cursor moves, ``\\r``, bidi overrides and every
other control character are shown as visible symbols; a newline inside an event shows as ⏎. Markup is never
parsed. A line without colours of its own gets its level word (ERROR, WARN, ...) or JSON ``"level"`` coloured.

Search (find without filtering): a plain, case-insensitive substring of the stored message (``needle in
message.lower()``, the fastest of the ways measured: ~0.1-0.2 s for a million 80-character lines, where a
compiled ``re.IGNORECASE`` took 0.4-0.6 s and a joined, lowered blob with ``str.find`` 0.15-0.4 s). The scan
runs in slices of ``SEARCH_SLICE`` lines with the event loop served in between, so keys and frames go on while
it runs; lines appended meanwhile are scanned as they come. Matches are positions in ``shown``; a re-sort (a
late line), a new filter or a trim renumbers ``shown`` and starts the scan again. Every match on screen is
highlighted; ``n``/``N`` pause following and bring the next/previous matching line into view, marked.

Wrap: the scroll position stays in lines (``scroll_y`` is the shown line at the top), and the rows of the
window are laid out from there each repaint: a line takes ``1 + ceil((cells - width) / (width - indent))``
rows, continuation rows indented under the message. When the lines below the top do not fill the screen, the
last screenful is shown bottom-aligned instead, so the newest line is always on the last row when following.
The virtual height is ``len(shown) + height - 1`` so every line can be the top one.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opstui.logfilter import LineFilter
from opstui.safe import ansi_text, clean, clean_block

MAX_CHARS = 4000  # of one message drawn (the rest is cut with a marker); the line stays whole for the filter
STRIP_CACHE = 3000
SEARCH_SLICE = 20_000  # lines scanned between two turns of the event loop (~3 ms of CPU)
SOURCE_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
LEVELS = re.compile(r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b", re.IGNORECASE)
LEVEL_STYLES = {
    "FATAL": Style(color="red", bold=True, reverse=True), "CRITICAL": Style(color="red", bold=True),
    "CRIT": Style(color="red", bold=True), "ERROR": Style(color="red", bold=True), "ERR": Style(color="red", bold=True),
    "WARNING": Style(color="yellow"), "WARN": Style(color="yellow"), "NOTICE": Style(color="cyan"),
    "INFO": Style(color="green"), "DEBUG": Style(dim=True), "TRACE": Style(dim=True),
}

Line = tuple[int, int, str]  # (timestamp ms, source index, message)


@dataclass
class Search:
    """A find in the shown lines: the text, the matching positions in ``shown`` found so far (ascending), how
    far the scan got, and the match jumped to last (an index into ``hits``)."""

    text: str
    needle: str = ""
    hits: list[int] = field(default_factory=list)
    scanned: int = 0  # positions [0, scanned) of shown were scanned
    current: int | None = None
    wrapped: bool = False  # the last n/N went round the end
    version: int = 0  # the viewer's shown version the hits are for

    def __post_init__(self) -> None:
        self.needle = self.text.lower()


def render_message(message: str) -> Text:
    """One message as one line of safe text: SGR colours kept, everything else literal or visible."""
    body = message if len(message) <= MAX_CHARS else message[:MAX_CHARS]
    body = body.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", "    ")
    text = ansi_text(body) if "\x1b" in body or "\x9b" in body else Text(clean_block(body), end="")
    if len(message) > MAX_CHARS:
        text.append(f" … (+{len(message) - MAX_CHARS} chars)", style="dim")
    if not text.spans:
        found = LEVELS.search(text.plain, 0, 200)
        if found:
            text.stylize(LEVEL_STYLES[found.group(1).upper()], found.start(), found.end())
    return text


def json_cells(message: str, fields: tuple[str, ...]) -> list[str] | None:
    """The values of ``fields`` in a JSON event, as text ("" when missing); None when it is not a JSON object."""
    text = message.lstrip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    cells = []
    for name in fields:
        value: Any = obj
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        cells.append("" if value is None else value if isinstance(value, str) else json.dumps(value))
    return cells


class LogViewer(ScrollView, can_focus=True):
    """Lines of one or more sources, in timestamp order, drawn by ``render_line``; follow, filter, merge."""

    BINDINGS = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False),
        Binding("down,j", "scroll_by(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "bottom", "Bottom / follow", show=False),
        Binding("left,h", "scroll_left", "Left", show=False),
        Binding("right,l", "scroll_right", "Right", show=False),
    ]
    COMPONENT_CLASSES = {"log-viewer--time", "log-viewer--match", "log-viewer--search", "log-viewer--mark"}
    DEFAULT_CSS = """
    LogViewer { height: 1fr; border: round $primary-darken-1; border-title-align: left;
                border-subtitle-align: right; }
    LogViewer:focus { border: round $accent; }
    LogViewer > .log-viewer--time { color: $text-muted; }
    LogViewer > .log-viewer--match { background: $warning 40%; text-style: bold; }
    LogViewer > .log-viewer--search { background: $accent 60%; color: $text; text-style: bold underline; }
    LogViewer > .log-viewer--mark { text-style: reverse bold; }
    """

    class FollowChanged(Message):
        """Following started or paused, or the count of unseen lines changed (a burst collapses into one)."""

        def __init__(self, viewer: LogViewer) -> None:
            super().__init__()
            self.viewer = viewer

        @property
        def control(self) -> LogViewer:
            return self.viewer

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogViewer.FollowChanged) and message.viewer is self.viewer

    class SearchChanged(Message):
        """The search's matches or the match jumped to changed (the panel's status line says "match 3 of 120")."""

        def __init__(self, viewer: LogViewer) -> None:
            super().__init__()
            self.viewer = viewer

        @property
        def control(self) -> LogViewer:
            return self.viewer

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogViewer.SearchChanged) and message.viewer is self.viewer

    def __init__(self, *, max_lines: int = 1_000_000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.lines: list[Line] = []
        self.shown: list[int] = []  # indices into lines, in timestamp order, that pass the filter
        self.sources: list[str] = []
        self._source_index: dict[str, int] = {}
        self.line_filter = LineFilter()
        self.following = True
        self.unseen = 0  # lines appended (and shown) while paused
        self.show_source = True
        self.utc = True
        self.json_fields: tuple[str, ...] = ()  # JSON events drawn as these fields in columns
        self._field_widths: list[int] = []
        self._strips: OrderedDict[int, Strip] = OrderedDict()
        self._width = 0  # widest line seen (characters, an estimate of cells)
        self._label_width = 0
        self._auto_scroll = False
        self._in_order = True  # every line was appended in timestamp order (no late event inserted)
        self._scroll = Offset(0, 0)
        self._line_width = 0
        self._line_style = Style()  # the widget's style, read once per repaint (rich_style costs ~0.1 ms)
        self.time_style = Style(dim=True)
        self.match_style = Style(bgcolor="yellow", color="black", bold=True)
        self.search_style = Style(bgcolor="yellow", color="black")
        self.mark_style = Style(reverse=True, bold=True)
        self.search: Search | None = None
        self.mark: int | None = None  # the shown position jumped to last (a match, a time): marked, and J shows it
        self.wrap = False
        self._version = 0  # bumped whenever shown is renumbered (filter, re-sort, trim, clear)
        self._wraps: OrderedDict[int, list[Strip]] = OrderedDict()  # wrapped rows of a line, for _wrap_width
        self._wrap_width = 0
        self._rows: list[tuple[int, int]] = []  # wrap: (shown position, row of that line) per screen row
        self._scanner: Search | None = None  # the search a scan worker is running for
        self._pending_jump = False  # bring the first match into view once the scan is done

    def on_mount(self) -> None:
        self._theme_styles()
        self.watch(self.app, "theme", lambda _theme: self._theme_styles(), init=False)
        self._retitle()

    def _theme_styles(self) -> None:
        self.time_style = self.get_component_rich_style("log-viewer--time", partial=True)
        self.match_style = self.get_component_rich_style("log-viewer--match", partial=True)
        self.search_style = self.get_component_rich_style("log-viewer--search", partial=True)
        self.mark_style = self.get_component_rich_style("log-viewer--mark", partial=True)
        self._forget()
        self.refresh()

    # -- data -----------------------------------------------------------------------------------------------
    def source(self, label: str) -> int:
        index = self._source_index.get(label)
        if index is None:
            index = self._source_index[label] = len(self.sources)
            self.sources.append(label)
            self._label_width = min(max(self._label_width, cell_len(clean(label, 40))), 40)
            self._forget()
        return index

    def clear(self) -> None:
        self.lines, self.shown, self.sources, self._source_index = [], [], [], {}
        self._in_order = True
        self._renumbered()
        self._forget()
        self._width = self._label_width = 0
        self.unseen = 0
        self.following = True
        self._resize_virtual()
        self.refresh()
        self._retitle()
        self.post_message(self.FollowChanged(self))

    def append(self, items: Iterable[tuple[int, str, str]]) -> int:
        """Add ``(timestamp ms, source label, message)`` lines; returns how many passed the filter.

        Lines older than the newest shown (a late event, another group's clock) are merged into place: one
        stable sort of the nearly sorted index list per batch (Timsort: linear), not an insert per line."""
        lines, shown, flt = self.lines, self.shown, self.line_filter
        fresh: list[int] = []
        width = self._width
        last_ts = lines[-1][0] if lines else None
        in_order = True
        for ts, label, message in items:
            index = len(lines)
            lines.append((ts, self.source(label), message))
            if last_ts is not None and ts < last_ts:
                in_order = self._in_order = False
            last_ts = ts
            if flt.empty or flt.matches(message):
                fresh.append(index)
            if len(message) > width:
                width = min(len(message), MAX_CHARS + 30)
        self._width = width
        if fresh:
            late = shown and lines[fresh[0]][0] < lines[shown[-1]][0]
            shown.extend(fresh)
            if late or not in_order:
                shown.sort(key=self._ts_of)
                self._renumbered()
        added = len(fresh)
        if len(lines) > self.max_lines:
            self._trim(len(lines) - self.max_lines + self.max_lines // 10)
        self._search_more()
        self._resize_virtual()
        if self.following:
            self._scroll_bottom()
        elif added:
            self.unseen += added
            self.post_message(self.FollowChanged(self))
        self.refresh()
        self._retitle()
        return added

    def set_show_source(self, show: bool) -> None:
        self.show_source = show
        self._forget()
        self._resize_virtual()
        self.refresh()

    def set_json_fields(self, fields: Iterable[str]) -> None:
        """Draw JSON events as these fields (dotted paths, ``$.`` optional) in columns; () for the whole line.
        Column widths come from the newest 2,000 lines (at most 40 cells each)."""
        self.json_fields = tuple(f.strip().removeprefix("$.") for f in fields if f.strip().removeprefix("$."))
        widths = [len(f) for f in self.json_fields]
        for index in self.shown[-2000:]:
            cells = json_cells(self.lines[index][2], self.json_fields)
            if cells is not None:
                widths = [max(w, min(len(c), 40)) for w, c in zip(widths, cells, strict=True)]
        self._field_widths = widths
        self._forget()
        self.refresh()

    def _ts_of(self, index: int) -> int:
        return self.lines[index][0]

    def _trim(self, count: int) -> None:
        """Drop the oldest ``count`` lines (memory stays bounded while following for hours)."""
        self.lines = self.lines[count:]
        self.shown = [i - count for i in self.shown if i >= count]
        self._renumbered()
        self._forget()

    def set_filter(self, line_filter: LineFilter) -> None:
        """Show only the lines that pass; the line at the top of the screen stays in view when it passes."""
        top = self.shown[round(self.scroll_y)] if self.shown and not self.following and \
            round(self.scroll_y) < len(self.shown) else None
        self.line_filter = line_filter
        if line_filter.empty:
            shown = sorted(range(len(self.lines)), key=self._ts_of) if self._unordered() else list(range(len(self.lines)))
        else:
            lines = self.lines
            shown = [i for i in range(len(lines)) if line_filter.matches(lines[i][2])]
            if self._unordered():
                shown.sort(key=self._ts_of)
        self.shown = shown
        self._renumbered()
        self._search_more()
        self._forget()
        self._resize_virtual()
        if self.following:
            self._scroll_bottom()
        elif top is not None:
            pos = bisect.bisect_left(shown, self.lines[top][0], key=self._ts_of)
            self._jump(min(pos, max(len(shown) - 1, 0)))
        self.refresh()
        self._retitle()

    def _unordered(self) -> bool:
        return not self._in_order

    def visible_text(self) -> list[str]:
        """The plain text of the lines on screen, one entry per line however many rows it takes (tests)."""
        return [self._render(self.shown[p]).plain for p in self._on_screen_positions()]

    def screen_rows(self) -> list[str]:
        """The text of each row of the screen as drawn (wrapped or cropped), trailing blanks removed (tests)."""
        self._prepare(self.scroll_offset)
        return [self.render_line(y).text.rstrip() for y in range(self._body_height())]

    def _on_screen_positions(self) -> list[int]:
        if self.wrap:
            return list(dict.fromkeys(p for p, _ in self._layout(round(self.scroll_y))))
        top = round(self.scroll_y)
        return list(range(top, min(top + self._body_height(), len(self.shown))))

    def current_line(self) -> Line | None:
        """The line J shows: the marked one (last match or time jumped to) if on screen, else the newest while
        following, else the top one on screen."""
        if not self.shown:
            return None
        positions = self._on_screen_positions()
        if self.mark is not None and self.mark in positions:
            return self.lines[self.shown[self.mark]]
        if self.following or not positions:
            return self.lines[self.shown[-1]]
        return self.lines[self.shown[positions[0]]]

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

    # -- wrap ---------------------------------------------------------------------------------------------------
    def set_wrap(self, wrap: bool) -> None:
        """Long lines wrap to the width (no horizontal scrolling), or are cropped and scroll sideways."""
        self.wrap = wrap
        self._wraps.clear()
        self._resize_virtual()
        if wrap:
            self.scroll_to(x=0, animate=False, immediate=True)
        if self.following:
            self._scroll_bottom()
        self.refresh()

    def _prefix_width(self) -> int:
        return 13 + (self._label_width + 1 if self.show_source and self.sources else 0)

    def _wrap_cells(self) -> int:
        return max(self.scrollable_content_region.width, 1)

    def _wrapped(self, index: int) -> list[Strip]:
        """The rows of one line wrapped to the width, continuation rows indented under the message."""
        width = self._wrap_cells()
        if width != self._wrap_width:
            self._wraps.clear()
            self._wrap_width = width
        rows = self._wraps.get(index)
        if rows is not None:
            self._wraps.move_to_end(index)
            return rows
        strip = self._strip(index)
        indent = self._prefix_width() if width - self._prefix_width() >= 20 else 0
        rows = [strip.crop(0, width)]
        step, x = width - indent, width
        pad = Strip.blank(indent)
        while x < strip.cell_length:
            piece = strip.crop(x, x + step)
            rows.append(Strip.join([pad, piece]) if indent else piece)
            x += step
        self._wraps[index] = rows
        if len(self._wraps) > STRIP_CACHE:
            self._wraps.popitem(last=False)
        return rows

    def _layout(self, top: int) -> list[tuple[int, int]]:
        """The screen's rows when wrapping: (shown position, row of that line), from the line at ``top``; when
        the lines from there do not fill the screen, the last screenful bottom-aligned."""
        height, shown = self._body_height(), self.shown
        top = min(max(top, 0), max(len(shown) - 1, 0))
        rows: list[tuple[int, int]] = []
        p = top
        while p < len(shown) and len(rows) < height:
            rows.extend((p, k) for k in range(len(self._wrapped(shown[p]))))
            p += 1
        if len(rows) < height and top > 0:
            rows = []
            p = len(shown) - 1
            while p >= 0 and len(rows) < height:
                rows[:0] = [(p, k) for k in range(len(self._wrapped(shown[p])))]
                p -= 1
            return rows[-height:]
        return rows[:height]

    def line_texts(self) -> list[str]:
        """Every shown line's plain text (tests; not for 100,000 lines)."""
        return [self._render(i).plain for i in self.shown]

    # -- follow -------------------------------------------------------------------------------------------------
    def set_following(self, following: bool) -> None:
        if following == self.following and not (following and self.unseen):
            return
        self.following = following
        if following:
            self.unseen = 0
            self._scroll_bottom()
        self._retitle()
        self.post_message(self.FollowChanged(self))

    def _scroll_bottom(self) -> None:
        self._auto_scroll = True
        try:
            self.scroll_to(y=self._bottom(), animate=False, immediate=True, force=True)
        finally:
            self._auto_scroll = False

    def _body_height(self) -> int:
        return max(self.scrollable_content_region.height, 1)

    def _bottom(self) -> int:
        """The scroll position that shows the newest line: a screenful up, or (wrapping) the last line."""
        return max(0, len(self.shown) - (1 if self.wrap else self._body_height()))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._auto_scroll or not self.is_mounted:
            return
        at_bottom = round(new_value) >= self.max_scroll_y
        if new_value < old_value and self.following and not at_bottom:
            self.set_following(False)  # the user scrolled up: pause (a clamp to a new bottom is no scroll up)
        elif at_bottom and not self.following and new_value > old_value:
            self.set_following(True)  # back at the bottom: follow again

    def _jump(self, position: int) -> None:
        self._auto_scroll = True
        try:
            self.scroll_to(y=position, animate=False, immediate=True, force=True)
        finally:
            self._auto_scroll = False

    def action_scroll_by(self, delta: int) -> None:
        self._scroll_lines(delta)

    def action_page(self, direction: int) -> None:
        """A screenful less one line; wrapping, the lines on screen less one (a page of rows, not of lines)."""
        lines = len(self._on_screen_positions()) if self.wrap else self._body_height()
        self._scroll_lines(direction * max(lines - 1, 1))

    def _scroll_lines(self, delta: int) -> None:
        """Move the top line by ``delta``. Wrapping, from the line at the top of the screen: at the end the
        screen is bottom-aligned and scroll_y (up to the last line) is further down than what shows."""
        if not self.wrap or not self.shown:
            self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True)
            return
        top = self._on_screen_positions()[0]
        bottom_aligned = top != round(self.scroll_y)  # the end is on screen already: down resumes following
        target = self._bottom() if delta > 0 and bottom_aligned else top + delta
        self.scroll_to(y=target, animate=False, immediate=True)

    def action_top(self) -> None:
        self.set_following(False)
        self._jump(0)

    def action_bottom(self) -> None:
        self.set_following(True)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self.following:
            self.set_following(False)

    def jump_to_time(self, ts_ms: int) -> None:
        """Pause and show the first line at or after ``ts_ms`` at the top (an alarm's moment)."""
        self.set_following(False)
        position = bisect.bisect_left(self.shown, ts_ms, key=self._ts_of)
        self._set_mark(position if position < len(self.shown) else None)
        self._jump(position)
        self.refresh()

    # -- drawing ----------------------------------------------------------------------------------------------
    def _resize_virtual(self) -> None:
        if self.wrap:
            # the container's height, not the body's: a horizontal scrollbar going away must not shrink
            # max_scroll_y under the bottom line (Textual would clamp scroll_y, and that reads as scrolling up)
            height = len(self.shown) + max(self.container_size.height, 1) - 1 if self.shown else 0
            self.virtual_size = Size(self._wrap_cells(), height)
            return
        prefix = 13 + (self._label_width + 1 if self.show_source else 0)
        self.virtual_size = Size(prefix + self._width, len(self.shown))

    def _retitle(self) -> None:
        if not self.is_mounted:
            return
        total, shown = len(self.lines), len(self.shown)
        count = f"{shown:,}" if shown == total else f"{shown:,}/{total:,}"
        self.border_title = f"{count} lines · {len(self.sources)} source(s)"
        if self.following:
            self.border_subtitle = "following (scroll up to pause)"
        elif self.unseen:
            self.border_subtitle = f"paused · {self.unseen:,} new lines · end: follow"
        else:
            self.border_subtitle = "paused · end: follow"

    def _render(self, index: int) -> Text:
        ts, source, message = self.lines[index]
        text = Text(no_wrap=True, end="")
        when = datetime.fromtimestamp(ts / 1000, UTC) if self.utc else datetime.fromtimestamp(ts / 1000).astimezone()
        text.append(f"{when:%H:%M:%S}.{ts % 1000:03d} ", self.time_style)
        if self.show_source and self.sources:
            label = clean(self.sources[source], 40)
            text.append(label.ljust(self._label_width) + " ", Style(color=SOURCE_COLOURS[source % len(SOURCE_COLOURS)]))
        start = len(text)  # the message begins here (the search highlights only the message)
        cells = json_cells(message, self.json_fields) if self.json_fields else None
        if cells is not None:
            last = len(cells) - 1
            for i, (cell, width) in enumerate(zip(cells, self._field_widths, strict=True)):
                body = render_message(cell[:width])
                if i < last:
                    body.pad_right(width - body.cell_len + 2)
                text.append_text(body)
        else:
            text.append_text(render_message(message))
        if self.line_filter.highlight:
            text.highlight_words(self.line_filter.highlight, self.match_style, case_sensitive=False)
        search = self.search
        if search is not None:
            self._highlight(text, search.needle, start)
        if self.mark is not None and self.mark < len(self.shown) and self.shown[self.mark] == index:
            text.stylize(self.mark_style, 0, 12)
        return text

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

    def _strip(self, index: int) -> Strip:
        strip = self._strips.get(index)
        if strip is not None:
            self._strips.move_to_end(index)
            return strip
        text = self._render(index)
        segments = list(text.render(self.app.console))
        strip = Strip(segments, text.cell_len)
        self._strips[index] = strip
        if len(self._strips) > STRIP_CACHE:
            self._strips.popitem(last=False)
        return strip

    def _forget(self) -> None:
        """Drop every rendered line (styles, widths, labels or highlights changed)."""
        self._strips.clear()
        self._wraps.clear()

    def _prepare(self, scroll: Offset) -> None:
        self._line_style = self.rich_style  # once per repaint, not once per line
        self._scroll = scroll
        self._line_width = self.size.width
        if self.wrap:
            self._rows = self._layout(scroll.y)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._prepare(self.scroll_offset)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self._line_width or self.size.width
        scroll_x, scroll_y = self._scroll
        style = self._line_style
        if self.wrap:
            if y >= len(self._rows):
                return Strip.blank(width, style)
            position, row = self._rows[y]
            rows = self._wrapped(self.shown[position])
            return rows[row].crop_extend(0, width, style) if row < len(rows) else Strip.blank(width, style)
        position = scroll_y + y
        if position >= len(self.shown):
            return Strip.blank(width, style)
        return self._strip(self.shown[position]).crop_extend(scroll_x, scroll_x + width, style)

    def on_resize(self) -> None:
        self._forget()
        if self.wrap:
            self._resize_virtual()
        if self.following:
            self._scroll_bottom()
