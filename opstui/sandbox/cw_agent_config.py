"""The CloudWatch agent's JSON configuration: validated like the agent does, turned into what a node collects.

Why: ``AmazonCloudWatch-ManageAgent`` with ``optionalConfigurationSource=ssm`` makes the agent fetch its JSON
configuration from Parameter Store and validate it before it restarts; what it then ships (which log files,
which metrics) follows that JSON. The sandbox's simulated agent does the same, with the agent's own rules
(github.com/aws/amazon-cloudwatch-agent, read at commit ab55b8d):

* **Schema.** ``data/cwagent/schema.json`` is the agent's ``translator/config/schema.json`` (MIT licence,
  copied unchanged), checked with ``jsonschema`` (draft 4, as the agent's gojsonschema). Errors are worded as
  gojsonschema words them and reported as ``translator/isValid.go`` ``AddErrorMessages`` does:
  ``Under path : /logs/logs_collected/files/collect_list/0 | Error : file_path is required``, after
  ``E! Invalid Json input schema.`` and before ``configuration validation first phase failed. Agent version:
  1.0. Verify the JSON input is only using features supported by this version`` (``tool/translator``).
* **Second-phase checks** the translator makes after the schema (``translate/logs/.../collect_list``):
  an invalid ``timestamp_format`` (``Timestamp format %s is invalid``), different ``retention_in_days`` for one
  group (``Different retention_in_days values can't be set for the same log group: <name>``), and an invalid
  ``multi_line_start_pattern`` regex.
* **Defaults** (``plugins/inputs/logfile/fileconfig.go``, ``translator/translate/util/placeholderUtil.go``): a
  missing ``log_group_name`` is the file path up to its last dot; a missing ``log_stream_name`` is
  ``logs.log_stream_name`` or else ``{instance_id}``; placeholders ``{instance_id}``, ``{hostname}``,
  ``{local_hostname}``, ``{ip_address}``, ``{aws_region}``, ``{account_id}``, ``{date}``; a missing
  ``multi_line_start_pattern`` is ``^[\\S]`` (a line starting with white space continues the previous event);
  ``{timestamp_format}`` means "the timestamp's own regex".
* **Timestamps** (``internal/util/timestamp/timestamp.go``): the strftime directives the agent knows (``%Y %y
  %m %-m %d %-d %b %B %a %A %H %I %-I %M %-M %S %-S %p %Z %z %f``) become a regex that finds the timestamp in a
  line and a parser for it; ``timezone`` ``UTC`` or ``Local`` (a sandbox node's local zone is UTC, as on EC2).
* **Metrics** (``translator/config/defaultConfig.go``): ``metrics.metrics_collected`` decides which ``CWAgent``
  series exist. The measurements the sandbox produces are Linux ``mem`` ``mem_used_percent`` and ``disk``
  ``used_percent`` (published as ``disk_used_percent``), Windows ``Memory`` ``% Committed Bytes In Use`` and
  ``LogicalDisk`` ``% Free Space``; other plugins and measurements validate but publish nothing here.
  ``append_dimensions`` ``${aws:InstanceId}`` / ``${aws:ImageId}`` / ``${aws:InstanceType}`` and ``namespace``
  and ``metrics_collection_interval`` (plugin, else agent, else 60 s) are honoured.

The sandbox's ``default`` configuration (``optionalConfigurationSource=default``) is the basic one with only
``InstanceId`` appended (the real default also appends ImageId, InstanceType and AutoScalingGroupName): the
metrics the Monitoring tab's alarms were built on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "data" / "cwagent" / "schema.json"
AGENT_VERSION = "1.0"  # what the translator's failure message names (tool/translator/translator.go)
FIRST_PHASE_FAILED = ("configuration validation first phase failed. Agent version: {v}. Verify the JSON input is "
                      "only using features supported by this version")
DEFAULT_MULTILINE = r"^[\S]"
DEFAULT_INTERVAL = 60


class AgentConfigError(Exception):
    """The configuration failed the agent's validation: ``lines`` are what the translator logs (stderr)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class FileCollect:
    """One ``collect_list`` entry of ``logs.logs_collected.files`` (placeholders still unresolved)."""

    file_path: str
    log_group_name: str
    log_stream_name: str
    timestamp_format: str | None = None
    multi_line_start_pattern: str = DEFAULT_MULTILINE
    timezone: str = "Local"
    retention_in_days: int = -1

    @property
    def timestamp(self) -> TimestampFormat | None:
        return TimestampFormat.of(self.timestamp_format) if self.timestamp_format else None

    @property
    def start_regex(self) -> re.Pattern[str]:
        if self.multi_line_start_pattern == "{timestamp_format}":
            ts = self.timestamp
            return ts.regex if ts else re.compile(DEFAULT_MULTILINE)
        return re.compile(self.multi_line_start_pattern)


