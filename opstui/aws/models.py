"""Typed, frozen models of what the AWS APIs return. Views only ever see these."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

Pairs = tuple[tuple[str, str], ...]


def utc(value: object) -> datetime | None:
    """botocore gives each timestamp its own tzlocal() object; one shared UTC saves memory at 10k nodes."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def short(value: object) -> str:
    """Intern short repeated strings (ping status, platform, agent version, AZ...): one copy per fleet."""
    text = "" if value is None else str(value)
    return sys.intern(text) if len(text) <= 48 else text


@dataclass(frozen=True, slots=True)
class ManagedNode:
    """One entry of SSM DescribeInstanceInformation."""

    instance_id: str
    region: str
    ping_status: str
    last_ping: datetime | None
    agent_version: str
    is_latest_version: bool | None
    platform_type: str
    platform_name: str
    platform_version: str
    resource_type: str
    ip_address: str
    computer_name: str
    name: str
    fields: Pairs = ()  # every field the API returned, as display strings, for the detail pane


@dataclass(frozen=True, slots=True)
class Ec2Instance:
    """One instance from EC2 DescribeInstances."""

    instance_id: str
    region: str
    state: str
    instance_type: str
    availability_zone: str
    private_ip: str
    public_ip: str
    platform: str
    launch_time: datetime | None
    tags: Pairs = ()

    @property
    def name(self) -> str:
        return dict(self.tags).get("Name", "")


@dataclass(frozen=True, slots=True)
class FleetNode:
    """A managed node joined with its EC2 instance (either side may be missing)."""

    instance_id: str
    region: str
    name: str
    ping_status: str  # Online | ConnectionLost | Inactive | NotManaged (EC2 instance with no SSM agent)
    platform: str
    agent_version: str
    agent_outdated: bool
    ip: str
    ec2_state: str  # running | stopped | ... | "" for hybrid (mi-) nodes
    instance_type: str
    availability_zone: str
    last_ping: datetime | None
    tags: Pairs = ()
    ssm_fields: Pairs = ()
    ec2_fields: Pairs = ()

    @property
    def key(self) -> str:
        return f"{self.region}/{self.instance_id}"

    def tag(self, key: str) -> str | None:
        for k, v in self.tags:
            if k == key:
                return v
        return None


@dataclass(frozen=True, slots=True)
class RegionFleet:
    """The fleet of one region, or why it could not be loaded."""

    region: str
    nodes: tuple[FleetNode, ...] = ()
    error: Exception | None = None
    seconds: float = 0.0
    stale_since: datetime | None = None  # set when `nodes` are the last good ones, kept through an error


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    regions: tuple[RegionFleet, ...]
    taken_at: datetime
    nodes: tuple[FleetNode, ...] = field(default=())

    @property
    def errors(self) -> list[RegionFleet]:
        return [r for r in self.regions if r.error is not None]


@dataclass(frozen=True, slots=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str
