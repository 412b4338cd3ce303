"""The Run Command executor: commands, invocations, plugins, and an asyncio engine that runs them for real.

The API handlers (:mod:`opstui.sandbox.run_command`) validate a SendCommand, build a :class:`Command` with
one :class:`Invocation` per target and hand it to :class:`Engine`, which runs on its own asyncio loop in a
daemon thread, so the werkzeug request thread returns at once.

What an invocation does, following the SSM Agent (aws/amazon-ssm-agent ``runscript``, ``executers``,
``iohandler``, ``runpluginutil``):

* **Delivery.** After ``delivery_delay`` the node's reachability is checked (:func:`reachability`): a running
  EC2 instance (or hybrid node) whose agent is Online gets the command; one whose agent is ConnectionLost
  turns ``Delayed`` and is retried until it comes back or ``TimeoutSeconds`` (x ``delivery_timeout_scale``)
  passes -> ``TimedOut``/``DeliveryTimedOut``; a stopped/stopping/terminated instance, an ``Inactive`` hybrid
  node or an id with no managed node ends ``Failed``/``Undeliverable``. Waiting for a MaxConcurrency slot
  counts against ``TimeoutSeconds`` too (a command that never started is DeliveryTimedOut). Delayed nodes do
  not hold a concurrency slot (a choice: the alternative makes one lost node stall a whole fleet).
* **Execution.** ``aws:runShellScript``: the commands are written to
  ``<state_dir>/nodes/<id>/orchestration/<command-id>/<plugin>/<step>/_script.sh`` and run as
  ``bash _script.sh`` in its own session (process group) with stdin from /dev/null, in the node's home
  (:func:`~opstui.sandbox.agent_shell.node_home`, the shells' home) or ``workingDirectory``: relative to the
  home if it exists there, else the home (the agent falls back to its default); absolute must exist, else
  the plugin fails with ``failed to run commands: chdir <dir>: no such file or directory`` (exit 1). The
  environment is :func:`~opstui.sandbox.agent_shell.shell_env`'s (no TERM, no session id) plus
  ``AWS_SSM_INSTANCE_ID`` and ``AWS_SSM_REGION_NAME`` as the agent sets them; the node's
  :func:`~opstui.sandbox.agent_shell.node_bin` is first on PATH and HOSTNAME is its ComputerName, so
  ``hostname``/``uname -n``/``$HOSTNAME`` answer the node's own name, as on AWS. A non-zero exit appends
  ``failed to run commands: exit status N`` to stderr, as the agent does.
* ``aws:runPowerShellScript``: ``pwsh -File _script.ps1`` when pwsh is installed, else the PowerShell-like
  shim :mod:`opstui.sandbox.powershell_shim` (Write-Output/echo/Write-Host, Get-Date, Get-Service,
  Get-ChildItem of the orchestration folder, hostname, whoami, ``$env:X``, ``$PSVersionTable``, Start-Sleep,
  exit N, ``;``-joined statements; any other command writes PowerShell's "The term 'X' is not recognized ..."
  error, the script goes on, and ends with exit 1).
* Platform: a 1.2 document's plugin that the node's platform lacks (``aws:runShellScript`` on Windows) fails
  with the agent's "Plugin with name ... is not supported in current platform. Step name: ..."; a 2.2 step
  whose ``precondition`` (``StringEquals: [platformType, X]``) does not hold, or whose action the platform
  lacks, is skipped: "Step execution skipped due to incompatible platform. Step name: ...", status Success.
* Simulated plugins (plausible output, success, state in :mod:`opstui.sandbox.node_state`):
  ``aws:configurePackage`` (Install/Uninstall), ``aws:softwareInventory``, ``aws:updateSsmAgent`` (updates
  the registry's agent version), and the ``AmazonCloudWatch-ManageAgent`` document's steps
  (configure/start/stop/status of the CloudWatch agent; fails like ``amazon-cloudwatch-agent-ctl`` missing
  when the package is not installed).
* **Timeouts and cancel.** ``executionTimeout`` (x ``execution_timeout_scale``) SIGKILLs the process group:
  ``TimedOut``/``ExecutionTimedOut``, ResponseCode 137 on Linux (the agent's
  ``CommandStoppedPreemptivelyExitCode``; -1 on Windows). The agent waits for the output pipes to close, so a
  background job that keeps stdout open runs into the timeout too, as on AWS. CancelCommand kills a running
  process group (``Cancelling`` then ``Cancelled``, 137); a pending invocation never starts (``Cancelled``, -1).
* **Output.** Each plugin's stdout/stderr go to files next to the script (the full output; uploaded to S3
  when the command asks) and the first 96 KB / 32 KB stay in memory for the API's 24,000 / 8,000 character
  views, decoded as UTF-8 with ``errors="replace"`` as the agent does. With CloudWatch output on, text is put
  to the log stream every ``log_flush_interval`` while output flows (messages are the raw chunks, so
  concatenating a stream's messages gives the output back exactly) and the last chunk is in before the
  invocation turns terminal -- unless ``final_logs_lag`` is set: AWS promises no such order (the status
  comes from the agent's reply to the service, the output from its CloudWatch Logs uploader, and neither the
  Run Command nor the CloudWatch Logs API reference orders the two), so a client must cope with a terminal status whose last events come later; the knob makes them come that late.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import datetime as dt
import logging
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

from moto.ec2.models import ec2_backends
from moto.s3.models import s3_backends

from opstui.private_files import open_private, private_dir, write_private

from . import cw_agent, logs_fast, node_state
from .agent_shell import node_bin, node_home, shell_env
from .ec2_fast import instance_index
from .powershell_shim import PowerShellShim
from .ssm_nodes import REGISTRY

TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
#: invocation StatusDetails that never reached an agent: not errors for MaxErrors/ErrorCount, and not a reason
#: for Incomplete; a command made only of them is Failed ("Understanding command statuses",
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html)
NOT_DELIVERED = frozenset({"Undeliverable", "InvalidPlatform"})
STDOUT_LIMIT = 24_000
STDERR_LIMIT = 8_000
PLUGIN_OUTPUT_LIMIT = 2_500
STOPPED_PREEMPTIVELY_LINUX = 137
STOPPED_PREEMPTIVELY_WINDOWS = -1

_TRUNCATE_OUT = "\n---Output truncated---"
_TRUNCATE_ERR = "\n---Error truncated----"
_ERROR_TITLE = "\n----------ERROR-------\n"

LINUX_ONLY = frozenset({"aws:runShellScript"})
WINDOWS_ONLY = frozenset({"aws:updateAgent", "aws:psModule", "aws:applications", "aws:cloudWatch",
                          "aws:domainJoin"})
KNOWN_PLUGINS = LINUX_ONLY | WINDOWS_ONLY | {
    "aws:runPowerShellScript", "aws:configurePackage", "aws:softwareInventory", "aws:updateSsmAgent",
    "aws:runDocument", "aws:downloadContent", "aws:configureDocker", "aws:refreshAssociation"}
CW_MANAGE_DOCUMENT = "AmazonCloudWatch-ManageAgent"

#: what ``aws:configurePackage`` installs when no version is given
PACKAGE_VERSIONS = {
    "AmazonCloudWatchAgent": "1.300057.1",
    "AWSPVDriver": "8.4.3",
    "AwsEnaNetworkDriver": "2.8.0",
    "AWSNVMe": "1.5.1",
    "AmazonEFSUtils": "2.1.0",
    "AWSCodeDeployAgent": "1.7.1",
    "AmazonInspector2-InspectorSsmPlugin": "1.0.3",
}


_log = logging.getLogger(__name__)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ----------------------------------------------------------------------------------------------------------
# output


class StreamOut:
    """One plugin's stdout or stderr: the whole of it in a file, a head in memory, pending text for CW Logs."""

    def __init__(self, path: Path, head_bytes: int, cw_stream: str | None) -> None:
        self.path = path
        self.head_bytes = head_bytes
        self.head = bytearray()
        self.size = 0
        self.cw_stream = cw_stream
        self._fh: BinaryIO | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._fh is None:
            self._fh = open_private(self.path, "wb")  # 0600 in 0700 folders; closed in close()
        self._fh.write(data)
        self.size += len(data)
        if len(self.head) < self.head_bytes:
            self.head += data[: self.head_bytes - len(self.head)]
        if self.cw_stream is not None:
            text = self._decoder.decode(data)
            if text:
                self._pending.append(text)

    def write_text(self, text: str) -> None:
        self.feed(text.encode("utf-8", "replace"))

    def take_pending(self, final: bool = False) -> str:
        if final and self.cw_stream is not None:
            tail = self._decoder.decode(b"", final=True)
            if tail:
                self._pending.append(tail)
        text = "".join(self._pending)
        self._pending.clear()
        return text

    def text(self, limit: int) -> str:
        return bytes(self.head).decode("utf-8", "replace")[:limit]

    def full_bytes(self) -> bytes:
        if self._fh is not None:
            self._fh.flush()
        try:
            return self.path.read_bytes()
        except OSError:
            return b""

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


