"""Follow a sent command to the end: statuses, counters and every node's output, as it is produced.

One run can be several SSM commands (one per region, and per 50 explicit instance ids). Each poll costs,
per command: one ListCommands (the counters), ListCommandInvocations pages (50 nodes a page, only when the
counters moved or every few seconds, for Pending -> InProgress), and FilterLogEvents pages for the output
(one paged call for all nodes; see `opstui.aws.logs.LogCursor`). A node's GetCommandInvocation is fetched
once, when it finishes, and only when its output is not in CloudWatch Logs. So the cost grows with pages,
never with a call per node per poll.

All methods run on the AWS loop (`AwsLoop.run`); what they return is immutable, so the UI can keep it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opstui.aws import s3, ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.logs import LogCursor, split_stream
from opstui.aws.models import CommandSummary, Invocation, invocation_outcome
from opstui.runs.grouping import NodeResult, OutputGroup, group_results
from opstui.safe import clean_block, json_text, screen_plain

OUTPUT_CAP = 256 * 1024  # characters of stdout (and of stderr) kept per node; more is counted and digested
SERVICE_STDOUT_LIMIT = 24_000  # GetCommandInvocation truncates here ...
SERVICE_STDERR_LIMIT = 8_000  # ... and here
INVOCATIONS_EVERY = 4.0  # seconds between invocation listings when the counters did not move
FETCH_PARALLEL = 8
PREVIEW = 80  # characters of a node's first output line kept for the run table


@dataclass(frozen=True, slots=True)
class NodeState:
    """A node's row in the run view (immutable snapshot)."""

    key: str
    region: str
    instance_id: str
    name: str
    command_id: str
    status: str
    details: str
    exit_code: int | None
    started: datetime | None
    finished: datetime | None
    stdout_chars: int
    stderr_chars: int
    clipped: bool  # opstui kept only the first OUTPUT_CAP characters
    truncated: bool  # the service truncated the output and it was not in CloudWatch Logs
    output_bytes: int = 0  # stdout + stderr as UTF-8 bytes (the Output column's size)
    first_line: str = ""  # the first non-blank line of stdout (else stderr), a preview (PREVIEW characters)

    @property
    def outcome(self) -> str:
        return invocation_outcome(self.status, self.details)

    @property
    def done(self) -> bool:
        return self.status in ("Success", "Failed", "TimedOut", "Cancelled")


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int
    by_outcome: tuple[tuple[str, int], ...]
    elapsed: float

    @property
    def failed(self) -> int:
        return sum(c for o, c in self.by_outcome
                   if o not in ("Success", "Pending", "InProgress", "Delayed", "InvalidPlatform"))


@dataclass(frozen=True)
class RunUpdate:
    """What changed since the previous poll."""

    changed: tuple[NodeState, ...]
    appended: tuple[tuple[str, str, str], ...]  # (node key, "stdout"|"stderr", new text), in order
    progress: Progress
    finished: bool
    errors: tuple[str, ...] = ()


