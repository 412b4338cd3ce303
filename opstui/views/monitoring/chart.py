"""Small charts drawn as text: a braille line plot with the alarm threshold marked, and block sparklines.

Textual's `Sparkline` widget draws one series as bars with no axis and no reference line, and textual-plotext
is not a dependency; an alarm detail needs the threshold drawn across the plot and the time axis, so the plot
is rendered here as a `rich.text.Text` (2x4 dots per cell, braille) that any Static can show. The sparkline is
a plain string, so it fits a NodeTable cell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"
# dot bit of (column 0..1, row 0..3) within a braille cell
_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def sparkline(values: Sequence[float | None], width: int | None = None, *, low: float | None = None,
              high: float | None = None) -> str:
    """One block per value (the last `width` values), scaled between low and high; a gap for None."""
    vals = list(values)[-width:] if width else list(values)
    real = [v for v in vals if v is not None and math.isfinite(v)]
    if not real:
        return ""
    lo = min(real) if low is None else low
    hi = max(real) if high is None else high
    span = hi - lo
    out = []
    for v in vals:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif span <= 0:
            out.append(BLOCKS[len(BLOCKS) // 2])
        else:
            frac = min(max((v - lo) / span, 0.0), 1.0)
            out.append(BLOCKS[min(int(frac * len(BLOCKS)), len(BLOCKS) - 1)])
    return "".join(out)


def _fmt(value: float) -> str:
    if abs(value) >= 10_000:
        return f"{value:.3g}"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}"


def braille_plot(
    timestamps: Sequence[datetime],
    values: Sequence[float],
    *,
    width: int = 60,
    height: int = 8,
    threshold: float | None = None,
    above_is_bad: bool = True,
    title: str = "",
) -> Text:
    """A line plot of the series, `width` x `height` cells plus a y-axis label column and a time row.
    Points beyond the threshold are red, the others green; the threshold is a yellow dotted line."""
    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    points = [(t, v) for t, v in zip(timestamps, values, strict=False) if math.isfinite(v)]
    if not points:
        text.append("no datapoints in this period", style="dim")
        return text
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    if threshold is not None:
        lo, hi = min(lo, threshold), max(hi, threshold)
    lo = min(lo, 0.0) if lo >= 0 and hi > 0 and lo < hi * 0.5 else lo
    if hi == lo:
        hi = lo + 1
    hi += (hi - lo) * 0.05
    dots_w, dots_h = width * 2, height * 4
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    tspan = max(t1 - t0, 1.0)

    def xy(t: datetime, v: float) -> tuple[int, int]:
        x = round((t.timestamp() - t0) / tspan * (dots_w - 1)) if len(points) > 1 else dots_w // 2
        y = round((hi - v) / (hi - lo) * (dots_h - 1))
        return x, min(max(y, 0), dots_h - 1)

    data = [[0] * width for _ in range(height)]
    bad = [[False] * width for _ in range(height)]
    line = [[0] * width for _ in range(height)]

    def dot(grid: list[list[int]], x: int, y: int) -> None:
        grid[y // 4][x // 2] |= _BITS[y % 4][x % 2]

    prev: tuple[int, int] | None = None
    for t, v in points:
        x, y = xy(t, v)
        breach = threshold is not None and (v > threshold if above_is_bad else v < threshold)
        if prev is not None:  # join to the previous point with vertical steps so spikes stay visible
            px, py = prev
            steps = max(abs(x - px), abs(y - py), 1)
            for s in range(1, steps):
                dot(data, px + round((x - px) * s / steps), py + round((y - py) * s / steps))
        dot(data, x, y)
        if breach:
            bad[y // 4][x // 2] = True
        prev = (x, y)
    thr_row = None
    if threshold is not None:
        _, ty = xy(points[0][0], threshold)
        thr_row = ty // 4
        for x in range(0, dots_w, 2):
            dot(line, x, ty)

    label_w = max(len(_fmt(hi)), len(_fmt(lo)), len(_fmt(threshold)) if threshold is not None else 0) + 1
    for row in range(height):
        if row == 0:
            label = _fmt(hi)
        elif row == height - 1:
            label = _fmt(lo)
        elif row == thr_row and threshold is not None:
            label = _fmt(threshold)
        else:
            label = ""
        style = "yellow" if row == thr_row and label and row not in (0, height - 1) else "dim"
        text.append(label.rjust(label_w - 1) + "┤", style=style)
        for col in range(width):
            bits = data[row][col] | line[row][col]
            if not bits:
                text.append(" ")
                continue
            if data[row][col]:
                text.append(chr(0x2800 + bits), style="bold red" if bad[row][col] else "green")
            else:
                text.append(chr(0x2800 + bits), style="yellow")
        text.append("\n")
    start, end = points[0][0].astimezone(), points[-1][0].astimezone()
    left, right = f"{start:%H:%M}", f"{end:%H:%M}"
    text.append(" " * label_w + left + right.rjust(max(width - len(left), len(right))), style="dim")
    return text