def truncate_plugin_output(stdout: str, stderr: str, capacity: int = PLUGIN_OUTPUT_LIMIT) -> str:
    """The agent's ``TruncateOutput``: stdout, then ``----------ERROR-------`` and stderr, within ``capacity``."""
    title = _ERROR_TITLE if stderr else ""
    available = capacity - len(title)
    if len(stdout) + len(stderr) < available:
        return f"{stdout}{title}{stderr}"
    if len(stdout) > available // 2 and len(stderr) > available // 2:
        size = available - len(_TRUNCATE_ERR) - len(_TRUNCATE_OUT)
        return f"{stdout[: size // 2]}{_TRUNCATE_OUT}{title}{stderr[: size // 2]}{_TRUNCATE_ERR}"
    if len(stdout) < available // 2:
        size = available - len(_TRUNCATE_ERR)
        return f"{stdout}{title}{stderr[: size - len(stdout)]}{_TRUNCATE_ERR}"
    size = available - len(_TRUNCATE_OUT)
    return f"{stdout[: size - len(stderr)]}{_TRUNCATE_OUT}{title}{stderr}"


# ----------------------------------------------------------------------------------------------------------
# model


@dataclass(eq=False)  # identity semantics: held in sets and compared by object
class PluginRun:
    """One plugin (schema 1.2) or step (2.x) of one invocation."""

    name: str  # CommandPlugin Name: the plugin name (1.2) or the step name (2.x)
    action: str  # e.g. aws:runShellScript
    step_id: str  # 1.2: the property id ("0.aws:runShellScript"); 2.x: the step name
    inputs: dict[str, Any]
    precondition: dict[str, Any] | None = None
    schema_22: bool = False
    on_failure: str = ""
    status: str = "Pending"
    details: str = "Pending"
    code: int = -1
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    out: StreamOut | None = None
    err: StreamOut | None = None

    @property
    def s3_folder(self) -> str:
        """AWS's S3 layout: ``awsrunShellScript/0.awsrunShellScript`` (1.2) or ``<step>`` (2.x)."""
        if self.schema_22:
            return self.step_id.replace(":", "")
        return f"{self.action.replace(':', '')}/{self.step_id.replace(':', '')}"

    @property
    def cw_name(self) -> str:
        return self.name.replace(":", "-")

    def stdout(self, limit: int = STDOUT_LIMIT) -> str:
        return self.out.text(limit) if self.out else ""

    def stderr(self, limit: int = STDERR_LIMIT) -> str:
        return self.err.text(limit) if self.err else ""

    def finish(self, status: str, details: str, code: int) -> None:
        self.status, self.details, self.code = status, details, code
        if self.start is None:
            self.start = now()
        self.end = now()


