"""SSM calls: managed nodes (DescribeInstanceInformation). Later issues add commands, sessions, inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.models import ManagedNode

PAGE_SIZE = 50  # DescribeInstanceInformation's maximum


def _display(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dict | list):
        return repr(value)
    return str(value)


def managed_node_from_api(item: dict[str, Any], region: str) -> ManagedNode:
    last_ping = item.get("LastPingDateTime")
    return ManagedNode(
        instance_id=item.get("InstanceId", ""),
        region=region,
        ping_status=item.get("PingStatus", ""),
        last_ping=last_ping if isinstance(last_ping, datetime) else None,
        agent_version=item.get("AgentVersion", ""),
        is_latest_version=item.get("IsLatestVersion"),
        platform_type=item.get("PlatformType", ""),
        platform_name=item.get("PlatformName", ""),
        platform_version=item.get("PlatformVersion", ""),
        resource_type=item.get("ResourceType", ""),
        ip_address=item.get("IPAddress", ""),
        computer_name=item.get("ComputerName", ""),
        name=item.get("Name", ""),
        fields=tuple((k, _display(v)) for k, v in item.items()),
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
