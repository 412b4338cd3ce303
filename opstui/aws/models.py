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
    tags_unread: str = ""  # why some hybrid nodes' tags could not be read (a tag target may reach more)


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


# -- Run Command ------------------------------------------------------------------------------------------

#: invocation statuses after which nothing changes any more
TERMINAL_STATUSES = frozenset({"Success", "Failed", "TimedOut", "Cancelled", "Undeliverable", "DeliveryTimedOut",
                               "Terminated", "InvalidPlatform", "AccessDenied", "ExecutionTimedOut"})
#: terminal statuses that count as errors (everything terminal but Success)
ERROR_STATUSES = TERMINAL_STATUSES - {"Success"}


def invocation_outcome(status: str, details: str) -> str:
    """The one word an operator wants: AWS puts Undeliverable/DeliveryTimedOut/ExecutionTimedOut in
    StatusDetails while Status says Failed/TimedOut, so the more specific of the two wins."""
    if details in ("Undeliverable", "DeliveryTimedOut", "ExecutionTimedOut", "Terminated", "InvalidPlatform",
                   "AccessDenied", "Delayed", "Cancelling"):
        return details
    return status


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """One entry of SSM ListDocuments."""

    name: str
    owner: str
    document_type: str
    platform_types: tuple[str, ...]
    version: str
    schema_version: str


@dataclass(frozen=True, slots=True)
class DocumentParameter:
    """One parameter of a document's schema (DescribeDocument's Parameters)."""

    name: str
    type: str  # String | StringList | Boolean | Integer | MapList | StringMap
    description: str
    default: str | None  # as DescribeDocument gives it (a string); None: required
    allowed_values: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True, slots=True)
class DocumentDetail:
    name: str
    description: str
    document_type: str
    platform_types: tuple[str, ...]
    parameters: tuple[DocumentParameter, ...]
    schema_version: str


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """What SendCommand needs; one request is sent per region (and per 50 instance ids)."""

    document: str
    parameters: dict[str, list[str]]
    instance_ids: tuple[str, ...] = ()
    targets: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (Key, Values): tag:Role, tag-key, resource-groups:Name
    max_concurrency: str = "50"
    max_errors: str = "0"
    timeout_seconds: int | None = None  # delivery timeout
    comment: str = ""
    cloudwatch_output: bool = True
    cloudwatch_group: str = ""  # "" = /aws/ssm/<document>
    s3_bucket: str = ""
    s3_prefix: str = ""


@dataclass(frozen=True, slots=True)
class CommandSummary:
    """One entry of SSM ListCommands (or SendCommand's answer)."""

    command_id: str
    region: str
    document: str
    comment: str
    status: str
    status_details: str
    requested: datetime | None
    target_count: int
    completed_count: int
    error_count: int
    delivery_timed_out_count: int
    max_concurrency: str
    max_errors: str
    instance_ids: tuple[str, ...]
    targets: tuple[tuple[str, tuple[str, ...]], ...]
    parameters: dict[str, list[str]]
    cloudwatch_output: bool
    cloudwatch_group: str
    s3_bucket: str
    s3_prefix: str

    @property
    def log_group(self) -> str:
        return self.cloudwatch_group or f"/aws/ssm/{self.document}"

    @property
    def finished(self) -> bool:
        return self.status in ("Success", "Failed", "TimedOut", "Cancelled")


@dataclass(frozen=True, slots=True)
class Invocation:
    """One node's part of a command (ListCommandInvocations); `output` is the first 2,500 characters."""

    command_id: str
    region: str
    instance_id: str
    instance_name: str
    status: str
    status_details: str
    response_code: int | None
    output: str
    plugins: tuple[str, ...]
    requested: datetime | None
    started: datetime | None
    finished: datetime | None
    stdout_url: str
    stderr_url: str

    @property
    def outcome(self) -> str:
        return invocation_outcome(self.status, self.status_details)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class InvocationOutput:
    """GetCommandInvocation: stdout up to 24,000 and stderr up to 8,000 characters."""

    stdout: str
    stderr: str
    response_code: int | None
    status: str
    status_details: str
    stdout_url: str
    stderr_url: str


# -- Inventory and State Manager ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InventoryFilter:
    """One GetInventory / ListInventoryEntries filter: `AWS:Application.Name` Equal ["openssl"]."""

    key: str
    values: tuple[str, ...]
    op: str = "Equal"  # Equal | NotEqual | BeginWith | LessThan | GreaterThan | Exists

    def to_api(self) -> dict[str, object]:
        return {"Key": self.key, "Values": list(self.values), "Type": self.op}


