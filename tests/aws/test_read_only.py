"""--read-only: every mutating call is refused in one place, before any request leaves the process."""

import boto3
import pytest

from opstui.aws.clients import AwsClients, is_read_operation
from opstui.aws.errors import ReadOnlyError
from opstui.aws.fleet import load_fleet

R1 = "ap-northeast-1"


def test_only_reads_are_reads():
    for op in ("DescribeInstances", "ListCommands", "GetCommandInvocation", "BatchGetItem"):
        assert is_read_operation(op)
    for op in ("StopInstances", "SendCommand", "StartSession", "TerminateSession", "PutMetricAlarm",
               "CreateTags", "DeleteInventory", "UpdateAssociation", "StartBackupJob", "CancelCommand"):
        assert not is_read_operation(op)


async def test_mutating_calls_are_refused_and_nothing_changes(sandbox):
    boto = boto3.client("ec2", region_name=R1, endpoint_url=sandbox.endpoint,
                        **sandbox.boto_kwargs())
    running = [
        i["InstanceId"]
        for r in boto.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
        for i in r["Instances"]
    ]
    target = running[0]
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True)
    try:
        with pytest.raises(ReadOnlyError) as info:
            await aws.call("ec2", R1, "stop_instances", InstanceIds=[target])
        assert "read-only" in str(info.value) and "StopInstances" in str(info.value)
        with pytest.raises(ReadOnlyError):
            await aws.call("ssm", R1, "send_command", InstanceIds=[target], DocumentName="AWS-RunShellScript",
                           Parameters={"commands": ["true"]})
        with pytest.raises(ReadOnlyError):
            await aws.call("ssm", R1, "start_session", Target=target)
        assert aws.calls["ec2:StopInstances"] == 0 and aws.calls["ssm:SendCommand"] == 0
        # reads still work in read-only mode
        snap = await load_fleet(aws, [R1])
        assert snap.nodes and not snap.errors
    finally:
        await aws.close()
    state = boto.describe_instances(InstanceIds=[target])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"
