"""The Inventory tab: what is installed where, across the fleet, and the association that keeps it fresh.

Four panels, one module each next to this one (`b`, `f`, `u`, `a`):

    browse   nodes with inventory -> the node's types -> the type's entries
    find     which nodes have application X (version op V): counts by version + the nodes; enter shows
             the node in the Fleet, `c` sends the matching nodes to Run Command
    summary  counts by platform, OS version and agent version (GetInventory aggregators)
    set-up   the AWS-GatherSoftwareInventory association of each region (all managed nodes): status, last
             executions, create it or change its schedule (>= 30 minutes; disabled in read-only mode)

The tab itself is the shared TabView (header, panel switch, filter, status line, refresh). What differs: the
filter box follows the table you are on (each table keeps its own filter, see `panel.py`), the status area
starts with a line of information about the panel in front (how the search was answered), and the panels
share what one learns and another shows (`InventoryShared`). `/` filters, `o`/`O` sort, `e` writes CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.widgets import Input

from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import TabView
from opstui.views.inventory.browse import BrowsePanel
from opstui.views.inventory.find import FindPanel
from opstui.views.inventory.panel import InventoryPanel, InventoryShared
from opstui.views.inventory.setup import SetupPanel
from opstui.views.inventory.summary import SummaryPanel


class InventoryView(TabView):

    #: inventory is captured every 30 minutes or more: reload on `r`, not every few seconds
    AUTO_REFRESH = False
    TAB_ID, TITLE = "inventory", "Inventory"
    PANELS = (BrowsePanel, FindPanel, SummaryPanel, SetupPanel)
    DEFAULT_CSS = """
    InventoryView #inventory-status { color: $text; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shared = InventoryShared()

    # -- header and status --------------------------------------------------------------------------------------
    def header_text(self) -> Text:
        text = super().header_text()
        text.append("  / filter  o sort  e export CSV  r reload", style="dim")
        return text

    # -- the filter box follows the table you are on ----------------------------------------------------------------
    @on(InventoryPanel.FilterTargetChanged)
    def _filter_target_changed(self, event: InventoryPanel.FilterTargetChanged) -> None:
        box = self.query_one(f"#{self.TAB_ID}-filter", Input)
        if event.panel is not self.current or box.has_focus:
            return
        with box.prevent(Input.Changed):
            box.value = event.panel.filter_text
        box.set_class(bool(box.value), "-shown")

    def show_panel(self, name: str, filter_text: str | None = None) -> None:
        """As every tab; coming to the find panel from another one puts the keyboard in the search box."""
        switched = name != self.panel
        super().show_panel(name, filter_text)
        if switched and name == "find":
            self.query_one(FindPanel).focus_search()

    # -- the lifecycle the app calls ------------------------------------------------------------------------------
    def reset(self, generation: int) -> None:
        self.shared.clear()
        super().reset(generation)

    # -- what the tests, bench/inventory.py and screenshots/make.py read --------------------------------------------
    def table(self, table_id: str) -> NodeTable:
        return self.query_one(f"#{table_id}", NodeTable)

    def load(self, panel: str) -> None:
        self.panel_named(panel).load()

    def start_search(self, name: str | None = None, op: str | None = None, version: str | None = None) -> None:
        self.query_one(FindPanel).start_search(name, op, version)

    @property
    def filters(self) -> dict[str, str]:
        """Table id -> its filter text, every panel's."""
        return {tid: text for p in self.panels() if isinstance(p, InventoryPanel) for tid, text in p.filters.items()}

    @property
    def nodes(self) -> dict[str, Any]:
        return self.shared.nodes

    @property
    def export_dir(self) -> Path:
        return self.shared.export_dir

    @export_dir.setter
    def export_dir(self, path: Path) -> None:
        self.shared.export_dir = path

    @property
    def last_export(self) -> Path | None:
        return self.shared.last_export

    @property
    def node_errors(self) -> dict[str, str]:
        return self.query_one(BrowsePanel).node_errors

    @property
    def node_loads(self) -> int:
        return self.query_one(BrowsePanel).node_loads

    @property
    def type_loads(self) -> int:
        return self.query_one(BrowsePanel).type_loads

    @property
    def entry_loads(self) -> int:
        return self.query_one(BrowsePanel).entry_loads

    @property
    def entries_info(self) -> Any:
        return self.query_one(BrowsePanel).entries_info

    @property
    def last_entries_render_seconds(self) -> float:
        return self.query_one(BrowsePanel).last_entries_render_seconds

    @property
    def searches(self) -> int:
        return self.query_one(FindPanel).searches

    @property
    def version_pick(self) -> str | None:
        return self.query_one(FindPanel).version_pick

    @property
    def last_search_seconds(self) -> float:
        return self.query_one(FindPanel).last_search_seconds

    @property
    def summaries(self) -> int:
        return self.query_one(SummaryPanel).loads

    @property
    def setup_loads(self) -> int:
        return self.query_one(SetupPanel).loads

    @property
    def applies(self) -> int:
        return self.query_one(SetupPanel).applies
