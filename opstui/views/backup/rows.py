"""The Backup tab's rows and table columns, and the jobs' filter matching (the panels live next to this module).

Every name, message and key came from AWS (tags, job messages, object keys): tables clean it (`NodeTable` draws
cleaned plain segments); the detail texts (``details.py``) are `rich.text.Text` built from cleaned strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.style import Style

from opstui.aws.backup import schedule_words, window_words
from opstui.aws.backup_models import (
    BackupJob,
    BackupPlan,
    BackupRule,
    BackupVault,
    BucketInfo,
    RecoveryPoint,
    S3Entry,
)
from opstui.views.common.format import size_text
from opstui.views.common.node_table import Column, drop_order

RANGE_OPTIONS = [("last 24 h", "24h"), ("last 7 days", "7d"), ("last 30 days", "30d")]
#: the jobs' state filter: label, value (matched by `state_matches`)
STATE_OPTIONS = [("all states", "all"), ("problems (failed + issues)", "problems"), ("FAILED", "FAILED"),
                 ("EXPIRED", "EXPIRED"), ("ABORTED", "ABORTED"), ("COMPLETED WITH ISSUES", "ISSUES"),
                 ("RUNNING / CREATED / PENDING", "RUNNING"), ("COMPLETED", "COMPLETED")]
KIND_OPTIONS = [("all kinds", "all"), ("backup jobs", "backup"), ("copy jobs", "copy"),
                ("restore jobs", "restore")]
ALL_VAULTS = "all"

RED = Style(color="red", bold=True)
YELLOW = Style(color="yellow", bold=True)
CYAN = Style(color="cyan")
GREEN = Style(color="green")
DIM = Style(dim=True)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def when_text(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%m-%d %H:%M}" if when else ""


def full_when(when: datetime | None) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if when else "—"


def _time_sort(when: datetime | None) -> float:
    return -when.timestamp() if when else float("inf")


# -- jobs -----------------------------------------------------------------------------------------------------


def state_matches(job: BackupJob, want: str) -> bool:
    if want == "all":
        return True
    if want == "problems":
        return job.failed or job.with_issues
    if want == "ISSUES":
        return job.with_issues
    if want == "RUNNING":
        return job.state in ("CREATED", "PENDING", "RUNNING")
    if want == "COMPLETED":
        return job.state == "COMPLETED" and not job.with_issues
    return job.state == want


def job_style(job: BackupJob) -> Style | None:
    if job.failed:
        return RED
    if job.with_issues:
        return YELLOW
    if job.state in ("CREATED", "PENDING", "RUNNING"):
        return CYAN
    return GREEN if job.state == "COMPLETED" else None


def job_vault(job: BackupJob) -> str:
    if job.kind == "copy":
        parts = job.destination.split(":")
        region = parts[3] if len(parts) > 3 else "?"
        return f"→ {region}/{job.vault}"
    return job.vault


def job_status(job: BackupJob) -> str:
    if job.state == "RUNNING" and job.percent_done:
        pct = job.percent_done.rstrip("%")
        return f"RUNNING {pct}%"
    return job.status


def job_message(job: BackupJob) -> str:
    if job.status_message:
        cat = job.message_category if job.message_category not in ("", "SUCCESS", job.state) else ""
        return f"{cat}: {job.status_message}" if cat else job.status_message
    return ""


def job_resource(job: BackupJob) -> str:
    if job.resource_name:
        return job.resource_name
    return job.resource_arn.rsplit("/", 1)[-1] if job.resource_arn else ""


def vault_key(job: BackupJob) -> str:
    """`region/vault` the job wrote into (a copy: the destination's), the value of the vault filter."""
    if job.kind == "copy":
        parts = job.destination.split(":")
        return f"{parts[3] if len(parts) > 3 else '?'}/{job.vault}"
    return f"{job.region}/{job.vault}"


def job_matches(job: BackupJob, state: str, kind: str, vault: str, resource: str) -> bool:
    """The jobs' filter bar: state, kind, vault (`region/name` or ALL_VAULTS) and resource text (lower case)."""
    if kind != "all" and job.kind != kind:
        return False
    if not state_matches(job, state):
        return False
    if vault != ALL_VAULTS and vault_key(job) != vault:
        return False
    return not resource or resource in job_resource(job).lower() or resource in job.resource_arn.lower()


JOB_COLUMNS: list[Column[BackupJob]] = [
    Column("status", "Status", job_status, max_width=22, style=job_style, sort_key=lambda j: (j.rank, j.state)),
    Column("kind", "Kind", lambda j: j.kind, max_width=7),
    Column("resource", "Resource", job_resource, max_width=24),
    Column("created", "Created (UTC)", lambda j: when_text(j.created), max_width=13,
           sort_key=lambda j: _time_sort(j.created)),
    Column("duration", "Duration", lambda j: duration_text(j.duration_seconds), max_width=8,
           sort_key=lambda j: -(j.duration_seconds or 0.0)),
    Column("size", "Size", lambda j: size_text(j.size_bytes), max_width=9, sort_key=lambda j: -(j.size_bytes or 0)),
    Column("message", "Message", job_message, max_width=56),
    Column("vault", "Vault", job_vault, max_width=24),
    Column("region", "Region", lambda j: j.region, max_width=14),
    Column("plan", "Plan", lambda j: j.plan_name, max_width=16),
]
#: 80 columns keep Status, Kind, Resource and Created; then dropped in this order (the detail box shows all)
JOB_COLUMNS = drop_order(JOB_COLUMNS, ("plan", "vault", "region", "message", "size", "duration"),
                         squeeze={"status": 12, "resource": 14, "message": 20})



# -- plans ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One rule of one plan (a plan without rules gets one row with `rule` None)."""

    plan: BackupPlan
    rule: BackupRule | None

    @property
    def key(self) -> str:
        return f"{self.plan.key}/{self.rule.rule_id if self.rule else ''}"


def copies_text(rule: BackupRule | None) -> str:
    if rule is None or not rule.copy_actions:
        return "none"
    out = []
    for c in rule.copy_actions:
        keep = f" (keep {c.delete_after_days} d)" if c.delete_after_days else ""
        out.append(f"{c.destination_region}/{c.destination_vault}{keep}")
    return ", ".join(out)


def keep_text(rule: BackupRule | None) -> str:
    if rule is None:
        return ""
    parts = []
    if rule.cold_after_days:
        parts.append(f"cold after {rule.cold_after_days} d")
    parts.append(f"{rule.delete_after_days} days" if rule.delete_after_days else "forever")
    return ", ".join(parts)


PLAN_COLUMNS: list[Column[PlanRow]] = [
    Column("plan", "Plan", lambda r: r.plan.name, max_width=24),
    Column("region", "Region", lambda r: r.plan.region, max_width=14),
    Column("rule", "Rule", lambda r: r.rule.name if r.rule else "(no rules)", max_width=16),
    Column("schedule", "Schedule", lambda r: schedule_words(r.rule.schedule, r.rule.timezone) if r.rule else "",
           max_width=32),
    Column("windows", "Start / complete within", lambda r: (f"{window_words(r.rule.start_window_minutes)} / "
                                                            f"{window_words(r.rule.completion_window_minutes)}")
           if r.rule else "", max_width=24),
    Column("keep", "Keep", lambda r: keep_text(r.rule), max_width=20),
    Column("copy", "Copy to", lambda r: copies_text(r.rule), max_width=34),
    Column("selections", "Selections", lambda r: "; ".join(f"{s.name}: {s.what}" for s in r.plan.selections)
           or "none ⚠", max_width=40, style=lambda r: None if r.plan.selections else YELLOW),
    Column("last", "Last run (UTC)", lambda r: when_text(r.plan.last_execution), max_width=14),
]
PLAN_COLUMNS = drop_order(PLAN_COLUMNS, ("selections", "windows", "rule", "copy", "last", "region"),
                          squeeze={"plan": 14, "schedule": 16})



# -- recovery points ------------------------------------------------------------------------------------------

VAULT_COLUMNS: list[Column[BackupVault]] = [
    Column("region", "Region", lambda v: v.region, max_width=14),
    Column("vault", "Vault", lambda v: v.name, max_width=24),
    Column("points", "Points", lambda v: str(v.recovery_points), max_width=7, sort_key=lambda v: -v.recovery_points),
    Column("locked", "Lock", lambda v: "locked" if v.locked else "", max_width=6),
]
VAULT_COLUMNS = drop_order(VAULT_COLUMNS, ("locked", "region"), squeeze={"vault": 12})



def _point_style(p: RecoveryPoint) -> Style | None:
    if p.status == "COMPLETED":
        return None
    return CYAN if p.status == "CREATING" else YELLOW


POINT_COLUMNS: list[Column[RecoveryPoint]] = [
    Column("resource", "Resource", lambda p: p.resource_name or p.resource_arn.rsplit("/", 1)[-1], max_width=24),
    Column("status", "Status", lambda p: p.status, max_width=10, style=_point_style),
    Column("created", "Created (UTC)", lambda p: when_text(p.created), max_width=13,
           sort_key=lambda p: _time_sort(p.created)),
    Column("size", "Size", lambda p: size_text(p.size_bytes), max_width=9, sort_key=lambda p: -(p.size_bytes or 0)),
    Column("expires", "Deleted at (UTC)", lambda p: when_text(p.delete_at), max_width=14,
           sort_key=lambda p: _time_sort(p.delete_at)),
    Column("source", "Copied from", lambda p: p.source_vault_arn.split(":")[3] + "/" + p.source_vault_arn.rsplit(":", 1)[-1]
           if p.source_vault_arn.count(":") >= 3 else "", max_width=24),
    Column("plan", "Plan", lambda p: p.plan_name or "on demand", max_width=16),
    Column("arn", "Recovery point", lambda p: p.arn, max_width=60),
]
POINT_COLUMNS = drop_order(POINT_COLUMNS, ("arn", "source", "plan", "expires", "size"), squeeze={"resource": 12})



# -- S3 -------------------------------------------------------------------------------------------------------


def bucket_newest(b: BucketInfo) -> str:
    if b.error:
        return "⚠ " + b.error
    if b.newest is None:
        return "empty" if b.complete else "?"
    text = f"{b.newest.astimezone(UTC):%Y-%m-%d %H:%M}"
    return text if b.complete else f"{text} (first {b.scanned} objects)"


BUCKET_COLUMNS: list[Column[BucketInfo]] = [
    Column("name", "Bucket", lambda b: b.name, max_width=40),
    Column("region", "Region", lambda b: b.region, max_width=14),
    Column("versioning", "Versioning", lambda b: b.versioning or "off", max_width=10,
           style=lambda b: GREEN if b.versioning == "Enabled" else YELLOW),
    Column("lifecycle", "Lifecycle", lambda b: "; ".join(b.lifecycle) or "none", max_width=60,
           style=lambda b: None if b.lifecycle else DIM),
    Column("newest", "Newest object (UTC)", bucket_newest, max_width=40,
           style=lambda b: RED if b.error else None, sort_key=lambda b: _time_sort(b.newest)),
]
BUCKET_COLUMNS = drop_order(BUCKET_COLUMNS, ("lifecycle", "region", "newest"),
                            squeeze={"name": 16, "lifecycle": 20, "newest": 20})



def entry_name(e: S3Entry, prefix: str) -> str:
    name = e.key[len(prefix):] if e.key.startswith(prefix) else e.key
    return name


def entry_version(e: S3Entry) -> str:
    if e.kind == "prefix":
        return ""
    label = e.version_id or "null"
    if e.kind == "delete-marker":
        return f"{label} (delete marker)"
    return label


def make_entry_columns(prefix_of: Callable[[], str]) -> list[Column[S3Entry]]:
    """Columns of the objects table; `prefix_of()` is the prefix being shown (names are relative to it)."""
    return [
        Column("name", "Name", lambda e: ("▸ " if e.kind == "prefix" else "") + entry_name(e, prefix_of()),
               max_width=40),
        Column("latest", "Latest", lambda e: "" if e.kind == "prefix" else ("latest" if e.is_latest else "older"),
               max_width=6, style=lambda e: GREEN if e.is_latest else DIM),
        Column("version", "Version", entry_version, max_width=40),
        Column("size", "Size", lambda e: size_text(e.size), max_width=9, sort_key=lambda e: -(e.size or 0)),
        Column("modified", "Modified (UTC)", lambda e: f"{e.last_modified.astimezone(UTC):%Y-%m-%d %H:%M}"
               if e.last_modified else "", max_width=16, sort_key=lambda e: _time_sort(e.last_modified)),
        Column("class", "Storage", lambda e: e.storage_class, max_width=12),
    ]
