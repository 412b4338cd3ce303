"""SSM calls: managed nodes, Session Manager, documents and Run Command. Later issues add inventory."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import (
    CommandRequest,
    CommandSummary,
    DocumentDetail,
    DocumentParameter,
    DocumentSummary,
    Invocation,
    InvocationOutput,
    ManagedNode,
    short,
    utc,
)

PAGE_SIZE = 50  # DescribeInstanceInformation's maximum


def _display(value: Any) -> str:
    if isinstance(value, datetime):
        return utc(value).isoformat(timespec="seconds")  # type: ignore[union-attr]
    return short(value)


def flat_fields(item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A response item as (key, text) pairs; nested structures become dotted keys, one pair per leaf
    (``AssociationOverview.DetailedStatus`` = ``Success``), never a Python repr. A list of plain values is one
    comma-separated value; a list of structures numbers its items (``Key[0].Name``). The detail pane draws
    the dotted keys as an indented tree (`views/fleet/detail.py`)."""
    out: list[tuple[str, str]] = []

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            if not value:
                out.append((key, ""))
            for k, v in value.items():
                walk(f"{key}.{k}", v)
        elif isinstance(value, list | tuple):
            if all(not isinstance(v, dict | list | tuple) for v in value):
                out.append((key, ", ".join(_display(v) for v in value)))
            else:
                for i, v in enumerate(value):
                    walk(f"{key}[{i}]", v)
        else:
            out.append((sys.intern(key) if "." not in key else key, _display(value)))

    for k, v in item.items():
        walk(k, v)
    return tuple(out)


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
        fields=flat_fields(item),
    )


async def list_managed_nodes(
    aws: AwsClients, region: str, filters: list[dict[str, Any]] | None = None,
    on_page: Callable[[list[ManagedNode]], None] | None = None,
) -> list[ManagedNode]:
    """Every managed node of a region (matching ``filters``), 50 per page (ceil(N/50) calls); ``on_page`` sees
    each page's nodes as it arrives."""
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
    if filters:
        params["Filters"] = filters
    nodes: list[ManagedNode] = []
    async for page in aws.paginate("ssm", region, "describe_instance_information", "InstanceInformationList", **params):
        batch = [managed_node_from_api(item, region) for item in page]
        nodes.extend(batch)
        if on_page is not None and batch:
            on_page(batch)
    return nodes


HYBRID_TAGS_PARALLEL = 8  # ListTagsForResource calls in flight per region (one call per hybrid node)


@dataclass(frozen=True, slots=True)
class HybridTags:
    """The tags of a region's hybrid (``mi-``) nodes. DescribeInstanceInformation carries no tags and hybrid
    nodes have no EC2 instance, so ListTagsForResource (ResourceType ManagedInstance) is the only source; a
    tag target that SendCommand expands reaches them, so the blast radius must know their tags too.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListTagsForResource.html"""

    tags: dict[str, tuple[tuple[str, str], ...]]
    unread: tuple[str, ...] = ()  # ids whose tags could not be read
    error: OpsError | None = None  # the first reason why


async def hybrid_node_tags(aws: AwsClients, region: str, instance_ids: list[str] | tuple[str, ...],
                           parallel: int = HYBRID_TAGS_PARALLEL) -> HybridTags:
    """Tags of each hybrid node, at most `parallel` calls at a time. A node whose call fails is listed in
    `unread` (with the first error) instead of failing the others: the caller says the count may be low."""
    sem = asyncio.Semaphore(parallel)
    tags: dict[str, tuple[tuple[str, str], ...]] = {}
    unread: list[str] = []
    errors: list[OpsError] = []

    async def one(iid: str) -> None:
        async with sem:
            try:
                resp = await aws.call("ssm", region, "list_tags_for_resource", ResourceType="ManagedInstance",
                                      ResourceId=iid)
            except OpsError as err:
                unread.append(iid)
                errors.append(err)
                return
        tags[iid] = tuple((str(t.get("Key", "")), str(t.get("Value", ""))) for t in resp.get("TagList", ()))

    await asyncio.gather(*(one(i) for i in instance_ids))
    return HybridTags(tags, tuple(i for i in instance_ids if i in set(unread)), errors[0] if errors else None)


