"""Sandbox State Manager: schedules (the 30-minute minimum), associations running on the accelerated sandbox
clock through the Run Command executor, executions, node association status; the clock endpoint; the gather's
parameters and failures; hostile inventory strings."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import clock
from opstui.sandbox.server import Sandbox
from tests.sandbox_control import SandboxControl

R1 = "ap-northeast-1"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _node(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.tags.get("Name") == name)


def _wait(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ssm(client: Callable[..., Any]) -> Any:
    return client("ssm", R1)


@pytest.fixture
def control(default_sandbox: Sandbox) -> Iterator[SandboxControl]:
    ctl = SandboxControl.of(default_sandbox)
    yield ctl
    clock.set_speed(1)


@pytest.mark.parametrize("expression", ["rate(10 minutes)", "rate(29 minutes)", "rate(1 minutes)", "rate(2 hour)",
                                        "rate(31 days)", "rate(0 minutes)", "cron(0/15 * * * ? *)",
                                        "cron(0 2 * * SUN *)", "cron(0 2 ? * FUNDAY *)", "at(2025-01-01T00:00:00)",
                                        "every 30 minutes"])
def test_invalid_schedules_are_refused(ssm, expression):
    with pytest.raises(ClientError) as exc:
        ssm.create_association(Name="AWS-GatherSoftwareInventory", ScheduleExpression=expression,
                               Targets=[{"Key": "InstanceIds", "Values": ["*"]}])
    assert _code(exc) == "InvalidSchedule"


def test_association_validation_errors(ssm):
    cases = [
        ({"Name": "No-Such-Document", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}]}, "InvalidDocument"),
        ({"Name": "AWS-GatherSoftwareInventory", "Targets": [{"Key": "Colour", "Values": ["red"]}]}, "InvalidTarget"),
        ({"Name": "AWS-GatherSoftwareInventory"}, "InvalidTarget"),
        ({"Name": "AWS-GatherSoftwareInventory", "InstanceId": "i-0123456789abcdef9"}, "InvalidInstanceId"),
        ({"Name": "AWS-GatherSoftwareInventory", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
          "Parameters": {"applications": ["Sometimes"]}}, "InvalidParameters"),
        ({"Name": "AWS-GatherSoftwareInventory", "Targets": [{"Key": "InstanceIds", "Values": ["*"]}],
          "AssociationName": "no spaces allowed"}, "ValidationException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            ssm.create_association(**kwargs)
        assert _code(exc) == code, kwargs
    with pytest.raises(ClientError) as exc:
        ssm.describe_association(AssociationId="00000000-0000-0000-0000-000000000000")
    assert _code(exc) == "AssociationDoesNotExist"


def test_clock_endpoint(control):
    before = control.clock()
    assert before["speed"] == 1
    after = control.clock(advance=3600)
    assert after["now"] > before["now"]
    assert control.clock(speed=600)["speed"] == 600
    t0 = clock.now()
    time.sleep(0.05)
    assert (clock.now() - t0).total_seconds() >= 25  # 0.05 s real at 600x
    assert control.clock(speed=1)["speed"] == 1


def test_association_runs_on_schedule_with_accelerated_clock(default_sandbox, ssm, control):
    web = [_node(default_sandbox, n) for n in ("prod-web-02", "stg-web-01")]
    before = {iid: ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Network")["CaptureTime"] for iid in web}
    created = ssm.create_association(Name="AWS-GatherSoftwareInventory", AssociationName="web-inventory",
                                     ScheduleExpression="rate(30 minutes)",
                                     Targets=[{"Key": "tag:Role", "Values": ["web"]}])["AssociationDescription"]
    aid = created["AssociationId"]
    assert created["AssociationVersion"] == "1" and created["Overview"]["Status"] == "Pending"

    def executions() -> list[dict[str, Any]]:
        return ssm.describe_association_executions(AssociationId=aid)["AssociationExecutions"]

    # runs at once when created
    first = _wait(lambda: [e for e in executions() if e["Status"] in ("Success", "Failed")])
    assert len(executions()) == 1
    run = first[0]
    assert run["Status"] == "Success", run
    # prod-web-03 is ConnectionLost: Pending, not sent to
    assert run["ResourceCountByStatus"] == "{Pending=1,Success=3}"
    targets = ssm.describe_association_execution_targets(AssociationId=aid, ExecutionId=run["ExecutionId"])
    rows = {t["ResourceId"]: t for t in targets["AssociationExecutionTargets"]}
    assert rows[_node(default_sandbox, "prod-web-03")]["Status"] == "Pending"
    ran = rows[web[0]]
    assert ran["Status"] == "Success" and ran["OutputSource"]["OutputSourceType"] == "RunCommand"
    # association runs are not listed as commands
    listed = {c["CommandId"] for c in ssm.list_commands()["Commands"]}
    assert ran["OutputSource"]["OutputSourceId"] not in listed
    # the gather refreshed the nodes' inventory and their association status
    for iid in web:
        assert ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Network")["CaptureTime"] >= before[iid]
    info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": web}])
    for row in info["InstanceInformationList"]:
        assert row["AssociationStatus"] == "Success"
        assert abs((row["LastAssociationExecutionDate"] - row["LastSuccessfulAssociationExecutionDate"])
                   .total_seconds()) < 1
    described = ssm.describe_association(AssociationId=aid)["AssociationDescription"]
    assert described["Overview"]["Status"] == "Success" and described["LastSuccessfulExecutionDate"]
    # 30 minutes of sandbox time at 600x: about 3 s real
    control.clock(speed=600)
    _wait(lambda: len([e for e in executions() if e["Status"] == "Success"]) >= 2, timeout=30)
    control.clock(speed=1)
    second = executions()[0]
    assert second["CreatedTime"] > run["CreatedTime"]
    # update: new version, runs again; stale versions refused; old version still describable
    updated = ssm.update_association(AssociationId=aid, ScheduleExpression="rate(1 hour)", AssociationVersion="1")
    assert updated["AssociationDescription"]["AssociationVersion"] == "2"
    with pytest.raises(ClientError) as exc:
        ssm.update_association(AssociationId=aid, ScheduleExpression="rate(2 hours)", AssociationVersion="1")
    assert _code(exc) == "InvalidAssociationVersion"
    v1 = ssm.describe_association(AssociationId=aid, AssociationVersion="1")["AssociationDescription"]
    assert v1["ScheduleExpression"] == "rate(30 minutes)"
    with pytest.raises(ClientError) as exc:
        ssm.update_association(AssociationId=aid, ScheduleExpression="rate(5 minutes)")
    assert _code(exc) == "InvalidSchedule"
    # list filters
    by_name = ssm.list_associations(AssociationFilterList=[{"key": "AssociationName", "value": "web-inventory"}])
    assert [a["AssociationId"] for a in by_name["Associations"]] == [aid]
    by_node = ssm.list_associations(AssociationFilterList=[{"key": "InstanceId", "value": web[0]}])
    assert aid in {a["AssociationId"] for a in by_node["Associations"]}
    ok = ssm.list_associations(AssociationFilterList=[{"key": "AssociationStatusName", "value": "Success"}])
    assert aid in {a["AssociationId"] for a in ok["Associations"]}
    paged = ssm.list_associations(MaxResults=1)
    assert len(paged["Associations"]) == 1 and paged["NextToken"]
    ssm.delete_association(AssociationId=aid)
    with pytest.raises(ClientError) as exc:
        ssm.describe_association(AssociationId=aid)
    assert _code(exc) == "AssociationDoesNotExist"


def test_cron_association_with_apply_only_at_cron_interval_waits(ssm):
    created = ssm.create_association(Name="AWS-GatherSoftwareInventory", ScheduleExpression="cron(0 2 ? * SUN *)",
                                     ApplyOnlyAtCronInterval=True,
                                     Targets=[{"Key": "tag:Role", "Values": ["db"]}])["AssociationDescription"]
    time.sleep(0.3)
    assert ssm.describe_association_executions(AssociationId=created["AssociationId"])["AssociationExecutions"] == []
    ssm.delete_association(AssociationId=created["AssociationId"])


def test_send_command_gather_honours_parameters_and_fails_on_broken_node(default_sandbox, ssm):
    iid = _node(default_sandbox, "stg-app-01")
    app_before = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application")["CaptureTime"]
    cmd = ssm.send_command(DocumentName="AWS-GatherSoftwareInventory", InstanceIds=[iid],
                           Parameters={"applications": ["Disabled"]})["Command"]["CommandId"]
    _wait(lambda: ssm.list_commands(CommandId=cmd)["Commands"][0]["Status"] == "Success")
    net = ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Network")["CaptureTime"]
    assert net > app_before
    assert ssm.list_inventory_entries(InstanceId=iid, TypeName="AWS:Application")["CaptureTime"] == app_before
    broken = _node(default_sandbox, "stg-batch-02")
    cmd = ssm.send_command(DocumentName="AWS-GatherSoftwareInventory", InstanceIds=[broken])["Command"]["CommandId"]
    _wait(lambda: ssm.list_commands(CommandId=cmd)["Commands"][0]["Status"] == "Failed")
    out = ssm.get_command_invocation(CommandId=cmd, InstanceId=broken)
    assert "failed to collect AWS:Application" in out["StandardErrorContent"]
