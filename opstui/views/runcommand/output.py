"""The output pane of the Run Command tab: a Line-API log that shows one node's (or one group's) output.

Command output is untrusted and can be huge (1 MB per node, one 100 KB line, escape sequences). This pane
keeps lines as plain strings, parses colours (`opstui.safe.ansi_text`: SGR colours only, every other control
character made visible) only for the lines on screen, caches one Strip per line, caps the lines kept and
the characters drawn per line. So a burst of output costs a string split, and drawing costs one screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opstui.safe import ansi_text, clean_block

MAX_LINES = 20_000  # lines kept per stream; older lines are dropped (the export has everything kept)
MAX_LINE_CHARS = 2_000  # characters drawn per line; the rest is summarised


@dataclass
class LineBuffer:
    """Complete lines plus the partial last one, capped at `MAX_LINES` (oldest dropped)."""

    lines: list[str] = field(default_factory=list)
    partial: str = ""
    dropped: int = 0
    width: int = 0

    def append(self, text: str) -> None:
        if not text:
            return
        text = text.replace("\r\n", "\n")
        pieces = text.split("\n")
        if len(pieces) == 1:
            self.partial += pieces[0]
            self._measure(self.partial)
            return
        first = self.partial + pieces[0]
        self.lines.append(first)
        self._measure(first)
        middle = pieces[1:-1]
        if len(middle) > MAX_LINES:
            self.dropped += len(middle) - MAX_LINES
            middle = middle[-MAX_LINES:]
        self.lines.extend(middle)
        for line in middle[:200]:  # widths of a flood are estimated from its first lines
            self._measure(line)
        self.partial = pieces[-1]
        extra = len(self.lines) - MAX_LINES
        if extra > 0:
            del self.lines[:extra]
            self.dropped += extra

    def _measure(self, line: str) -> None:
        if len(line) > self.width:
            self.width = min(cell_len(line[:MAX_LINE_CHARS]) + 24, MAX_LINE_CHARS + 24)

    def rows(self) -> int:
        return len(self.lines) + (1 if self.partial else 0)

    def row(self, i: int) -> str:
        return self.lines[i] if i < len(self.lines) else self.partial

    @property
    def empty(self) -> bool:
        return not self.lines and not self.partial


DIFF_STYLES = {"+": Style(color="green"), "-": Style(color="red"), "@": Style(color="cyan")}


class OutputLog(ScrollView, can_focus=True):
    """stdout, then (if any) a `── stderr ──` rule and stderr; or the lines of a diff."""

    BINDINGS = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]
    DEFAULT_CSS = """
    OutputLog { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out = LineBuffer()
        self.err = LineBuffer()
        self.diff: list[str] | None = None
        self.placeholder = ""
        self._cache: dict[tuple[str, int], Strip] = {}
        self.err_style = Style(color="red")
        self.rule_style = Style(color="red", dim=True)
        self.note_style = Style(dim=True, italic=True)

    # -- content ----------------------------------------------------------------------------------------
    def clear(self, placeholder: str = "") -> None:
        self.out, self.err, self.diff = LineBuffer(), LineBuffer(), None
        self._cache.clear()
        self.placeholder = placeholder
        self._changed(follow=False)
        self.scroll_to(0, 0, animate=False, immediate=True)

    def show(self, stdout: str, stderr: str = "", placeholder: str = "(no output)") -> None:
        self.clear(placeholder)
        self.out.append(stdout)
        self.err.append(stderr)
        self._changed(follow=False)

    def append(self, stream: str, text: str) -> None:
        """Streamed output: appended to the node's stdout or stderr; follows the end if it was there."""
        at_end = self.scroll_y >= self.max_scroll_y - 1
        kind = "err" if stream == "stderr" else "out"
        buffer = self.err if kind == "err" else self.out
        self._cache.pop((kind, len(buffer.lines)), None)  # the partial line is about to change
        dropped = buffer.dropped
        buffer.append(text)
        if buffer.dropped != dropped:  # indices shifted
            self._cache.clear()
        self._changed(follow=at_end)

    def show_diff(self, lines: list[str]) -> None:
        self.clear()
        self.diff = list(lines[:MAX_LINES])
        self._changed(follow=False)

    def plain_lines(self) -> list[str]:
        """What the pane holds, as plain text (tests and copy)."""
        return [self._row_text(y)[0] for y in range(self._rows())]

    # -- layout -----------------------------------------------------------------------------------------
    def _rows(self) -> int:
        if self.diff is not None:
            return len(self.diff)
        rows = self.out.rows() + (1 if self.out.dropped else 0)
        if not self.err.empty:
            rows += 1 + self.err.rows() + (1 if self.err.dropped else 0)
        return rows or (1 if self.placeholder else 0)

    def _changed(self, follow: bool) -> None:
        width = max(self.out.width, self.err.width, 40)
        if self.diff is not None:
            width = max(width, min(max((len(d) for d in self.diff), default=0), MAX_LINE_CHARS) + 4)
        self.virtual_size = Size(width, self._rows())
        if follow:
            self.scroll_end(animate=False, immediate=True)
        self.refresh()

    def _row_text(self, y: int) -> tuple[str, str, int]:
        """(text, kind, index) of row y; kind: out | err (index within the stream) | rule | note | diff."""
        if self.diff is not None:
            return self.diff[y], "diff", y
        out, err = self.out, self.err
        if out.empty and err.empty:
            return self.placeholder, "note", y
        if out.dropped:
            if y == 0:
                return f"… {out.dropped} earlier lines not kept (export has the output)", "note", -1
            y -= 1
        if y < out.rows():
            return out.row(y), "out", y
        y -= out.rows()
        if y == 0:
            return "── stderr ──", "rule", 0
        y -= 1
        if err.dropped:
            if y == 0:
                return f"… {err.dropped} earlier lines not kept", "note", -2
            y -= 1
        return err.row(y), "err", y

    def _strip(self, y: int) -> Strip:
        text, kind, index = self._row_text(y)
        cache_key = (kind, index)
        strip = self._cache.get(cache_key) if kind != "note" else None
        if strip is not None:
            return strip
        extra = len(text) - MAX_LINE_CHARS
        if extra > 0:
            text = text[:MAX_LINE_CHARS]
        if kind in ("out", "err"):
            rich_text = ansi_text(text.expandtabs(8))
            if kind == "err":
                rich_text = Text.assemble(rich_text, style=self.err_style)
        elif kind == "diff":
            rich_text = Text(clean_block(text).expandtabs(8).replace("\n", "⏎"), style=DIFF_STYLES.get(text[:1]))
        else:
            rich_text = Text(clean_block(text).replace("\n", "⏎"),
                             style=self.rule_style if kind == "rule" else self.note_style)
        if extra > 0:
            rich_text.append(f" … (+{extra} chars)", style=self.note_style)
        rich_text.no_wrap = True
        rich_text.end = ""
        strip = Strip(list(rich_text.render(self.app.console)))
        if len(self._cache) > 2000:
            self._cache.clear()
        self._cache[cache_key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        if row >= self._rows():
            return Strip.blank(width, self.rich_style)
        style = self.rich_style
        return self._strip(row).apply_style(style).crop_extend(scroll_x, scroll_x + width, style)

    def on_resize(self) -> None:
        self._cache.clear()
