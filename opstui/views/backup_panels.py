"""The Backup tab's four panels (jobs, plans, recovery points, S3 files), their rows, columns and details.

Only layout and pure helpers live here; loading, keys and wiring are in `opstui.views.backup`. Every name,
message and key came from AWS (tags, job messages, object keys): tables clean it (`NodeTable` draws cleaned
plain segments), details are built as `rich.text.Text`, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, ProgressBar, Select, Static

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
from opstui.safe import clean
from opstui.views.common.format import size_text
from opstui.views.common.node_table import Column, NodeTable
from opstui.views.common.safe_input import SafeInput

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


def job_detail(job: BackupJob | None, fresh: bool = False) -> Text:
    text = Text()
    if job is None:
        text.append("No job under the cursor.", style="dim")
        return text
    text.append(f"{job.kind.capitalize()} job ", style="bold")
    text.append(clean(job.job_id, 80), style="bold")
    text.append("  ")
    text.append(clean(job_status(job), 40), style=job_style(job) or "")
    if fresh:
        text.append("  (as DescribeJob says now)", style="dim")
    text.append("\n")
    if job.status_message or job.message_category not in ("", "SUCCESS"):
        text.append("Message: ", style="bold")
        text.append(clean(job_message(job) or job.message_category, 600),
                    style="red" if job.failed else ("yellow" if job.with_issues else ""))
        text.append("\n")
    rows = [
        ("Resource", f"{job_resource(job)}  {job.resource_arn}"),
        ("Created", full_when(job.created)),
        ("Completed", f"{full_when(job.completed)}   duration {duration_text(job.duration_seconds) or '—'}"),
        ("Size", size_text(job.size_bytes) or "—"),
        ("Recovery point", "none: the job did not complete" if job.failed
         else (job.recovery_point_arn or "none yet")),
        ("Vault", job_vault(job) + (f"   ({job.destination})" if job.destination else "")),
    ]
    if job.kind == "restore" and job.created_resource:
        rows.append(("New resource", job.created_resource))
    if job.plan_name:
        rows.append(("Plan", job.plan_name))
    if job.start_by or job.expected_completion:
        rows.append(("Windows", f"start by {full_when(job.start_by)}, complete by {full_when(job.expected_completion)}"))
    if job.iam_role:
        rows.append(("Role", job.iam_role))
    if job.parent_job_id:
        rows.append(("Made by", f"backup job {job.parent_job_id}"))
    for label, value in rows:
        text.append(f"{label}: ", style="bold")
        text.append(clean(value, 400) + "\n")
    return text


# -- plans ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One rule of one plan (a plan without rules gets one row with `rule` None)."""

    plan: BackupPlan
    rule: BackupRule | None

    @property
    def key(self) -> str:
        return f"{self.plan.key}/{self.rule.rule_id if self.rule else ''}"


def _copies(rule: BackupRule | None) -> str:
    if rule is None or not rule.copy_actions:
        return "none"
    out = []
    for c in rule.copy_actions:
        keep = f" (keep {c.delete_after_days} d)" if c.delete_after_days else ""
        out.append(f"{c.destination_region}/{c.destination_vault}{keep}")
    return ", ".join(out)


def _keep(rule: BackupRule | None) -> str:
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
    Column("keep", "Keep", lambda r: _keep(r.rule), max_width=20),
    Column("copy", "Copy to", lambda r: _copies(r.rule), max_width=34),
    Column("selections", "Selections", lambda r: "; ".join(f"{s.name}: {s.what}" for s in r.plan.selections)
           or "none ⚠", max_width=40, style=lambda r: None if r.plan.selections else YELLOW),
    Column("last", "Last run (UTC)", lambda r: when_text(r.plan.last_execution), max_width=14),
]


