"""Typed, frozen models of AWS Backup (plans, selections, jobs, vaults, recovery points) and S3 file backups.

A module of its own (models.py is shared and long): the Backup tab only ever sees these. Names, messages,
tags and object keys came from AWS and may have been typed by anyone with write rights there: views show them
through `opstui.safe.clean` as literal text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

Pairs = tuple[tuple[str, str], ...]

#: job states that mean "look at this": a backup that did not happen
FAILED_STATES = frozenset({"FAILED", "EXPIRED", "ABORTED", "ABORTING"})
RUNNING_STATES = frozenset({"CREATED", "PENDING", "RUNNING"})


# -- plans ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyAction:
    destination_vault_arn: str
    delete_after_days: int | None = None
    cold_after_days: int | None = None

    @property
    def destination_region(self) -> str:
        parts = self.destination_vault_arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    @property
    def destination_vault(self) -> str:
        return self.destination_vault_arn.rsplit(":", 1)[-1]


@dataclass(frozen=True, slots=True)
class BackupRule:
    name: str
    rule_id: str
    vault: str
    schedule: str  # cron(...) / rate(...)
    timezone: str
    start_window_minutes: int | None
    completion_window_minutes: int | None
    delete_after_days: int | None
    cold_after_days: int | None
    copy_actions: tuple[CopyAction, ...] = ()


@dataclass(frozen=True, slots=True)
class BackupSelection:
    selection_id: str
    name: str
    plan_id: str
    iam_role: str
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    tags: Pairs = ()  # ListOfTags (StringEquals) as key, value
    conditions: tuple[str, ...] = ()  # "StringEquals aws:ResourceTag/Env=prod", literal

    @property
    def what(self) -> str:
        """One line: what the selection picks."""
        parts = []
        for arn in self.resources:
            parts.append("all EC2 instances" if arn in ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:instance/*/")
                         else ("every resource" if arn == "*" else arn))
        parts += [f"tag {k}={v}" for k, v in self.tags]
        text = " or ".join(parts) or "nothing"
        if self.conditions:
            text += " where " + " and ".join(self.conditions)
        if self.not_resources:
            text += " except " + ", ".join(self.not_resources)
        return text


@dataclass(frozen=True, slots=True)
class BackupPlan:
    plan_id: str
    arn: str
    name: str
    region: str
    version_id: str
    created: datetime | None
    last_execution: datetime | None
    rules: tuple[BackupRule, ...] = ()
    selections: tuple[BackupSelection, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.region}/{self.plan_id}"


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """What the create-plan form asks for (the seed's flow): checked by `opstui.aws.backup.check_plan_form`."""

    name: str
    region: str
    hour: int
    minute: int
    keep_days: int
    copy_region: str | None  # None: no copy
    resource_type: str = "EC2"
    vault: str = "Default"
    start_window_minutes: int = 60
    completion_window_minutes: int = 180

    @property
    def schedule(self) -> str:
        return f"cron({self.minute} {self.hour} ? * * *)"


# -- jobs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupJob:
    """A backup, copy or restore job, in one shape so the three can share one list.

    `vault` is where the job writes (backup: the vault; copy: the destination vault; restore: the source
    vault), `region` where the job is listed (a copy is listed in its source region).
    """

    kind: str  # backup | copy | restore
    job_id: str
    region: str
    state: str  # CREATED PENDING RUNNING COMPLETED FAILED EXPIRED ABORTED ...
    message_category: str
    status_message: str
    resource_arn: str
    resource_name: str
    resource_type: str
    vault: str
    created: datetime | None
    completed: datetime | None
    size_bytes: int | None
    percent_done: str
    recovery_point_arn: str
    plan_name: str = ""
    destination: str = ""  # copy: destination vault ARN
    created_resource: str = ""  # restore: the new resource ARN
    iam_role: str = ""
    start_by: datetime | None = None
    expected_completion: datetime | None = None
    parent_job_id: str = ""  # copy: the backup job that made it

    @property
    def key(self) -> str:
        return f"{self.region}/{self.kind}/{self.job_id}"

    @property
    def with_issues(self) -> bool:
        """COMPLETED with a MessageCategory other than SUCCESS: the console's "Completed with issues"."""
        return self.state == "COMPLETED" and bool(self.message_category) and self.message_category.upper() != "SUCCESS"

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES

    @property
    def status(self) -> str:
        """The state as the console names it (COMPLETED with issues gets its own words)."""
        return "COMPLETED WITH ISSUES" if self.with_issues else self.state

    @property
    def rank(self) -> int:
        """Sort order of the list: failures, then completed with issues, running, completed."""
        if self.failed:
            return 0
        if self.with_issues:
            return 1
        if self.state in RUNNING_STATES:
            return 2
        return 3

    @property
    def duration_seconds(self) -> float | None:
        if self.created is None or self.completed is None:
            return None
        return max(0.0, (self.completed - self.created).total_seconds())


@dataclass(frozen=True, slots=True)
class RegionError:
    region: str
    message: str


@dataclass(frozen=True, slots=True)
class JobList:
    """Every job of the loaded regions created in the time range, plus what it cost."""

    jobs: tuple[BackupJob, ...]
    errors: tuple[RegionError, ...] = ()
    calls: int = 0
    since: datetime | None = None


# -- vaults and recovery points ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupVault:
    name: str
    arn: str
    region: str
    recovery_points: int
    locked: bool
    created: datetime | None

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"


@dataclass(frozen=True, slots=True)
class RecoveryPoint:
    arn: str
    region: str
    vault: str
    resource_arn: str
    resource_name: str
    resource_type: str
    status: str
    created: datetime | None
    completed: datetime | None
    size_bytes: int | None
    delete_at: datetime | None
    source_vault_arn: str = ""  # set on a copy's point
    plan_name: str = ""
    iam_role: str = ""

    @property
    def key(self) -> str:
        return f"{self.region}/{self.vault}/{self.arn}"


# -- S3 file backups -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    region: str
    created: datetime | None
    versioning: str  # Enabled | Suspended | "" (never enabled)
    lifecycle: tuple[str, ...]  # one line per rule, e.g. "expire-noncurrent-35d (hosts/): noncurrent expire 35 d"
    newest: datetime | None  # newest object's LastModified (of the first `scanned` objects)
    scanned: int  # objects looked at for `newest`
    complete: bool  # False: the scan stopped at its cap, `newest` is of the first `scanned` only
    error: str = ""

    @property
    def key(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class S3Entry:
    """A row under a prefix: a sub-prefix ("folder"), an object version or a delete marker."""

    key: str
    kind: str  # prefix | version | delete-marker
    version_id: str = ""
    is_latest: bool = False
    size: int | None = None
    last_modified: datetime | None = None
    storage_class: str = ""
    etag: str = ""

    @property
    def row_key(self) -> str:
        return f"{self.kind}:{self.key}:{self.version_id}"


@dataclass(frozen=True, slots=True)
class S3Listing:
    bucket: str
    prefix: str
    entries: tuple[S3Entry, ...]
    complete: bool  # False: more than the cap
    calls: int = 0
