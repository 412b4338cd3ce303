"""AWS Backup: plans with rules and selections, jobs (backup, copy, restore), vaults and recovery points.

What an operator does every morning is "what failed last night?": `list_jobs` loads the backup, copy and
restore jobs of every region created in a time range (24 h / 7 d / 30 d: `ByCreatedAfter`, so 30 days of a
big account is a few pages of 1,000, not the whole history), in one shape (`BackupJob`) so the view can put
failures and "completed with issues" first.

Creating a plan follows the seed's flow in one call sequence (`create_plan`): CreateBackupPlan with one daily
rule (start window 60 min, completion window 180 min, DeleteAfterDays N, a CopyAction into the other region's
vault), then CreateBackupSelection of resource type EC2 (`arn:aws:ec2:*:*:instance/*`) with the account's
default service role. The form's input is checked here (`check_plan_form`) before anything is sent, so bad
input gets a message per field and nothing typed is lost.

Every mutating call (CreateBackupPlan/Selection, StartBackupJob, StartRestoreJob, DeleteBackupPlan) is refused
by the read-only guard of `opstui.aws.clients`; the view also disables them with a visible reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
import weakref
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from opstui.aws.backup_models import (
    BackupJob,
    BackupPlan,
    BackupRule,
    BackupSelection,
    BackupVault,
    CopyAction,
    JobList,
    PlanSpec,
    RecoveryPoint,
    RegionError,
)
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.models import utc as _utc

PAGE = 1000  # MaxResults of the job and recovery point lists (the API's maximum)
EC2_ALL = "arn:aws:ec2:*:*:instance/*"
DEFAULT_VAULT = "Default"
DEFAULT_ROLE = "arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"
RANGES: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RESTORE_STATES = frozenset({"PENDING", "RUNNING", "COMPLETED", "ABORTED", "FAILED"})
JOB_KINDS = ("backup", "copy", "restore")
_PLAN_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def default_role_arn(account: str) -> str:
    """The service role AWS Backup creates for the account on first use in the console."""
    return DEFAULT_ROLE.format(account=account)


def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def vault_arn(region: str, account: str, name: str = DEFAULT_VAULT) -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{name}"


# -- schedules in words ---------------------------------------------------------------------------------------

_DAYS = {"SUN": "Sunday", "MON": "Monday", "TUE": "Tuesday", "WED": "Wednesday", "THU": "Thursday",
         "FRI": "Friday", "SAT": "Saturday", "1": "Sunday", "2": "Monday", "3": "Tuesday", "4": "Wednesday",
         "5": "Thursday", "6": "Friday", "7": "Saturday"}


def _tz_words(timezone: str) -> str:
    return "UTC" if timezone in ("", "UTC", "Etc/UTC", "GMT", "Etc/GMT") else timezone


def schedule_words(expression: str, timezone: str = "") -> str:
    """A plan rule's schedule as an operator says it: "daily at 05:00 UTC", "weekdays at 22:30 UTC",
    "every 12 hours", "monthly on day 1 at 03:00 UTC". Forms it does not know are returned as written."""
    text = (expression or "").strip()
    tz = _tz_words(timezone)
    m = re.fullmatch(r"rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)", text)
    if m:
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    m = re.fullmatch(r"cron\((.*)\)", text)
    if not m:
        return text
    fields = m.group(1).split()
    if len(fields) != 6:
        return text
    minute, hour, dom, month, dow, year = fields
    if month != "*" or year not in ("*", "?") or not minute.isdigit():
        return text
    mm = f"{int(minute):02d}"
    if hour == "*":
        if dom in ("*", "?") and dow in ("*", "?"):
            return f"hourly at :{mm}"
        return text
    step = re.fullmatch(r"(?:\*|0)/(\d+)", hour)
    if step and dom in ("*", "?") and dow in ("*", "?"):
        n = int(step.group(1))
        return f"every {n} hours at :{mm} {tz}" if n != 1 else f"hourly at :{mm}"
    hours = hour.split(",")
    if not all(h.isdigit() and 0 <= int(h) <= 23 for h in hours):
        return text
    at = " and ".join(f"{int(h):02d}:{mm}" for h in hours)
    if dom in ("*", "?") and dow in ("*", "?"):
        return f"daily at {at} {tz}"
    if dom == "?" and dow.upper() in ("MON-FRI", "2-6"):
        return f"weekdays at {at} {tz}"
    if dom == "?" and dow.upper() in ("SAT,SUN", "SUN,SAT", "1,7", "7,1"):
        return f"weekends at {at} {tz}"
    if dom == "?":
        days = [_DAYS.get(d.upper()) for d in dow.split(",")]
        if all(days):
            return f"weekly on {', '.join(d for d in days if d)} at {at} {tz}"
        return text
    if dow == "?":
        if dom.upper() == "L":
            return f"monthly on the last day at {at} {tz}"
        if all(d.isdigit() for d in dom.split(",")):
            return f"monthly on day {dom.replace(',', ', ')} at {at} {tz}"
    return text


def window_words(minutes: int | None) -> str:
    if minutes is None:
        return "default"
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" + ("s" if days != 1 else "")
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} min"


# -- the create-plan form -------------------------------------------------------------------------------------


def check_plan_form(name: str, daily_time: str, keep_days: str, copy_region: str, resource_type: str, *,
                    region: str, existing_names: Iterable[str] = ()) -> tuple[PlanSpec | None, dict[str, str]]:
    """The form's values -> a PlanSpec, or a problem per field (field name -> what to fix). Nothing is sent."""
    problems: dict[str, str] = {}
    name = name.strip()
    if not name:
        problems["name"] = "type a plan name (letters, digits, - _ .; up to 50)"
    elif not _PLAN_NAME.match(name):
        problems["name"] = "a plan name may only contain letters, digits, - _ . (up to 50 characters)"
    elif name in set(existing_names):
        problems["name"] = f"a plan named {name} already exists in {region}"
    hour = minute = 0
    m = _TIME.match(daily_time)
    if not m:
        problems["time"] = "the daily time is HH:MM in UTC, e.g. 05:00"
    else:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour > 23 or minute > 59:
            problems["time"] = "the daily time is HH:MM with hours 0-23 and minutes 0-59 (UTC)"
    keep = 0
    text = keep_days.strip()
    if not text.isdigit():
        problems["keep"] = "keep for how many days: a whole number, e.g. 35"
    else:
        keep = int(text)
        if not 1 <= keep <= 36500:
            problems["keep"] = "keep between 1 and 36500 days"
    copy = copy_region.strip() or None
    if copy is not None:
        if not _REGION.match(copy):
            problems["copy"] = f"not a region name: {copy} (e.g. ap-northeast-3), or leave empty for no copy"
        elif copy == region:
            problems["copy"] = f"copies go to another region than the plan's ({region})"
    if resource_type.strip().upper() != "EC2":
        problems["type"] = "this form selects resource type EC2 (all EC2 instances)"
    if problems:
        return None, problems
    return PlanSpec(name=name, region=region, hour=hour, minute=minute, keep_days=keep, copy_region=copy), {}


