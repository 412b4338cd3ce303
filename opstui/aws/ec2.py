"""EC2 calls: instances (DescribeInstances, 1000 per page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.models import Ec2Instance, short, utc

PAGE_SIZE = 1000  # DescribeInstances' maximum


def instance_from_api(item: dict[str, Any], region: str) -> Ec2Instance:
    return Ec2Instance(
        instance_id=item.get("InstanceId", ""),
        region=short(region),
        state=short((item.get("State") or {}).get("Name", "")),
        instance_type=short(item.get("InstanceType", "")),
        availability_zone=short((item.get("Placement") or {}).get("AvailabilityZone", "")),
        private_ip=item.get("PrivateIpAddress", "") or "",
        public_ip=item.get("PublicIpAddress", "") or "",
        platform=short(item.get("PlatformDetails") or item.get("Platform") or ""),
        launch_time=utc(item.get("LaunchTime")),
        tags=tuple((short(t.get("Key", "")), short(t.get("Value", ""))) for t in item.get("Tags") or ()),
    )


async def list_instances(aws: AwsClients, region: str,
                         on_page: Callable[[list[Ec2Instance]], None] | None = None) -> list[Ec2Instance]:
    """Every instance of a region (terminated ones left out), ceil(N/1000) calls; ``on_page`` sees each page."""
    instances: list[Ec2Instance] = []
    params = {
        "PaginationConfig": {"PageSize": PAGE_SIZE},
        "Filters": [
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}
        ],
    }
    async for reservations in aws.paginate("ec2", region, "describe_instances", "Reservations", **params):
        batch = [instance_from_api(i, region) for r in reservations for i in r.get("Instances", ())]
        instances.extend(batch)
        if on_page is not None and batch:
            on_page(batch)
    return instances
