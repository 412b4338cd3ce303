"""SSM Inventory and State Manager calls: what is installed where, and the association that keeps it fresh.

A module of its own (not a section of ssm.py) because ssm.py would pass ~600 lines with it.

Inventory answers come from GetInventory (filters on `Type.Attribute` keys, one ResultAttributes type,
Aggregators for counts; 50 entities a page, paged by botocore's paginator) and ListInventoryEntries (one
type on one node; botocore has no paginator for it, so `list_inventory_entries` follows NextToken itself).
Every value in an inventory row is a string the node reported: untrusted, shown only through `safe.clean`.

Schedules are checked here before anything is sent (`schedule_problem`), read as State Manager reads them
(`opstui.schedule`, the module the sandbox's State Manager uses too) and with the rule AWS applies to
AWS-GatherSoftwareInventory (no more often than every 30 minutes), so the form can say what is wrong at once;
the service checks again.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import (
    ApplicationMatch,
    ApplicationSearch,
    Association,
    AssociationExecution,
    InventoryCount,
    InventoryEntity,
    InventoryEntries,
    InventoryFilter,
    InventoryItem,
    InventoryNode,
    InventorySchema,
    InventorySummary,
    InventoryTypeInfo,
    short,
    utc,
)
from opstui.schedule import ASSOCIATION_MAX_RATE, Rate, Schedule, ScheduleError, parse_cron, parse_rate

INVENTORY_DOCUMENT = "AWS-GatherSoftwareInventory"
ALL_NODES_TARGET: tuple[tuple[str, tuple[str, ...]], ...] = (("InstanceIds", ("*",)),)
DEFAULT_ASSOCIATION_NAME = "opstui-inventory-all-managed-nodes"
DEFAULT_SCHEDULE = "rate(30 minutes)"
MIN_INVENTORY_PERIOD = timedelta(minutes=30)
PAGE = 50  # GetInventory / ListInventoryEntries / ListAssociations maximum
#: the types the SSM agent gathers (GetInventorySchema adds custom ones)
AWS_TYPES = ("AWS:InstanceInformation", "AWS:Application", "AWS:Network", "AWS:Service",
             "AWS:InstanceDetailedInformation", "AWS:WindowsUpdate", "AWS:AWSComponent", "AWS:File",
             "AWS:WindowsRole", "AWS:WindowsRegistry", "AWS:Tag", "AWS:ComplianceItem", "AWS:ResourceGroup")
VERSION_OPS = ("Equal", "NotEqual", "LessThan", "GreaterThan", "BeginWith")


def capture_time(value: object) -> datetime | None:
    """CaptureTime is a string in the API ("2024-05-01T10:00:00Z"); a datetime if botocore parsed it."""
    if isinstance(value, datetime):
        return utc(value)
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rows(raw: object) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    return tuple({str(k): "" if v is None else str(v) for k, v in row.items()} for row in raw if isinstance(row, dict))


def entity_from_api(item: dict[str, Any], region: str) -> InventoryEntity:
    items = []
    for type_name, data in (item.get("Data") or {}).items():
        data = data or {}
        items.append(InventoryItem(
            type_name=short(data.get("TypeName") or type_name),
            schema_version=short(data.get("SchemaVersion", "")),
            capture_time=capture_time(data.get("CaptureTime")),
            content=_rows(data.get("Content")),
        ))
    return InventoryEntity(instance_id=str(item.get("Id", "")), region=region, items=tuple(items))


# -- GetInventory ------------------------------------------------------------------------------------------


async def get_inventory(
    aws: AwsClients,
    region: str,
    *,
    filters: list[InventoryFilter] | None = None,
    result_type: str | None = None,
    max_nodes: int | None = None,
    page_size: int = PAGE,
) -> tuple[list[InventoryEntity], int]:
    """Nodes matching the filters with the data of `result_type` (AWS accepts AWS:InstanceInformation, the
    default, or AWS:PatchSummary), `page_size` (at most 50) a page. Returns (entities, pages)."""
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": page_size,
                                                   **({"MaxItems": max_nodes} if max_nodes else {})}}
    if filters:
        params["Filters"] = [f.to_api() for f in filters]
    if result_type:
        params["ResultAttributes"] = [{"TypeName": result_type}]
    entities: list[InventoryEntity] = []
    pages = 0
    async for page in aws.paginate("ssm", region, "get_inventory", "Entities", **params):
        pages += 1
        entities.extend(entity_from_api(item, region) for item in page)
    return entities, pages


def counts_from_aggregation(entities: list[InventoryEntity], type_name: str, attribute: str,
                            *, where: dict[str, str] | None = None) -> tuple[InventoryCount, ...]:
    """The rows of an aggregated answer (`{"Count": "7", "PlatformName": "Ubuntu"}`), summed by value,
    largest first. `where` keeps only rows whose other attributes match (when the service returns them)."""
    counts: Counter[str] = Counter()
    for entity in entities:
        for item in entity.items:
            if item.type_name != type_name:
                continue
            for row in item.content:
                if attribute not in row:
                    continue
                if where and any(k in row and row[k] != v for k, v in where.items()):
                    continue
                try:
                    n = int(row.get("Count", "0") or 0)
                except ValueError:
                    continue
                counts[row[attribute]] += n
    return tuple(InventoryCount(v, n) for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


async def aggregate(aws: AwsClients, region: str, expression: str,
                    filters: list[InventoryFilter] | None = None,
                    *, where: dict[str, str] | None = None) -> tuple[InventoryCount, ...]:
    """Counts by one attribute (`AWS:InstanceInformation.PlatformName`) with a GetInventory aggregator."""
    type_name, _, attribute = expression.rpartition(".")
    params: dict[str, Any] = {"Aggregators": [{"Expression": expression}]}
    if filters:
        params["Filters"] = [f.to_api() for f in filters]
    entities: list[InventoryEntity] = []
    async for page in aws.paginate("ssm", region, "get_inventory", "Entities", **params):
        entities.extend(entity_from_api(item, region) for item in page)
    return counts_from_aggregation(entities, type_name, attribute, where=where)


async def list_inventory_nodes(aws: AwsClients, region: str) -> list[InventoryNode]:
    """Every node of the region that has inventory, from its AWS:InstanceInformation row."""
    entities, _ = await get_inventory(aws, region, result_type="AWS:InstanceInformation")
    nodes = []
    for e in entities:
        item = e.item("AWS:InstanceInformation")
        row = item.content[0] if item and item.content else {}
        nodes.append(InventoryNode(
            instance_id=e.instance_id or row.get("InstanceId", ""),
            region=region,
            computer_name=row.get("ComputerName", ""),
            platform_name=short(row.get("PlatformName", "")),
            platform_version=short(row.get("PlatformVersion", "")),
            platform_type=short(row.get("PlatformType", "")),
            agent_version=short(row.get("AgentVersion", "")),
            ip_address=row.get("IpAddress", ""),
            capture_time=item.capture_time if item else None,
        ))
    return nodes


async def inventory_summary(aws: AwsClients, region: str) -> InventorySummary:
    """Counts by platform, OS version and agent version: three aggregator calls (one page each), whatever
    the number of nodes. Chosen over counting the Fleet's nodes because it covers every node that ever
    reported inventory (stopped ones too) and costs three calls a region."""
    base = "AWS:InstanceInformation."
    try:
        platform, version, agent = await asyncio.gather(
            aggregate(aws, region, base + "PlatformName"),
            aggregate(aws, region, base + "PlatformVersion"),
            aggregate(aws, region, base + "AgentVersion"),
        )
    except OpsError as err:
        return InventorySummary(region=region, error=err)
    return InventorySummary(region=region, by_platform=platform, by_os_version=version, by_agent=agent)


# -- application search ------------------------------------------------------------------------------------

_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """"3.0.2" < "3.0.13" (numbers compare as numbers, words as words, numbers after words)."""
    return tuple((1, int(p)) if p.isdigit() else (0, p.lower()) for p in _VERSION_PART.findall(version))


def version_matches(value: str, op: str | None, wanted: str | None) -> bool:
    if not op or wanted is None:
        return True
    if op == "Equal":
        return value == wanted
    if op == "NotEqual":
        return value != wanted
    if op == "BeginWith":
        return value.startswith(wanted)
    if op == "LessThan":
        return version_key(value) < version_key(wanted)
    if op == "GreaterThan":
        return version_key(value) > version_key(wanted)
    return True


def version_label(searched: str, app_name: str, app_version: str) -> str:
    """How a (name, version) is counted in `ApplicationSearch.by_version`: the version, or "name version"
    when the search was a prefix (`openssl*` finds openssl and openssl-libs)."""
    return f"{app_name} {app_version}" if searched.strip().endswith("*") else app_version


def application_filters(name: str, op: str | None = None, version: str | None = None) -> list[InventoryFilter]:
    """`openssl` -> Name Equal; `openssl*` -> Name BeginWith; plus Version <op> when both are given."""
    name = name.strip()
    if not name or name == "*":
        raise OpsError("type an application name (a trailing * matches a prefix)", kind="invalid", service="ssm")
    filters = [InventoryFilter("AWS:Application.Name", (name[:-1],), "BeginWith") if name.endswith("*")
               else InventoryFilter("AWS:Application.Name", (name,), "Equal")]
    if op and version:
        if op not in VERSION_OPS:
            raise OpsError(f"unknown version operator {op!r}", kind="invalid", service="ssm",
                           hint="use one of " + ", ".join(VERSION_OPS))
        filters.append(InventoryFilter("AWS:Application.Version", (version.strip(),), op))
    return filters


SEARCH_CONCURRENCY = 8  # per-version GetInventory queries in flight per region
MAX_VERSION_QUERIES = 60  # beyond this many (name, version) pairs, nodes are listed without their version


def _node_fields(entity: InventoryEntity) -> tuple[str, str, datetime | None]:
    item = entity.item("AWS:InstanceInformation")
    row = item.content[0] if item and item.content else {}
    platform = f"{row.get('PlatformName', '')} {row.get('PlatformVersion', '')}".strip()
    return row.get("ComputerName", ""), platform, item.capture_time if item else None


async def find_application(
    aws: AwsClients, region: str, name: str, op: str | None = None, version: str | None = None
) -> ApplicationSearch:
    """Which nodes of a region have application `name` (optionally with version `op` `version`).

    GetInventory returns only AWS:InstanceInformation per node (AWS accepts no other ResultAttributes but
    AWS:PatchSummary), so the versions come from aggregators, and the nodes per version from filters:

    1. one aggregated GetInventory (`AWS:Application.Name` -> nested `AWS:Application.Version`, with the
       search's filters): the (name, version) pairs and how many nodes have each; AWS counts only the entries
       that pass the filters, so these are the counts by version of the application searched for;
    2. per pair, GetInventory filtered on Name Equal + Version Equal (the same entry must match both): the
       nodes, 50 a page. Cost: one call + ceil(nodes/50) pages + one call per extra version.

    Errors are returned in the result (never raised), so one failing region does not hide the others.
    """
    started = time.perf_counter()
    version = version or None
    op = op if version else None
    try:
        filters = application_filters(name, op, version)
    except OpsError as err:
        err.region = region
        return ApplicationSearch(region, name, op, version, error=err)
    pages = 0
    try:
        pairs = await _application_versions(aws, region, filters)
        pages += 1
    except OpsError as err:
        return ApplicationSearch(region, name, op, version, error=err, seconds=time.perf_counter() - started)
    matches: list[ApplicationMatch] = []
    source = "aggregator"
    try:
        if len(pairs) <= MAX_VERSION_QUERIES:
            gate = asyncio.Semaphore(SEARCH_CONCURRENCY)

            async def nodes_of(app_name: str, app_version: str) -> tuple[str, str, list[InventoryEntity], int]:
                async with gate:
                    pair_filters = [InventoryFilter("AWS:Application.Name", (app_name,), "Equal"),
                                    InventoryFilter("AWS:Application.Version", (app_version,), "Equal")]
                    found, n = await get_inventory(aws, region, filters=pair_filters)
                return app_name, app_version, found, n

            answers = await asyncio.gather(*(nodes_of(n, v) for n, v, _ in pairs))
            for app_name, app_version, found, n in answers:
                pages += n
                for e in found:
                    computer, _platform, captured = _node_fields(e)
                    matches.append(ApplicationMatch(e.instance_id, region, app_name, app_version, computer, captured))
        else:  # a very broad prefix: list the nodes once, without their versions
            found, n = await get_inventory(aws, region, filters=filters)
            pages += n
            source = "aggregator (too many versions to list per node)"
            for e in found:
                computer, _platform, captured = _node_fields(e)
                matches.append(ApplicationMatch(e.instance_id, region, name, "", computer, captured))
    except OpsError as err:
        return ApplicationSearch(region, name, op, version, error=err, seconds=time.perf_counter() - started,
                                 pages=pages)
    counts: Counter[str] = Counter()
    for app_name, app_version, count in pairs:
        counts[version_label(name, app_name, app_version)] += count
    by_version = tuple(InventoryCount(v, c) for v, c in
                       sorted(counts.items(), key=lambda kv: (-kv[1], version_key(kv[0]))))
    return ApplicationSearch(region, name, op, version, matches=tuple(matches), by_version=by_version,
                             counts_source=source, seconds=time.perf_counter() - started, pages=pages)


async def _application_versions(aws: AwsClients, region: str,
                                filters: list[InventoryFilter]) -> list[tuple[str, str, int]]:
    """(name, version, nodes) of the applications passing the filters: one aggregated GetInventory."""
    params: dict[str, Any] = {
        "Filters": [f.to_api() for f in filters],
        "Aggregators": [{"Expression": "AWS:Application.Name",
                         "Aggregators": [{"Expression": "AWS:Application.Version"}]}],
    }
    resp = await aws.call("ssm", region, "get_inventory", **params)
    pairs: dict[tuple[str, str], int] = {}
    for raw in resp.get("Entities") or []:
        item = entity_from_api(raw, region).item("AWS:Application")
        for row in item.content if item else ():
            if "Name" not in row or "Version" not in row:
                continue
            try:
                n = int(row.get("Count", "0") or 0)
            except ValueError:
                continue
            key = (row["Name"], row["Version"])
            pairs[key] = pairs.get(key, 0) + n
    return [(n, v, c) for (n, v), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]


async def find_application_everywhere(
    aws: AwsClients, regions: list[str] | tuple[str, ...], name: str, op: str | None = None,
    version: str | None = None,
) -> list[ApplicationSearch]:
    """`find_application` in every region at once; each region's answer carries its own error."""
    return list(await asyncio.gather(*(find_application(aws, r, name, op, version) for r in regions)))


def merge_counts(*groups: tuple[InventoryCount, ...]) -> tuple[InventoryCount, ...]:
    total: Counter[str] = Counter()
    for group in groups:
        for c in group:
            total[c.value] += c.count
    return tuple(InventoryCount(v, n) for v, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


# -- ListInventoryEntries and GetInventorySchema -----------------------------------------------------------


async def list_inventory_entries(
    aws: AwsClients,
    region: str,
    instance_id: str,
    type_name: str,
    *,
    filters: list[InventoryFilter] | None = None,
    limit: int | None = None,
) -> InventoryEntries:
    """One type's rows on one node, 50 a page (botocore has no paginator for ListInventoryEntries, so the
    NextToken loop is here). `limit` stops after that many rows (`complete` says whether all came)."""
    params: dict[str, Any] = {"InstanceId": instance_id, "TypeName": type_name, "MaxResults": PAGE}
    if filters:
        params["Filters"] = [f.to_api() for f in filters]
    entries: list[dict[str, str]] = []
    schema_version, captured, pages = "", None, 0
    while True:
        if limit is not None:
            params["MaxResults"] = max(1, min(PAGE, limit - len(entries)))
        resp = await aws.call("ssm", region, "list_inventory_entries", **params)
        pages += 1
        entries.extend(_rows(resp.get("Entries")))
        schema_version = resp.get("SchemaVersion", schema_version) or schema_version
        captured = capture_time(resp.get("CaptureTime")) or captured
        token = resp.get("NextToken")
        if not token:
            complete = True
            break
        if limit is not None and len(entries) >= limit:
            complete = False
            break
        params["NextToken"] = token
    return InventoryEntries(instance_id=instance_id, region=region, type_name=type_name,
                            schema_version=short(schema_version), capture_time=captured, entries=tuple(entries),
                            complete=complete, pages=pages)


async def get_inventory_schema(aws: AwsClients, region: str, type_name: str | None = None) -> list[InventorySchema]:
    """Every inventory type of the account (AWS:* and custom) with its attributes."""
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": 200}}
    if type_name:
        params["TypeName"] = type_name
    found: list[InventorySchema] = []
    async for page in aws.paginate("ssm", region, "get_inventory_schema", "Schemas", **params):
        for s in page:
            found.append(InventorySchema(
                type_name=s.get("TypeName", ""),
                version=str(s.get("Version", "") or ""),
                display_name=str(s.get("DisplayName", "") or ""),
                attributes=tuple((a.get("Name", ""), a.get("DataType", "string")) for a in s.get("Attributes", ())),
            ))
    return found


async def node_inventory_types(
    aws: AwsClients, region: str, instance_id: str, type_names: list[str] | tuple[str, ...]
) -> list[InventoryTypeInfo]:
    """Which of these types the node reported and when: one one-row ListInventoryEntries per type, at once."""

    async def one(type_name: str) -> InventoryTypeInfo:
        resp = await aws.call("ssm", region, "list_inventory_entries", InstanceId=instance_id,
                              TypeName=type_name, MaxResults=1)
        captured = capture_time(resp.get("CaptureTime"))
        present = bool(resp.get("Entries")) or captured is not None
        return InventoryTypeInfo(type_name, captured, str(resp.get("SchemaVersion", "") or ""), present)

    infos = await asyncio.gather(*(one(t) for t in type_names))
    return [i for i in infos if i.present]


# -- schedules ---------------------------------------------------------------------------------------------

_AT = re.compile(r"^at\((.*)\)$", re.IGNORECASE)


def _parsed(text: str) -> Schedule:
    """The schedule as State Manager reads it (EventBridge's syntax, an optional seconds field)."""
    return parse_rate(text) if text.startswith("rate(") else parse_cron(text, seconds=True)


def schedule_period(expression: str) -> timedelta | None:
    """How often a schedule fires: exact for `rate(...)`, the shortest gap between two fire times for
    `cron(...)`, None when unknown (at(...)) or invalid."""
    try:
        return _parsed((expression or "").strip()).interval
    except ScheduleError:
        return None


def schedule_problem(expression: str, *, minimum: timedelta | None = MIN_INVENTORY_PERIOD) -> str | None:
    """Why a State Manager schedule would be refused (None: fine). Checked before sending, with the
    service's own rule for the inventory document: not more often than every 30 minutes."""
    text = (expression or "").strip()
    if not text:
        return "the schedule is empty: type rate(30 minutes), rate(1 hour), rate(1 day) or cron(0 */2 * * ? *)"
    if _AT.match(text):
        return None  # a one-time schedule: the service decides
    if not text.startswith(("rate(", "cron(")):
        return (f"{text[:60]!r} is not a schedule: use rate(N minutes|hours|days) or cron(...) "
                "(e.g. rate(30 minutes), cron(0 2 ? * * *))")
    try:
        schedule = _parsed(text)
    except ScheduleError as exc:
        return exc.reason
    if isinstance(schedule, Rate) and schedule.interval and schedule.interval >= ASSOCIATION_MAX_RATE:
        return f"{text} is too long: an association's rate must be under 31 days"
    period = schedule.interval
    if minimum is not None and period is not None and period < minimum:
        return (f"{text} runs every {human_duration(period)}: inventory may be gathered at most every "
                f"{human_duration(minimum)} (AWS rejects a shorter schedule for {INVENTORY_DOCUMENT})")
    return None


def human_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        n, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        n, unit = seconds // 3600, "hour"
    else:
        n, unit = seconds // 60, "minute"
    return f"{n} {unit}{'s' if n != 1 else ''}"


# -- State Manager associations ----------------------------------------------------------------------------


def _targets(raw: list[dict[str, Any]] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t.get("Key", ""), tuple(t.get("Values", ()))) for t in raw or ())


def association_from_api(item: dict[str, Any], region: str) -> Association:
    overview = item.get("Overview") or {}
    status = item.get("Status") or {}
    counts = overview.get("AssociationStatusAggregatedCount") or {}
    return Association(
        association_id=item.get("AssociationId", ""),
        region=region,
        document=item.get("Name", ""),
        name=item.get("AssociationName", "") or "",
        version=str(item.get("AssociationVersion", "") or ""),
        targets=_targets(item.get("Targets")),
        schedule=item.get("ScheduleExpression", "") or "",
        status=short(overview.get("Status") or status.get("Name") or ""),
        detailed_status=short(overview.get("DetailedStatus") or ""),
        status_counts=tuple(sorted((str(k), int(v)) for k, v in counts.items())),
        last_execution=utc(item.get("LastExecutionDate")),
        last_success=utc(item.get("LastSuccessfulExecutionDate")),
        created=utc(item.get("Date")),
        parameters={k: list(v) for k, v in (item.get("Parameters") or {}).items()},
    )


async def list_associations(aws: AwsClients, region: str, *, document: str | None = None) -> list[Association]:
    params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE}}
    if document:
        params["AssociationFilterList"] = [{"key": "Name", "value": document}]
    found: list[Association] = []
    async for page in aws.paginate("ssm", region, "list_associations", "Associations", **params):
        found.extend(association_from_api(item, region) for item in page)
    return found


