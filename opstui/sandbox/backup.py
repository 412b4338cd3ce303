"""AWS Backup for the sandbox: selections, a scheduler on the sandbox clock, jobs, copies, recovery points, restores.

moto 5.2.5 keeps vaults and plans (CreateBackupPlan with rules, lifecycle and CopyActions works) but has no
selections, and no route at all for the job APIs (HTML 404). This module adds the routes to
``moto.backup.urls.url_paths`` before moto builds the backup app (technique C) and the operations as methods on
``moto.backup.responses.BackupResponse`` (moto picks the operation from botocore's model by method and URI). Plans
and vaults stay moto's; everything else lives here, per (account, region).

A timeline, not a ticking state machine
  Every job is created with its whole future planned: when it starts, when it ends and how (a deterministic
  draw per resource and scheduled time). Its state is read off the sandbox clock (:mod:`opstui.sandbox.clock`)
  at request time: ``CREATED`` before the start, ``RUNNING`` (``PercentDone`` and ``BytesTransferred`` rising
  linearly) until the end, then the outcome. So two weeks of history cost nothing to "run", the clock's speed
  knob speeds everything up alike, and nothing needs a thread. The scheduler is a catch-up run at the start of
  every backup request (and ``POST /_opstui/backup/run-scheduler``): each plan rule whose next cron time has
  passed creates its jobs for that time (all missed occurrences, so ``advance`` of 36 days creates 36 rounds).

Selections (CreateBackupSelection / List / Get / DeleteBackupSelection)
  Resolved against the region's EC2 instances (not terminated; stopped ones are backed up, as AWS does) when a
  rule fires, never stored as a list. As documented for ``BackupSelection``: ``Resources`` ARNs are ORed (``*``
  anywhere is a wildcard, so ``arn:aws:ec2:*:*:instance/*`` is every instance and ``*`` everything);
  ``ListOfTags`` (StringEquals only) is ORed with each other *and with Resources* (the well-known gotcha:
  ``Resources=["*"]`` plus ListOfTags selects everything -- refine with ``Conditions``); ``Conditions``
  (StringEquals/StringNotEquals/StringLike/StringNotLike on ``aws:ResourceTag/<key>``) are ANDed and narrow the
  result; ``NotResources`` removes. A resource selected twice by one plan gets one job. Hybrid ``mi-`` nodes are
  not EC2 and are never selected. DeleteBackupPlan is refused while the plan has selections (AWS's
  "Related backup plan selections must be deleted prior to backup plan deletion.").

Schedules
  ``cron(min hour day-of-month month day-of-week year)``, read by :func:`opstui.schedule.backup_schedule`
  (EventBridge's six fields and wildcards: exactly one day field ``?``; numbers, ranges, lists, steps, ``*``,
  MON-SUN / JAN-DEC names, ``L``, ``W``, ``#``), UTC (``ScheduleExpressionTimezone`` other than UTC is treated
  as UTC). Rules of moto's default (``cron(0 5 ? * * *)``, start window 480 min, completion window 10080 min)
  apply when the plan omits them. A rule that first appears is due at its next cron time after that moment
  (sandbox clock).

Backup jobs
  ``StartBy`` = scheduled time + StartWindowMinutes, ``ExpectedCompletionDate`` = scheduled time +
  CompletionWindowMinutes (AWS counts the completion window from the scheduled time). A job starts 1-15 min
  (sandbox) after it is created (on demand: after ``on_demand_start_seconds``, 20 s), runs for a time that
  grows with the instance's size (a few minutes to ~40 min), and ends:

  * ``COMPLETED`` with ``MessageCategory`` ``SUCCESS`` (no StatusMessage);
  * ``COMPLETED`` with a non-success category and a StatusMessage -- what the console shows as "Completed with
    issues" (the API reference: state COMPLETED with a MessageCategory other than SUCCESS). The sandbox uses
    this for Windows instances whose VSS attempt fell back to a crash-consistent image: category
    ``AccessDenied``, message "Windows VSS Backup attempt failed because either Instance or SSM Agent has
    invalid state or insufficient privileges." (``issues_rate`` of Windows jobs, 30 %) -- only for jobs that
    asked for VSS: ``BackupOptions {"WindowsVSS": "enabled"}`` from StartBackupJob or from the plan's
    ``AdvancedBackupSettings`` for EC2 (https://docs.aws.amazon.com/aws-backup/latest/devguide/windows-backups.html);
    without it a Windows backup is crash-consistent and simply completes;
  * ``FAILED`` part-way (``fail_rate``, 2 %), category ``AccessDenied`` / ``InvalidParameters`` (the example
    strings of the API reference) with a message, no recovery point;
  * ``EXPIRED``: never started within the start window (``expire_rate``, 0.5 %; state stays CREATED until
    StartBy), message "Backup job failed to start within the start window."; or still running at
    ExpectedCompletionDate: "Backup job expired before completion." (the message AWS shows for that case);
  * ``ABORTED``: StopBackupJob on a CREATED or RUNNING job (anything else -> InvalidRequestException),
    message "Backup job was stopped by user.", category ``ABORTED``.
  ``ResourceType`` EC2, ``ResourceName`` the Name tag at creation, ``BackupSizeInBytes`` "the size of a backup
  (recovery point)": the instance's volume size (deterministic per instance type) once COMPLETED, growing while
  RUNNING, 0 for a job that made no recovery point (CREATED, FAILED, EXPIRED, ABORTED); ``IamRoleArn`` the
  selection's role, ``CreatedBy`` the plan and rule (absent for on-demand jobs), ``RecoveryPointArn`` an AMI ARN
  (EC2 backups are AMIs) only while RUNNING (the AMI being made) and once COMPLETED -- a failed, expired or
  stopped job names none (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupJob.html);
  ``RecoveryPointLifecycle`` the rule's Lifecycle. StartBackupJob answers ``BackupJobId``, ``CreationDate`` and
  ``IsParent`` (its ``RecoveryPointArn`` "is only returned for Amazon EFS and Advanced DynamoDB resources"). ``POST /_opstui/backup {"outcomes": {"i-...": "FAILED"}}``
  forces the outcome of a resource's next jobs (tests).

Copy jobs (a rule's CopyActions)
  Created when the backup job completes (``CreatedByBackupJobId``), into ``DestinationBackupVaultArn``
  (another region's vault), ``CREATED`` for ~1 min, ``RUNNING``, then ``COMPLETED`` (or ``FAILED``,
  ``copy_fail_rate`` 1 %). Listed by ListCopyJobs in the *source* region only: AWS runs a copy job in the
  region of the source recovery point and that is where the console and API show it.

Recovery points
  A backup's point is in its vault from the job's start (``Status`` CREATING) and ``COMPLETED`` once the job
  completes; a failed, expired or aborted job leaves none. A copy's point appears in the destination vault
  (``SourceBackupVaultArn`` set) the same way, with the copy action's own Lifecycle. ``CalculatedLifecycle``:
  ``DeleteAt`` = CreationDate + DeleteAfterDays, ``MoveToColdStorageAt`` likewise. When sandbox time passes
  DeleteAt the point is deleted (AWS deletes expired points; its ``EXPIRED`` status is for points it could
  *not* delete, which never happens here), so it leaves ListRecoveryPoints* and the vault's
  NumberOfRecoveryPoints. EC2 has no cold tier: StorageClass stays WARM. DeleteRecoveryPoint deletes at once.

Restore jobs
  StartRestoreJob needs a COMPLETED point of the region (else ResourceNotFoundException / InvalidRequest) and
  ``Metadata``; the job is ``PENDING`` ~30 s, ``RUNNING`` a few minutes, ``COMPLETED`` with
  ``CreatedResourceArn`` a new instance ARN (an id only: no moto instance is launched).

ListProtectedResources: each resource with a recovery point (any status) and its newest one.
ListBackupJobSummaries: job counts of the last 14 days by State, ResourceType and MessageCategory, per day
(``ONE_DAY``) or over 7 / 14 days, each filter a value, ``ANY`` or ``AGGREGATE_ALL``.

Lists: newest first; filters as botocore's model (ByState/ByStatus, ByResourceArn, ByResourceType,
ByBackupVaultName, ByCreatedAfter/Before, ByCompleteAfter/Before, ByAccountId, ByMessageCategory (``ANY`` and
``AGGREGATE_ALL`` match everything), ByParentJobId, ByDestinationVaultArn, BySourceRecoveryPointArn);
``MaxResults`` 1-1000 (default 1000); ``NextToken`` is a cursor (creation time + id), so pages stay stable while
new jobs arrive. Jobs are kept sorted by creation time: a page of 1,000 out of 10,000 is one bisect plus one
filter pass.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import fnmatch
import hashlib
import json
import math
import random
import re
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from moto.backup import urls as backup_urls
from moto.backup.exceptions import (
    InvalidParameterValueException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.backup.models import backup_backends
from moto.backup.responses import BackupResponse
from moto.core.exceptions import JsonRESTError
from moto.ec2.models import ec2_backends

from opstui.schedule import Cron, ScheduleError, backup_schedule

from . import clock
from .ec2_fast import instance_index
from .extension import Extension, Handler, attach

if TYPE_CHECKING:
    from .server import Sandbox

DAY = 86400.0
MAX_RESULTS = 1000
DEFAULT_START_WINDOW = 480
DEFAULT_COMPLETION_WINDOW = 10080
MAX_CATCH_UP = 400  # occurrences per rule per catch-up; older missed ones are skipped

VSS_MESSAGE = ("Windows VSS Backup attempt failed because either Instance or SSM Agent has invalid state or "
               "insufficient privileges.")
EXPIRED_START = "Backup job failed to start within the start window."
EXPIRED_COMPLETION = "Backup job expired before completion."
STOPPED = "Backup job was stopped by user."
FAILURES: tuple[tuple[str, str], ...] = (
    ("AccessDenied", "IAM Role {role} does not have sufficient permissions to execute the backup."),
    ("InvalidParameters", "An AMI could not be created for the instance: the instance is being modified."),
)
COPY_FAILURE = ("AccessDenied", "Access denied to the destination backup vault {vault}.")

KNOB_DEFAULTS: dict[str, float] = {
    "fail_rate": 0.02,
    "issues_rate": 0.3,
    "expire_rate": 0.005,
    "copy_fail_rate": 0.01,
    "on_demand_start_seconds": 20.0,
}

_lock = threading.RLock()
_knobs: dict[str, float] = dict(KNOB_DEFAULTS)
_forced: dict[str, str] = {}  # resource id -> outcome for its next jobs
_seed_value = 42


class MissingParameterValueException(JsonRESTError):
    def __init__(self, msg: str) -> None:
        super().__init__("MissingParameterValueException", msg)


def _now() -> float:
    return clock.now().timestamp()


def _upper_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


# --------------------------------------------------------------------------------------------------------
# cron


def parse_cron(expression: str) -> Cron:
    """A rule's schedule (:func:`opstui.schedule.backup_schedule`); InvalidParameterValueException like AWS
    for a malformed expression."""
    try:
        return backup_schedule(expression or "")
    except ScheduleError as exc:
        raise InvalidParameterValueException(f"Invalid schedule expression {expression}") from exc


# --------------------------------------------------------------------------------------------------------
# model


@dataclass
class Selection:
    selection_id: str
    plan_id: str
    body: dict[str, Any]
    created: float
    creator_request_id: str | None


@dataclass
class BackupJob:
    job_id: str
    account: str
    region: str
    vault_name: str
    vault_arn: str
    resource_arn: str
    resource_name: str
    iam_role: str
    created: float
    start_by: float
    complete_by: float
    started: float | None  # None: never starts (EXPIRED at start_by)
    ended: float
    outcome: str  # COMPLETED | FAILED | EXPIRED | ABORTED
    category: str
    message: str | None
    size: int
    end_fraction: float  # how far it got (1.0 when it completed)
    lifecycle: dict[str, Any] | None
    created_by: dict[str, Any] | None
    recovery_point: RecoveryPoint | None = None
    copies: list[CopyJob] = field(default_factory=list)
    backup_options: dict[str, str] | None = None
    resource_type: str = "EC2"

    def state(self, now: float) -> str:
        if now >= self.ended:
            return self.outcome
        if self.started is None or now < self.started:
            return "CREATED"
        return "RUNNING"

    def fraction(self, now: float) -> float:
        if self.started is None or now < self.started:
            return 0.0
        if now >= self.ended:
            return self.end_fraction
        return self.end_fraction * (now - self.started) / max(1e-6, self.ended - self.started)

    def category_at(self, now: float) -> str | None:
        return self.category if now >= self.ended else None

    def to_json(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        frac = self.fraction(now)
        out: dict[str, Any] = {
            "AccountId": self.account, "BackupJobId": self.job_id, "BackupVaultName": self.vault_name,
            "BackupVaultArn": self.vault_arn, "VaultType": "BACKUP_VAULT", "ResourceArn": self.resource_arn,
            "CreationDate": self.created, "State": state, "PercentDone": f"{frac * 100:.1f}",
            "IamRoleArn": self.iam_role, "ResourceType": self.resource_type, "StartBy": self.start_by,
            "ExpectedCompletionDate": self.complete_by, "BytesTransferred": int(self.size * frac),
            "BackupSizeInBytes": self.size if state == "COMPLETED" else (int(self.size * frac)
                                                                          if state == "RUNNING" else 0),
            "ResourceName": self.resource_name, "IsParent": False, "IsEncrypted": False,
            "BackupType": "", "InitiationDate": self.created,
        }
        if self.recovery_point is not None and state in ("RUNNING", "COMPLETED"):
            # the AMI being made, then made; a job that failed, expired or was stopped leaves no recovery point
            out["RecoveryPointArn"] = self.recovery_point.arn
        if self.lifecycle:
            out["RecoveryPointLifecycle"] = self.lifecycle
        if self.created_by:
            out["CreatedBy"] = self.created_by
        if self.backup_options:
            out["BackupOptions"] = self.backup_options
        if now >= self.ended:
            out["CompletionDate"] = self.ended
            out["MessageCategory"] = self.category
            if self.message:
                out["StatusMessage"] = self.message
        return out


@dataclass
class CopyJob:
    job_id: str
    account: str
    region: str  # the source region, where it is listed
    parent: BackupJob
    source_vault_arn: str
    source_rp_arn: str
    dest_vault_arn: str
    created: float
    started: float
    ended: float
    outcome: str  # COMPLETED | FAILED
    category: str
    message: str | None
    lifecycle: dict[str, Any] | None
    dest_point: RecoveryPoint | None = None

    def visible(self, now: float) -> bool:
        return self.parent.outcome == "COMPLETED" and now >= self.created

    def state(self, now: float) -> str:
        if now >= self.ended:
            return self.outcome
        return "RUNNING" if now >= self.started else "CREATED"

    def to_json(self, now: float) -> dict[str, Any]:
        p = self.parent
        out: dict[str, Any] = {
            "AccountId": self.account, "CopyJobId": self.job_id, "SourceBackupVaultArn": self.source_vault_arn,
            "SourceRecoveryPointArn": self.source_rp_arn, "DestinationBackupVaultArn": self.dest_vault_arn,
            "DestinationVaultType": "BACKUP_VAULT", "ResourceArn": p.resource_arn, "CreationDate": self.created,
            "State": self.state(now), "BackupSizeInBytes": p.size, "IamRoleArn": p.iam_role,
            "CreatedByBackupJobId": p.job_id, "ResourceType": p.resource_type, "ResourceName": p.resource_name,
            "IsParent": False,
        }
        if self.dest_point is not None:
            out["DestinationRecoveryPointArn"] = self.dest_point.arn
        if self.lifecycle:
            out["DestinationRecoveryPointLifecycle"] = self.lifecycle
        if p.created_by:
            out["CreatedBy"] = p.created_by
        if now >= self.ended:
            out["CompletionDate"] = self.ended
            out["MessageCategory"] = self.category
            if self.message:
                out["StatusMessage"] = self.message
        return out


@dataclass
class RecoveryPoint:
    arn: str
    account: str
    region: str
    vault_name: str
    vault_arn: str
    producer: BackupJob | CopyJob
    created: float
    lifecycle: dict[str, Any] | None
    source_vault_arn: str | None = None
    deleted: bool = False
    last_restore: float | None = None

    @property
    def job(self) -> BackupJob:
        return self.producer.parent if isinstance(self.producer, CopyJob) else self.producer

    def delete_at(self) -> float | None:
        days = (self.lifecycle or {}).get("DeleteAfterDays")
        return self.created + days * DAY if days else None

    def cold_at(self) -> float | None:
        days = (self.lifecycle or {}).get("MoveToColdStorageAfterDays")
        return self.created + days * DAY if days else None

    def status(self, now: float) -> str | None:
        """CREATING / COMPLETED, or None when the point does not exist (yet, any more, or ever)."""
        if self.deleted:
            return None
        prod = self.producer
        if isinstance(prod, CopyJob):
            if not prod.visible(now):
                return None
            state = prod.state(now)
        else:
            state = prod.state(now)
        if state == "RUNNING":
            return "CREATING"
        if state != "COMPLETED":
            return None
        delete_at = self.delete_at()
        if delete_at is not None and now >= delete_at:
            return None
        return "COMPLETED"

    def completion(self) -> float:
        return self.producer.ended

    def to_json(self, now: float, status: str, by_resource: bool = False) -> dict[str, Any]:
        job = self.job
        if by_resource:
            return {"RecoveryPointArn": self.arn, "CreationDate": self.created, "Status": status,
                    "BackupSizeBytes": job.size, "BackupVaultName": self.vault_name, "IsParent": False,
                    "ResourceName": job.resource_name, "VaultType": "BACKUP_VAULT"}
        out: dict[str, Any] = {
            "RecoveryPointArn": self.arn, "BackupVaultName": self.vault_name, "BackupVaultArn": self.vault_arn,
            "ResourceArn": job.resource_arn, "ResourceType": job.resource_type, "IamRoleArn": job.iam_role,
            "Status": status, "CreationDate": self.created, "InitiationDate": self.created,
            "BackupSizeInBytes": job.size, "IsEncrypted": False, "IsParent": False,
            "ResourceName": job.resource_name, "VaultType": "BACKUP_VAULT",
        }
        if status == "COMPLETED":
            out["CompletionDate"] = self.completion()
        if self.source_vault_arn:
            out["SourceBackupVaultArn"] = self.source_vault_arn
        if job.created_by:
            out["CreatedBy"] = job.created_by
        if self.lifecycle:
            out["Lifecycle"] = self.lifecycle
            calc = {}
            if self.delete_at() is not None:
                calc["DeleteAt"] = self.delete_at()
            if self.cold_at() is not None:
                calc["MoveToColdStorageAt"] = self.cold_at()
            if calc:
                out["CalculatedLifecycle"] = calc
        if self.last_restore:
            out["LastRestoreTime"] = self.last_restore
        return out


@dataclass
class RestoreJob:
    job_id: str
    account: str
    region: str
    point: RecoveryPoint
    iam_role: str | None
    created: float
    started: float
    ended: float
    created_resource: str
    resource_type: str
    metadata: dict[str, str]

    def state(self, now: float) -> str:
        if now >= self.ended:
            return "COMPLETED"
        return "RUNNING" if now >= self.started else "PENDING"

    def to_json(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        frac = 0.0 if now < self.started else min(1.0, (now - self.started) / max(1e-6, self.ended - self.started))
        out: dict[str, Any] = {
            "AccountId": self.account, "RestoreJobId": self.job_id, "RecoveryPointArn": self.point.arn,
            "SourceResourceArn": self.point.job.resource_arn, "BackupVaultArn": self.point.vault_arn,
            "CreationDate": self.created, "Status": state, "PercentDone": f"{frac * 100:.0f}%",
            "BackupSizeInBytes": self.point.job.size,
            "ExpectedCompletionTimeMinutes": max(1, round((self.ended - self.created) / 60)),
            "ResourceType": self.resource_type, "RecoveryPointCreationDate": self.point.created,
            "IsParent": False,
        }
        if self.iam_role:
            out["IamRoleArn"] = self.iam_role
        if state == "COMPLETED":
            out["CompletionDate"] = self.ended
            out["CreatedResourceArn"] = self.created_resource
        return out


@dataclass
class RegionStore:
    account: str
    region: str
    jobs: dict[str, BackupJob] = field(default_factory=dict)
    job_order: list[tuple[float, str]] = field(default_factory=list)
    copies: dict[str, CopyJob] = field(default_factory=dict)
    copy_order: list[tuple[float, str]] = field(default_factory=list)
    restores: dict[str, RestoreJob] = field(default_factory=dict)
    restore_order: list[tuple[float, str]] = field(default_factory=list)
    points: dict[str, dict[str, RecoveryPoint]] = field(default_factory=dict)  # vault -> arn -> point
    selections: dict[str, dict[str, Selection]] = field(default_factory=dict)  # plan id -> id -> selection
    rule_due: dict[tuple[str, str], float] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)

    def add_job(self, job: BackupJob) -> None:
        self.jobs[job.job_id] = job
        bisect.insort(self.job_order, (job.created, job.job_id))

    def add_copy(self, job: CopyJob) -> None:
        self.copies[job.job_id] = job
        bisect.insort(self.copy_order, (job.created, job.job_id))

    def add_point(self, point: RecoveryPoint) -> None:
        self.points.setdefault(point.vault_name, {})[point.arn] = point


_stores: dict[tuple[str, str], RegionStore] = {}


def store(account: str, region: str) -> RegionStore:
    key = (account, region)
    if key not in _stores:
        _stores[key] = RegionStore(account, region)
    return _stores[key]


# --------------------------------------------------------------------------------------------------------
# resources


@dataclass(frozen=True)
class Resource:
    arn: str
    instance_id: str
    name: str
    tags: dict[str, str]
    size: int
    windows: bool


_GIB = 1024**3
_FAMILY_GIB = {"r": 200, "m": 60, "c": 40, "t": 30}


def _size_for(instance_type: str, windows: bool, instance_id: str) -> int:
    family = instance_type[:1]
    base = _FAMILY_GIB.get(family, 50) + (40 if windows else 0)
    if "2xlarge" in instance_type:
        base *= 2
    jitter = 1 + (zlib.crc32(instance_id.encode()) % 100) / 1000  # up to +10 %, stable per instance
    return int(base * jitter * _GIB)


def ec2_resources(account: str, region: str) -> list[Resource]:
    """The region's EC2 instances that AWS Backup could back up (not terminated), with their tags."""
    backend = ec2_backends[account][region]
    out = []
    for iid, inst in instance_index(backend).items():
        if inst._state.name in ("terminated", "shutting-down"):
            continue
        tags = dict(backend.tags.get(iid) or {})
        windows = getattr(inst, "platform", None) == "windows"
        out.append(Resource(f"arn:aws:ec2:{region}:{account}:instance/{iid}", iid, tags.get("Name", ""), tags,
                            _size_for(inst.instance_type, windows, iid), windows))
    out.sort(key=lambda r: r.arn)
    return out


