"""Logs, panel 3: a Logs Insights query over the groups picked in panel 1 (the selected ones, else the one
under the cursor), for the last 15 minutes to 7 days (``t``), run with ``ctrl+r`` or ``enter`` in the query
box; the results are a table with one column per field. The queries run this session are kept (newest first):
``up`` / ``down`` in the query box walk through them (``down`` past the newest gives back what was being
typed). ``ctrl+o`` opens the picker (``saved.py``): the account's saved queries of every region
(DescribeQueryDefinitions), then this session's; a saved query brings its query string and selects its log
groups in panel 1.

StartQuery is refused by the read-only guard (its name is not a read prefix, although IAM counts it as a
read; see ``opstui/aws/logs.py``), so in read-only mode running is disabled and the header says why.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

from opstui.aws import logs as lg
from opstui.aws.errors import OpsError
from opstui.aws.logs_models import QueryDefinition, QueryResults
from opstui.aws.regions import per_region
from opstui.commands import commands_of
from opstui.safe import clean
from opstui.views.common.node_table import NodeTable
from opstui.views.common.safe_input import SafeInput
from opstui.views.common.tab import Panel, bindings_for
from opstui.views.common.work import action_work
from opstui.views.logs.groups import GroupsPanel
from opstui.views.logs.rows import query_columns
from opstui.views.logs.saved import Picked, QueryPicker

RANGES = ((15 * 60, "15 min"), (3600, "1 h"), (6 * 3600, "6 h"), (24 * 3600, "24 h"), (7 * 86400, "7 days"))
DEFAULT_QUERY = "fields @timestamp, @logStream, @message | sort @timestamp desc | limit 100"


BLOCKS = " ▁▂▃▄▅▆▇█"


_BIN = re.compile(r"^bin\(\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\w*\s*\)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _bin_seconds(field: str) -> float | None:
    """``bin(1m)`` -> 60.0; None when the width is not one number and unit (then no gap is filled)."""
    m = _BIN.match(field)
    return float(m.group(1)) * _UNIT_S[m.group(2)] if m else None


def _parse_stamp(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None


def _with_gaps(points: list[tuple[str, float]], width_s: float | None) -> list[float]:
    """The values, with the bins Insights leaves out (those with no record) put back as zeros, so a column is
    always one bin width of time (at most 10,000 bins; otherwise, or when a stamp does not parse, as they are)."""
    values = [v for _, v in points]
    stamps = [_parse_stamp(p) for p, _ in points]
    if not width_s or len(points) < 2 or any(t is None for t in stamps):
        return values
    seconds = [(t - stamps[0]).total_seconds() for t in stamps if t is not None and stamps[0] is not None]
    span = round(seconds[-1] / width_s)
    if span > 10_000:
        return values
    counts: dict[int, float] = {}
    for offset, v in zip(seconds, values, strict=True):
        counts[round(offset / width_s)] = counts.get(round(offset / width_s), 0.0) + v
    return [counts.get(i, 0.0) for i in range(span + 1)]


def histogram(results: QueryResults, width: int = 120, height: int = 6) -> Text | None:
    """A column chart of ``stats count(*) by bin(…)``-style results: one column per bin in time order (the
    bins Insights leaves out, those with no record, drawn as zeros; bins merged when there are more than
    ``width``), the count's scale on the left. None when the results have no ``bin(`` field and a numeric one."""
    fields = results.fields
    when = next((f for f in fields if f.startswith("bin(")), None)
    if when is None:
        return None
    points: list[tuple[str, float]] = []
    value_field = None
    for f in fields:
        if f == when:
            continue
        try:
            points = [(dict(r).get(when, ""), float(dict(r).get(f, "") or 0)) for r in results.rows]
        except ValueError:
            continue
        value_field = f
        break
    if value_field is None or not points:
        return None
    points.sort()
    first, last = points[0][0], points[-1][0]
    values = _with_gaps(points, _bin_seconds(when))
    if len(values) > width:
        step = -(-len(values) // width)
        values = [sum(values[i:i + step]) for i in range(0, len(values), step)]
    top = max(values) or 1
    label_width = len(f"{top:,.0f}")
    text = Text()
    for row in range(height, 0, -1):
        label = f"{top:,.0f}" if row == height else ("0" if row == 1 else "")
        text.append(label.rjust(label_width) + " ┤", style="dim")
        for v in values:
            eighths = round(v / top * height * 8)
            cell = min(max(eighths - (row - 1) * 8, 0), 8)
            text.append(BLOCKS[cell], style="cyan")
        text.append("\n")
    text.append(" " * label_width + " └" + "─" * len(values) + "\n", style="dim")
    text.append(" " * (label_width + 2) + clean(f"{first} … {last}  ({value_field} by {when})", 200),
                style="dim")
    return text


class QueryInput(SafeInput):
    """The query editor: ``up`` / ``down`` walk through this session's queries, like a shell's history."""

    BINDINGS = [Binding("up", "previous", "Previous query", show=False),
                Binding("down", "next", "Next query", show=False)]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.position = -1  # -1: the text being typed; 0..: history[position]
        self.draft = ""

    def _panel(self) -> InsightsPanel | None:
        return next((a for a in self.ancestors if isinstance(a, InsightsPanel)), None)

    def _show(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)

    def action_previous(self) -> None:
        panel = self._panel()
        if panel is None or self.position + 1 >= len(panel.history):
            return
        if self.position == -1:
            self.draft = self.value
        self.position += 1
        self._show(panel.history[self.position])

    def action_next(self) -> None:
        panel = self._panel()
        if panel is None or self.position < 0:
            return
        self.position -= 1
        self._show(self.draft if self.position < 0 else panel.history[self.position])

    def forget_position(self) -> None:
        """After a run or a pick: the next ``up`` starts from the newest query again."""
        self.position, self.draft = -1, ""


class InsightsPanel(Panel):
    NAME, TITLE, KEY, MAIN_TABLE = "insights", "Insights", "3", "logs-results"
    FILTER_HINT = "filter the results: words that must all appear, !negate"
    BINDINGS = bindings_for(commands_of("logs", "insights"))
    DEFAULT_CSS = """
    InsightsPanel #logs-query { height: 3; }
    InsightsPanel #logs-query-info { height: auto; padding: 0 1; color: $text-muted; }
    InsightsPanel #logs-results-box { height: 1fr; }
    InsightsPanel #logs-histogram { display: none; height: auto; padding: 0 1; }
    InsightsPanel #logs-histogram.-shown { display: block; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.range_index = 1
        self.history: list[str] = []
        self.results: QueryResults | None = None
        self.runs = 0
        self.running = False
        self.saved: list[QueryDefinition] = []  # the last saved queries read (the picker's first section)
        self.saved_loads = 0

    def compose(self) -> ComposeResult:
        yield QueryInput(DEFAULT_QUERY, placeholder="Logs Insights query (enter or ctrl+r runs it)", id="logs-query")
        yield Static(id="logs-query-info")
        yield Static(id="logs-histogram")
        with Vertical(id="logs-results-box"):  # not a sibling of the query box (see GroupsPanel.compose)
            yield NodeTable(query_columns(["@timestamp", "@message"]), key=lambda r: str(id(r)), id="logs-results")

    def on_mount(self) -> None:
        self.table("logs-results").border_title = Content("Results")
        self._info()

    def shown(self) -> None:
        self.query_one("#logs-query", Input).focus()
        self._info()

    def reset(self) -> None:
        self.results = None
        super().reset()

    # -- what it runs on ------------------------------------------------------------------------------------------
    def groups(self) -> list[Any]:
        return self.tab.query_one(GroupsPanel).selected_groups()

    def _info(self, extra: str = "") -> None:
        groups = self.groups() if self.is_mounted else []
        names = ", ".join(g.name for g in groups[:5]) + (f" +{len(groups) - 5}" if len(groups) > 5 else "")
        where = f"{len(groups)} group(s): {names}" if groups else "no group: pick one in 1 (cursor, or space to select)"
        line = f"last {RANGES[self.range_index][1]} (t) · {where}"
        if extra:
            line += f" · {extra}"
        self.query_one("#logs-query-info", Static).update(Content(clean(line, 400)))

    def action_cycle_range(self) -> None:
        self.range_index = (self.range_index + 1) % len(RANGES)
        self._info()

    # -- saved queries and this session's (the picker) ------------------------------------------------------
    def action_open_saved(self) -> None:
        """ctrl+o: the picker opens at once (this session's queries); the saved ones fill in when read."""
        picker = QueryPicker(None, list(self.history))
        self.app.push_screen(picker, self._picked)
        self._load_saved(picker)

    def _picked(self, picked: Picked | None) -> None:
        if picked is not None:
            self.use(picked)

    @action_work("logs-saved", what="reading the saved queries")
    async def _load_saved(self, picker: QueryPicker) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        results = await ctx.fresh(per_region(ctx.regions, lambda r: lg.describe_query_definitions(ctx.aws, r),
                                             "logs"), generation)
        saved: list[QueryDefinition] = []
        errors: list[str] = []
        for _region, value, err in results:
            if err is not None:
                errors.append(str(err))
            else:
                saved.extend(value)
        saved.sort(key=lambda d: (d.name.lower(), d.region))
        self.saved = saved
        self.saved_loads += 1
        if picker.is_attached:
            picker.show_saved(saved, errors)

    def use(self, picked: Picked) -> None:
        """Put the picked query into the editor; a saved one also selects its log groups in panel 1."""
        box = self.query_one("#logs-query", QueryInput)
        d = picked.definition
        box.value = d.query if d is not None else picked.query
        box.cursor_position = len(box.value)
        box.forget_position()
        box.focus()
        if d is None or not d.groups:
            self._info("no log group saved with it: pick them in 1" if d is not None else "")
            return
        missing = self.tab.query_one(GroupsPanel).select_groups(d.region, d.groups)
        self._info(f"not found in {d.region}: {', '.join(missing)}" if missing else "")

    # -- running ------------------------------------------------------------------------------------------------
    @on(Input.Submitted, "#logs-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run_query()

    def action_run_query(self) -> None:
        if self.refused("Logs Insights (StartQuery)"):
            return
        query = self.query_one("#logs-query", Input).value
        groups = self.groups()
        if not groups:
            self.app.notify("Pick a log group in panel 1 first (cursor, or space to select several).",
                            severity="warning", markup=False)
            return
        regions = sorted({g.region for g in groups})
        if len(regions) > 1:
            self.app.notify("An Insights query runs in one region: select groups of one region.",
                            severity="warning", markup=False)
            return
        self._run(regions[0], [g.name for g in groups], query)

    @action_work("logs-query")
    async def _run(self, region: str, groups: list[str], query: str) -> None:
        ctx, generation = self.ctx, self.ctx.generation
        if query in self.history:
            self.history.remove(query)
        self.history.insert(0, query)
        self.query_one("#logs-query", QueryInput).forget_position()
        end = int(time.time())
        start = end - RANGES[self.range_index][0]
        self.running = True
        self.errors = []
        self._info("running…")
        self.tab.render_status()
        started = time.monotonic()
        try:
            results = await ctx.fresh(lg.run_query(ctx.aws, region, groups, query, start, end + 1), generation)
        except OpsError as err:
            self.errors = [str(err)]
            self._info("failed")
            return
        finally:
            self.running = False
            self.tab.render_status()
        self.results = results
        self.runs += 1
        self._show(results, time.monotonic() - started)

    def _show(self, results: QueryResults, seconds: float) -> None:
        fields = results.fields or ["@message"]
        chart = histogram(results, width=max(self.size.width - 16, 20))
        box = self.query_one("#logs-histogram", Static)
        box.update(chart or "")
        box.set_class(chart is not None, "-shown")
        table = self.table("logs-results")
        table.set_columns(query_columns(fields))
        table.set_rows(list(results.rows))
        stats = results.statistics
        table.border_title = Content(clean(
            f"Results {len(results.rows)} · {results.status} · {stats.records_matched:,.0f} matched of "
            f"{stats.records_scanned:,.0f} scanned in {seconds:.1f} s", 200))
        self._info()
        self.apply_filter(self.filter_text)