class NodeRun:
    """Mutable per-node state, owned by the tracker."""

    __slots__ = ("region", "instance_id", "name", "command_id", "status", "details", "exit_code", "started",
                 "finished", "_out", "_err", "out_chars", "err_chars", "_digest", "clipped", "truncated",
                 "log_events", "final", "stdout_url", "stderr_url", "plugin_output", "terminal_at_poll",
                 "out_bytes", "err_bytes", "fetched")

    def __init__(self, region: str, instance_id: str, name: str, command_id: str) -> None:
        self.region, self.instance_id, self.name, self.command_id = region, instance_id, name, command_id
        self.status, self.details = "Pending", ""
        self.exit_code: int | None = None
        self.started: datetime | None = None
        self.finished: datetime | None = None
        self._out: list[str] = []
        self._err: list[str] = []
        self.out_chars = self.err_chars = 0
        self.out_bytes = self.err_bytes = 0
        self._digest = hashlib.blake2b(digest_size=16)
        self.clipped = self.truncated = False
        self.log_events = 0
        self.final = False
        self.stdout_url = self.stderr_url = ""
        self.plugin_output = ""
        self.terminal_at_poll = -1  # poll number at which the node was first seen terminal
        self.fetched = False  # output replaced by GetCommandInvocation's: later log events are not added

    @property
    def key(self) -> str:
        return f"{self.region}/{self.instance_id}"

    @property
    def done(self) -> bool:
        return self.status in ("Success", "Failed", "TimedOut", "Cancelled")

    def add(self, stream: str, text: str) -> str:
        """Append output; returns what was kept (possibly clipped)."""
        data = text.encode("utf-8", "surrogatepass")
        if stream == "stderr":
            room = OUTPUT_CAP - self.err_chars
            kept = text[:max(room, 0)]
            self.err_chars += len(text)
            self.err_bytes += len(data)
            if kept:
                self._err.append(kept)
        else:
            self._digest.update(data)
            self.out_bytes += len(data)
            room = OUTPUT_CAP - self.out_chars
            kept = text[:max(room, 0)]
            self.out_chars += len(text)
            if kept:
                self._out.append(kept)
        if len(kept) < len(text):
            self.clipped = True
        return kept

    def replace_output(self, stdout: str, stderr: str) -> None:
        self._out, self._err = [], []
        self.out_chars = self.err_chars = 0
        self.out_bytes = self.err_bytes = 0
        self._digest = hashlib.blake2b(digest_size=16)
        self.clipped = False
        self.add("stdout", stdout)
        self.add("stderr", stderr)

    @property
    def stdout(self) -> str:
        if len(self._out) > 1:
            self._out = ["".join(self._out)]
        return self._out[0] if self._out else ""

    @property
    def stderr(self) -> str:
        if len(self._err) > 1:
            self._err = ["".join(self._err)]
        return self._err[0] if self._err else ""

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    def first_line(self) -> str:
        for text in (self.stdout, self.stderr):
            head = text.lstrip()[:PREVIEW * 4].partition("\n")[0].strip()
            if head:
                return head[:PREVIEW]
        return ""

    def shown_status(self) -> tuple[str, str]:
        """Status and details as the row shows them: the invocation's, except that a node whose output is
        already arriving is running, whatever a listing older than that output still says (Pending or
        Delayed); the next listing (asked for at once, see ``_poll_command``) confirms it."""
        if self.status == "Pending" and (self.out_chars or self.err_chars):
            return "InProgress", "InProgress"
        return self.status, self.details

    def snapshot(self) -> NodeState:
        status, details = self.shown_status()
        return NodeState(self.key, self.region, self.instance_id, self.name, self.command_id, status,
                         details, self.exit_code if self.done else None, self.started, self.finished,
                         self.out_chars, self.err_chars, self.clipped, self.truncated,
                         self.out_bytes + self.err_bytes, self.first_line())

    def result(self) -> NodeResult:
        return NodeResult(self.key, self.name or self.instance_id, invocation_outcome(self.status, self.details),
                          self.exit_code, self.stdout, self.digest, self.stderr)


@dataclass
class _Command:
    summary: CommandSummary
    cursor: LogCursor | None
    last_completed: int = -1
    last_listed: float = 0.0
    error: str = ""
    polls_after_finish: int = 0