def _arn_match(pattern: str, arn: str) -> bool:
    return fnmatch.fnmatchcase(arn, pattern) if "*" in pattern else arn == pattern


def _tag_of(key: str) -> str:
    return key.split("aws:ResourceTag/", 1)[1] if key.startswith("aws:ResourceTag/") else key


def selected(body: dict[str, Any], resources: list[Resource]) -> list[Resource]:
    """Apply one BackupSelection to resources (semantics in the module docstring)."""
    res_patterns = body.get("Resources") or []
    tag_conds = body.get("ListOfTags") or []
    not_patterns = body.get("NotResources") or []
    conditions = body.get("Conditions") or {}
    out = []
    for r in resources:
        hit = any(_arn_match(p, r.arn) for p in res_patterns)
        if not hit:
            hit = any(r.tags.get(_tag_of(c.get("ConditionKey", ""))) == c.get("ConditionValue") for c in tag_conds)
        if not hit:
            continue
        if any(_arn_match(p, r.arn) for p in not_patterns):
            continue
        ok = True
        for op, conds in conditions.items():
            for c in conds or []:
                value = r.tags.get(_tag_of(c.get("ConditionKey", "")))
                want = c.get("ConditionValue", "")
                if op == "StringEquals":
                    ok = value == want
                elif op == "StringNotEquals":
                    ok = value != want
                elif op == "StringLike":
                    ok = value is not None and fnmatch.fnmatchcase(value, want)
                elif op == "StringNotLike":
                    ok = value is None or not fnmatch.fnmatchcase(value, want)
                if not ok:
                    break
            if not ok:
                break
        if ok:
            out.append(r)
    return out