@dataclass(frozen=True)
class WindowsEvents:
    """One ``collect_list`` entry of ``logs.logs_collected.windows_events``."""

    event_name: str
    event_levels: tuple[str, ...]
    log_group_name: str
    log_stream_name: str
    event_format: str = "xml"


@dataclass(frozen=True)
class AgentMetric:
    """A ``CWAgent`` series the node publishes: name, dimensions (resolved), namespace, interval."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    namespace: str = "CWAgent"
    interval: int = DEFAULT_INTERVAL
    kind: str = "mem"  # which produced shape: mem / disk (the metrics module's day functions)


@dataclass(frozen=True)
class AgentConfig:
    """A validated agent configuration, as the node's agent runs it."""

    source: str  # "default" or "ssm:<parameter name>"
    files: tuple[FileCollect, ...] = ()
    windows_events: tuple[WindowsEvents, ...] = ()
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # plugin -> its JSON section
    append_dimensions: dict[str, str] = field(default_factory=dict)
    namespace: str = "CWAgent"
    interval: int = DEFAULT_INTERVAL
    force_flush_interval: int = 5

    def agent_metrics(self, node: NodeFacts) -> list[AgentMetric]:
        """The series this configuration publishes for ``node`` (only the ones the sandbox produces)."""
        base: dict[str, str] = {}
        for key, value in self.append_dimensions.items():
            resolved = _resolve_aws(value, node)
            if resolved:
                base[key] = resolved
        if not base:  # the agent's own "host" dimension, dropped when EC2 dimensions are appended
            base = {"host": node.hostname}
        out: list[AgentMetric] = []
        for plugin, section in self.metrics.items():
            interval = _interval(section.get("metrics_collection_interval"), self.interval)
            names = [_measurement_name(m) for m in section.get("measurement", [])]
            if node.windows:
                if plugin == "Memory" and "% Committed Bytes In Use" in names:
                    out.append(AgentMetric("Memory % Committed Bytes In Use",
                                           _dims({**base, "objectname": "Memory"}), self.namespace, interval, "mem"))
                if plugin == "LogicalDisk" and "% Free Space" in names:
                    out.append(AgentMetric("LogicalDisk % Free Space",
                                           _dims({**base, "instance": "C:", "objectname": "LogicalDisk"}),
                                           self.namespace, interval, "disk"))
                continue
            if plugin == "mem" and ("mem_used_percent" in names or "used_percent" in names):
                out.append(AgentMetric("mem_used_percent", _dims(base), self.namespace, interval, "mem"))
            if plugin == "disk" and ("used_percent" in names or "disk_used_percent" in names):
                fstype = "ext4" if "Ubuntu" in node.platform_name else "xfs"
                out.append(AgentMetric("disk_used_percent",
                                       _dims({**base, "path": "/", "device": "nvme0n1p1", "fstype": fstype}),
                                       self.namespace, interval, "disk"))
        return out