#: The values of two DescribeInstanceInformation filter keys that every managed node has exactly one of, so the
#: listings of their combinations are disjoint and their union is every node. The API reference
#: (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html)
#: lists the valid values of the ``PlatformTypes`` key, "Windows | Linux | MacOS", and of ``ResourceType``,
#: "EC2Instance | ManagedInstance"; botocore's model has the same closed enums for the InstanceInformation fields
#: ``PlatformType`` and ``ResourceType``. Both describe what the node is, not its state, so unlike
#: ``PingStatus`` (which a node can change between two listings, then shown twice or not at all) a node cannot
#: move from one listing to another while they are paged. Non-tag keys combine (tag keys do not), one filter
#: each, one value each.
PARTITION_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PlatformTypes", ("Linux", "Windows", "MacOS")),
    ("ResourceType", ("EC2Instance", "ManagedInstance")),
)


def node_partitions() -> list[list[dict[str, Any]]]:
    """The Filters of each listing: PlatformTypes x ResourceType (3 x 2 = 6), disjoint, union exact."""
    (key_a, values_a), (key_b, values_b) = PARTITION_KEYS
    return [[{"Key": key_a, "Values": [a]}, {"Key": key_b, "Values": [b]}] for a in values_a for b in values_b]


async def list_managed_nodes_partitioned(
    aws: AwsClients, region: str, on_page: Callable[[list[ManagedNode]], None] | None = None,
) -> list[list[ManagedNode]]:
    """Every managed node of a region as :func:`node_partitions` listings paged in parallel, one list each.

    Why: a region of N nodes is ceil(N/50) pages and each page waits for the token of the one before, so one
    listing costs N/50 round trips (200 at 10,000 nodes: 24 s at 120 ms). Disjoint listings page side by side:
    the time is that of the largest one, for at most 5 extra calls (a listing with no node still costs one).
    The lists are returned as the listings answered, so a caller (and the test) can see that no node is in two.
    """
    return list(await asyncio.gather(*(list_managed_nodes(aws, region, f, on_page) for f in node_partitions())))


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


# -- Documents ---------------------------------------------------------------------------------------------


async def list_documents(
    aws: AwsClients, region: str, *, document_type: str = "Command", owner: str | None = None
) -> list[DocumentSummary]:
    """Documents of one type (all owners unless `owner` is given: Amazon, Self, ...), paged by botocore."""
    filters: list[dict[str, Any]] = [{"Key": "DocumentType", "Values": [document_type]}]
    if owner:
        filters.append({"Key": "Owner", "Values": [owner]})
    docs: list[DocumentSummary] = []
    async for page in aws.paginate("ssm", region, "list_documents", "DocumentIdentifiers", Filters=filters,
                                   PaginationConfig={"PageSize": 50}):
        for item in page:
            docs.append(DocumentSummary(
                name=item.get("Name", ""),
                owner=short(item.get("Owner", "")),
                document_type=short(item.get("DocumentType", "")),
                platform_types=tuple(item.get("PlatformTypes", ())),
                version=short(item.get("DocumentVersion", "")),
                schema_version=short(item.get("SchemaVersion", "")),
            ))
    docs.sort(key=lambda d: d.name.lower())
    return docs


async def describe_document(aws: AwsClients, region: str, name: str) -> DocumentDetail:
    """A document's parameter schema, from which the Run Command form is generated."""
    doc = (await aws.call("ssm", region, "describe_document", Name=name)).get("Document", {})
    # DescribeDocument has no allowed values or display hints: those live in the content (GetDocument).
    content: dict[str, Any] = {}
    if doc.get("DocumentFormat", "JSON") == "JSON":
        try:
            raw = (await aws.call("ssm", region, "get_document", Name=name)).get("Content", "")
            content = json.loads(raw).get("parameters", {}) or {}
        except (OpsError, ValueError, AttributeError):
            content = {}
    params = []
    for p in doc.get("Parameters", ()):
        spec = content.get(p.get("Name", "")) if isinstance(content, dict) else None
        allowed = (spec or {}).get("allowedValues") or ()
        params.append(DocumentParameter(
            name=p.get("Name", ""),
            type=p.get("Type", "String"),
            description=p.get("Description", ""),
            default=p.get("DefaultValue"),
            allowed_values=tuple(str(v) for v in allowed),
        ))
    return DocumentDetail(
        name=doc.get("Name", name),
        description=doc.get("Description", ""),
        document_type=doc.get("DocumentType", ""),
        platform_types=tuple(doc.get("PlatformTypes", ())),
        parameters=tuple(params),
        schema_version=doc.get("SchemaVersion", ""),
    )


# -- Run Command -------------------------------------------------------------------------------------------