# --------------------------------------------------------------------------------------------------------
# creating jobs


def _vault_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:backup:{region}:{account}:backup-vault:{name}"


def _rng(*key: object) -> random.Random:
    """A generator for one job, seeded from its key. The seed is a 128-bit hash of the key: a 32-bit CRC gave
    two of 10,000 history jobs the same seed now and then (``crc32("plumless") == crc32("buckeroo")``), hence
    the same job id, and one job silently replaced the other."""
    digest = hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big") ^ _seed_value)


def vss_enabled(backup_options: dict[str, str] | None) -> bool:
    """True when the job asked for a Windows VSS backup (``BackupOptions {"WindowsVSS": "enabled"}``, from the
    plan's AdvancedBackupSettings for EC2 or StartBackupJob): only then can VSS fail over to a crash-consistent
    image (https://docs.aws.amazon.com/aws-backup/latest/devguide/windows-backups.html)."""
    return str((backup_options or {}).get("WindowsVSS", "")).lower() == "enabled"


def _plan_outcome(rng: random.Random, res: Resource, knobs: dict[str, float],
                  forced: str | None, vss: bool = False) -> tuple[str, str, str | None]:
    """(outcome, category, message) for one job, from the knobs or a forced outcome. "Completed with issues"
    (the VSS fallback) needs ``vss``: a forced ISSUES without it completes plainly, as such a job would."""
    roll = rng.random()
    outcome = forced
    if outcome is None:
        if roll < knobs["expire_rate"]:
            outcome = "EXPIRED"
        elif roll < knobs["expire_rate"] + knobs["fail_rate"]:
            outcome = "FAILED"
        elif res.windows and rng.random() < knobs["issues_rate"] and vss:
            outcome = "ISSUES"
        else:
            outcome = "COMPLETED"
    if outcome == "ISSUES" and not vss:
        outcome = "COMPLETED"
    if outcome == "ISSUES":
        return "COMPLETED", "AccessDenied", VSS_MESSAGE
    if outcome == "FAILED":
        category, message = FAILURES[rng.randrange(len(FAILURES))]
        return "FAILED", category, message
    if outcome == "EXPIRED":
        return "EXPIRED", "EXPIRED", EXPIRED_START
    if outcome == "ABORTED":
        return "ABORTED", "ABORTED", STOPPED
    return "COMPLETED", "SUCCESS", None


