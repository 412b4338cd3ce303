"""CloudWatch Synthetics for the sandbox: canaries that run on their schedule and really request their URL.

moto 5.2.5 stores canaries (CreateCanary, GetCanary, DescribeCanaries without Names or paging) and has no route
for DescribeCanariesLastRun, GetCanaryRuns, StartCanary or StopCanary. This module adds those routes to
``moto.synthetics.urls.url_paths`` (technique C: before the service's app is first built) and installs every
canary action on moto's ``SyntheticsResponse``; canaries live here, not in moto's backend. A scheduler thread
runs them on the sandbox clock (:mod:`opstui.sandbox.clock`: ``POST /_opstui/clock {"speed": 60}`` makes
``rate(1 minute)`` run every real second).

Behaviour, chosen to match AWS (botocore's model, the API reference, the console's heartbeat blueprint):

Creating (``CreateCanary``): ``ValidationException`` for a name outside ``^[0-9a-z_\\-]{1,255}$`` or taken, a
missing field of the six required, code that is neither ``ZipFile`` nor ``S3Bucket``+``S3Key`` (the S3 object
is read from the sandbox's S3), a handler outside the model's pattern, an unknown runtime family, an execution
role that is not an IAM role ARN, a schedule other than ``rate(N minute|minutes|hour|hours)`` with N = 0 (run
once when started) or 1 minute to 1 hour, or a 6-field ``cron(...)``; ``TimeoutInSeconds`` outside 3-840 or
longer than the rate; ``MemoryInMB`` outside 960-3008 or not a multiple of 64; retention outside 1-1024 days.
A URL inside the script is not checked (AWS does not read scripts): a bad one makes the runs fail. The canary
is ``CREATING`` (``CREATE_IN_PROGRESS``) for one sandbox second, then ``READY``; AWS creates it stopped.

States: StartCanary from READY/STOPPED/ERROR -> ``STARTING`` -> (1 s) ``RUNNING``, first run at once, then on
schedule (runs that would overlap are skipped; a clock jump does not replay missed runs); ``rate(0 minute)``
runs once and goes to ``STOPPED``; ``Schedule.DurationInSeconds`` > 0 stops it that long after the start.
StopCanary from RUNNING/STARTING -> ``STOPPING`` -> (1 s) ``STOPPED``. Otherwise ``ConflictException``.
DeleteCanary refuses a canary that is not READY/STOPPED/ERROR (``ConflictException``). Unknown name:
``ResourceNotFoundException``. UpdateCanary changes code, schedule, run config, role, runtime, retention,
artifact location, with the same checks.

Where a canary's URL comes from: the handler's script -- the zip entry named by ``Code.Handler``
(``pageLoadBlueprint.handler`` -> ``nodejs/node_modules/pageLoadBlueprint.js``, ``python/...py``, or any entry
of that file name), or the whole ``ZipFile`` if it is not a zip (plain script text). In the script, quoted
URLs (the blueprint's ``const urls = ['https://...']``, ``const URL = "..."``, ``url = "..."``), and
``process.env.NAME`` / ``os.environ["NAME"]`` / ``os.getenv("NAME")`` resolved from
``RunConfig.EnvironmentVariables``; every URL found is loaded in order, as the blueprint's loop does. The
navigation timeout is the script's ``timeout: <ms>`` (Python: ``set_page_load_timeout(<s>)``), else 30000 ms,
capped by ``TimeoutInSeconds``. A script without any URL passes (it navigates nowhere); a handler file missing
from the zip fails every run (``EXECUTION_FAILURE``).

A run GETs each URL (User-Agent like Synthetics' Chrome): ``PASSED`` on 2xx; ``FAILED``
(``CANARY_FAILURE``) with the blueprint's or the browser's words: ``Error: Failed to load url: <url> 503
Service Unavailable``, ``TimeoutError: Navigation timeout of 30000 ms exceeded`` (the blueprint's timeout),
``Error: net::ERR_CONNECTION_REFUSED at <url>``, ``Error: net::ERR_NAME_NOT_RESOLVED at <url>`` (a host that is
not loopback, unless ``POST /_opstui/synthetics {"external": true}`` lets canaries leave the machine),
``Error: Protocol error (Page.navigate): Cannot navigate to invalid URL``. Durations are sandbox milliseconds
and, as the heartbeat blueprint's runs report them, cover the whole run: the runtime's own 1.0-1.5 s (Lambda
start, launching headless Chrome, the report and the upload) plus each navigation (the response time, or the
navigation timeout when it ran out, plus 60-220 ms of rendering up to DOMContentLoaded).
While a run is in flight it is listed as ``RUNNING``.

What a run leaves behind (as the Synthetics runtime does,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Canaries_Library.html,
"Synthetics reporting"): a log stream ``yyyy/mm/dd/[$LATEST]<hex>`` in the canary's Lambda log group
``/aws/lambda/cwsyn-<name>-<id>`` with Lambda's ``START``/``END``/``REPORT`` lines around the runtime's
(``Start Canary``, ``Executing step: <host>``, ``Navigating to URL: ...``, ``Canary successful`` or ``ERROR Canary
failed. Error: <reason> Stack: ...``, publishing metrics, uploading artifacts); and in the run's folder of the
ArtifactS3Location (``<location>/yyyy/mm/dd/hh/mm-ss-SSS/``) the log (``<timestamp>-log.txt``),
``SyntheticsReport-PASSED|FAILED.json``, a screenshot per step (``01-<step>-succeeded|failed.png``, a 1x1 PNG
placeholder) and the HAR (``<timestamp>-har.html``, entries with the run's timings). The seeded canaries' bucket
``cw-syn-results-<account>-<region>`` exists (the console creates it); a location whose bucket does not exist
gets no artifacts (the runs still pass or fail on their URL).

Groups (CreateGroup, GetGroup, DeleteGroup, ListGroups, AssociateResource, DisassociateResource,
ListGroupResources, ListAssociatedGroups): global to the account (listed and read from every Region, by id, name
or ARN), deleted only from their home Region (the ARN's), names unique whatever their case (ConflictException),
at most 20 groups, 10 canaries a group, 10 groups a canary (ServiceQuotaExceededException); a canary is
associated from its own Region; deleting a canary removes it from its groups. Each run publishes ``CloudWatchSynthetics``
``SuccessPercent`` (100/0, Percent), ``Duration`` (Milliseconds) and ``Failed`` (1/0, Count), dimension
``CanaryName``, through :func:`opstui.sandbox.metrics.put_datapoint` at the run's start time.

Reading: GetCanaryRuns newest first, ``MaxResults`` 1-100 (default 100); DescribeCanaries by name,
``MaxResults`` 1-20 (default 20), ``Names`` up to 5; DescribeCanariesLastRun the newest finished run per
canary (the running one if none finished; canaries never run are left out), ``MaxResults`` 1-100, ``Names`` up
to 5. Paging by opaque ``NextToken`` (a bad token: ``ValidationException``). At most 20,000 runs are kept per
canary.

Seeded (default scenario, primary region): ``storefront-heartbeat`` (rate(1 minute), the local storefront of
:mod:`opstui.sandbox.webapp`, the blueprint's 30000 ms navigation timeout: a slow spell makes runs slow, an
outage fails them) and
``legacy-api-heartbeat`` (rate(5 minutes), a loopback port that is bound but never listens: connection
refused since three hours ago, passing before), both RUNNING with 24 hours of backfilled runs (and metrics)
that follow the storefront's health schedule.

Control: ``GET /_opstui/synthetics`` (canaries, run counts, next due); ``POST /_opstui/synthetics`` with
``{"run": name, "region": r}`` runs a canary now (synchronously, returns the run) and/or ``{"external": bool}``.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import datetime as dt
import io
import json
import math
import random
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from moto.core.exceptions import JsonRESTError
from moto.synthetics import urls as synthetics_urls
from moto.synthetics.responses import SyntheticsResponse

from opstui.schedule import Rate, Schedule, ScheduleError, canary_schedule

from . import clock, webapp
from .extension import Extension, attach
from .scenarios import PRIMARY, Scenario

if TYPE_CHECKING:
    from .server import Sandbox

NAMESPACE = "CloudWatchSynthetics"
MAX_RUNS = 20_000
TRANSITION_SECONDS = 1.0
DEFAULT_NAV_TIMEOUT_MS = 30_000
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 "
              "Safari/537.36 CloudWatchSynthetics/opstui-sandbox")
_NAME = re.compile(r"^[0-9a-z_\-]{1,255}$")
_HANDLER = re.compile(r"^(([0-9a-zA-Z_-]+(\/|\.))*[0-9A-Za-z_\\-]+(\.|::)[A-Za-z_][A-Za-z0-9_]*)?$")
_ROLE = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_RUNTIME = re.compile(r"^syn-(nodejs-puppeteer|nodejs-playwright|python-selenium)-\d+\.\d+$|^syn-1\.0$")
_QUOTED_URL = re.compile(r"""(['"`])(https?://[^'"`\s]*)\1""")
_URL_VAR = re.compile(r"""\b(?:urls?|URLS?|Urls?|endpoint|ENDPOINT)\s*=\s*\[?\s*(['"])(.*?)\1""")
_ENV_REF = re.compile(r"""process\.env\.([A-Za-z_][A-Za-z0-9_]*)|process\.env\[\s*['"]([^'"]+)['"]\s*\]"""
                      r"""|os\.environ\[\s*['"]([^'"]+)['"]\s*\]|os\.(?:environ\.get|getenv)\(\s*['"]([^'"]+)['"]""")
_JS_TIMEOUT = re.compile(r"\btimeout\s*:\s*(\d+)")
_PY_TIMEOUT = re.compile(r"set_page_load_timeout\(\s*(\d+)\s*\)")
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")
#: what a run costs besides the page loads: the Lambda start, launching headless Chrome, the report and the
#: artifact upload (ms, drawn per run), and what the browser adds to each navigation after the response
#: (parsing, DOMContentLoaded; ms)
RUNTIME_OVERHEAD_MS = (1000.0, 1500.0)
RENDER_OVERHEAD_MS = (60.0, 220.0)
#: a 1x1 PNG: the screenshot placeholder the sandbox stores where the runtime stores its screenshot
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
MAX_GROUPS = 20
MAX_CANARIES_PER_GROUP = 10
MAX_GROUPS_PER_CANARY = 10


class SyntheticsError(JsonRESTError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = status


def _validation(message: str) -> SyntheticsError:
    return SyntheticsError(400, "ValidationException", message)


def _not_found(name: str) -> SyntheticsError:
    return SyntheticsError(404, "ResourceNotFoundException", f"Canary {name} does not exist.")


def _conflict(message: str) -> SyntheticsError:
    return SyntheticsError(409, "ConflictException", message)


# --------------------------------------------------------------------------------------------------------
# schedules


def parse_schedule(expression: str) -> Schedule:
    """A canary schedule (:func:`opstui.schedule.canary_schedule`: rate from 1 minute to 1 hour, 0 = once;
    6-field cron), or ``ValidationException``."""
    try:
        return canary_schedule(expression)
    except ScheduleError as exc:
        if exc.limit:
            raise _validation(f"Invalid schedule expression {expression}: {exc.reason}") from exc
        raise _validation(f"Invalid schedule expression {expression}. Use rate(number unit) or "
                          "cron(expression).") from exc


def period_seconds(schedule: Schedule) -> int | None:
    """Seconds between runs (cron: the shortest gap between two fire times; once: None)."""
    every = schedule.interval
    return int(every.total_seconds()) if every is not None else None


def runs_once(schedule: Schedule) -> bool:
    """``rate(0 minute)`` / ``rate(0 hour)``: one run when started."""
    return isinstance(schedule, Rate) and schedule.value == 0


# --------------------------------------------------------------------------------------------------------
# the script: where the URLs are


@dataclass(frozen=True)
class Target:
    urls: tuple[str, ...]
    nav_timeout_ms: int = DEFAULT_NAV_TIMEOUT_MS
    missing_handler: str | None = None  # the module AWS would fail to find


def _handler_file(handler: str) -> str:
    module = re.split(r"\.|::", handler)[0] if handler else ""
    return module.rsplit("/", 1)[-1]


def _script_from_code(code: dict[str, Any], account: str) -> tuple[str | None, str | None]:
    """``(script text, missing handler module)`` of a CreateCanary/UpdateCanary ``Code``."""
    handler = str(code.get("Handler") or "")
    blob: bytes | None = None
    if code.get("ZipFile"):
        try:
            blob = base64.b64decode(code["ZipFile"], validate=False)
        except ValueError as exc:
            raise _validation("Code.ZipFile is not valid base64.") from exc
    elif code.get("S3Bucket") and code.get("S3Key"):
        blob = _s3_object(account, str(code["S3Bucket"]), str(code["S3Key"]))
    if blob is None:
        return None, None
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        return blob.decode("utf-8", "replace"), None
    module = _handler_file(handler)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        wanted = [n for n in names if n.rsplit("/", 1)[-1].rsplit(".", 1)[0] == module] if module else names
        if not wanted:
            return "", module
        return "\n".join(zf.read(n).decode("utf-8", "replace") for n in wanted), None


def _s3_object(account: str, bucket: str, key: str) -> bytes:
    from moto.s3.models import s3_backends

    try:
        return bytes(s3_backends[account]["aws"].get_object(bucket, key).value)
    except Exception as exc:
        raise _validation(f"Unable to fetch the canary code from s3://{bucket}/{key}: the object does not "
                          "exist or is not accessible.") from exc


def find_target(script: str | None, env: dict[str, str], missing_handler: str | None = None) -> Target:
    """The URLs a canary script loads (in order) and its navigation timeout; see the module docstring."""
    if missing_handler is not None:
        return Target((), missing_handler=missing_handler)
    text = script or ""
    found: list[str] = []
    for m in _URL_VAR.finditer(text):
        found.append(m.group(2))
    for m in _QUOTED_URL.finditer(text):
        found.append(m.group(2))
    for m in _ENV_REF.finditer(text):
        name = next(g for g in m.groups() if g)
        value = env.get(name)
        if value:
            found.extend(v.strip() for v in value.split(",") if v.strip())
    urls = tuple(dict.fromkeys(u for u in found if "${" not in u))
    timeout = DEFAULT_NAV_TIMEOUT_MS
    m = _JS_TIMEOUT.search(text)
    if m:
        timeout = int(m.group(1))
    else:
        m = _PY_TIMEOUT.search(text)
        if m:
            timeout = int(m.group(1)) * 1000
    return Target(urls, max(1, timeout))


# --------------------------------------------------------------------------------------------------------
# model


@dataclass(slots=True)
class Run:
    id: str
    started: dt.datetime
    completed: dt.datetime | None = None
    state: str = "RUNNING"
    reason: str | None = None
    reason_code: str | None = None
    duration_ms: float = 0.0
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (url, PASSED|FAILED, ms) per navigation


@dataclass
class Canary:
    account: str
    region: str
    name: str
    id: str
    handler: str
    runtime_version: str
    execution_role_arn: str
    artifact_s3_location: str
    schedule: Schedule
    duration_in_seconds: int
    run_config: dict[str, Any]
    env: dict[str, str]
    success_retention: int
    failure_retention: int
    target: Target
    script: str | None = None  # kept so an UpdateCanary of the environment re-reads the URLs
    missing_handler: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # VpcConfig, ArtifactConfig, ... echoed back
    state: str = "CREATING"
    state_reason: str | None = "Canary creation is in progress."
    state_reason_code: str | None = "CREATE_IN_PROGRESS"
    pending: tuple[dt.datetime, str] | None = None  # (when, state to enter)
    created: dt.datetime = field(default_factory=clock.now)
    modified: dt.datetime = field(default_factory=clock.now)
    last_started: dt.datetime | None = None
    last_stopped: dt.datetime | None = None
    next_due: dt.datetime | None = None
    in_flight: bool = False
    runs: list[Run] = field(default_factory=list)  # oldest first

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.account, self.region, self.name)

    @property
    def function_name(self) -> str:
        return f"cwsyn-{self.name[:21]}-{self.id}"

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state}
        if self.state_reason:
            status["StateReason"] = self.state_reason
        if self.state_reason_code:
            status["StateReasonCode"] = self.state_reason_code
        timeline: dict[str, Any] = {"Created": _ts(self.created), "LastModified": _ts(self.modified)}
        if self.last_started:
            timeline["LastStarted"] = _ts(self.last_started)
        if self.last_stopped:
            timeline["LastStopped"] = _ts(self.last_stopped)
        out: dict[str, Any] = {
            "Id": self.id, "Name": self.name,
            "Code": {"SourceLocationArn": f"arn:aws:lambda:{self.region}:{self.account}:layer:{self.function_name}:1",
                     "Handler": self.handler},
            "ExecutionRoleArn": self.execution_role_arn,
            "Schedule": {"Expression": self.schedule.expression, "DurationInSeconds": self.duration_in_seconds},
            "RunConfig": {k: v for k, v in self.run_config.items() if k != "EnvironmentVariables"},
            "SuccessRetentionPeriodInDays": self.success_retention,
            "FailureRetentionPeriodInDays": self.failure_retention,
            "Status": status, "Timeline": timeline,
            "ArtifactS3Location": self.artifact_s3_location,
            "EngineArn": f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}:1",
            "RuntimeVersion": self.runtime_version,
            "Tags": dict(self.tags),
        }
        out.update(self.extra)
        if not out["Tags"]:
            del out["Tags"]
        return out

    def describe_run(self, run: Run) -> dict[str, Any]:
        status: dict[str, Any] = {"State": run.state}
        if run.reason:
            status["StateReason"] = run.reason
        if run.reason_code:
            status["StateReasonCode"] = run.reason_code
        if run.state != "RUNNING":
            status["TestResult"] = run.state
        timeline: dict[str, Any] = {"Started": _ts(run.started)}
        if run.completed is not None:
            timeline["Completed"] = _ts(run.completed)
        base = self.artifact_s3_location.removeprefix("s3://").rstrip("/")
        when = run.started
        location = f"{base}/{when:%Y/%m/%d/%H}/{when:%M-%S}-{when.microsecond // 1000:03d}"
        return {"Id": run.id, "Name": self.name, "Status": status, "Timeline": timeline,
                "ArtifactS3Location": location}


