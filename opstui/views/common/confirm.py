"""The one yes/no confirmation of the app: `y` yes, `n` or `esc` no, everywhere.

The question and the lines under it carry untrusted text (node names, keys, reasons): they are made
control-free and shown as literal Content. `danger` draws it in the error colour (prod nodes, a restore).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from opstui.safe import clean


class ConfirmScreen(ModalScreen[bool]):
    """A question with literal lines under it; `y` Yes, `n` / `esc` No."""

    BINDINGS = [Binding("escape,n", "no", "No"), Binding("y", "yes", "Yes")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmScreen.-danger > Vertical { border: thick $error; }
    ConfirmScreen #confirm-question { text-style: bold; padding: 0 0 1 0; }
    ConfirmScreen #confirm-lines { height: auto; max-height: 20; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; padding: 1 0 0 0; }
    ConfirmScreen Button { margin-left: 2; }
    ConfirmScreen.-short #confirm-lines { max-height: 40vh; }
    """

    def __init__(self, question: str, lines: Sequence[str] = (), *, yes: str = "Yes", danger: bool = False) -> None:
        super().__init__()
        # a multi-line question: the first line is the question, the others go under it
        head, *rest = question.split("\n") or [""]
        self.question = head
        self.lines = [*rest, *lines]
        self.yes = yes
        self.danger = danger

    @property
    def text(self) -> str:
        """The question and every line under it (as given, before cleaning)."""
        return "\n".join([self.question, *self.lines])

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(clean(self.question, 300)), id="confirm-question")
            with VerticalScroll(id="confirm-lines"):
                yield Static(Content("\n".join(clean(line, 300) for line in self.lines[:200])))
            with Horizontal(id="confirm-buttons"):
                yield Button("No (n)", id="confirm-no")
                yield Button(f"{self.yes} (y)", variant="error" if self.danger else "warning", id="confirm-yes")

    def on_mount(self) -> None:
        self.set_class(self.danger, "-danger")
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def action_yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_no(self) -> None:
        self.dismiss(False)
