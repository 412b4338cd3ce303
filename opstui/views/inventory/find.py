"""Inventory, panel `f`: which nodes have application X (optionally version =, ≠, <, >, begins with V).

One search asks every region at once (GetInventory filters on AWS:Application.Name / .Version); the counts
by version come from an aggregator, so they cost one call whatever the fleet's size. Left: the counts (enter
on a version shows only its nodes, esc all again); right: the nodes. enter on a node shows it in the Fleet,
`c` makes the found nodes (or the selected ones) the Fleet's selection and the target of Run Command.
"""

from __future__ import annotations

import time
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Input, Select

from opstui.advisories import outdated
from opstui.aws import ssm_inventory as inv
from opstui.aws.models import ApplicationSearch
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.tab import aws_work, bindings_for
from opstui.views.inventory.forms import SearchForm
from opstui.views.inventory.panel import InventoryPanel
from opstui.views.inventory.rows import MATCH_COLUMNS, CountRow, MatchRow, count_columns


class FindPanel(InventoryPanel):
    NAME, TITLE, KEY, MAIN_TABLE = "find", "Find application", "f", "inv-matches"
    BINDINGS = bindings_for(commands_of("inventory", "find"))
    SCOPED_CSS = False  # its rules name the screen's size classes (views/common/layout.py)
    DEFAULT_CSS = """
    FindPanel #inv-search-results { height: 1fr; }
    FindPanel #inv-versions { width: 38; }
    Screen.-narrow FindPanel #inv-versions { width: 26; }
    FindPanel NodeTable { min-height: 8; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.search_results: list[ApplicationSearch] = []
        self.version_pick: str | None = None  # the version chosen on the left (None: every version)
        # counters and timings (tests and bench/inventory.py read them)
        self.searches = 0
        self.last_search_seconds = 0.0
        self.last_search_render_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield SearchForm(id="inv-search-form")
        with Horizontal(id="inv-search-results"):
            yield NodeTable(count_columns("Version", versions=True), key=lambda r: r.key, id="inv-versions")
            yield NodeTable(MATCH_COLUMNS, key=lambda r: r.key, id="inv-matches")

    def on_mount(self) -> None:
        self.table("inv-versions").border_title = Content("Counts by version")
        self.table("inv-matches").border_title = Content("Nodes")

    def reset(self) -> None:
        self.search_results, self.version_pick = [], None
        super().reset()

    def shown(self) -> None:
        """In front: the found nodes, or the search box while nothing was searched."""
        if self.search_results:
            super().shown()
        else:
            self.focus_search()

    def focus_search(self) -> None:
        self.query_one(SearchForm).focus_name()

    def status_info(self) -> str:
        if not self.search_results:
            return "Find: which nodes have an application (GetInventory filters AWS:Application.Name / .Version)"
        first = self.search_results[0]
        source = {r.counts_source for r in self.search_results if r.error is None}
        how = ("counts by version from a GetInventory aggregator (AWS:Application.Name → .Version)"
               if source <= {"aggregator"}
               else "counts by version from a GetInventory aggregator; too many versions to list them per node")
        pages = sum(r.pages for r in self.search_results)
        return (f"{clean(first.name, 60)}: answered in {self.last_search_seconds:.2f}s "
                f"({pages} GetInventory page(s)); {how}. enter: show in Fleet · c: Run Command on these nodes · "
                f"space: select")

    # -- searching ----------------------------------------------------------------------------------------------
    def load(self) -> None:
        """`r` and the refresh: the last search again (nothing before the first one), keeping the version
        picked, the selection and the focus (you may be typing the next search)."""
        if self.search_results and not self.busy:  # a search of yours running: it will be the one shown
            first = self.search_results[0]
            self._search(first.name, first.op, first.version, False)

    @on(Input.Submitted, "#inv-app")
    @on(Input.Submitted, "#inv-version")
    @on(Button.Pressed, "#inv-search-go")
    def _search_submitted(self) -> None:
        self.start_search()

    def start_search(self, name: str | None = None, op: str | None = None, version: str | None = None) -> None:
        """Search what the form holds (or this, put in the form first)."""
        form = self.query_one(SearchForm)
        if name is not None:
            form.fill(name, op, version)
        name, op, version = form.values()
        problem = form.problem(name, op, version)
        if problem:
            self.errors = [problem]
            self.tab.render_status()
            return
        self._search(name, op, version, True)

    @aws_work
    async def _search(self, name: str, op: str | None, version: str | None, typed: bool) -> None:
        """One search; ``typed``: the user's (a new result: version pick and selection cleared, the
        keyboard on the nodes), else the refresh of the one shown."""
        ctx, generation = self.ctx, self.ctx.generation
        what = f"{name} (version {op} {version})" if op else name
        if typed:
            self.table("inv-matches").border_title = Content(f"Searching {clean(what, 80)}…")
        started = time.perf_counter()
        results = await ctx.fresh(inv.find_application_everywhere(ctx.aws, ctx.regions, name, op, version),
                                  generation)
        answered = time.perf_counter()
        self.last_search_seconds = answered - started
        self.search_results = results
        self.errors = [clean(str(r.error), 400) for r in results if r.error is not None]
        fleet = self.ctx.fleet.by_key()
        known = self.shared.nodes
        rows = []
        for result in results:
            for m in result.matches:
                key = f"{m.region}/{m.instance_id}"
                f, n = fleet.get(key), known.get(key)
                node_name = (f.name if f else "") or m.computer_name or m.instance_id
                platform = (f.platform if f else "") or (
                    f"{n.node.platform_name} {n.node.platform_version}".strip() if n else "")
                rows.append(MatchRow(m, node_name, platform))
        rows.sort(key=lambda r: (r.name.lower(), r.match.region, inv.version_key(r.match.version)))
        matches = self.table("inv-matches")
        if typed:
            self.version_pick = None
            matches.clear_selection()
        self.show_rows("inv-matches", rows)
        counts = inv.merge_counts(*(r.by_version for r in results))
        self.show_rows("inv-versions", [CountRow(c, name) for c in counts])
        self._title_matches()
        self.searches += 1
        self.last_search_render_seconds = time.perf_counter() - answered
        focused = self.app.focused
        if typed and self.tab.panel == self.NAME and (focused is None or isinstance(focused, Input | Select | Button)):
            matches.focus()

    # -- the version picked on the left ------------------------------------------------------------------------
    def row_visible(self, table_id: str, row: Any, cells: tuple[str, ...], words: list[str]) -> bool:
        if table_id == "inv-matches" and self.version_pick is not None:
            searched = self.search_results[0].name if self.search_results else ""
            if inv.version_label(searched, row.match.name, row.match.version) != self.version_pick:
                return False
        return super().row_visible(table_id, row, cells, words)

    def retitle(self, table_id: str) -> None:
        if table_id in ("inv-matches", "inv-versions"):
            self._title_matches()

    def _title_matches(self) -> None:
        matches = self.table("inv-matches")
        if not self.search_results:
            return
        first = self.search_results[0]
        what = f"{first.name} {first.op} {first.version}" if first.op else first.name
        nodes = {r.node_key for r in matches.rows}
        parts = [f"Nodes with {clean(what, 60)}: {len(nodes)}"]
        if len(matches.order_shown) != len(matches.rows):
            parts.append(f"showing {len(matches.order_shown)} row(s)")
        if self.version_pick is not None:
            parts.append(f"version {clean(self.version_pick, 30)} only (esc: all)")
        if matches.selected:
            parts.append(f"selected {len(matches.selected)}")
        flagged = [r for r in matches.rows if outdated(r.match.name, r.match.version)]
        if flagged:
            entry = outdated(flagged[0].match.name, flagged[0].match.version)
            parts.append(f"⚠ {len({r.node_key for r in flagged})} outdated (< {entry.minimum if entry else '?'}: "
                         f"{entry.advisory.split(',')[0] if entry else ''})")
        failing = sum(1 for r in self.search_results if r.error is not None)
        if failing:
            parts.append(f"{failing} region(s) failing")
        matches.border_title = Content(" · ".join(parts))
        versions = self.table("inv-versions")
        versions.border_title = Content(f"Counts by version ({len(versions.rows)})")

    # -- keys ----------------------------------------------------------------------------------------------------
    def action_open(self) -> None:
        """enter: on a version, only its nodes (again: all); on a node, the Fleet filtered to it."""
        table = self.focused_table()
        row = table.cursor_row if table is not None else None
        if table is None or row is None:
            return
        if table.id == "inv-versions":
            self.version_pick = None if self.version_pick == row.count.value else row.count.value
            self.refilter("inv-matches")
        elif table.id == "inv-matches":
            self.ctx.nav.jump_to("fleet", row.match.instance_id)

    def back_from(self, table: NodeTable) -> bool:
        if table.id == "inv-matches" and self.version_pick is not None:
            self.version_pick = None
            self.refilter("inv-matches")
            return True
        return False

    def export_name(self, table: NodeTable) -> str:
        if table.id == "inv-matches" and self.search_results:
            return f"find-{self.search_results[0].name}"
        return super().export_name(table)

    def action_toggle_select(self) -> None:
        self.select_under_cursor("inv-matches")

    def action_run_command(self) -> None:
        """The selected nodes (or every node shown) in the Fleet's selection and in Run Command."""
        matches = self.table("inv-matches")
        rows = matches.selected_rows() or matches.visible_rows()
        self.send_to_run_command(r.node_key for r in rows)