def create_job(st: RegionStore, res: Resource, vault_name: str, iam_role: str, created: float,
               start_window_min: float, completion_window_min: float, lifecycle: dict[str, Any] | None,
               created_by: dict[str, Any] | None, copy_actions: list[dict[str, Any]], *,
               start_delay: float | None = None, forced: str | None = None, copy_fails: bool = False,
               knobs: dict[str, float] | None = None, backup_options: dict[str, str] | None = None) -> BackupJob:
    """Plan one backup job's whole timeline (and its recovery point and copy jobs) and store it."""
    knobs = knobs or _knobs
    rng = _rng(st.region, res.arn, f"{created:.3f}", vault_name)
    if forced is None and res.instance_id in _forced:
        forced = _forced[res.instance_id]
    outcome, category, message = _plan_outcome(rng, res, knobs, forced, vss_enabled(backup_options))
    start_by = created + start_window_min * 60
    complete_by = created + completion_window_min * 60
    delay = start_delay if start_delay is not None else rng.uniform(60, 15 * 60)
    delay = min(delay, max(0.0, start_window_min * 60 - 60))
    duration = (3 + res.size / _GIB * 0.1) * 60 * rng.uniform(0.8, 1.3)
    started: float | None = created + delay
    end_fraction = 1.0
    if outcome == "EXPIRED":
        started, ended = None, start_by
    elif outcome == "FAILED":
        end_fraction = rng.uniform(0.05, 0.8)
        ended = started + duration * end_fraction  # type: ignore[operator]
    elif outcome == "ABORTED":
        end_fraction = rng.uniform(0.1, 0.6)
        ended = started + duration * end_fraction  # type: ignore[operator]
    else:
        ended = started + duration  # type: ignore[operator]
        if ended > complete_by:
            outcome, category, message = "EXPIRED", "EXPIRED", EXPIRED_COMPLETION
            end_fraction = (complete_by - started) / duration  # type: ignore[operator]
            ended = complete_by
    if message and "{role}" in message:
        message = message.format(role=iam_role)
    job = BackupJob(
        job_id=_upper_uuid(rng), account=st.account, region=st.region, vault_name=vault_name,
        vault_arn=_vault_arn(st.account, st.region, vault_name), resource_arn=res.arn, resource_name=res.name,
        iam_role=iam_role, created=created, start_by=start_by, complete_by=complete_by, started=started,
        ended=ended, outcome=outcome, category=category, message=message,
        size=int(res.size * rng.uniform(0.97, 1.0)), end_fraction=end_fraction, lifecycle=lifecycle or None,
        created_by=created_by, backup_options=backup_options)
    point = RecoveryPoint(arn=f"arn:aws:ec2:{st.region}::image/ami-0{_hex(rng, 16)}", account=st.account,
                          region=st.region, vault_name=vault_name, vault_arn=job.vault_arn, producer=job,
                          created=started if started is not None else created, lifecycle=lifecycle or None)
    job.recovery_point = point
    st.add_job(job)
    st.add_point(point)
    if outcome == "COMPLETED":
        for action in copy_actions:
            _plan_copy(st, job, action, rng, knobs, copy_fails)
    return job


def _plan_copy(st: RegionStore, job: BackupJob, action: dict[str, Any], rng: random.Random,
               knobs: dict[str, float], forced_fail: bool) -> None:
    dest_arn = action.get("DestinationBackupVaultArn", "")
    parts = dest_arn.split(":")
    if len(parts) < 7:
        return
    dest_region, dest_account, dest_vault = parts[3], parts[4], parts[6]
    failed = rng.random() < knobs["copy_fail_rate"] or forced_fail
    created = job.ended + rng.uniform(5, 60)
    started = created + rng.uniform(30, 90)
    ended = started + (2 + job.size / _GIB * 0.05) * 60 * rng.uniform(0.8, 1.3)
    category, message = ("SUCCESS", None)
    if failed:
        category, message = COPY_FAILURE[0], COPY_FAILURE[1].format(vault=dest_arn)
        ended = started + 60 * rng.uniform(1, 5)
    lifecycle = action.get("Lifecycle") or None
    copy = CopyJob(job_id=_upper_uuid(rng), account=st.account, region=st.region, parent=job,
                   source_vault_arn=job.vault_arn, source_rp_arn=job.recovery_point.arn if job.recovery_point else "",
                   dest_vault_arn=dest_arn, created=created, started=started, ended=ended,
                   outcome="FAILED" if failed else "COMPLETED", category=category, message=message,
                   lifecycle=lifecycle)
    dest = store(dest_account, dest_region)
    point = RecoveryPoint(arn=f"arn:aws:ec2:{dest_region}::image/ami-0{_hex(rng, 16)}", account=dest_account,
                          region=dest_region, vault_name=dest_vault, vault_arn=dest_arn, producer=copy,
                          created=started, lifecycle=lifecycle, source_vault_arn=job.vault_arn)
    copy.dest_point = point
    job.copies.append(copy)
    st.add_copy(copy)
    dest.add_point(point)


def _rule_defaults(rule: dict[str, Any]) -> tuple[float, float]:
    return (float(rule.get("StartWindowMinutes") or DEFAULT_START_WINDOW),
            float(rule.get("CompletionWindowMinutes") or DEFAULT_COMPLETION_WINDOW))


def plan_backup_options(plan: Any) -> dict[str, str] | None:
    """The BackupOptions a plan gives its EC2 jobs: its ``AdvancedBackupSettings`` entry for ResourceType EC2
    (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_AdvancedBackupSetting.html)."""
    for setting in getattr(plan, "advanced_backup_settings", None) or []:
        if setting.get("ResourceType") == "EC2" and setting.get("BackupOptions"):
            return dict(setting["BackupOptions"])
    return None


def run_rule(account: str, region: str, plan: Any, rule: dict[str, Any], when: float,
             resources: list[Resource] | None = None, forced: dict[str, str] | None = None,
             knobs: dict[str, float] | None = None) -> list[BackupJob]:
    """Create the jobs one firing of a plan rule makes at ``when`` (epoch seconds)."""
    st = store(account, region)
    sels = list(st.selections.get(plan.backup_plan_id, {}).values())
    if not sels:
        return []
    if resources is None:
        resources = ec2_resources(account, region)
    chosen: dict[str, tuple[Resource, str]] = {}
    for sel in sels:
        for r in selected(sel.body, resources):
            chosen.setdefault(r.arn, (r, sel.body.get("IamRoleArn", "")))
    start_w, complete_w = _rule_defaults(rule)
    created_by = {
        "BackupPlanId": plan.backup_plan_id, "BackupPlanArn": plan.backup_plan_arn,
        "BackupPlanName": plan.backup_plan.get("BackupPlanName"), "BackupPlanVersion": plan.version_id,
        "BackupRuleId": rule.get("RuleId"), "BackupRuleName": rule.get("RuleName"),
        "BackupRuleCron": rule.get("ScheduleExpression"),
        "BackupRuleTimezone": rule.get("ScheduleExpressionTimezone") or "Etc/UTC",
    }
    options = plan_backup_options(plan)
    jobs = []
    for n, (res, role) in enumerate(sorted(chosen.values(), key=lambda x: x[0].arn)):
        jitter = _rng(region, res.arn, when).uniform(0, 90) + n * 0.01
        jobs.append(create_job(st, res, rule.get("TargetBackupVaultName", "Default"), role, when + jitter,
                               start_w, complete_w, rule.get("Lifecycle"), created_by,
                               rule.get("CopyActions") or [], forced=(forced or {}).get(res.instance_id),
                               copy_fails=bool((forced or {}).get(f"copy:{res.instance_id}")), knobs=knobs,
                               backup_options=options))
    # the seed replays history newest first: keep the latest run, not the last one replayed
    plan.last_execution_date = max(when, getattr(plan, "last_execution_date", None) or 0)
    return jobs


def catch_up(now: float | None = None) -> int:
    """Fire every plan rule whose cron time has passed (all missed occurrences). Returns jobs created."""
    now = _now() if now is None else now
    created = 0
    with _lock:
        for account, per_account in list(backup_backends.items()):
            for region, backend in list(per_account.items()):
                st = None
                for plan in list(backend.plans.values()):
                    if plan.deletion_date is not None:
                        continue
                    for rule in plan.backup_plan.get("Rules", []):
                        st = st or store(account, region)
                        key = (plan.backup_plan_id, rule.get("RuleId", ""))
                        try:
                            cron = parse_cron(rule.get("ScheduleExpression") or "cron(0 5 ? * * *)")
                        except JsonRESTError:
                            continue
                        due = st.rule_due.get(key)
                        if due is None:
                            nxt = cron.next_after(dt.datetime.fromtimestamp(now, dt.UTC))
                            st.rule_due[key] = nxt.timestamp() if nxt else float("inf")
                            continue
                        fired = 0
                        resources = None
                        while due <= now:
                            if fired < MAX_CATCH_UP:
                                if resources is None:
                                    resources = ec2_resources(account, region)
                                created += len(run_rule(account, region, plan, rule, due, resources))
                            fired += 1
                            nxt = cron.next_after(dt.datetime.fromtimestamp(due, dt.UTC))
                            due = nxt.timestamp() if nxt else float("inf")
                        st.rule_due[key] = due
    return created


# --------------------------------------------------------------------------------------------------------
# request helpers


def _body(self: Any) -> dict[str, Any]:
    raw = self.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameterValueException("Request body is not valid JSON") from exc
    return value if isinstance(value, dict) else {}


