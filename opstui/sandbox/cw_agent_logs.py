"""The CloudWatch agent's log collection: tail the configured files of each node, ship new events to CloudWatch Logs.

Why: with a configuration applied (:mod:`.cw_agent`), a node's agent follows ``logs.logs_collected.files``
(and ``windows_events`` on Windows) and calls PutLogEvents. Here one daemon thread plays every node's agent,
following the agent's ``plugins/inputs/logfile`` and ``plugins/outputs/cloudwatchlogs``
(github.com/aws/amazon-cloudwatch-agent):

* **Files.** ``file_path`` is resolved in the node's file system (its home, :func:`.node_logs.node_path`);
  a glob (``*``, ``**``) follows only the most recently modified match, as the agent does without
  ``publish_multi_logs``. A file the agent has no state for is read from its start (the translator sets
  ``from_beginning: true`` for every file, ``ruleFromBeginning.go``); after a restart the agent resumes at the
  offset it had shipped (its state file). A file that shrinks or is replaced (rotation) is read again from its
  start.
* **Events.** Lines are grouped by ``multi_line_start_pattern`` (default ``^[\\S]``: a line starting with white
  space continues the event; ``{timestamp_format}``: an event starts with a timestamp). The event's timestamp
  is parsed from it with ``timestamp_format`` (``timezone`` UTC/Local, a node's Local being UTC), else it is
  the time it was read. An event longer than 256 KB minus 26 bytes is truncated. A partial last line waits
  for its newline; a multi-line event waits at most one flush for more lines.
* **PutLogEvents rules** (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
  events sorted by timestamp, batches of at most 10,000 events and 1,048,576 bytes (message bytes + 26 each),
  spanning at most 24 hours; events more than 14 days old or 2 hours ahead are dropped (the agent logs them as
  rejected). Sandbox time (:mod:`.clock`) is "now". The group and stream are created when missing; a
  ``retention_in_days`` is put on the group.
* **Flushing** every ``force_flush_interval`` (default 5 s) of real time, or the ``flush_seconds`` knob.
* **Windows events**: a Windows node has no files to tail here; its agent produces event-log records itself
  for each configured ``event_name``/``event_levels`` (``System``: Service Control Manager, ``Application``:
  an application error now and then), in the configured ``event_format`` (``xml`` or ``text``).

Control: ``GET /_opstui/cwagent`` (per node: files followed, offsets, events shipped), ``POST /_opstui/cwagent
{"flush_seconds": 0.2}`` (tests: flush sooner; ``null`` back to the configuration's) or ``{"flush": true}``
(ship everything now), ``{"write": true}`` (the fleet's log writers write up to now, for a sandbox started
with ``live=False``, whose writers only backfill).
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.ec2.models import ec2_backends
from moto.logs.models import logs_backends

from . import clock, cw_agent_seed, logs_fast, node_state
from .agent_shell import node_home
from .cw_agent import node_facts
from .cw_agent_config import AgentConfig, FileCollect, NodeFacts, WindowsEvents
from .ec2_fast import instance_index
from .extension import Extension
from .node_logs import NodeLogWriters, node_path

if TYPE_CHECKING:
    from .server import Sandbox

MAX_EVENT_BYTES = 256 * 1024 - 26
TRUNCATED = "[Truncated...]"
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_SPAN_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * 86400 * 1000
TOO_NEW_MS = 2 * 3600 * 1000
MAX_READ = 4 * 1024 * 1024  # bytes read from one file per flush
POLL = 0.5
WINDOWS_BACKLOG = 900.0


@dataclass
class _Tail:
    """How far the agent has read one file."""

    path: str
    inode: int
    offset: int
    partial: bytes = b""
    event: list[str] = field(default_factory=list)  # the last event read: it may still get continuation lines


@dataclass
class _NodeAgent:
    """One node's agent: the agent start it belongs to, its file positions, when it last flushed."""

    started: Any
    tails: dict[str, _Tail] = field(default_factory=dict)  # file_path (the config's) -> tail
    last_flush: float = 0.0
    shipped: int = 0
    rejected: int = 0
    win_upto: float | None = None
    rng: random.Random = field(default_factory=random.Random)


