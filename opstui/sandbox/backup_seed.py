"""What the sandbox's AWS Backup and S3 file backups look like at start-up, and the history knob.

Every scenario gets a ``Default`` backup vault in each of its regions (AWS creates one on first use). The
``default`` scenario adds, in ap-northeast-1 (guarantees the app and its tests rely on):

* plan ``daily-ec2``: rule ``daily`` at ``cron(0 5 ? * * *)`` (05:00 UTC), start window 60 min, completion
  window 180 min, Lifecycle DeleteAfterDays 35, into vault ``Default``, with a CopyAction to
  ``arn:aws:backup:ap-northeast-3:<account>:backup-vault:Default`` (DeleteAfterDays 35), and
  ``AdvancedBackupSettings`` WindowsVSS enabled for EC2 (so its jobs carry ``BackupOptions`` and a Windows
  job can complete with issues); created 60 days ago;
* selection ``all-ec2``: ``Resources=["arn:aws:ec2:*:*:instance/*"]``, role
  ``arn:aws:iam::<account>:role/service-role/AWSBackupDefaultServiceRole``;
* 14 days of history (the plan's last 14 firings, made by the same code as the live scheduler, so their
  shapes are the live ones) with fixed outcomes instead of random ones: FAILED ``prod-db-02`` (2nd latest
  firing), ``stg-batch-02`` (5th) and ``prod-app-02`` (9th); EXPIRED ``prod-batch-01`` (6th, never started);
  ABORTED ``stg-db-01`` (11th); "completed with issues" (COMPLETED, MessageCategory AccessDenied, the VSS
  message) for ``prod-win-ad-01`` on the 2nd, 3rd, 4th, 7th, 10th and 12th; a FAILED copy job for
  ``prod-web-01`` (8th). Everything else completed; each completed job has a copy job to ap-northeast-3 and
  recovery points in both vaults. The latest firing may still be running (its jobs follow the clock).
  Firings after start-up use the random rates of :mod:`opstui.sandbox.backup`.
* S3 bucket ``opstui-file-backups-<account>`` (ap-northeast-1): versioning Enabled, lifecycle rule
  ``expire-noncurrent-35d`` (prefix ``hosts/``: noncurrent versions expire after 35 days, current objects move
  to STANDARD_IA after 30 days), and ``hosts/<name>/etc.tar.gz`` + ``hosts/<name>/home.tar.gz`` for six hosts,
  three versions each (the last three days at ~05:30 UTC; contents deterministic bytes).

:func:`history` (``POST /_opstui/backup {"history_days": 30, "jobs": 10000}``) replaces a region's jobs with
``jobs`` scheduled jobs spread evenly over the last ``history_days`` days (round-robin over the selected
instances, the plan's rule, the random rates): the bench's 10,000 jobs over 30 days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from moto.backup.models import backup_backends
from moto.s3.models import s3_backends

from . import backup, clock
from .scenarios import DR, PRIMARY, Scenario

PLAN_NAME = "daily-ec2"
RULE_NAME = "daily"
SELECTION_NAME = "all-ec2"
VAULT = "Default"
HISTORY_DAYS = 14
CRON = "cron(0 5 ? * * *)"
ROLE = "arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"
#: the plan asks for application-consistent Windows backups: only so can a Windows job "complete with issues"
VSS_SETTING = {"ResourceType": "EC2", "BackupOptions": {"WindowsVSS": "enabled"}}
FILE_BUCKET = "opstui-file-backups-{account}"
FILE_HOSTS = ("prod-web-01", "prod-app-01", "prod-db-01", "stg-web-01", "本番-決済API-01", "onprem-backup-01")

#: firing index (1 = latest) -> {Name tag: outcome}; "copy:<name>" fails that instance's copy job
FORCED: dict[int, dict[str, str]] = {
    2: {"prod-db-02": "FAILED", "prod-win-ad-01": "ISSUES"},
    3: {"prod-win-ad-01": "ISSUES"},
    4: {"prod-win-ad-01": "ISSUES"},
    5: {"stg-batch-02": "FAILED"},
    6: {"prod-batch-01": "EXPIRED"},
    7: {"prod-win-ad-01": "ISSUES"},
    8: {"copy:prod-web-01": "FAILED"},
    9: {"prod-app-02": "FAILED"},
    10: {"prod-win-ad-01": "ISSUES"},
    11: {"stg-db-01": "ABORTED"},
    12: {"prod-win-ad-01": "ISSUES"},
}
CURATED_NODES = 25  # the default scenario's hand-made nodes come first in Scenario.nodes
_CALM = {**backup.KNOB_DEFAULTS, "fail_rate": 0.0, "issues_rate": 0.0, "expire_rate": 0.0, "copy_fail_rate": 0.0}


def _vault(account: str, region: str) -> None:
    backend = backup_backends[account][region]
    if VAULT not in backend.vaults:
        vault = backend.create_backup_vault(VAULT, {}, f"arn:aws:kms:{region}:{account}:alias/aws/backup", "")
        vault.creation_date = (clock.now() - dt.timedelta(days=90)).timestamp()


def seed(scenario: Scenario) -> dict[str, Any]:
    """Vaults for every scenario; the plan, selection, history and file-backup bucket for ``default``."""
    account = scenario.account_id
    for region in scenario.regions:
        _vault(account, region)
    if scenario.name != "default" or PRIMARY not in scenario.regions:
        return {}
    if DR in scenario.regions:
        _vault(account, DR)
    plan = _plan(account)
    _selection(account, plan.backup_plan_id)
    jobs = _history(account, plan, {n.instance_id for n in scenario.nodes[:CURATED_NODES]})
    _file_backups(account, scenario)
    return {"plan_id": plan.backup_plan_id, "jobs": jobs}


def _plan(account: str) -> Any:
    now = clock.now()
    rule = {
        "RuleName": RULE_NAME, "TargetBackupVaultName": VAULT, "ScheduleExpression": CRON,
        "StartWindowMinutes": 60, "CompletionWindowMinutes": 180, "Lifecycle": {"DeleteAfterDays": 35},
        "CopyActions": [{"DestinationBackupVaultArn": f"arn:aws:backup:{DR}:{account}:backup-vault:{VAULT}",
                         "Lifecycle": {"DeleteAfterDays": 35}}],
        "ScheduleExpressionTimezone": "Etc/UTC",
    }
    plan = backup_backends[account][PRIMARY].create_backup_plan(
        {"BackupPlanName": PLAN_NAME, "Rules": [rule], "AdvancedBackupSettings": [VSS_SETTING]},
        {"Owner": "platform"}, "opstui-seed")
    plan.creation_date = (now - dt.timedelta(days=60)).timestamp()
    return plan


def _selection(account: str, plan_id: str) -> None:
    st = backup.store(account, PRIMARY)
    body = {"SelectionName": SELECTION_NAME, "IamRoleArn": ROLE.format(account=account),
            "Resources": ["arn:aws:ec2:*:*:instance/*"]}
    sel = backup.Selection(selection_id="5e1ec7ed-0000-4000-8000-0000000ec2aa", plan_id=plan_id, body=body,
                           created=(clock.now() - dt.timedelta(days=60)).timestamp(), creator_request_id=None)
    st.selections.setdefault(plan_id, {})[sel.selection_id] = sel


def _firings(cron: backup.Cron, now: dt.datetime, days: float) -> list[dt.datetime]:
    out = []
    t = cron.next_after(now - dt.timedelta(days=days))
    while t is not None and t <= now:
        out.append(t)
        t = cron.next_after(t)
    return out


def _history(account: str, plan: Any, curated: set[str]) -> int:
    """Two weeks of jobs for the curated nodes only: a 10,000-node fleet would otherwise seed 140,000 jobs
    (20 s of start-up); the live scheduler still backs up every selected instance from now on."""
    now = clock.now()
    rule = plan.backup_plan["Rules"][0]
    cron = backup.parse_cron(rule["ScheduleExpression"])
    resources = [r for r in backup.ec2_resources(account, PRIMARY) if r.instance_id in curated]
    by_name = {r.name: r.instance_id for r in resources}
    firings = _firings(cron, now, HISTORY_DAYS)
    count = 0
    for index, when in enumerate(reversed(firings), start=1):
        forced: dict[str, str] = {}
        for name, outcome in FORCED.get(index, {}).items():
            if name.startswith("copy:"):
                if name[5:] in by_name:
                    forced[f"copy:{by_name[name[5:]]}"] = outcome
            elif name in by_name:
                forced[by_name[name]] = outcome
        count += len(backup.run_rule(account, PRIMARY, plan, rule, when.timestamp(), resources, forced, _CALM))
    nxt = cron.next_after(now)
    st = backup.store(account, PRIMARY)
    st.rule_due[(plan.backup_plan_id, rule["RuleId"])] = nxt.timestamp() if nxt else float("inf")
    return count


def history(account: str, days: float, jobs: int | None = None) -> dict[str, Any]:
    """Replace the default plan's job history: ``jobs`` jobs over ``days`` days (None: one per firing)."""
    if not 0 < days <= 400:
        raise ValueError("history_days must be in (0, 400]")
    if jobs is not None and not 0 <= jobs <= 100_000:
        raise ValueError("jobs must be in [0, 100000]")
    backend = backup_backends[account][PRIMARY]
    plan = next((p for p in backend.plans.values()
                 if p.deletion_date is None and p.backup_plan.get("BackupPlanName") == PLAN_NAME), None)
    if plan is None:
        raise ValueError(f"no backup plan {PLAN_NAME} in {PRIMARY}")
    rule = plan.backup_plan["Rules"][0]
    now = clock.now()
    with backup._lock:
        # drop the region's scheduled history (and the copies' points in the other regions)
        for st in list(backup._stores.values()):
            for vault, points in st.points.items():
                st.points[vault] = {a: p for a, p in points.items() if p.job.region != PRIMARY}
        st = backup.store(account, PRIMARY)
        st.jobs.clear()
        st.job_order.clear()
        st.copies.clear()
        st.copy_order.clear()
        if jobs is None:
            cron = backup.parse_cron(rule["ScheduleExpression"])
            resources = backup.ec2_resources(account, PRIMARY)
            for when in _firings(cron, now, days):
                backup.run_rule(account, PRIMARY, plan, rule, when.timestamp(), resources)
        else:
            sels = list(st.selections.get(plan.backup_plan_id, {}).values())
            resources = backup.ec2_resources(account, PRIMARY)
            chosen = sorted({r.arn: (r, s.body.get("IamRoleArn", "")) for s in sels
                             for r in backup.selected(s.body, resources)}.values(), key=lambda x: x[0].arn)
            if chosen and jobs:
                start_w, complete_w = backup._rule_defaults(rule)
                created_by = {"BackupPlanId": plan.backup_plan_id, "BackupPlanArn": plan.backup_plan_arn,
                              "BackupPlanName": PLAN_NAME, "BackupPlanVersion": plan.version_id,
                              "BackupRuleId": rule.get("RuleId"), "BackupRuleName": rule.get("RuleName"),
                              "BackupRuleCron": rule.get("ScheduleExpression"), "BackupRuleTimezone": "Etc/UTC"}
                # stop one completion window short of now, so the newest are done like an overnight history
                span = days * backup.DAY - complete_w * 60
                t0 = now.timestamp() - days * backup.DAY
                for n in range(jobs):
                    res, role = chosen[n % len(chosen)]
                    when = t0 + span * n / max(1, jobs - 1)
                    backup.create_job(st, res, rule.get("TargetBackupVaultName", "Default"), role, when, start_w,
                                      complete_w, rule.get("Lifecycle"), created_by, rule.get("CopyActions") or [],
                                      backup_options=backup.plan_backup_options(plan))
        nxt = backup.parse_cron(rule["ScheduleExpression"]).next_after(now)
        st.rule_due[(plan.backup_plan_id, rule["RuleId"])] = nxt.timestamp() if nxt else float("inf")
        return {"backup_jobs": len(st.jobs), "copy_jobs": len(st.copies)}


