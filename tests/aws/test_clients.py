"""The client factory the read-only guard rides on, tested without a sandbox.

Every client `AwsClients.client` hands out carries the guard, and every error the guard raises reaches the UI
through `AwsClients.call`; these fast tests pin the rest of that path (unknown regions, a closed factory,
credentials, creation failures), so mutation testing of the guard target (`python mutation/run.py guard`)
has no blind spot next to the hook.
"""

from __future__ import annotations

import asyncio

import pytest

from opstui.aws.clients import AwsClients, StaticCredentials
from opstui.aws.errors import OpsError

REGION = "us-east-1"
CLOSED_ENDPOINT = "http://127.0.0.1:9"
NO_RETRIES = 0  # botocore's `max_attempts` counts retries: 0 sends once


def _factory(endpoint_url: str | None = CLOSED_ENDPOINT, token: str | None = None) -> AwsClients:
    return AwsClients(
        endpoint_url=endpoint_url,
        credentials=StaticCredentials("AKIDEXAMPLE", "not-a-secret", token),
        max_attempts=NO_RETRIES,
    )


async def test_an_unknown_region_is_refused_before_a_client_exists() -> None:
    aws = _factory(endpoint_url=None)
    try:
        with pytest.raises(OpsError) as info:
            await aws.client("sts", "xx-nowhere-1")
        err = info.value
        assert (err.message, err.kind, err.service, err.region, err.hint) == (
            "unknown region 'xx-nowhere-1'", "unknown-region", "sts", "xx-nowhere-1",
            "check --region (e.g. ap-northeast-1)")
        assert await aws.client("sts", "ap-northeast-1") is not None  # a known region: created, nothing sent
    finally:
        await aws.close()


async def test_with_an_endpoint_url_any_region_name_is_accepted() -> None:
    """The sandbox and other endpoints have their own region names: only real AWS is checked."""
    aws = _factory()
    try:
        assert await aws.client("sts", "xx-nowhere-1") is not None
    finally:
        await aws.close()


async def test_one_client_per_service_and_region() -> None:
    aws = _factory()
    try:
        first = await aws.client("sts", REGION)
        assert await aws.client("sts", REGION) is first
        assert await aws.client("sts", "eu-west-1") is not first
        concurrent = await asyncio.gather(*(aws.client("ssm", REGION) for _ in range(5)))
        assert all(c is concurrent[0] for c in concurrent)
    finally:
        await aws.close()


async def test_a_closed_factory_refuses_to_make_clients() -> None:
    aws = _factory()
    await aws.client("sts", REGION)
    await aws.close()
    with pytest.raises(OpsError) as info:
        await aws.call("sts", REGION, "get_caller_identity")
    assert (info.value.message, info.value.kind, info.value.service, info.value.region) == (
        "client factory is closed", "error", "sts", REGION)


async def test_a_client_that_cannot_be_created_is_an_ops_error_naming_service_and_region() -> None:
    aws = _factory()
    try:
        with pytest.raises(OpsError) as info:
            await aws.client("no-such-service", REGION)
        err = info.value
        assert err.message.startswith("UnknownServiceError: Unknown service: 'no-such-service'")
        assert (err.service, err.region) == ("no-such-service", REGION)
    finally:
        await aws.close()


async def test_a_failed_call_names_service_region_and_operation() -> None:
    aws = _factory()
    try:
        with pytest.raises(OpsError) as info:
            await aws.call("cloudwatch", "eu-west-1", "describe_alarm_history")
        err = info.value
        assert (err.kind, err.service, err.region, err.operation) == (
            "unreachable", "cloudwatch", "eu-west-1", "DescribeAlarmHistory")
    finally:
        await aws.close()


async def test_static_credentials_and_their_session_token_sign_the_request() -> None:
    """The token of temporary credentials (SSO, assumed roles) must go out with every request."""
    seen: list[bytes] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    aws = _factory(endpoint_url=f"http://127.0.0.1:{port}", token="session-token-1")
    try:
        with pytest.raises(OpsError):
            await aws.call("sts", REGION, "get_caller_identity")
    finally:
        await aws.close()
        server.close()
        await server.wait_closed()
    head = seen[0].decode().lower()
    assert "x-amz-security-token: session-token-1" in head
    assert "credential=akidexample/" in head


def test_static_credentials_never_show_their_values() -> None:
    creds = StaticCredentials("AKIDEXAMPLE", "not-a-secret", "tok")
    assert repr(creds) == str(creds) == "StaticCredentials(***)"
