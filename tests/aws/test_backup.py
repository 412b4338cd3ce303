"""AWS Backup and S3 file backups through the aws layer against the sandbox: seeded plan in words, the plan
form's checks and calls (they create exactly the seed's plan), jobs with failures first and filters,
on-demand backup, restore, recovery points, buckets, an upload/download round trip byte-exact with versions,
and read-only refusing every change before it is sent.

The `sandbox` fixture is shared by the whole suite: what these tests create has unique names and is removed
afterwards (plans, S3 keys outside `hosts/`); on-demand and restore jobs stay (nothing else counts them)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from opstui.aws import backup as bk
from opstui.aws import s3
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError, ReadOnlyError

PRIMARY, DR = "ap-northeast-1", "ap-northeast-3"
ACCOUNT = "123456789012"
BUCKET = f"opstui-file-backups-{ACCOUNT}"


def sandbox_now(sandbox) -> datetime:
    return datetime.fromisoformat(sandbox.clock()["now"])


async def instance_id(aws: AwsClients, name: str, region: str = PRIMARY) -> str:
    resp = await aws.call("ec2", region, "describe_instances",
                          Filters=[{"Name": "tag:Name", "Values": [name]}])
    return next(i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"])


def test_schedule_words() -> None:
    assert bk.schedule_words("cron(0 5 ? * * *)", "Etc/UTC") == "daily at 05:00 UTC"
    assert bk.schedule_words("cron(30 22 ? * MON-FRI *)") == "weekdays at 22:30 UTC"
    assert bk.schedule_words("cron(0 3 ? * SUN *)") == "weekly on Sunday at 03:00 UTC"
    assert bk.schedule_words("cron(0 1 1 * ? *)") == "monthly on day 1 at 01:00 UTC"
    assert bk.schedule_words("cron(0 1 L * ? *)") == "monthly on the last day at 01:00 UTC"
    assert bk.schedule_words("cron(0 5,17 ? * * *)") == "daily at 05:00 and 17:00 UTC"
    assert bk.schedule_words("cron(15 */6 * * ? *)") == "every 6 hours at :15 UTC"
    assert bk.schedule_words("cron(0 5 ? * * *)", "Asia/Tokyo") == "daily at 05:00 Asia/Tokyo"
    assert bk.schedule_words("rate(12 hours)") == "every 12 hours"
    assert bk.schedule_words("cron(0 5 ? 1 * 2027)") == "cron(0 5 ? 1 * 2027)"  # unusual: as written
    assert bk.window_words(60) == "1 hour" and bk.window_words(180) == "3 hours" and bk.window_words(10080) == "7 days"


def test_plan_form_checks_every_field_before_sending() -> None:
    spec, problems = bk.check_plan_form("bad name!", "25:00", "thirty", PRIMARY, "RDS", region=PRIMARY)
    assert spec is None and set(problems) == {"name", "time", "keep", "copy", "type"}
    assert "letters, digits" in problems["name"] and "HH:MM" in problems["time"]
    assert "whole number" in problems["keep"] and "another region" in problems["copy"]
    _, problems = bk.check_plan_form("", "5", "0", "tokyo", "EC2", region=PRIMARY)
    assert set(problems) == {"name", "time", "keep", "copy"} and "between 1 and" in problems["keep"]
    _, problems = bk.check_plan_form("daily-ec2", "05:00", "35", DR, "EC2", region=PRIMARY,
                                     existing_names=["daily-ec2"])
    assert set(problems) == {"name"} and "already exists" in problems["name"]
    spec, problems = bk.check_plan_form(" nightly ", " 5:30 ", "35", "", "ec2", region=PRIMARY)
    assert not problems and spec is not None
    assert (spec.name, spec.schedule, spec.keep_days, spec.copy_region) == ("nightly", "cron(30 5 ? * * *)", 35, None)


async def test_seeded_plan_rules_and_selections(aws) -> None:
    plans = await bk.list_plans(aws, PRIMARY)
    plan = next(p for p in plans if p.name == "daily-ec2")
    rule = plan.rules[0]
    assert bk.schedule_words(rule.schedule, rule.timezone) == "daily at 05:00 UTC"
    assert (rule.start_window_minutes, rule.completion_window_minutes, rule.delete_after_days) == (60, 180, 35)
    assert [(c.destination_region, c.destination_vault, c.delete_after_days) for c in rule.copy_actions] == [
        (DR, "Default", 35)]
    sel = plan.selections[0]
    assert sel.name == "all-ec2" and sel.resources == (bk.EC2_ALL,) and sel.what == "all EC2 instances"
    assert sel.iam_role == bk.default_role_arn(ACCOUNT)


async def test_plan_form_creates_exactly_the_seeds_plan(aws) -> None:
    seed_id = next(p.plan_id for p in await bk.list_plans(aws, PRIMARY) if p.name == "daily-ec2")
    name = f"b2-test-{uuid.uuid4().hex[:8]}"
    spec, problems = bk.check_plan_form(name, "05:00", "35", DR, "EC2", region=PRIMARY,
                                        existing_names=await bk.plan_names(aws, PRIMARY))
    assert spec is not None and not problems
    before = dict(aws.calls)
    plan = await bk.create_plan(aws, spec, ACCOUNT)
    try:
        sent = {k: v - before.get(k, 0) for k, v in aws.calls.items() if v != before.get(k, 0)}
        assert sent["backup:CreateBackupPlan"] == 1 and sent["backup:CreateBackupSelection"] == 1
        assert "backup:DeleteBackupPlan" not in sent
        ours = await aws.call("backup", PRIMARY, "get_backup_plan", BackupPlanId=plan.plan_id)
        seed = await aws.call("backup", PRIMARY, "get_backup_plan", BackupPlanId=seed_id)
        assert ours["BackupPlan"]["BackupPlanName"] == name

        def shape(rule: dict) -> dict:
            return {k: v for k, v in rule.items() if k != "RuleId"}

        assert [shape(r) for r in ours["BackupPlan"]["Rules"]] == [shape(r) for r in seed["BackupPlan"]["Rules"]]
        our_sel = (await bk.get_selections(aws, PRIMARY, plan.plan_id))[0]
        seed_sel = (await bk.get_selections(aws, PRIMARY, seed_id))[0]
        raw = await aws.call("backup", PRIMARY, "get_backup_selection", BackupPlanId=plan.plan_id,
                             SelectionId=our_sel.selection_id)
        assert raw["BackupSelection"]["Resources"] == ["arn:aws:ec2:*:*:instance/*"]
        assert (our_sel.resources, our_sel.iam_role, our_sel.tags) == (seed_sel.resources, seed_sel.iam_role, ())
        assert plan.rules[0].copy_actions[0].destination_region == DR
    finally:
        await bk.delete_plan(aws, PRIMARY, plan.plan_id)
    assert name not in await bk.plan_names(aws, PRIMARY)


async def test_create_plan_says_when_the_copy_vault_is_missing(aws) -> None:
    spec, _ = bk.check_plan_form(f"b2-novault-{uuid.uuid4().hex[:6]}", "05:00", "35", "eu-west-3", "EC2",
                                 region=PRIMARY)
    assert spec is not None
    before = aws.calls["backup:CreateBackupPlan"]
    with pytest.raises(OpsError) as exc:
        await bk.create_plan(aws, spec, ACCOUNT)
    assert "no backup vault Default in eu-west-3" in str(exc.value) and exc.value.kind == "invalid"
    assert aws.calls["backup:CreateBackupPlan"] == before  # nothing was created


async def test_jobs_failures_first_and_filters(aws, sandbox) -> None:
    now = sandbox_now(sandbox)
    result = await bk.list_jobs(aws, [PRIMARY, DR], "30d", now=now)
    jobs = result.jobs
    assert not result.errors and result.calls >= 6  # three lists per region
    assert {j.kind for j in jobs} >= {"backup", "copy"}
    ranks = [j.rank for j in jobs]
    assert ranks == sorted(ranks)  # failures, with issues, running, completed
    failed = [j for j in jobs if j.failed]
    issues = [j for j in jobs if j.with_issues]
    assert {j.state for j in failed} >= {"FAILED", "EXPIRED", "ABORTED"}
    assert any(j.kind == "copy" and j.state == "FAILED" for j in failed)
    assert all(j.status_message for j in failed)
    assert issues and all(j.resource_name == "prod-win-ad-01" and "VSS" in j.status_message for j in issues)
    assert all(j.status == "COMPLETED WITH ISSUES" for j in issues)
    assert jobs[0].failed and jobs[len(failed)].with_issues
    # the time range: ByCreatedAfter
    day = await bk.list_jobs(aws, [PRIMARY], "24h", now=now)
    assert day.jobs and all(j.created and (now - j.created).total_seconds() <= 86400 + 1 for j in day.jobs)
    assert len(day.jobs) < len(jobs)
    # state, resource, vault, kind
    only_failed = await bk.list_jobs(aws, [PRIMARY], "30d", now=now, state="FAILED")
    assert only_failed.jobs and {j.state for j in only_failed.jobs} == {"FAILED"}
    db = next(j for j in failed if j.resource_name == "prod-db-02")
    by_resource = await bk.list_jobs(aws, [PRIMARY], "30d", now=now, resource_arn=db.resource_arn)
    assert by_resource.jobs and {j.resource_arn for j in by_resource.jobs} == {db.resource_arn}
    assert {j.kind for j in by_resource.jobs} >= {"backup", "copy"}
    nothing = await bk.list_jobs(aws, [PRIMARY], "30d", now=now, vault="no-such-vault")
    assert nothing.jobs == ()
    backups = await bk.list_jobs(aws, [PRIMARY], "30d", now=now, kinds=("backup",), vault="Default")
    assert backups.jobs and {(j.kind, j.vault) for j in backups.jobs} == {("backup", "Default")}
    # detail: describe gives message, size, recovery point
    fresh = await bk.describe_job(aws, db)
    assert fresh.state == "FAILED" and fresh.status_message == db.status_message
    ok = next(j for j in jobs if j.kind == "backup" and j.state == "COMPLETED" and not j.with_issues)
    fresh = await bk.describe_job(aws, ok)
    assert fresh.recovery_point_arn and fresh.size_bytes and fresh.duration_seconds


async def test_on_demand_backup_and_restore(aws, sandbox) -> None:
    iid = await instance_id(aws, "stg-web-01")
    results = await bk.start_backups(aws, ACCOUNT, [(PRIMARY, iid), (PRIMARY, "i-0000000000000dead")])
    (_, _, job_id, err), (_, _, none, missing) = results
    assert job_id and err is None and none is None and missing is not None
    job = await bk.describe_job(aws, bk.BackupJob(
        kind="backup", job_id=job_id, region=PRIMARY, state="", message_category="", status_message="",
        resource_arn="", resource_name="", resource_type="", vault="", created=None, completed=None, size_bytes=None,
        percent_done="", recovery_point_arn=""))
    assert job.state in ("CREATED", "RUNNING") and job.plan_name == "on demand"
    assert job.resource_arn == bk.instance_arn(PRIMARY, ACCOUNT, iid) and job.vault == "Default"
    listed = await bk.list_jobs(aws, [PRIMARY], "24h", now=sandbox_now(sandbox), resource_arn=job.resource_arn,
                                kinds=("backup",))
    assert job_id in {j.job_id for j in listed.jobs}
    # restore the newest completed point of the instance
    vaults = await bk.list_vaults(aws, DR)
    assert [v.name for v in vaults] == ["Default"] and vaults[0].recovery_points > 0
    points = await bk.list_recovery_points(aws, PRIMARY, "Default")
    point = next(p for p in points if p.status == "COMPLETED" and p.resource_name == "stg-web-01")
    assert point.delete_at and (point.delete_at - point.created).days == 35
    copies = await bk.list_recovery_points(aws, DR, "Default")
    assert copies and all(c.source_vault_arn.startswith(f"arn:aws:backup:{PRIMARY}:") for c in copies)
    # the restore uses the point's backed-up settings (GetRecoveryPointRestoreMetadata)
    restore_id, source = await bk.start_restore(aws, point, ACCOUNT, instance_type="t3.small")
    assert restore_id and source == "GetRecoveryPointRestoreMetadata"
    restores = await bk.list_jobs(aws, [PRIMARY], "24h", now=sandbox_now(sandbox), kinds=("restore",))
    mine = next(j for j in restores.jobs if j.job_id == restore_id)
    assert mine.kind == "restore" and mine.recovery_point_arn == point.arn and mine.state in ("PENDING", "RUNNING")


async def test_buckets_with_versioning_lifecycle_and_newest(aws) -> None:
    buckets = await s3.list_buckets(aws, PRIMARY)
    files = next(b for b in buckets if b.name == BUCKET)
    assert files.region == PRIMARY and files.versioning == "Enabled" and not files.error
    assert files.lifecycle and "expire-noncurrent-35d (hosts/)" in files.lifecycle[0]
    assert "noncurrent expire 35 d" in files.lifecycle[0] and "STANDARD_IA 30 d" in files.lifecycle[0]
    assert files.newest is not None and files.complete and files.scanned >= 12
    capped = await s3.bucket_info(aws, PRIMARY, BUCKET, scan_cap=1)
    assert not capped.complete
    top = await s3.list_versions(aws, PRIMARY, BUCKET, "hosts/")
    assert {e.kind for e in top.entries} == {"prefix"} and "hosts/prod-web-01/" in {e.key for e in top.entries}
    web = await s3.list_versions(aws, PRIMARY, BUCKET, "hosts/prod-web-01/")
    etc = [e for e in web.entries if e.key == "hosts/prod-web-01/etc.tar.gz"]
    assert len(etc) == 3 and sum(e.is_latest for e in etc) == 1 and etc[0].is_latest


async def test_upload_download_round_trip_byte_exact_with_versions(aws, tmp_path: Path) -> None:
    prefix = f"b2-tests/{uuid.uuid4().hex[:8]}/"
    key = prefix + "notes.bin"
    first, second = os.urandom(70_000), os.urandom(50_000)
    big = os.urandom(11 * 1024 * 1024 + 123)
    local = tmp_path / "notes.bin"
    local_big = tmp_path / "big.bin"
    local_big.write_bytes(big)
    seen: list[tuple[int, int]] = []
    try:
        local.write_bytes(first)
        v1 = await s3.upload_file(aws, PRIMARY, BUCKET, key, local)
        local.write_bytes(second)
        v2 = await s3.upload_file(aws, PRIMARY, BUCKET, key, local)
        assert v1 and v2 and v1 != v2
        parts_before = aws.calls["s3:UploadPart"]
        vbig = await s3.upload_file(aws, PRIMARY, BUCKET, prefix + "big.bin", local_big,
                                    progress=lambda d, t: seen.append((d, t)), chunk=5 * 1024 * 1024)
        assert vbig and aws.calls["s3:UploadPart"] - parts_before == 3  # multipart, 5 MB parts
        assert seen[0] == (0, len(big)) and seen[-1] == (len(big), len(big))
        listing = await s3.list_versions(aws, PRIMARY, BUCKET, prefix)
        notes = [e for e in listing.entries if e.key == key]
        assert [(e.version_id, e.is_latest, e.size) for e in notes] == [(v2, True, 50_000), (v1, False, 70_000)]
        # download: latest, an older version, the multipart object (streamed, with progress)
        out = tmp_path / "out.bin"
        assert await s3.download_file(aws, PRIMARY, BUCKET, key, out) == 50_000 and out.read_bytes() == second
        await s3.download_file(aws, PRIMARY, BUCKET, key, out, version_id=v1)
        assert out.read_bytes() == first
        got: list[tuple[int, int]] = []
        await s3.download_file(aws, PRIMARY, BUCKET, prefix + "big.bin", out, progress=lambda d, t: got.append((d, t)),
                               chunk=1 << 20)
        assert out.read_bytes() == big and len(got) > 5 and got[-1] == (len(big), len(big))
        assert not (tmp_path / "out.bin.part").exists()
        # a download that cannot be written leaves no partial file and says why
        with pytest.raises(OpsError) as exc:
            await s3.download_file(aws, PRIMARY, BUCKET, key, tmp_path / "missing-dir" / "x.bin")
        assert "cannot write" in str(exc.value)
    finally:
        listing = await s3.list_versions(aws, PRIMARY, BUCKET, prefix)
        for e in listing.entries:
            if e.kind != "prefix":
                await aws.call("s3", PRIMARY, "delete_object", Bucket=BUCKET, Key=e.key, VersionId=e.version_id)


def test_local_path_checks(tmp_path: Path) -> None:
    assert "no such file" in s3.upload_path_problem(tmp_path / "nope.tar.gz")
    assert "is a directory" in s3.upload_path_problem(tmp_path)
    (tmp_path / "ok.txt").write_text("x")
    assert s3.upload_path_problem(tmp_path / "ok.txt") == ""
    assert s3.download_path_problem(tmp_path / "no" / "x") == ""  # missing folders are created by the download
    (tmp_path / "f").write_text("")
    assert "is a file, not a folder" in s3.download_path_problem(tmp_path / "f" / "x")
    assert "is a directory" in s3.download_path_problem(tmp_path)
    assert s3.download_path_problem(tmp_path / "new.bin") == ""
    assert s3.key_problem("") and s3.key_problem("a\x1bb") and not s3.key_problem("hosts/x/etc.tar.gz")


async def test_read_only_refuses_plan_backup_restore_and_upload(sandbox, aws, tmp_path: Path) -> None:
    ro = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=2, read_only=True)
    try:
        spec, _ = bk.check_plan_form(f"b2-ro-{uuid.uuid4().hex[:6]}", "05:00", "35", DR, "EC2", region=PRIMARY)
        assert spec is not None
        with pytest.raises(ReadOnlyError):
            await bk.create_plan(ro, spec, ACCOUNT)
        iid = await instance_id(ro, "stg-web-01")
        with pytest.raises(ReadOnlyError):
            await bk.start_backup(ro, PRIMARY, ACCOUNT, iid)
        point = next(p for p in await bk.list_recovery_points(ro, PRIMARY, "Default") if p.status == "COMPLETED")
        with pytest.raises(ReadOnlyError):
            await bk.start_restore(ro, point, ACCOUNT, ask_service=False)
        local = tmp_path / "f.txt"
        local.write_text("read-only")
        with pytest.raises(ReadOnlyError):
            await s3.upload_file(ro, PRIMARY, BUCKET, "b2-tests/ro.txt", local)
        # reads still work; nothing mutating was sent
        assert (await bk.list_jobs(ro, [PRIMARY], "24h", now=sandbox_now(sandbox))).jobs
        sent = set(ro.calls)
        assert not sent & {"backup:CreateBackupPlan", "backup:CreateBackupSelection", "backup:StartBackupJob",
                           "backup:StartRestoreJob", "s3:PutObject", "s3:CreateMultipartUpload"}
    finally:
        await ro.close()
    assert spec.name not in await bk.plan_names(aws, PRIMARY)


class _Scripted:
    """A stand-in for AwsClients: answers `call` from a script and records what was sent."""

    def __init__(self, answers) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict]] = []

    async def call(self, service: str, region: str, operation: str, **params):
        self.sent.append((operation, dict(params)))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _point() -> bk.RecoveryPoint:
    return bk.RecoveryPoint(arn="arn:aws:ec2:ap-northeast-1::image/ami-1", region=PRIMARY, vault="Default",
                            resource_arn="", resource_name="", resource_type="EC2", status="COMPLETED",
                            created=None, completed=None, size_bytes=None, delete_at=None)


async def test_restore_metadata_falls_back_only_where_the_call_does_not_exist() -> None:
    # a throttled (or unreachable) GetRecoveryPointRestoreMetadata is raised: the restore must not go ahead
    # without the backed-up settings, and later restores still ask
    busy = _Scripted([OpsError("throttled", kind="throttled", code="ThrottlingException"),
                      {"RestoreMetadata": {"InstanceType": "m5.large", "SubnetId": "subnet-1"}}])
    with pytest.raises(OpsError):
        await bk.restore_metadata(busy, _point(), "t3.small")
    meta, source = await bk.restore_metadata(busy, _point(), "t3.small")
    assert source == "GetRecoveryPointRestoreMetadata" and meta["SubnetId"] == "subnet-1"
    # an endpoint without the operation (an HTML 404): the minimal metadata, and it is not asked again
    old = _Scripted([OpsError("404 calling GetRecoveryPointRestoreMetadata", code="404")])
    assert await bk.restore_metadata(old, _point(), "t3.small") == ({"InstanceType": "t3.small"},
                                                                    "minimal EC2 metadata")
    assert await bk.restore_metadata(old, _point(), "t3.small") == ({"InstanceType": "t3.small"},
                                                                    "minimal EC2 metadata")
    assert len(old.sent) == 1


async def test_list_versions_drops_the_version_marker_after_a_page_ending_on_a_prefix() -> None:
    aws = _Scripted([
        {"Versions": [{"Key": "a/x", "VersionId": "v1", "IsLatest": True, "Size": 1}], "IsTruncated": True,
         "NextKeyMarker": "a/x", "NextVersionIdMarker": "v1"},
        {"CommonPrefixes": [{"Prefix": "a/y/"}], "IsTruncated": True, "NextKeyMarker": "a/y/"},
        {"Versions": [{"Key": "a/z", "VersionId": "v3", "IsLatest": True, "Size": 3}], "IsTruncated": False},
    ])
    listing = await s3.list_versions(aws, PRIMARY, BUCKET, "a/")
    assert [e.key for e in listing.entries] == ["a/y/", "a/x", "a/z"] and listing.complete
    second, third = aws.sent[1][1], aws.sent[2][1]
    assert (second["KeyMarker"], second["VersionIdMarker"]) == ("a/x", "v1")
    assert third["KeyMarker"] == "a/y/" and "VersionIdMarker" not in third
