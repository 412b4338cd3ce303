"""Sandbox AWS Backup on the sandbox clock: on-demand jobs running through their states, stop, restore, a daily
rule firing for the selected instances, copy jobs landing in the other region, lifecycle expiry after 35 days,
and the 10,000-job history knob. The clock only moves forward, so the tests run in file order."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import backup
from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl

PRIMARY, DR = "ap-northeast-1", "ap-northeast-3"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
HOUR = 3600


@pytest.fixture(scope="module")
def control(default_sandbox: Sandbox) -> SandboxControl:
    ctl = SandboxControl.of(default_sandbox)
    ctl.backup_configure(fail_rate=0, expire_rate=0, issues_rate=0, copy_fail_rate=0)
    return ctl


def _instance(sb: Sandbox, name: str) -> str:
    return next(s.instance_id for s in sb.scenario_data.nodes if s.name == name)


def _arn(iid: str) -> str:
    return f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{iid}"


def test_on_demand_job_runs_through_its_states(client: Callable[..., Any], default_sandbox: Sandbox,
                                               control: SandboxControl) -> None:
    bk = client("backup")
    arn = _arn(_instance(default_sandbox, "stg-web-01"))
    started = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE,
                                  IdempotencyToken="tok-1", Lifecycle={"DeleteAfterDays": 7})
    again = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE,
                                IdempotencyToken="tok-1")
    assert again["BackupJobId"] == started["BackupJobId"]
    job = bk.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "CREATED" and job["PercentDone"] == "0.0" and "CreatedBy" not in job
    assert job["StartBy"] - job["CreationDate"] == dt.timedelta(minutes=480)  # the API's default start window
    control.clock(advance=25)
    job = bk.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "RUNNING"
    control.clock(advance=60)
    job = bk.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "RUNNING" and 0 < float(job["PercentDone"]) < 100 and job["BytesTransferred"] > 0
    # StartBackupJob names no recovery point for EC2; the running job does (the AMI being made)
    assert "RecoveryPointArn" not in started
    point_arn = job["RecoveryPointArn"]
    points = bk.list_recovery_points_by_resource(ResourceArn=arn)["RecoveryPoints"]
    assert points[0]["RecoveryPointArn"] == point_arn and points[0]["Status"] == "CREATING"
    control.clock(advance=HOUR)
    job = bk.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "COMPLETED" and job["MessageCategory"] == "SUCCESS" and job["PercentDone"] == "100.0"
    assert job["BackupSizeInBytes"] == job["BytesTransferred"] > 0
    rp = bk.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=point_arn)
    assert rp["Status"] == "COMPLETED" and rp["CalculatedLifecycle"]["DeleteAt"] - rp["CreationDate"] == \
        dt.timedelta(days=7)
    # the clock moved 61 minutes: when that crosses the plan's daily 05:00 UTC, a scheduled job for the same
    # instance is listed too (newest first), so look the on-demand job up rather than take the first row
    listed = bk.list_backup_jobs(ByResourceArn=arn, ByCreatedAfter=job["CreationDate"] - dt.timedelta(seconds=1))
    assert started["BackupJobId"] in {j["BackupJobId"] for j in listed["BackupJobs"]}


def test_stop_backup_job(client: Callable[..., Any], default_sandbox: Sandbox, control: SandboxControl) -> None:
    bk = client("backup")
    arn = _arn(_instance(default_sandbox, "stg-app-01"))
    job_id = bk.start_backup_job(BackupVaultName="Default", ResourceArn=arn, IamRoleArn=ROLE)["BackupJobId"]
    control.clock(advance=60)
    point_arn = bk.describe_backup_job(BackupJobId=job_id)["RecoveryPointArn"]  # running: the AMI being made
    bk.stop_backup_job(BackupJobId=job_id)
    job = bk.describe_backup_job(BackupJobId=job_id)
    assert job["State"] == "ABORTED" and job["StatusMessage"] and "CompletionDate" in job
    assert "RecoveryPointArn" not in job and job["BackupSizeInBytes"] == 0
    with pytest.raises(ClientError) as exc:
        bk.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=point_arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_restore_job(client: Callable[..., Any], control: SandboxControl) -> None:
    bk = client("backup")
    point = bk.list_recovery_points_by_backup_vault(BackupVaultName="Default", MaxResults=50)["RecoveryPoints"]
    point = next(p for p in point if p["Status"] == "COMPLETED")
    job_id = bk.start_restore_job(RecoveryPointArn=point["RecoveryPointArn"], IamRoleArn=ROLE,
                                  Metadata={"InstanceType": "t3.medium"})["RestoreJobId"]
    job = bk.describe_restore_job(RestoreJobId=job_id)
    assert job["Status"] == "PENDING" and job["RecoveryPointArn"] == point["RecoveryPointArn"]
    assert job["SourceResourceArn"] == point["ResourceArn"] and "CreatedResourceArn" not in job
    control.clock(advance=HOUR)
    job = bk.describe_restore_job(RestoreJobId=job_id)
    assert job["Status"] == "COMPLETED" and job["CreatedResourceArn"].startswith(f"arn:aws:ec2:{PRIMARY}:")
    listed = bk.list_restore_jobs(ByStatus="COMPLETED")["RestoreJobs"]
    assert [j["RestoreJobId"] for j in listed] == [job_id]
    assert bk.list_restore_jobs(ByStatus="RUNNING")["RestoreJobs"] == []
    with pytest.raises(ClientError) as exc:
        bk.start_restore_job(RecoveryPointArn=f"arn:aws:ec2:{PRIMARY}::image/ami-0000000000000dead", Metadata={})
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_daily_rule_fires_for_the_selected_instances(client: Callable[..., Any], default_sandbox: Sandbox,
                                                     control: SandboxControl) -> None:
    bk, dr = client("backup"), client("backup", DR)
    dest = f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:Default"
    plan_id = bk.create_backup_plan(BackupPlan={"BackupPlanName": "nightly-prod-web", "Rules": [{
        "RuleName": "nightly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(30 1 ? * * *)",
        "StartWindowMinutes": 60, "CompletionWindowMinutes": 240, "Lifecycle": {"DeleteAfterDays": 14},
        "CopyActions": [{"DestinationBackupVaultArn": dest, "Lifecycle": {"DeleteAfterDays": 21}}]}]})["BackupPlanId"]
    bk.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
        "SelectionName": "prod-web", "IamRoleArn": ROLE, "Resources": ["arn:aws:ec2:*:*:instance/*"],
        "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/Env", "ConditionValue": "prod"},
                                        {"ConditionKey": "aws:ResourceTag/Role", "ConditionValue": "web"}]}})
    # CreateBackupPlan makes the rule due at its next 01:30 UTC; no other backup request until the clock moved
    control.clock(advance=24 * HOUR)
    control.backup_run_scheduler()
    ours = [j for j in bk.list_backup_jobs()["BackupJobs"] if j.get("CreatedBy", {}).get("BackupPlanId") == plan_id]
    want = {s.instance_id for s in default_sandbox.scenario_data.nodes
            if s.region == PRIMARY and s.tags.get("Env") == "prod" and s.tags.get("Role") == "web"}
    assert {j["ResourceArn"].rsplit("/", 1)[-1] for j in ours} == want  # one job each, one firing
    for job in ours:
        created = job["CreationDate"].astimezone(dt.UTC)
        assert (created.hour, created.minute) == (1, 30) or (created.hour, created.minute) == (1, 31)
        assert job["StartBy"] - job["CreationDate"] == dt.timedelta(minutes=60)
        assert job["ExpectedCompletionDate"] - job["CreationDate"] == dt.timedelta(minutes=240)
        assert job["CreatedBy"]["BackupRuleName"] == "nightly" and job["RecoveryPointLifecycle"] == \
            {"DeleteAfterDays": 14}
    # all of them done by now (the firing was at most a day ago); their copies land in ap-northeast-3
    assert {j["State"] for j in ours} == {"COMPLETED"}
    control.clock(advance=2 * HOUR)
    ids = {j["BackupJobId"] for j in ours}
    copies = [c for c in bk.list_copy_jobs(ByDestinationVaultArn=dest)["CopyJobs"] if c["CreatedByBackupJobId"] in ids]
    assert len(copies) == len(ours) and {c["State"] for c in copies} == {"COMPLETED"}
    dst = {p["RecoveryPointArn"]: p for p in dr.list_recovery_points_by_backup_vault(
        BackupVaultName="Default")["RecoveryPoints"]}
    for copy in copies:
        point = dst[copy["DestinationRecoveryPointArn"]]
        assert point["CalculatedLifecycle"]["DeleteAt"] - point["CreationDate"] == dt.timedelta(days=21)
        assert point["ResourceArn"] == copy["ResourceArn"]


def test_lifecycle_expires_points_after_35_days(client: Callable[..., Any], control: SandboxControl) -> None:
    bk, dr = client("backup"), client("backup", DR)
    oldest_src = bk.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"][-1]
    oldest_dst = dr.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"][-1]
    control.clock(advance=36 * 24 * HOUR)
    control.backup_run_scheduler()  # 36 daily firings for the whole fleet (bench/backup.py times the load)
    now = dt.datetime.fromisoformat(control.clock()["now"].replace("Z", "+00:00"))
    for api, oldest in ((bk, oldest_src), (dr, oldest_dst)):
        with pytest.raises(ClientError):
            api.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=oldest["RecoveryPointArn"])
        points: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"BackupVaultName": "Default"}
        while True:
            page = api.list_recovery_points_by_backup_vault(**kwargs)
            points += page["RecoveryPoints"]
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        assert points and all(p["CalculatedLifecycle"]["DeleteAt"] > now for p in points if
                              "CalculatedLifecycle" in p)
        assert all(now - p["CreationDate"] < dt.timedelta(days=35) for p in points)
        vault = {v["BackupVaultName"]: v for v in api.list_backup_vaults()["BackupVaultList"]}["Default"]
        assert vault["NumberOfRecoveryPoints"] == len(points)
    # the daily plan kept firing meanwhile: a job per instance per day
    jobs = bk.list_backup_jobs(ByCreatedAfter=now - dt.timedelta(days=30))["BackupJobs"]
    assert len({(j["ResourceArn"], j["CreationDate"].date()) for j in jobs
                if j.get("CreatedBy", {}).get("BackupPlanName") == "daily-ec2"}) >= 29 * 17


def test_history_knob_10000_jobs_pages_in_tens_of_1000(client: Callable[..., Any],
                                                       control: SandboxControl) -> None:
    out = control.backup_configure(reset=True, history_days=30, jobs=10_000)  # the random rates again
    assert out["history"]["backup_jobs"] == 10_000
    bk = client("backup")
    ids: list[str] = []
    pages, kwargs = 0, {"MaxResults": 1000}
    while True:
        page = bk.list_backup_jobs(**kwargs)
        ids += [j["BackupJobId"] for j in page["BackupJobs"]]
        pages += 1
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert (len(ids), pages) == (10_000, 10)
    assert len(set(ids)) == 10_000  # every job its own id (bench/backup.py measures the speed)
    failed = bk.list_backup_jobs(ByState="FAILED")["BackupJobs"]
    assert 0 < len(failed) < 1000  # the random rates (2 %) apply to generated history


def test_job_seeds_do_not_collide_where_a_32_bit_crc_does() -> None:
    assert zlib.crc32(b"plumless") == zlib.crc32(b"buckeroo")  # a known CRC-32 collision
    assert backup._rng("plumless").getrandbits(128) != backup._rng("buckeroo").getrandbits(128)