def truncate(message: str) -> str:
    data = message.encode("utf-8")
    if len(data) <= MAX_EVENT_BYTES:
        return message
    keep = MAX_EVENT_BYTES - len(TRUNCATED)
    return data[:keep].decode("utf-8", "ignore") + TRUNCATED


def batches(events: list[tuple[int, str]], now_ms: int) -> tuple[list[list[tuple[int, str]]], int]:
    """Split ``events`` into PutLogEvents batches (module docstring); returns (batches, events dropped)."""
    ordered = sorted(events, key=lambda e: e[0])
    kept = [e for e in ordered if now_ms - TOO_OLD_MS <= e[0] <= now_ms + TOO_NEW_MS]
    out: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    for ts, msg in kept:
        cost = len(msg.encode("utf-8")) + EVENT_OVERHEAD
        if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                        or ts - current[0][0] > MAX_SPAN_MS):
            out.append(current)
            current, size = [], 0
        current.append((ts, msg))
        size += cost
    if current:
        out.append(current)
    return out, len(ordered) - len(kept)


class AgentLogShipper:
    """Every node's agent log collection (one thread; see the module docstring)."""

    def __init__(self, account: str, state_dir: Path) -> None:
        self.account = account
        self.state_dir = state_dir
        self.flush_seconds: float | None = None
        self._homes: dict[str, Path] = {}
        self._agents: dict[tuple[str, str], _NodeAgent] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"flush_seconds": self.flush_seconds, "nodes": {
                f"{region}/{iid}": {"files": {k: {"path": t.path, "offset": t.offset} for k, t in a.tails.items()},
                                    "shipped": a.shipped, "rejected": a.rejected}
                for (region, iid), a in self._agents.items()}}

    # -- the loop -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="opstui-sandbox-cwagent-logs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(min(POLL, self.flush_seconds or POLL)):
            try:
                self.tick()
            except Exception:  # one bad file or node must not end every agent's shipping
                continue

    def tick(self, force: bool = False) -> int:
        """Flush every running agent whose interval has passed (all of them if ``force``); events shipped."""
        shipped = 0
        mono = time.monotonic()
        with self._lock:
            for region, iid, settings in node_state.configured_agents():
                if not self._instance_running(region, iid):
                    continue  # a stopped instance's agent is not running either
                started = node_state.cw_agent_started(region, iid)
                agent = self._agents.get((region, iid))
                if agent is None or agent.started != started:
                    previous = agent
                    agent = _NodeAgent(started, rng=random.Random(f"{region}|{iid}"))
                    if previous is not None:  # a restart: the state file keeps the offsets
                        agent.tails = previous.tails
                    self._agents[(region, iid)] = agent
                interval = self.flush_seconds if self.flush_seconds is not None else settings.force_flush_interval
                if not force and mono - agent.last_flush < interval:
                    continue
                agent.last_flush = mono
                shipped += self._flush(region, iid, settings, agent)
        return shipped

    def _instance_running(self, region: str, iid: str) -> bool:
        if iid.startswith("mi-"):
            return True
        try:
            instance = instance_index(ec2_backends[self.account][region]).get(iid)
        except KeyError:
            return False
        return instance is not None and instance._state.name == "running"

    # -- one node -----------------------------------------------------------------------------------------

    def _flush(self, region: str, iid: str, settings: AgentConfig, agent: _NodeAgent) -> int:
        facts = node_facts(self.account, region, iid)
        now = clock.now()
        out: dict[tuple[str, str, int], list[tuple[int, str]]] = {}
        if settings.files:
            home = self._homes.get(iid)
            if home is None:
                home = self._homes[iid] = node_home(self.state_dir, iid)
            for entry in settings.files:
                events = self._read(home, entry, agent, now)
                if events:
                    key = (facts.resolve(entry.log_group_name), facts.resolve(entry.log_stream_name),
                           entry.retention_in_days)
                    out.setdefault(key, []).extend(events)
        if settings.windows_events and facts.windows:
            for key, events in self._windows(facts, settings.windows_events, agent, now).items():
                out.setdefault(key, []).extend(events)
        shipped = 0
        now_ms = int(now.timestamp() * 1000)
        for (group, stream, retention), events in out.items():
            parts, dropped = batches(events, now_ms)
            agent.rejected += dropped
            for batch in parts:
                shipped += logs_fast.put_events(self.account, region, group, stream, batch)
            if retention > 0:
                _set_retention(self.account, region, group, retention)
        agent.shipped += shipped
        return shipped

    def _read(self, home: Path, entry: FileCollect, agent: _NodeAgent, now: dt.datetime) -> list[tuple[int, str]]:
        pattern = str(node_path(home, entry.file_path))
        matches = [p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]
        if not matches:
            return []
        path = max(matches, key=lambda p: os.stat(p).st_mtime)
        st = os.stat(path)
        tail = agent.tails.get(entry.file_path)
        if tail is None or tail.path != path or tail.inode != st.st_ino or st.st_size < tail.offset:
            tail = _Tail(path, st.st_ino, 0)
            agent.tails[entry.file_path] = tail
        data = b""
        if st.st_size > tail.offset:
            with open(path, "rb") as fh:
                fh.seek(tail.offset)
                data = fh.read(MAX_READ)
            tail.offset += len(data)
        chunk = tail.partial + data
        lines_raw, sep, tail.partial = chunk.rpartition(b"\n")
        lines = lines_raw.decode("utf-8", "replace").split("\n") if sep else []
        return self._events(entry, tail, lines, now)

    def _events(self, entry: FileCollect, tail: _Tail, lines: list[str], now: dt.datetime) -> list[tuple[int, str]]:
        start = entry.start_regex
        ts_format = entry.timestamp
        utc = entry.timezone.upper() == "UTC"
        now_ms = int(now.timestamp() * 1000)
        done: list[str] = []
        for line in lines:
            line = line.removesuffix("\r")
            if start.search(line) or not tail.event:
                if tail.event:
                    done.append("\n".join(tail.event))
                tail.event = [line]
            else:
                tail.event.append(line)
        if tail.event and not lines:  # nothing new since the last flush: the pending event is complete
            done.append("\n".join(tail.event))
            tail.event = []
        events: list[tuple[int, str]] = []
        for message in done:
            if not message.strip():
                continue
            ts = ts_format.parse(message, utc, now) if ts_format else None
            events.append((ts if ts is not None else now_ms, truncate(message)))
        return events

    def _windows(self, facts: NodeFacts, wanted: tuple[WindowsEvents, ...], agent: _NodeAgent,
                 now: dt.datetime) -> dict[tuple[str, str, int], list[tuple[int, str]]]:
        t1 = now.timestamp()
        t0 = agent.win_upto if agent.win_upto is not None else t1 - WINDOWS_BACKLOG  # the event log's recent past
        agent.win_upto = t1
        out: dict[tuple[str, str, int], list[tuple[int, str]]] = {}
        span = min(t1 - t0, 3600.0)
        for spec in wanted:
            n = min(20, int(span / 30.0 + agent.rng.random()))
            for _ in range(n):
                ts = t1 - agent.rng.random() * span
                record = _windows_record(spec, facts, agent.rng, dt.datetime.fromtimestamp(ts, dt.UTC))
                if record is None:
                    continue
                key = (facts.resolve(spec.log_group_name or spec.event_name),
                       facts.resolve(spec.log_stream_name), -1)
                out.setdefault(key, []).append((int(ts * 1000), record))
        return out


