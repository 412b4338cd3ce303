"""Past runs from ListCommands: one run is one row, whatever the number of commands it took.

A run sent to two regions (or to more than 50 instance ids) is several SSM commands (`launch.send_plan`:
one SendCommand per region and per 50 ids). ListCommands knows nothing of that grouping, so it is found
again here: commands with the same request (document, parameters, comment, concurrency and error limits,
output settings) requested within :data:`SAME_RUN_WITHIN` of the previous command of the group belong to one
run, unless the group already has a command for the same region and targets (then it is a second run of the
same request). SSM keeps no run id of its own, and the Comment is the user's, so it carries none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opstui.aws.models import CommandSummary

#: the commands of one run are sent one after the other; 200 chunks of 50 ids take seconds, not a minute
SAME_RUN_WITHIN = timedelta(seconds=60)
#: the status of a run of several commands: the first of these that any of its commands has
STATUS_ORDER = ("InProgress", "Pending", "Cancelling", "Failed", "TimedOut", "Cancelled", "Success")


@dataclass(frozen=True)
class PastRun:
    """The commands of one run, oldest first."""

    commands: tuple[CommandSummary, ...]

    @property
    def first(self) -> CommandSummary:
        return self.commands[0]

    @property
    def key(self) -> str:
        return f"{self.first.region}/{self.first.command_id}"

    @property
    def command_id(self) -> str:
        return self.first.command_id

    @property
    def command_ids(self) -> tuple[str, ...]:
        return tuple(c.command_id for c in self.commands)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.region for c in self.commands))

    @property
    def document(self) -> str:
        return self.first.document

    @property
    def comment(self) -> str:
        return self.first.comment

    @property
    def parameters(self) -> dict[str, list[str]]:
        return self.first.parameters

    @property
    def requested(self) -> datetime | None:
        return min((c.requested for c in self.commands if c.requested), default=None)

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.commands}
        return next((s for s in STATUS_ORDER if s in statuses), self.first.status)

    @property
    def target_count(self) -> int:
        return sum(max(c.target_count, 0) for c in self.commands)

    @property
    def completed_count(self) -> int:
        return sum(c.completed_count for c in self.commands)

    @property
    def error_count(self) -> int:
        return sum(c.error_count for c in self.commands)


def _request_of(c: CommandSummary) -> str:
    return json.dumps([c.document, c.parameters, c.comment, c.max_concurrency, c.max_errors, c.cloudwatch_output,
                       c.cloudwatch_group, c.s3_bucket, c.s3_prefix], sort_keys=True)


def _destination(c: CommandSummary) -> tuple[str, tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    return c.region, c.instance_ids, c.targets


def group_runs(commands: Iterable[CommandSummary], within: timedelta = SAME_RUN_WITHIN) -> list[PastRun]:
    """The commands as runs, newest first (see the module docstring for what makes one run)."""
    ordered = sorted(commands, key=lambda c: (c.requested is None, c.requested or datetime.min))
    groups: list[list[CommandSummary]] = []
    open_by_request: dict[str, list[CommandSummary]] = {}
    for c in ordered:
        request = _request_of(c)
        group = open_by_request.get(request)
        if group is not None and c.requested is not None and group[-1].requested is not None \
                and c.requested - group[-1].requested <= within \
                and _destination(c) not in {_destination(g) for g in group}:
            group.append(c)
            continue
        group = [c]
        groups.append(group)
        open_by_request[request] = group
    runs = [PastRun(tuple(g)) for g in groups]
    runs.sort(key=lambda r: r.requested.timestamp() if r.requested else 0, reverse=True)
    return runs