def _query(self: Any, name: str) -> str | None:
    values = self.querystring.get(name)
    if not values:
        return None
    return values[0] if isinstance(values, list) else values


def _uri(self: Any, name: str) -> str:
    match = getattr(self, "uri_match", None) or {}
    value = match.get(name)
    if value is None:
        value = match.get(name[:1].lower() + name[1:])  # the URI label (backupPlanId)
    if value is None:
        raise MissingParameterValueException(f"{name} is required")
    return unquote(value)


def _when(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise InvalidParameterValueException(f"Invalid value for {name}: {text}") from exc


def _max_results(self: Any) -> int:
    text = _query(self, "maxResults")
    if text is None:
        return MAX_RESULTS
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidParameterValueException("maxResults must be a number") from exc
    if not 1 <= value <= MAX_RESULTS:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_RESULTS}")
    return value


def _token(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps([key[0], key[1]]).encode()).decode()


def _untoken(token: str | None) -> tuple[float, str] | None:
    if not token:
        return None
    try:
        created, ident = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created), str(ident)
    except Exception as exc:
        raise InvalidParameterValueException("The next token is not valid") from exc


def _page_desc(order: list[tuple[float, str]], items: dict[str, Any], after: float | None, before: float | None,
               now: float, token: str | None, limit: int, keep: Any) -> tuple[list[Any], str | None]:
    """Newest first over a creation-sorted index: bisect to the window, one filter pass, stop at ``limit``."""
    hi = bisect.bisect_right(order, (min(now, before if before is not None else now), "\uffff"))
    cursor = _untoken(token)
    if cursor is not None:
        hi = min(hi, bisect.bisect_left(order, cursor))
    lo = bisect.bisect_left(order, (after, "")) if after is not None else 0
    page: list[Any] = []
    last: tuple[float, str] | None = None
    i = hi - 1
    while i >= lo:
        key = order[i]
        item = items[key[1]]
        if keep(item):
            if len(page) == limit:
                return page, _token(last) if last else None
            page.append(item)
            last = key
        i -= 1
    return page, None


def _dumps(value: Any) -> tuple[str, dict[str, str]]:
    return json.dumps(value), {"Content-Type": "application/json"}


def _account(self: Any) -> str:
    return self.current_account


def _vault_exists(account: str, region: str, name: str) -> Any:
    vaults = backup_backends[account][region].vaults
    if name not in vaults:
        raise ResourceNotFoundException(f"Backup vault {name} does not exist in region {region}.")
    return vaults[name]


def _plan(account: str, region: str, plan_id: str) -> Any:
    plans = backup_backends[account][region].plans
    plan = plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise ResourceNotFoundException(f"Backup plan {plan_id} not found.")
    return plan


_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
_SELECTION_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")


# --------------------------------------------------------------------------------------------------------
# selections


def create_backup_selection(self: Any) -> Any:
    catch_up()
    account, region = _account(self), self.region
    plan_id = _uri(self, "BackupPlanId")
    params = _body(self)
    body = params.get("BackupSelection")
    if not isinstance(body, dict):
        raise MissingParameterValueException("BackupSelection is required")
    _plan(account, region, plan_id)
    name = body.get("SelectionName")
    if not isinstance(name, str) or not _SELECTION_NAME.match(name):
        raise InvalidParameterValueException(
            "SelectionName must contain 1 to 50 alphanumeric or '-_.' characters.")
    role = body.get("IamRoleArn")
    if not isinstance(role, str) or not _ROLE.match(role):
        raise InvalidParameterValueException(f"Invalid IAM role ARN: {role}")
    for cond in body.get("ListOfTags") or []:
        if cond.get("ConditionType") != "STRINGEQUALS" or not cond.get("ConditionKey"):
            raise InvalidParameterValueException("ListOfTags supports only STRINGEQUALS conditions with a key.")
    for op in body.get("Conditions") or {}:
        if op not in ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike"):
            raise InvalidParameterValueException(f"Unsupported condition operator {op}.")
    if not (body.get("Resources") or body.get("ListOfTags")):
        raise InvalidParameterValueException("A backup selection needs Resources or ListOfTags.")
    with _lock:
        st = store(account, region)
        sels = st.selections.setdefault(plan_id, {})
        if any(s.body.get("SelectionName") == name for s in sels.values()):
            from moto.backup.exceptions import AlreadyExistsException

            raise AlreadyExistsException(f"Backup selection with the name {name} already exists.")
        sel = Selection(selection_id=str(uuid.uuid4()), plan_id=plan_id, body=body, created=_now(),
                        creator_request_id=params.get("CreatorRequestId"))
        sels[sel.selection_id] = sel
    return _dumps({"SelectionId": sel.selection_id, "BackupPlanId": plan_id, "CreationDate": sel.created})


def _selection(self: Any) -> Selection:
    plan_id, sel_id = _uri(self, "BackupPlanId"), _uri(self, "SelectionId")
    sel = store(_account(self), self.region).selections.get(plan_id, {}).get(sel_id)
    if sel is None:
        raise ResourceNotFoundException(f"Backup selection {sel_id} not found in plan {plan_id}.")
    return sel


def get_backup_selection(self: Any) -> Any:
    with _lock:
        sel = _selection(self)
        return _dumps({"BackupSelection": sel.body, "SelectionId": sel.selection_id, "BackupPlanId": sel.plan_id,
                       "CreationDate": sel.created,
                       **({"CreatorRequestId": sel.creator_request_id} if sel.creator_request_id else {})})


def delete_backup_selection(self: Any) -> Any:
    with _lock:
        sel = _selection(self)
        del store(_account(self), self.region).selections[sel.plan_id][sel.selection_id]
    return ""


def list_backup_selections(self: Any) -> Any:
    account, region = _account(self), self.region
    plan_id = _uri(self, "BackupPlanId")
    _plan(account, region, plan_id)
    limit = _max_results(self)
    with _lock:
        sels = sorted(store(account, region).selections.get(plan_id, {}).values(), key=lambda s: s.created)
    start = int(_query(self, "nextToken") or 0) if (_query(self, "nextToken") or "0").isdigit() else 0
    page = sels[start:start + limit]
    out: dict[str, Any] = {"BackupSelectionsList": [
        {"SelectionId": s.selection_id, "SelectionName": s.body.get("SelectionName"), "BackupPlanId": s.plan_id,
         "CreationDate": s.created, "IamRoleArn": s.body.get("IamRoleArn"),
         **({"CreatorRequestId": s.creator_request_id} if s.creator_request_id else {})} for s in page]}
    if start + limit < len(sels):
        out["NextToken"] = str(start + limit)
    return _dumps(out)


_moto_delete_backup_plan = BackupResponse.delete_backup_plan
_moto_create_backup_plan = BackupResponse.create_backup_plan


def create_backup_plan(self: Any) -> Any:
    """moto's CreateBackupPlan, then the scheduler sees the new rules at once (due at their next cron time)."""
    out = _moto_create_backup_plan(self)
    catch_up()
    return out


def delete_backup_plan(self: Any) -> Any:
    plan_id = self.path.rstrip("/").split("/")[-1]
    with _lock:
        if store(_account(self), self.region).selections.get(plan_id):
            raise InvalidRequestException(
                "Related backup plan selections must be deleted prior to backup plan deletion.")
    return _moto_delete_backup_plan(self)


# --------------------------------------------------------------------------------------------------------
# backup jobs


def start_backup_job(self: Any) -> Any:
    catch_up()
    account, region = _account(self), self.region
    p = _body(self)
    for name in ("BackupVaultName", "ResourceArn", "IamRoleArn"):
        if not p.get(name):
            raise MissingParameterValueException(f"{name} is required")
    arn, role, vault = p["ResourceArn"], p["IamRoleArn"], p["BackupVaultName"]
    _vault_exists(account, region, vault)
    if not _ROLE.match(role):
        raise InvalidParameterValueException(f"Invalid IAM role ARN: {role}")
    m = re.fullmatch(r"arn:aws:ec2:([a-z0-9-]+):(\d{12}):instance/(i-[0-9a-f]+)", arn)
    if not m:
        raise InvalidParameterValueException(f"Invalid ARN: {arn}. The sandbox backs up EC2 instances only.")
    if m.group(1) != region or m.group(2) != account:
        raise InvalidParameterValueException(f"Resource {arn} is not in region {region} of account {account}.")
    res = next((r for r in ec2_resources(account, region) if r.arn == arn), None)
    if res is None:
        raise ResourceNotFoundException(f"Resource {arn} not found.")
    start_w = p.get("StartWindowMinutes", DEFAULT_START_WINDOW)
    complete_w = p.get("CompleteWindowMinutes", DEFAULT_COMPLETION_WINDOW)
    if not isinstance(start_w, int) or start_w < 60:
        raise InvalidParameterValueException("StartWindowMinutes must be at least 60 minutes.")
    if not isinstance(complete_w, int) or complete_w < start_w:
        raise InvalidParameterValueException("CompleteWindowMinutes must be at least StartWindowMinutes.")
    options = p.get("BackupOptions") or None
    # EC2 takes one option, WindowsVSS enabled|disabled (API_StartBackupJob.html#Backup-StartBackupJob-
    # request-BackupOptions)
    if options is not None and (not isinstance(options, dict) or set(options) - {"WindowsVSS"}
                                or str(options.get("WindowsVSS", "disabled")) not in ("enabled", "disabled")):
        raise InvalidParameterValueException(
                f"Invalid BackupOptions {json.dumps(options)}: EC2 supports only WindowsVSS (enabled|disabled).")
    lifecycle = p.get("Lifecycle") or None
    if lifecycle:
        delete, cold = lifecycle.get("DeleteAfterDays"), lifecycle.get("MoveToColdStorageAfterDays")
        if delete is not None and cold is not None and delete < cold + 90:
            raise InvalidParameterValueException(
                "DeleteAfterDays must be at least 90 days greater than MoveToColdStorageAfterDays.")
    with _lock:
        st = store(account, region)
        token = p.get("IdempotencyToken")
        if token and token in st.idempotency:
            job = st.jobs[st.idempotency[token]]
        else:
            job = create_job(st, res, vault, role, _now(), start_w, complete_w, lifecycle, None, [],
                             start_delay=_knobs["on_demand_start_seconds"], backup_options=options)
            if token:
                st.idempotency[token] = job.job_id
    # RecoveryPointArn "is only returned for Amazon EFS and Advanced DynamoDB resources"
    # (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartBackupJob.html): not for EC2
    return _dumps({"BackupJobId": job.job_id, "CreationDate": job.created, "IsParent": False})


