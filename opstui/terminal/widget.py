"""TerminalView: a Textual widget that shows a `Terminal` and turns keys into bytes for the remote side.

    view = TerminalView(cols=80, rows=24)
    view.feed(chunk)                      # bytes from the remote shell; parsed now, painted <= 60 Hz
                                          # (5-30 Hz while output streams, and a frame after it pauses)
    on_terminal_view_input(msg)           # msg.data: bytes to send (keys, paste, DSR/DA replies)
    on_terminal_view_resized(msg)         # msg.cols, msg.rows: the emulator already has this size
    on_terminal_view_escape(msg)          # ctrl+] was pressed: the app should move focus away

Flow control: `feed()` parses synchronously at the emulator's speed (measured by bench/terminal.py:
~3 MB/s for dense colour output, 10+ MB/s for plain text), so a call with FEED_SLICE (64 KB) costs
roughly 5-20 ms. A pump should hand over at most FEED_SLICE per call and let the event loop run between
calls, or use `await feed_async(data)`, which does exactly that. `parse_seconds` / `bytes_parsed` give
the measured cost so a pump can budget (e.g. stop reading while `parse_seconds` grows too fast).

Nothing the remote side sends reaches the user's terminal as an escape sequence: rows are drawn as
Strips of plain text (the emulator never stores control characters) with Rich Styles.
"""

from __future__ import annotations

import asyncio
import time

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from opstui.terminal.emulator import Attr, Terminal
from opstui.terminal.keys import encode_key, paste

__all__ = ["TerminalView", "ESCAPE_KEY", "FEED_SLICE"]

#: The one key that does not go to the remote side (Textual's name for ctrl+]).
ESCAPE_KEY = "ctrl+right_square_bracket"
#: The most a pump should pass to `feed()` in one call (see the module docstring).
FEED_SLICE = 64 * 1024
FRAME_SECONDS = 1 / 60
# While output streams without a pause (cat of a big file, a flood) frames cost more than everything else:
# Textual's compositor re-renders the widget and every container under it (about as long again as the
# widget's own render_lines, measured by bench/terminal.py). Then frames are spaced so that painting takes
# about PAINT_SHARE of the time (estimated as twice the measured render_lines time), between
# STREAM_FRAME_MIN and STREAM_FRAME_MAX seconds apart; once output pauses for a frame, the next frame
# paints, so the final screen is never more than a frame late.
STREAM_AFTER = 0.1  # seconds of output without a quiet frame before it counts as streaming
PAINT_SHARE = 0.25
STREAM_FRAME_MIN = 1 / 30
STREAM_FRAME_MAX = 1 / 5
SYNC_TIMEOUT = 0.1  # paint anyway if the remote stays in synchronized-output mode this long

_ANSI_INDEX = {"black": 0, "red": 1, "green": 2, "brown": 3, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7}
_ANSI_INDEX.update({"bright" + name: n + 8 for name, n in list(_ANSI_INDEX.items())})