MAX_IDS_PER_COMMAND = 50  # SendCommand takes at most 50 InstanceIds


def _targets(raw: list[dict[str, Any]] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t.get("Key", ""), tuple(t.get("Values", ()))) for t in raw or ())


def command_from_api(item: dict[str, Any], region: str) -> CommandSummary:
    cw = item.get("CloudWatchOutputConfig") or {}
    return CommandSummary(
        command_id=item.get("CommandId", ""),
        region=region,
        document=item.get("DocumentName", ""),
        comment=item.get("Comment", ""),
        status=short(item.get("Status", "")),
        status_details=short(item.get("StatusDetails", "")),
        requested=utc(item.get("RequestedDateTime")),
        target_count=int(item.get("TargetCount", 0) or 0),
        completed_count=int(item.get("CompletedCount", 0) or 0),
        error_count=int(item.get("ErrorCount", 0) or 0),
        delivery_timed_out_count=int(item.get("DeliveryTimedOutCount", 0) or 0),
        max_concurrency=str(item.get("MaxConcurrency", "")),
        max_errors=str(item.get("MaxErrors", "")),
        instance_ids=tuple(item.get("InstanceIds", ())),
        targets=_targets(item.get("Targets")),
        parameters={k: list(v) for k, v in (item.get("Parameters") or {}).items()},
        cloudwatch_output=bool(cw.get("CloudWatchOutputEnabled")),
        cloudwatch_group=cw.get("CloudWatchLogGroupName", "") or "",
        s3_bucket=item.get("OutputS3BucketName", "") or "",
        s3_prefix=item.get("OutputS3KeyPrefix", "") or "",
    )