def plan_request(spec: PlanSpec, account: str) -> dict[str, Any]:
    """The CreateBackupPlan `BackupPlan` of a spec (the seed's plan shape)."""
    rule: dict[str, Any] = {
        "RuleName": "daily",
        "TargetBackupVaultName": spec.vault,
        "ScheduleExpression": spec.schedule,
        "ScheduleExpressionTimezone": "Etc/UTC",
        "StartWindowMinutes": spec.start_window_minutes,
        "CompletionWindowMinutes": spec.completion_window_minutes,
        "Lifecycle": {"DeleteAfterDays": spec.keep_days},
    }
    if spec.copy_region:
        rule["CopyActions"] = [{"DestinationBackupVaultArn": vault_arn(spec.copy_region, account, spec.vault),
                                "Lifecycle": {"DeleteAfterDays": spec.keep_days}}]
    return {"BackupPlanName": spec.name, "Rules": [rule]}


def selection_request(spec: PlanSpec, account: str) -> dict[str, Any]:
    return {"SelectionName": f"{spec.name}-ec2"[:50], "IamRoleArn": default_role_arn(account),
            "Resources": [EC2_ALL]}


async def create_plan(aws: AwsClients, spec: PlanSpec, account: str) -> BackupPlan:
    """CreateBackupPlan + CreateBackupSelection. The vaults are checked first (reads), so a missing
    destination vault is said before anything is created; a selection that fails takes its plan back out."""
    regions = [spec.region] + ([spec.copy_region] if spec.copy_region else [])
    for region in regions:
        try:
            await aws.call("backup", region, "describe_backup_vault", BackupVaultName=spec.vault)
        except OpsError as err:
            if err.kind == "not-found" or "NotFound" in err.code:
                raise OpsError(f"no backup vault {spec.vault} in {region}", kind="invalid", service="backup",
                               region=region, operation="DescribeBackupVault",
                               hint=f"create the vault {spec.vault} in {region} first (AWS Backup console)") from None
            raise
    resp = await aws.call("backup", spec.region, "create_backup_plan", BackupPlan=plan_request(spec, account),
                          CreatorRequestId=f"opstui-{uuid.uuid4()}")
    plan_id = resp["BackupPlanId"]
    try:
        await aws.call("backup", spec.region, "create_backup_selection", BackupPlanId=plan_id,
                       BackupSelection=selection_request(spec, account), CreatorRequestId=f"opstui-{uuid.uuid4()}")
    except OpsError:
        with contextlib.suppress(OpsError):
            await aws.call("backup", spec.region, "delete_backup_plan", BackupPlanId=plan_id)
        raise
    return await get_plan(aws, spec.region, plan_id)


