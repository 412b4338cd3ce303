"""SSM calls: managed nodes (DescribeInstanceInformation). Later issues add commands, sessions, inventory."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.models import ManagedNode, short, utc

PAGE_SIZE = 50  # DescribeInstanceInformation's maximum


def _display(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).isoformat(timespec="seconds")  # type: ignore[union-attr]
    if isinstance(value, dict | list):
        return repr(value)
    return short(value)


def managed_node_from_api(item: dict[str, Any], region: str) -> ManagedNode:
    return ManagedNode(
        instance_id=item.get("InstanceId", ""),
        region=short(region),
        ping_status=short(item.get("PingStatus", "")),
        last_ping=utc(item.get("LastPingDateTime")),
        agent_version=short(item.get("AgentVersion", "")),
        is_latest_version=item.get("IsLatestVersion"),
        platform_type=short(item.get("PlatformType", "")),
        platform_name=short(item.get("PlatformName", "")),
        platform_version=short(item.get("PlatformVersion", "")),
        resource_type=short(item.get("ResourceType", "")),
        ip_address=item.get("IPAddress", ""),
        computer_name=item.get("ComputerName", ""),
        name=item.get("Name", ""),
        fields=tuple((sys.intern(k), _display(v)) for k, v in item.items()),
    )


async def list_managed_nodes(
    aws: AwsClients, region: str, filters: list[dict[str, Any]] | None = None
) -> list[ManagedNode]:
    """Every managed node of a region, 50 per page (ceil(N/50) calls)."""
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
    if filters:
        params["Filters"] = filters
    nodes: list[ManagedNode] = []
    async for page in aws.paginate("ssm", region, "describe_instance_information", "InstanceInformationList", **params):
        nodes.extend(managed_node_from_api(item, region) for item in page)
    return nodes


# -- Session Manager ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartedSession:
    """StartSession's answer. The token is needed once to open the data channel; it is never shown."""

    session_id: str
    stream_url: str
    token: str = field(repr=False)


async def start_session(
    aws: AwsClients,
    region: str,
    target: str,
    *,
    document: str | None = None,
    parameters: dict[str, list[str]] | None = None,
    reason: str | None = None,
) -> StartedSession:
    params: dict[str, Any] = {"Target": target}
    if document:
        params["DocumentName"] = document
    if parameters:
        params["Parameters"] = parameters
    if reason:
        params["Reason"] = reason
    resp = await aws.call("ssm", region, "start_session", **params)
    return StartedSession(resp["SessionId"], resp["StreamUrl"], resp.get("TokenValue", ""))


async def resume_session(aws: AwsClients, region: str, session_id: str) -> str:
    """A fresh token for re-dialing the data channel ("" if the service says the session timed out)."""
    resp = await aws.call("ssm", region, "resume_session", SessionId=session_id)
    return resp.get("TokenValue") or ""


async def terminate_session(aws: AwsClients, region: str, session_id: str) -> None:
    await aws.call("ssm", region, "terminate_session", SessionId=session_id)


async def describe_sessions(aws: AwsClients, region: str, state: str = "Active") -> list[dict[str, Any]]:
    sessions: list[dict[str, Any]] = []
    async for page in aws.paginate("ssm", region, "describe_sessions", "Sessions", State=state):
        sessions.extend(page)
    return sessions