def _ts(value: dt.datetime) -> float:
    return round(value.timestamp(), 3)


_lock = threading.RLock()
_canaries: dict[tuple[str, str, str], Canary] = {}
_stop = threading.Event()
_wake = threading.Event()
_thread: threading.Thread | None = None
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_settings: dict[str, Any] = {"external": False}
_refused: socket.socket | None = None


# --------------------------------------------------------------------------------------------------------
# state transitions and the scheduler


def _advance(c: Canary, now: dt.datetime) -> None:
    """Apply what sandbox time has made true: pending transitions, the end of DurationInSeconds."""
    if c.pending is not None and c.pending[0] <= now:
        when, state = c.pending
        c.pending = None
        c.state, c.state_reason, c.state_reason_code = state, None, None
        if state == "RUNNING":
            c.next_due = when
        elif state == "STOPPED":
            c.next_due = None
    if (c.state == "RUNNING" and c.duration_in_seconds and c.last_started is not None
            and now >= c.last_started + dt.timedelta(seconds=c.duration_in_seconds)):
        _stopped(c, c.last_started + dt.timedelta(seconds=c.duration_in_seconds),
                 "The canary has run for the duration set in its schedule.")


def _stopped(c: Canary, when: dt.datetime, reason: str | None = None) -> None:
    c.state, c.state_reason, c.state_reason_code = "STOPPED", reason, None
    c.last_stopped, c.next_due, c.pending = when, None, None