@dataclass(eq=False)  # identity semantics: held in sets and compared by object
class Invocation:
    command: Command = field(repr=False)
    instance_id: str
    instance_name: str  # the node's computer name (AWS: "fully qualified host name")
    node_name: str  # Name tag (hybrid: registration name)
    platform: str  # Linux / Windows / MacOS ("" for an unknown id)
    plugins: list[PluginRun]
    ip_address: str = ""  # the node's private IP (``hostname -i`` on the node)
    status: str = "Pending"
    details: str = "Pending"
    code: int = -1
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    cancel_requested: bool = False
    pgid: int | None = None
    _cancel_event: asyncio.Event | None = field(default=None, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def set(self, status: str, details: str, code: int | None = None) -> None:
        self.status, self.details = status, details
        if code is not None:
            self.code = code
        if status in TERMINAL:
            self.end = now()
            for p in self.plugins:  # plugins that never ran take the invocation's outcome, with no times
                if p.status not in TERMINAL:
                    p.status, p.details, p.code = status, details, self.code
        self.command.refresh()

    def s3_url(self, plugin: PluginRun, stream: str) -> str:
        cmd = self.command
        if not cmd.output_s3_bucket:
            return ""
        return f"https://s3.{cmd.output_s3_region}.amazonaws.com/{cmd.output_s3_bucket}/" + self.s3_key(plugin, stream)

    def s3_key(self, plugin: PluginRun, stream: str) -> str:
        cmd = self.command
        parts = [cmd.output_s3_prefix.strip("/")] if cmd.output_s3_prefix.strip("/") else []
        parts += [cmd.command_id, self.instance_id, plugin.s3_folder, stream]
        return "/".join(parts)


def _parse_limit(value: str, total: int, *, minimum: int) -> int:
    if value.endswith("%"):
        return max(minimum, total * int(value[:-1]) // 100)
    return int(value)


@dataclass(eq=False)  # identity semantics: held in sets and compared by object
class Command:
    command_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    comment: str
    parameters: dict[str, list[str]]
    instance_ids: list[str]
    targets: list[dict[str, Any]]
    timeout_seconds: int
    max_concurrency: str
    max_errors: str
    output_s3_bucket: str
    output_s3_prefix: str
    output_s3_region: str
    cw_enabled: bool
    cw_group: str
    cw_config: dict[str, Any]  # CloudWatchOutputConfig as given, echoed back
    service_role: str
    notification_config: dict[str, Any]
    state_dir: Path
    #: the document's parameter defaults with the request's values over them (what the plugins saw)
    effective_parameters: dict[str, Any] = field(default_factory=dict)
    requested: dt.datetime = field(default_factory=now)
    invocations: dict[str, Invocation] = field(default_factory=dict)
    status: str = "Pending"
    details: str = "Pending"
    cancelled: bool = False
    stop_sending: bool = False
    running: int = 0
    peak: int = 0
    finished: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def concurrency_limit(self) -> int:
        return max(1, _parse_limit(self.max_concurrency, len(self.invocations), minimum=1))

    @property
    def error_limit(self) -> int:
        return _parse_limit(self.max_errors, len(self.invocations), minimum=0)

    @property
    def expires_after(self) -> dt.datetime:
        return self.requested + dt.timedelta(seconds=self.timeout_seconds + 3600)

    def counts(self) -> tuple[int, int, int, int]:
        """(completed, errors, delivery timed out, execution timed out)."""
        completed = errors = dto = eto = 0
        for inv in list(self.invocations.values()):
            if inv.terminal:
                completed += 1
            if inv.details == "DeliveryTimedOut":
                dto += 1
            elif inv.details == "ExecutionTimedOut":
                errors += 1
                eto += 1
            elif inv.status == "Failed" and inv.details not in NOT_DELIVERED:
                errors += 1
        return completed, errors, dto, eto

    def refresh(self) -> None:
        """Recompute the command's Status/StatusDetails from its invocations (see run_command's docstring)."""
        with self.lock:
            invs = list(self.invocations.values())
            completed, errors, dto, eto = self.counts()
            if errors > self.error_limit and not self.stop_sending:
                self.stop_sending = True
            if completed < len(invs):
                if self.cancelled:
                    self.status = self.details = "Cancelling"
                elif any(i.status != "Pending" for i in invs):
                    self.status, self.details = "InProgress", "InProgress"
                return
            if self.finished:
                return
            if self.cancelled:
                self.status = self.details = "Cancelled"
            elif errors > self.error_limit:
                if eto == errors:
                    self.status, self.details = "TimedOut", "ExecutionTimedOut"
                else:
                    self.status, self.details = "Failed", "Failed"
            elif dto and not errors and dto > self.error_limit:
                self.status, self.details = "TimedOut", "DeliveryTimedOut"
            elif invs and all(i.details in NOT_DELIVERED for i in invs):
                self.status, self.details = "Failed", "Failed"
            elif any(i.status != "Success" and i.details not in NOT_DELIVERED for i in invs):
                self.status, self.details = "Failed", "Incomplete"
            else:
                self.status, self.details = "Success", "Success"
            self.finished = True


# ----------------------------------------------------------------------------------------------------------
# documents -> plugins

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def substitute(value: Any, params: dict[str, Any]) -> Any:
    """Replace ``{{ name }}`` in a document fragment; a string that is only a StringList placeholder becomes the list."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value.strip())
        if whole and whole.group(1) in params:
            return params[whole.group(1)]

        def one(m: re.Match[str]) -> str:
            v = params.get(m.group(1))
            if v is None:
                return m.group(0)
            return "\n".join(v) if isinstance(v, list) else str(v)

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            sub = substitute(item, params)
            if isinstance(item, str) and isinstance(sub, list):
                out.extend(sub)
            else:
                out.append(sub)
        return out
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    return value


def build_plugins(content: dict[str, Any], params: dict[str, Any]) -> list[PluginRun]:
    """The plugins/steps of a Command document with parameters substituted (schema 1.2 and 2.x)."""
    plugins: list[PluginRun] = []
    if "mainSteps" in content:
        for step in content.get("mainSteps") or []:
            plugins.append(PluginRun(name=step.get("name", step.get("action", "")), action=step.get("action", ""),
                                     step_id=step.get("name", step.get("action", "")),
                                     inputs=substitute(step.get("inputs") or {}, params),
                                     precondition=step.get("precondition"), schema_22=True,
                                     on_failure=str(step.get("onFailure") or "")))
        return plugins
    for name, config in (content.get("runtimeConfig") or {}).items():
        props = (config or {}).get("properties")
        prop = props[0] if isinstance(props, list) and props else (props if isinstance(props, dict) else {})
        inputs = substitute(prop, params)
        plugins.append(PluginRun(name=name, action=name, step_id=str(inputs.get("id") or f"0.{name}"),
                                 inputs=inputs))
    return plugins


def _platform_ok(action: str, platform: str) -> bool:
    if action in LINUX_ONLY:
        return platform in ("Linux", "MacOS")
    if action in WINDOWS_ONLY:
        return platform == "Windows"
    return True


def _precondition_ok(precondition: dict[str, Any] | None, platform: str) -> bool:
    for op, operands in (precondition or {}).items():
        if op != "StringEquals" or not isinstance(operands, list) or len(operands) != 2:
            continue
        other = operands[1] if operands[0] == "platformType" else operands[0]
        if str(other).lower() != platform.lower():
            return False
    return True


# ----------------------------------------------------------------------------------------------------------
# reachability


def reachability(account_id: str, region: str, instance_id: str) -> str:
    """``online``, ``lost`` (agent not pinging: Delayed, may time out) or ``undeliverable``."""
    node = REGISTRY.get(account_id, region, instance_id)
    if node is None:
        return "undeliverable"
    if not node.is_hybrid:
        instance = instance_index(ec2_backends[account_id][region]).get(instance_id)
        if instance is None:
            return "undeliverable"
        state = instance._state.name
        if state == "pending":
            return "lost"
        if state != "running":
            return "undeliverable"
    if node.ping_status == "Online":
        return "online"
    return "lost" if node.ping_status == "ConnectionLost" else "undeliverable"


# ----------------------------------------------------------------------------------------------------------
# engine


@dataclass
class EngineSettings:
    """Knobs (``POST /_opstui/run-command``); read when a delivery or step starts."""

    delivery_delay: float = 0.1  # seconds before the agent picks a command up
    retry_interval: float = 0.5  # how often a Delayed invocation is retried
    delivery_timeout_scale: float = 1.0  # TimeoutSeconds x this (0.01: a 30 s timeout takes 0.3 s)
    execution_timeout_scale: float = 1.0  # executionTimeout x this
    max_processes: int = 128  # simultaneous processes over all commands
    log_flush_interval: float = 0.2  # CloudWatch Logs put interval while output flows
    simulated_step_seconds: float = 0.2  # duration of a simulated plugin
    final_logs_lag: float = 0.0  # seconds the last CloudWatch Logs chunk arrives after the step ends

    def update(self, **knobs: Any) -> None:
        names = {f.name for f in fields(self)}
        for key, value in knobs.items():
            if key not in names:
                raise ValueError(f"unknown run-command knob {key!r}; known: {sorted(names)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            if key == "max_processes" and (not isinstance(value, int) or value < 1):
                raise ValueError("max_processes must be an integer >= 1")
        for key, value in knobs.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Engine:
    """An asyncio loop in a daemon thread that delivers and runs invocations."""

    def __init__(self) -> None:
        self.settings = EngineSettings()
        self.executions = 0
        self.peaks: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._sinks: set[tuple[Invocation, PluginRun]] = set()
        self._procs: dict[int, asyncio.subprocess.Process] = {}
        self._proc_sem: asyncio.Semaphore | None = None
        self._lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._loop is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="opstui-run-command", daemon=True)
            self._thread.start()
            ready.wait(5)
            self._loop = loop
            self._flusher_future = asyncio.run_coroutine_threadsafe(self._flusher(), loop)

    def stop(self) -> None:
        """Kill every process, end the loop. Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return

        async def shutdown() -> None:
            for proc in list(self._procs.values()):
                _killpg(proc.pid)
            for task in list(self._tasks):
                task.cancel()
            flusher = getattr(self, "_flusher_future", None)
            if flusher is not None:
                flusher.cancel()  # else "Task was destroyed but it is pending" when the loop goes away
            await asyncio.sleep(0)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        for proc in list(self._procs.values()):
            _killpg(proc.pid)
        self._procs.clear()
        self._sinks.clear()
        self.peaks.clear()
        self.executions = 0

    def submit(self, command: Command) -> None:
        self.start()
        assert self._loop is not None
        self.peaks[command.command_id] = 0
        fut = asyncio.run_coroutine_threadsafe(self._run_command(command), self._loop)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)

    def cancel(self, command: Command, instance_ids: list[str] | None) -> None:
        """Cancel some or all of a command's invocations (called from a request thread)."""
        with command.lock:
            command.cancelled = True
            targets = [command.invocations[i] for i in instance_ids or command.invocations if i in command.invocations]
            for inv in targets:
                if inv.terminal:
                    continue
                inv.cancel_requested = True
                if inv.status == "InProgress":
                    inv.set("Cancelling", "Cancelling")
                    event = inv._cancel_event
                    if event is not None and self._loop is not None:
                        self._loop.call_soon_threadsafe(event.set)
                else:
                    inv.set("Cancelled", "Cancelled", -1)
            command.refresh()

    def running_processes(self) -> int:
        return len(self._procs)

    # --- scheduling --------------------------------------------------------------------------------------

    async def _run_command(self, cmd: Command) -> None:
        if self._proc_sem is None:
            self._proc_sem = asyncio.Semaphore(self.settings.max_processes)
        slots = asyncio.Semaphore(cmd.concurrency_limit)
        invs = list(cmd.invocations.values())
        if not invs:
            cmd.refresh()
            return
        await asyncio.gather(*(self._deliver(cmd, inv, slots) for inv in invs))
        cmd.refresh()

    async def _deliver(self, cmd: Command, inv: Invocation, slots: asyncio.Semaphore) -> None:
        try:
            await self._deliver_one(cmd, inv, slots)
        except asyncio.CancelledError:
            raise
        except Exception:
            # a sandbox bug must not leave an invocation InProgress forever: fail it visibly
            _log.exception("run-command %s on %s crashed", cmd.command_id, inv.instance_id)
            if not inv.terminal:
                inv.set("Failed", "Failed", 1)

    async def _deliver_one(self, cmd: Command, inv: Invocation, slots: asyncio.Semaphore) -> None:
        s = self.settings
        deadline = time.monotonic() + cmd.timeout_seconds * s.delivery_timeout_scale
        await asyncio.sleep(s.delivery_delay)
        while True:
            if inv.terminal or inv.cancel_requested:
                return
            if cmd.stop_sending:
                inv.set("Cancelled", "Terminated", -1)
                return
            reach = reachability(cmd.account_id, cmd.region, inv.instance_id)
            if reach == "undeliverable":
                inv.set("Failed", "Undeliverable", -1)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                inv.set("TimedOut", "DeliveryTimedOut", -1)
                return
            if reach == "lost":
                if inv.status != "Delayed":
                    inv.set("Delayed", "Delayed")
                await asyncio.sleep(min(s.retry_interval, remaining))
                continue
            try:
                await asyncio.wait_for(slots.acquire(), timeout=remaining)
            except TimeoutError:
                inv.set("TimedOut", "DeliveryTimedOut", -1)
                return
            try:
                if inv.terminal or inv.cancel_requested:
                    return
                if cmd.stop_sending:
                    inv.set("Cancelled", "Terminated", -1)
                    return
                await self._execute(cmd, inv)
            finally:
                slots.release()
            return

    # --- execution ---------------------------------------------------------------------------------------

    async def _execute(self, cmd: Command, inv: Invocation) -> None:
        with cmd.lock:  # CancelCommand decides under the same lock, so a cancelled invocation never starts
            if inv.terminal or inv.cancel_requested:
                return
            inv._cancel_event = asyncio.Event()
            cmd.running += 1
            cmd.peak = max(cmd.peak, cmd.running)
            self.peaks[cmd.command_id] = cmd.peak
            self.executions += 1
            inv.start = now()
            inv.set("InProgress", "InProgress")
        try:
            stop_rest = False
            for plugin in inv.plugins:
                if inv.cancel_requested:
                    plugin.finish("Cancelled", "Cancelled", -1)
                    continue
                if stop_rest:
                    continue
                await self._run_plugin(cmd, inv, plugin)
                # a timed-out or cancelled step ends the invocation; a failed one only with onFailure: exit
                stop_rest = plugin.status in ("Cancelled", "TimedOut") or (
                    plugin.status == "Failed" and plugin.on_failure.lower() == "exit")
            self._upload_s3(cmd, inv)
        finally:
            with cmd.lock:
                cmd.running -= 1
        statuses = [p.status for p in inv.plugins]
        code = next((p.code for p in inv.plugins if p.code not in (0, -1)), 0)
        if inv.cancel_requested or "Cancelled" in statuses:
            inv.set("Cancelled", "Cancelled", code or -1)
        elif "TimedOut" in statuses:
            inv.set("TimedOut", "ExecutionTimedOut", code)
        elif "Failed" in statuses:
            inv.set("Failed", "Failed", code or 1)
        else:
            inv.set("Success", "Success", 0)

    def _prepare_outputs(self, cmd: Command, inv: Invocation, plugin: PluginRun) -> Path:
        home = node_home(cmd.state_dir, inv.instance_id)
        folder = home.parent / "orchestration" / cmd.command_id / plugin.s3_folder.replace("/", os.sep)
        private_dir(folder)
        cw_base = f"{cmd.command_id}/{inv.instance_id}/{plugin.cw_name}/" if cmd.cw_enabled else None
        plugin.out = StreamOut(folder / "stdout", STDOUT_LIMIT * 4, cw_base + "stdout" if cw_base else None)
        plugin.err = StreamOut(folder / "stderr", STDERR_LIMIT * 4, cw_base + "stderr" if cw_base else None)
        return folder

    async def _run_plugin(self, cmd: Command, inv: Invocation, plugin: PluginRun) -> None:
        folder = self._prepare_outputs(cmd, inv, plugin)
        assert plugin.out is not None and plugin.err is not None
        plugin.start = now()
        plugin.status = plugin.details = "InProgress"
        entry = (inv, plugin)
        self._sinks.add(entry)
        try:
            if not plugin.schema_22 and not _platform_ok(plugin.action, inv.platform):
                plugin.err.write_text(f"Plugin with name {plugin.action} is not supported in current platform. "
                                      f"Step name: {plugin.name}")
                plugin.finish("Failed", "Failed", 1)
            elif plugin.schema_22 and (not _precondition_ok(plugin.precondition, inv.platform)
                                       or not _platform_ok(plugin.action, inv.platform)):
                plugin.out.write_text(f"Step execution skipped due to incompatible platform. Step name: {plugin.name}")
                plugin.finish("Success", "Success", 0)
            elif cmd.document_name == CW_MANAGE_DOCUMENT and plugin.action in ("aws:runShellScript",
                                                                               "aws:runPowerShellScript"):
                await self._simulate(cmd, inv, plugin, _cw_manage_agent)
            elif plugin.action == "aws:runShellScript":
                await self._run_script(cmd, inv, plugin, folder, "sh")
            elif plugin.action == "aws:runPowerShellScript":
                await self._run_script(cmd, inv, plugin, folder, "ps1")
            elif plugin.action == "aws:configurePackage":
                await self._simulate(cmd, inv, plugin, _configure_package)
            elif plugin.action == "aws:softwareInventory":
                await self._simulate(cmd, inv, plugin, _software_inventory)
            elif plugin.action in ("aws:updateSsmAgent", "aws:updateAgent"):
                await self._simulate(cmd, inv, plugin, _update_agent)
            elif plugin.action in KNOWN_PLUGINS:
                await self._simulate(cmd, inv, plugin, lambda *_: 0)
            else:
                plugin.err.write_text(f"Plugin with name {plugin.action} is not supported by this version of ssm "
                                      f"agent, please update to latest version. Step name: {plugin.step_id}")
                plugin.finish("Failed", "Failed", 1)
        finally:
            self._sinks.discard(entry)
            lag = self.settings.final_logs_lag
            if lag > 0 and self._loop is not None:
                self._loop.call_later(lag, self._flush, cmd, inv, plugin, True)
            else:
                self._flush(cmd, inv, plugin, final=True)
            plugin.out.close()
            plugin.err.close()

    async def _simulate(self, cmd: Command, inv: Invocation, plugin: PluginRun,
                        action: Callable[[Command, Invocation, PluginRun], int]) -> None:
        assert inv._cancel_event is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(inv._cancel_event.wait(), self.settings.simulated_step_seconds)
        if inv.cancel_requested:
            plugin.finish("Cancelled", "Cancelled", -1)
            return
        code = action(cmd, inv, plugin)
        if code:
            _append_failure(plugin, code)
            plugin.finish("Failed", "Failed", code)
        else:
            plugin.finish("Success", "Success", 0)

    async def _run_script(self, cmd: Command, inv: Invocation, plugin: PluginRun, folder: Path, kind: str) -> None:
        assert plugin.out is not None and plugin.err is not None and inv._cancel_event is not None
        lines = plugin.inputs.get("runCommand") or []
        if isinstance(lines, str):
            lines = [lines]
        script = folder / f"_script.{kind}"
        write_private(script, "\n".join(str(x) for x in lines) + "\n")
        script.chmod(0o700)
        home = node_home(cmd.state_dir, inv.instance_id)
        workdir = str(plugin.inputs.get("workingDirectory") or "")
        cwd = home
        if workdir and os.path.isabs(workdir):
            if not os.path.isdir(workdir):
                plugin.err.write_text(f"failed to run commands: chdir {workdir}: no such file or directory")
                plugin.finish("Failed", "Failed", 1)
                return
            cwd = Path(workdir)
        elif workdir and (home / workdir).is_dir():
            cwd = home / workdir
        timeout = _seconds(plugin.inputs.get("timeoutSeconds"), 3600) * self.settings.execution_timeout_scale
        windows = inv.platform == "Windows"
        preempted = STOPPED_PREEMPTIVELY_WINDOWS if windows else STOPPED_PREEMPTIVELY_LINUX
        if kind == "ps1" and not shutil.which("pwsh"):
            if not windows:
                plugin.err.write_text('failed to run commands: exec: "powershell": executable file not found in $PATH')
                plugin.finish("Failed", "Failed", 1)
                return
            await self._run_shim(inv, plugin, [str(x) for x in lines], timeout, script)
            return
        argv = ["bash", str(script)] if kind == "sh" else [
            "pwsh", "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted", "-File",
            str(script)]
        env = _command_env(cmd, inv, home)
        assert self._proc_sem is not None
        async with self._proc_sem:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, cwd=str(cwd), env=env, start_new_session=True)
            except OSError as exc:
                plugin.err.write_text(f"failed to run commands: {exc}")
                plugin.finish("Failed", "Failed", 1)
                return
            self._procs[proc.pid] = proc
            inv.pgid = proc.pid
            assert proc.stdout is not None and proc.stderr is not None
            pumps = asyncio.gather(_pump(proc.stdout, plugin.out), _pump(proc.stderr, plugin.err))
            done = asyncio.ensure_future(asyncio.gather(pumps, proc.wait()))
            cancel = asyncio.ensure_future(inv._cancel_event.wait())
            reason = ""
            try:
                finished, _ = await asyncio.wait({done, cancel}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                if done not in finished:
                    reason = "cancel" if cancel in finished else "timeout"
                    _killpg(proc.pid)
                    with contextlib.suppress(TimeoutError, Exception):
                        await asyncio.wait_for(asyncio.shield(done), 2)
            finally:
                cancel.cancel()
                if not done.done():
                    _killpg(proc.pid)
                    done.cancel()
                self._procs.pop(proc.pid, None)
                inv.pgid = None
            rc = proc.returncode
            code = 128 - rc if rc is not None and rc < 0 else (rc or 0)
        if reason == "timeout":
            plugin.finish("TimedOut", "ExecutionTimedOut", preempted)
        elif reason == "cancel":
            plugin.finish("Cancelled", "Cancelled", preempted)
        elif code:
            _append_failure(plugin, code)
            plugin.finish("Failed", "Failed", code)
        else:
            plugin.finish("Success", "Success", 0)

    async def _run_shim(self, inv: Invocation, plugin: PluginRun, lines: list[str], timeout: float,
                        script: Path) -> None:
        assert inv._cancel_event is not None
        task = asyncio.ensure_future(_powershell_shim(inv, plugin, lines, script))
        cancel = asyncio.ensure_future(inv._cancel_event.wait())
        finished, _ = await asyncio.wait({task, cancel}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        cancel.cancel()
        if task in finished:
            code = task.result()
            if code:
                _append_failure(plugin, code)
                plugin.finish("Failed", "Failed", code)
            else:
                plugin.finish("Success", "Success", 0)
            return
        task.cancel()
        if cancel in finished:
            plugin.finish("Cancelled", "Cancelled", STOPPED_PREEMPTIVELY_WINDOWS)
        else:
            plugin.finish("TimedOut", "ExecutionTimedOut", STOPPED_PREEMPTIVELY_WINDOWS)

    # --- output --------------------------------------------------------------------------------------------

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.settings.log_flush_interval or 0.2)
            for inv, plugin in list(self._sinks):
                try:
                    self._flush(inv.command, inv, plugin)
                except Exception:  # a broken log group must not stop the flusher
                    continue

    def _flush(self, cmd: Command, inv: Invocation, plugin: PluginRun, final: bool = False) -> None:
        if not cmd.cw_enabled:
            return
        for sink in (plugin.out, plugin.err):
            if sink is None or sink.cw_stream is None:
                continue
            text = sink.take_pending(final)
            if not text:
                continue
            ts = int(time.time() * 1000)
            chunks = [text[i : i + logs_fast.MAX_EVENT_CHARS] for i in range(0, len(text), logs_fast.MAX_EVENT_CHARS)]
            logs_fast.put_events(cmd.account_id, cmd.region, cmd.cw_group, sink.cw_stream,
                                 [(ts, c) for c in chunks])

    def _upload_s3(self, cmd: Command, inv: Invocation) -> None:
        """Full stdout (and stderr when there is any) to the command's bucket; a missing bucket is ignored,
        as the agent only logs a failed upload."""
        if not cmd.output_s3_bucket:
            return
        try:
            backend = s3_backends[cmd.account_id]["aws"]
            if cmd.output_s3_bucket not in backend.buckets:
                return
            for plugin in inv.plugins:
                for name, sink in (("stdout", plugin.out), ("stderr", plugin.err)):
                    if sink is None or (name == "stderr" and sink.size == 0):
                        continue
                    backend.put_object(cmd.output_s3_bucket, inv.s3_key(plugin, name), sink.full_bytes())
        except Exception:  # the sandbox must not fail a command because of moto's S3 internals
            return


async def _pump(stream: asyncio.StreamReader, sink: StreamOut) -> None:
    while True:
        data = await stream.read(65536)
        if not data:
            return
        sink.feed(data)


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(pid, signal.SIGKILL)


def _seconds(value: Any, default: int) -> float:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(str(value)))
    except (TypeError, ValueError):
        return float(default)