def _job(self: Any) -> BackupJob:
    job_id = _uri(self, "BackupJobId")
    job = store(_account(self), self.region).jobs.get(job_id)
    if job is None or job.created > _now():
        raise ResourceNotFoundException(f"Backup job {job_id} not found.")
    return job


def describe_backup_job(self: Any) -> Any:
    catch_up()
    with _lock:
        job = _job(self)
        out = job.to_json(_now())
        out["NumberOfChildJobs"] = 0
        return _dumps(out)


def stop_backup_job(self: Any) -> Any:
    catch_up()
    now = _now()
    with _lock:
        job = _job(self)
        state = job.state(now)
        if state not in ("CREATED", "PENDING", "RUNNING"):
            raise InvalidRequestException(f"Backup job {job.job_id} cannot be stopped in state {state}.")
        job.end_fraction = job.fraction(now)
        job.ended = now
        job.outcome, job.category, job.message = "ABORTED", "ABORTED", STOPPED
    return ""


def _common_filters(self: Any, state_param: str) -> dict[str, Any]:
    return {
        "state": _query(self, state_param),
        "resource_arn": _query(self, "resourceArn"),
        "resource_type": _query(self, "resourceType"),
        "account": _query(self, "accountId"),
        "created_after": _when(_query(self, "createdAfter"), "ByCreatedAfter"),
        "created_before": _when(_query(self, "createdBefore"), "ByCreatedBefore"),
        "complete_after": _when(_query(self, "completeAfter"), "ByCompleteAfter"),
        "complete_before": _when(_query(self, "completeBefore"), "ByCompleteBefore"),
        "category": _query(self, "messageCategory"),
        "parent": _query(self, "parentJobId"),
    }


def _category_ok(want: str | None, have: str | None) -> bool:
    return want in (None, "ANY", "AGGREGATE_ALL") or (have is not None and have.upper() == want.upper())


def list_backup_jobs(self: Any) -> Any:
    catch_up()
    f = _common_filters(self, "state")
    vault = _query(self, "backupVaultName")
    limit = _max_results(self)
    now = _now()
    state = f["state"]
    if state in ("ANY", "AGGREGATE_ALL"):
        state = None

    def keep(job: BackupJob) -> bool:
        if f["resource_arn"] and job.resource_arn != f["resource_arn"]:
            return False
        if f["resource_type"] and job.resource_type != f["resource_type"]:
            return False
        if vault and job.vault_name != vault:
            return False
        if f["account"] and f["account"] not in ("*", "ANY") and job.account != f["account"]:
            return False
        if f["parent"]:
            return False
        if state and job.state(now) != state:
            return False
        if f["complete_after"] is not None or f["complete_before"] is not None:
            if now < job.ended:
                return False
            if f["complete_after"] is not None and job.ended <= f["complete_after"]:
                return False
            if f["complete_before"] is not None and job.ended >= f["complete_before"]:
                return False
        return f["category"] is None or _category_ok(f["category"], job.category_at(now))

    with _lock:
        st = store(_account(self), self.region)
        page, token = _page_desc(st.job_order, st.jobs, f["created_after"], f["created_before"], now,
                                 _query(self, "nextToken"), limit, keep)
        out: dict[str, Any] = {"BackupJobs": [j.to_json(now) for j in page]}
    if token:
        out["NextToken"] = token
    return _dumps(out)


def list_copy_jobs(self: Any) -> Any:
    catch_up()
    f = _common_filters(self, "state")
    dest = _query(self, "destinationVaultArn")
    source_rp = _query(self, "sourceRecoveryPointArn")
    limit = _max_results(self)
    now = _now()

    def keep(job: CopyJob) -> bool:
        if not job.visible(now):
            return False
        if f["resource_arn"] and job.parent.resource_arn != f["resource_arn"]:
            return False
        if f["resource_type"] and job.parent.resource_type != f["resource_type"]:
            return False
        if dest and job.dest_vault_arn != dest:
            return False
        if source_rp and job.source_rp_arn != source_rp:
            return False
        if f["account"] and f["account"] not in ("*", "ANY") and job.account != f["account"]:
            return False
        if f["parent"]:
            return False
        if f["state"] and f["state"] not in ("ANY", "AGGREGATE_ALL") and job.state(now) != f["state"]:
            return False
        if f["complete_after"] is not None or f["complete_before"] is not None:
            if now < job.ended:
                return False
            if f["complete_after"] is not None and job.ended <= f["complete_after"]:
                return False
            if f["complete_before"] is not None and job.ended >= f["complete_before"]:
                return False
        return f["category"] is None or _category_ok(f["category"], job.category if now >= job.ended else None)

    with _lock:
        st = store(_account(self), self.region)
        page, token = _page_desc(st.copy_order, st.copies, f["created_after"], f["created_before"], now,
                                 _query(self, "nextToken"), limit, keep)
        out: dict[str, Any] = {"CopyJobs": [j.to_json(now) for j in page]}
    if token:
        out["NextToken"] = token
    return _dumps(out)


def describe_copy_job(self: Any) -> Any:
    catch_up()
    job_id = _uri(self, "CopyJobId")
    now = _now()
    with _lock:
        job = store(_account(self), self.region).copies.get(job_id)
        if job is None or not job.visible(now):
            raise ResourceNotFoundException(f"Copy job {job_id} not found.")
        return _dumps({"CopyJob": job.to_json(now)})


# --------------------------------------------------------------------------------------------------------
# recovery points


def _points(account: str, region: str, vault: str | None) -> list[RecoveryPoint]:
    st = store(account, region)
    if vault is not None:
        return list(st.points.get(vault, {}).values())
    return [p for pts in st.points.values() for p in pts.values()]


def _offset_page(self: Any, items: list[Any]) -> tuple[list[Any], str | None]:
    limit = _max_results(self)
    token = _query(self, "nextToken")
    start = 0
    if token:
        if not token.isdigit():
            raise InvalidParameterValueException("The next token is not valid")
        start = int(token)
    nxt = str(start + limit) if start + limit < len(items) else None
    return items[start:start + limit], nxt


