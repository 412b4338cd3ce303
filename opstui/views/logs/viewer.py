"""The log viewer: Textual's Line API (a ScrollView drawing only the rows on screen), like toolong's LogLines.

Why not a RichLog or a widget per line: at 100,000 lines a widget per line costs seconds and hundreds of MB;
here a line is one tuple ``(timestamp ms, source index, message)`` and is turned into a Strip only when it is
on screen (an LRU of rendered strips keeps scrolling back and forth cheap). Appending is a list extend plus
the filter check; filtering is an index list over the lines (``shown``), so a keystroke in the filter box
costs one pass over the messages, not a re-render.

Follow mode (``tail -f``, :mod:`.viewer_follow`): while following, each append scrolls to the bottom; scrolling
up pauses it. Several groups and streams are merged by timestamp: a line older than the newest
shown is inserted in its place (bisect), so following five groups reads as one log. Each source (group, or
group and stream) gets a label in a colour of its own.

The text is untrusted. A line keeps its SGR colours (parsed by Rich's ANSI decoder in ``opstui.safe.ansi_text``)
and nothing else: OSC titles and hyperlinks are dropped, cursor moves, ``\\r``, bidi overrides and every
other control character are shown as visible symbols; a newline inside an event shows as ⏎. Markup is never
parsed. A line without colours of its own gets its level word (ERROR, WARN, ...) or JSON ``"level"`` coloured.

Search (find without filtering) lives in :mod:`.viewer_search`, wrapping in :mod:`.viewer_wrap`; the text of
one line in :mod:`.lines`.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Offset, Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opstui.logfilter import LineFilter
from opstui.safe import clean
from opstui.views.logs.lines import (
    MAX_CHARS,
    SOURCE_COLOURS,
    STRIP_CACHE,
    Line,
    Search,
    json_cells,
    render_message,
)
from opstui.views.logs.viewer_follow import FollowMixin
from opstui.views.logs.viewer_search import SearchMixin
from opstui.views.logs.viewer_wrap import WrapMixin


class ViewerChanged(Message):
    """Something the panel shows beside the viewer changed; a burst of them collapses into one."""

    def __init__(self, viewer: LogViewer) -> None:
        super().__init__()
        self.viewer = viewer

    @property
    def control(self) -> LogViewer:
        return self.viewer

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self) and isinstance(message, ViewerChanged) and message.viewer is self.viewer


class LogViewer(FollowMixin, SearchMixin, WrapMixin, ScrollView, can_focus=True):
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

    class FollowChanged(ViewerChanged):
        """Following started or paused, or the count of unseen lines changed (a burst collapses into one)."""

    class SearchChanged(ViewerChanged):
        """The search's matches or the match jumped to changed (the panel's status line says "match 3 of 120")."""

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

    def line_texts(self) -> list[str]:
        """Every shown line's plain text (tests; not for 100,000 lines)."""
        return [self._render(i).plain for i in self.shown]

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