def _append_failure(plugin: PluginRun, code: int) -> None:
    """The agent's ``failed to run commands: exit status N`` line at the end of stderr."""
    assert plugin.err is not None
    sep = "" if plugin.err.size == 0 or plugin.err.head.endswith(b"\n") else "\n"
    plugin.err.write_text(f"{sep}failed to run commands: exit status {code}")


def _command_env(cmd: Command, inv: Invocation, home: Path) -> dict[str, str]:
    computer = inv.instance_name or inv.node_name or inv.instance_id
    bin_dir = node_bin(cmd.state_dir, inv.instance_id, computer, inv.ip_address)
    env = shell_env(home=home, node_id=inv.instance_id, node_name=inv.node_name, region=cmd.region, session_id="",
                    computer_name=computer, bin_dir=bin_dir)
    for key in ("SSM_SESSION_ID", "OPSTUI_PROMPT_NAME", "TERM"):
        env.pop(key, None)
    env["AWS_SSM_INSTANCE_ID"] = inv.instance_id
    env["AWS_SSM_REGION_NAME"] = cmd.region
    if inv.platform == "Windows":
        env["COMPUTERNAME"] = inv.instance_name
    return env


# ----------------------------------------------------------------------------------------------------------
# the PowerShell-like shim (Windows nodes without pwsh)