_WIN_EVENTS = {
    "System": [("Service Control Manager", 7036, "INFORMATION",
                "The Windows Update service entered the running state."),
               ("Service Control Manager", 7040, "INFORMATION",
                "The start type of the Background Intelligent Transfer Service service was changed."),
               ("Microsoft-Windows-Time-Service", 129, "WARNING",
                "NtpClient was unable to set a domain peer to use as a time source."),
               ("EventLog", 6013, "INFORMATION", "The system uptime is 1209600 seconds."),
               ("Microsoft-Windows-DNS-Client", 1014, "WARNING",
                "Name resolution for the name wpad timed out after none of the configured DNS servers responded.")],
    "Application": [("Application Error", 1000, "ERROR",
                     "Faulting application name: w3wp.exe, version: 10.0.20348.1, faulting module: ntdll.dll"),
                    ("MSSQLSERVER", 17137, "INFORMATION", "Starting up database 'orders'."),
                    ("Amazon SSM Agent", 0, "INFORMATION", "HealthCheck reporting agent health.")],
    "Security": [("Microsoft-Windows-Security-Auditing", 4624, "INFORMATION", "An account was successfully logged on."),
                 ("Microsoft-Windows-Security-Auditing", 4625, "INFORMATION", "An account failed to log on.")],
}