def _loop() -> None:
    while not _stop.is_set():
        now = clock.now()
        wake = 1.0
        due: list[Canary] = []
        with _lock:
            for c in _canaries.values():
                _advance(c, now)
                if c.state == "RUNNING" and c.next_due is not None and c.next_due <= now:
                    if not c.in_flight:
                        due.append(c)
                        c.in_flight = True
                    nxt = c.schedule.next_after(c.next_due)
                    if nxt is not None and nxt <= now:  # a clock jump: do not replay missed runs
                        nxt = c.schedule.next_after(now)
                    c.next_due = nxt
                if c.pending is not None:
                    wake = min(wake, clock.until(c.pending[0]))
                if c.state == "RUNNING" and c.next_due is not None:
                    wake = min(wake, clock.until(c.next_due))
        for c in due:
            pool = _pool
            if pool is None:
                break
            try:
                pool.submit(_execute, c)
            except RuntimeError:  # shutting down
                break
        if _stop.is_set():
            return
        # woken early by create/start/stop; a clock speed change is seen within 0.2 s
        _wake.wait(max(0.005, min(wake, 0.2)))
        _wake.clear()


def _execute(c: Canary) -> Run:
    """One run of ``c`` (``in_flight`` already set by the caller): request its URLs, record, publish."""
    try:
        started = clock.now()
        run = Run(id=str(uuid.uuid4()), started=started)
        with _lock:
            c.runs.append(run)
            if len(c.runs) > MAX_RUNS:
                del c.runs[: len(c.runs) - MAX_RUNS]
            target, timeout_s = c.target, int(c.run_config.get("TimeoutInSeconds") or 60)
        state, reason, code, steps = _visit(target, timeout_s)
        rng = random.Random(run.id)
        duration = rng.uniform(*RUNTIME_OVERHEAD_MS) + sum(ms for _url, _state, ms in steps)
        with _lock:
            run.state, run.reason, run.reason_code = state, reason, code
            run.steps = steps
            run.duration_ms = round(duration, 1)
            run.completed = started + dt.timedelta(milliseconds=duration)
            if runs_once(c.schedule) and c.state == "RUNNING":
                _stopped(c, run.completed)
        _publish(c, run)
        _record(c, run)
        return run
    finally:
        c.in_flight = False


Steps = list[tuple[str, str, float]]