async def _powershell_shim(inv: Invocation, plugin: PluginRun, lines: list[str], script: Path) -> int:
    """Run a PowerShell script with the shim, statement by statement (Start-Sleep awaits, cancellable)."""
    assert plugin.out is not None and plugin.err is not None
    script_dir = ("C:\\ProgramData\\Amazon\\SSM\\InstanceData\\" + inv.instance_id + "\\document\\orchestration\\"
                  + inv.command.command_id + "\\" + plugin.s3_folder.replace("/", "\\"))
    shim = PowerShellShim(
        computer_name=inv.instance_name.split(".")[0].upper() or inv.instance_id, user="SYSTEM",
        location=script_dir, local_dir=script.parent, script_path=script_dir + "\\_script.ps1",
        env={"AWS_SSM_INSTANCE_ID": inv.instance_id, "AWS_SSM_REGION_NAME": inv.command.region})
    for number, raw in enumerate("\n".join(lines).splitlines(), start=1):
        for outcome in shim.run_line(raw, number):
            if outcome.out:
                plugin.out.write_text(outcome.out.replace("\n", "\r\n"))
            if outcome.err:
                plugin.err.write_text(outcome.err.replace("\n", "\r\n"))
            if outcome.sleep:
                await asyncio.sleep(outcome.sleep)
            if outcome.exit is not None:
                return outcome.exit
        await asyncio.sleep(0)
    return 1 if shim.failed else 0