def _windows_record(spec: WindowsEvents, facts: NodeFacts, rng: random.Random, when: dt.datetime) -> str | None:
    choices = [e for e in _WIN_EVENTS.get(spec.event_name, [])
               if not spec.event_levels or e[2] in spec.event_levels]
    if not choices:
        return None
    source, event_id, level, text = rng.choice(choices)
    if spec.event_format == "text":
        return f"[{spec.event_name}] [{level}] [{event_id}] [{source}] [{facts.hostname}] [{text}]"
    level_no = {"CRITICAL": 1, "ERROR": 2, "WARNING": 3, "INFORMATION": 4, "VERBOSE": 5}.get(level, 4)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}00Z"
    return (f"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='{source}'/>"
            f"<EventID Qualifiers='16384'>{event_id}</EventID><Level>{level_no}</Level><TimeCreated SystemTime='{stamp}'/>"
            f"<Channel>{spec.event_name}</Channel><Computer>{facts.hostname}</Computer></System>"
            f"<RenderingInfo Culture='en-US'><Message>{text}</Message><Level>{level.title()}</Level></RenderingInfo>"
            "</Event>")


def _set_retention(account: str, region: str, group: str, days: int) -> None:
    backend = logs_backends[account][region]
    with logs_fast.LOCK:
        log_group = backend.groups.get(group)
        if log_group is not None and log_group.retention_in_days != days:
            log_group.set_retention_policy(days)


# ------------------------------------------------------------------------------------------------------------
# the extension

_current: AgentLogShipper | None = None
_writers: NodeLogWriters | None = None


def current() -> AgentLogShipper:
    if _current is None:
        raise ValueError("no sandbox running")
    return _current


class AgentLogs(Extension):
    """Every node's CloudWatch agent log shipping, and the default scenario's log writers (:mod:`.node_logs`)."""

    name = "cwagent"

    def start(self, sandbox: Sandbox) -> None:
        """Seed the default scenario's agents, write the fleet's first logs (the backfill), start shipping and
        (live) the writers."""
        global _current, _writers
        self.stop(sandbox)
        scenario = sandbox.scenario_data
        _current = AgentLogShipper(sandbox.account_id, sandbox.state_dir)
        if scenario is not None:
            cw_agent_seed.seed(scenario)
            _writers = NodeLogWriters(scenario, sandbox.state_dir, seed=sandbox.seed, live=sandbox.live)
            _writers.start()
        _current.start()

    def stop(self, sandbox: Sandbox) -> None:
        global _current, _writers
        if _writers is not None:
            _writers.stop()
            _writers = None
        if _current is not None:
            _current.stop()
            _current = None

    def control_snapshot(self) -> dict[str, Any]:
        return current().snapshot()

    def lenient(self) -> list[str]:
        if _current is not None and _current.flush_seconds is not None:
            return [f"cwagent: agents flush logs every {_current.flush_seconds:g} s instead of their "
                    "force_flush_interval"]
        return []

    def configure(self, **knobs: Any) -> dict[str, Any]:
        unknown = set(knobs) - {"flush_seconds", "flush", "write"}
        if unknown:
            raise ValueError(f"unknown cwagent field(s) {sorted(unknown)}; known: ['flush', 'flush_seconds', "
                             "'write']")
        shipper = current()
        if "flush_seconds" in knobs:
            value = knobs["flush_seconds"]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ValueError("flush_seconds must be a positive number of seconds or null")
            shipper.flush_seconds = float(value) if value is not None else None
        result = shipper.snapshot()
        if knobs.get("write") and _writers is not None:
            _writers.wait_backfilled()
            result["written_now"] = _writers.tick()
        if knobs.get("flush"):
            result["shipped_now"] = shipper.tick(force=True)
        return result


EXTENSION = AgentLogs()
