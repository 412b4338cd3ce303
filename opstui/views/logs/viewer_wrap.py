"""The log viewer's wrapping: a mixin of :class:`~opstui.views.logs.viewer.LogViewer`.

Wrap: the scroll position stays in lines (``scroll_y`` is the shown line at the top), and the rows of the
window are laid out from there each repaint: a line takes ``1 + ceil((cells - width) / (width - indent))``
rows, continuation rows indented under the message. When the lines below the top do not fill the screen, the
last screenful is shown bottom-aligned instead, so the newest line is always on the last row when following.
The virtual height is ``len(shown) + height - 1`` so every line can be the top one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from textual.strip import Strip

from opstui.views.logs.lines import STRIP_CACHE


class WrapMixin:
    wrap: bool
    following: bool
    show_source: bool
    sources: list[str]
    shown: list[int]
    _label_width: int
    _wraps: OrderedDict[int, list[Strip]]
    _wrap_width: int
    scrollable_content_region: Any
    refresh: Any
    scroll_to: Any
    _resize_virtual: Any
    _scroll_bottom: Any
    _strip: Any
    _body_height: Any

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
