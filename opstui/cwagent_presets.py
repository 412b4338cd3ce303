"""The CloudWatch agent's JSON configuration, built from presets an operator ticks (no UI, no AWS calls).

Why: the seed's agent flow ends with "store a configuration in Parameter Store and ManageAgent it onto the
nodes". Writing the agent's JSON by hand is where that flow goes wrong (a misspelt key fails the agent's
validation on every node), so the Monitoring tab's agent panel offers the usual set as presets and this
module turns the ticked ones into the agent's real schema, as documented on "Manually create or edit the
CloudWatch agent configuration file"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html,
section "logs", #CloudWatch-Agent-Configuration-File-Logssection):

* ``logs.logs_collected.files.collect_list``: one entry per file, ``file_path``, ``log_group_name``,
  ``log_stream_name`` (``{instance_id}``: one stream per node in a shared group), ``timestamp_format``
  (strftime, as the agent knows it), ``timezone``, ``multi_line_start_pattern`` and ``retention_in_days``;
* ``logs.logs_collected.windows_events.collect_list`` (Windows only): ``event_name``, ``event_levels``,
  ``log_group_name``, ``log_stream_name``, ``event_format``;
* ``metrics.metrics_collected``: ``mem`` ``mem_used_percent`` and ``disk`` ``used_percent`` on Linux,
  ``Memory`` ``% Committed Bytes In Use`` and ``LogicalDisk`` ``% Free Space`` on Windows, with
  ``append_dimensions`` ``InstanceId`` so the series are per node (what the Monitoring alarms use).

The paths are where the demo nodes write (``/var/log/messages`` or ``/var/log/syslog``, nginx's access and
error logs, the app's JSON log under ``/var/log/app/``) and the log groups, with the default prefix ``/prod``,
are the ones the demo's seeded agents ship to, so a node set up here joins the same groups in the Logs tab.

One configuration serves one platform: a Linux file list means nothing to a Windows agent, so a selection
mixing both is refused (:class:`PresetError`) instead of configuring half of it wrong.

The parameter's name: the agent fetches any name it is given (``amazon-cloudwatch-agent-ctl -c ssm:<name>``),
but the AWS managed policy nodes are given for the agent, CloudWatchAgentServerPolicy, allows
``ssm:GetParameter`` only on ``arn:aws:ssm:*:*:parameter/AmazonCloudWatch-*`` (and CloudWatchAgentAdminPolicy
``ssm:PutParameter`` on the same). So a name without the ``AmazonCloudWatch-`` prefix fails on such nodes with
AccessDenied: :func:`parameter_problem` refuses it up front.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PARAMETER_PREFIX = "AmazonCloudWatch-"
DEFAULT_PARAMETER = "AmazonCloudWatch-opstui"
DEFAULT_PREFIX = "/prod"
RETENTION_DAYS = 30
#: Parameter Store's rule for a name (PutParameter: letters, digits, ``_.-/``, at most 1011 characters)
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-/]{1,1011}$")
_PREFIX_RE = re.compile(r"^(/[A-Za-z0-9_.\-#]+)+$")

LINUX, WINDOWS = "Linux", "Windows"

# where the demo nodes write (the sandbox's node_logs module; a test keeps both equal)
SYSLOG_REDHAT = "/var/log/messages"
SYSLOG_DEBIAN = "/var/log/syslog"
NGINX_ACCESS = "/var/log/nginx/access.log"
NGINX_ERROR = "/var/log/nginx/error.log"
APP_LOG = "/var/log/app/app.log"


@dataclass(frozen=True)
class Preset:
    """One tick box of the form: an id, its label, and the platform it belongs to."""

    id: str
    label: str
    platform: str  # Linux | Windows | "" (both: the metrics)


PRESETS: tuple[Preset, ...] = (
    Preset("system", "System log (/var/log/messages, /var/log/syslog)", LINUX),
    Preset("nginx", "nginx access and error logs", LINUX),
    Preset("app", "Application JSON log (/var/log/app/app.log)", LINUX),
    Preset("windows_events", "Windows event logs (System, Application)", WINDOWS),
    Preset("metrics", "Memory and disk metrics", ""),
)
PRESET_IDS = tuple(p.id for p in PRESETS)


class PresetError(ValueError):
    """The presets cannot make a configuration (nothing chosen, the wrong platform, a mixed selection)."""


def presets_for(platform: str) -> tuple[Preset, ...]:
    """The presets that apply to nodes of ``platform``."""
    return tuple(p for p in PRESETS if p.platform in ("", platform))


def platform_of(platforms: Iterable[str]) -> str:
    """The one platform of a selection (``platforms``: the nodes' platform names, as SSM reports them).

    Raises PresetError for a mix of Linux and Windows nodes, or for no node at all."""
    counts = {LINUX: 0, WINDOWS: 0}
    for name in platforms:
        counts[WINDOWS if "windows" in name.lower() else LINUX] += 1
    if counts[LINUX] and counts[WINDOWS]:
        raise PresetError(f"The selection mixes {counts[LINUX]} Linux and {counts[WINDOWS]} Windows node(s): one "
                          "agent configuration serves one platform. Select one platform (Fleet filter "
                          "platform:Windows or !platform:Windows) and configure each in turn.")
    if counts[WINDOWS]:
        return WINDOWS
    if counts[LINUX]:
        return LINUX
    raise PresetError("No node selected.")


def groups(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """The log group of each log source, under ``prefix`` (``/prod`` gives the demo seed's groups)."""
    p = prefix.rstrip("/")
    return {"system": f"{p}/system/messages", "nginx_access": f"{p}/nginx/access", "nginx_error": f"{p}/nginx/error",
            "app": f"{p}/app/json", "windows_system": f"{p}/windows/system",
            "windows_application": f"{p}/windows/application"}


def prefix_problem(prefix: str) -> str:
    """Why ``prefix`` cannot start a log group name, or "" (CloudWatch Logs: ``[.-_/#A-Za-z0-9]``)."""
    if not _PREFIX_RE.match(prefix.rstrip("/") or "/"):
        return "a path such as /prod or /stg/web (letters, digits, . - _ # and /)"
    if len(prefix) > 400:
        return "at most 400 characters (a group name is at most 512)"
    return ""


def parameter_problem(name: str) -> str:
    """Why ``name`` is not a good parameter for the agent's configuration, or ""."""
    if not name:
        return "a name is required"
    if not _NAME_RE.match(name):
        return "letters, digits and _ . - / only (Parameter Store's rule), at most 1011 characters"
    if not name.startswith(PARAMETER_PREFIX):
        return (f"must start with {PARAMETER_PREFIX} (the agent's managed policy, CloudWatchAgentServerPolicy, "
                f"lets nodes read only parameter/{PARAMETER_PREFIX}*)")
    return ""


def _file(path: str, group: str, fmt: str, **extra: Any) -> dict[str, Any]:
    return {"file_path": path, "log_group_name": group, "log_stream_name": "{instance_id}",
            "timestamp_format": fmt, "retention_in_days": RETENTION_DAYS, **extra}


def agent_config(chosen: Iterable[str], platform: str, prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The agent's configuration for the ``chosen`` preset ids on nodes of ``platform``.

    Raises PresetError when nothing is chosen or a chosen preset belongs to the other platform."""
    picked = [p for p in PRESETS if p.id in set(chosen)]
    unknown = set(chosen) - set(PRESET_IDS)
    if unknown:
        raise PresetError(f"Unknown preset(s): {', '.join(sorted(unknown))}")
    if not picked:
        raise PresetError("Choose at least one preset.")
    wrong = [p.label for p in picked if p.platform not in ("", platform)]
    if wrong:
        raise PresetError(f"Not for {platform} nodes: {'; '.join(wrong)}")
    names = groups(prefix)
    ids = {p.id for p in picked}
    config: dict[str, Any] = {"agent": {"metrics_collection_interval": 60}}
    files: list[dict[str, Any]] = []
    if "system" in ids:  # rsyslog's traditional format: "Dec  2 09:40:01 host prog[pid]: ..."
        files += [_file(SYSLOG_REDHAT, names["system"], "%b %d %H:%M:%S"),
                  _file(SYSLOG_DEBIAN, names["system"], "%b %d %H:%M:%S")]
    if "nginx" in ids:  # combined: [02/Dec/2026:09:40:01 +0000]; error.log: 2026/12/02 09:40:01
        files += [_file(NGINX_ACCESS, names["nginx_access"], "%d/%b/%Y:%H:%M:%S %z"),
                  _file(NGINX_ERROR, names["nginx_error"], "%Y/%m/%d %H:%M:%S")]
    if "app" in ids:  # one JSON object a line, "timestamp": "2026-12-02T09:40:01.123Z"
        files.append(_file(APP_LOG, names["app"], "%Y-%m-%dT%H:%M:%S.%fZ", timezone="UTC",
                           multi_line_start_pattern="{timestamp_format}"))
    collected: dict[str, Any] = {}
    if files:
        collected["files"] = {"collect_list": files}
    if "windows_events" in ids:
        collected["windows_events"] = {"collect_list": [
            {"event_name": "System", "event_levels": ["INFORMATION", "WARNING", "ERROR", "CRITICAL"],
             "log_group_name": names["windows_system"], "log_stream_name": "{instance_id}", "event_format": "xml"},
            {"event_name": "Application", "event_levels": ["WARNING", "ERROR", "CRITICAL"],
             "log_group_name": names["windows_application"], "log_stream_name": "{instance_id}",
             "event_format": "text"},
        ]}
    if collected:
        config["logs"] = {"logs_collected": collected}
    if "metrics" in ids:
        if platform == WINDOWS:
            metrics = {"Memory": {"measurement": ["% Committed Bytes In Use"]},
                       "LogicalDisk": {"measurement": ["% Free Space"], "resources": ["C:"]}}
        else:
            metrics = {"mem": {"measurement": ["mem_used_percent"]},
                       "disk": {"measurement": ["used_percent"], "resources": ["/"]}}
        config["metrics"] = {"append_dimensions": {"InstanceId": "${aws:InstanceId}"}, "metrics_collected": metrics}
    return config


def config_text(chosen: Iterable[str], platform: str, prefix: str = DEFAULT_PREFIX) -> str:
    """:func:`agent_config` as the parameter's value (indented: it is read by people in the console too)."""
    return json.dumps(agent_config(chosen, platform, prefix), indent=2)


def log_groups(config: dict[str, Any]) -> list[str]:
    """The log groups a configuration ships to, once each, in order."""
    collected = (config.get("logs") or {}).get("logs_collected") or {}
    out: list[str] = []
    for section in ("files", "windows_events"):
        for entry in (collected.get(section) or {}).get("collect_list") or []:
            if entry["log_group_name"] not in out:
                out.append(entry["log_group_name"])
    return out


MANAGE_DOC = "AmazonCloudWatch-ManageAgent"


def manage_parameters(parameter: str) -> dict[str, list[str]]:
    """ManageAgent's parameters that configure the agent from the Parameter Store parameter ``parameter`` and
    restart it (``amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c ssm:<parameter> -s``)."""
    return {"action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["ssm"],
            "optionalConfigurationLocation": [parameter], "optionalRestart": ["yes"]}


@dataclass(frozen=True)
class AgentSetup:
    """What the form decided: the parameter, its value, and what it collects (for the confirmation)."""

    parameter: str
    text: str
    platform: str
    presets: tuple[str, ...]
    groups: tuple[str, ...]
    metrics: bool

    @property
    def labels(self) -> Sequence[str]:
        return [p.label for p in PRESETS if p.id in self.presets]


def setup(chosen: Iterable[str], platform: str, parameter: str, prefix: str = DEFAULT_PREFIX) -> AgentSetup:
    """Check the parameter name and build the configuration; raises PresetError with what to fix."""
    problem = parameter_problem(parameter)
    if problem:
        raise PresetError(f"Parameter name: {problem}")
    chosen = tuple(c for c in PRESET_IDS if c in set(chosen))
    config = agent_config(chosen, platform, prefix)
    return AgentSetup(parameter, json.dumps(config, indent=2), platform, chosen, tuple(log_groups(config)),
                      "metrics" in chosen)
