"""The one form of the app: fields, a problems line, Save (ctrl+s) and Cancel (esc).

A form is a list of `Field`s plus two callables: `build(values)` checks the text and makes the request object
(raising ValueError whose message, or `.problems`, is shown under the fields: nothing typed is lost), and
`submit(obj)` sends it (awaited in a worker; an error keeps the form open with the message). So each dialog
is configuration in the tab that opens it, and every message is shown as literal text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from opstui.safe import clean
from opstui.views.common.safe_input import SafeInput


class FormProblems(ValueError):
    """What a form's ``build``/``submit`` raises when the values cannot be used: each problem is shown under the
    fields on a line of its own (any ValueError works; this one says it with a list)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    value: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (label, value): a Select instead of an Input
    placeholder: str = ""
    disabled: bool = False
    check: bool = False  # a Checkbox (labelled by `label`); its value is "yes" or "no"


class FormScreen(ModalScreen[bool]):
    """Fields, a problems line, Save (ctrl+s) and Cancel (esc). Dismisses True once `submit` succeeded."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]
    AUTO_FOCUS = "Input, Select, Checkbox"  # the first field that is not disabled
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > Vertical { width: 96; max-width: 95%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 0 1; }
    FormScreen #form-note { color: $text-muted; height: auto; padding: 0 0 1 0; }
    FormScreen #form-fields { height: auto; max-height: 30; }
    FormScreen .form-row { height: 3; }
    FormScreen .form-row.-check { height: 1; }
    FormScreen .form-row Checkbox { border: none; height: 1; padding: 0 1; }
    FormScreen .form-row Label { width: 24; padding: 1 1 0 0; }
    FormScreen .form-row Input, FormScreen .form-row Select, FormScreen .form-row Checkbox { width: 1fr; }
    FormScreen #form-problems { color: $error; height: auto; padding: 1 0 0 0; }
    FormScreen #form-buttons { height: auto; align-horizontal: right; padding: 1 0 0 0; }
    FormScreen Button { margin-left: 2; }
    FormScreen.-short #form-fields { max-height: 45vh; }
    FormScreen.-short #form-note, FormScreen.-short #form-buttons { padding: 0; }
    """

    def __init__(self, title: str, fields: Sequence[Field], build: Callable[[dict[str, str]], Any],
                 submit: Callable[[Any], Awaitable[None]], *, note: str = "", submit_label: str = "Save") -> None:
        super().__init__()
        self.form_title = title
        self.fields = list(fields)
        self.build = build
        self.submit = submit
        self.note = note
        self.submit_label = submit_label
        self.problems: list[str] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = Content(clean(self.form_title, 80))  # a str border title parses markup
            if self.note:
                yield Static(Content(self.note), id="form-note")
            with VerticalScroll(id="form-fields"):
                for f in self.fields:
                    with Horizontal(classes="form-row -check" if f.check else "form-row"):
                        if f.check:
                            yield Checkbox(Content(f.label), f.value == "yes", id=f"f-{f.id}", disabled=f.disabled)
                            continue
                        yield Label(Content(f.label))
                        if f.options:
                            values = [v for _, v in f.options]
                            yield Select([(Content(clean(lbl, 80)), v) for lbl, v in f.options],
                                         value=f.value if f.value in values else values[0], allow_blank=False,
                                         id=f"f-{f.id}", disabled=f.disabled)
                        else:
                            yield SafeInput(f.value, placeholder=f.placeholder, id=f"f-{f.id}", disabled=f.disabled)
            yield Static(id="form-problems")
            with Horizontal(id="form-buttons"):
                yield Button("Cancel (esc)", id="form-cancel")
                yield Button(f"{self.submit_label} (ctrl+s)", variant="primary", id="form-save")

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.fields:
            widget = self.query_one(f"#f-{f.id}")
            if isinstance(widget, Checkbox):
                out[f.id] = "yes" if widget.value else "no"
            elif isinstance(widget, Select):
                out[f.id] = "" if widget.value is Select.BLANK else str(widget.value)
            else:
                out[f.id] = self.query_one(f"#f-{f.id}", Input).value
        return out

    def show_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self.query_one("#form-problems", Static).update(Content("\n".join(f"✗ {clean(p, 400)}" for p in problems)))

    @on(Input.Submitted)
    def _enter(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_save(self) -> None:
        if self.busy:
            return
        try:
            obj = self.build(self.values())
        except ValueError as err:
            self.show_problems(list(getattr(err, "problems", None) or [str(err)]))
            return
        self._send(obj)

    @work(exclusive=True, group="form-submit", exit_on_error=False)
    async def _send(self, obj: Any) -> None:
        self.busy = True
        self.query_one("#form-save", Button).disabled = True
        self.show_problems([])
        self.query_one("#form-problems", Static).update(Content("sending…"))
        try:
            await self.submit(obj)
        except Exception as err:  # OpsError (refused by AWS or read-only), shown where the user is looking
            self.show_problems([str(err)])
            return
        finally:
            self.busy = False
            self.query_one("#form-save", Button).disabled = False
        self.dismiss(True)


async def ask(app: Any, title: str, fields: Sequence[Field], build: Callable[[dict[str, str]], Any], *,
              note: str = "", submit_label: str = "OK") -> Any | None:
    """A form that only asks (nothing is sent): the value ``build`` makes of what was typed, or None when the
    user cancelled. Bad input stays in the form with its problems, as in every form. Await it in a worker."""
    chosen: list[Any] = []

    async def keep(value: Any) -> None:
        chosen.append(value)

    screen = FormScreen(title, fields, build, keep, note=note, submit_label=submit_label)
    if await app.push_screen_wait(screen) and chosen:
        return chosen[-1]
    return None
