"""A :class:`Panel`: one screenful of a tab (its tables, its keys from the command registry, ``check_action``
from its declared mutating commands, its loaders), and :func:`bindings_for`, the one way registry commands
become Textual bindings. The tab around it is :class:`~opstui.views.common.tab.TabView`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.containers import Vertical

from opstui.commands import AppCommand, commands_of
from opstui.views.common.context import AppContext, context_of
from opstui.views.common.node_table import NodeTable

if TYPE_CHECKING:
    from opstui.views.common.tab import TabView


def bindings_for(commands: tuple[AppCommand, ...]) -> list[Binding]:
    """Textual bindings for registry commands (their ids make them remappable with the keymap)."""
    return [Binding(c.key, c.action, c.title.split(": ", 1)[-1], show=c.show, id=c.id, tooltip=c.help)
            for c in commands if c.key and c.action]


class Panel(Vertical):
    """One panel of a tab. Subclasses set NAME, TITLE, MAIN_TABLE and, for `r`/refresh, ``load()``; their
    BINDINGS come from the registry (``bindings_for(commands_of(tab, panel))``)."""

    NAME: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    KEY: ClassVar[str] = ""  # the panel's switch key in its tab (1, 2, ...), shown in the header
    MAIN_TABLE: ClassVar[str] = ""  # id of the table that takes the focus and the filter
    FILTER_HINT: ClassVar[str] = "filter: words that must all appear, !negate"

    DEFAULT_CSS = """
    Panel { height: 1fr; }
    Panel NodeTable { border: round $primary-darken-1; border-title-align: left; }
    Panel NodeTable:focus { border: round $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(id=kwargs.pop("id", f"panel-{self.NAME}"), **kwargs)
        self.loads = 0  # finished loads (tests and the bench wait on it)
        self.busy = False
        self.loaded = False
        self.errors: list[str] = []
        self.filter_text = ""

    # -- context --------------------------------------------------------------------------------------------
    @property
    def ctx(self) -> AppContext:
        return context_of(self)

    @property
    def tab(self) -> TabView:
        from opstui.views.common.tab import TabView

        for node in self.ancestors:
            if isinstance(node, TabView):
                return node
        raise RuntimeError(f"panel {self.NAME} is not inside a TabView")

    @property
    def commands(self) -> tuple[AppCommand, ...]:
        return commands_of(self.tab.TAB_ID, self.NAME)

    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id}", NodeTable)

    @property
    def main_table(self) -> NodeTable | None:
        return self.table(self.MAIN_TABLE) if self.MAIN_TABLE else None

    # -- keys -----------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        cmd = next((c for c in commands_of(self.tab.TAB_ID) if c.action == action and c.panel in ("", self.NAME)),
                   None)
        if cmd is not None and cmd.mutating and self.ctx.read_only:
            return None  # shown greyed: the header says why
        return True

    def refused(self, what: str) -> bool:
        """True (and says so) in read-only mode: every mutating action starts with this."""
        if self.ctx.read_only:
            self.app.notify(f"read-only mode: {what} is disabled (restart opstui without --read-only)",
                            severity="warning", markup=False)
            return True
        return False

    # -- lifecycle (the tab calls these) ---------------------------------------------------------------------
    def load(self) -> None:
        """Load (or reload) what the panel shows; panels that load override it."""

    def shown(self) -> None:
        """The panel came in front: focus its main table, load it the first time."""
        table = self.main_table
        if table is not None:
            table.focus()
        if not self.loaded and not self.busy:
            self.load()

    def reset(self) -> None:
        """The context changed: forget what was shown (subclasses clear their own state, then call this)."""
        self.loaded = False
        self.errors = []
        for table in self.query(NodeTable):
            table.set_rows([])

    def matches(self, row: Any, cells: tuple[str, ...], words: list[str]) -> bool:
        """Does a row match the filter words? Default: every word in some cell (`!word`: in none)."""
        hay = " ".join(cells).lower()
        return all((w[1:] not in hay) if w.startswith("!") and len(w) > 1 else (w in hay) for w in words)

    def visible(self, order: list[int]) -> list[int]:
        """The main table's display positions the filter lets through (a NodeTable ``visible_fn``)."""
        table = self.main_table
        words = [w.lower() for w in self.filter_text.split()]
        if table is None or not words:
            return list(range(len(order)))
        rows, cells = table.source_rows, table.source_cells
        return [pos for pos, src in enumerate(order) if self.matches(rows[src], cells[src], words)]

    def apply_filter(self, text: str) -> None:
        """Filter the main table; it keeps its cursor (by key) and selection."""
        self.filter_text = text
        table = self.main_table
        if table is not None:
            table.set_visible(self.visible(table.order))

    def show_rows(self, table_id: str, rows: Any) -> None:
        """New data for a table; the main table keeps its filter (and, as always, cursor and selection)."""
        table = self.table(table_id)
        table.set_rows(rows, self.visible if table_id == self.MAIN_TABLE else None)

    def header_extra(self) -> Text:
        """What the panel adds to the tab's header (counts in red, a mode...)."""
        return Text()

    def status_info(self) -> str:
        """A line of information the tab's status area shows above the error lines ("answered in 0.4 s")."""
        return ""