# ----------------------------------------------------------------------------------------------------------
# simulated plugins (they return an exit code and write output)


def _configure_package(cmd: Command, inv: Invocation, plugin: PluginRun) -> int:
    assert plugin.out is not None and plugin.err is not None
    name = str(_first(plugin.inputs.get("name")) or "")
    action = str(_first(plugin.inputs.get("action")) or "Install")
    version = str(_first(plugin.inputs.get("version")) or "") or PACKAGE_VERSIONS.get(name, "")
    if name not in PACKAGE_VERSIONS:
        plugin.err.write_text(f"Failed to retrieve manifest: ResourceNotFoundException: No package with name "
                              f"{name} exists.\n")
        return 1
    installed = node_state.package_version(cmd.region, inv.instance_id, name)
    if action == "Uninstall":
        if installed is None:
            plugin.out.write_text(f"Package {name} is not installed\n")
            return 0
        plugin.out.write_text(f"Initiating {name} {installed} uninstall\n"
                              f"Plugin aws:runShellScript ResultStatus Success\n"
                              f"Successfully uninstalled {name} {installed}\n")
        node_state.set_package(cmd.region, inv.instance_id, name, None)
        return 0
    if installed == version:
        plugin.out.write_text(f"Package {name} {version} is already installed\n")
        return 0
    plugin.out.write_text(f"Initiating {name} {version} install\n"
                          f"Plugin aws:runShellScript ResultStatus Success\n"
                          f"install output: Running sh install.sh\n"
                          f"Successfully installed {name} {version}\n")
    node_state.set_package(cmd.region, inv.instance_id, name, version)
    return 0