async def delete_plan(aws: AwsClients, region: str, plan_id: str) -> None:
    """DeleteBackupSelection of each selection, then DeleteBackupPlan (AWS refuses a plan with selections)."""
    for sel in await get_selections(aws, region, plan_id):
        await aws.call("backup", region, "delete_backup_selection", BackupPlanId=plan_id, SelectionId=sel.selection_id)
    await aws.call("backup", region, "delete_backup_plan", BackupPlanId=plan_id)


# -- plans ----------------------------------------------------------------------------------------------------


def _rule(raw: dict[str, Any]) -> BackupRule:
    life = raw.get("Lifecycle") or {}
    copies = tuple(
        CopyAction(str(c.get("DestinationBackupVaultArn", "")), _int((c.get("Lifecycle") or {}).get("DeleteAfterDays")),
                   _int((c.get("Lifecycle") or {}).get("MoveToColdStorageAfterDays")))
        for c in raw.get("CopyActions") or ())
    return BackupRule(
        name=str(raw.get("RuleName", "")), rule_id=str(raw.get("RuleId", "")),
        vault=str(raw.get("TargetBackupVaultName", "")), schedule=str(raw.get("ScheduleExpression", "")),
        timezone=str(raw.get("ScheduleExpressionTimezone", "") or ""),
        start_window_minutes=_int(raw.get("StartWindowMinutes")),
        completion_window_minutes=_int(raw.get("CompletionWindowMinutes")),
        delete_after_days=_int(life.get("DeleteAfterDays")), cold_after_days=_int(life.get("MoveToColdStorageAfterDays")),
        copy_actions=copies)


def _conditions(raw: dict[str, Any] | None) -> tuple[str, ...]:
    out = []
    for op, items in (raw or {}).items():
        for item in items or ():
            out.append(f"{op} {item.get('ConditionKey', '')}={item.get('ConditionValue', '')}")
    return tuple(out)


def _selection(plan_id: str, selection_id: str, raw: dict[str, Any]) -> BackupSelection:
    return BackupSelection(
        selection_id=selection_id, name=str(raw.get("SelectionName", "")), plan_id=plan_id,
        iam_role=str(raw.get("IamRoleArn", "")), resources=tuple(raw.get("Resources") or ()),
        not_resources=tuple(raw.get("NotResources") or ()),
        tags=tuple((str(t.get("ConditionKey", "")), str(t.get("ConditionValue", "")))
                   for t in raw.get("ListOfTags") or ()),
        conditions=_conditions(raw.get("Conditions")))