def list_recovery_points_by_backup_vault(self: Any) -> Any:
    catch_up()
    account, region = _account(self), self.region
    vault = _uri(self, "BackupVaultName")
    _vault_exists(account, region, vault)
    by_arn, by_type = _query(self, "resourceArn"), _query(self, "resourceType")
    by_plan = _query(self, "backupPlanId")
    after = _when(_query(self, "createdAfter"), "ByCreatedAfter")
    before = _when(_query(self, "createdBefore"), "ByCreatedBefore")
    now = _now()
    rows = []
    with _lock:
        for p in _points(account, region, vault):
            status = p.status(now)
            if status is None:
                continue
            job = p.job
            if (by_arn and job.resource_arn != by_arn) or (by_type and job.resource_type != by_type):
                continue
            if by_plan and (job.created_by or {}).get("BackupPlanId") != by_plan:
                continue
            if (after is not None and p.created <= after) or (before is not None and p.created >= before):
                continue
            rows.append((p.created, p.arn, p.to_json(now, status)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    page, token = _offset_page(self, [r[2] for r in rows])
    out: dict[str, Any] = {"RecoveryPoints": page}
    if token:
        out["NextToken"] = token
    return _dumps(out)


def list_recovery_points_by_resource(self: Any) -> Any:
    catch_up()
    account, region = _account(self), self.region
    arn = _uri(self, "ResourceArn")
    now = _now()
    rows = []
    with _lock:
        for p in _points(account, region, None):
            if p.job.resource_arn != arn:
                continue
            status = p.status(now)
            if status is not None:
                rows.append((p.created, p.arn, p.to_json(now, status, by_resource=True)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    page, token = _offset_page(self, [r[2] for r in rows])
    out: dict[str, Any] = {"RecoveryPoints": page}
    if token:
        out["NextToken"] = token
    return _dumps(out)


def _point(self: Any) -> tuple[RecoveryPoint, str]:
    account, region = _account(self), self.region
    vault = _uri(self, "BackupVaultName")
    arn = _uri(self, "RecoveryPointArn")
    _vault_exists(account, region, vault)
    point = store(account, region).points.get(vault, {}).get(arn)
    status = point.status(_now()) if point else None
    if point is None or status is None:
        raise ResourceNotFoundException(f"Recovery point {arn} not found in backup vault {vault}.")
    return point, status


def describe_recovery_point(self: Any) -> Any:
    catch_up()
    with _lock:
        point, status = _point(self)
        out = point.to_json(_now(), status)
        out["StorageClass"] = "WARM"
        return _dumps(out)


def get_recovery_point_restore_metadata(self: Any) -> Any:
    """The metadata StartRestoreJob needs, as AWS gives it for an EC2 recovery point (strings only; the
    console and the CLI pass it back, with changes, as StartRestoreJob's Metadata)."""
    catch_up()
    with _lock:
        point, _ = _point(self)
        job = point.job
        instance_id = job.resource_arn.rsplit("/", 1)[-1]
        metadata = {
            "InstanceType": "t3.medium", "RequireIMDSv2": "true", "DisableApiTermination": "false",
            "InstanceInitiatedShutdownBehavior": "stop", "EbsOptimized": "true", "Placement":
                json.dumps({"AvailabilityZone": f"{point.region}a", "Tenancy": "default"}),
            "SubnetId": "subnet-0a1b2c3d4e5f60718", "SecurityGroupIds": json.dumps(["sg-0123456789abcdef0"]),
            "aws:backup:request-id": instance_id,
        }
        return _dumps({"BackupVaultArn": point.vault_arn, "RecoveryPointArn": point.arn,
                       "RestoreMetadata": metadata, "ResourceType": job.resource_type})


def delete_recovery_point(self: Any) -> Any:
    catch_up()
    with _lock:
        point, status = _point(self)
        if status != "COMPLETED":
            raise InvalidRequestException(f"Recovery point {point.arn} is {status} and cannot be deleted now.")
        point.deleted = True
    return ""


# --------------------------------------------------------------------------------------------------------
# restore jobs


def start_restore_job(self: Any) -> Any:
    catch_up()
    account, region = _account(self), self.region
    p = _body(self)
    arn = p.get("RecoveryPointArn")
    if not arn:
        raise MissingParameterValueException("RecoveryPointArn is required")
    if not isinstance(p.get("Metadata"), dict):
        raise MissingParameterValueException("Metadata is required")
    role = p.get("IamRoleArn")
    if role is not None and not _ROLE.match(role):
        raise InvalidParameterValueException(f"Invalid IAM role ARN: {role}")
    now = _now()
    with _lock:
        st = store(account, region)
        point = next((pt for pts in st.points.values() for pt in pts.values() if pt.arn == arn), None)
        status = point.status(now) if point else None
        if point is None or status is None:
            raise ResourceNotFoundException(f"Recovery point {arn} not found.")
        if status != "COMPLETED":
            raise InvalidRequestException(f"Recovery point {arn} is {status}; only completed points can be restored.")
        token = p.get("IdempotencyToken")
        if token and f"restore:{token}" in st.idempotency:
            return _dumps({"RestoreJobId": st.idempotency[f"restore:{token}"]})
        rng = _rng("restore", arn, f"{now:.3f}")
        started = now + 30
        ended = started + (2 + point.job.size / _GIB * 0.05) * 60
        new_id = "i-0" + _hex(rng, 16)
        job = RestoreJob(job_id=_upper_uuid(rng), account=account, region=region, point=point, iam_role=role,
                         created=now, started=started, ended=ended,
                         created_resource=f"arn:aws:ec2:{region}:{account}:instance/{new_id}",
                         resource_type=p.get("ResourceType") or point.job.resource_type, metadata=p["Metadata"])
        st.restores[job.job_id] = job
        bisect.insort(st.restore_order, (job.created, job.job_id))
        point.last_restore = now
        if token:
            st.idempotency[f"restore:{token}"] = job.job_id
    return _dumps({"RestoreJobId": job.job_id})


def describe_restore_job(self: Any) -> Any:
    job_id = _uri(self, "RestoreJobId")
    now = _now()
    with _lock:
        job = store(_account(self), self.region).restores.get(job_id)
        if job is None:
            raise ResourceNotFoundException(f"Restore job {job_id} not found.")
        out = job.to_json(now)
        out.pop("IsParent", None)
        out["IsParent"] = False
        return _dumps(out)


def list_restore_jobs(self: Any) -> Any:
    catch_up()
    f = _common_filters(self, "status")
    limit = _max_results(self)
    now = _now()

    def keep(job: RestoreJob) -> bool:
        if f["resource_type"] and job.resource_type != f["resource_type"]:
            return False
        if f["account"] and f["account"] not in ("*", "ANY") and job.account != f["account"]:
            return False
        if f["state"] and job.state(now) != f["state"]:
            return False
        if f["parent"]:
            return False
        if f["complete_after"] is not None or f["complete_before"] is not None:
            if now < job.ended:
                return False
            if f["complete_after"] is not None and job.ended <= f["complete_after"]:
                return False
            if f["complete_before"] is not None and job.ended >= f["complete_before"]:
                return False
        return True

    with _lock:
        st = store(_account(self), self.region)
        page, token = _page_desc(st.restore_order, st.restores, f["created_after"], f["created_before"], now,
                                 _query(self, "nextToken"), limit, keep)
        out: dict[str, Any] = {"RestoreJobs": [j.to_json(now) for j in page]}
    if token:
        out["NextToken"] = token
    return _dumps(out)


# --------------------------------------------------------------------------------------------------------
# vault counts follow the recovery points


_moto_list_backup_vaults = BackupResponse.list_backup_vaults
_moto_describe_backup_vault = BackupResponse.describe_backup_vault


def _refresh_counts(account: str, region: str) -> None:
    now = _now()
    st = store(account, region)
    for name, vault in backup_backends[account][region].vaults.items():
        vault.num_of_recovery_points = sum(1 for p in st.points.get(name, {}).values() if p.status(now))


def list_backup_vaults(self: Any) -> Any:
    catch_up()
    with _lock:
        _refresh_counts(_account(self), self.region)
    return _moto_list_backup_vaults(self)


def describe_backup_vault(self: Any) -> Any:
    catch_up()
    with _lock:
        _refresh_counts(_account(self), self.region)
    name = self.path.rstrip("/").split("/")[-1]
    vault = _vault_exists(_account(self), self.region, unquote(name))
    out = {**vault.to_list_dict(), "VaultType": "BACKUP_VAULT"}
    return _dumps(out)


_PATHS = (  # both with and without the trailing slash botocore sends ("/?$" loses it in moto's conversion)
    "{0}/backup/plans/(?P<plan>[^/]+)/selections/$",
    "{0}/backup/plans/(?P<plan>[^/]+)/selections/(?P<selection>[^/]+)$",
    "{0}/backup-jobs$",
    "{0}/backup-jobs/$",
    "{0}/backup-jobs/(?P<job>[^/]+)$",
    "{0}/copy-jobs$",
    "{0}/copy-jobs/$",
    "{0}/copy-jobs/(?P<job>[^/]+)$",
    "{0}/restore-jobs$",
    "{0}/restore-jobs/$",
    "{0}/restore-jobs/(?P<job>[^/]+)$",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$",
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$",
    "{0}/resources/(?P<arn>.+)/recovery-points/$",
    "{0}/resources/$",
    "{0}/resources$",
    "{0}/audit/backup-job-summaries$",
    "{0}/audit/backup-job-summaries/$",
)


# --------------------------------------------------------------------------------------------------------
# protected resources and job summaries


def list_protected_resources(self: Any) -> Any:
    """ListProtectedResources: every resource of the region with a recovery point made by Backup "regardless of
    the recovery point's status" (one still CREATING counts; a deleted or never-made one does not), with its
    newest point: LastBackupTime (that point's creation), LastBackupVaultArn, LastRecoveryPointArn, ResourceName
    (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListProtectedResources.html). Newest first,
    MaxResults 1-1000, an opaque offset NextToken."""
    catch_up()
    account, region = _account(self), self.region
    now = _now()
    newest: dict[str, RecoveryPoint] = {}
    with _lock:
        for point in _points(account, region, None):
            if point.status(now) is None or point.created > now:
                continue
            arn = point.job.resource_arn
            if arn not in newest or point.created > newest[arn].created:
                newest[arn] = point
        rows = [{"ResourceArn": arn, "ResourceType": p.job.resource_type, "LastBackupTime": p.created,
                 "ResourceName": p.job.resource_name, "LastBackupVaultArn": p.vault_arn,
                 "LastRecoveryPointArn": p.arn}
                for arn, p in sorted(newest.items(), key=lambda kv: (-kv[1].created, kv[0]))]
    page, token = _offset_page(self, rows)
    out: dict[str, Any] = {"Results": page}
    if token:
        out["NextToken"] = token
    return _dumps(out)


SUMMARY_PERIODS = {"ONE_DAY": 1, "SEVEN_DAYS": 7, "FOURTEEN_DAYS": 14}
SUMMARY_STATES = ("CREATED", "PENDING", "RUNNING", "ABORTING", "ABORTED", "COMPLETED", "FAILED", "EXPIRED",
                  "PARTIAL")


def list_backup_job_summaries(self: Any) -> Any:
    """ListBackupJobSummaries: counts of the backup jobs created in the last 14 days
    (https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupJobSummaries.html), grouped by
    State, ResourceType and MessageCategory -- per UTC day over the prior 14 days (``ONE_DAY``, the default),
    or one group over the prior 7 / 14 days (``SEVEN_DAYS`` / ``FOURTEEN_DAYS``). Each of the three filters takes
    a value (only those jobs), ``ANY`` (every value, one row each; the default) or ``AGGREGATE_ALL`` (summed, the
    row says AGGREGATE_ALL). "Completed with issues" is State COMPLETED with a MessageCategory other than
    SUCCESS; a job still running has no MessageCategory yet. AccountId: this account, ``ANY`` or
    ``AGGREGATE_ALL`` (no organization here). MaxResults 1-500 (default 500), opaque offset NextToken."""
    catch_up()
    account, region = _account(self), self.region
    period = _query(self, "AggregationPeriod") or "ONE_DAY"
    if period not in SUMMARY_PERIODS:
        raise InvalidParameterValueException(
            f"Invalid value for AggregationPeriod: {period}. Valid values are ONE_DAY, SEVEN_DAYS, FOURTEEN_DAYS.")
    state = _query(self, "State") or "ANY"
    if state not in (*SUMMARY_STATES, "ANY", "AGGREGATE_ALL"):
        raise InvalidParameterValueException(f"Invalid value for State: {state}")
    rtype = _query(self, "ResourceType") or "ANY"
    category = _query(self, "MessageCategory") or "ANY"
    who = _query(self, "AccountId")
    if who not in (None, "ANY", "AGGREGATE_ALL", account):
        return _dumps({"BackupJobSummaries": [], "AggregationPeriod": period})
    text = _query(self, "MaxResults")
    try:
        limit = int(text) if text is not None else 500
    except ValueError as exc:
        raise InvalidParameterValueException("MaxResults must be a number") from exc
    if not 1 <= limit <= 500:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: Member "
            "must have value less than or equal to 500")
    now = _now()
    days = 14 if period == "ONE_DAY" else SUMMARY_PERIODS[period]
    since = now - days * DAY
    counts: dict[tuple[float, float, str, str, str | None], int] = {}
    with _lock:
        st = store(account, region)
        lo = bisect.bisect_left(st.job_order, (since, ""))
        hi = bisect.bisect_right(st.job_order, (now, "\uffff"))
        for _created, job_id in st.job_order[lo:hi]:
            job = st.jobs[job_id]
            job_state, job_category = job.state(now), job.category_at(now)
            if state not in ("ANY", "AGGREGATE_ALL") and job_state != state:
                continue
            if rtype not in ("ANY", "AGGREGATE_ALL") and job.resource_type != rtype:
                continue
            if category not in ("ANY", "AGGREGATE_ALL") and not _category_ok(category, job_category):
                continue
            if period == "ONE_DAY":
                start = math.floor(job.created / DAY) * DAY
                window = (start, start + DAY)
            else:
                window = (since, now)
            key = (*window, "AGGREGATE_ALL" if state == "AGGREGATE_ALL" else job_state,
                   "AGGREGATE_ALL" if rtype == "AGGREGATE_ALL" else job.resource_type,
                   "AGGREGATE_ALL" if category == "AGGREGATE_ALL" else job_category)
            counts[key] = counts.get(key, 0) + 1
    rows = []
    for (start, end, row_state, row_type, row_category), count in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][3], kv[0][4] or "")):
        row: dict[str, Any] = {"Region": region, "AccountId": account, "State": row_state,
                               "ResourceType": row_type, "Count": count, "StartTime": start, "EndTime": end}
        if row_category is not None:
            row["MessageCategory"] = row_category
        rows.append(row)
    token = _query(self, "NextToken")
    offset = int(token) if token and token.isdigit() else 0
    if token and not token.isdigit():
        raise InvalidParameterValueException("The next token is not valid")
    out: dict[str, Any] = {"BackupJobSummaries": rows[offset:offset + limit], "AggregationPeriod": period}
    if offset + limit < len(rows):
        out["NextToken"] = str(offset + limit)
    return _dumps(out)