def send_command_params(request: CommandRequest, instance_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    """SendCommand's parameters for one request (and at most 50 of its instance ids)."""
    params: dict[str, Any] = {
        "DocumentName": request.document,
        "Parameters": request.parameters,
        "MaxConcurrency": request.max_concurrency,
        "MaxErrors": request.max_errors,
    }
    if instance_ids:
        params["InstanceIds"] = list(instance_ids)
    else:
        params["Targets"] = [{"Key": k, "Values": list(v)} for k, v in request.targets]
    if request.timeout_seconds:
        params["TimeoutSeconds"] = request.timeout_seconds
    if request.comment:
        params["Comment"] = request.comment[:100]  # the API's limit
    if request.cloudwatch_output:
        cw: dict[str, Any] = {"CloudWatchOutputEnabled": True}
        if request.cloudwatch_group:
            cw["CloudWatchLogGroupName"] = request.cloudwatch_group
        params["CloudWatchOutputConfig"] = cw
    if request.s3_bucket:
        params["OutputS3BucketName"] = request.s3_bucket
        if request.s3_prefix:
            params["OutputS3KeyPrefix"] = request.s3_prefix
    return params


async def send_command(aws: AwsClients, region: str, request: CommandRequest) -> list[CommandSummary]:
    """Send a command to one region. Explicit instance ids go 50 per SendCommand (the API's limit), so a
    selection of 120 nodes becomes three commands; targets by tag or resource group are one command."""
    if request.instance_ids:
        ids = request.instance_ids
        chunks = [ids[i:i + MAX_IDS_PER_COMMAND] for i in range(0, len(ids), MAX_IDS_PER_COMMAND)]
    else:
        chunks = [()]
    sent: list[CommandSummary] = []
    for chunk in chunks:
        resp = await aws.call("ssm", region, "send_command", **send_command_params(request, chunk))
        sent.append(command_from_api(resp.get("Command", {}), region))
    return sent


async def get_command(aws: AwsClients, region: str, command_id: str) -> CommandSummary:
    """The command's counters and status: one call, whatever the number of nodes."""
    resp = await aws.call("ssm", region, "list_commands", CommandId=command_id)
    items = resp.get("Commands") or []
    if not items:
        raise OpsError(f"command {command_id} not found", kind="not-found", service="ssm", region=region,
                       operation="ListCommands")
    return command_from_api(items[0], region)


async def list_commands(aws: AwsClients, region: str, *, limit: int = 200) -> list[CommandSummary]:
    """Recent commands of a region, newest first, at most `limit` (history view)."""
    found: list[CommandSummary] = []
    async for page in aws.paginate("ssm", region, "list_commands", "Commands",
                                   PaginationConfig={"PageSize": 50, "MaxItems": limit}):
        found.extend(command_from_api(item, region) for item in page)
    return found


async def list_commands_since(aws: AwsClients, region: str, after: datetime) -> list[CommandSummary]:
    """Every command of a region requested after `after`: one paged call covers all the commands of a
    run (a run of 1,000 nodes by instance id is 20 commands), instead of one ListCommands each."""
    found: list[CommandSummary] = []
    filters = [{"key": "InvokedAfter", "value": utc(after).strftime("%Y-%m-%dT%H:%M:%SZ")}]  # type: ignore[union-attr]
    async for page in aws.paginate("ssm", region, "list_commands", "Commands", Filters=filters,
                                   PaginationConfig={"PageSize": 50}):
        found.extend(command_from_api(item, region) for item in page)
    return found


def _exit_code(code: Any) -> int | None:
    """A plugin's ResponseCode as an exit code: AWS reports -1 until the plugin has one (pending, never
    delivered, timed out before starting), and that is no exit code."""
    return code if isinstance(code, int) and code >= 0 else None


def invocation_from_api(item: dict[str, Any], region: str) -> Invocation:
    plugins = item.get("CommandPlugins") or []
    output = "".join(p.get("Output", "") or "" for p in plugins)
    codes = [p["ResponseCode"] for p in plugins if _exit_code(p.get("ResponseCode")) is not None]
    code = next((c for c in codes if c != 0), codes[-1] if codes else None)
    return Invocation(
        command_id=item.get("CommandId", ""),
        region=region,
        instance_id=item.get("InstanceId", ""),
        instance_name=item.get("InstanceName", "") or "",
        status=short(item.get("Status", "")),
        status_details=short(item.get("StatusDetails", "")),
        response_code=code,
        output=output,
        plugins=tuple(short(p.get("Name", "")) for p in plugins),
        requested=utc(item.get("RequestedDateTime")),
        started=utc(plugins[0].get("ResponseStartDateTime")) if plugins else None,
        finished=utc(plugins[-1].get("ResponseFinishDateTime")) if plugins else None,
        stdout_url=item.get("StandardOutputUrl", "") or "",
        stderr_url=item.get("StandardErrorUrl", "") or "",
    )


async def list_invocations(
    aws: AwsClients, region: str, command_id: str, *, details: bool = False
) -> list[Invocation]:
    """Every node's invocation of a command: 50 per page, so the cost grows with pages, not nodes."""
    found: list[Invocation] = []
    async for page in aws.paginate("ssm", region, "list_command_invocations", "CommandInvocations",
                                   CommandId=command_id, Details=details, PaginationConfig={"PageSize": 50}):
        found.extend(invocation_from_api(item, region) for item in page)
    return found


async def get_invocation_output(
    aws: AwsClients, region: str, command_id: str, instance_id: str, plugin: str | None = None
) -> InvocationOutput:
    """One node's output (stdout truncated by the service at 24,000 characters, stderr at 8,000)."""
    params: dict[str, Any] = {"CommandId": command_id, "InstanceId": instance_id}
    if plugin:
        params["PluginName"] = plugin
    resp = await aws.call("ssm", region, "get_command_invocation", **params)
    code = _exit_code(resp.get("ResponseCode"))
    return InvocationOutput(
        stdout=resp.get("StandardOutputContent", "") or "",
        stderr=resp.get("StandardErrorContent", "") or "",
        response_code=code,
        status=short(resp.get("Status", "")),
        status_details=short(resp.get("StatusDetails", "")),
        stdout_url=resp.get("StandardOutputUrl", "") or "",
        stderr_url=resp.get("StandardErrorUrl", "") or "",
    )


async def cancel_command(
    aws: AwsClients, region: str, command_id: str, instance_ids: list[str] | None = None
) -> None:
    params: dict[str, Any] = {"CommandId": command_id}
    if instance_ids:
        params["InstanceIds"] = instance_ids
    await aws.call("ssm", region, "cancel_command", **params)


async def put_parameter(aws: AwsClients, region: str, name: str, value: str, *, description: str = "") -> int:
    """Store ``value`` as a String parameter, replacing what is there (Overwrite); returns its new version.

    A mutating call: the read-only guard refuses PutParameter before it leaves. Parameter Store is regional,
    so a configuration for nodes in several regions is put once in each of them."""
    params: dict[str, Any] = {"Name": name, "Value": value, "Type": "String", "Overwrite": True}
    if description:
        params["Description"] = description
    resp = await aws.call("ssm", region, "put_parameter", **params)
    return int(resp.get("Version", 0) or 0)
