"""What a canary run leaves behind, as on AWS: realistic durations, the Lambda log group with the runtime's
lines, artifacts in the ArtifactS3Location bucket; and Synthetics groups."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def ctl(default_sandbox: Sandbox) -> SandboxControl:
    return SandboxControl.of(default_sandbox)


def _canary(client: Callable[..., Any], name: str) -> dict[str, Any]:
    return client("synthetics").get_canary(Name=name)["Canary"]


def _objects(client: Callable[..., Any], location: str) -> dict[str, bytes]:
    s3 = client("s3")
    bucket, _, prefix = location.partition("/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])]
    return {k.rsplit("/", 1)[-1]: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def test_run_duration_includes_the_runtime_not_just_the_request(client: Callable[..., Any],
                                                                ctl: SandboxControl) -> None:
    ctl.webapp(health="ok")
    run = ctl.canary_run("storefront-heartbeat")
    took = run["Timeline"]["Completed"] - run["Timeline"]["Started"]
    assert 1.0 <= took <= 2.5, took  # launching the browser and the rest: a heartbeat run is never a few ms
    history = client("synthetics").get_canary_runs(Name="storefront-heartbeat", MaxResults=100)["CanaryRuns"]
    backfilled = [r["Timeline"]["Completed"] - r["Timeline"]["Started"] for r in history[1:]]
    assert all(d.total_seconds() >= 1.0 for d in backfilled)


def test_run_artifacts_land_in_the_artifact_bucket(client: Callable[..., Any], ctl: SandboxControl,
                                                   default_sandbox: Sandbox) -> None:
    canary = _canary(client, "storefront-heartbeat")
    bucket = f"cw-syn-results-{default_sandbox.account_id}-{REGION}"
    assert canary["ArtifactS3Location"].startswith(f"s3://{bucket}/canary/{REGION}/storefront-heartbeat-")
    run = ctl.canary_run("storefront-heartbeat")
    location = run["ArtifactS3Location"]
    assert location.startswith(canary["ArtifactS3Location"].removeprefix("s3://") + "/")
    files = _objects(client, location)
    names = set(files)
    assert "SyntheticsReport-PASSED.json" in names and "01-127.0.0.1-succeeded.png" in names
    log = next(v for k, v in files.items() if k.endswith("-log.txt")).decode()
    assert any(k.endswith("-har.html") for k in names)
    assert "Start Canary" in log and "Canary successful" in log
    report = json.loads(files["SyntheticsReport-PASSED.json"])
    assert report["canaryName"] == "storefront-heartbeat" and report["status"] == "PASSED"
    assert files["01-127.0.0.1-succeeded.png"].startswith(b"\x89PNG")
    # the seeded day of history has its artifacts too
    older = client("synthetics").get_canary_runs(Name="legacy-api-heartbeat", MaxResults=1)["CanaryRuns"][0]
    assert "SyntheticsReport-FAILED.json" in _objects(client, older["ArtifactS3Location"])


def test_runs_write_the_lambda_log_group(client: Callable[..., Any], ctl: SandboxControl) -> None:
    canary = _canary(client, "legacy-api-heartbeat")
    group = f"/aws/lambda/cwsyn-legacy-api-heartbeat-{canary['Id']}"
    run = ctl.canary_run("legacy-api-heartbeat")
    logs = client("logs")
    assert group in {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/cwsyn-")
                     ["logGroups"]}
    streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    newest = streams[0]["logStreamName"]
    assert "[$LATEST]" in newest
    lines = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=newest)["events"]]
    assert lines[0].startswith("START RequestId: ") and lines[-1].startswith("REPORT RequestId: ")
    assert any(line.endswith("\tINFO\tStart Canary") for line in lines)
    failure = next(line for line in lines if "\tERROR\tCanary failed." in line)
    assert run["Status"]["StateReason"] in failure and "Stack: " in failure


def test_synthetics_groups(client: Callable[..., Any], default_sandbox: Sandbox) -> None:
    syn, dr = client("synthetics"), client("synthetics", "ap-northeast-3")
    assert syn.list_groups()["Groups"] == []
    group = syn.create_group(Name="Storefront", Tags={"team": "web"})["Group"]
    assert group["Arn"] == f"arn:aws:synthetics:{REGION}:{default_sandbox.account_id}:group:{group['Id']}"
    with pytest.raises(ClientError) as err:
        syn.create_group(Name="storefront")  # names are unique, whatever the case
    assert err.value.response["Error"]["Code"] == "ConflictException"
    arn = f"arn:aws:synthetics:{REGION}:{default_sandbox.account_id}:canary:storefront-heartbeat"
    syn.associate_resource(GroupIdentifier=group["Id"], ResourceArn=arn)
    assert syn.list_group_resources(GroupIdentifier="Storefront")["Resources"] == [arn]
    assert [g["Id"] for g in syn.list_associated_groups(ResourceArn=arn)["Groups"]] == [group["Id"]]
    # groups are global: listed and readable from another Region, deleted only from their home Region
    assert [g["Name"] for g in dr.list_groups()["Groups"]] == ["Storefront"]
    assert dr.get_group(GroupIdentifier=group["Arn"])["Group"]["Tags"] == {"team": "web"}
    with pytest.raises(ClientError):
        dr.delete_group(GroupIdentifier=group["Id"])
    with pytest.raises(ClientError) as err:
        syn.get_group(GroupIdentifier="no-such-group")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    syn.disassociate_resource(GroupIdentifier=group["Id"], ResourceArn=arn)
    assert syn.list_group_resources(GroupIdentifier=group["Id"])["Resources"] == []
    syn.delete_group(GroupIdentifier=group["Id"])
    assert syn.list_groups()["Groups"] == []