async def get_selections(aws: AwsClients, region: str, plan_id: str) -> list[BackupSelection]:
    ids = []
    async for page in aws.paginate("backup", region, "list_backup_selections", "BackupSelectionsList",
                                   BackupPlanId=plan_id):
        ids += [str(s["SelectionId"]) for s in page]

    async def one(selection_id: str) -> BackupSelection:
        resp = await aws.call("backup", region, "get_backup_selection", BackupPlanId=plan_id,
                              SelectionId=selection_id)
        return _selection(plan_id, selection_id, resp.get("BackupSelection") or {})

    return list(await asyncio.gather(*(one(i) for i in ids)))


async def get_plan(aws: AwsClients, region: str, plan_id: str) -> BackupPlan:
    """GetBackupPlan + its selections (ListBackupSelections, GetBackupSelection each)."""
    resp, selections = await asyncio.gather(aws.call("backup", region, "get_backup_plan", BackupPlanId=plan_id),
                                            get_selections(aws, region, plan_id))
    body = resp.get("BackupPlan") or {}
    return BackupPlan(
        plan_id=plan_id, arn=str(resp.get("BackupPlanArn", "")), name=str(body.get("BackupPlanName", "")),
        region=region, version_id=str(resp.get("VersionId", "")), created=_utc(resp.get("CreationDate")),
        last_execution=_utc(resp.get("LastExecutionDate")),
        rules=tuple(_rule(r) for r in body.get("Rules") or ()), selections=tuple(selections))


async def list_plans(aws: AwsClients, region: str) -> list[BackupPlan]:
    """Every (not deleted) plan of the region with its rules and selections, by name."""
    ids = []
    async for page in aws.paginate("backup", region, "list_backup_plans", "BackupPlansList"):
        ids += [str(p["BackupPlanId"]) for p in page if not p.get("DeletionDate")]
    plans = await asyncio.gather(*(get_plan(aws, region, i) for i in ids))
    return sorted(plans, key=lambda p: p.name.lower())


async def plan_names(aws: AwsClients, region: str) -> list[str]:
    names = []
    async for page in aws.paginate("backup", region, "list_backup_plans", "BackupPlansList"):
        names += [str(p.get("BackupPlanName", "")) for p in page if not p.get("DeletionDate")]
    return names


# -- jobs -----------------------------------------------------------------------------------------------------


def _vault_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1] if arn else ""


def _backup_job(region: str, j: dict[str, Any]) -> BackupJob:
    return BackupJob(
        kind="backup", job_id=str(j.get("BackupJobId", "")), region=region, state=str(j.get("State", "")),
        message_category=str(j.get("MessageCategory", "") or ""), status_message=str(j.get("StatusMessage", "") or ""),
        resource_arn=str(j.get("ResourceArn", "")), resource_name=str(j.get("ResourceName", "") or ""),
        resource_type=str(j.get("ResourceType", "")), vault=str(j.get("BackupVaultName", "")),
        created=_utc(j.get("CreationDate")), completed=_utc(j.get("CompletionDate")),
        size_bytes=_int(j.get("BackupSizeInBytes")), percent_done=str(j.get("PercentDone", "") or ""),
        recovery_point_arn=str(j.get("RecoveryPointArn", "") or ""),
        plan_name=str((j.get("CreatedBy") or {}).get("BackupPlanName", "") or ("on demand" if not j.get("CreatedBy")
                                                                                 else "")),
        iam_role=str(j.get("IamRoleArn", "") or ""), start_by=_utc(j.get("StartBy")),
        expected_completion=_utc(j.get("ExpectedCompletionDate")))