@dataclass(frozen=True, slots=True)
class InventoryItem:
    """One inventory type of one node in a GetInventory answer (its rows, as AWS gives them: strings)."""

    type_name: str
    schema_version: str
    capture_time: datetime | None
    content: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class InventoryEntity:
    """One node in a GetInventory answer: its id and the types asked for (ResultAttributes)."""

    instance_id: str
    region: str
    items: tuple[InventoryItem, ...] = ()

    def item(self, type_name: str) -> InventoryItem | None:
        return next((i for i in self.items if i.type_name == type_name), None)


@dataclass(frozen=True, slots=True)
class InventoryNode:
    """A node that has inventory, from its AWS:InstanceInformation row (the Inventory tab's node list)."""

    instance_id: str
    region: str
    computer_name: str
    platform_name: str
    platform_version: str
    platform_type: str
    agent_version: str
    ip_address: str
    capture_time: datetime | None

    @property
    def key(self) -> str:
        return f"{self.region}/{self.instance_id}"


@dataclass(frozen=True, slots=True)
class InventoryEntries:
    """ListInventoryEntries of one type on one node (every page, or up to a limit)."""

    instance_id: str
    region: str
    type_name: str
    schema_version: str
    capture_time: datetime | None
    entries: tuple[dict[str, str], ...]
    complete: bool = True  # False when a limit stopped the paging before the last page
    pages: int = 0


@dataclass(frozen=True, slots=True)
class InventoryTypeInfo:
    """One type on one node: whether it was reported and when (first ListInventoryEntries page)."""

    type_name: str
    capture_time: datetime | None
    schema_version: str
    present: bool


@dataclass(frozen=True, slots=True)
class InventorySchema:
    """GetInventorySchema: a type and its attributes (name, string|number)."""

    type_name: str
    version: str
    display_name: str
    attributes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class InventoryCount:
    """One row of an aggregation: how many nodes have `value` for the aggregated attribute."""

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class ApplicationMatch:
    """One node having the application searched for (one row per matching version on that node)."""

    instance_id: str
    region: str
    name: str
    version: str
    computer_name: str
    capture_time: datetime | None

    @property
    def key(self) -> str:
        return f"{self.region}/{self.instance_id}/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class ApplicationSearch:
    """The answer of one region to "which nodes have application X (version op V)"."""

    region: str
    name: str
    op: str | None
    version: str | None
    matches: tuple[ApplicationMatch, ...] = ()
    by_version: tuple[InventoryCount, ...] = ()  # from the AWS:Application.Version aggregator
    counts_source: str = "aggregator"  # aggregator | derived (the aggregator call failed; counted here)
    error: Exception | None = None
    seconds: float = 0.0
    pages: int = 0


@dataclass(frozen=True, slots=True)
class InventorySummary:
    """Counts by platform, OS version and agent version of one region (GetInventory aggregators)."""

    region: str
    by_platform: tuple[InventoryCount, ...] = ()
    by_os_version: tuple[InventoryCount, ...] = ()
    by_agent: tuple[InventoryCount, ...] = ()
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class Association:
    """A State Manager association (ListAssociations / DescribeAssociation)."""

    association_id: str
    region: str
    document: str
    name: str  # AssociationName ("" when none was given)
    version: str
    targets: tuple[tuple[str, tuple[str, ...]], ...]
    schedule: str
    status: str  # Overview.Status (Success | Failed | Pending ...)
    detailed_status: str
    status_counts: tuple[tuple[str, int], ...]  # Overview.AssociationStatusAggregatedCount
    last_execution: datetime | None
    last_success: datetime | None = None
    created: datetime | None = None
    parameters: dict[str, list[str]] = field(default_factory=dict)

    @property
    def targets_all_nodes(self) -> bool:
        """"All managed instances in this account": Targets InstanceIds=["*"]."""
        return any(k == "InstanceIds" and "*" in v for k, v in self.targets)


@dataclass(frozen=True, slots=True)
class AssociationExecution:
    """One run of an association (DescribeAssociationExecutions)."""

    association_id: str
    execution_id: str
    status: str
    detailed_status: str
    created: datetime | None
    resource_counts: str  # ResourceCountByStatus, e.g. '{Success=12,Failed=1}'
