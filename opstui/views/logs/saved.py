"""Logs, Insights: the picker of queries (``ctrl+o``), a modal list in two sections.

    Saved queries     the account's saved Logs Insights queries of every region (DescribeQueryDefinitions),
                      by name, with their region and log groups
    This session      the queries run since the app started, newest first

Choosing a saved query puts its query string into the editor and selects its log groups in panel 1; choosing
a query of this session puts it back into the editor. Names, query strings and group names were written by
whoever could call PutQueryDefinition (or typed by the user), so every one is shown literally
(``safe.clean``: no markup, control characters visible); the query itself goes into the editor unchanged
(the editor pictures its control characters, see ``views/common/safe_input.py``). A region whose saved
queries could not be read is a line of its own, in the warning colour: never an empty list that looks like
"no saved queries". The picker opens at once and the saved queries fill in when DescribeQueryDefinitions
answers (``show_saved``); this session's are there from the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from opstui.aws.logs_models import QueryDefinition
from opstui.safe import clean

WARN = "bold yellow"


@dataclass(frozen=True)
class Picked:
    """What the picker answers: a saved query, or a query string of this session's history."""

    definition: QueryDefinition | None = None
    query: str = ""


class QueryPicker(ModalScreen[Picked | None]):
    """Saved queries, then this session's; ``enter`` picks, ``esc`` closes."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("j", "down", show=False),
                Binding("k", "up", show=False)]
    DEFAULT_CSS = """
    QueryPicker { align: center middle; }
    QueryPicker > Vertical { width: 120; max-width: 95%; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1; }
    QueryPicker #picker-title { text-style: bold; }
    QueryPicker #picker-list { height: auto; max-height: 30; border: none; }
    QueryPicker.-short #picker-list { max-height: 60vh; }
    QueryPicker #picker-hint { color: $text-muted; }
    """

    def __init__(self, saved: list[QueryDefinition] | None, history: list[str], errors: Sequence[str] = ()) -> None:
        super().__init__()
        self.saved = saved  # None: still being read
        self.history = history
        self.errors = list(errors)
        self.choices: dict[str, Picked] = {}

    @property
    def loaded(self) -> bool:
        return self.saved is not None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content("Open a query"), id="picker-title")
            yield OptionList(*self._options(), id="picker-list")
            yield Static(Content("enter: open it   esc: close"), id="picker-hint")

    def _options(self) -> list[Option]:
        self.choices = {}
        saved = self.saved or []
        count = f"  {len(saved)}" if self.saved is not None else "  reading… (DescribeQueryDefinitions)"
        options: list[Option] = [Option(Content.assemble(("Saved queries", "bold"), (count, "dim")), disabled=True)]
        for err in self.errors:
            options.append(Option(Content.assemble(("  ⚠ could not read saved queries: ", WARN),
                                                   (clean(err, 300), "")), disabled=True))
        if self.saved is not None and not saved and not self.errors:
            options.append(Option(Content.styled("  none in these regions (save one in the console or with "
                                                 "PutQueryDefinition)", "dim"), disabled=True))
        for i, d in enumerate(saved):
            groups = ", ".join(d.groups[:3]) + (f" +{len(d.groups) - 3}" if len(d.groups) > 3 else "")
            option_id = f"saved-{i}"
            self.choices[option_id] = Picked(definition=d)
            options.append(Option(Content.assemble(
                ("  " + clean(d.name, 120), "bold"), (f"  {d.region}", "dim"),
                (f"  {clean(groups, 160)}" if groups else "  (no log group saved)", "cyan"),
                ("\n    " + clean(d.query, 200), "dim")), id=option_id))
        options.append(Option(Content.assemble(("This session", "bold"), (f"  {len(self.history)}", "dim")),
                              disabled=True))
        if not self.history:
            options.append(Option(Content.styled("  no query run yet", "dim"), disabled=True))
        for i, query in enumerate(self.history):
            option_id = f"history-{i}"
            self.choices[option_id] = Picked(query=query)
            options.append(Option(Content("  " + clean(query, 200)), id=option_id))
        return options

    def on_mount(self) -> None:
        box = self.query_one("#picker-list", OptionList)
        box.focus()
        self._highlight_first()

    def _highlight_first(self) -> None:
        box = self.query_one("#picker-list", OptionList)
        box.highlighted = next((i for i in range(box.option_count) if not box.get_option_at_index(i).disabled),
                               None)

    def show_saved(self, saved: list[QueryDefinition], errors: list[str]) -> None:
        """The answer of DescribeQueryDefinitions (every region's), once it came; the cursor goes to the
        first saved query unless the user already moved it to a query of this session."""
        box = self.query_one("#picker-list", OptionList)
        at = box.highlighted
        kept = self.choices.get(box.get_option_at_index(at).id or "") if at is not None else None
        self.saved, self.errors = saved, list(errors)
        box.set_options(self._options())
        moved = kept is not None and at is not None and at > 2
        same = next((oid for oid, c in self.choices.items() if moved and c == kept), None)
        if same is not None:
            box.highlighted = box.get_option_index(same)
        else:
            self._highlight_first()

    @on(OptionList.OptionSelected, "#picker-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = self.choices.get(event.option.id or "")
        if choice is not None:
            self.dismiss(choice)

    def action_down(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_up()

    def action_close(self) -> None:
        self.dismiss(None)