async def describe_association(aws: AwsClients, region: str, association_id: str) -> Association:
    resp = await aws.call("ssm", region, "describe_association", AssociationId=association_id)
    return association_from_api(resp.get("AssociationDescription") or {}, region)


def _check_schedule(schedule: str, document: str, region: str, operation: str) -> None:
    problem = schedule_problem(schedule, minimum=MIN_INVENTORY_PERIOD if document == INVENTORY_DOCUMENT else None)
    if problem:
        raise OpsError(problem, kind="invalid", service="ssm", region=region, operation=operation,
                       hint="e.g. rate(30 minutes), rate(12 hours), cron(0 */2 * * ? *)")


async def create_association(
    aws: AwsClients,
    region: str,
    *,
    document: str = INVENTORY_DOCUMENT,
    targets: tuple[tuple[str, tuple[str, ...]], ...] = ALL_NODES_TARGET,
    schedule: str = DEFAULT_SCHEDULE,
    name: str | None = DEFAULT_ASSOCIATION_NAME,
    parameters: dict[str, list[str]] | None = None,
) -> Association:
    """CreateAssociation (refused by the read-only guard in read-only mode; the schedule is checked first)."""
    _check_schedule(schedule, document, region, "CreateAssociation")
    params: dict[str, Any] = {
        "Name": document,
        "Targets": [{"Key": k, "Values": list(v)} for k, v in targets],
        "ScheduleExpression": schedule.strip(),
    }
    if name:
        params["AssociationName"] = name
    if parameters:
        params["Parameters"] = parameters
    resp = await aws.call("ssm", region, "create_association", **params)
    return association_from_api(resp.get("AssociationDescription") or {}, region)


