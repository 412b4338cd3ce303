"""What the Run Command tab's tables show: the columns of the nodes of a run, of its output groups and of the
history, their colours by outcome, the table they are drawn in, and the run's three-line progress header.

Shared by the run panel and the history panel; pure functions of immutable rows (the tracker's NodeState,
OutputGroup and the service's CommandSummary), so nothing here reaches the app.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.binding import Binding

from opstui.runs.grouping import OutputGroup
from opstui.runs.history import PastRun
from opstui.runs.tracker import NodeState, Progress
from opstui.safe import clean
from opstui.views.common.format import size_text
from opstui.views.common.node_table import Column, NodeTable, drop_order

OUTCOME_STYLES = {
    "Success": Style(color="green"),
    "InProgress": Style(color="yellow"),
    "Pending": Style(dim=True),
    "Delayed": Style(color="yellow", dim=True),
    "Cancelling": Style(color="magenta"),
    "Cancelled": Style(color="magenta"),
}
FAILED_STYLE = Style(color="red", bold=True)


def outcome_style(outcome: str) -> Style:
    return OUTCOME_STYLES.get(outcome, FAILED_STYLE)


def duration(state: NodeState, now: datetime | None = None) -> str:
    """Start to end as the invocation reports them, or the time elapsed since the start while it runs;
    nothing before it started (or for a node that never did). Under a tenth of a second reads ``<0.1s``, so
    ``0.0s`` never stands for a node that ran."""
    if state.started is None:
        return ""
    end = state.finished if state.finished is not None else (now or datetime.now(UTC))
    seconds = max((end - state.started).total_seconds(), 0.0)
    if seconds < 0.1:
        return "<0.1s"
    return f"{seconds:.1f}s" if seconds < 600 else f"{seconds / 60:.0f}m"


def _exit(code: int | None) -> str:
    return "" if code is None else str(code)


def _output_cell(s: NodeState) -> str:
    """``1.2 KB  first line of the output`` (the table cleans the preview; it is the node's text)."""
    if not s.output_bytes and not s.stdout_chars and not s.stderr_chars:
        return ""
    size = size_text(s.output_bytes)
    if s.truncated:
        size += " ✂"  # truncated by the service: f fetches the full output from S3
    elif s.clipped:
        size += " +"
    return f"{size}  {s.first_line}" if s.first_line else size


NODE_COLUMNS: list[Column[NodeState]] = [
    Column("name", "Name", lambda s: s.name, max_width=30),
    Column("id", "Instance", lambda s: s.instance_id, max_width=20),
    Column("region", "Region", lambda s: s.region, max_width=15),
    Column("status", "Status", lambda s: s.outcome, max_width=17, style=lambda s: outcome_style(s.outcome)),
    Column("exit", "Exit", lambda s: _exit(s.exit_code) if s.done else "", max_width=5,
           style=lambda s: FAILED_STYLE if s.done and s.exit_code not in (None, 0) else None),
    Column("time", "Time", duration, max_width=7),
    Column("output", "Output", _output_cell, max_width=48, sort_key=lambda s: -s.output_bytes),
]
#: 80 columns keep Name, Status, Exit, Time and Output; then dropped in this order
NODE_COLUMNS = drop_order(NODE_COLUMNS, ("region", "id"), squeeze={"name": 12, "output": 10})



def group_key(g: OutputGroup) -> str:
    return f"{g.members[0].digest}/{g.exit_code}/{g.outcome}" if g.members else g.label


GROUP_COLUMNS: list[Column[OutputGroup]] = [
    Column("count", "Nodes", lambda g: str(g.size), max_width=6),
    Column("status", "Status", lambda g: g.outcome, max_width=17, style=lambda g: outcome_style(g.outcome)),
    Column("exit", "Exit", lambda g: _exit(g.exit_code), max_width=5,
           style=lambda g: FAILED_STYLE if g.exit_code not in (None, 0) else None),
    Column("lines", "Lines", lambda g: str(g.stdout.count("\n") + (1 if g.stdout and not g.stdout.endswith("\n")
                                                                   else 0)), max_width=7),
    Column("label", "Node set", lambda g: g.label, max_width=120),
]
GROUP_COLUMNS = drop_order(GROUP_COLUMNS, ("lines",), squeeze={"label": 16})



def _when(c: PastRun) -> str:
    return c.requested.astimezone().strftime("%m-%d %H:%M:%S") if c.requested else ""


def _ids(c: PastRun) -> str:
    more = len(c.commands) - 1
    return c.command_id + (f" +{more}" if more else "")


#: one row per run (`runs/history.py` finds the commands of a run again), its regions listed
HISTORY_COLUMNS: list[Column[PastRun]] = [
    Column("when", "Requested", _when, max_width=14, sort_key=lambda c: -(c.requested.timestamp())
           if c.requested else 0),
    Column("region", "Regions", lambda c: ", ".join(c.regions), max_width=32),
    Column("document", "Document", lambda c: c.document, max_width=30),
    Column("status", "Status", lambda c: c.status, max_width=12, style=lambda c: outcome_style(c.status)),
    Column("targets", "Nodes", lambda c: f"{c.completed_count}/{c.target_count}", max_width=11),
    Column("errors", "Errors", lambda c: str(c.error_count) if c.error_count else "", max_width=6,
           style=lambda c: FAILED_STYLE if c.error_count else None),
    Column("comment", "Comment", lambda c: c.comment, max_width=40),
    Column("parameters", "Commands", lambda c: " ⏎ ".join(c.parameters.get("commands", ()))
           or ", ".join(f"{k}={v}" for k, v in c.parameters.items()), max_width=60),
    Column("id", "Command id", _ids, max_width=40),
]
HISTORY_COLUMNS = drop_order(HISTORY_COLUMNS, ("id", "parameters", "comment", "errors", "region", "document"),
                             squeeze={"document": 16, "parameters": 20, "comment": 16})



class RunTable(NodeTable, inherit_bindings=False):
    """A NodeTable without its g/G and h/l bindings: in this tab g toggles the grouped view and h opens the
    history (home/end and the arrows remain)."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "Top", show=False),
        Binding("end", "jump(-1)", "Bottom", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
    ]


def progress_header(document: str, title: str, progress: Progress | None, finished: bool, grouped: bool,
                    command_ids: list[tuple[str, str]]) -> Text:
    """Three lines: what runs, the progress bar with counts by outcome, the command ids."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(clean(document, 60), style="bold")
    if title:
        text.append("  ")
        text.append(clean(title, 160))
    text.append("\n")
    ids = ", ".join(f"{cid} ({region})" for region, cid in command_ids[:4])
    if len(command_ids) > 4:
        ids += f" +{len(command_ids) - 4} more"
    if progress is None:
        text.append("sending…", style="yellow")
        text.append("\n" + ids, style="dim")
        return text
    total = max(progress.total, 1)
    width = 30
    filled = round(width * progress.done / total)
    text.append("█" * filled, style="green" if not progress.failed else "yellow")
    text.append("░" * (width - filled), style="dim")
    text.append(f" {progress.done}/{progress.total} done  ")
    for outcome, count in progress.by_outcome:
        text.append(f"{outcome} {count}", style=outcome_style(outcome))
        text.append("  ")
    text.append(f"{progress.elapsed:.1f} s  ")
    text.append("finished" if finished else "running", style="bold green" if finished else "bold yellow")
    text.append("  · grouped view" if grouped else "  · per node", style="dim")
    text.append("\n" + ids, style="dim")
    return text