def rich_color(value: str | int) -> Color | None:
    """The emulator's colour as a Rich Color: None for the default, ANSI 0-15 as standard colours (so the
    theme's palette applies), 16-255 as 8-bit, hex as true colour."""
    if value == "default":
        return None
    if isinstance(value, int):
        return Color.from_ansi(value)
    index = _ANSI_INDEX.get(value)
    if index is not None:
        return Color.from_ansi(index)
    try:
        return Color.from_rgb(int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    except ValueError:
        return None


def rich_style(attr: Attr) -> Style:
    return Style(
        color=rich_color(attr.fg),
        bgcolor=rich_color(attr.bg),
        bold=attr.bold or None,
        dim=attr.dim or None,
        italic=attr.italics or None,
        underline=attr.underscore or None,
        strike=attr.strikethrough or None,
        reverse=attr.reverse or None,
        blink=attr.blink or None,
        conceal=attr.conceal or None,
    )


class TerminalView(Widget, can_focus=True):
    """Shows a terminal emulator; every key goes to the remote side except ESCAPE_KEY (ctrl+])."""

    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        overflow: hidden;
    }
    """

    class Input(Message):
        """Bytes for the remote side: keystrokes, pasted text, answers to device queries."""

        def __init__(self, terminal_view: TerminalView, data: bytes) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.data = data

        @property
        def control(self) -> TerminalView:
            return self.terminal_view

        def __repr__(self) -> str:
            return f"TerminalView.Input({self.data!r})"

    class Resized(Message):
        """The view changed size; the emulator already has the new size (debouncing is the channel's job)."""

        def __init__(self, terminal_view: TerminalView, cols: int, rows: int) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.cols = cols
            self.rows = rows

        @property
        def control(self) -> TerminalView:
            return self.terminal_view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TerminalView.Resized) and message.terminal_view is self.terminal_view

        def __repr__(self) -> str:
            return f"TerminalView.Resized(cols={self.cols}, rows={self.rows})"

    class Escape(Message):
        """ESCAPE_KEY (ctrl+]) was pressed: the app should move focus off the terminal."""

        def __init__(self, terminal_view: TerminalView) -> None:
            super().__init__()
            self.terminal_view = terminal_view

        @property
        def control(self) -> TerminalView:
            return self.terminal_view

    class TitleChanged(Message):
        """The remote side set the window title (OSC 0/2)."""

        def __init__(self, terminal_view: TerminalView, title: str) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.title = title

        @property
        def control(self) -> TerminalView:
            return self.terminal_view

    def __init__(self, cols: int = 80, rows: int = 24, scrollback: int = 10_000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.terminal = Terminal(cols, rows, scrollback)
        self.bytes_parsed = 0
        self.parse_seconds = 0.0
        self.paint_count = 0
        self.frame_ticks = 0  # times the paint timer fired (painting or not): the frames the widget looked at
        self._styles: dict[Attr, Style] = {}
        self._offset = 0  # lines scrolled up into scrollback; 0 = live screen
        self._offset_anchor = 0  # terminal.scrolled_off when _offset was last adjusted
        self._paint_timer: Timer | None = None
        self._last_paint = 0.0
        self._fed = False  # output fed since the paint timer last looked
        self._quiet = True  # the paint timer last found no new output
        self._stream_since = 0.0  # when the current run of output (no frame without output) began
        self.render_seconds = 0.0  # moving average of render_lines' duration
        self._last_cursor: tuple[int, int, bool] | None = None
        self._sync_since: float | None = None
        self._full_refresh = True
        self._sized = False
        self._title = ""
        self._base_style: Style | None = None

    # ------------------------------------------------------------------ output from the remote side
    def feed(self, data: bytes) -> None:
        """Parse `data` now and schedule a paint. Keep each call <= FEED_SLICE bytes (see module doc)."""
        start = time.perf_counter()
        self.terminal.feed(data)
        self.parse_seconds += time.perf_counter() - start
        if self._quiet:
            self._quiet = False
            self._stream_since = time.monotonic()
        self._fed = True
        self.bytes_parsed += len(data)
        replies = self.terminal.take_replies()
        if replies:
            self.post_message(self.Input(self, replies))
        self._schedule_paint()

    async def feed_async(self, data: bytes, slice_size: int = FEED_SLICE) -> None:
        """Feed any amount, FEED_SLICE at a time, letting the event loop run between slices."""
        view = memoryview(data)
        for i in range(0, len(view), slice_size):
            self.feed(bytes(view[i : i + slice_size]))
            await asyncio.sleep(0)

    @property
    def scroll_offset_lines(self) -> int:
        """How many lines the view is scrolled up into scrollback (0: showing the live screen)."""
        return self._offset

    # ------------------------------------------------------------------ painting
    def _schedule_paint(self) -> None:
        if self._paint_timer is None and self.is_mounted:
            delay = max(0.001, self._last_paint + FRAME_SECONDS - time.monotonic())  # Textual timers reject 0
            self._paint_timer = self.set_timer(delay, self._paint, name="terminal-paint")

    def _paint(self) -> None:
        self._paint_timer = None
        self.frame_ticks += 1
        term = self.terminal
        now = time.monotonic()
        fed, self._fed = self._fed, False
        if not fed:
            self._quiet = True  # output paused (or none came): paint what there is now
        elif now - self._stream_since >= STREAM_AFTER and now - self._last_paint < self.stream_frame_seconds:
            # streaming: look again in a frame, and paint then if the output has paused
            self._paint_timer = self.set_timer(FRAME_SECONDS, self._paint, name="terminal-paint")
            return
        if term.synchronized:
            if self._sync_since is None:
                self._sync_since = now
            waited = now - self._sync_since
            if waited < SYNC_TIMEOUT:
                self._paint_timer = self.set_timer(
                    min(FRAME_SECONDS, SYNC_TIMEOUT - waited), self._paint, name="terminal-paint"
                )
                return
        self._sync_since = None
        if term.title != self._title:
            self._title = term.title
            self.post_message(self.TitleChanged(self, term.title))
        dirty = term.dirty_rows()
        if self._offset:
            # keep showing the same lines while output arrives below
            grown = term.scrolled_off - self._offset_anchor
            if grown:
                self._offset = min(self._offset + grown, term.scrollback_len)
                self._full_refresh = True
            self._offset_anchor = term.scrolled_off
        cursor = term.cursor
        if cursor != self._last_cursor:
            if self._last_cursor is not None:
                dirty.add(self._last_cursor[1])
            dirty.add(cursor[1])
            self._last_cursor = cursor
        if self._full_refresh or len(dirty) >= term.rows or (self._offset and dirty):
            self._full_refresh = False
            self.refresh()
        elif dirty:
            width = self.size.width
            for y in dirty:
                self.refresh(Region(0, y, width, 1))
        else:
            return
        self._last_paint = now
        self.paint_count += 1

    def _style(self, attr: Attr) -> Style:
        """The attribute's style over the widget's own (`_base_style`), cached per attribute."""
        style = self._styles.get(attr)
        if style is None:
            base = self._base_style
            style = self._styles[attr] = rich_style(attr) if base is None else base + rich_style(attr)
        return style

    def render_lines(self, crop: Region) -> list[Strip]:
        """Every row straight from the emulator, without Textual's per-widget styles cache: the widget has no
        border or padding, and each row's strip is cached on the row itself (`Line.cache`), so a frame builds
        strips only for rows that changed. Building a Strip is the dominant cost of a frame while output
        streams (each one sets up seven small caches), so a new row costs one Strip, plus one per app line
        filter, which Textual applies to every widget and which is applied here the same way."""
        started = time.perf_counter()
        base = self.rich_style
        if base != self._base_style:
            self._base_style = base
            self._styles.clear()
        width = self.size.width
        filters = self.get_line_filters()
        background = self.background_colors[1] if filters else None
        render = self._row_strip
        strips = []
        for y in crop.line_range:
            strip = render(y, width, base)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        x1, x2 = crop.column_span
        if (x1, x2) != (0, width):
            strips = [strip.crop(x1, x2) for strip in strips]
        self.render_seconds = 0.8 * self.render_seconds + 0.2 * (time.perf_counter() - started)
        return strips

    @property
    def stream_frame_seconds(self) -> float:
        """How far apart frames are while output streams (see PAINT_SHARE)."""
        return min(STREAM_FRAME_MAX, max(STREAM_FRAME_MIN, 2 * self.render_seconds / PAINT_SHARE))

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        if base != self._base_style:
            self._base_style = base
            self._styles.clear()
        return self._row_strip(y, self.size.width, base)

    def _row_strip(self, y: int, width: int, base: Style) -> Strip:
        term = self.terminal
        if y >= term.rows:
            return Strip.blank(width, base)
        line = term.line(y, self._offset)
        cached = line.cache
        if cached is not None and cached[0] == width and cached[1] == base:
            strip = cached[2]
        else:
            style = self._style
            segments = [Segment(text, style(attr)) for text, attr in line.runs(term.cols)]
            if width > term.cols:
                segments.append(Segment(" " * (width - term.cols), base))
                strip = Strip(segments, width)
            elif width == term.cols:
                strip = Strip(segments)
            else:
                strip = Strip(segments).crop(0, width)
            line.cache = (width, base, strip)
        if self._offset == 0:
            cx, cy, visible = term.cursor
            if y == cy and visible and cx < width:
                strip = self._draw_cursor(strip, line, cx, width)
        return strip

    def _draw_cursor(self, strip: Strip, line, cx: int, width: int) -> Strip:
        chars = line.chars
        wide = cx + 1 < len(chars) and chars[cx + 1] == ""
        end = min(width, cx + (2 if wide else 1))
        before, cell, after = strip.divide([cx, end, width])
        if self.has_focus:
            segments = [
                Segment(seg.text, (seg.style or Style()) + Style(reverse=not (seg.style and seg.style.reverse)))
                for seg in cell
            ]
        else:
            segments = [Segment(seg.text, (seg.style or Style()) + Style(underline=True)) for seg in cell]
        return Strip.join([before, Strip(segments, end - cx), after])

    # ------------------------------------------------------------------ size
    def on_resize(self, event: events.Resize) -> None:
        cols, rows = self.size.width, self.size.height
        if cols < 1 or rows < 1:
            return
        term = self.terminal
        changed = (cols, rows) != (term.cols, term.rows)
        if changed:
            term.resize(cols, rows)
        if changed or not self._sized:
            self._sized = True
            self.post_message(self.Resized(self, cols, rows))
        self._full_refresh = True
        self._schedule_paint()

    def on_mount(self) -> None:
        self._schedule_paint()

    # ------------------------------------------------------------------ input
    def _send(self, data: bytes) -> None:
        if self._offset:
            self._offset = 0
            self._full_refresh = True
            self._schedule_paint()
        self.post_message(self.Input(self, data))

    def scroll_view(self, lines: int) -> None:
        """Scroll the view `lines` up (positive) or down (negative) through scrollback."""
        new = max(0, min(self._offset + lines, self.terminal.scrollback_len))
        if new != self._offset:
            self._offset = new
            self._offset_anchor = self.terminal.scrolled_off
            self._full_refresh = True
            self._schedule_paint()

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        key = event.key
        if key == ESCAPE_KEY:
            self.post_message(self.Escape(self))
            return
        if key == "shift+pageup":
            self.scroll_view(max(1, self.terminal.rows - 1))
            return
        if key == "shift+pagedown":
            self.scroll_view(-max(1, self.terminal.rows - 1))
            return
        data = encode_key(key, event.character, app_cursor_keys=self.terminal.app_cursor_keys)
        if data:
            self._send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        event.prevent_default()
        if event.text:
            self._send(paste(event.text, bracketed=self.terminal.bracketed_paste))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_view(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_view(-3)

    def on_focus(self) -> None:
        self._last_cursor = None
        self._schedule_paint()

    def on_blur(self) -> None:
        self._last_cursor = None
        self._schedule_paint()