def _copy_job(region: str, j: dict[str, Any]) -> BackupJob:
    dest = str(j.get("DestinationBackupVaultArn", ""))
    return BackupJob(
        kind="copy", job_id=str(j.get("CopyJobId", "")), region=region, state=str(j.get("State", "")),
        message_category=str(j.get("MessageCategory", "") or ""), status_message=str(j.get("StatusMessage", "") or ""),
        resource_arn=str(j.get("ResourceArn", "")), resource_name=str(j.get("ResourceName", "") or ""),
        resource_type=str(j.get("ResourceType", "")), vault=_vault_name(dest),
        created=_utc(j.get("CreationDate")), completed=_utc(j.get("CompletionDate")),
        size_bytes=_int(j.get("BackupSizeInBytes")), percent_done="",
        recovery_point_arn=str(j.get("DestinationRecoveryPointArn", "") or j.get("SourceRecoveryPointArn", "") or ""),
        plan_name=str((j.get("CreatedBy") or {}).get("BackupPlanName", "") or ""), destination=dest,
        iam_role=str(j.get("IamRoleArn", "") or ""), parent_job_id=str(j.get("CreatedByBackupJobId", "") or ""))


def _restore_job(region: str, j: dict[str, Any]) -> BackupJob:
    return BackupJob(
        kind="restore", job_id=str(j.get("RestoreJobId", "")), region=region, state=str(j.get("Status", "")),
        message_category="", status_message=str(j.get("StatusMessage", "") or ""),
        resource_arn=str(j.get("SourceResourceArn", "") or ""), resource_name="",
        resource_type=str(j.get("ResourceType", "")), vault=_vault_name(str(j.get("BackupVaultArn", "") or "")),
        created=_utc(j.get("CreationDate")), completed=_utc(j.get("CompletionDate")),
        size_bytes=_int(j.get("BackupSizeInBytes")), percent_done=str(j.get("PercentDone", "") or ""),
        recovery_point_arn=str(j.get("RecoveryPointArn", "")), created_resource=str(j.get("CreatedResourceArn", "") or ""),
        iam_role=str(j.get("IamRoleArn", "") or ""))


def sort_jobs(jobs: Iterable[BackupJob]) -> list[BackupJob]:
    """Failures first, then completed with issues, running, completed; newest first within each."""
    return sorted(jobs, key=lambda j: (j.rank, -(j.created.timestamp() if j.created else 0.0), j.job_id))


async def list_region_jobs(aws: AwsClients, region: str, since: datetime, *, state: str | None = None,
                           resource_arn: str | None = None, vault: str | None = None,
                           resource_type: str | None = None, kinds: Sequence[str] = JOB_KINDS,
                           ) -> tuple[list[BackupJob], int]:
    """One region's jobs created after `since` (filters sent where the API has them, applied here where it
    has not: copy jobs have no vault-name filter, restore jobs no resource or vault filter). Returns the jobs
    and the number of calls sent."""
    calls = 0
    common: dict[str, Any] = {"ByCreatedAfter": since, "PaginationConfig": {"PageSize": PAGE}}
    if resource_type:
        common["ByResourceType"] = resource_type

    async def collect(operation: str, key: str, params: dict[str, Any], build) -> list[BackupJob]:
        nonlocal calls
        out: list[BackupJob] = []
        async for page in aws.paginate("backup", region, operation, key, **params):
            calls += 1
            out += [build(region, j) for j in page]
        return out

    tasks = []
    if "backup" in kinds:
        params = dict(common)
        if state:
            params["ByState"] = state
        if resource_arn:
            params["ByResourceArn"] = resource_arn
        if vault:
            params["ByBackupVaultName"] = vault
        tasks.append(collect("list_backup_jobs", "BackupJobs", params, _backup_job))
    if "copy" in kinds:
        params = dict(common)
        if state:
            params["ByState"] = state
        if resource_arn:
            params["ByResourceArn"] = resource_arn
        tasks.append(collect("list_copy_jobs", "CopyJobs", params, _copy_job))
    if "restore" in kinds and (not state or state in RESTORE_STATES):
        params = dict(common)
        if state:
            params["ByStatus"] = state
        tasks.append(collect("list_restore_jobs", "RestoreJobs", params, _restore_job))
    jobs = [j for part in await asyncio.gather(*tasks) for j in part]
    if vault:
        jobs = [j for j in jobs if j.vault == vault]
    if resource_arn:
        jobs = [j for j in jobs if j.resource_arn == resource_arn]
    return jobs, calls


