"""The Fleet: SSM managed nodes joined with EC2 instances, for many regions at once.

The join is two paginated listings per region (no per-node calls): ceil(N/50) DescribeInstanceInformation
pages and ceil(N/1000) DescribeInstances pages. Regions load concurrently; a failing region becomes a
`RegionFleet` with an error and never stops the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from opstui.aws import ec2, ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import Ec2Instance, FleetNode, FleetSnapshot, ManagedNode, RegionFleet

NOT_MANAGED = "NotManaged"


def _platform(node: ManagedNode | None, inst: Ec2Instance | None) -> str:
    if node and node.platform_name:
        return f"{node.platform_name} {node.platform_version}".strip()
    if node and node.platform_type:
        return node.platform_type
    return inst.platform if inst else ""


def is_hybrid(node: ManagedNode) -> bool:
    return node.resource_type == "ManagedInstance" or node.instance_id.startswith("mi-")


def join(nodes: Iterable[ManagedNode], instances: Iterable[Ec2Instance], region: str,
         hybrid_tags: dict[str, tuple[tuple[str, str], ...]] | None = None) -> list[FleetNode]:
    """Join by instance id. Hybrid (mi-) nodes have no instance: their tags come from `hybrid_tags`
    (ListTagsForResource); unmanaged instances show as NotManaged."""
    by_id = {i.instance_id: i for i in instances}
    hybrid_tags = hybrid_tags or {}
    out: list[FleetNode] = []
    seen: set[str] = set()
    for node in nodes:
        inst = by_id.get(node.instance_id)
        seen.add(node.instance_id)
        tags = inst.tags if inst else hybrid_tags.get(node.instance_id, ())
        name = (inst.name if inst else "") or node.name or node.computer_name
        if not tags and node.name and node.instance_id not in hybrid_tags:
            tags = (("Name", node.name),)  # tags unknown: the registration name stands in for the Name tag
        out.append(
            FleetNode(
                instance_id=node.instance_id,
                region=region,
                name=name,
                ping_status=node.ping_status,
                platform=_platform(node, inst),
                agent_version=node.agent_version,
                agent_outdated=node.is_latest_version is False,
                ip=node.ip_address or (inst.private_ip if inst else ""),
                ec2_state=inst.state if inst else "",
                instance_type=inst.instance_type if inst else "",
                availability_zone=inst.availability_zone if inst else "",
                last_ping=node.last_ping,
                tags=tags,
                ssm_fields=node.fields,
                ec2_fields=_ec2_fields(inst) if inst else (),
            )
        )
    for inst in by_id.values():
        if inst.instance_id in seen:
            continue
        out.append(
            FleetNode(
                instance_id=inst.instance_id,
                region=region,
                name=inst.name,
                ping_status=NOT_MANAGED,
                platform=inst.platform,
                agent_version="",
                agent_outdated=False,
                ip=inst.private_ip,
                ec2_state=inst.state,
                instance_type=inst.instance_type,
                availability_zone=inst.availability_zone,
                last_ping=None,
                tags=inst.tags,
                ec2_fields=_ec2_fields(inst),
            )
        )
    return out


def _ec2_fields(inst: Ec2Instance) -> tuple[tuple[str, str], ...]:
    return (
        ("State", inst.state),
        ("InstanceType", inst.instance_type),
        ("AvailabilityZone", inst.availability_zone),
        ("PrivateIpAddress", inst.private_ip),
        ("PublicIpAddress", inst.public_ip),
        ("Platform", inst.platform),
        ("LaunchTime", inst.launch_time.isoformat(timespec="seconds") if inst.launch_time else ""),
    )


async def load_region(aws: AwsClients, region: str) -> RegionFleet:
    started = time.perf_counter()

    async def managed() -> tuple[list[ManagedNode], ssm.HybridTags]:
        nodes = await ssm.list_managed_nodes(aws, region)
        hybrid = [n.instance_id for n in nodes if is_hybrid(n)]
        return nodes, (await ssm.hybrid_node_tags(aws, region, hybrid) if hybrid else ssm.HybridTags({}))

    try:
        (nodes, tags), instances = await asyncio.gather(managed(), ec2.list_instances(aws, region))
    except OpsError as err:
        return RegionFleet(region=region, error=err, seconds=time.perf_counter() - started)
    except Exception as exc:  # never let one region take down the others
        err = OpsError(f"unexpected failure: {type(exc).__name__}", region=region)
        return RegionFleet(region=region, error=err, seconds=time.perf_counter() - started)
    joined = join(nodes, instances, region, tags.tags)
    unread = ""
    if tags.unread:
        unread = (f"the tags of {len(tags.unread)} hybrid node(s) in {region} could not be read "
                  f"({tags.error}); a tag target may reach more nodes than shown")
    return RegionFleet(region=region, nodes=tuple(joined), seconds=time.perf_counter() - started,
                       tags_unread=unread)


def carry_over(previous: FleetSnapshot | None, current: FleetSnapshot) -> FleetSnapshot:
    """Keep the last good nodes of a region that failed this time (marked stale), so a throttled or briefly
    unreachable region does not vanish from the operator's screen. Call it only within one account/profile."""
    if previous is None or not current.errors:
        return current
    before = {r.region: r for r in previous.regions}
    regions = []
    for r in current.regions:
        old = before.get(r.region)
        if r.error is not None and old is not None and old.nodes:
            since = old.stale_since or previous.taken_at
            r = RegionFleet(region=r.region, nodes=old.nodes, error=r.error, seconds=r.seconds, stale_since=since)
        regions.append(r)
    nodes = tuple(n for r in regions for n in r.nodes)
    return FleetSnapshot(regions=tuple(regions), taken_at=current.taken_at, nodes=nodes)


async def load_fleet(aws: AwsClients, regions: Iterable[str]) -> FleetSnapshot:
    results = await asyncio.gather(*(load_region(aws, r) for r in regions))
    nodes = tuple(n for r in results for n in r.nodes)
    return FleetSnapshot(regions=tuple(results), taken_at=datetime.now(UTC), nodes=nodes)
