"""Screen sizes the layouts are designed for: 80×24 first (the SSH user's terminal), growing from there.

The app sets Textual's breakpoints (``App.HORIZONTAL_BREAKPOINTS`` / ``VERTICAL_BREAKPOINTS``): the screen
carries ``-narrow`` below :data:`WIDE` columns and ``-wide`` from there, ``-short`` below :data:`TALL` rows and
``-tall`` from there, updated on every resize. A tab's CSS adapts with those classes (``Screen.-short
AlarmsPanel #mon-alarm-detail { height: 1fr; }``) and with ``fr`` units and ``min-height``, never with sizes
computed in Python. What every tab holds to at 80×24 (tests/views/test_small_screen.py):

- every list shows at least :data:`MIN_LIST_ROWS` rows: a bordered table is ``min-height:``
  :data:`LIST_MIN_HEIGHT` (border, header row, the rows), and what shares the panel with it gives way;
- tables keep the columns that matter and drop the rest in the order stated next to each column list
  (``drop_order`` in ``node_table.py``);
- side-by-side parts stack, or show one at a time, when the width cannot hold both;
- the status bar keeps the READ-ONLY and SANDBOX badges first and drops its other parts in a stated order.
"""

from __future__ import annotations

WIDE = 100  # columns: from here two panes side by side each get a useful width
TALL = 32  # rows: from here a detail box keeps its full height under a list
MIN_LIST_ROWS = 5
LIST_MIN_HEIGHT = MIN_LIST_ROWS + 3  # border top and bottom, header row

HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-narrow"), (WIDE, "-wide")]
VERTICAL_BREAKPOINTS: list[tuple[int, str]] = [(0, "-short"), (TALL, "-tall")]


def breakpoint_classes(width: int, height: int) -> tuple[str, ...]:
    """The classes Textual's resize handler gives the screen at this size (the highest breakpoint reached on
    each axis). The app's first screen starts with them: when the first resize finds them already set, Textual
    does not restyle the whole DOM a second time at start-up (a third of its start-up styling work)."""

    def reached(size: int, points: list[tuple[int, str]]) -> str:
        return max((p for p in points if size >= p[0]), key=lambda p: p[0])[1]

    return reached(width, HORIZONTAL_BREAKPOINTS), reached(height, VERTICAL_BREAKPOINTS)