def _software_inventory(cmd: Command, inv: Invocation, plugin: PluginRun) -> int:
    """The agent's inventory gatherer: puts AWS:Application, AWS:Network, ... for the node (see inventory.gather)."""
    from . import inventory  # late: inventory imports the registry and the clock, not the executor

    assert plugin.out is not None and plugin.err is not None
    try:
        count = inventory.gather(cmd.account_id, cmd.region, inv.instance_id, plugin.inputs)
    except inventory.GatherError as exc:
        plugin.err.write_text(f"{exc}\n")
        return 1
    node_state.mark_inventory(cmd.region, inv.instance_id)
    plugin.out.write_text(f"Inventory gathered: {count} type(s) uploaded.\n")
    return 0


def _update_agent(cmd: Command, inv: Invocation, plugin: PluginRun) -> int:
    assert plugin.out is not None
    node = REGISTRY.get(cmd.account_id, cmd.region, inv.instance_id)
    latest = REGISTRY.latest_agent
    target = str(_first(plugin.inputs.get("targetVersion")) or "latest")
    target = latest if target in ("", "latest") else target
    current = node.agent_version if node else latest
    if current == target:
        plugin.out.write_text(f"amazon-ssm-agent {target} has already been installed, update skipped\n")
        return 0
    plugin.out.write_text(f"Updating amazon-ssm-agent from {current} to {target}\n"
                          "Successfully downloaded manifest\nSuccessfully downloaded updater version 3.3.1142.0\n"
                          f"Updating amazon-ssm-agent from {current} to {target}\n"
                          f"Successfully initiated agent update to {target}\n")
    if node is not None:
        with REGISTRY.lock:
            node.agent_version = target
    return 0


