"""An Input that never passes a control character to the terminal.

Textual's Input draws its value as it is, so a value filled from untrusted text (an application name from
the inventory, a node name) would write its escape sequences straight to the user's terminal. SafeInput draws
each control character as one visible symbol (``safe.pictured``: the same length, so cursor and selection
positions stay right) and keeps the value itself unchanged, so a search still looks for the exact text.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.expand_tabs import expand_tabs_inline
from textual.widgets import Input

from opstui.safe import pictured


class SafeInput(Input):
    @property
    def _value(self) -> Text:
        if self.password:
            return super()._value
        text = Text(pictured(self.value), no_wrap=True, overflow="ignore", end="")
        if self.highlighter is not None:
            text = self.highlighter(text)
        return text

    def _position_to_cell(self, position: int) -> int:
        return cell_len(expand_tabs_inline(pictured(self.value[:position]), 4))
