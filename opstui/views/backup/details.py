"""The detail texts under the Backup tab's tables: the job under the cursor, the plan under the cursor.

Built as `rich.text.Text` from cleaned strings, never markup: job messages, resource names and plan names came
from AWS and may hold brackets or control characters.
"""

from __future__ import annotations

from rich.text import Text

from opstui.aws.backup import schedule_words, window_words
from opstui.aws.backup_models import BackupJob
from opstui.safe import clean
from opstui.views.backup.rows import (
    PlanRow,
    copies_text,
    duration_text,
    full_when,
    job_message,
    job_resource,
    job_status,
    job_style,
    job_vault,
    keep_text,
)
from opstui.views.common.format import size_text


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
                    f"{keep_text(rule)}, copy to {clean(copies_text(rule), 200)}\n")
    if not plan.selections:
        text.append("No selection: this plan backs up nothing.\n", style="yellow")
    for sel in plan.selections:
        text.append("Selection ", style="bold")
        text.append(clean(sel.name, 60))
        text.append(f": {clean(sel.what, 300)}  role {clean(sel.iam_role, 200)}\n")
    return text


