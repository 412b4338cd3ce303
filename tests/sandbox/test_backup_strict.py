"""AWS Backup as strict as AWS: failed jobs carry no recovery point, Windows VSS outcomes need the VSS option,
StartBackupJob answers what it answers for EC2, ListProtectedResources and ListBackupJobSummaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl

PRIMARY = "ap-northeast-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
VSS = {"WindowsVSS": "enabled"}


def _jobs(bk: Any, **filters: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = bk.list_backup_jobs(**filters)
        out += page["BackupJobs"]
        if not page.get("NextToken"):
            return out
        filters["NextToken"] = page["NextToken"]


def _instance(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(s.instance_id for s in sb.scenario_data.nodes if s.name == name)


def test_failed_expired_and_aborted_jobs_have_no_recovery_point(client: Callable[..., Any]) -> None:
    bk = client("backup")
    for state in ("FAILED", "EXPIRED", "ABORTED"):
        jobs = _jobs(bk, ByState=state)
        assert jobs, state
        for job in jobs:
            assert "RecoveryPointArn" not in job and job["BackupSizeInBytes"] == 0, job
            detail = bk.describe_backup_job(BackupJobId=job["BackupJobId"])
            assert "RecoveryPointArn" not in detail and detail["BackupSizeInBytes"] == 0
    done = _jobs(bk, ByState="COMPLETED")
    assert all(j["RecoveryPointArn"] and j["BackupSizeInBytes"] > 0 for j in done)


def test_vss_outcomes_only_with_the_windows_vss_option(client: Callable[..., Any], default_sandbox: Sandbox) -> None:
    bk = client("backup")
    plan_id = next(p["BackupPlanId"] for p in bk.list_backup_plans()["BackupPlansList"]
                   if p["BackupPlanName"] == "daily-ec2")
    plan = bk.get_backup_plan(BackupPlanId=plan_id)
    assert plan["AdvancedBackupSettings"] == [{"ResourceType": "EC2", "BackupOptions": VSS}]
    issues = [j for j in _jobs(bk, ByState="COMPLETED") if j["MessageCategory"] != "SUCCESS"]
    assert issues and all(j.get("BackupOptions") == VSS for j in issues)

    # the same forced "completed with issues" outcome, with and without the option
    ctl = SandboxControl.of(default_sandbox)
    win = _instance(default_sandbox, "prod-win-ad-01")
    arn = f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{win}"
    ctl.backup_configure(outcomes={win: "ISSUES"})
    try:
        plain = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE)["BackupJobId"]
        vss = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE,
                                  BackupOptions=VSS)["BackupJobId"]
        ctl.clock(advance=4 * 3600)
        plain_job = bk.describe_backup_job(BackupJobId=plain)
        vss_job = bk.describe_backup_job(BackupJobId=vss)
    finally:
        ctl.backup_configure(outcomes={win: None})
    assert (plain_job["State"], plain_job["MessageCategory"]) == ("COMPLETED", "SUCCESS")
    assert "StatusMessage" not in plain_job and "BackupOptions" not in plain_job
    assert (vss_job["State"], vss_job["MessageCategory"]) == ("COMPLETED", "AccessDenied")
    assert "VSS" in vss_job["StatusMessage"] and vss_job["BackupOptions"] == VSS
    with pytest.raises(ClientError) as err:
        bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE,
                            BackupOptions={"WindowsVSS": "maybe"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_start_backup_job_answers_what_aws_answers_for_ec2(client: Callable[..., Any],
                                                            default_sandbox: Sandbox) -> None:
    bk = client("backup")
    arn = f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{_instance(default_sandbox, 'stg-web-01')}"
    answer = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE)
    answer.pop("ResponseMetadata")
    assert set(answer) == {"BackupJobId", "CreationDate", "IsParent"} and answer["IsParent"] is False


def test_list_protected_resources(client: Callable[..., Any], default_sandbox: Sandbox) -> None:
    bk = client("backup")
    results = bk.list_protected_resources()["Results"]
    by_arn = {r["ResourceArn"]: r for r in results}
    web = f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{_instance(default_sandbox, 'prod-web-01')}"
    row = by_arn[web]
    assert row["ResourceType"] == "EC2" and row["ResourceName"] == "prod-web-01"
    assert row["LastBackupVaultArn"].endswith(":backup-vault:Default")
    point = bk.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=row["LastRecoveryPointArn"])
    assert point["ResourceArn"] == web and point["CreationDate"] == row["LastBackupTime"]
    newest = max(p["CreationDate"] for p in bk.list_recovery_points_by_resource(ResourceArn=web)["RecoveryPoints"])
    assert row["LastBackupTime"] == newest
    times = [r["LastBackupTime"] for r in results]
    assert times == sorted(times, reverse=True)
    page = bk.list_protected_resources(MaxResults=2)
    assert len(page["Results"]) == 2 and page["NextToken"]
    assert bk.list_protected_resources(NextToken=page["NextToken"], MaxResults=2)["Results"][0] == results[2]


def test_list_backup_job_summaries(client: Callable[..., Any]) -> None:
    bk = client("backup")
    now = dt.datetime.now(dt.UTC)
    jobs = [j for j in _jobs(bk) if j["CreationDate"] >= now - dt.timedelta(days=14)]
    total = bk.list_backup_job_summaries(AggregationPeriod="FOURTEEN_DAYS", State="AGGREGATE_ALL",
                                         ResourceType="AGGREGATE_ALL", MessageCategory="AGGREGATE_ALL")
    assert total["AggregationPeriod"] == "FOURTEEN_DAYS"
    (row,) = total["BackupJobSummaries"]
    assert row["Count"] == len(jobs) and row["State"] == "AGGREGATE_ALL" and row["Region"] == PRIMARY
    assert row["EndTime"] - row["StartTime"] == dt.timedelta(days=14)
    failed = bk.list_backup_job_summaries(AggregationPeriod="FOURTEEN_DAYS", State="FAILED")["BackupJobSummaries"]
    assert sum(r["Count"] for r in failed) == sum(1 for j in jobs if j["State"] == "FAILED")
    assert {r["MessageCategory"] for r in failed} <= {"AccessDenied", "InvalidParameters"}
    # "completed with issues" = COMPLETED minus COMPLETED with MessageCategory SUCCESS (the API reference's recipe)
    completed = bk.list_backup_job_summaries(AggregationPeriod="FOURTEEN_DAYS", State="COMPLETED",
                                             MessageCategory="AGGREGATE_ALL")["BackupJobSummaries"]
    success = bk.list_backup_job_summaries(AggregationPeriod="FOURTEEN_DAYS", State="COMPLETED",
                                           MessageCategory="SUCCESS")["BackupJobSummaries"]
    issues = sum(1 for j in jobs if j["State"] == "COMPLETED" and j["MessageCategory"] != "SUCCESS")
    assert completed[0]["Count"] - sum(r["Count"] for r in success) == issues > 0
    daily = bk.list_backup_job_summaries()["BackupJobSummaries"]  # ONE_DAY by default: one row per day and kind
    assert all(r["EndTime"] - r["StartTime"] == dt.timedelta(days=1) for r in daily)
    assert sum(r["Count"] for r in daily) == len(jobs)
    assert len({r["StartTime"] for r in daily}) >= 14
    with pytest.raises(ClientError):
        bk.list_backup_job_summaries(AggregationPeriod="ONE_WEEK")
