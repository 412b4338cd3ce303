"""A form that keeps what was typed across esc, with live hints and problems by field.

:class:`KeptForm` is a :class:`~opstui.views.common.form.FormScreen` with three additions:

- what was typed survives esc: each change goes into a dict the panel owns (``store``) and a form opened again
  starts from it, so a plan name typed wrong is corrected, not typed again;
- a hint under a field, recomputed as you type (the plan's daily time said in words, as AWS Backup will run it);
- problems by field (:class:`FieldProblems` raised by ``build``): each is a line of the problems area naming its
  field, and the first field named takes the focus, where the fixing starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from textual import on
from textual.content import Content
from textual.widgets import Checkbox, Input, Select, Static

from opstui.safe import clean
from opstui.views.common.form import Field, FormScreen


class FieldProblems(ValueError):
    """What to fix, by field id; ``problems`` (the lines FormScreen shows) name each field by its label."""

    def __init__(self, by_field: Mapping[str, str], labels: Mapping[str, str], summary: str = "") -> None:
        self.by_field = dict(by_field)
        self.problems = [f"{labels.get(f, f)}: {m}" for f, m in self.by_field.items()] + ([summary] if summary else [])
        super().__init__("; ".join(self.problems))


class KeptForm(FormScreen):
    """A FormScreen whose typed values live in ``store``, with live hints and problems by field."""

    #: the fields whose value comes back from ``store`` when the form opens (None: every field)
    KEPT: ClassVar[tuple[str, ...] | None] = None
    DEFAULT_CSS = """
    KeptForm .form-hint { color: $text-muted; height: auto; padding: 0 0 0 24; }
    """

    def __init__(self, title: str, fields: Sequence[Field], build: Callable[[dict[str, str]], Any],
                 submit: Callable[[Any], Awaitable[None]], *, store: dict[str, str],
                 hints: Mapping[str, Callable[[dict[str, str]], str]] | None = None, note: str = "",
                 submit_label: str = "Save") -> None:
        kept = [replace(f, value=store.get(f.id, f.value)) if self.KEPT is None or f.id in self.KEPT else f
                for f in fields]
        super().__init__(title, kept, self._checked(build), submit, note=note, submit_label=submit_label)
        self.store = store
        self.hints = dict(hints or {})
        self._first_problem = ""

    def _checked(self, build: Callable[[dict[str, str]], Any]) -> Callable[[dict[str, str]], Any]:
        def checked(values: dict[str, str]) -> Any:
            try:
                return build(values)
            except FieldProblems as err:
                self._first_problem = next((f for f in err.by_field if self.query(f"#f-{f}")), "")
                raise

        return checked

    async def on_mount(self) -> None:
        fields = self.query_one("#form-fields")
        for field_id in self.hints:
            row = self.query_one(f"#f-{field_id}").parent
            await fields.mount(Static(classes="form-hint", id=f"f-{field_id}-hint"), after=row)
        self.show_hints()

    def show_hints(self) -> None:
        values = self.values()
        for field_id, hint in self.hints.items():
            for box in self.query(f"#f-{field_id}-hint").results(Static):
                box.update(Content(clean(hint(values), 200)))

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _kept(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        field = (event.control.id or "").removeprefix("f-")
        if not any(f.id == field for f in self.fields):
            return
        if isinstance(event, Checkbox.Changed):
            value = "yes" if event.value else "no"
        else:
            value = "" if event.value is Select.NULL else str(event.value)
        self.store[field] = value
        self.field_changed(field, value)
        if self.is_mounted:
            self.show_hints()

    def field_changed(self, field: str, value: str) -> None:
        """A field's value changed (typed, or set by the code); subclasses follow it."""

    def action_save(self) -> None:
        self._first_problem = ""
        super().action_save()
        if self._first_problem:
            self.query_one(f"#f-{self._first_problem}").focus()
