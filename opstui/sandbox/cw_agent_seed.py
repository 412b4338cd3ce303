"""The default scenario's CloudWatch agents: prod web and app nodes of the primary region run it from the start.

Why: the demo should show live logs at once, in several groups, one stream per instance, and the agent's
memory and disk metrics; the other nodes are left for the set-up flow (install + ManageAgent through Run
Command). The configurations are stored in Parameter Store as the console's wizard names them
(``AmazonCloudWatch-linux``, ``AmazonCloudWatch-windows``) and parsed as ManageAgent's configure parses them
(:func:`.cw_agent_config.parse`), so what the seeded agents do is exactly what that parameter says.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from moto.ssm.models import ssm_backends

from . import clock, cw_agent, logs_insights, metrics, node_state
from .command_exec import PACKAGE_VERSIONS
from .cw_agent_config import parse
from .node_logs import APP_LOG, NGINX_ACCESS, NGINX_ERROR, SYSLOG_DEBIAN, SYSLOG_REDHAT
from .scenarios import PRIMARY, Scenario

LINUX_PARAMETER = "AmazonCloudWatch-linux"
WINDOWS_PARAMETER = "AmazonCloudWatch-windows"
GROUP_SYSTEM = "/prod/system/messages"
GROUP_ACCESS = "/prod/nginx/access"
GROUP_ERROR = "/prod/nginx/error"
GROUP_APP = "/prod/app/json"
GROUP_WINDOWS_SYSTEM = "/prod/windows/system"
GROUP_WINDOWS_APPLICATION = "/prod/windows/application"
METRICS_HISTORY = dt.timedelta(days=14)
#: saved Logs Insights queries of the demo account (DescribeQueryDefinitions)
SAVED_QUERIES = [
    ("storefront/5xx per minute",
     'parse @message \'"* * *" * *\' as method, path, proto, status, size | filter status >= 500 '
     "| stats count(*) as errors by bin(1m)", [GROUP_ACCESS]),
    ("app/errors by logger", "filter level = 'ERROR' | stats count(*) as errors by logger | sort errors desc",
     [GROUP_APP]),
    ("app/slowest requests", "fields @timestamp, path, status, latency_ms, request_id | sort latency_ms desc "
     "| limit 20", [GROUP_APP]),
]


def linux_config() -> dict[str, Any]:
    """System log, nginx access and error logs, the application's JSON log; memory and disk."""
    def entry(path: str, group: str, fmt: str, **extra: Any) -> dict[str, Any]:
        return {"file_path": path, "log_group_name": group, "log_stream_name": "{instance_id}",
                "timestamp_format": fmt, "retention_in_days": 30, **extra}

    return {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "cwagent"},
        "logs": {"logs_collected": {"files": {"collect_list": [
            entry(SYSLOG_REDHAT, GROUP_SYSTEM, "%b %d %H:%M:%S"),
            entry(SYSLOG_DEBIAN, GROUP_SYSTEM, "%b %d %H:%M:%S"),
            entry(NGINX_ACCESS, GROUP_ACCESS, "%d/%b/%Y:%H:%M:%S %z"),
            entry(NGINX_ERROR, GROUP_ERROR, "%Y/%m/%d %H:%M:%S"),
            entry(APP_LOG, GROUP_APP, "%Y-%m-%dT%H:%M:%S.%fZ", timezone="UTC",
                  multi_line_start_pattern="{timestamp_format}"),
        ]}}},
        "metrics": {
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]},
                                  "disk": {"measurement": ["used_percent"], "resources": ["/"]}},
        },
    }


def windows_config() -> dict[str, Any]:
    """The System and Application event logs (warnings and errors, and information for System); memory, disk."""
    return {
        "logs": {"logs_collected": {"windows_events": {"collect_list": [
            {"event_name": "System", "event_levels": ["INFORMATION", "WARNING", "ERROR", "CRITICAL"],
             "log_group_name": GROUP_WINDOWS_SYSTEM, "log_stream_name": "{instance_id}", "event_format": "xml"},
            {"event_name": "Application", "event_levels": ["WARNING", "ERROR", "CRITICAL"],
             "log_group_name": GROUP_WINDOWS_APPLICATION, "log_stream_name": "{instance_id}",
             "event_format": "text"},
        ]}}},
        "metrics": {
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {"Memory": {"measurement": ["% Committed Bytes In Use"]},
                                  "LogicalDisk": {"measurement": ["% Free Space"], "resources": ["C:"]}},
        },
    }


CURATED = 25  # the default scenario's hand-made nodes come first (scenarios.default_scenario)


def seeded_nodes(scenario: Scenario) -> list[str]:
    """Instance ids of the nodes that start with the agent: the curated prod web and app EC2 nodes of the
    primary region, running (generated nodes of a ``--nodes N`` fleet are left alone)."""
    if scenario.name != "default":
        return []
    return [n.instance_id for n in scenario.nodes[:CURATED]
            if n.region == PRIMARY and n.tags.get("Env") == "prod" and n.tags.get("Role") in ("web", "app")
            and n.ec2_state == "running"]


def seed(scenario: Scenario) -> list[str]:
    """Store both configurations and start the agent on :func:`seeded_nodes`; returns their ids."""
    ids = seeded_nodes(scenario)
    if not ids:
        return []
    account = scenario.account_id
    ssm = ssm_backends[account][PRIMARY]
    for name, body in ((LINUX_PARAMETER, linux_config()), (WINDOWS_PARAMETER, windows_config())):
        ssm.put_parameter(name=name, description="CloudWatch agent configuration (opstui demo)",
                          value=json.dumps(body, indent=2), parameter_type="String", allowed_pattern="", keyid="",
                          overwrite=True, tags=[], data_type="text", tier=None, policies=None)
    # the same parse ManageAgent's configure makes, minus the schema check (tests check these in full)
    configs = {name: parse(json.dumps(body), f"ssm:{name}", schema=False)
               for name, body in ((LINUX_PARAMETER, linux_config()), (WINDOWS_PARAMETER, windows_config()))}
    for name, text, groups in SAVED_QUERIES:
        logs_insights.save_definition(account, PRIMARY, name, text, groups)
    since = clock.now() - METRICS_HISTORY
    for iid in ids:
        windows = cw_agent.node_facts(account, PRIMARY, iid).windows
        parameter = WINDOWS_PARAMETER if windows else LINUX_PARAMETER
        node_state.set_package(PRIMARY, iid, node_state.CW_AGENT_PACKAGE, PACKAGE_VERSIONS[node_state.CW_AGENT_PACKAGE])
        node_state.set_cw_agent(PRIMARY, iid, state="running", config=f"ssm:{parameter}", settings=configs[parameter])
        metrics.backdate_agent(PRIMARY, iid, since)
    return ids
