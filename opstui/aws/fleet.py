"""The Fleet: SSM managed nodes joined with EC2 instances, for many regions at once.

The join is paginated listings per region (no per-node calls): DescribeInstanceInformation as six disjoint
listings paged in parallel (`ssm.list_managed_nodes_partitioned`: ceil(N/50) pages plus at most 5) and
ceil(N/1000) DescribeInstances pages. Regions load concurrently; a failing region becomes a `RegionFleet`
with an error and never stops the others. `load_fleet(..., on_progress=...)` hands out the rows seen so far
while the pages arrive, so a large fleet shows its first rows after the first pages, not after the last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
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
         hybrid_tags: dict[str, tuple[tuple[str, str], ...]] | None = None, unmanaged: bool = True,
         ) -> list[FleetNode]:
    """Join by instance id. Hybrid (mi-) nodes have no instance: their tags come from `hybrid_tags`
    (ListTagsForResource); unmanaged instances show as NotManaged (unless ``unmanaged`` is False: a partial
    listing cannot tell an unmanaged instance yet)."""
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
    for inst in by_id.values() if unmanaged else ():
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


def unique_nodes(listings: Iterable[list[ManagedNode]]) -> list[ManagedNode]:
    """The partitioned listings as one list, a node once (they are disjoint; this only guards the join)."""
    seen: set[str] = set()
    out: list[ManagedNode] = []
    for listing in listings:
        for node in listing:
            if node.instance_id not in seen:
                seen.add(node.instance_id)
                out.append(node)
    return out


#: ``on_progress(snapshot, done)``: the rows so far, and the regions whose listing is complete in it
ProgressCallback = Callable[[FleetSnapshot, frozenset[str]], None]


class FleetProgress:
    """What a refresh has seen so far. ``on_progress`` gets a snapshot each time a region finishes (so a slow
    region never holds back the others), and with ``pages`` also at the first rows, then after ``interval``
    seconds, then twice as long each time (each costs a join here and a table there: at 10,000 nodes a few
    updates, not one a page). A finished region is its final
    RegionFleet (error included); an unfinished one holds the managed nodes seen so far, joined with the
    instances seen so far (no NotManaged rows yet)."""

    def __init__(self, regions: Iterable[str], on_progress: ProgressCallback, interval: float = 1.0,
                 pages: bool = True) -> None:
        self.regions = list(regions)
        self.on_progress = on_progress
        self.interval = interval
        self.pages = pages
        self.nodes: dict[str, list[ManagedNode]] = {r: [] for r in self.regions}
        self.instances: dict[str, list[Ec2Instance]] = {r: [] for r in self.regions}
        self.finished: dict[str, RegionFleet] = {}
        self._last = 0.0
        self.published = 0

    def add_nodes(self, region: str, batch: list[ManagedNode]) -> None:
        self.nodes[region].extend(batch)
        if self.pages:
            now = time.monotonic()
            if not self.published or now - self._last >= self.interval:
                if self.published:
                    self.interval *= 2
                self._publish()

    def add_instances(self, region: str, batch: list[Ec2Instance]) -> None:
        self.instances[region].extend(batch)

    def region_done(self, result: RegionFleet) -> None:
        self.finished[result.region] = result
        if len(self.finished) < len(self.regions):  # the last one ends the refresh itself
            self._publish()

    def _publish(self) -> None:
        self._last = time.monotonic()
        self.published += 1
        regions = tuple(
            self.finished.get(r) or RegionFleet(region=r, nodes=tuple(join(self.nodes[r], self.instances[r], r,
                                                                           unmanaged=False)))
            for r in self.regions)
        self.on_progress(FleetSnapshot(regions=regions, taken_at=datetime.now(UTC),
                                       nodes=tuple(n for r in regions for n in r.nodes)), frozenset(self.finished))


async def load_region(aws: AwsClients, region: str, progress: FleetProgress | None = None) -> RegionFleet:
    result = await _load_region(aws, region, progress)
    if progress is not None:
        progress.region_done(result)
    return result


async def _load_region(aws: AwsClients, region: str, progress: FleetProgress | None) -> RegionFleet:
    started = time.perf_counter()
    on_nodes = (lambda batch: progress.add_nodes(region, batch)) if progress else None
    on_instances = (lambda batch: progress.add_instances(region, batch)) if progress else None

    async def managed() -> tuple[list[ManagedNode], ssm.HybridTags]:
        nodes = unique_nodes(await ssm.list_managed_nodes_partitioned(aws, region, on_nodes))
        hybrid = [n.instance_id for n in nodes if is_hybrid(n)]
        return nodes, (await ssm.hybrid_node_tags(aws, region, hybrid) if hybrid else ssm.HybridTags({}))

    try:
        (nodes, tags), instances = await asyncio.gather(managed(), ec2.list_instances(aws, region, on_instances))
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


def with_finished_regions(shown: FleetSnapshot, partial: FleetSnapshot, done: frozenset[str]) -> FleetSnapshot:
    """`shown` with each region of `partial` whose listing is `done` in place of its rows (a region new to the
    table is added): a slow region never holds the others back, and a region not yet listed keeps what it
    showed. A region that failed keeps its last good rows, as :func:`carry_over` does."""
    fresh = {r.region: r for r in partial.regions if r.region in done}
    regions = tuple(fresh.get(r.region, r) for r in shown.regions)
    regions += tuple(r for name, r in fresh.items() if name not in {x.region for x in regions})
    return carry_over(shown, FleetSnapshot(regions=regions, taken_at=shown.taken_at,
                                           nodes=tuple(n for r in regions for n in r.nodes)))


async def load_fleet(aws: AwsClients, regions: Iterable[str], on_progress: ProgressCallback | None = None,
                     progress_interval: float = 1.0, pages: bool = True) -> FleetSnapshot:
    """Every region's fleet; ``on_progress`` (called on the loop running this) sees each region as it finishes
    and, with ``pages``, the rows of the unfinished ones as their pages arrive (:class:`FleetProgress`)."""
    regions = list(regions)
    progress = FleetProgress(regions, on_progress, progress_interval, pages) if on_progress else None
    results = await asyncio.gather(*(load_region(aws, r, progress) for r in regions))
    nodes = tuple(n for r in results for n in r.nodes)
    return FleetSnapshot(regions=tuple(results), taken_at=datetime.now(UTC), nodes=nodes)