def _visit(target: Target, timeout_s: int) -> tuple[str, str | None, str | None, Steps]:
    """``(state, reason, reason code, steps)`` of loading the target's URLs; each step is ``(url, PASSED|FAILED,
    sandbox ms)``: the response time (the navigation timeout when it ran out) plus the browser's rendering."""
    if target.missing_handler is not None:
        return ("FAILED", f"Error: Cannot find module '{target.missing_handler}'", "EXECUTION_FAILURE", [])
    nav_ms = min(target.nav_timeout_ms, timeout_s * 1000)
    steps: Steps = []
    speed = clock.speed()
    rng = random.Random()

    def failed(url: str, reason: str, ms: float) -> tuple[str, str | None, str | None, Steps]:
        steps.append((url, "FAILED", ms))
        return "FAILED", reason, "CANARY_FAILURE", steps

    for url in target.urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or any(ch.isspace() for ch in url):
            return failed(url, "Error: Protocol error (Page.navigate): Cannot navigate to invalid URL", 1.0)
        if not _settings["external"] and not parsed.hostname.startswith(_LOOPBACK):
            return failed(url, f"Error: net::ERR_NAME_NOT_RESOLVED at {url}", rng.uniform(2, 20))
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        began = time.monotonic()

        def took() -> float:
            return (time.monotonic() - began) * speed * 1000  # noqa: B023 - read at once, in this iteration

        timeout = f"TimeoutError: Navigation timeout of {nav_ms} ms exceeded"
        try:
            with urllib.request.urlopen(request, timeout=max(0.005, clock.real_seconds(nav_ms / 1000))) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            return failed(url, f"Error: Failed to load url: {url} {exc.code} {exc.reason}",
                          took() + rng.uniform(*RENDER_OVERHEAD_MS))
        except TimeoutError:
            return failed(url, timeout, float(nav_ms))
        except urllib.error.URLError as exc:
            inner = exc.reason
            if isinstance(inner, TimeoutError | socket.timeout):
                return failed(url, timeout, float(nav_ms))
            if isinstance(inner, ConnectionRefusedError):
                word = "ERR_CONNECTION_REFUSED"
            elif isinstance(inner, socket.gaierror):
                word = "ERR_NAME_NOT_RESOLVED"
            else:
                word = "ERR_CONNECTION_FAILED"
            return failed(url, f"Error: net::{word} at {url}", took())
        except (ConnectionError, OSError):
            return failed(url, f"Error: net::ERR_CONNECTION_RESET at {url}", took())
        steps.append((url, "PASSED", took() + rng.uniform(*RENDER_OVERHEAD_MS)))
    return ("PASSED", None, None, steps)


# --------------------------------------------------------------------------------------------------------
# what a run leaves behind: its Lambda log stream and its artifacts in S3


