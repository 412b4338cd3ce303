"""The run the Run Command tab follows, and the message that hands a new one to the tab.

A run is sent from the form, re-run from the run panel or reopened from the history; each of those panels
posts :class:`RunStarted` and the tab shows it in the run panel, so no panel reaches into another one.

The tracker lives on the AWS loop: every call to it goes through ``ctx.run(...)``, and what comes back is
immutable, so the UI keeps it without locks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from textual.message import Message

from opstui.aws.models import CommandRequest, CommandSummary
from opstui.runs.grouping import OutputGroup
from opstui.runs.tracker import NodeState, Progress, RunTracker


@dataclass
class ActiveRun:
    """The run shown in the run panel (sent from the form, re-run, or reopened from the history)."""

    tracker: RunTracker
    request: CommandRequest | None
    title: str
    states: dict[str, NodeState] = field(default_factory=dict)
    progress: Progress | None = None
    finished: bool = False
    errors: list[str] = field(default_factory=list)
    groups: list[OutputGroup] = field(default_factory=list)
    seq: int = 0  # polls completed (incremented on the AWS loop, read there too)
    _lock: asyncio.Lock | None = None

    def aws_lock(self) -> asyncio.Lock:
        """Held (on the AWS loop) by a poll and by a node's output read. A poll appends text to the tracker
        before it returns and bumps `seq`; a read in between would return text that includes a chunk under
        the old number, and the stash would add that chunk a second time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock


class RunStarted(Message):
    """A run was sent or reopened: the tab brings the run panel to the front with it."""

    def __init__(self, run: ActiveRun) -> None:
        super().__init__()
        self.run = run


def request_from_summary(c: CommandSummary) -> CommandRequest:
    """The request that produced a command (to re-run it, e.g. on its failed nodes)."""
    return CommandRequest(document=c.document, parameters={k: list(v) for k, v in c.parameters.items()},
                          max_concurrency=c.max_concurrency or "50", max_errors=c.max_errors or "0",
                          comment=c.comment, cloudwatch_output=c.cloudwatch_output,
                          cloudwatch_group=c.cloudwatch_group, s3_bucket=c.s3_bucket, s3_prefix=c.s3_prefix)


def one_line_title(request: CommandRequest) -> str:
    commands = request.parameters.get("commands")
    if commands:
        return " ⏎ ".join(line for line in commands if line.strip())
    return ", ".join(f"{k}={' '.join(v)}" for k, v in request.parameters.items())


def same_group(a: OutputGroup, b: OutputGroup) -> bool:
    return a.members == b.members and a.exit_code == b.exit_code and a.outcome == b.outcome


def merge_chunks(chunks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Consecutive chunks of the same stream joined: one append (one repaint) per stream run per poll."""
    merged: list[tuple[str, list[str]]] = []
    for stream, text in chunks:
        if merged and merged[-1][0] == stream:
            merged[-1][1].append(text)
        else:
            merged.append((stream, [text]))
    return [(stream, "".join(parts)) for stream, parts in merged]
