"""The read-only guard, checked against every operation name botocore knows for the services opstui uses.

`tests/aws/test_read_only.py` proves the guard against the sandbox (slow: a child process). These tests need
no sandbox and run in a few seconds, so mutation testing can run them for every mutant of the guard: a rule
that names a few operations by hand misses the operation added next year, so the table walks each service
model botocore ships and sends every mutating operation through the real `AwsClients` hook. The endpoint is
127.0.0.1:9 (discard, closed here): a refused operation must come back as `ReadOnlyError`, never as the
connection error that proves a request was on its way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import botocore.session
import pytest
from aiobotocore.session import AioSession
from botocore import xform_name
from botocore.model import OperationModel, Shape

from opstui.aws.clients import (
    READ_OPERATIONS,
    READ_PREFIXES,
    AwsClients,
    StaticCredentials,
    is_read_operation,
)
from opstui.aws.errors import OpsError, ReadOnlyError

REGION = "us-east-1"
CLOSED_ENDPOINT = "http://127.0.0.1:9"
#: every service opstui calls (and the sandbox serves)
SERVICES = ("ssm", "ec2", "sts", "cloudwatch", "sns", "logs", "synthetics", "backup", "s3", "resource-groups")
#: the rule as the project states it, written out here so a change to READ_PREFIXES has to change this too
READ_RULE = ("Describe", "List", "Get", "BatchGet", "Search", "Filter", "Lookup")
#: reads by meaning that the prefixes miss, named one by one: none (StartLiveTail is refused too: billed)
READ_NAMED: frozenset[str] = frozenset()
#: botocore reads `max_attempts` as retries after the first attempt: 0 sends each request once, so a read
#: that fails to connect fails at once instead of after the retry back-off
NO_RETRIES = 0
HINT = "restart opstui without --read-only to make changes"

_BOTOCORE = botocore.session.get_session()


def _operations(service: str) -> list[str]:
    return list(_BOTOCORE.get_service_model(service).operation_names)


def _minimal_value(shape: Shape) -> Any:
    """The smallest value botocore's parameter validation accepts for `shape`.

    botocore validates parameters before it emits `before-call`, so a refused operation must first pass
    validation; otherwise the test would see ParamValidationError and prove nothing about the guard.
    Validation checks required members, types and minimum lengths (not patterns), so placeholders do."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_tagged_union:  # exactly one member must be set
            first = next(iter(shape.members))
            return {first: _minimal_value(shape.members[first])}
        return {name: _minimal_value(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [_minimal_value(shape.member) for _ in range(shape.metadata.get("min", 0))]
    if kind == "map":
        return {}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x" * max(1, shape.metadata.get("min", 1))
    if kind in ("integer", "long"):
        return max(0, shape.metadata.get("min", 0))
    if kind in ("float", "double"):
        return float(shape.metadata.get("min", 0))
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x" * max(1, shape.metadata.get("min", 1))
    if kind == "timestamp":
        return dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    raise AssertionError(f"no placeholder for a {kind} shape")  # a new botocore type: teach this function


def _minimal_params(model: OperationModel) -> dict[str, Any]:
    return _minimal_value(model.input_shape) if model.input_shape is not None else {}


def _signing_name(service: str) -> str:
    model = _BOTOCORE.get_service_model(service)
    return model.signing_name or model.service_name


_SHARED_SESSION: AioSession | None = None


def _factory(*, read_only: bool, endpoint_url: str = CLOSED_ENDPOINT) -> AwsClients:
    """A real client factory aimed at `endpoint_url`, sharing one botocore session across tests.

    A fresh session loads each service model again (EC2's alone takes ~0.4 s); sharing the session keeps
    the whole file at a few seconds, which is what makes mutation testing of the guard practical. The
    session only holds models and configuration: the clients, and the guard they carry, are new per test."""
    global _SHARED_SESSION
    aws = AwsClients(
        read_only=read_only,
        endpoint_url=endpoint_url,
        credentials=StaticCredentials("AKIDEXAMPLE", "not-a-secret"),
        max_attempts=NO_RETRIES,
    )
    if _SHARED_SESSION is None:
        _SHARED_SESSION = aws.session
    aws._session = _SHARED_SESSION
    return aws


@pytest.fixture
async def read_only() -> AsyncIterator[AwsClients]:
    """Read-only mode aimed at a closed port: whatever leaves the process fails to connect."""
    aws = _factory(read_only=True)
    yield aws
    await aws.close()


@pytest.fixture
async def read_write() -> AsyncIterator[AwsClients]:
    aws = _factory(read_only=False)
    yield aws
    await aws.close()


# -- the rule ---------------------------------------------------------------------------------------------


def test_read_prefixes_are_exactly_the_documented_rule() -> None:
    assert tuple(READ_PREFIXES) == READ_RULE
    assert READ_OPERATIONS == READ_NAMED


def _is_read(op: str) -> bool:
    return op.startswith(READ_RULE) or op in READ_NAMED


@pytest.mark.parametrize("service", SERVICES)
def test_every_botocore_operation_is_a_read_exactly_when_it_starts_with_a_read_prefix(service: str) -> None:
    wrong = [op for op in _operations(service) if is_read_operation(op) != _is_read(op)]
    assert not wrong, f"{service}: misclassified {wrong}"


@pytest.mark.parametrize(
    "operation",
    ["DescribeInstances", "ListCommands", "GetCommandInvocation", "BatchGetItem", "SearchResources",
     "FilterLogEvents", "LookupEvents", "Describe", "List", "Get", "BatchGet", "Search", "Filter", "Lookup"],
)
def test_each_read_prefix_makes_a_read(operation: str) -> None:
    """Not every prefix has an operation in the services above (BatchGet, Lookup): named here."""
    assert is_read_operation(operation) is True


@pytest.mark.parametrize(
    "operation",
    [
        # the families the audit named
        "SetAlarmState", "ResumeSession", "TagResource", "UntagResource", "UploadPart", "PutMetricAlarm",
        "CreateTags", "DeleteAlarms", "StartSession", "StopInstances", "SendCommand", "CancelCommand",
        "TerminateInstances", "UpdateAssociation", "ModifyInstanceAttribute", "EnableAlarmActions",
        "DisableAlarmActions", "Publish", "Subscribe", "AddTagsToResource", "AssumeRole",
        # reads by meaning but not by name: fail closed
        "HeadObject", "SelectObjectContent", "BatchDescribe", "batchGetItem",
        # a read word that is not at the start, or not the whole prefix
        "StopDescribe", "UpdateList", "ResetGet", "PutLookup", "Describ", "Lis", "Ge", "BatchPut", "Batch",
        "Searc", "Filte", "Looku", "describeInstances", "listCommands", "getItem", "",
    ],
)
def test_everything_else_is_mutating(operation: str) -> None:
    assert is_read_operation(operation) is False


# -- the live hook ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
async def test_every_mutating_operation_is_refused_by_the_live_hook_and_never_counted(
    read_only: AwsClients, service: str
) -> None:
    """Each non-read operation of the service model goes through `AwsClients.call` with valid parameters."""
    model = _BOTOCORE.get_service_model(service)
    signing = _signing_name(service)
    problems: list[str] = []
    refused = 0
    for op in model.operation_names:
        if _is_read(op):
            continue
        try:
            await read_only.call(service, REGION, xform_name(op), **_minimal_params(model.operation_model(op)))
        except ReadOnlyError as err:
            if (err.kind, err.service, err.operation) != ("read-only", signing, op):
                problems.append(f"{op}: {err.kind} {err.service} {err.operation}")
            refused += 1
        except OpsError as err:
            problems.append(f"{op}: {err.kind}: {err}")
        else:
            problems.append(f"{op}: answered")
    assert not problems, f"{service}: not refused by the guard: {problems}"
    assert refused > 0
    assert sum(read_only.calls.values()) == 0  # a refused operation is not a call


COMMAND_ID = "00000000-0000-0000-0000-000000000000"  # SSM command ids are 36 characters
AUDIT_FAMILIES: list[tuple[str, str, dict[str, Any]]] = [
    ("cloudwatch", "set_alarm_state", {"AlarmName": "cpu", "StateValue": "ALARM", "StateReason": "test"}),
    ("ssm", "resume_session", {"SessionId": "s-1"}),
    ("backup", "tag_resource", {"ResourceArn": "arn:aws:backup:us-east-1:1:backup-vault:v", "Tags": {"a": "b"}}),
    ("synthetics", "tag_resource", {"ResourceArn": "arn:aws:synthetics:us-east-1:1:canary:c", "Tags": {"a": "b"}}),
    ("synthetics", "untag_resource", {"ResourceArn": "arn:aws:synthetics:us-east-1:1:canary:c", "TagKeys": ["a"]}),
    ("s3", "upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 1, "Body": b"x"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
    ("ssm", "add_tags_to_resource",
     {"ResourceType": "ManagedInstance", "ResourceId": "mi-1", "Tags": [{"Key": "a", "Value": "b"}]}),
    ("ssm", "put_parameter", {"Name": "p", "Value": "v"}),
    ("ec2", "create_tags", {"Resources": ["i-1"], "Tags": [{"Key": "a", "Value": "b"}]}),
    ("ec2", "delete_tags", {"Resources": ["i-1"]}),
    ("ec2", "start_instances", {"InstanceIds": ["i-1"]}),
    ("ec2", "stop_instances", {"InstanceIds": ["i-1"]}),
    ("ec2", "terminate_instances", {"InstanceIds": ["i-1"]}),
    ("ec2", "modify_instance_attribute", {"InstanceId": "i-1", "DisableApiStop": {"Value": True}}),
    ("ssm", "send_command", {"InstanceIds": ["i-1"], "DocumentName": "AWS-RunShellScript"}),
    ("ssm", "cancel_command", {"CommandId": COMMAND_ID}),
    ("ssm", "start_session", {"Target": "i-1"}),
    ("ssm", "terminate_session", {"SessionId": "s-1"}),
    ("ssm", "update_association", {"AssociationId": "a-1"}),
    ("cloudwatch", "put_metric_alarm",
     {"AlarmName": "cpu", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold"}),
    ("cloudwatch", "enable_alarm_actions", {"AlarmNames": ["cpu"]}),
    ("cloudwatch", "disable_alarm_actions", {"AlarmNames": ["cpu"]}),
    ("cloudwatch", "delete_alarms", {"AlarmNames": ["cpu"]}),
    ("sns", "publish", {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"}),
    ("sns", "subscribe", {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Protocol": "email"}),
    ("logs", "put_log_events", {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 0, "message": "m"}]}),
    ("backup", "start_backup_job", {"BackupVaultName": "v", "ResourceArn": "arn:aws:ec2:::i", "IamRoleArn": "r"}),
    ("synthetics", "start_canary", {"Name": "c"}),
    ("resource-groups", "create_group", {"Name": "g"}),
    ("sts", "assume_role", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "session"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), AUDIT_FAMILIES,
                         ids=[f"{s}:{o}" for s, o, _ in AUDIT_FAMILIES])
async def test_audit_families_are_refused_with_a_complete_read_only_error(
    read_only: AwsClients, service: str, operation: str, params: dict[str, Any]
) -> None:
    """The families named in the audit, with realistic parameters; the whole error is pinned because the UI
    shows it as is (message, where, what to do)."""
    name = "".join(part.capitalize() for part in operation.split("_"))
    signing = _signing_name(service)
    with pytest.raises(ReadOnlyError) as info:
        await read_only.call(service, REGION, operation, **params)
    err = info.value
    assert err.message == f"read-only mode: {signing}:{name} was not sent"
    assert (err.kind, err.service, err.region, err.operation, err.hint) == (
        "read-only", signing, REGION, name, HINT)
    assert str(err) == f"[{REGION}/{signing}] read-only mode: {signing}:{name} was not sent — {HINT}"
    assert read_only.calls[f"{signing}:{name}"] == 0


READS: list[tuple[str, str, dict[str, Any]]] = [
    ("sts", "get_caller_identity", {}),
    ("ec2", "describe_instances", {}),
    ("ssm", "describe_instance_information", {}),
    ("ssm", "list_commands", {}),
    ("ssm", "get_command_invocation", {"CommandId": COMMAND_ID, "InstanceId": "i-1"}),
    ("cloudwatch", "describe_alarms", {}),
    ("logs", "filter_log_events", {"logGroupName": "g"}),
    ("s3", "list_buckets", {}),
    ("backup", "list_backup_vaults", {}),
    ("synthetics", "describe_canaries", {}),
    ("resource-groups", "search_resources", {"ResourceQuery": {"Type": "TAG_FILTERS_1_0", "Query": "{}"}}),
    ("sns", "list_topics", {}),
]


@pytest.mark.parametrize(("service", "operation", "params"), READS, ids=[f"{s}:{o}" for s, o, _ in READS])
async def test_reads_pass_the_hook_and_fail_only_to_connect(
    read_only: AwsClients, service: str, operation: str, params: dict[str, Any]
) -> None:
    name = "".join(part.capitalize() for part in operation.split("_"))
    for sent in (1, 2):
        with pytest.raises(OpsError) as info:
            await read_only.call(service, REGION, operation, **params)
        err = info.value
        assert not isinstance(err, ReadOnlyError)
        assert (err.kind, err.service, err.region, err.operation) == ("unreachable", service, REGION, name)
        assert read_only.calls[f"{_signing_name(service)}:{name}"] == sent  # the hook counts each call once


async def test_without_read_only_mutating_operations_pass_the_hook(read_write: AwsClients) -> None:
    """The guard is off unless asked for: the same call is sent (and fails to connect) and is counted."""
    with pytest.raises(OpsError) as info:
        await read_write.call("ec2", REGION, "stop_instances", InstanceIds=["i-1"])
    assert not isinstance(info.value, ReadOnlyError) and info.value.kind == "unreachable"
    with pytest.raises(OpsError) as info:
        await read_write.call("cloudwatch", REGION, "set_alarm_state",
                              AlarmName="cpu", StateValue="OK", StateReason="test")
    assert not isinstance(info.value, ReadOnlyError) and info.value.kind == "unreachable"
    assert read_write.calls == {"ec2:StopInstances": 1, "monitoring:SetAlarmState": 1}


async def test_a_refused_operation_opens_no_connection() -> None:
    """Port 9 only shows that nothing answered; a listener that counts connections shows nothing left."""
    connections = 0

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    aws = _factory(read_only=True, endpoint_url=f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ReadOnlyError):
            await aws.call("ssm", REGION, "send_command", InstanceIds=["i-1"], DocumentName="AWS-RunShellScript")
        with pytest.raises(ReadOnlyError):
            await aws.call("s3", REGION, "put_object", Bucket="b", Key="k", Body=b"x")
        assert connections == 0
        with pytest.raises(OpsError):  # the listener hangs up: a read does leave, so the count means something
            await aws.call("sts", REGION, "get_caller_identity")
        assert connections == 1
    finally:
        await aws.close()
        server.close()
        await server.wait_closed()
