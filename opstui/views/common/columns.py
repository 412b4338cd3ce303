"""The columns of a NodeTable and the pure work behind it, kept off the widget: which columns fit a width (dropped
in the order each list states, then squeezed), and the cleaned cells and natural widths of a data load (built in
a thread for a big fleet). No Textual here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from rich.cells import cell_len
from rich.style import Style

from opstui.safe import clean

R = TypeVar("R")


@dataclass(frozen=True)
class Column(Generic[R]):
    key: str
    label: str
    get: Callable[[R], str]
    max_width: int = 40
    style: Callable[[R], Style | None] | None = None
    sort_key: Callable[[R], Any] | None = None
    #: when the table is too narrow: 0 = always kept, else dropped in this order (1 first); see drop_order()
    drop: int = 0
    #: squeezed down to this many cells (with …) before the table scrolls sideways; 0 = never squeezed
    min_width: int = 0


def drop_order(columns: Sequence[Column[R]], keys: Sequence[str], squeeze: Mapping[str, int] | None = None
               ) -> list[Column[R]]:
    """The columns, with the order in which a narrow table drops them: ``keys[0]`` first. Columns not named
    are the ones that matter and are never dropped. ``squeeze``: columns that may be cut (with …) down to that
    many cells before anything is dropped for want of a few cells. Stated next to each column list, e.g.
    ``ALARM_COLUMNS = drop_order([...], ("metric", "condition", ...), squeeze={"name": 28})``."""
    squeeze = dict(squeeze or {})
    known = {c.key for c in columns}
    unknown = [k for k in (*keys, *squeeze) if k not in known]
    if unknown:
        raise ValueError(f"drop_order: unknown column(s) {unknown}")
    rank = {k: i + 1 for i, k in enumerate(keys)}
    return [replace(c, drop=rank.get(c.key, 0), min_width=squeeze.get(c.key, c.min_width)) for c in columns]


def fit_columns(columns: Sequence[Column[Any]], widths: Sequence[int], available: int, gap: int,
                mark: int) -> tuple[list[int], list[int]]:
    """Which columns a table of ``available`` cells shows, and how wide: drop in the stated order while even
    the squeezed widths do not fit, then squeeze down to ``min_width``, the columns next in the drop order
    first (the columns that matter last). Pure (tests call it)."""
    shown = list(range(len(columns)))

    def least(i: int) -> int:
        col = columns[i]
        return min(widths[i], max(col.min_width, cell_len(col.label))) if col.min_width else widths[i]

    def needed(idx: list[int], width_of: Callable[[int], int]) -> int:
        return mark + sum(width_of(i) + gap for i in idx)

    if available > 0:
        for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop):
            if needed(shown, least) <= available:
                break
            shown.remove(i)
    fitted = {i: widths[i] for i in shown}
    excess = needed(shown, fitted.__getitem__) - available if available > 0 else 0
    # squeeze the columns that would be dropped first before those that matter (a name stays whole longest)
    for i in sorted(shown, key=lambda i: (columns[i].drop == 0, columns[i].drop)):
        if excess <= 0:
            break
        cut = min(excess, fitted[i] - least(i))
        fitted[i] -= cut
        excess -= cut
    return shown, [fitted[i] for i in shown]


@dataclass(frozen=True)
class PreparedRows(Generic[R]):
    """Rows with their cleaned cell text and column widths: the expensive part of a data swap."""

    rows: list[R]
    cells: list[tuple[str, ...]]
    widths: list[int]


def prepare_rows(columns: Sequence[Column[R]], rows: Sequence[R]) -> PreparedRows[R]:
    """Pure and thread-safe, so a 10,000-row refresh can do this off the UI thread."""
    cells = [tuple(clean(c.get(r), limit=c.max_width * 4) for c in columns) for r in rows]
    widths = [cell_len(c.label) for c in columns]
    for i, col in enumerate(columns):
        seen: set[str] = set()
        best = widths[i]
        for row_cells in cells:
            text = row_cells[i]
            if text in seen:
                continue
            seen.add(text)
            w = cell_len(text)
            if w > best:
                best = w
                if best >= col.max_width:
                    break
        widths[i] = min(best, col.max_width)
    return PreparedRows(list(rows), cells, widths)