@dataclass(frozen=True)
class NodeFacts:
    """What the agent's placeholders and dimensions read about its node (EC2 metadata / the OS)."""

    instance_id: str
    hostname: str
    ip_address: str
    region: str
    account_id: str
    platform_name: str = ""
    windows: bool = False
    hybrid: bool = False
    image_id: str = ""
    instance_type: str = ""

    def resolve(self, template: str) -> str:
        """The agent's ``ResolvePlaceholder``: an empty template is ``{instance_id}``."""
        text = template or "{instance_id}"
        for key, value in (("{instance_id}", self.instance_id), ("{hostname}", self.hostname),
                           ("{local_hostname}", self.hostname), ("{ip_address}", self.ip_address),
                           ("{aws_region}", self.region), ("{account_id}", self.account_id)):
            text = text.replace(key, value)
        return text.replace("{date}", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"))


def _dims(d: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(d.items()))


def _resolve_aws(value: str, node: NodeFacts) -> str:
    return (value.replace("${aws:InstanceId}", "" if node.hybrid else node.instance_id)
            .replace("${aws:ImageId}", node.image_id).replace("${aws:InstanceType}", node.instance_type)
            .replace("${aws:AutoScalingGroupName}", ""))


def _interval(value: Any, fallback: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return fallback


def _measurement_name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("name", ""))
    return str(item)


# ------------------------------------------------------------------------------------------------------------
# the agent's default configurations (translator/config/defaultConfig.go), with only InstanceId appended


def default_config(windows: bool) -> AgentConfig:
    if windows:
        metrics = {"Memory": {"measurement": ["% Committed Bytes In Use"]},
                   "LogicalDisk": {"measurement": ["% Free Space"], "resources": ["*"]}}
    else:
        metrics = {"mem": {"measurement": ["mem_used_percent"]},
                   "disk": {"measurement": ["used_percent"], "resources": ["*"]}}
    return AgentConfig(source="default", metrics=metrics, append_dimensions={"InstanceId": "${aws:InstanceId}"})


# ------------------------------------------------------------------------------------------------------------
# timestamps


_DIRECTIVES: dict[str, tuple[str, str]] = {  # strftime -> (regex, Python strptime directive)
    "%B": (r"\w{3,9}", "%B"), "%b": (r"\w{3}", "%b"), "%-m": (r"\s{0,1}\d{1,2}", "%m"),
    "%m": (r"\s{0,1}\d{1,2}", "%m"), "%A": (r"\w{6,9}", "%A"), "%a": (r"\w{3}", "%a"),
    "%-d": (r"\s{0,1}\d{1,2}", "%d"), "%d": (r"\s{0,1}\d{1,2}", "%d"), "%H": (r"\d{2}", "%H"),
    "%-I": (r"\d{1,2}", "%I"), "%I": (r"\d{2}", "%I"), "%-M": (r"\d{1,2}", "%M"), "%M": (r"\d{2}", "%M"),
    "%-S": (r"\d{1,2}", "%S"), "%S": (r"\d{2}", "%S"), "%Y": (r"\d{4}", "%Y"), "%y": (r"\d{2}", "%y"),
    "%p": (r"\w{2}", "%p"), "%Z": (r"\w{3}", "%Z"), "%z": (r"[+-]\d{4}", "%z"), "%f": (r"\d{1,9}", "%f"),
}
_DIRECTIVE_RE = re.compile(r"%-?[A-Za-z]")


@dataclass(frozen=True)
class TimestampFormat:
    """A ``timestamp_format``: the regex that finds it in a line and how to read what it found."""

    text: str
    regex: re.Pattern[str]
    strptime: str

    @staticmethod
    @lru_cache(maxsize=64)
    def of(text: str) -> TimestampFormat:
        regex, parse, pos = [], [], 0
        for m in _DIRECTIVE_RE.finditer(text):
            literal = text[pos:m.start()]
            regex.append(re.escape(literal))
            parse.append(literal.replace("%", "%%"))
            directive = m.group(0)
            if directive not in _DIRECTIVES:
                raise ValueError(directive)
            rx, py = _DIRECTIVES[directive]
            if not regex[:-1] and not literal and directive in ("%-m", "%-d"):
                rx = r"\d{1,2}"  # BuildRegex strips the leading \s{0,1} of a format that starts with it
            regex.append(rx)
            parse.append(py)
            pos = m.end()
        regex.append(re.escape(text[pos:]))
        parse.append(text[pos:].replace("%", "%%"))
        return TimestampFormat(text, re.compile("(" + "".join(regex) + ")"), "".join(parse))

    def parse(self, line: str, utc: bool, now: dt.datetime) -> int | None:
        """Milliseconds since the epoch of the timestamp in ``line``, or None (then the agent uses the read
        time). A format without a year takes the current one, as Go's time.Parse gives year 0 and the agent
        fills it in."""
        m = self.regex.search(line)
        if m is None:
            return None
        raw = re.sub(r"\s+", " ", m.group(1).strip())
        fmt = re.sub(r"\s+", " ", self.strptime.strip())
        try:
            when = dt.datetime.strptime(raw, fmt)
        except ValueError:
            return None
        if "%Y" not in fmt and "%y" not in fmt:
            when = when.replace(year=now.year)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)  # Local on a sandbox node is UTC (utc or not)
        return int(when.timestamp() * 1000)


# ------------------------------------------------------------------------------------------------------------
# validation and parsing


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


_TYPE_NAMES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
               "object": "object", "array": "array", "null": "null"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(error: Any) -> tuple[str, str]:
    """(path, description) of a jsonschema error, worded as gojsonschema's (locales.go) and the path formatted
    as ``config.GetFormattedPath``."""
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        desc = f"{missing.group(1) if missing else error.message} is required"
    elif kind == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        desc = f"Additional property {extra[0] if extra else '?'} is not allowed"
    elif kind == "type":
        expected = error.validator_value
        expected = "/".join(expected) if isinstance(expected, list) else _TYPE_NAMES.get(expected, expected)
        desc = f"Invalid type. Expected: {expected}, given: {_json_type(error.instance)}"
    elif kind == "enum":
        desc = f"{path[-1] if path else '(root)'} must be one of the following: " + ", ".join(
            json.dumps(v) for v in error.validator_value)
    elif kind == "minItems":
        desc = f"Array must have at least {error.validator_value} items"
    elif kind == "maxItems":
        desc = f"Array must have at most {error.validator_value} items"
    elif kind == "minLength":
        desc = f"String length must be greater than or equal to {error.validator_value}"
    elif kind == "maxLength":
        desc = f"String length must be less than or equal to {error.validator_value}"
    elif kind == "minimum":
        desc = f"Must be greater than or equal to {error.validator_value}"
    elif kind == "maximum":
        desc = f"Must be less than or equal to {error.validator_value}"
    elif kind == "pattern":
        desc = f"Does not match pattern '{error.validator_value}'"
    elif kind == "uniqueItems":
        desc = "array items must be unique"
    elif kind in ("anyOf", "oneOf"):
        desc = "Must validate one and only one schema (oneOf)" if kind == "oneOf" else \
            "Must validate at least one schema (anyOf)"
    else:
        desc = error.message
    return "/" + "/".join(str(p) for p in path), desc


