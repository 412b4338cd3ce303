"""An Input and a TextArea that never pass a control character to the terminal.

Textual's Input draws its value as it is, so a value filled from untrusted text (an application name from
the inventory, a node name) would write its escape sequences straight to the user's terminal. SafeInput draws
each control character as one visible symbol (``safe.pictured``: the same length, so cursor and selection
positions stay right) and keeps the value itself unchanged, so a search still looks for the exact text.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.document._edit import Edit, EditResult
from textual.expand_tabs import expand_tabs_inline
from textual.widgets import Input, TextArea

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


_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(text: str) -> str:
    return _CONTROL_BUT_LINES.sub(lambda m: pictured(m.group(0)), text.replace("\r\n", "\n"))


class SafeTextArea(TextArea, inherit_bindings=False):
    """A TextArea whose text never holds a control character but newline and tab.

    TextArea draws its document as it is, escape sequences included, and its layout (wrapping, cursor
    cells) is computed from that text, so the characters are pictured where they enter: a paste, a command
    reopened from the history (someone else's, possibly hostile), the ``text`` set by the code. A command
    pasted with an ESC in it then shows ␛ instead of clearing the user's screen.

    TextArea binds f6 (select line) and f7 (select all): here those keys switch tabs, like everywhere else
    (every tab is one key away from anywhere, and the key never acts inside a field).
    """

    BINDINGS = [b for b in TextArea.BINDINGS if not (isinstance(b, Binding) and b.key in ("f6", "f7"))]

    def __init__(self, text: str = "", **kwargs: object) -> None:
        super().__init__(_visible(text), **kwargs)  # type: ignore[arg-type]

    def load_text(self, text: str) -> None:
        super().load_text(_visible(text))

    def edit(self, edit: Edit) -> EditResult:
        edit.text = _visible(edit.text)
        return super().edit(edit)