def _iso_ms(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def run_log(c: Canary, run: Run, request_id: str) -> list[tuple[dt.datetime, str]]:
    """The lines the Synthetics Node.js runtime and Lambda write for one run, timed within the run."""
    start, end = run.started, run.completed or run.started
    total = max(1.0, (end - start).total_seconds() * 1000)

    def at(ms: float) -> dt.datetime:
        return start + dt.timedelta(milliseconds=min(ms, total))

    def info(ms: float, text: str, level: str = "INFO") -> tuple[dt.datetime, str]:
        when = at(ms)
        return when, f"{_iso_ms(when)}\t{request_id}\t{level}\t{text}"

    lines = [(start, f"START RequestId: {request_id} Version: $LATEST"), info(5, "Start Canary")]
    setup = total - sum(ms for _u, _s, ms in run.steps)
    t = max(10.0, setup * 0.8)
    for n, (url, state, ms) in enumerate(run.steps, 1):
        step = urlparse(url).hostname or url
        lines.append(info(t, f"Executing step: {step}"))
        lines.append(info(t + 1, f"Navigating to URL: {url}"))
        t += ms
        if state == "PASSED":
            lines.append(info(t, f"Step {step} succeeded. Screenshot taken: {n:02d}-{step}-succeeded.png"))
        else:
            lines.append(info(t, f"Step {step} failed. Screenshot taken: {n:02d}-{step}-failed.png", "ERROR"))
    if run.state == "PASSED":
        lines.append(info(t + 2, "Canary successful"))
    else:
        reason = run.reason or "Error"
        lines.append(info(t + 2, f"Canary failed. Error: {reason}\nStack: {reason}\n    at loadBlueprint "
                                 f"(/opt/nodejs/node_modules/{_handler_file(c.handler)}.js:23:19)", "ERROR"))
    lines.append(info(total - 40, f"Publishing result and duration CloudWatch metrics with timestamp: "
                                  f"{_iso_ms(end)}"))
    lines.append(info(total - 30, f"Uploading artifacts to S3 for canary: {c.name}"))
    billed = math.ceil(total)
    lines.append((end, f"END RequestId: {request_id}"))
    lines.append((end, f"REPORT RequestId: {request_id}\tDuration: {total:.2f} ms\tBilled Duration: {billed} ms"
                       f"\tMemory Size: {c.run_config.get('MemoryInMB') or 1000} MB\tMax Memory Used: "
                       f"{300 + int(total) % 97} MB"))
    return lines


def log_group_name(c: Canary) -> str:
    """The canary's Lambda function's log group (``/aws/lambda/cwsyn-<name>-<id>``)."""
    return f"/aws/lambda/{c.function_name}"


def _record(c: Canary, run: Run) -> None:
    """Write the run's log stream and artifacts; a logging or S3 problem never loses the run itself."""
    request_id = str(uuid.UUID(int=random.Random(f"{run.id}/request").getrandbits(128), version=4))
    lines = run_log(c, run, request_id)
    with contextlib.suppress(Exception):
        from . import logs_fast

        stream = f"{run.started:%Y/%m/%d}/[$LATEST]{uuid.UUID(run.id).hex}"
        logs_fast.put_events(c.account, c.region, log_group_name(c), stream,
                             [(int(when.timestamp() * 1000), text) for when, text in lines])
    with contextlib.suppress(Exception):
        _artifacts(c, run, "\n".join(text for _when, text in lines) + "\n")


def _artifacts(c: Canary, run: Run, log_text: str) -> None:
    """The objects the runtime uploads to the run's folder of ArtifactS3Location: the log, the report
    ``SyntheticsReport-PASSED|FAILED.json``, a screenshot per step and the HAR file (placeholders with the
    run's real timings). Skipped when the bucket does not exist."""
    from moto.s3.models import s3_backends

    location = c.describe_run(run)["ArtifactS3Location"]
    bucket, _, prefix = location.partition("/")
    s3 = s3_backends[c.account]["aws"]
    if bucket not in s3.buckets:
        return
    stamp = run.started.astimezone(dt.UTC).strftime("%Y-%m-%dT%H-%M-%S-") + f"{run.started.microsecond // 1000:03d}Z"
    steps = [{"stepName": urlparse(url).hostname or url, "status": state, "url": url, "duration": round(ms, 1),
              "screenshots": [{"fileName": f"{n:02d}-{urlparse(url).hostname or url}-"
                                           f"{'succeeded' if state == 'PASSED' else 'failed'}.png"}]}
             for n, (url, state, ms) in enumerate(run.steps, 1)]
    report = {"canaryName": c.name, "canaryRunId": run.id, "status": run.state, "startTime": _iso_ms(run.started),
              "endTime": _iso_ms(run.completed or run.started), "duration": run.duration_ms, "steps": steps}
    if run.reason:
        report["failureReason"] = run.reason
    har = {"log": {"version": "1.2", "creator": {"name": "CloudWatch Synthetics (opstui sandbox)"}, "entries": [
        {"startedDateTime": _iso_ms(run.started), "time": round(ms, 1), "request": {"method": "GET", "url": url},
         "response": {"status": 200 if state == "PASSED" else 0}} for url, state, ms in run.steps]}}
    objects: list[tuple[str, bytes]] = [
        (f"{stamp}-log.txt", log_text.encode()),
        (f"SyntheticsReport-{run.state}.json", json.dumps(report).encode()),
        (f"{stamp}-har.html", ("<html><body><script>var harOutput = " + json.dumps(har)
                               + ";</script></body></html>").encode()),
        *((step["screenshots"][0]["fileName"], _PNG) for step in steps),
    ]
    for name, body in objects:
        s3.put_object(bucket, f"{prefix}/{name}" if prefix else name, body)


def ensure_artifact_bucket(account: str, region: str, location: str) -> None:
    """Create the bucket an ArtifactS3Location names, as the console does for ``cw-syn-results-<account>-
    <region>`` (seeding only: CreateCanary through the API expects the bucket to exist)."""
    from moto.s3.models import s3_backends

    bucket = location.removeprefix("s3://").split("/", 1)[0]
    s3 = s3_backends[account]["aws"]
    if bucket not in s3.buckets:
        s3.create_bucket(bucket, region)


def _publish(c: Canary, run: Run) -> None:
    """SuccessPercent / Duration / Failed for one finished run (the metric store is helper M1's)."""
    try:
        from . import metrics
    except ImportError:  # the metric store is not there yet: runs are still recorded
        return
    dims = {"CanaryName": c.name}
    ok = run.state == "PASSED"
    put = metrics.put_datapoint
    try:
        put(c.account, c.region, NAMESPACE, "SuccessPercent", dims, 100.0 if ok else 0.0, run.started, "Percent")
        put(c.account, c.region, NAMESPACE, "Duration", dims, run.duration_ms, run.started, "Milliseconds")
        put(c.account, c.region, NAMESPACE, "Failed", dims, 0.0 if ok else 1.0, run.started, "Count")
    except Exception:  # a metric store problem must not lose the run record
        return


def run_now(account: str, region: str, name: str) -> dict[str, Any]:
    """Run a canary at once, outside its schedule, and return the run (tests, the control endpoint)."""
    with _lock:
        c = _canaries.get((account, region, name))
        if c is None:
            raise KeyError(f"no canary {name!r} in {region}")
        c.in_flight = True
    run = _execute(c)
    with _lock:
        return c.describe_run(run)


# --------------------------------------------------------------------------------------------------------
# request handling


def _params(self: Any) -> dict[str, Any]:
    try:
        body = json.loads(self.body or "{}")
    except ValueError as exc:
        raise _validation("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise _validation("The request body must be a JSON object.")
    return body


def _uri_name(self: Any) -> str:
    name = (getattr(self, "uri_match", None) or {}).get("name")
    if not name:
        parts = self.path.split("?", 1)[0].split("/")
        name = parts[2] if len(parts) > 2 else ""
    return str(name)


def _get(self: Any, name: str) -> Canary:
    c = _canaries.get((self.current_account, self.region, name))
    if c is None:
        raise _not_found(name)
    _advance(c, clock.now())
    return c


def _int(params: dict[str, Any], key: str, low: int, high: int, default: int | None) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _validation(f"1 validation error detected: Value '{value}' at '{key[0].lower() + key[1:]}' failed "
                          f"to satisfy constraint: Member must have value between {low} and {high}")
    return value


def _check_fields(params: dict[str, Any], account: str, current: Canary | None) -> dict[str, Any]:
    """Validated fields of a CreateCanary (``current`` None) or UpdateCanary request."""
    out: dict[str, Any] = {}
    if current is None:
        for key in ("Name", "Code", "ArtifactS3Location", "ExecutionRoleArn", "Schedule", "RuntimeVersion"):
            if params.get(key) in (None, "", {}):
                raise _validation(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' "
                                  "failed to satisfy constraint: Member must not be null")
    if "Code" in params:
        code = params["Code"] or {}
        handler = str(code.get("Handler") or "")
        if not handler or not _HANDLER.match(handler):
            raise _validation(f"Invalid handler {handler!r}: use fileName.handler (for example "
                              "pageLoadBlueprint.handler).")
        has_zip = bool(code.get("ZipFile"))
        has_s3 = bool(code.get("S3Bucket") and code.get("S3Key"))
        if has_zip == has_s3:
            raise _validation("Specify either Code.ZipFile or Code.S3Bucket and Code.S3Key.")
        out["handler"] = handler
        out["script"], out["missing"] = _script_from_code(code, account)
    if "ExecutionRoleArn" in params:
        role = str(params["ExecutionRoleArn"])
        if not _ROLE.match(role):
            raise _validation(f"1 validation error detected: Value '{role}' at 'executionRoleArn' failed to satisfy "
                              "constraint: Member must satisfy regular expression pattern: "
                              "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
        out["role"] = role
    if "RuntimeVersion" in params:
        runtime = str(params["RuntimeVersion"])
        if not _RUNTIME.match(runtime):
            raise _validation(f"Invalid runtime version {runtime}. See DescribeRuntimeVersions for the "
                              "available versions.")
        out["runtime"] = runtime
    if "ArtifactS3Location" in params:
        location = str(params["ArtifactS3Location"]).strip()
        if not location or len(location) > 1024:
            raise _validation("ArtifactS3Location must be an S3 location such as s3://bucket/prefix.")
        out["artifacts"] = location
    schedule = current.schedule if current else None
    duration = current.duration_in_seconds if current else 0
    if "Schedule" in params:
        sched = params["Schedule"] or {}
        expression = sched.get("Expression")
        if not isinstance(expression, str) or not expression.strip():
            raise _validation("Schedule.Expression is required.")
        schedule = parse_schedule(expression)
        duration = _int(sched, "DurationInSeconds", 0, 31622400, 0) or 0
        out["schedule"], out["duration"] = schedule, duration
    if "RunConfig" in params or current is None:
        rc = params.get("RunConfig") or {}
        period = period_seconds(schedule) if schedule else None
        default_timeout = min(period or 840, 840)
        timeout = _int(rc, "TimeoutInSeconds", 3, 840, default_timeout)
        if period is not None and timeout is not None and timeout > period:
            raise _validation(f"TimeoutInSeconds ({timeout}) can't be longer than the frequency of the canary's "
                              f"runs ({period} seconds).")
        memory = _int(rc, "MemoryInMB", 960, 3008, 1000)
        if memory is not None and memory % 64 and memory != 1000:
            raise _validation("MemoryInMB must be a multiple of 64.")
        env = rc.get("EnvironmentVariables") or (current.env if current else {})
        if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise _validation("EnvironmentVariables must map names to strings.")
        if any(k.startswith("AWS_") or not re.match(r"^[a-zA-Z]([a-zA-Z0-9_])+$", k) for k in env):
            raise _validation("Environment variable names must start with a letter, hold letters, digits or _, "
                              "and not start with AWS_.")
        out["run_config"] = {"TimeoutInSeconds": timeout, "MemoryInMB": memory,
                             "ActiveTracing": bool(rc.get("ActiveTracing", False))}
        out["env"] = dict(env)
    for key, attr in (("SuccessRetentionPeriodInDays", "success"), ("FailureRetentionPeriodInDays", "failure")):
        if key in params or current is None:
            out[attr] = _int(params, key, 1, 1024, 31)
    return out


def _extra(params: dict[str, Any]) -> dict[str, Any]:
    keep = ("VpcConfig", "ArtifactConfig", "ProvisionedResourceCleanup", "BrowserConfigs")
    return {k: params[k] for k in keep if params.get(k) is not None}


def create_canary(self: Any) -> str:
    params = _params(self)
    name = str(params.get("Name") or "")
    if not _NAME.match(name):
        raise _validation(f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: ^[0-9a-z_\\-]+$ and have length "
                          "between 1 and 255")
    tags = params.get("Tags") or {}
    if not isinstance(tags, dict) or len(tags) > 50:
        raise _validation("Tags: at most 50 tags.")
    f = _check_fields(params, self.current_account, None)
    now = clock.now()
    with _lock:
        if (self.current_account, self.region, name) in _canaries:
            raise _validation(f"A canary named {name} already exists in this Region.")
        c = Canary(account=self.current_account, region=self.region, name=name, id=str(uuid.uuid4()),
                   handler=f["handler"], runtime_version=f["runtime"], execution_role_arn=f["role"],
                   artifact_s3_location=f["artifacts"], schedule=f["schedule"], duration_in_seconds=f["duration"],
                   run_config=f["run_config"], env=f["env"], success_retention=f["success"],
                   failure_retention=f["failure"], target=find_target(f["script"], f["env"], f["missing"]),
                   script=f["script"], missing_handler=f["missing"],
                   tags={str(k): str(v) for k, v in tags.items()}, extra=_extra(params), created=now, modified=now)
        c.pending = (now + dt.timedelta(seconds=TRANSITION_SECONDS), "READY")
        _canaries[c.key] = c
        _wake.set()
        return json.dumps({"Canary": c.describe()})


def update_canary(self: Any) -> str:
    params = _params(self)
    name = _uri_name(self)
    with _lock:
        c = _get(self, name)
        if c.state in ("CREATING", "STARTING", "STOPPING", "UPDATING", "DELETING"):
            raise _conflict(f"Canary {name} is in state {c.state} and can't be updated now.")
        f = _check_fields(params, self.current_account, c)
        if "handler" in f:
            c.handler = f["handler"]
        c.runtime_version = f.get("runtime", c.runtime_version)
        c.execution_role_arn = f.get("role", c.execution_role_arn)
        c.artifact_s3_location = f.get("artifacts", c.artifact_s3_location)
        if "schedule" in f:
            c.schedule, c.duration_in_seconds = f["schedule"], f["duration"]
            if c.state == "RUNNING":
                c.next_due = c.schedule.next_after(clock.now())
        if "run_config" in f:
            c.run_config, c.env = f["run_config"], f["env"]
        c.success_retention = f.get("success") or c.success_retention
        c.failure_retention = f.get("failure") or c.failure_retention
        if "script" in f:
            c.script, c.missing_handler = f["script"], f["missing"]
        c.target = find_target(c.script, c.env, c.missing_handler)
        c.extra.update(_extra(params))
        c.modified = clock.now()
        _wake.set()
        return "{}"


def get_canary(self: Any) -> str:
    with _lock:
        return json.dumps({"Canary": _get(self, _uri_name(self)).describe()})


def _page(params: dict[str, Any], items: list[Any], max_default: int, max_high: int) -> tuple[list[Any], str | None]:
    size = _int(params, "MaxResults", 1, max_high, max_default) or max_default
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(str(token).encode()))["o"])
        except Exception as exc:
            raise _validation("The provided NextToken is not valid.") from exc
    page = items[start : start + size]
    nxt = None
    if start + size < len(items):
        nxt = base64.urlsafe_b64encode(json.dumps({"o": start + size}).encode()).decode()
    return page, nxt


def _named(self: Any, params: dict[str, Any]) -> list[Canary]:
    names = params.get("Names")
    if names is not None and (not isinstance(names, list) or not 1 <= len(names) <= 5):
        raise _validation("1 validation error detected: Value at 'names' failed to satisfy constraint: Member "
                          "must have length between 1 and 5")
    now = clock.now()
    found = sorted((c for c in _canaries.values() if c.account == self.current_account and c.region == self.region
                    and (names is None or c.name in names)), key=lambda c: c.name)
    for c in found:
        _advance(c, now)
    return found


def describe_canaries(self: Any) -> str:
    params = _params(self)
    with _lock:
        page, nxt = _page(params, _named(self, params), 20, 20)
        out: dict[str, Any] = {"Canaries": [c.describe() for c in page]}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


def _last_run(c: Canary) -> Run | None:
    for run in reversed(c.runs):
        if run.state != "RUNNING":
            return run
    return c.runs[-1] if c.runs else None


def describe_canaries_last_run(self: Any) -> str:
    params = _params(self)
    with _lock:
        rows = [(c, run) for c in _named(self, params) if (run := _last_run(c)) is not None]
        page, nxt = _page(params, rows, 100, 100)
        out: dict[str, Any] = {"CanariesLastRun": [{"CanaryName": c.name, "LastRun": c.describe_run(run)}
                                                   for c, run in page]}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


def get_canary_runs(self: Any) -> str:
    params = _params(self)
    with _lock:
        c = _get(self, _uri_name(self))
        page, nxt = _page(params, c.runs[::-1], 100, 100)
        out: dict[str, Any] = {"CanaryRuns": [c.describe_run(r) for r in page]}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


def start_canary(self: Any) -> str:
    name = _uri_name(self)
    with _lock:
        c = _get(self, name)
        if c.state not in ("READY", "STOPPED", "ERROR"):
            raise _conflict(f"Canary {name} is in state {c.state}; only a READY or STOPPED canary can be started.")
        now = clock.now()
        c.state, c.state_reason, c.state_reason_code = "STARTING", None, None
        c.last_started = now
        c.pending = (now + dt.timedelta(seconds=TRANSITION_SECONDS), "RUNNING")
        _wake.set()
    return "{}"


def stop_canary(self: Any) -> str:
    name = _uri_name(self)
    with _lock:
        c = _get(self, name)
        if c.state not in ("RUNNING", "STARTING"):
            raise _conflict(f"Canary {name} is in state {c.state}; only a RUNNING canary can be stopped.")
        now = clock.now()
        c.state, c.state_reason, c.state_reason_code = "STOPPING", None, None
        c.next_due = None
        c.last_stopped = now
        c.pending = (now + dt.timedelta(seconds=TRANSITION_SECONDS), "STOPPED")
        _wake.set()
    return "{}"


def delete_canary(self: Any) -> str:
    name = _uri_name(self)
    with _lock:
        c = _get(self, name)
        if c.state not in ("READY", "STOPPED", "ERROR"):
            raise _conflict(f"Canary {name} is in state {c.state}. Stop the canary before deleting it.")
        del _canaries[c.key]
        for g in _groups.get(c.account, {}).values():  # a deleted canary leaves its groups
            if _canary_arn(c) in g.canaries:
                g.canaries.remove(_canary_arn(c))
    return "{}"


def _by_arn(self: Any) -> Canary:
    arn = str((getattr(self, "uri_match", None) or {}).get("resourceArn") or self.path.split("/tags/", 1)[-1])
    arn = unquote(arn)
    m = re.match(r"^arn:aws[a-zA-Z-]*:synthetics:([a-z0-9-]+):(\d{12}):canary:([0-9a-z_\-]+)$", arn)
    if not m:
        raise SyntheticsError(400, "BadRequestException", f"Invalid resource ARN {arn}.")
    c = _canaries.get((m.group(2), m.group(1), m.group(3)))
    if c is None:
        raise SyntheticsError(404, "NotFoundException", f"Resource {arn} not found.")
    return c


def list_tags_for_resource(self: Any) -> str:
    with _lock:
        return json.dumps({"Tags": dict(_by_arn(self).tags)})


def tag_resource(self: Any) -> str:
    params = _params(self)
    with _lock:
        c = _by_arn(self)
        c.tags.update({str(k): str(v) for k, v in (params.get("Tags") or {}).items()})
        if len(c.tags) > 50:
            raise SyntheticsError(400, "BadRequestException", "A resource can have at most 50 tags.")
    return "{}"


def untag_resource(self: Any) -> str:
    keys = self.querystring.get("tagKeys") or []
    with _lock:
        c = _by_arn(self)
        for k in keys:
            c.tags.pop(k, None)
    return "{}"


# --------------------------------------------------------------------------------------------------------
# groups (https://docs.aws.amazon.com/AmazonSynthetics/latest/APIReference/API_CreateGroup.html)


@dataclass
class Group:
    """A group of canaries: global to the account (listed and readable from every Region), with a home
    Region in its ARN, where it must be deleted; at most 10 canaries, from any Region."""

    account: str
    region: str  # home Region
    id: str
    name: str
    created: dt.datetime
    modified: dt.datetime
    tags: dict[str, str] = field(default_factory=dict)
    canaries: list[str] = field(default_factory=list)  # canary ARNs, in association order

    @property
    def arn(self) -> str:
        return f"arn:aws:synthetics:{self.region}:{self.account}:group:{self.id}"

    def summary(self) -> dict[str, Any]:
        return {"Id": self.id, "Name": self.name, "Arn": self.arn}

    def describe(self) -> dict[str, Any]:
        out = {**self.summary(), "CreatedTime": _ts(self.created), "LastModifiedTime": _ts(self.modified)}
        if self.tags:
            out["Tags"] = dict(self.tags)
        return out


_groups: dict[str, dict[str, Group]] = {}  # account -> group id -> group


def _canary_arn(c: Canary) -> str:
    return f"arn:aws:synthetics:{c.region}:{c.account}:canary:{c.name}"


def _group(self: Any) -> Group:
    """The group a request names by id, name or ARN (GetGroup's ``GroupIdentifier``)."""
    match = getattr(self, "uri_match", None) or {}
    ident = unquote(str(match.get("groupIdentifier") or match.get("group") or ""))
    for g in _groups.get(self.current_account, {}).values():
        if ident in (g.id, g.arn) or ident.lower() == g.name.lower():
            return g
    raise SyntheticsError(404, "ResourceNotFoundException", f"Group {ident} not found.")


def create_group(self: Any) -> str:
    params = _params(self)
    name = params.get("Name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise _validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must "
                          "have length between 1 and 64")
    tags = params.get("Tags") or {}
    if not isinstance(tags, dict) or len(tags) > 50:
        raise _validation("Tags: at most 50 tags.")
    with _lock:
        mine = _groups.setdefault(self.current_account, {})
        if any(g.name.lower() == name.lower() for g in mine.values()):
            raise _conflict(f"A group with the name {name} already exists in this account.")
        if len(mine) >= MAX_GROUPS:
            raise SyntheticsError(402, "ServiceQuotaExceededException",
                                  f"You have reached the maximum of {MAX_GROUPS} groups in this account.")
        now = clock.now()
        rng = random.Random(f"{self.current_account}/{name}/{now.timestamp()}")
        gid = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
        g = Group(self.current_account, self.region, gid, name, now, now, {str(k): str(v) for k, v in tags.items()})
        mine[gid] = g
        return json.dumps({"Group": g.describe()})


def get_group(self: Any) -> str:
    with _lock:
        return json.dumps({"Group": _group(self).describe()})


def delete_group(self: Any) -> str:
    with _lock:
        g = _group(self)
        if g.region != self.region:
            raise _validation(f"Group {g.id} must be deleted from its home Region {g.region}.")
        del _groups[g.account][g.id]
    return "{}"


def list_groups(self: Any) -> str:
    params = _params(self)
    with _lock:
        groups = sorted(_groups.get(self.current_account, {}).values(), key=lambda g: (g.created, g.id))
        page, nxt = _page(params, groups, 20, 20)
        out: dict[str, Any] = {"Groups": [g.summary() for g in page]}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


def _canary_of(self: Any, arn: str) -> Canary:
    """The canary an ARN names, which must be in the request's Region (Associate/DisassociateResource)."""
    m = re.match(r"^arn:aws[a-zA-Z-]*:synthetics:([a-z0-9-]+):(\d{12}):canary:([0-9a-z_\-]{1,255})$", arn or "")
    if not m:
        raise _validation(f"Invalid canary ARN {arn}.")
    if m.group(1) != self.region:
        raise _validation(f"The canary {arn} is not in this Region ({self.region}): run this operation in the "
                          "Region where the canary exists.")
    c = _canaries.get((m.group(2), m.group(1), m.group(3)))
    if c is None or m.group(2) != self.current_account:
        raise _not_found(m.group(3))
    return c


def associate_resource(self: Any) -> str:
    params = _params(self)
    with _lock:
        g = _group(self)
        c = _canary_of(self, str(params.get("ResourceArn") or ""))
        arn = _canary_arn(c)
        if arn in g.canaries:
            return "{}"
        if len(g.canaries) >= MAX_CANARIES_PER_GROUP:
            raise SyntheticsError(402, "ServiceQuotaExceededException",
                                  f"A group can contain at most {MAX_CANARIES_PER_GROUP} canaries.")
        if sum(arn in other.canaries for other in _groups.get(g.account, {}).values()) >= MAX_GROUPS_PER_CANARY:
            raise SyntheticsError(402, "ServiceQuotaExceededException",
                                  f"A canary can be a member of at most {MAX_GROUPS_PER_CANARY} groups.")
        g.canaries.append(arn)
        g.modified = clock.now()
    return "{}"


def disassociate_resource(self: Any) -> str:
    params = _params(self)
    with _lock:
        g = _group(self)
        arn = _canary_arn(_canary_of(self, str(params.get("ResourceArn") or "")))
        if arn not in g.canaries:
            raise SyntheticsError(404, "ResourceNotFoundException", f"Canary {arn} is not in group {g.id}.")
        g.canaries.remove(arn)
        g.modified = clock.now()
    return "{}"


def list_group_resources(self: Any) -> str:
    params = _params(self)
    with _lock:
        page, nxt = _page(params, list(_group(self).canaries), 20, 20)
    out: dict[str, Any] = {"Resources": page}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


def list_associated_groups(self: Any) -> str:
    params = _params(self)
    match = getattr(self, "uri_match", None) or {}
    arn = unquote(str(match.get("resourceArn") or self.path.split("/resource/", 1)[-1].rsplit("/groups", 1)[0]))
    with _lock:
        c = _canary_of(self, arn)
        groups = [g for g in _groups.get(c.account, {}).values() if _canary_arn(c) in g.canaries]
        page, nxt = _page(params, sorted(groups, key=lambda g: (g.created, g.id)), 20, 20)
    out: dict[str, Any] = {"Groups": [g.summary() for g in page]}
    if nxt:
        out["NextToken"] = nxt
    return json.dumps(out)


# --------------------------------------------------------------------------------------------------------
# seeding: two canaries with 24 hours of history


def _heartbeat_script(url: str, timeout_ms: int) -> str:
    """The console heartbeat blueprint's shape (one URL, fail outside 2xx), as the seeded canaries run it."""
    return (
        "const { URL } = require('url');\n"
        "const synthetics = require('Synthetics');\n"
        "const log = require('SyntheticsLogger');\n"
        "const syntheticsLogHelper = require('SyntheticsLogHelper');\n\n"
        "const loadBlueprint = async function () {\n"
        f"    const urls = [{json.dumps(url)}];\n"
        "    const page = await synthetics.getPage();\n"
        "    for (const url of urls) {\n"
        "        await synthetics.executeStep(new URL(url).hostname, async function () {\n"
        "            const sanitizedUrl = syntheticsLogHelper.getSanitizedUrl(url);\n"
        f"            const response = await page.goto(url, {{ waitUntil: ['domcontentloaded'], timeout: {timeout_ms} }});\n"
        "            if (!response || response.status() < 200 || response.status() > 299) {\n"
        "                throw new Error(`Failed to load url: ${sanitizedUrl} ${response && response.status()} "
        "${response && response.statusText()}`);\n"
        "            }\n"
        "        });\n"
        "    }\n"
        "};\n\n"
        "exports.handler = async () => {\n    return await loadBlueprint();\n};\n"
    )


def _seed_canary(account: str, region: str, name: str, url: str, expression: str, timeout_ms: int,
                 now: dt.datetime, seed: int) -> Canary:
    schedule = parse_schedule(expression)
    rng = random.Random(f"{seed}/{name}")
    cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    script = _heartbeat_script(url, timeout_ms)
    short = cid.split("-")[-1]
    c = Canary(account=account, region=region, name=name, id=cid, handler="pageLoadBlueprint.handler",
               runtime_version="syn-nodejs-puppeteer-9.1",
               execution_role_arn=f"arn:aws:iam::{account}:role/service-role/CloudWatchSyntheticsRole-{name}",
               artifact_s3_location=f"s3://cw-syn-results-{account}-{region}/canary/{region}/{name[:21]}-{short[:12]}",
               schedule=schedule, duration_in_seconds=0,
               run_config={"TimeoutInSeconds": min(period_seconds(schedule) or 60, 60), "MemoryInMB": 1000,
                           "ActiveTracing": False},
               env={}, success_retention=31, failure_retention=31, target=find_target(script, {}), script=script,
               tags={"blueprint": "heartbeat", "Env": "prod"}, state="RUNNING", state_reason=None,
               state_reason_code=None, created=now - dt.timedelta(days=40), modified=now - dt.timedelta(days=40),
               last_started=now - dt.timedelta(days=30))
    c.next_due = now + dt.timedelta(seconds=5)
    return c


def _backfill(c: Canary, now: dt.datetime, seed: int, outcome: Any) -> None:
    """Runs every period over the last 24 h, with their logs and artifacts; ``outcome(when, rng) -> (state,
    reason, navigation ms)`` for the canary's one URL (the run adds the runtime's overhead and rendering)."""
    period = period_seconds(c.schedule) or 60
    rng = random.Random(f"{seed}/{c.name}/runs")
    start = now - dt.timedelta(hours=24)
    start = start.replace(second=int(rng.random() * 59), microsecond=0)
    url = c.target.urls[0]
    when = start
    while when < now - dt.timedelta(seconds=period // 2):
        state, reason, nav = outcome(when, rng)
        nav += rng.uniform(*RENDER_OVERHEAD_MS) if state == "PASSED" or "Failed to load" in (reason or "") else 0
        duration = rng.uniform(*RUNTIME_OVERHEAD_MS) + nav
        run = Run(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), started=when,
                  completed=when + dt.timedelta(milliseconds=duration), state=state, reason=reason,
                  reason_code=None if state == "PASSED" else "CANARY_FAILURE", duration_ms=round(duration, 1),
                  steps=[(url, state, nav)])
        c.runs.append(run)
        _publish(c, run)
        _record(c, run)
        when += dt.timedelta(seconds=period)
    c.next_due = when


def _seed(scenario: Scenario, seed: int) -> None:
    global _refused
    if PRIMARY not in scenario.regions:
        return
    now = clock.now()
    account, region = scenario.account_id, PRIMARY
    store_url = webapp.webapp_url()
    timeout_ms = DEFAULT_NAV_TIMEOUT_MS  # the heartbeat blueprint's page.goto timeout
    store = _seed_canary(account, region, "storefront-heartbeat", store_url, "rate(1 minute)", timeout_ms, now, seed)
    ensure_artifact_bucket(account, region, store.artifact_s3_location)

    def store_outcome(when: dt.datetime, rng: random.Random) -> tuple[str, str | None, float]:
        health = webapp.scheduled_health(when, seed)
        latency_ms = webapp.sample_latency(health, rng) * 1000 + rng.uniform(2, 8)
        if health == "down":
            return "FAILED", f"Error: Failed to load url: {store_url} 503 Service Unavailable", latency_ms
        if latency_ms > timeout_ms:
            return "FAILED", f"TimeoutError: Navigation timeout of {timeout_ms} ms exceeded", float(timeout_ms)
        return "PASSED", None, latency_ms

    _backfill(store, now, seed, store_outcome)
    # a port that is bound but never listens: connecting to it is refused for as long as the sandbox runs
    _refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    _refused.bind(("127.0.0.1", 0))
    legacy_url = f"http://127.0.0.1:{_refused.getsockname()[1]}/api/health"
    legacy = _seed_canary(account, region, "legacy-api-heartbeat", legacy_url, "rate(5 minutes)",
                          DEFAULT_NAV_TIMEOUT_MS, now, seed)
    broke = now - dt.timedelta(hours=3)

    def legacy_outcome(when: dt.datetime, rng: random.Random) -> tuple[str, str | None, float]:
        if when >= broke:
            return "FAILED", f"Error: net::ERR_CONNECTION_REFUSED at {legacy_url}", rng.uniform(3, 12)
        return "PASSED", None, rng.uniform(80, 260)

    _backfill(legacy, now, seed, legacy_outcome)
    for c in (store, legacy):
        _canaries[c.key] = c


# --------------------------------------------------------------------------------------------------------
# the extension: routes, patches, lifecycle, control


_EXTRA_PATHS = {
    "{0}/canary/(?P<name>[^/]+)/runs$": SyntheticsResponse.dispatch,
    "{0}/canary/(?P<name>[^/]+)/start$": SyntheticsResponse.dispatch,
    "{0}/canary/(?P<name>[^/]+)/stop$": SyntheticsResponse.dispatch,
    "{0}/canaries/last-run$": SyntheticsResponse.dispatch,
    "{0}/tags/(?P<resourceArn>.+)$": SyntheticsResponse.dispatch,
    "{0}/group$": SyntheticsResponse.dispatch,
    "{0}/groups$": SyntheticsResponse.dispatch,
    "{0}/group/(?P<group>[^/]+)$": SyntheticsResponse.dispatch,
    "{0}/group/(?P<group>[^/]+)/associate$": SyntheticsResponse.dispatch,
    "{0}/group/(?P<group>[^/]+)/disassociate$": SyntheticsResponse.dispatch,
    "{0}/group/(?P<group>[^/]+)/resources$": SyntheticsResponse.dispatch,
    "{0}/resource/(?P<resourceArn>.+)/groups$": SyntheticsResponse.dispatch,
}


class Synthetics(Extension):
    """The canary actions and routes; fresh canaries and the scheduler for each run. Control: ``GET
    /_opstui/synthetics`` (canaries, run counts, next due); ``POST {"run": name, "region": r}`` runs a canary
    now and/or ``{"external": bool}`` lets canaries leave the machine."""

    name = "synthetics"

    def patch(self) -> None:
        for path, handler in _EXTRA_PATHS.items():
            synthetics_urls.url_paths.setdefault(path, handler)
        attach(SyntheticsResponse, create_canary, get_canary, describe_canaries, list_tags_for_resource,
               update_canary, delete_canary, describe_canaries_last_run, get_canary_runs, start_canary,
               stop_canary, tag_resource, untag_resource, create_group, get_group, delete_group, list_groups,
               associate_resource, disassociate_resource, list_group_resources, list_associated_groups)

    def start(self, sandbox: Sandbox) -> None:
        """Fresh canaries for a new Sandbox (after the storefront in start order: the seed's canary requests
        it), and the scheduler."""
        global _thread, _pool
        self.stop(sandbox)
        scenario = sandbox.scenario_data
        with _lock:
            _canaries.clear()
            _groups.clear()
            _settings["external"] = False
            if scenario is not None and scenario.name == "default":
                _seed(scenario, sandbox.seed)
        _stop.clear()
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="opstui-canary")
        _thread = threading.Thread(target=_loop, name="opstui-synthetics", daemon=True)
        _thread.start()

    def stop(self, sandbox: Sandbox) -> None:
        global _thread, _pool, _refused
        _stop.set()
        _wake.set()
        if _thread is not None:
            _thread.join(5)
            _thread = None
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        if _refused is not None:
            _refused.close()
            _refused = None

    def configure(self, **payload: Any) -> dict[str, Any]:
        """``{"external": bool}`` and/or ``{"run": name, "region": r}``."""
        unknown = set(payload) - {"external", "run", "region", "account"}
        if unknown:
            raise ValueError(f"unknown synthetics field(s) {sorted(unknown)}; "
                             "known: ['external', 'region', 'run']")
        out: dict[str, Any] = {}
        if "external" in payload:
            if not isinstance(payload["external"], bool):
                raise ValueError("external must be a boolean")
            _settings["external"] = payload["external"]
        if payload.get("run"):
            from .scenarios import ACCOUNT_ID

            out["run"] = run_now(payload.get("account") or ACCOUNT_ID, payload.get("region") or PRIMARY,
                                 str(payload["run"]))
        out["settings"] = dict(_settings)
        return out

    def control_snapshot(self) -> dict[str, Any]:
        with _lock:
            return {"settings": dict(_settings), "clock": clock.snapshot(), "canaries": [
                {"Name": c.name, "Region": c.region, "State": c.state, "Urls": list(c.target.urls),
                 "NavigationTimeoutMs": c.target.nav_timeout_ms, "Runs": len(c.runs),
                 "NextDue": c.next_due.isoformat() if c.next_due else None} for c in _canaries.values()]}


EXTENSION = Synthetics()