def validate(text: str, schema: bool = True) -> dict[str, Any]:
    """The translator's first phase: JSON, then (``schema``) the schema. Returns the parsed JSON or raises."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentConfigError([
            f"E! Failed to generate merged json config: invalid json content: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}",
            FIRST_PHASE_FAILED.format(v=AGENT_VERSION)]) from exc
    if not isinstance(data, dict):
        raise AgentConfigError(["E! Failed to generate merged json config: the json root must be an object",
                                FIRST_PHASE_FAILED.format(v=AGENT_VERSION)])
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]) if schema else []
    if errors:
        lines = ["E! Invalid Json input schema."]
        for error in errors:
            path, desc = _describe(error)
            lines.append(f"Under path : {path} | Error : {desc}")
        lines.append(FIRST_PHASE_FAILED.format(v=AGENT_VERSION))
        raise AgentConfigError(lines)
    return data


def log_group_from_path(file_path: str) -> str:
    """``fileconfig.go``: "the part before the last dot in the file path"."""
    head, dot, _tail = file_path.rpartition(".")
    return head if dot and "/" not in _tail else file_path


def parse(text: str, source: str, schema: bool = True) -> AgentConfig:
    """Validate ``text`` as the agent would and build the configuration, or raise :class:`AgentConfigError`.

    ``schema=False`` skips the JSON-schema check (importing jsonschema and compiling the agent's schema take
    about half a second): only for configurations the sandbox wrote itself and tests validate in full."""
    data = validate(text, schema)
    agent = data.get("agent") or {}
    interval = _interval(agent.get("metrics_collection_interval"), DEFAULT_INTERVAL)
    logs = data.get("logs") or {}
    collected = logs.get("logs_collected") or {}
    default_stream = str(logs.get("log_stream_name") or "{instance_id}")
    errors: list[str] = []
    files: list[FileCollect] = []
    retention: dict[str, int] = {}
    base = "/logs/logs_collected/files/collect_list/"
    for entry in (collected.get("files") or {}).get("collect_list") or []:
        path = str(entry["file_path"])
        group = str(entry.get("log_group_name") or log_group_from_path(path))
        ts_format = entry.get("timestamp_format")
        if ts_format is not None:
            try:
                TimestampFormat.of(str(ts_format))
            except (ValueError, re.error):
                errors.append(f"Under path : {base}timestamp_format | Error : Timestamp format {ts_format} is "
                              "invalid")
                ts_format = None
        pattern = str(entry.get("multi_line_start_pattern") or DEFAULT_MULTILINE)
        if pattern != "{timestamp_format}":
            try:
                re.compile(pattern)
            except re.error as exc:
                errors.append(f"Under path : {base}multi_line_start_pattern | Error : multi_line_start_pattern "
                              f"{pattern} is invalid: {exc}")
        days = int(entry.get("retention_in_days", -1))
        if days not in (-1, 0) and retention.setdefault(group, days) != days:
            errors.append(f"Under path : {base} | Error : Different retention_in_days values can't be set "
                          f"for the same log group: {group}")
        files.append(FileCollect(path, group, str(entry.get("log_stream_name") or default_stream),
                                 str(ts_format) if ts_format else None, pattern,
                                 str(entry.get("timezone") or "Local"), days))
    events: list[WindowsEvents] = []
    for entry in (collected.get("windows_events") or {}).get("collect_list") or []:
        events.append(WindowsEvents(str(entry.get("event_name", "")), tuple(entry.get("event_levels") or ()),
                                    str(entry.get("log_group_name") or ""),
                                    str(entry.get("log_stream_name") or default_stream),
                                    str(entry.get("event_format") or "xml")))
    if errors:
        raise AgentConfigError([*errors, FIRST_PHASE_FAILED.format(v=AGENT_VERSION)])
    metrics_section = data.get("metrics") or {}
    return AgentConfig(
        source=source, files=tuple(files), windows_events=tuple(events),
        metrics=dict(metrics_section.get("metrics_collected") or {}),
        append_dimensions=dict(metrics_section.get("append_dimensions") or {}),
        namespace=str(metrics_section.get("namespace") or "CWAgent"), interval=interval,
        force_flush_interval=_interval(logs.get("force_flush_interval"), 5))