@dataclass
class RunTracker:
    """Tracks the commands of one run. Create with the commands SendCommand returned."""

    aws: AwsClients
    commands: list[CommandSummary]
    names: dict[str, str] = field(default_factory=dict)  # instance id -> Name tag
    invocations_every: float = INVOCATIONS_EVERY

    def __post_init__(self) -> None:
        self.began = time.monotonic()
        self.nodes: dict[str, NodeRun] = {}
        self._cmds = [self._track(c) for c in self.commands]
        self._poll_no = 0
        self.finished = False
        self.calls_at_start = sum(self.aws.calls.values())

    def _track(self, c: CommandSummary) -> _Command:
        cursor = None
        if c.cloudwatch_output:
            start_ms = int(c.requested.timestamp() * 1000) - 60_000 if c.requested else 0
            cursor = LogCursor(c.log_group, f"{c.command_id}/", start_ms=max(start_ms, 0))
        for iid in c.instance_ids:
            self._node(c.region, iid, c.command_id)
        return _Command(c, cursor)

    def _node(self, region: str, instance_id: str, command_id: str, instance_name: str = "") -> NodeRun:
        key = f"{region}/{instance_id}"
        node = self.nodes.get(key)
        if node is None:
            name = self.names.get(instance_id) or instance_name or instance_id
            node = self.nodes[key] = NodeRun(region, instance_id, name, command_id)
        return node

    @property
    def command_ids(self) -> list[tuple[str, str]]:
        return [(c.summary.region, c.summary.command_id) for c in self._cmds]

    @property
    def document(self) -> str:
        return self.commands[0].document if self.commands else ""

    # -- polling ------------------------------------------------------------------------------------------
    async def poll(self) -> RunUpdate:
        self._poll_no += 1
        changed: dict[str, NodeRun] = {}
        appended: list[tuple[str, str, str]] = []
        active = [c for c in self._cmds if not self._complete(c)]
        summaries, errors = await self._summaries(active)
        live = [c for c in active if c.summary.command_id in summaries]
        results = await asyncio.gather(
            *(self._poll_command(c, summaries[c.summary.command_id], changed, appended) for c in live),
            return_exceptions=True)
        for cmd, res in zip(live, results, strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                cmd.error = str(res) if isinstance(res, OpsError) else f"{type(res).__name__}: {res}"
                errors.append(f"{cmd.summary.region} {cmd.summary.command_id}: {cmd.error}")
            else:
                cmd.error = ""
        await self._fetch_finished(changed, appended)
        self.finished = all(self._complete(c) for c in self._cmds)
        return RunUpdate(tuple(n.snapshot() for n in changed.values()), tuple(appended), self.progress(),
                         self.finished, tuple(errors))

    def _complete(self, cmd: _Command) -> bool:
        """Nothing more to learn about this command: finished, read once more after that, all output final."""
        if not (cmd.summary.finished and cmd.polls_after_finish >= 1):
            return False
        cid = cmd.summary.command_id
        return all(n.final for n in self.nodes.values() if n.command_id == cid)

    async def _summaries(self, active: list[_Command]) -> tuple[dict[str, CommandSummary], list[str]]:
        """Fresh counters of the active commands: one ListCommands per region (paged, InvokedAfter the
        oldest one) when a region has several, else ListCommands by id."""
        by_region: dict[str, list[_Command]] = {}
        for c in active:
            by_region.setdefault(c.summary.region, []).append(c)

        async def region_summaries(region: str, cmds: list[_Command]) -> list[CommandSummary]:
            if len(cmds) == 1:
                return [await ssm.get_command(self.aws, region, cmds[0].summary.command_id)]
            oldest = min((c.summary.requested for c in cmds if c.summary.requested), default=None)
            if oldest is None:
                return [await ssm.get_command(self.aws, region, c.summary.command_id) for c in cmds]
            return await ssm.list_commands_since(self.aws, region, oldest - timedelta(seconds=2))

        regions = list(by_region)
        results = await asyncio.gather(*(region_summaries(r, by_region[r]) for r in regions),
                                       return_exceptions=True)
        found: dict[str, CommandSummary] = {}
        errors: list[str] = []
        for region, res in zip(regions, results, strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                message = str(res) if isinstance(res, OpsError) else f"{type(res).__name__}: {res}"
                for c in by_region[region]:
                    c.error = message
                errors.append(f"{region}: {message}")
                continue
            wanted = {c.summary.command_id for c in by_region[region]}
            found.update((s.command_id, s) for s in res if s.command_id in wanted)
        return found, errors

    async def _poll_command(self, cmd: _Command, fresh: CommandSummary, changed: dict[str, NodeRun],
                            appended: list[tuple[str, str, str]]) -> None:
        was_finished = cmd.summary.finished
        cmd.summary = s = fresh
        started_streaming = False  # a node still listed Pending has output: it started, list it now
        if cmd.cursor is not None:
            for ev in await cmd.cursor.poll(self.aws, s.region):
                _, iid, _, stream = split_stream(ev.stream)
                node = self._node(s.region, iid, s.command_id)
                if node.fetched:  # its output came whole from GetCommandInvocation; a late event would repeat it
                    continue
                node.log_events += 1
                started_streaming |= node.status == "Pending"
                kept = node.add(stream, ev.message)
                if kept:
                    appended.append((node.key, stream, kept))
                changed[node.key] = node
        now = time.monotonic()
        if s.completed_count != cmd.last_completed or now - cmd.last_listed >= self.invocations_every \
                or (s.finished and not was_finished) or started_streaming:
            cmd.last_completed, cmd.last_listed = s.completed_count, now
            for inv in await ssm.list_invocations(self.aws, s.region, s.command_id, details=True):
                self._apply(inv, changed)
        if s.finished and was_finished:
            cmd.polls_after_finish += 1

    def _apply(self, inv: Invocation, changed: dict[str, NodeRun]) -> None:
        node = self._node(inv.region, inv.instance_id, inv.command_id, inv.instance_name)
        before = (node.status, node.details, node.exit_code, node.started, node.finished)
        node.status, node.details = inv.status, inv.status_details
        node.exit_code = inv.response_code if inv.response_code is not None else node.exit_code
        node.started, node.finished = inv.started or node.started, inv.finished or node.finished
        node.stdout_url, node.stderr_url = inv.stdout_url or node.stdout_url, inv.stderr_url or node.stderr_url
        node.plugin_output = inv.output
        if node.done and node.terminal_at_poll < 0:
            node.terminal_at_poll = self._poll_no
        if before != (node.status, node.details, node.exit_code, node.started, node.finished):
            changed[node.key] = node

    async def _fetch_finished(self, changed: dict[str, NodeRun], appended: list[tuple[str, str, str]]) -> None:
        """GetCommandInvocation, once, for finished nodes whose output did not come through the logs."""
        by_id = {c.summary.command_id: c for c in self._cmds}
        todo = []
        for node in self.nodes.values():
            if not node.done or node.final or node.terminal_at_poll < 0:
                continue
            cmd = by_id.get(node.command_id)
            cursor = cmd.cursor if cmd is not None else None
            if cursor is not None and self._poll_no <= node.terminal_at_poll:
                # The logs were read before the listing that showed it terminal, in this same poll, and AWS
                # does not order a node's status and its last log events: read the logs once more first.
                continue
            if cursor is not None and not cursor.group_missing and (node.log_events or not node.plugin_output.strip()):
                node.final = True  # its output is in the logs, read in a poll after it was seen terminal
                changed[node.key] = node
                continue
            todo.append(node)
        sem = asyncio.Semaphore(FETCH_PARALLEL)

        async def fetch(node: NodeRun) -> None:
            async with sem:
                try:
                    out = await ssm.get_invocation_output(self.aws, node.region, node.command_id, node.instance_id)
                except OpsError:
                    out = None
            if out is None:
                node.replace_output(node.plugin_output, "")
            else:
                node.replace_output(out.stdout, out.stderr)
                node.truncated = len(out.stdout) >= SERVICE_STDOUT_LIMIT or len(out.stderr) >= SERVICE_STDERR_LIMIT
                node.stdout_url, node.stderr_url = out.stdout_url or node.stdout_url, out.stderr_url or node.stderr_url
                if out.response_code is not None:
                    node.exit_code = out.response_code
            node.final = node.fetched = True
            if node.stdout:
                appended.append((node.key, "stdout", node.stdout))
            if node.stderr:
                appended.append((node.key, "stderr", node.stderr))
            changed[node.key] = node

        await asyncio.gather(*(fetch(n) for n in todo))

    # -- views of the state -------------------------------------------------------------------------------
    def progress(self) -> Progress:
        total = max(sum(max(c.summary.target_count, 0) for c in self._cmds), len(self.nodes))
        outcomes = Counter(invocation_outcome(n.status, n.details) for n in self.nodes.values())
        done = sum(1 for n in self.nodes.values() if n.done)
        order = ("Success", "Failed", "TimedOut", "ExecutionTimedOut", "DeliveryTimedOut", "Undeliverable",
                 "Cancelled", "InProgress", "Delayed", "Pending", "Cancelling")
        by = sorted(outcomes.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))
        return Progress(total, done, tuple(by), time.monotonic() - self.began)

    def states(self) -> list[NodeState]:
        return [n.snapshot() for n in self.nodes.values()]

    def groups(self) -> list[OutputGroup]:
        return group_results(n.result() for n in self.nodes.values() if n.done)

    def output(self, key: str) -> tuple[str, str]:
        node = self.nodes.get(key)
        return (node.stdout, node.stderr) if node else ("", "")

    def failed_keys(self) -> list[str]:
        """Nodes that ran and did not succeed. Invalid Platform nodes (a tag target's Windows node for a
        shell script) are left out, as the confirmation said: re-running them could not help."""
        return [k for k, n in self.nodes.items()
                if n.done and not (n.status == "Success" and n.exit_code in (0, None))
                and n.details != "InvalidPlatform"]

    async def full_output(self, key: str) -> str:
        """A node's whole stdout: from S3 when the service truncated it, else what we have."""
        node = self.nodes.get(key)
        if node is None:
            return ""
        loc = s3.parse_s3_url(node.stdout_url)
        if node.truncated and loc:
            text = await s3.get_object_text(self.aws, node.region, *loc)
            node.replace_output(text, node.stderr)
            node.truncated = False
        return node.stdout

    async def cancel(self) -> list[str]:
        """CancelCommand for every unfinished command; returns the ids cancelled."""
        cancelled = []
        for c in self._cmds:
            if not c.summary.finished:
                await ssm.cancel_command(self.aws, c.summary.region, c.summary.command_id)
                cancelled.append(c.summary.command_id)
        return cancelled

    def api_calls(self) -> int:
        return sum(self.aws.calls.values()) - self.calls_at_start

    # -- export -------------------------------------------------------------------------------------------
    def export(self) -> dict[str, object]:
        """The run as plain data (JSON export, `opstui run --json`)."""
        return {
            "commands": [{"region": c.summary.region, "command_id": c.summary.command_id,
                          "document": c.summary.document, "status": c.summary.status,
                          "parameters": c.summary.parameters, "comment": c.summary.comment,
                          "targets": [[k, list(v)] for k, v in c.summary.targets],
                          "requested": c.summary.requested.isoformat() if c.summary.requested else None}
                         for c in self._cmds],
            "nodes": [{"region": n.region, "instance_id": n.instance_id, "name": n.name,
                       "status": n.status, "status_details": n.details, "exit_code": n.exit_code,
                       "stdout": n.stdout, "stderr": n.stderr, "clipped": n.clipped, "truncated": n.truncated}
                      for n in sorted(self.nodes.values(), key=lambda n: (n.region, n.name))],
            "groups": [{"nodes": g.label, "count": g.size, "exit_code": g.exit_code, "outcome": g.outcome,
                        "stdout": g.stdout} for g in self.groups()],
        }

    def export_json(self) -> str:
        return json_text(self.export(), indent=2)

    def export_text(self) -> str:
        """The text export: like the screen, every control character of the nodes' output made visible (a
        file that is later `cat` in a terminal must not retitle it, write its clipboard or clear it)."""
        return render_groups_text(self.groups(), self.progress(), visible_controls=True)


def render_groups_text(groups: Iterable[OutputGroup], progress: Progress | None = None, *,
                       visible_controls: bool = False) -> str:
    """Plain-text grouped output (for `opstui run` and the text export). With ``visible_controls`` the
    output is cleaned as the screen shows it (`screen_plain`: escape sequences dropped, other control
    characters as symbols) and names have every control character as a symbol (`clean_block`); without,
    the bytes are kept as printed (`opstui run` to a pipe)."""
    show = clean_block if visible_controls else (lambda text: text)
    output = (lambda text: screen_plain(text).rstrip("\n")) if visible_controls else (lambda text: text.rstrip("\n"))
    out: list[str] = []
    for g in groups:
        code = "-" if g.exit_code is None else str(g.exit_code)
        out.append(show(f"=== {g.label} ({g.size} node{'s' if g.size != 1 else ''}, {g.outcome}, exit {code}) ==="))
        out.append(output(g.stdout) if g.stdout else "(no output)")
        out.append("")
    if progress is not None:
        out.append(", ".join(f"{o} {c}" for o, c in progress.by_outcome) + f" — {progress.done}/{progress.total}"
                   f" done in {progress.elapsed:.1f} s")
    return "\n".join(out) + "\n"