# --------------------------------------------------------------------------------------------------------
# the extension: patches, lifecycle, control


class Backup(Extension):
    """AWS Backup's routes and operations; a fresh store, the seeded plan and its history for each run.

    Control: ``GET /_opstui/backup`` (knobs, job counts by state, copy jobs, recovery points per vault, the
    rules' next due times); ``POST`` knobs -- ``fail_rate``, ``issues_rate``, ``expire_rate``,
    ``copy_fail_rate`` (0-1), ``on_demand_start_seconds``; ``outcomes``
    {instance id: COMPLETED|ISSUES|FAILED|EXPIRED|ABORTED|null} forces the next jobs of those instances (null
    clears);
    ``reset`` restores the defaults -- and/or ``history_days`` [+ ``jobs``], which replaces the seeded plan's
    job history (:func:`opstui.sandbox.backup_seed.history`); ``POST /_opstui/backup/run-scheduler`` fires
    every rule that is due now -> ``{"created": n}``.
    """

    name = "backup"

    def patch(self) -> None:
        for pattern in _PATHS:
            backup_urls.url_paths.setdefault(pattern, backup_urls.response.dispatch)
        attach(BackupResponse, create_backup_plan, create_backup_selection, get_backup_selection,
               delete_backup_selection, list_backup_selections, delete_backup_plan, start_backup_job,
               describe_backup_job, stop_backup_job, list_backup_jobs, list_copy_jobs, describe_copy_job,
               list_recovery_points_by_backup_vault, list_recovery_points_by_resource,
               describe_recovery_point, delete_recovery_point, get_recovery_point_restore_metadata,
               start_restore_job, describe_restore_job, list_restore_jobs, list_backup_vaults,
               describe_backup_vault, list_protected_resources, list_backup_job_summaries)

    def prepare(self, sandbox: Sandbox) -> None:
        """Forget everything (knobs back to their defaults), then seed the scenario's plan and history."""
        global _seed_value
        from . import backup_seed  # it builds on this module

        with _lock:
            _stores.clear()
            _knobs.clear()
            _knobs.update(KNOB_DEFAULTS)
            _forced.clear()
            _seed_value = sandbox.seed
        backup_seed.seed(sandbox.scenario_data)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        from . import backup_seed

        days, jobs = knobs.pop("history_days", None), knobs.pop("jobs", None)
        out: dict[str, Any] = {"settings": self._set_knobs(**knobs)}
        if days is not None:
            out["history"] = backup_seed.history(self.running.account_id, days, jobs)
        return out

    @staticmethod
    def _set_knobs(**knobs: Any) -> dict[str, Any]:
        with _lock:
            if knobs.pop("reset", False):
                _knobs.clear()
                _knobs.update(KNOB_DEFAULTS)
                _forced.clear()
            outcomes = knobs.pop("outcomes", None)
            for name, value in knobs.items():
                if name not in KNOB_DEFAULTS:
                    known = [*sorted(KNOB_DEFAULTS), "outcomes"]
                    raise ValueError(f"unknown backup knob {name!r}; known: {known}")
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{name} must be a non-negative number")
                if name.endswith("_rate") and value > 1:
                    raise ValueError(f"{name} must be between 0 and 1")
                _knobs[name] = float(value)
            for iid, outcome in (outcomes or {}).items():
                if outcome is None:
                    _forced.pop(iid, None)
                elif outcome not in ("COMPLETED", "ISSUES", "FAILED", "EXPIRED", "ABORTED"):
                    raise ValueError(f"unknown outcome {outcome!r}")
                else:
                    _forced[iid] = outcome
            return {**_knobs, "outcomes": dict(_forced)}

    def control_snapshot(self) -> dict[str, Any]:
        now = _now()
        with _lock:
            regions = {}
            for (account, region), st in _stores.items():
                states: dict[str, int] = {}
                for job in st.jobs.values():
                    if job.created <= now:
                        s = job.state(now)
                        states[s] = states.get(s, 0) + 1
                regions[f"{account}/{region}"] = {
                    "backup_jobs": states, "copy_jobs": sum(1 for c in st.copies.values() if c.visible(now)),
                    "restore_jobs": len(st.restores),
                    "recovery_points": {v: sum(1 for p in pts.values() if p.status(now))
                                        for v, pts in st.points.items()},
                    "next_due": {f"{k[0]}/{k[1]}": dt.datetime.fromtimestamp(v, dt.UTC).isoformat()
                                 for k, v in st.rule_due.items() if v != float("inf")},
                }
            return {"settings": {**_knobs, "outcomes": dict(_forced)}, "regions": regions,
                    "clock": clock.snapshot()}

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "backup/run-scheduler"): lambda _request: {"created": catch_up()}}


EXTENSION = Backup()