async def update_association(
    aws: AwsClients, region: str, association_id: str, *, schedule: str | None = None, name: str | None = None,
) -> Association:
    """UpdateAssociation. AWS resets the optional fields a request leaves out, so the current document,
    targets, parameters and name are sent back along with the change."""
    current = await describe_association(aws, region, association_id)
    new_schedule = (schedule if schedule is not None else current.schedule).strip()
    _check_schedule(new_schedule, current.document, region, "UpdateAssociation")
    params: dict[str, Any] = {"AssociationId": association_id, "Name": current.document}
    if current.targets:
        params["Targets"] = [{"Key": k, "Values": list(v)} for k, v in current.targets]
    if new_schedule:
        params["ScheduleExpression"] = new_schedule
    if current.parameters:
        params["Parameters"] = current.parameters
    if name or current.name:
        params["AssociationName"] = name or current.name
    resp = await aws.call("ssm", region, "update_association", **params)
    return association_from_api(resp.get("AssociationDescription") or {}, region)


async def describe_association_executions(
    aws: AwsClients, region: str, association_id: str, *, limit: int = 10
) -> list[AssociationExecution]:
    """The latest runs of an association, newest first (at most `limit`)."""
    found: list[AssociationExecution] = []
    async for page in aws.paginate("ssm", region, "describe_association_executions", "AssociationExecutions",
                                   AssociationId=association_id,
                                   PaginationConfig={"PageSize": min(PAGE, max(limit, 1)), "MaxItems": limit}):
        for e in page:
            found.append(AssociationExecution(
                association_id=e.get("AssociationId", association_id),
                execution_id=e.get("ExecutionId", ""),
                status=short(e.get("Status", "")),
                detailed_status=short(e.get("DetailedStatus", "")),
                created=utc(e.get("CreatedTime")),
                resource_counts=str(e.get("ResourceCountByStatus", "") or ""),
            ))
    found.sort(key=lambda x: x.created or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found[:limit]


async def find_inventory_association(aws: AwsClients, region: str) -> Association | None:
    """The association that gathers inventory on every managed node of the region (Targets InstanceIds=*),
    or else any AWS-GatherSoftwareInventory association; described in full. None when there is none."""
    found = await list_associations(aws, region, document=INVENTORY_DOCUMENT)
    found = [a for a in found if a.document.endswith(INVENTORY_DOCUMENT)]
    if not found:
        return None
    best = next((a for a in found if a.targets_all_nodes), found[0])
    return await describe_association(aws, region, best.association_id)


async def ensure_inventory_association(aws: AwsClients, region: str, schedule: str) -> tuple[Association, str]:
    """Create the all-nodes inventory association, or set the schedule of the one there. Returns
    (association, "created" | "updated" | "unchanged")."""
    _check_schedule(schedule, INVENTORY_DOCUMENT, region, "CreateAssociation")
    current = await find_inventory_association(aws, region)
    if current is None:
        return await create_association(aws, region, schedule=schedule), "created"
    if current.schedule.strip() == schedule.strip():
        return current, "unchanged"
    return await update_association(aws, region, current.association_id, schedule=schedule), "updated"
