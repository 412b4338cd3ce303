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
"""

from __future__ import annotations

import bisect
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
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
SOURCE_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
LEVELS = re.compile(r"\b(FATAL|CRITICAL|CRIT|ERROR|ERR|WARNING|WARN|NOTICE|INFO|DEBUG|TRACE)\b", re.IGNORECASE)
LEVEL_STYLES = {
    "FATAL": Style(color="red", bold=True, reverse=True), "CRITICAL": Style(color="red", bold=True),
    "CRIT": Style(color="red", bold=True), "ERROR": Style(color="red", bold=True), "ERR": Style(color="red", bold=True),
    "WARNING": Style(color="yellow"), "WARN": Style(color="yellow"), "NOTICE": Style(color="cyan"),
    "INFO": Style(color="green"), "DEBUG": Style(dim=True), "TRACE": Style(dim=True),
}

Line = tuple[int, int, str]  # (timestamp ms, source index, message)


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
    COMPONENT_CLASSES = {"log-viewer--time", "log-viewer--match"}
    DEFAULT_CSS = """
    LogViewer { height: 1fr; border: round $primary-darken-1; border-title-align: left;
                border-subtitle-align: right; }
    LogViewer:focus { border: round $accent; }
    LogViewer > .log-viewer--time { color: $text-muted; }
    LogViewer > .log-viewer--match { background: $warning 40%; text-style: bold; }
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

    def on_mount(self) -> None:
        self._theme_styles()
        self.watch(self.app, "theme", lambda _theme: self._theme_styles(), init=False)
        self._retitle()

    def _theme_styles(self) -> None:
        self.time_style = self.get_component_rich_style("log-viewer--time", partial=True)
        self.match_style = self.get_component_rich_style("log-viewer--match", partial=True)
        self._strips.clear()
        self.refresh()

    # -- data -----------------------------------------------------------------------------------------------
    def source(self, label: str) -> int:
        index = self._source_index.get(label)
        if index is None:
            index = self._source_index[label] = len(self.sources)
            self.sources.append(label)
            self._label_width = min(max(self._label_width, cell_len(clean(label, 40))), 40)
            self._strips.clear()
        return index

    def clear(self) -> None:
        self.lines, self.shown, self.sources, self._source_index = [], [], [], {}
        self._in_order = True
        self._strips.clear()
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
        added = len(fresh)
        if len(lines) > self.max_lines:
            self._trim(len(lines) - self.max_lines + self.max_lines // 10)
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
        self._strips.clear()
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
        self._strips.clear()
        self.refresh()

    def _ts_of(self, index: int) -> int:
        return self.lines[index][0]

    def _trim(self, count: int) -> None:
        """Drop the oldest ``count`` lines (memory stays bounded while following for hours)."""
        self.lines = self.lines[count:]
        self.shown = [i - count for i in self.shown if i >= count]
        self._strips.clear()

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
        self._strips.clear()
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
        """The plain text of the lines on screen (tests read it)."""
        top = round(self.scroll_y)
        return [self._render(self.shown[p]).plain for p in range(top, min(top + self.size.height, len(self.shown)))]

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
            self.scroll_to(y=max(0, len(self.shown) - self._body_height()), animate=False, immediate=True)
        finally:
            self._auto_scroll = False

    def _body_height(self) -> int:
        return max(self.scrollable_content_region.height, 1)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._auto_scroll or not self.is_mounted:
            return
        at_bottom = round(new_value) >= self.max_scroll_y
        if new_value < old_value and self.following:
            self.set_following(False)  # the user scrolled up: pause
        elif at_bottom and not self.following and new_value > old_value:
            self.set_following(True)  # back at the bottom: follow again

    def _jump(self, position: int) -> None:
        self._auto_scroll = True
        try:
            self.scroll_to(y=position, animate=False, immediate=True)
        finally:
            self._auto_scroll = False

    def action_scroll_by(self, delta: int) -> None:
        self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True)

    def action_page(self, direction: int) -> None:
        self.scroll_to(y=self.scroll_y + direction * max(self._body_height() - 1, 1), animate=False, immediate=True)

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
        self._jump(bisect.bisect_left(self.shown, ts_ms, key=self._ts_of))

    # -- drawing ----------------------------------------------------------------------------------------------
    def _resize_virtual(self) -> None:
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

    def render_lines(self, crop: Region) -> list[Strip]:
        self._line_style = self.rich_style  # once per repaint, not once per line
        self._scroll = self.scroll_offset
        self._line_width = self.size.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self._line_width or self.size.width
        scroll_x, scroll_y = self._scroll
        position = scroll_y + y
        style = self._line_style
        if position >= len(self.shown):
            return Strip.blank(width, style)
        return self._strip(self.shown[position]).crop_extend(scroll_x, scroll_x + width, style)

    def on_resize(self) -> None:
        self._strips.clear()
        if self.following:
            self._scroll_bottom()