def _cw_manage_agent(cmd: Command, inv: Invocation, plugin: PluginRun) -> int:
    """``amazon-cloudwatch-agent-ctl -a <action>`` as the ManageAgent document's step runs it."""
    assert plugin.out is not None and plugin.err is not None
    params = {k: _first(v) for k, v in cmd.effective_parameters.items()}
    action = str(params.get("action") or "configure")
    region, iid = cmd.region, inv.instance_id
    version = node_state.package_version(region, iid, node_state.CW_AGENT_PACKAGE)
    if version is None:
        if inv.platform == "Windows":
            plugin.err.write_text("& : The term 'C:\\Program Files\\Amazon\\AmazonCloudWatchAgent\\"
                                  "amazon-cloudwatch-agent-ctl.ps1' is not recognized as the name of a cmdlet, "
                                  "function, script file, or operable program.\r\n")
            return 1
        plugin.err.write_text("/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl: "
                              "No such file or directory\n")
        return 127
    status = node_state.cw_agent_status(region, iid)
    if action.startswith("configure"):
        source = str(params.get("optionalConfigurationSource") or "default")
        location = str(params.get("optionalConfigurationLocation") or "")
        result = cw_agent.configure(cmd.account_id, region, iid, source, location)
        plugin.out.write_text(result.stdout)
        if not result.ok:
            plugin.err.write_text(result.stderr)
            return 1
        config = "default" if source == "default" else f"{source}:{location}"
        node_state.set_cw_agent(region, iid, config=config, settings=result.config)
        if str(params.get("optionalRestart") or "yes") == "yes":
            if status == "running":  # a restart: the agent re-reads its files from where it stopped
                node_state.set_cw_agent(region, iid, state="stopped")
            node_state.set_cw_agent(region, iid, state="running")
            plugin.out.write_text("amazon-cloudwatch-agent has already been stopped\n"
                                  "Created symlink /etc/systemd/system/multi-user.target.wants/"
                                  "amazon-cloudwatch-agent.service.\n")
        return 0
    if action == "start":
        node_state.set_cw_agent(region, iid, state="running")
        plugin.out.write_text("****** processing amazon-cloudwatch-agent ******\n"
                              "Created symlink /etc/systemd/system/multi-user.target.wants/"
                              "amazon-cloudwatch-agent.service.\n")
        return 0
    if action == "stop":
        node_state.set_cw_agent(region, iid, state="stopped")
        plugin.out.write_text("****** processing amazon-cloudwatch-agent ******\n"
                              "Removed /etc/systemd/system/multi-user.target.wants/amazon-cloudwatch-agent.service.\n")
        return 0
    if action == "status":
        started = node_state.cw_agent_started(region, iid)
        config = node_state.cw_agent_config(region, iid)
        plugin.out.write_text(
            "{\n"
            f'  "status": "{status}",\n'
            f'  "starttime": "{started.strftime("%Y-%m-%dT%H:%M:%S+0000") if started else ""}",\n'
            f'  "configstatus": "{"configured" if config else "not configured"}",\n'
            f'  "version": "{version}"\n'
            "}\n")
        return 0
    plugin.err.write_text(f"Invalid action: {action}\n")
    return 1


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value