def plan_detail(row: PlanRow | None) -> Text:
    text = Text()
    if row is None:
        text.append("No plan. n creates one (daily, keep N days, copy to another region, all EC2 instances).",
                    style="dim")
        return text
    plan = row.plan
    text.append("Plan ", style="bold")
    text.append(clean(plan.name, 80), style="bold")
    text.append(f"  {clean(plan.region, 30)}  version {clean(plan.version_id[:12], 20)}  created "
                f"{full_when(plan.created)}\n")
    for rule in plan.rules:
        text.append("Rule ", style="bold")
        text.append(clean(rule.name, 60))
        text.append(f": {clean(schedule_words(rule.schedule, rule.timezone), 80)} ({clean(rule.schedule, 60)}), "
                    f"start within {window_words(rule.start_window_minutes)}, complete within "
                    f"{window_words(rule.completion_window_minutes)}, into vault {clean(rule.vault, 60)}, keep "
                    f"{_keep(rule)}, copy to {clean(_copies(rule), 200)}\n")
    if not plan.selections:
        text.append("No selection: this plan backs up nothing.\n", style="yellow")
    for sel in plan.selections:
        text.append("Selection ", style="bold")
        text.append(clean(sel.name, 60))
        text.append(f": {clean(sel.what, 300)}  role {clean(sel.iam_role, 200)}\n")
    return text


# -- recovery points ------------------------------------------------------------------------------------------

VAULT_COLUMNS: list[Column[BackupVault]] = [
    Column("region", "Region", lambda v: v.region, max_width=14),
    Column("vault", "Vault", lambda v: v.name, max_width=24),
    Column("points", "Points", lambda v: str(v.recovery_points), max_width=7, sort_key=lambda v: -v.recovery_points),
    Column("locked", "Lock", lambda v: "locked" if v.locked else "", max_width=6),
]


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


def make_entry_columns(prefix_of) -> list[Column[S3Entry]]:
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


# -- panels ---------------------------------------------------------------------------------------------------


class JobsPanel(Vertical):
    """Filters (range, state, kind, resource, vault), the jobs and the detail of the job under the cursor."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="bk-job-filters"):
            yield Select(RANGE_OPTIONS, allow_blank=False, value="24h", id="bk-range")
            yield Select(STATE_OPTIONS, allow_blank=False, value="all", id="bk-state")
            yield Select(KIND_OPTIONS, allow_blank=False, value="all", id="bk-kind")
            yield SafeInput(placeholder="resource: name, instance id or ARN (/)", id="bk-resource")
            yield Select([("all vaults", ALL_VAULTS)], allow_blank=False, value=ALL_VAULTS, id="bk-vault")
        yield NodeTable(JOB_COLUMNS, key=lambda j: j.key, id="bk-jobs")
        with VerticalScroll(id="bk-job-detail-box"):
            yield Static(id="bk-job-detail")


class PlansPanel(Vertical):
    def compose(self) -> ComposeResult:
        yield NodeTable(PLAN_COLUMNS, key=lambda r: r.key, id="bk-plans")
        with VerticalScroll(id="bk-plan-detail-box"):
            yield Static(id="bk-plan-detail")


class PointsPanel(Horizontal):
    def compose(self) -> ComposeResult:
        yield NodeTable(VAULT_COLUMNS, key=lambda v: v.key, id="bk-vaults")
        yield NodeTable(POINT_COLUMNS, key=lambda p: p.key, id="bk-points")


class FilesPanel(Vertical):
    def __init__(self, prefix_of, **kwargs) -> None:
        super().__init__(**kwargs)
        self._prefix_of = prefix_of

    def compose(self) -> ComposeResult:
        yield NodeTable(BUCKET_COLUMNS, key=lambda b: b.key, id="bk-buckets")
        yield NodeTable(make_entry_columns(self._prefix_of), key=lambda e: e.row_key, id="bk-objects")
        with Horizontal(id="bk-transfer"):
            yield Label("", id="bk-transfer-label")
            yield ProgressBar(total=100, show_eta=True, id="bk-transfer-bar")
