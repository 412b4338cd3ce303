"""What the Inventory's four panels have in common: a filter per table, sort and CSV export of the table you
are on, the Fleet hand-over, and the state they share through the tab.

The base Panel filters one main table. An Inventory panel shows several tables that are all worth filtering
(a thousand nodes beside ten thousand entries, the matches beside their versions), so each table keeps its
own filter and the tab's one filter box follows the table that has the focus: ``filter_target``.
``filter_text`` and ``main_table`` (what the base reads to fill the box, apply it, and focus after it) are
that table's. ``MAIN_TABLE`` is still the table that takes the focus when the panel comes in front.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual import events, on
from textual.message import Message
from textual.widgets import Button, Input, Select

from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import Panel
from opstui.views.inventory.export import EXPORT_DIR, file_part, write_csv
from opstui.views.inventory.rows import NodeRow


@dataclass
class InventoryShared:
    """What one panel learns and another shows, held by the tab (``InventoryView.shared``)."""

    #: region -> period of its inventory association's schedule (set-up learns it; browse marks late nodes)
    periods: dict[str, timedelta | None] = field(default_factory=dict)
    #: node key -> the node with inventory (browse loads them; find names its matches from them)
    nodes: dict[str, NodeRow] = field(default_factory=dict)
    export_dir: Path = EXPORT_DIR  # tests point it at a temporary folder
    last_export: Path | None = None

    def clear(self) -> None:
        self.periods.clear()
        self.nodes.clear()


class InventoryPanel(Panel):
    """A panel of the Inventory tab (see the module's docstring for the filter per table)."""

    FILTER_HINT = "filter the table: words that must all appear, !negate"

    class FilterTargetChanged(Message):
        """The focus moved to another table of the panel: the tab's filter box now shows that table's filter."""

        def __init__(self, panel: InventoryPanel) -> None:
            super().__init__()
            self.panel = panel

    def __init__(self, **kwargs: Any) -> None:
        # before the base's __init__, which sets `filter_text` (a property here)
        self.filters: dict[str, str] = {}  # table id -> filter text
        self.filter_target = self.MAIN_TABLE
        super().__init__(**kwargs)

    # -- the filter of the table you are on --------------------------------------------------------------------
    @property
    def filter_text(self) -> str:
        return self.filters.get(self.filter_target, "")

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        self.filters[self.filter_target] = text

    @property
    def main_table(self) -> NodeTable | None:
        return self.table(self.filter_target) if self.filter_target else None

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        table = event.widget
        if isinstance(table, NodeTable) and table.id and table.id != self.filter_target:
            self.filter_target = table.id
            self.post_message(self.FilterTargetChanged(self))

    def apply_filter(self, text: str) -> None:
        self.filter_text = text
        self.refilter(self.filter_target)

    def show_rows(self, table_id: str, rows: Any) -> None:
        """New rows for a table, its own filter applied (cursor and selection kept, as always)."""
        table = self.table(table_id)
        table.set_rows(rows, self.visible_fn(table))

    def visible_fn(self, table: NodeTable) -> Callable[[list[int]], list[int]]:
        """The filter of this table as NodeTable's ``visible_fn`` (display positions to show)."""
        return lambda _order: self.visible_positions(table)

    def visible_positions(self, table: NodeTable) -> list[int]:
        table_id = table.id or ""
        words = self.filters.get(table_id, "").lower().split()
        return [pos for pos, cells in enumerate(table.cells) if self.row_visible(table_id, table.rows[pos], cells, words)]

    def row_visible(self, table_id: str, row: Any, cells: tuple[str, ...], words: list[str]) -> bool:
        """Does a row pass its table's filter? (the find panel adds the version picked on the left)"""
        return not words or self.matches(row, cells, words)

    def refilter(self, table_id: str) -> None:
        table = self.table(table_id)
        table.set_visible(self.visible_positions(table))
        self.retitle(table_id)

    def retitle(self, table_id: str) -> None:
        """Redraw the border title of a table whose counts, filter or selection changed (if it has one)."""

    @on(NodeTable.SelectionChanged)
    def _selection_changed(self, event: NodeTable.SelectionChanged) -> None:
        self.retitle(event.table.id or "")

    # -- what the panels share ---------------------------------------------------------------------------------
    @property
    def shared(self) -> InventoryShared:
        shared = getattr(self.tab, "shared", None)
        if not isinstance(shared, InventoryShared):
            raise RuntimeError(f"panel {self.NAME} is not inside the Inventory tab")
        return shared

    def periods_changed(self) -> None:
        """The set-up panel learnt each region's schedule (the browse panel re-marks late nodes)."""

    def status_info(self) -> str:
        """A line of information above the error lines of the status area ("" for none)."""
        return ""

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def shown(self) -> None:
        """In front: the keyboard on the panel's first table (not the last one filtered), loaded once."""
        self.table(self.MAIN_TABLE).focus()
        if not self.loaded and not self.busy:
            self.load()

    def reset(self) -> None:
        self.filters.clear()
        super().reset()

    # -- the table you are on --------------------------------------------------------------------------------------
    def focused_table(self) -> NodeTable | None:
        focused = self.app.focused
        if isinstance(focused, NodeTable) and self in focused.ancestors:
            return focused
        return None

    def target_table(self) -> NodeTable:
        """The focused table of the panel, else the one last focused (what `o`, `O`, `e` and `/` act on)."""
        return self.focused_table() or self.table(self.filter_target)

    def action_sort_next(self) -> None:
        table = self.target_table()
        keys = [c.key for c in table.columns]
        current = table.sort_column
        table.sort_by(keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0], reverse=False)

    def action_sort_reverse(self) -> None:
        table = self.target_table()
        table.sort_by(table.sort_column or table.columns[0].key, reverse=not table.sort_reverse)

    def export_name(self, table: NodeTable) -> str:
        """What the CSV file is named after (untrusted parts are made safe by ``file_part``)."""
        return (table.id or "table").removeprefix("inv-")

    def action_export(self) -> None:
        table = self.target_table()
        shared = self.shared
        path = shared.export_dir / f"inventory-{file_part(self.export_name(table))}-{datetime.now():%Y%m%d-%H%M%S}.csv"
        try:
            count = write_csv(path, table)
        except OSError as err:
            self.app.notify(f"Export failed: {clean(str(err), 300)}", severity="error", markup=False)
            return
        shared.last_export = path
        self.app.notify(f"Wrote {count} row(s) to {path}", title="Exported CSV", markup=False, timeout=10)

    def select_under_cursor(self, *table_ids: str) -> None:
        """space: select / unselect the row under the cursor of one of these tables, and go to the next."""
        table = self.focused_table()
        if table is not None and table.id in table_ids:
            table.toggle_selected()
            table.action_cursor(1)

    def action_back(self) -> bool:
        """esc, after the filter box: out of a form field, then what narrows the table (selection, filter),
        then a level up (``back_from``). False leaves the rest to the tab (it clears the filter)."""
        focused = self.app.focused
        if isinstance(focused, Input | Select | Button) and self in focused.ancestors:
            self.table(self.MAIN_TABLE).focus()
            return True
        table = self.focused_table()
        if table is None:
            return False
        if table.selected:
            table.clear_selection()
            return True
        if self.filters.get(table.id or ""):
            self.filter_target = table.id or ""
            return False
        return self.back_from(table)

    def back_from(self, table: NodeTable) -> bool:
        """esc on a table with nothing to clear: go a level up (True) or not (False)."""
        return False

    # -- the Fleet ---------------------------------------------------------------------------------------------------
    def send_to_run_command(self, keys: Iterable[str]) -> None:
        """These nodes become the Fleet's selection and the target of Run Command (the Fleet follows the model)."""
        wanted = list(dict.fromkeys(keys))
        fleet = self.ctx.fleet.by_key()
        nodes = [fleet[k] for k in wanted if k in fleet]
        if not nodes:
            self.app.notify("None of these nodes is in the Fleet (not loaded yet, or no longer managed).",
                            severity="warning", markup=False)
            return
        missing = len(wanted) - len(nodes)
        self.ctx.fleet.select(n.key for n in nodes)
        self.ctx.nav.open_run_command(nodes)
        note = f" ({missing} not in the Fleet left out)" if missing else ""
        self.app.notify(f"Run Command target: {len(nodes)} node(s) from the inventory{note}", markup=False)
