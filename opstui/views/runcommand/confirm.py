"""The confirmation before a run: its blast radius (a typed count when it is wide or reaches prod).

The blast radius lines contain node names (untrusted): they are shown as literal `Content`, never markup.
When a run reaches more than 10 nodes or any prod node, the Run button stays disabled until the node count is
typed: the number has to be read, not skimmed past with enter.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from opstui.runs.targets import BlastRadius
from opstui.safe import clean, clean_block
from opstui.views.common.safe_input import SafeInput


@dataclass(frozen=True)
class RunConfirmation:
    """What the confirmation shows: the document, the commands (or parameters) and who they reach."""

    title: str  # e.g. "Run AWS-RunShellScript"
    preview: str  # the commands, literal
    radius: BlastRadius
    options: str  # "max concurrency 50 · max errors 0 · CloudWatch Logs on"


class ConfirmRunScreen(ModalScreen[bool]):
    """Blast radius, then Run / Cancel; typed count when the radius needs it. esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ConfirmRunScreen { align: center middle; }
    ConfirmRunScreen > Vertical { width: 100; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1; }
    ConfirmRunScreen.-prod > Vertical { border: thick $error; }
    ConfirmRunScreen #confirm-title { text-style: bold; padding: 0 0 1 0; }
    ConfirmRunScreen #confirm-preview { max-height: 10; height: auto; background: $boost; padding: 0 1; }
    ConfirmRunScreen #confirm-radius { height: auto; padding: 1 0 0 0; }
    ConfirmRunScreen #confirm-options { color: $text-muted; padding: 0 0 1 0; }
    ConfirmRunScreen #confirm-typed { display: none; }
    ConfirmRunScreen.-typed #confirm-typed { display: block; }
    ConfirmRunScreen #confirm-buttons { height: auto; align-horizontal: right; padding: 1 0 0 0; }
    ConfirmRunScreen Button { margin-left: 2; }
    ConfirmRunScreen.-short > Vertical { overflow-y: auto; }
    ConfirmRunScreen.-short #confirm-title, ConfirmRunScreen.-short #confirm-radius,
    ConfirmRunScreen.-short #confirm-buttons { padding: 0; }
    ConfirmRunScreen.-short #confirm-preview { max-height: 4; }
    """

    def __init__(self, confirmation: RunConfirmation) -> None:
        super().__init__()
        self.confirmation = confirmation
        self.radius = confirmation.radius

    def compose(self) -> ComposeResult:
        c = self.confirmation
        with Vertical() as box:
            box.border_title = "Confirm run"
            yield Static(Content(clean(c.title, 200)), id="confirm-title")
            with VerticalScroll(id="confirm-preview"):
                yield Static(Content(clean_block(c.preview[:4000])))
            yield Static(Content("\n".join(clean(line, 2000) for line in self.radius.summary())), id="confirm-radius")
            yield Static(Content(c.options), id="confirm-options")
            yield SafeInput(placeholder=f"type {self.radius.confirmation_word} (the number of nodes) to enable Run",
                        id="confirm-typed")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel (esc)", id="confirm-cancel")
                yield Button(f"Run on {self.radius.count} node{'s' if self.radius.count != 1 else ''}",
                             variant="error" if self.radius.prod else "warning", id="confirm-run")

    def on_mount(self) -> None:
        if self.radius.prod:
            self.add_class("-prod")
        if self.radius.needs_typed_confirmation:
            self.add_class("-typed")
            self.query_one("#confirm-run", Button).disabled = True
            self.query_one("#confirm-typed", Input).focus()
        else:
            self.query_one("#confirm-run", Button).focus()

    @on(Input.Changed, "#confirm-typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-run", Button).disabled = event.value.strip() != self.radius.confirmation_word

    @on(Input.Submitted, "#confirm-typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.radius.confirmation_word:
            self.dismiss(True)
        else:
            self.app.notify(f"Type {self.radius.confirmation_word} to confirm, or esc to go back.",
                            severity="warning", markup=False)

    @on(Button.Pressed, "#confirm-run")
    def _run(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
