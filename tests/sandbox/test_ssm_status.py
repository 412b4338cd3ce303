"""GetConnectionStatus, DescribeInstancePatchStates, DescribeInstanceAssociationsStatus (moto answers all three
with HTTP 500): shapes from botocore's model, behaviour from the API reference (opstui.sandbox.ssm_status)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox.server import Sandbox

R1 = "ap-northeast-1"


def _id(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.name == name)


def test_get_connection_status_follows_start_session(default_sandbox: Sandbox, client: Callable[..., Any]) -> None:
    ssm = client("ssm", R1)
    answer = ssm.get_connection_status(Target=_id(default_sandbox, "prod-web-01"))
    assert (answer["Target"], answer["Status"]) == (_id(default_sandbox, "prod-web-01"), "connected")
    for name in ("prod-web-03", "stg-app-02"):  # the agent's ConnectionLost node, a stopped instance
        assert ssm.get_connection_status(Target=_id(default_sandbox, name))["Status"] == "notconnected"
    assert ssm.get_connection_status(Target="i-00000000000000000")["Status"] == "notconnected"
    assert ssm.get_connection_status(Target="mi-0123456789abcdef0")["Status"] == "connected"


def test_describe_instance_patch_states(default_sandbox: Sandbox, client: Callable[..., Any]) -> None:
    ssm = client("ssm", R1)
    ids = [_id(default_sandbox, n) for n in ("prod-web-01", "prod-win-ad-01", "onprem-backup-01", "stg-app-02")]
    states = ssm.describe_instance_patch_states(InstanceIds=ids + ["i-00000000000000000"])["InstancePatchStates"]
    assert [s["InstanceId"] for s in states] == ids  # an unknown id is left out, no error
    now = dt.datetime.now(dt.UTC)
    for s in states:
        assert s["Operation"] == "Scan" and s["BaselineId"].startswith(f"arn:aws:ssm:{R1}:")
        assert s["OperationStartTime"] < s["OperationEndTime"] < now
        assert s["MissingCount"] == s["CriticalNonCompliantCount"] + s["SecurityNonCompliantCount"] + s[
            "OtherNonCompliantCount"]
        assert s["PatchGroup"] == ""
    again = ssm.describe_instance_patch_states(InstanceIds=ids)["InstancePatchStates"]
    assert [s["InstalledCount"] for s in again] == [s["InstalledCount"] for s in states]  # stable
    many = [_id(default_sandbox, n.name) for n in default_sandbox.scenario_data.nodes if n.region == R1][:15]
    first = ssm.describe_instance_patch_states(InstanceIds=many)
    assert len(first["InstancePatchStates"]) == 10 and first["NextToken"]
    rest = ssm.describe_instance_patch_states(InstanceIds=many, NextToken=first["NextToken"])
    assert len(rest["InstancePatchStates"]) == len(many) - 10 and "NextToken" not in rest
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_patch_states(InstanceIds=many, NextToken="bm9wZQ==")
    assert err.value.response["Error"]["Code"] == "InvalidNextToken"
    loose = client("ssm", R1, parameter_validation=False)
    with pytest.raises(ClientError) as err:
        loose.describe_instance_patch_states(InstanceIds=many, MaxResults=101)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_describe_instance_associations_status(default_sandbox: Sandbox, client: Callable[..., Any]) -> None:
    ssm = client("ssm", R1)
    web = _id(default_sandbox, "prod-web-01")
    infos = ssm.describe_instance_associations_status(InstanceId=web)["InstanceAssociationStatusInfos"]
    assoc = ssm.list_associations()["Associations"][0]
    assert [(i["AssociationId"], i["Name"], i["InstanceId"], i["Status"]) for i in infos] == [
        (assoc["AssociationId"], "AWS-GatherSoftwareInventory", web, "Success")]
    assert infos[0]["ExecutionSummary"].startswith("1 out of 1 plugin processed, 1 success, 0 failed")
    assert infos[0]["AssociationName"] == assoc["AssociationName"]
    failed = _id(default_sandbox, "ステージング-バッチ")  # the scenario's node whose association failed
    status = ssm.describe_instance_associations_status(InstanceId=failed)["InstanceAssociationStatusInfos"]
    assert status[0]["Status"] == "Failed"
    with pytest.raises(ClientError) as err:
        ssm.describe_instance_associations_status(InstanceId="i-00000000000000000")
    assert err.value.response["Error"]["Code"] == "InvalidInstanceId"
