"""Per-node software state that Run Command changes and later features read (sandbox only).

Why a module of its own: installing the CloudWatch agent with ``AWS-ConfigureAWSPackage`` and starting it with
``AmazonCloudWatch-ManageAgent`` are Run Command effects, but the Monitoring work reads them (which nodes can
publish agent metrics). Neither side should reach into the other's internals, so the state lives here behind
a few functions, keyed by ``(region, instance_id)`` (one account per sandbox).

Read API (stable, for other sandbox modules):

* :func:`installed_packages` -> ``{package name: version}`` (a copy)
* :func:`package_version` -> version or None
* :func:`cw_agent_status` -> ``"running"``, ``"stopped"`` or ``"not-installed"``
* :func:`cw_agent_running` -> bool
* :func:`cw_agent_config` -> the configuration location last applied (``"default"``, an SSM parameter name, ...)
* :func:`cw_agent_settings` -> the validated configuration last applied (a
  :class:`opstui.sandbox.cw_agent_config.AgentConfig`), or None: which files the agent ships, which metrics
* :func:`last_inventory` -> when ``aws:softwareInventory`` last ran on the node, or None

Writers are the Run Command simulations (:mod:`opstui.sandbox.command_exec`); :func:`clear` runs on sandbox start.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

CW_AGENT_PACKAGE = "AmazonCloudWatchAgent"


@dataclass
class NodeSoftware:
    packages: dict[str, str] = field(default_factory=dict)
    cw_agent_state: str = "stopped"  # meaningful only while the package is installed
    cw_agent_config: str | None = None
    cw_agent_settings: Any = None  # cw_agent_config.AgentConfig (kept opaque: this module imports nothing)
    cw_agent_started: dt.datetime | None = None
    last_inventory: dt.datetime | None = None


_lock = threading.Lock()
_nodes: dict[tuple[str, str], NodeSoftware] = {}


def _get(region: str, instance_id: str) -> NodeSoftware:
    return _nodes.setdefault((region, instance_id), NodeSoftware())


def clear() -> None:
    with _lock:
        _nodes.clear()


# --- read API --------------------------------------------------------------------------------------------


def installed_packages(region: str, instance_id: str) -> dict[str, str]:
    with _lock:
        node = _nodes.get((region, instance_id))
        return dict(node.packages) if node else {}


def package_version(region: str, instance_id: str, name: str) -> str | None:
    with _lock:
        node = _nodes.get((region, instance_id))
        return node.packages.get(name) if node else None


def cw_agent_status(region: str, instance_id: str) -> str:
    with _lock:
        node = _nodes.get((region, instance_id))
        if node is None or CW_AGENT_PACKAGE not in node.packages:
            return "not-installed"
        return node.cw_agent_state


def cw_agent_running(region: str, instance_id: str) -> bool:
    return cw_agent_status(region, instance_id) == "running"


def cw_agent_config(region: str, instance_id: str) -> str | None:
    with _lock:
        node = _nodes.get((region, instance_id))
        return node.cw_agent_config if node else None


def cw_agent_settings(region: str, instance_id: str) -> Any:
    with _lock:
        node = _nodes.get((region, instance_id))
        return node.cw_agent_settings if node else None


def configured_agents() -> list[tuple[str, str, Any]]:
    """(region, instance id, settings) of every node whose CloudWatch agent runs with a configuration."""
    with _lock:
        return [(region, iid, node.cw_agent_settings) for (region, iid), node in _nodes.items()
                if CW_AGENT_PACKAGE in node.packages and node.cw_agent_state == "running"
                and node.cw_agent_settings is not None]


def cw_agent_started(region: str, instance_id: str) -> dt.datetime | None:
    with _lock:
        node = _nodes.get((region, instance_id))
        return node.cw_agent_started if node else None


def last_inventory(region: str, instance_id: str) -> dt.datetime | None:
    with _lock:
        node = _nodes.get((region, instance_id))
        return node.last_inventory if node else None


# --- writers (Run Command simulations, scenario seeding, tests) -------------------------------------------


def set_package(region: str, instance_id: str, name: str, version: str | None) -> None:
    """Record ``name`` as installed at ``version``; ``None`` uninstalls (and stops the CW agent with it)."""
    with _lock:
        node = _get(region, instance_id)
        if version is None:
            node.packages.pop(name, None)
            if name == CW_AGENT_PACKAGE:
                node.cw_agent_state = "stopped"
                node.cw_agent_started = None
        else:
            node.packages[name] = version


def set_cw_agent(region: str, instance_id: str, state: str | None = None, config: str | None = None,
                 settings: Any = None) -> None:
    """Change the CloudWatch agent's state (``running``/``stopped``) and/or its applied configuration
    (``config`` its location, ``settings`` the validated configuration)."""
    if state is not None and state not in ("running", "stopped"):
        raise ValueError("state must be 'running' or 'stopped'")
    with _lock:
        node = _get(region, instance_id)
        if config is not None:
            node.cw_agent_config = config
        if settings is not None:
            node.cw_agent_settings = settings
        if state is not None:
            if state == "running" and node.cw_agent_state != "running":
                node.cw_agent_started = dt.datetime.now(dt.UTC)
            if state == "stopped":
                node.cw_agent_started = None
            node.cw_agent_state = state


def mark_inventory(region: str, instance_id: str) -> None:
    with _lock:
        _get(region, instance_id).last_inventory = dt.datetime.now(dt.UTC)
