"""Put a :class:`~opstui.sandbox.scenarios.Scenario` into moto's backends (technique A).

Why not boto3 RunInstances: through the API every launch scans moto's 1,301 default AMIs and
creates a root volume, and each request costs ~10 ms of HTTP and XML; 10,000 instances took
minutes. Constructing moto's own ``Instance`` objects directly, with the AMI scan stubbed out
for the duration, keeps the objects complete (NICs, subnet IPs, state) so every other moto
EC2 call (Stop/Start, CreateTags, DescribeInstanceStatus) still works on them.

One reservation per instance: the app paginates DescribeInstances per instance, and moto's
stock MaxResults counts reservations.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models import instances as ec2_instances
from moto.ec2.models.instances import Instance, Reservation

from . import ec2_fast, ssm_nodes
from .scenarios import DISTROS, NETWORKS, NodeSpec, Scenario
from .ssm_nodes import ManagedNode, NodeRegistry


@dataclass
class RegionNetwork:
    vpc_id: str
    subnets: dict[str, Any]  # az -> moto Subnet


@contextlib.contextmanager
def _fast_launch(backend: Any, ids: Iterator[str]) -> Iterator[None]:
    """Stub the per-launch AMI scan and make instance ids deterministic while seeding."""
    original_random_id = ec2_instances.random_instance_id
    backend.describe_images = lambda *a, **kw: []  # instance attribute shadows the method
    ec2_instances.random_instance_id = lambda: next(ids)
    try:
        yield
    finally:
        ec2_instances.random_instance_id = original_random_id
        del backend.describe_images


def _network(backend: Any, region: str) -> RegionNetwork:
    vpc_cidr, subnet_cidrs = NETWORKS[region]
    vpc = backend.create_vpc(vpc_cidr, tags=[{"Key": "Name", "Value": f"opstui-{region}"}])
    subnets = {}
    for az, cidr in subnet_cidrs.items():
        subnets[az] = backend.create_subnet(vpc.id, cidr, availability_zone=az)
        backend.create_tags([subnets[az].id], {"Name": f"private-{az}"})
    return RegionNetwork(vpc_id=vpc.id, subnets=subnets)


def _launch(backend: Any, net: RegionNetwork, spec: NodeSpec, reservation_id: str) -> Any:
    platform_type, _pname, _pversion, image_id = DISTROS[spec.distro]
    assert spec.az is not None
    instance = Instance(
        backend,
        image_id,
        None,
        [],
        instance_type=spec.instance_type,
        region_name=spec.region,
        subnet_id=net.subnets[spec.az].id,
        private_ip=spec.private_ip,
        key_name=spec.key_name,
        associate_public_ip=False,
    )
    instance.launch_time = spec.launch_time.replace(tzinfo=None)
    instance.architecture = spec.architecture
    instance.virtualization_type = "hvm"
    if platform_type == "Windows":
        instance.platform = "windows"
        instance._opstui_platform_details = "Windows"
        instance.root_device_name = "/dev/sda1"
    else:
        instance.platform = None
        instance._opstui_platform_details = (
            "Red Hat Enterprise Linux" if spec.distro == "rhel9" else "Linux/UNIX"
        )
        instance.root_device_name = "/dev/xvda"
    reservation = Reservation(reservation_id=reservation_id, owner_id=backend.account_id)
    reservation.instances.append(instance)
    backend.reservations[reservation.id] = reservation
    backend.tags[instance.id].update(spec.tags)
    if spec.ec2_state == "stopped":
        instance.stop()
        instance._reason = "User initiated (2025-05-10 09:12:44 GMT)"
    return instance


def _node_for(spec: NodeSpec, now: dt.datetime, rng: random.Random) -> ManagedNode:
    platform_type, platform_name, platform_version, _ami = DISTROS[spec.distro]
    if spec.ping_status == "Online" and spec.ec2_state != "stopped":
        last_ping = now - dt.timedelta(seconds=rng.randrange(5, 290))
    else:
        last_ping = now - dt.timedelta(hours=rng.randrange(3, 200), minutes=rng.randrange(60))
    assoc_time = now - dt.timedelta(minutes=rng.randrange(10, 600))
    last_ok = assoc_time if spec.association_status == "Success" else assoc_time - dt.timedelta(days=2)
    return ManagedNode(
        instance_id=spec.instance_id,
        ping_status=spec.ping_status,
        last_ping=last_ping,
        agent_version=spec.agent_version,
        platform_type=platform_type,
        platform_name=spec.platform_name or platform_name,
        platform_version=spec.platform_version or platform_version,
        resource_type="ManagedInstance" if spec.is_hybrid else "EC2Instance",
        ip_address=spec.private_ip,
        computer_name=spec.computer_name,
        name=spec.hybrid_name if spec.is_hybrid else None,
        activation_id=spec.activation_id,
        registration_date=dt.datetime(2024, 11, 5, 2, 30, tzinfo=dt.UTC) if spec.is_hybrid else None,
        iam_role=spec.iam_role,
        association_status=spec.association_status,
        last_association=assoc_time if spec.association_status else None,
        last_successful_association=last_ok if spec.association_status else None,
        tags=dict(spec.tags) if spec.is_hybrid else {},
        pinned=spec.pinned,
    )


def seed(scenario: Scenario, registry: NodeRegistry, seed_value: int = 42) -> dict[str, int]:
    """Create the scenario's VPCs, instances and managed nodes. Returns node counts per region."""
    ec2_fast.EXTENSION.install()  # the fast launch and the index (a no-op once Sandbox.start() installed all)
    ssm_nodes.EXTENSION.install()
    registry.latest_agent = scenario.latest_agent
    rng = random.Random(seed_value ^ 0x5EED)
    now = dt.datetime.now(dt.UTC)
    account = scenario.account_id
    counts: dict[str, int] = {}
    regions = list(dict.fromkeys([*scenario.regions, *(n.region for n in scenario.nodes)]))
    for region in regions:
        backend = ec2_backends[account][region]
        specs = [n for n in scenario.nodes if n.region == region]
        net = _network(backend, region)
        ec2_specs = [s for s in specs if not s.is_hybrid]
        with _fast_launch(backend, iter([s.instance_id for s in ec2_specs])):
            for spec in ec2_specs:
                reservation_id = "r-0" + "".join(rng.choice("0123456789abcdef") for _ in range(16))
                _launch(backend, net, spec, reservation_id)
        for spec in specs:
            registry.add(account, region, _node_for(spec, now, rng))
        counts[region] = len(specs)
    return counts
