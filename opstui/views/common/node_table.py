"""A Line-API table for big fleets: filter and repaint cost what one screen costs, not what 10,000 rows cost.

Textual's DataTable rebuilds every row on clear()+add_rows() (~300 ms for 10,000 rows here), far above the
50 ms a filter keystroke may take. This table keeps all rows in a list, a list of visible indices (filter and
sort are index operations), and draws only the rows on screen through `render_line`, one cached Strip per row.
Cells are cleaned (`opstui.safe.clean`) once per data load and drawn as plain segments: never markup.

Narrow terminals (80 columns, the SSH user's) are the design case: when the columns do not fit the table's
width, each table drops columns in the order its column list states (:func:`drop_order`: the first key named
goes first; a column not named is never dropped), then squeezes the columns that allow it (``min_width``) with
an ellipsis. Only then, if the kept columns are still wider, the table scrolls sideways. Dropped columns come
back as soon as there is room (a resize). Every tab's detail pane still shows every field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opstui.views.common.columns import Column, PreparedRows, drop_order, fit_columns, prepare_rows

R = TypeVar("R")

__all__ = ["Column", "NodeTable", "PreparedRows", "drop_order", "fit_columns", "prepare_rows"]


class NodeTable(ScrollView, Generic[R], can_focus=True):
    """Rows of `R` with a fixed header row, a cursor, multi-select and sorting."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
        Binding("left,h", "scroll_left", "Left", show=False),
        Binding("right,l", "scroll_right", "Right", show=False),
    ]

    #: the table's colours come from the theme (`--theme`), not from fixed styles
    COMPONENT_CLASSES = {"node-table--header", "node-table--cursor", "node-table--selected"}
    DEFAULT_CSS = """
    NodeTable { height: 1fr; }
    NodeTable > .node-table--header { color: $foreground; background: $panel; text-style: bold; }
    NodeTable > .node-table--cursor { color: $foreground; background: $primary 60%; text-style: bold; }
    NodeTable > .node-table--selected { color: $warning; }
    """

    class CursorMoved(Message):
        def __init__(self, table: NodeTable, row: Any | None) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> NodeTable:
            return self.table

    class SelectionChanged(Message):
        """The user changed the selection (space, select all, clear)."""

        def __init__(self, table: NodeTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> NodeTable:
            return self.table

    class SortChanged(Message):
        def __init__(self, table: NodeTable, column: str, reverse: bool) -> None:
            super().__init__()
            self.table = table
            self.column = column
            self.reverse = reverse

        @property
        def control(self) -> NodeTable:
            return self.table

    def __init__(self, columns: Sequence[Column[R]], key: Callable[[R], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = list(columns)
        self.row_key = key
        self.source_rows: list[R] = []  # as given
        self.source_cells: list[tuple[str, ...]] = []
        self.order: list[int] = []  # source index of each display row (sorted)
        self.rows: list[R] = []  # display order
        self.cells: list[tuple[str, ...]] = []  # cleaned text per display row per column
        self.order_shown: list[int] = []  # indices into rows, in display order
        self.selected: set[str] = set()
        self.widths: list[int] = [cell_len(c.label) for c in self.columns]  # natural widths, every column
        self.shown_columns: list[int] = list(range(len(self.columns)))  # what fits (fit_columns)
        self.shown_widths: list[int] = list(self.widths)
        self._fitted_for = -1  # the width the columns were fitted for
        self.cursor = 0
        # Until the cursor is moved, it stays on the top row: rows arriving in several listings (the Fleet's
        # partitions, region by region) would otherwise carry it along with the first row that came
        self.cursor_placed = False
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._strips: dict[tuple[int, bool, bool], Strip] = {}
        self._header: Strip | None = None
        self._gap = 2
        self._mark_width = 2
        self.base_style = Style()
        self.header_style = Style(bold=True)
        self.cursor_style = Style(reverse=True, bold=True)
        self.selected_style = Style(color="yellow")

    def on_mount(self) -> None:
        self._theme_styles()
        self.watch(self.app, "theme", lambda _theme: self._theme_styles(), init=False)

    def _theme_styles(self) -> None:
        """The header, cursor and selection colours of the current theme (component classes)."""
        self.header_style = self.get_component_rich_style("node-table--header")
        self.cursor_style = self.get_component_rich_style("node-table--cursor")
        self.selected_style = self.get_component_rich_style("node-table--selected", partial=True)
        self._strips.clear()
        self._header = None
        self.refresh()

    # -- data ---------------------------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column[R]]) -> None:
        """Other columns (a Logs Insights query's fields); set the rows again afterwards."""
        self.columns = list(columns)
        self.sort_column = None
        self._header = None
        self._strips.clear()

    def set_rows(self, rows: Sequence[R], visible_fn: Callable[[list[int]], list[int]] | None = None) -> None:
        """Replace the data (cells prepared here; see `prepare_rows` to do that off the UI thread)."""
        self.set_prepared(prepare_rows(self.columns, rows), visible_fn)

    def set_prepared(
        self, prepared: PreparedRows[R], visible_fn: Callable[[list[int]], list[int]] | None = None
    ) -> None:
        """Swap in new data, keeping cursor (by row key), selection and scroll position.

        `visible_fn` gets `order` (the source index of each display row) and returns the display positions to
        show: the filter.
        """
        current = self.cursor_row
        current_key = self.row_key(current) if current is not None else None
        self.source_rows = prepared.rows
        self.source_cells = prepared.cells
        self.widths = prepared.widths
        self._fit(force=True)
        live_keys = {self.row_key(r) for r in self.source_rows}
        self.selected &= live_keys
        self._reorder()
        visible = visible_fn(self.order) if visible_fn is not None else list(range(len(self.rows)))
        self.set_visible(visible, keep_key=current_key)

    def _reorder(self) -> None:
        order = list(range(len(self.source_rows)))
        idx = next((i for i, c in enumerate(self.columns) if c.key == self.sort_column), None)
        if idx is not None:
            col = self.columns[idx]
            if col.sort_key is not None:
                keyf, rows = col.sort_key, self.source_rows
                order.sort(key=lambda i: keyf(rows[i]), reverse=self.sort_reverse)
            else:
                cells = self.source_cells
                order.sort(key=lambda i: cells[i][idx].lower(), reverse=self.sort_reverse)
        self.order = order
        self.rows = [self.source_rows[i] for i in order]
        self.cells = [self.source_cells[i] for i in order]

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by a column; sorting by the same column again flips the direction."""
        if reverse is None:
            reverse = not self.sort_reverse if self.sort_column == column else False
        keep = self.cursor_row
        keep_key = self.row_key(keep) if keep is not None else None
        shown_sources = {self.order[i] for i in self.order_shown}
        self.sort_column, self.sort_reverse = column, reverse
        self._reorder()
        self._fit(force=True)
        self.set_visible([pos for pos, src in enumerate(self.order) if src in shown_sources], keep_key=keep_key)
        self.post_message(self.SortChanged(self, column, reverse))

    def set_visible(self, visible: list[int], keep_key: str | None = None) -> None:
        """Show only these row indices (the filter result). Cheap: no cell work, only a repaint."""
        if not self.rows:
            self.cursor_placed = False  # emptied (a reset): the next rows start at the top again
        if not self.cursor_placed:
            keep_key = None
        elif keep_key is None and self.cursor_row is not None:
            keep_key = self.row_key(self.cursor_row)
        self.order_shown = visible
        self._strips.clear()
        self._header = None
        new_cursor = 0
        if keep_key is not None:
            for pos, i in enumerate(visible):
                if self.row_key(self.rows[i]) == keep_key:
                    new_cursor = pos
                    break
            else:
                new_cursor = min(self.cursor, max(len(visible) - 1, 0))
        self.cursor = new_cursor
        self.virtual_size = Size(self.total_width, len(self.order_shown) + 1)
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.cursor_row))

    @property
    def total_width(self) -> int:
        return self._mark_width + sum(self.shown_widths) + self._gap * len(self.shown_widths)

    @property
    def shown_keys(self) -> list[str]:
        """The keys of the columns on screen (the others were dropped for want of width)."""
        return [self.columns[i].key for i in self.shown_columns]

    def _fit(self, force: bool = False) -> None:
        """Choose the columns and widths for the current width (on data and on resize)."""
        # the vertical scrollbar's room is always kept: it comes and goes with the rows, and columns fitted
        # without it would make a horizontal scrollbar (one row less) as soon as it appears
        available = self.content_region.width - self.styles.scrollbar_size_vertical if self.is_mounted else 0
        if not force and available == self._fitted_for:
            return
        self._fitted_for = available
        widths = list(self.widths)
        for i, col in enumerate(self.columns):
            if col.key == self.sort_column:  # room for the sort arrow in the header
                widths[i] = max(widths[i], min(cell_len(col.label) + 2, max(col.max_width, cell_len(col.label))))
        self.shown_columns, self.shown_widths = fit_columns(self.columns, widths, available, self._gap,
                                                            self._mark_width)
        self._strips.clear()
        self._header = None
        self.virtual_size = Size(self.total_width, len(self.order_shown) + 1)
        if self.is_mounted:
            # Textual refreshes a ScrollView's scrollbars only when its own size changes: a horizontal scrollbar
            # left from the wider columns would hide a row
            self._scroll_update(self.virtual_size)
        self.refresh()

    @property
    def cursor_row(self) -> R | None:
        if 0 <= self.cursor < len(self.order_shown):
            return self.rows[self.order_shown[self.cursor]]
        return None

    def visible_rows(self) -> list[R]:
        return [self.rows[i] for i in self.order_shown]

    def selected_rows(self) -> list[R]:
        return [r for r in self.rows if self.row_key(r) in self.selected]

    # -- selection ----------------------------------------------------------------------------------------
    def toggle_selected(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        key = self.row_key(row)
        self.selected.symmetric_difference_update({key})
        self._invalidate_row(self.cursor)
        self.post_message(self.SelectionChanged(self))

    def select_visible(self) -> None:
        self.selected.update(self.row_key(r) for r in self.visible_rows())
        self._strips.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self))

    def clear_selection(self) -> None:
        self.selected.clear()
        self._strips.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self))

    def set_selected(self, keys: set[str]) -> None:
        """Select exactly these keys (a selection made elsewhere); posts no message."""
        self.selected = set(keys)
        self._strips.clear()
        self.refresh()

    # -- cursor ------------------------------------------------------------------------------------------
    def move_cursor(self, position: int) -> None:
        if not self.order_shown:
            return
        position = max(0, min(position, len(self.order_shown) - 1))
        self.cursor_placed = True
        if position == self.cursor:
            return
        old = self.cursor
        self.cursor = position
        self._invalidate_row(old)
        self._invalidate_row(position)
        self._scroll_cursor_into_view()
        self.post_message(self.CursorMoved(self, self.cursor_row))

    def _scroll_cursor_into_view(self) -> None:
        body = max(self.size.height - 1, 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def _invalidate_row(self, position: int) -> None:
        for k in [k for k in self._strips if k[0] == position]:
            del self._strips[k]
        y = position - round(self.scroll_y) + 1
        if 1 <= y < self.size.height:
            self.refresh_line(y)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * max(self.size.height - 2, 1))

    def action_jump(self, where: int) -> None:
        self.move_cursor(0 if where == 0 else len(self.order_shown) - 1)

    def on_click(self, event: events.Click) -> None:
        # the click in content coordinates: event.x/y count the border too (a bordered table put the cursor
        # one row below the row clicked, and enter then acted on that one)
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            x = offset.x + round(self.scroll_x) - self._mark_width
            for i, width in zip(self.shown_columns, self.shown_widths, strict=True):
                if x < width + self._gap:
                    self.sort_by(self.columns[i].key)
                    return
                x -= width + self._gap
            return
        self.move_cursor(round(self.scroll_y) + offset.y - 1)

    # -- drawing -------------------------------------------------------------------------------------------
    def _render_cells(self, cells: Sequence[str], style: Style, row: R | None) -> list[Segment]:
        segments: list[Segment] = []
        gap = " " * self._gap
        for i, width in zip(self.shown_columns, self.shown_widths, strict=True):
            col, text = self.columns[i], cells[i]
            cell = text if cell_len(text) <= width else set_cell_size(text, width - 1) + "…"
            cell = set_cell_size(cell, width)
            extra = col.style(row) if (row is not None and col.style is not None) else None
            segments.append(Segment(cell, style + extra if extra else style))
            segments.append(Segment(gap, style))
        return segments

    def _header_strip(self) -> Strip:
        if self._header is None:
            labels = []
            for col in self.columns:
                arrow = ""
                if col.key == self.sort_column:
                    arrow = " ▼" if self.sort_reverse else " ▲"
                labels.append(col.label + arrow)
            segs = [Segment(" " * self._mark_width, self.header_style)]
            segs += self._render_cells(labels, self.header_style, None)
            self._header = Strip(segs, self.total_width)
        return self._header

    def _row_strip(self, position: int) -> Strip:
        index = self.order_shown[position]
        row = self.rows[index]
        is_cursor = position == self.cursor
        selected = self.row_key(row) in self.selected
        cache_key = (position, is_cursor, selected)
        strip = self._strips.get(cache_key)
        if strip is None:
            style = self.base_style
            if selected:
                style = style + self.selected_style
            if is_cursor:
                style = style + self.cursor_style
            mark = "● " if selected else "  "
            segs = [Segment(mark, style)] + self._render_cells(self.cells[index], style, row)
            strip = Strip(segs, self.total_width)
            if len(self._strips) > 4000:
                self._strips.clear()
            self._strips[cache_key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = round(self.scroll_x)
        if y == 0:
            strip = self._header_strip()
        else:
            position = round(self.scroll_y) + y - 1
            if position >= len(self.order_shown):
                return Strip.blank(width, self.rich_style)
            strip = self._row_strip(position)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def on_resize(self) -> None:
        self._strips.clear()
        self._fit()
