"""The log viewer's following and scrolling: a mixin of :class:`~opstui.views.logs.viewer.LogViewer`.

Follow mode (``tail -f``): while following, each append scrolls to the bottom. Scrolling up (keys, wheel,
scrollbar) pauses it; lines keep arriving and the border says "N new lines"; ``end``/``G`` (or scrolling back
to the bottom) resumes. A scroll the viewer makes itself (``_auto_scroll``) never pauses it, nor does
Textual clamping the position to a new bottom.
"""

from __future__ import annotations

import bisect
from typing import Any

from textual import events

from opstui.views.logs.lines import Line


class FollowMixin:
    lines: list[Line]
    shown: list[int]
    following: bool
    unseen: int
    wrap: bool
    _auto_scroll: bool
    scroll_y: float
    max_scroll_y: float
    is_mounted: bool
    scrollable_content_region: Any
    FollowChanged: Any
    post_message: Any
    refresh: Any
    scroll_to: Any
    _retitle: Any
    _set_mark: Any
    _ts_of: Any
    _on_screen_positions: Any

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