def _file_backups(account: str, scenario: Scenario) -> None:
    s3 = s3_backends[account]["aws"]
    bucket = FILE_BUCKET.format(account=account)
    s3.create_bucket(bucket, PRIMARY)
    s3.put_bucket_versioning(bucket, "Enabled")
    s3.put_bucket_lifecycle_configuration(bucket, [{
        "ID": "expire-noncurrent-35d", "Status": "Enabled", "Filter": {"Prefix": "hosts/"},
        "Transition": [{"Days": "30", "StorageClass": "STANDARD_IA"}],
        "NoncurrentVersionExpiration": {"NoncurrentDays": "35"},
    }])
    names = {n.name for n in scenario.nodes}
    now = clock.now().replace(tzinfo=None)
    today = now.replace(hour=5, minute=30, second=0, microsecond=0)
    if today > now - dt.timedelta(minutes=10):
        today -= dt.timedelta(days=1)
    for host in FILE_HOSTS:
        if host not in names:
            continue
        for part, size in (("etc.tar.gz", 6_000), ("home.tar.gz", 48_000)):
            key = f"hosts/{host}/{part}"
            for age in (2, 1, 0):
                when = today - dt.timedelta(days=age, minutes=-len(host))
                body = _bytes(f"{key}@{when.isoformat()}", size + age * 512)
                obj = s3.put_object(bucket, key, body)
                obj.last_modified = when


def _bytes(label: str, size: int) -> bytes:
    """Deterministic, incompressible-looking content of ``size`` bytes."""
    out = bytearray()
    block = hashlib.sha256(label.encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])