async def list_jobs(aws: AwsClients, regions: Sequence[str], window: str | timedelta = "24h", *,
                    now: datetime | None = None, **filters: Any) -> JobList:
    """The jobs of every region created in the window ("24h", "7d", "30d" or a timedelta), failures first.
    A failing region is reported in `errors` while the others' jobs stay."""
    span = RANGES[window] if isinstance(window, str) else window
    since = (now or datetime.now(UTC)) - span

    async def one(region: str) -> tuple[str, list[BackupJob], int, OpsError | None]:
        try:
            jobs, calls = await list_region_jobs(aws, region, since, **filters)
            return region, jobs, calls, None
        except OpsError as err:
            return region, [], 0, err

    results = await asyncio.gather(*(one(r) for r in regions))
    jobs = [j for _, part, _, _ in results for j in part]
    errors = tuple(RegionError(r, str(e)) for r, _, _, e in results if e is not None)
    return JobList(jobs=tuple(sort_jobs(jobs)), errors=errors, calls=sum(c for _, _, c, _ in results), since=since)


async def describe_job(aws: AwsClients, job: BackupJob) -> BackupJob:
    """The job as its Describe* call returns it now (state, message, size, recovery point)."""
    if job.kind == "backup":
        resp = await aws.call("backup", job.region, "describe_backup_job", BackupJobId=job.job_id)
        return _backup_job(job.region, resp)
    if job.kind == "copy":
        resp = await aws.call("backup", job.region, "describe_copy_job", CopyJobId=job.job_id)
        return _copy_job(job.region, resp.get("CopyJob") or {})
    resp = await aws.call("backup", job.region, "describe_restore_job", RestoreJobId=job.job_id)
    return _restore_job(job.region, resp)


# -- vaults and recovery points -----------------------------------------------------------------------------


async def list_vaults(aws: AwsClients, region: str) -> list[BackupVault]:
    vaults = []
    async for page in aws.paginate("backup", region, "list_backup_vaults", "BackupVaultList"):
        for v in page:
            vaults.append(BackupVault(
                name=str(v.get("BackupVaultName", "")), arn=str(v.get("BackupVaultArn", "")), region=region,
                recovery_points=_int(v.get("NumberOfRecoveryPoints")) or 0, locked=bool(v.get("Locked")),
                created=_utc(v.get("CreationDate"))))
    return sorted(vaults, key=lambda v: v.name.lower())


def _point(region: str, p: dict[str, Any]) -> RecoveryPoint:
    return RecoveryPoint(
        arn=str(p.get("RecoveryPointArn", "")), region=region, vault=str(p.get("BackupVaultName", "")),
        resource_arn=str(p.get("ResourceArn", "")), resource_name=str(p.get("ResourceName", "") or ""),
        resource_type=str(p.get("ResourceType", "")), status=str(p.get("Status", "")),
        created=_utc(p.get("CreationDate")), completed=_utc(p.get("CompletionDate")),
        size_bytes=_int(p.get("BackupSizeInBytes")),
        delete_at=_utc((p.get("CalculatedLifecycle") or {}).get("DeleteAt")),
        source_vault_arn=str(p.get("SourceBackupVaultArn", "") or ""),
        plan_name=str((p.get("CreatedBy") or {}).get("BackupPlanName", "") or ""),
        iam_role=str(p.get("IamRoleArn", "") or ""))


async def list_recovery_points(aws: AwsClients, region: str, vault: str, limit: int = 20_000) -> list[RecoveryPoint]:
    """The vault's points, newest first (paged 1,000 at a time, at most `limit`)."""
    points: list[RecoveryPoint] = []
    async for page in aws.paginate("backup", region, "list_recovery_points_by_backup_vault", "RecoveryPoints",
                                   BackupVaultName=vault, PaginationConfig={"PageSize": PAGE}):
        points += [_point(region, p) for p in page]
        if len(points) >= limit:
            break
    points.sort(key=lambda p: p.created.timestamp() if p.created else 0.0, reverse=True)
    return points[:limit]


# -- on-demand backup and restore ----------------------------------------------------------------------------


