"""Sandbox AWS Backup without moving the clock: the seeded plan, selection and history, job filters and paging,
selections CRUD, request validation, and the S3 file-backup bucket. (Clock-driven behaviour:
test_backup_schedule.py.)"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import backup_seed
from opstui.sandbox.server import Sandbox

PRIMARY, DR = "ap-northeast-1", "ap-northeast-3"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"


def _all_jobs(bk: Any, **filters: Any) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    kwargs = dict(filters)
    while True:
        page = bk.list_backup_jobs(**kwargs)
        jobs += page["BackupJobs"]
        if not page.get("NextToken"):
            return jobs
        kwargs["NextToken"] = page["NextToken"]


def _plan_id(bk: Any) -> str:
    plans = bk.list_backup_plans()["BackupPlansList"]
    return next(p["BackupPlanId"] for p in plans if p["BackupPlanName"] == "daily-ec2")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_seeded_plan_and_selection(client: Callable[..., Any]) -> None:
    bk = client("backup")
    plan = bk.get_backup_plan(BackupPlanId=_plan_id(bk))["BackupPlan"]
    rule = plan["Rules"][0]
    assert plan["BackupPlanName"] == "daily-ec2"
    assert rule["ScheduleExpression"] == "cron(0 5 ? * * *)"
    assert (rule["StartWindowMinutes"], rule["CompletionWindowMinutes"]) == (60, 180)
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rule["CopyActions"] == [{"DestinationBackupVaultArn": f"arn:aws:backup:{DR}:{ACCOUNT}:backup-vault:Default",
                                    "Lifecycle": {"DeleteAfterDays": 35}}]
    sels = bk.list_backup_selections(BackupPlanId=_plan_id(bk))["BackupSelectionsList"]
    assert [s["SelectionName"] for s in sels] == ["all-ec2"]
    sel = bk.get_backup_selection(BackupPlanId=_plan_id(bk), SelectionId=sels[0]["SelectionId"])["BackupSelection"]
    assert sel["Resources"] == ["arn:aws:ec2:*:*:instance/*"] and sel["IamRoleArn"] == ROLE
    for region in (PRIMARY, DR):
        names = [v["BackupVaultName"] for v in client("backup", region).list_backup_vaults()["BackupVaultList"]]
        assert "Default" in names


def test_seeded_history_shape(client: Callable[..., Any], default_sandbox: Sandbox) -> None:
    bk = client("backup")
    jobs = _all_jobs(bk)
    ec2 = [s for s in default_sandbox.scenario_data.nodes if s.region == PRIMARY and not s.is_hybrid]
    assert len(jobs) == len(ec2) * 14  # one job per instance per daily firing
    created = [j["CreationDate"] for j in jobs]
    assert created == sorted(created, reverse=True)  # newest first
    assert max(created) - min(created) < dt.timedelta(days=14)
    final = Counter(j["State"] for j in jobs)
    assert final["FAILED"] == 3 and final["EXPIRED"] == 1 and final["ABORTED"] == 1
    issues = [j for j in jobs if j["State"] == "COMPLETED" and j.get("MessageCategory") not in (None, "SUCCESS")]
    assert len(issues) == 6 and {j["ResourceName"] for j in issues} == {"prod-win-ad-01"}
    assert all(j["StatusMessage"] for j in issues)
    failed = [j for j in jobs if j["State"] == "FAILED"]
    assert {j["ResourceName"] for j in failed} == {"prod-db-02", "stg-batch-02", "prod-app-02"}
    assert all(j["StatusMessage"] and j["MessageCategory"] != "SUCCESS" and "CompletionDate" in j for j in failed)
    ok = next(j for j in jobs if j["State"] == "COMPLETED" and j["MessageCategory"] == "SUCCESS")
    assert ok["ResourceType"] == "EC2" and ok["PercentDone"] == "100.0"
    assert ok["BackupSizeInBytes"] > 0 and ok["RecoveryPointArn"].startswith(f"arn:aws:ec2:{PRIMARY}::image/ami-")
    assert ok["StartBy"] - ok["CreationDate"] == dt.timedelta(minutes=60)
    assert ok["ExpectedCompletionDate"] - ok["CreationDate"] == dt.timedelta(minutes=180)
    assert ok["CreatedBy"]["BackupPlanName"] == "daily-ec2" and ok["CreatedBy"]["BackupRuleName"] == "daily"
    assert ok["IamRoleArn"] == ROLE
    detail = bk.describe_backup_job(BackupJobId=ok["BackupJobId"])
    assert detail["State"] == "COMPLETED" and detail["RecoveryPointArn"] == ok["RecoveryPointArn"]


def test_copy_jobs_and_recovery_points_in_both_regions(client: Callable[..., Any]) -> None:
    bk, dr = client("backup"), client("backup", DR)
    copies = bk.list_copy_jobs(ByState="COMPLETED")["CopyJobs"]
    assert copies and all(c["DestinationBackupVaultArn"].startswith(f"arn:aws:backup:{DR}:") for c in copies)
    assert bk.list_copy_jobs(ByState="FAILED")["CopyJobs"][0]["ResourceName"] == "prod-web-01"
    assert dr.list_copy_jobs()["CopyJobs"] == []  # listed where they run: the source region
    src = bk.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"]
    dst = dr.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"]
    assert src and dst
    dst_arns = {p["RecoveryPointArn"] for p in dst}
    done = [c for c in copies]
    assert {c["DestinationRecoveryPointArn"] for c in done} <= dst_arns
    point = dst[0]
    assert point["SourceBackupVaultArn"].startswith(f"arn:aws:backup:{PRIMARY}:")
    assert point["CalculatedLifecycle"]["DeleteAt"] - point["CreationDate"] == dt.timedelta(days=35)
    vault = {v["BackupVaultName"]: v for v in bk.list_backup_vaults()["BackupVaultList"]}["Default"]
    completed_src = [p for p in src if p["Status"] == "COMPLETED"]
    assert vault["NumberOfRecoveryPoints"] == len(src) >= len(completed_src)
    rp = bk.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=completed_src[0]["RecoveryPointArn"])
    assert rp["Status"] == "COMPLETED" and rp["StorageClass"] == "WARM" and rp["ResourceType"] == "EC2"
    by_res = bk.list_recovery_points_by_resource(ResourceArn=rp["ResourceArn"])["RecoveryPoints"]
    assert rp["RecoveryPointArn"] in {p["RecoveryPointArn"] for p in by_res}
    assert all(p["BackupSizeBytes"] > 0 for p in by_res)
    # a failed job leaves no recovery point, and says so: no RecoveryPointArn, no size
    failed = bk.list_backup_jobs(ByState="FAILED")["BackupJobs"][0]
    assert "RecoveryPointArn" not in failed and failed["BackupSizeInBytes"] == 0


def test_job_filters_and_paging(client: Callable[..., Any]) -> None:
    bk = client("backup")
    every = _all_jobs(bk)
    assert {j["State"] for j in _all_jobs(bk, ByState="FAILED")} == {"FAILED"}
    assert len(_all_jobs(bk, ByResourceType="EC2")) == len(every)
    assert _all_jobs(bk, ByResourceType="RDS") == []
    assert len(_all_jobs(bk, ByBackupVaultName="Default")) == len(every)
    assert _all_jobs(bk, ByBackupVaultName="other") == []
    arn = every[0]["ResourceArn"]
    assert {j["ResourceArn"] for j in _all_jobs(bk, ByResourceArn=arn)} == {arn}
    cut = every[0]["CreationDate"] - dt.timedelta(days=3)
    recent = _all_jobs(bk, ByCreatedAfter=cut)
    assert recent and all(j["CreationDate"] > cut for j in recent)
    assert len(recent) + len(_all_jobs(bk, ByCreatedBefore=cut)) == len(every)
    done_before = _all_jobs(bk, ByCompleteBefore=cut)
    assert done_before and all(j["CompletionDate"] < cut for j in done_before)
    assert {j["MessageCategory"] for j in _all_jobs(bk, ByMessageCategory="SUCCESS")} == {"SUCCESS"}
    assert len(_all_jobs(bk, ByMessageCategory="AccessDenied")) >= 6
    assert len(_all_jobs(bk, ByMessageCategory="ANY")) == len(every)
    assert {j["AccountId"] for j in _all_jobs(bk, ByAccountId=ACCOUNT)} == {ACCOUNT}
    paged = _all_jobs(bk, MaxResults=25)
    assert [j["BackupJobId"] for j in paged] == [j["BackupJobId"] for j in every]
    with pytest.raises(ClientError):
        bk.list_backup_jobs(MaxResults=1001)


def test_selection_crud_and_plan_deletion_guard(client: Callable[..., Any]) -> None:
    bk = client("backup")
    plan_id = bk.create_backup_plan(BackupPlan={"BackupPlanName": "weekly-stg", "Rules": [
        {"RuleName": "weekly", "TargetBackupVaultName": "Default", "ScheduleExpression": "cron(0 3 ? * SUN *)"}]})[
        "BackupPlanId"]
    sel = {"SelectionName": "stg-only", "IamRoleArn": ROLE, "Resources": ["arn:aws:ec2:*:*:instance/*"],
           "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/Env", "ConditionValue": "stg"}]}}
    created = bk.create_backup_selection(BackupPlanId=plan_id, BackupSelection=sel, CreatorRequestId="t1")
    got = bk.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert got["BackupSelection"]["Conditions"]["StringEquals"][0]["ConditionValue"] == "stg"
    assert got["CreatorRequestId"] == "t1"
    with pytest.raises(ClientError) as exc:
        bk.create_backup_selection(BackupPlanId=plan_id, BackupSelection=sel)
    assert _code(exc) == "AlreadyExistsException"
    with pytest.raises(ClientError) as exc:
        bk.create_backup_selection(BackupPlanId="no-such-plan", BackupSelection=sel)
    assert _code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        bk.create_backup_selection(BackupPlanId=plan_id, BackupSelection={**sel, "SelectionName": "x",
                                                                          "IamRoleArn": "not-a-role"})
    assert _code(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        bk.delete_backup_plan(BackupPlanId=plan_id)
    assert _code(exc) == "InvalidRequestException"
    bk.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert bk.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    bk.delete_backup_plan(BackupPlanId=plan_id)


def test_selection_semantics() -> None:
    from opstui.sandbox.backup import Resource, selected

    def res(iid: str, **tags: str) -> Resource:
        return Resource(f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{iid}", iid, tags.get("Name", ""), tags, 1, False)

    fleet = [res("i-1", Env="prod", Backup="daily"), res("i-2", Env="stg"), res("i-3", Env="stg", Backup="daily")]
    ids = lambda body: [r.instance_id for r in selected(body, fleet)]  # noqa: E731
    assert ids({"Resources": ["arn:aws:ec2:*:*:instance/*"]}) == ["i-1", "i-2", "i-3"]
    assert ids({"Resources": [fleet[1].arn]}) == ["i-2"]
    tags = [{"ConditionType": "STRINGEQUALS", "ConditionKey": "Backup", "ConditionValue": "daily"}]
    assert ids({"ListOfTags": tags}) == ["i-1", "i-3"]
    assert ids({"Resources": [fleet[1].arn], "ListOfTags": tags}) == ["i-1", "i-2", "i-3"]  # ORed
    assert ids({"Resources": ["*"], "Conditions": {"StringLike": [
        {"ConditionKey": "aws:ResourceTag/Env", "ConditionValue": "st*"}]}}) == ["i-2", "i-3"]
    assert ids({"Resources": ["*"], "Conditions": {"StringNotEquals": [
        {"ConditionKey": "aws:ResourceTag/Backup", "ConditionValue": "daily"}]}}) == ["i-2"]
    assert ids({"Resources": ["*"], "NotResources": [fleet[0].arn]}) == ["i-2", "i-3"]


def test_start_backup_job_validation(client: Callable[..., Any], default_sandbox: Sandbox) -> None:
    bk = client("backup")
    iid = next(s.instance_id for s in default_sandbox.scenario_data.nodes
               if s.region == PRIMARY and not s.is_hybrid)
    arn = f"arn:aws:ec2:{PRIMARY}:{ACCOUNT}:instance/{iid}"
    cases = [({"BackupVaultName": "nope", "ResourceArn": arn}, "ResourceNotFoundException"),
             ({"BackupVaultName": "Default", "ResourceArn": "arn:aws:s3:::bucket"}, "InvalidParameterValueException"),
             ({"BackupVaultName": "Default", "ResourceArn": arn.replace(iid, "i-0000000000000dead")},
              "ResourceNotFoundException"),
             ({"BackupVaultName": "Default", "ResourceArn": arn, "IamRoleArn": "role"},
              "InvalidParameterValueException"),
             ({"BackupVaultName": "Default", "ResourceArn": arn, "StartWindowMinutes": 10},
              "InvalidParameterValueException")]
    for params, code in cases:
        with pytest.raises(ClientError) as exc:
            bk.start_backup_job(**{"IamRoleArn": ROLE, **params})
        assert _code(exc) == code, params
    with pytest.raises(ClientError) as exc:
        bk.describe_backup_job(BackupJobId="00000000-0000-0000-0000-000000000000")
    assert _code(exc) == "ResourceNotFoundException"
    done = bk.list_backup_jobs(ByState="COMPLETED", MaxResults=1)["BackupJobs"][0]
    with pytest.raises(ClientError) as exc:
        bk.stop_backup_job(BackupJobId=done["BackupJobId"])
    assert _code(exc) == "InvalidRequestException"


def test_file_backup_bucket(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    bucket = backup_seed.FILE_BUCKET.format(account=ACCOUNT)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["ID"] == "expire-noncurrent-35d"
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 35
    versions = s3.list_object_versions(Bucket=bucket, Prefix="hosts/prod-db-01/")["Versions"]
    assert len(versions) == 6 and sum(v["IsLatest"] for v in versions) == 2
    latest = next(v for v in versions if v["IsLatest"] and v["Key"].endswith("etc.tar.gz"))
    older = [v for v in versions if not v["IsLatest"] and v["Key"] == latest["Key"]]
    assert all(v["LastModified"] < latest["LastModified"] for v in older)
    assert latest["LastModified"] <= dt.datetime.now(dt.UTC)
    hosts = {o["Key"].split("/")[1] for o in s3.list_objects_v2(Bucket=bucket, Prefix="hosts/")["Contents"]}
    assert {"prod-web-01", "onprem-backup-01", "本番-決済API-01"} <= hosts
