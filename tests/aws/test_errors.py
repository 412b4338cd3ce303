"""Every failure reaches the UI as one OpsError naming region, service, cause and what to do."""

import socket
import time

import pytest

from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError
from opstui.aws.fleet import load_fleet
from opstui.aws.ssm import list_managed_nodes
from tests.helpers import UNUSED_CREDS

R1 = "ap-northeast-1"
R3 = "ap-northeast-3"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_access_denied_names_the_missing_action(aws, sandbox):
    sandbox.add_fault("AccessDenied", service="ssm", region=R1)
    with pytest.raises(OpsError) as info:
        await list_managed_nodes(aws, R1)
    err = info.value
    assert err.kind == "denied" and err.region == R1 and err.service == "ssm"
    assert "ssm:DescribeInstanceInformation" in str(err)


async def test_expired_credentials_suggest_refreshing(aws, sandbox):
    sandbox.add_fault("ExpiredToken", service="ssm")
    with pytest.raises(OpsError) as info:
        await list_managed_nodes(aws, R1)
    assert info.value.kind == "expired"
    assert "credentials" in str(info.value) and "press r" in str(info.value)


async def test_expired_ec2_token_maps_the_same(aws, sandbox):
    sandbox.add_fault("ExpiredToken", service="ec2")
    with pytest.raises(OpsError) as info:
        await aws.call("ec2", R1, "describe_instances")
    assert info.value.kind == "expired" and info.value.service == "ec2"


async def test_sso_profile_without_login_suggests_aws_sso_login(tmp_path, monkeypatch, sandbox):
    # A real botocore SSO profile with no cached token: botocore itself raises; no sandbox knob needed.
    config = tmp_path / "config"
    config.write_text(
        "[profile ops-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = ap-northeast-1\n"
        "sso_account_id = 123456789012\nsso_role_name = Operator\nregion = ap-northeast-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    aws = AwsClients(profile="ops-sso", endpoint_url=sandbox.endpoint, max_attempts=1)
    try:
        with pytest.raises(OpsError) as info:
            await list_managed_nodes(aws, R1)
    finally:
        await aws.close()
    assert info.value.kind == "expired"
    assert "aws sso login --profile ops-sso" in str(info.value)


async def test_throttling_is_retried_by_botocore_then_succeeds(sandbox):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=4)
    sandbox.add_fault("Throttling", service="ssm", count=1)
    try:
        nodes = await list_managed_nodes(aws, R1)
    finally:
        await aws.close()
    assert nodes


async def test_persistent_throttling_becomes_a_throttled_error(aws, sandbox):
    sandbox.add_fault("Throttling", service="ec2")
    with pytest.raises(OpsError) as info:
        await aws.call("ec2", R1, "describe_instances")
    assert info.value.kind == "throttled" and "RequestLimitExceeded" in str(info.value)


async def test_unreachable_endpoint_is_reported_quickly():
    aws = AwsClients(endpoint_url=f"http://127.0.0.1:{_closed_port()}", credentials=UNUSED_CREDS, max_attempts=2)
    started = time.monotonic()
    try:
        with pytest.raises(OpsError) as info:
            await list_managed_nodes(aws, R1)
    finally:
        await aws.close()
    assert info.value.kind == "unreachable" and info.value.region == R1
    assert "unreachable" in str(info.value) and "--endpoint-url" in str(info.value)
    assert time.monotonic() - started < 15


async def test_unknown_region_fails_before_any_request():
    aws = AwsClients(credentials=UNUSED_CREDS)
    try:
        with pytest.raises(OpsError) as info:
            await list_managed_nodes(aws, "ap-nowhere-9")
    finally:
        await aws.close()
    assert info.value.kind == "unknown-region" and "ap-nowhere-9" in str(info.value)
    assert sum(aws.calls.values()) == 0


async def test_unknown_instance_id_is_a_not_found_error(aws):
    with pytest.raises(OpsError) as info:
        await aws.call("ec2", R1, "describe_instances", InstanceIds=["i-0000000000000dead"])
    assert info.value.kind == "not-found" and "unknown instance id" in str(info.value)


async def test_one_failing_region_leaves_the_others_working(aws, sandbox):
    sandbox.add_fault("AccessDenied", service="ssm", region=R3)
    snap = await load_fleet(aws, [R1, R3])
    by_region = {r.region: r for r in snap.regions}
    assert by_region[R1].error is None and by_region[R1].nodes
    assert isinstance(by_region[R3].error, OpsError) and not by_region[R3].nodes
    assert "ap-northeast-3" in str(by_region[R3].error)


async def test_error_messages_never_contain_credentials(sandbox):
    secret = "SECRETKEYVALUE1234567890"
    from opstui.aws.clients import StaticCredentials

    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=StaticCredentials("AKIDTEST", secret, "TOKENVAL"),
                     max_attempts=1)
    sandbox.add_fault("ExpiredToken", service="ssm")
    try:
        with pytest.raises(OpsError) as info:
            await list_managed_nodes(aws, R1)
    finally:
        await aws.close()
    text = repr(info.value) + str(info.value)
    assert secret not in text and "TOKENVAL" not in text
    assert secret not in repr(StaticCredentials("a", secret))


async def test_real_regions_pass_the_region_check():
    aws = AwsClients(credentials=UNUSED_CREDS)
    try:
        known = await aws.known_regions()
    finally:
        await aws.close()
    assert {"ap-northeast-1", "ap-northeast-3", "us-east-1"} <= known


def test_access_denied_names_the_iam_action_not_the_api_name():
    """ListObjectsV2 is authorised by s3:ListBucket: that is what the user must grant. (The sandbox's fault
    injection does not speak S3's REST-XML error format, so the error AWS sends is built here.)"""
    from botocore.exceptions import ClientError

    from opstui.aws.errors import map_error

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "ListObjectsV2")
    err = map_error(denied, service="s3", region=R1, operation="ListObjectsV2")
    assert err.kind == "denied" and "the role lacks s3:ListBucket" in str(err) and "ListObjectsV2" not in str(err)