async def start_backup(aws: AwsClients, region: str, account: str, instance_id: str, *,
                       vault: str = DEFAULT_VAULT, role: str | None = None, keep_days: int | None = None) -> str:
    """StartBackupJob of one EC2 instance into the vault; returns the job id."""
    params: dict[str, Any] = {
        "BackupVaultName": vault, "ResourceArn": instance_arn(region, account, instance_id),
        "IamRoleArn": role or default_role_arn(account), "IdempotencyToken": str(uuid.uuid4()),
    }
    if keep_days:
        params["Lifecycle"] = {"DeleteAfterDays": keep_days}
    resp = await aws.call("backup", region, "start_backup_job", **params)
    return str(resp["BackupJobId"])


async def start_backups(aws: AwsClients, account: str, nodes: Sequence[tuple[str, str]], *,
                        vault: str = DEFAULT_VAULT, role: str | None = None,
                        ) -> list[tuple[str, str, str | None, OpsError | None]]:
    """On-demand backups of (region, instance id) pairs, at most 8 at a time: (region, id, job id, error)."""
    gate = asyncio.Semaphore(8)

    async def one(region: str, instance_id: str) -> tuple[str, str, str | None, OpsError | None]:
        async with gate:
            try:
                return region, instance_id, await start_backup(aws, region, account, instance_id, vault=vault,
                                                               role=role), None
            except OpsError as err:
                return region, instance_id, None, err

    return list(await asyncio.gather(*(one(r, i) for r, i in nodes)))


#: clients (by identity) whose endpoint has no GetRecoveryPointRestoreMetadata: asked once only
_NO_METADATA: weakref.WeakSet[AwsClients] = weakref.WeakSet()
#: what an endpoint without the operation answers (an HTML 404 reads as code "404"); anything else (throttled,
#: unreachable, a missing point) is raised: a restore never silently drops the backed-up settings
_NO_SUCH_OPERATION = frozenset({"404", "NotImplemented", "UnknownOperationException", "InvalidAction"})


def minimal_ec2_metadata(instance_type: str = "") -> dict[str, str]:
    """What a restore of an EC2 point needs at least when the service cannot tell us the backed-up settings."""
    return {"InstanceType": instance_type} if instance_type else {}


async def restore_metadata(aws: AwsClients, point: RecoveryPoint, instance_type: str = "", *,
                           ask_service: bool = True) -> tuple[dict[str, str], str]:
    """(metadata, where from): the point's backed-up settings (GetRecoveryPointRestoreMetadata), or the
    minimal EC2 metadata when the endpoint does not have that call (asked once per client; `ask_service=False`
    skips it). Any other failure is raised."""
    if ask_service and aws not in _NO_METADATA:
        try:
            resp = await aws.call("backup", point.region, "get_recovery_point_restore_metadata",
                                  BackupVaultName=point.vault, RecoveryPointArn=point.arn)
            meta = {str(k): str(v) for k, v in (resp.get("RestoreMetadata") or {}).items()}
            if meta:
                return meta, "GetRecoveryPointRestoreMetadata"
        except OpsError as err:
            if err.code not in _NO_SUCH_OPERATION:
                raise
            _NO_METADATA.add(aws)
    return minimal_ec2_metadata(instance_type), "minimal EC2 metadata"


async def start_restore(aws: AwsClients, point: RecoveryPoint, account: str, *, instance_type: str = "",
                        role: str | None = None, ask_service: bool = True) -> tuple[str, str]:
    """StartRestoreJob of a recovery point (a new instance from the AMI); returns (job id, metadata source)."""
    metadata, source = await restore_metadata(aws, point, instance_type, ask_service=ask_service)
    resp = await aws.call("backup", point.region, "start_restore_job", RecoveryPointArn=point.arn,
                          Metadata=metadata, IamRoleArn=role or point.iam_role or default_role_arn(account),
                          ResourceType=point.resource_type or "EC2", IdempotencyToken=str(uuid.uuid4()))
    return str(resp["RestoreJobId"]), source


def job_list_failures(jobs: Iterable[BackupJob]) -> tuple[int, int]:
    """(failed, completed with issues) counts: the morning's headline."""
    failed = issues = 0
    for j in jobs:
        if j.failed:
            failed += 1
        elif j.with_issues:
            issues += 1
    return failed, issues

