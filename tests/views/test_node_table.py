"""The shared row table (views/common/node_table.py) on its own, in a bare Textual app."""

from __future__ import annotations

from textual.app import App, ComposeResult

from opstui.views.common.columns import Column
from opstui.views.common.node_table import NodeTable

COLUMNS = [Column("name", "Name", lambda row: row)]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        table: NodeTable[str] = NodeTable(COLUMNS, key=lambda row: row, id="t")
        table.sort_column = "name"
        yield table


async def test_rows_arriving_in_parts_leave_an_unmoved_cursor_on_the_top_row():
    """The Fleet's first listing arrives partition by partition: a cursor nobody moved stays on the top row
    instead of following the first node that came (it ended mid-table, at row 16 of 25)."""
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NodeTable)
        table.set_rows(["m", "n"])
        table.set_rows(["a", "b", "m", "n", "z"])
        await pilot.pause()
        assert table.cursor == 0 and table.cursor_row == "a"


async def test_a_moved_cursor_stays_on_its_row_when_rows_arrive_above_it():
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(NodeTable)
        table.set_rows(["m", "n"])
        table.move_cursor(1)
        table.set_rows(["a", "b", "m", "n", "z"])
        await pilot.pause()
        assert table.cursor_row == "n" and table.cursor == 3
        table.set_rows([])  # a reset (another account or region): the next rows start at the top again
        table.set_rows(["c", "d"])
        assert table.cursor == 0 and table.cursor_row == "c"
