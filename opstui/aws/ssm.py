"""SSM calls: managed nodes (DescribeInstanceInformation). Later issues add commands, sessions, inventory."""

from __future__ import annotations

import sys
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
