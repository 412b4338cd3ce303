"""The key bar: Textual's Footer, rebuilt only when what it shows has changed.

Why: Textual's Footer recomposes on every bindings update (each focus move, each ``refresh_bindings()``),
even when the keys it shows are the same, and every recompose mounts and restyles a new FooterKey per key.
Each new key also adds a ``compact`` watcher to the Footer that is never removed (Textual prunes watchers only
when the value changes, and ``compact`` never does), so every later key costs a scan of all the keys made
before it. Over a day of use, or the suite's UI-wide walks (a fifth of their time went here), that adds up.
Each key is also built with the footer's compact value, not restyled into it. This footer waits for the frame (several updates in one frame make one rebuild), compares the keys with the
ones shown, and prunes the watchers of keys that are gone.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """A drop-in Footer (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = False
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        # A FooterKey starts compact (its default) and is then bound to this footer's value: two restyles per
        # key per rebuild. Set the value first: none.
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):  # that one is not bound
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._rebuild)

    def _keys_shown(self) -> tuple[Any, ...]:
        app = self.app
        keys = tuple((binding.key, app.get_key_display(binding), binding.description, binding.action, enabled,
                      tooltip, binding.group)
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)
        return keys + (self.show_command_palette, self.compact)

    async def _rebuild(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self._keys_shown()
        if shown == self._shown:
            return
        self._shown = shown
        await self.recompose()
        watchers = getattr(self, "__watchers", None)  # Textual keeps them under this attribute name
        if isinstance(watchers, dict) and "compact" in watchers:
            watchers["compact"] = [(node, callback) for node, callback in watchers["compact"]
                                   if getattr(node, "is_attached", False)]


__all__ = ["KeyFooter"]
