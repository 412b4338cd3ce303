"""Run Command in the sandbox: real execution, statuses, limits, output paths, targets (boto3 -> HTTP -> sandbox)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import node_state
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"
SHELL = "AWS-RunShellScript"


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(nodes=80, live=False, seed=42, state_dir=tmp_path_factory.mktemp("rc"))
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Callable[..., Any]:
    return make_client_factory(sb)


@pytest.fixture(scope="module")
def ssm(client: Callable[..., Any]) -> Any:
    return client("ssm")


@pytest.fixture(scope="module")
def control(sb: Sandbox) -> SandboxControl:
    ctl = SandboxControl.of(sb)
    ctl.run_command_configure(delivery_delay=0.02, delivery_timeout_scale=0.01, simulated_step_seconds=0.02)
    return ctl


def _nodes(sb: Sandbox, *, region: str = REGION, distro: str | None = None, **want: Any) -> list[str]:
    assert sb.scenario_data is not None
    out = []
    for n in sb.scenario_data.nodes:
        if n.region != region:
            continue
        if distro == "linux" and n.distro == "win2022" or distro == "windows" and n.distro != "win2022":
            continue
        if any(getattr(n, k) != v for k, v in want.items()):
            continue
        out.append(n.instance_id)
    return out


def _online_linux(sb: Sandbox) -> list[str]:
    return [i for i in _nodes(sb, distro="linux", ec2_state="running", ping_status="Online")]


def _by_name(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.name == name)


def _wait(ssm: Any, command_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        cmd = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if cmd["Status"] not in ("Pending", "InProgress", "Cancelling"):
            return cmd
        assert time.monotonic() < deadline, f"command still {cmd['Status']}"
        time.sleep(0.05)


def _invocations(ssm: Any, command_id: str, details: bool = False) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id, Details=details):
        rows.extend(page["CommandInvocations"])
    return rows


def _send(ssm: Any, commands: list[str], **kw: Any) -> str:
    return ssm.send_command(DocumentName=kw.pop("DocumentName", SHELL), Parameters=kw.pop("Parameters", {
        "commands": commands}), **kw)["Command"]["CommandId"]


def test_fan_out_runs_real_commands_within_max_concurrency(sb: Sandbox, ssm: Any, control: SandboxControl) -> None:
    ids = _online_linux(sb)[:50]
    assert len(ids) == 50
    cid = _send(ssm, ["echo node=$AWS_SSM_INSTANCE_ID region=$AWS_SSM_REGION_NAME", "pwd", "sleep 0.2"],
                Targets=[{"Key": "InstanceIds", "Values": ids}], MaxConcurrency="10")
    cmd = _wait(ssm, cid)
    assert (cmd["Status"], cmd["StatusDetails"], cmd["TargetCount"], cmd["CompletedCount"]) == (
        "Success", "Success", 50, 50)
    invs = _invocations(ssm, cid)
    assert {i["InstanceId"] for i in invs} == set(ids)
    outputs = {}
    for iid in ids:
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
        assert (inv["Status"], inv["ResponseCode"]) == ("Success", 0)
        out = inv["StandardOutputContent"]
        assert out.startswith(f"node={iid} region={REGION}\n")
        assert out.rstrip().endswith(f"/nodes/{iid}/home")  # the shells' per-node home
        outputs[iid] = out
    assert len(set(outputs.values())) == 50
    peak = control.run_command_stats()["peak_concurrency"][cid]
    assert 2 <= peak <= 10


def test_max_errors_stops_sending(sb: Sandbox, ssm: Any) -> None:
    ids = _online_linux(sb)[:8]
    cid = _send(ssm, ["exit 3"], InstanceIds=ids, MaxConcurrency="1", MaxErrors="1")
    cmd = _wait(ssm, cid)
    assert (cmd["Status"], cmd["StatusDetails"], cmd["ErrorCount"], cmd["CompletedCount"]) == ("Failed", "Failed", 2, 8)
    by_status = Counter((i["Status"], i["StatusDetails"]) for i in _invocations(ssm, cid))
    assert by_status == {("Failed", "Failed"): 2, ("Cancelled", "Terminated"): 6}
    first = ssm.get_command_invocation(CommandId=cid, InstanceId=ids[0])
    assert first["ResponseCode"] == 3
    assert first["StandardErrorContent"] == "failed to run commands: exit status 3"


def test_max_errors_percentage_and_incomplete(sb: Sandbox, ssm: Any) -> None:
    ids = _online_linux(sb)[:10]
    # node 0 fails, the rest succeed; 10% of 10 allows one error: the run completes, as Incomplete
    script = f'if [ "$AWS_SSM_INSTANCE_ID" = "{ids[0]}" ]; then exit 1; fi; echo ok'
    cmd = _wait(ssm, _send(ssm, [script], InstanceIds=ids, MaxErrors="10%"))
    assert (cmd["Status"], cmd["StatusDetails"], cmd["ErrorCount"], cmd["CompletedCount"]) == (
        "Failed", "Incomplete", 1, 10)


def test_truncation_and_full_output_in_s3(sb: Sandbox, ssm: Any, client: Callable[..., Any]) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="rc-out", CreateBucketConfiguration={"LocationConstraint": REGION})
    iid = _online_linux(sb)[0]
    script = "head -c 30000 /dev/zero | tr '\\0' a; echo; head -c 10000 /dev/zero | tr '\\0' b >&2"
    cid = _send(ssm, [script], InstanceIds=[iid], OutputS3BucketName="rc-out", OutputS3KeyPrefix="runs")
    assert _wait(ssm, cid)["Status"] == "Success"
    inv = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
    assert inv["StandardOutputContent"] == "a" * 24_000
    assert inv["StandardErrorContent"] == "b" * 8_000
    key = f"runs/{cid}/{iid}/awsrunShellScript/0.awsrunShellScript/stdout"
    assert inv["StandardOutputUrl"] == f"https://s3.{REGION}.amazonaws.com/rc-out/{key}"
    full = s3.get_object(Bucket="rc-out", Key=key)["Body"].read()
    assert full == b"a" * 30_000 + b"\n"
    err = s3.get_object(Bucket="rc-out", Key=key.replace("/stdout", "/stderr"))["Body"].read()
    assert err == b"b" * 10_000
    plugin = _invocations(ssm, cid, details=True)[0]["CommandPlugins"][0]
    assert plugin["Name"] == "aws:runShellScript"
    assert len(plugin["Output"]) <= 2_500
    assert "---Output truncated---" in plugin["Output"] and "----------ERROR-------" in plugin["Output"]
    assert plugin["OutputS3KeyPrefix"] == key.rsplit("/", 1)[0]


def test_output_streams_to_cloudwatch_logs_while_running(sb: Sandbox, ssm: Any, client: Callable[..., Any]) -> None:
    logs = client("logs")
    iid = _online_linux(sb)[1]
    cid = _send(ssm, ["for i in 1 2 3; do echo $i; sleep 0.5; done", "echo oops >&2"], InstanceIds=[iid],
                CloudWatchOutputConfig={"CloudWatchOutputEnabled": True})
    group = f"/aws/ssm/{SHELL}"
    seen_first_while_running = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group, logStreamNamePrefix=f"{cid}/")["events"]
        except ClientError:
            events = []
        if any(e["message"].startswith("1") for e in events):
            status = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["Status"]
            seen_first_while_running = status == "InProgress"
            break
        time.sleep(0.05)
    assert seen_first_while_running
    assert _wait(ssm, cid)["Status"] == "Success"
    events = logs.filter_log_events(logGroupName=group, logStreamNamePrefix=f"{cid}/")["events"]
    streams = {e["logStreamName"] for e in events}
    assert streams == {f"{cid}/{iid}/aws-runShellScript/stdout", f"{cid}/{iid}/aws-runShellScript/stderr"}
    stdout = "".join(e["message"] for e in events if e["logStreamName"].endswith("/stdout"))
    assert stdout == "1\n2\n3\n"
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert len({e["eventId"] for e in events}) == len(events)


def test_filter_log_events_prefix_paging_and_many_streams(sb: Sandbox, ssm: Any, client: Callable[..., Any]) -> None:
    logs = client("logs")
    ids = _online_linux(sb)[:40]
    cid = _send(ssm, ["echo a", "echo b", "sleep 0.3", "echo c"], InstanceIds=ids,
                CloudWatchOutputConfig={"CloudWatchOutputEnabled": True, "CloudWatchLogGroupName": "rc-paging"})
    _wait(ssm, cid)
    other = _send(ssm, ["echo other"], InstanceIds=ids[:1],
                  CloudWatchOutputConfig={"CloudWatchOutputEnabled": True, "CloudWatchLogGroupName": "rc-paging"})
    _wait(ssm, other)
    everything = logs.filter_log_events(logGroupName="rc-paging", logStreamNamePrefix=f"{cid}/")["events"]
    assert all(e["logStreamName"].startswith(f"{cid}/") for e in everything)
    paged: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName="rc-paging", logStreamNamePrefix=f"{cid}/", PaginationConfig={"PageSize": 7}):
        paged.extend(page["events"])
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in everything]
    assert "".join(e["message"] for e in paged if e["logStreamName"] == f"{cid}/{ids[0]}/aws-runShellScript/stdout") \
        == "a\nb\nc\n"
    later = logs.filter_log_events(logGroupName="rc-paging", logStreamNamePrefix=f"{cid}/",
                                   startTime=everything[-1]["timestamp"])["events"]
    assert later and all(e["timestamp"] >= everything[-1]["timestamp"] for e in later)
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName="rc-paging", logStreamNamePrefix="x", logStreamNames=["y"])
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_cancel_kills_running_and_pending_never_start(sb: Sandbox, ssm: Any, control: SandboxControl) -> None:
    ids = _online_linux(sb)[:3]
    cid = _send(ssm, ["echo started", "sleep 30"], InstanceIds=ids, MaxConcurrency="1")
    deadline = time.monotonic() + 5
    while ssm.get_command_invocation(CommandId=cid, InstanceId=ids[0])["Status"] != "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ssm.cancel_command(CommandId=cid)
    cmd = _wait(ssm, cid, timeout=5)
    assert (cmd["Status"], cmd["StatusDetails"]) == ("Cancelled", "Cancelled")
    first = ssm.get_command_invocation(CommandId=cid, InstanceId=ids[0])
    assert (first["Status"], first["StatusDetails"], first["ResponseCode"]) == ("Cancelled", "Cancelled", 137)
    for iid in ids[1:]:
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
        assert (inv["Status"], inv["ResponseCode"], inv["ExecutionStartDateTime"]) == ("Cancelled", -1, "")
    assert control.run_command_stats()["running_processes"] == 0
    with pytest.raises(ClientError) as err:
        ssm.cancel_command(CommandId="00000000-0000-0000-0000-000000000000")
    assert err.value.response["Error"]["Code"] == "InvalidCommandId"


def test_execution_timeout_kills_the_process_group(sb: Sandbox, ssm: Any) -> None:
    iid = _online_linux(sb)[2]
    began = time.monotonic()
    cid = _send(ssm, [], Parameters={"commands": ["sleep 20 & sleep 20; echo never"], "executionTimeout": ["1"]},
                InstanceIds=[iid])
    cmd = _wait(ssm, cid)
    assert time.monotonic() - began < 20  # killed at the 1 s timeout, not after the 20 s sleeps
    assert (cmd["Status"], cmd["StatusDetails"], cmd["ErrorCount"]) == ("TimedOut", "ExecutionTimedOut", 1)
    inv = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)
    assert (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("TimedOut", "ExecutionTimedOut", 137)
    assert "never" not in inv["StandardOutputContent"]


def test_unreachable_nodes_delivery_timeout_and_undeliverable(sb: Sandbox, ssm: Any, control: SandboxControl) -> None:
    lost = _by_name(sb, "prod-web-03")  # running, agent ConnectionLost
    stopped = _by_name(sb, "stg-app-02")  # instance stopped
    online = _online_linux(sb)[3]
    cid = _send(ssm, ["echo hi"], InstanceIds=[lost, stopped, online], TimeoutSeconds=30)
    seen_delayed = False
    deadline = time.monotonic() + 10
    while True:
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=lost)
        seen_delayed |= inv["Status"] == "Delayed"
        if inv["Status"] not in ("Pending", "Delayed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert seen_delayed
    cmd = _wait(ssm, cid)
    assert (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("TimedOut", "DeliveryTimedOut", -1)
    dead = ssm.get_command_invocation(CommandId=cid, InstanceId=stopped)
    assert (dead["Status"], dead["StatusDetails"], dead["ResponseCode"]) == ("Failed", "Undeliverable", -1)
    assert (cmd["DeliveryTimedOutCount"], cmd["ErrorCount"], cmd["CompletedCount"]) == (1, 0, 3)
    assert (cmd["Status"], cmd["StatusDetails"]) == ("TimedOut", "DeliveryTimedOut")


def test_target_set_that_resolves_to_nothing_is_no_instances_in_tag(ssm: Any) -> None:
    resp = ssm.send_command(DocumentName=SHELL, Parameters={"commands": ["echo"]},
                            Targets=[{"Key": "tag:Env", "Values": ["no-such-env"]}])["Command"]
    assert (resp["Status"], resp["TargetCount"]) == ("Pending", 0)
    cmd = _wait(ssm, resp["CommandId"])
    # monitor-commands.html: "No Instances In Tag ... This is a terminal state" (Status Success on the wire)
    assert (cmd["Status"], cmd["StatusDetails"], cmd["TargetCount"], cmd["CompletedCount"]) == (
        "Success", "NoInstancesInTag", 0, 0)
    assert _invocations(ssm, resp["CommandId"]) == []


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"InstanceIds": ["i-0000000000000dead"]}, "InvalidInstanceId"),
    ({"DocumentName": "No-Such-Document"}, "InvalidDocument"),
    ({"Parameters": {"commands": []}}, "InvalidParameters"),
    ({"Parameters": {}}, "InvalidParameters"),
    ({"Parameters": {"commands": ["x"], "bogus": ["1"]}}, "InvalidParameters"),
    ({"Parameters": {"commands": ["x"], "executionTimeout": ["soon"]}}, "InvalidParameters"),
    ({"InstanceIds": []}, "ValidationException"),
])
def test_bad_input_is_refused_like_aws(sb: Sandbox, ssm: Any, kwargs: dict[str, Any], code: str) -> None:
    params: dict[str, Any] = {"DocumentName": SHELL, "Parameters": {"commands": ["echo"]},
                              "InstanceIds": _online_linux(sb)[:1]}
    params.update(kwargs)
    if not params["InstanceIds"]:
        del params["InstanceIds"]
    with pytest.raises(ClientError) as err:
        ssm.send_command(**params)
    assert err.value.response["Error"]["Code"] == code
    if code == "InvalidInstanceId":
        assert "i-0000000000000dead" in err.value.response["Error"]["Message"]


def test_windows_nodes(sb: Sandbox, ssm: Any) -> None:
    win = _by_name(sb, "prod-win-ad-01")
    with pytest.raises(ClientError) as err:
        ssm.send_command(DocumentName=SHELL, Parameters={"commands": ["uname"]}, InstanceIds=[win])
    assert err.value.response["Error"]["Code"] == "UnsupportedPlatformType"
    # by tag the service cannot refuse up front: the node is Invalid Platform, never delivered
    cid = _send(ssm, ["uname"], Targets=[{"Key": "tag:Name", "Values": ["prod-win-ad-01"]}])
    cmd = _wait(ssm, cid)
    inv = ssm.get_command_invocation(CommandId=cid, InstanceId=win)
    assert (inv["Status"], inv["StatusDetails"], inv["ResponseCode"]) == ("Failed", "InvalidPlatform", -1)
    assert inv["StandardErrorContent"] == "" and inv["ExecutionStartDateTime"] == ""
    # "if all invocations in a command have the status Invalid Platform, then the command status returned is Failed"
    assert (cmd["Status"], cmd["ErrorCount"], cmd["CompletedCount"]) == ("Failed", 0, 1)
    cid = _send(ssm, [], DocumentName="AWS-RunPowerShellScript", InstanceIds=[win], Parameters={
        "commands": ['Write-Output "hello from $env:COMPUTERNAME"', "hostname"]})
    assert _wait(ssm, cid)["Status"] == "Success"
    out = ssm.get_command_invocation(CommandId=cid, InstanceId=win)["StandardOutputContent"]
    assert out.startswith("hello from EC2AMAZ-") and out.count("EC2AMAZ-") == 2
    cid = _send(ssm, [], DocumentName="AWS-RunPowerShellScript", InstanceIds=[win], Parameters={
        "commands": ["Get-Frobnicator", "echo after"]})
    _wait(ssm, cid)
    inv = ssm.get_command_invocation(CommandId=cid, InstanceId=win)
    assert (inv["Status"], inv["ResponseCode"]) == ("Failed", 1)
    assert "The term 'Get-Frobnicator' is not recognized" in inv["StandardErrorContent"]
    assert "after" in inv["StandardOutputContent"]


def _computer_names(ssm: Any, ids: list[str]) -> dict[str, str]:
    rows = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": ids}], MaxResults=50)
    return {r["InstanceId"]: r["ComputerName"] for r in rows["InstanceInformationList"]}


def test_hostname_fans_out_to_one_answer_per_node(sb: Sandbox, ssm: Any) -> None:
    names = ["prod-web-01", "prod-app-01", "本番-決済API-01", "stg-web-01"]
    ids = [_by_name(sb, n) for n in names]
    cid = _send(ssm, ["hostname", "uname -n", "echo $HOSTNAME", "hostname -s"], InstanceIds=ids)
    assert _wait(ssm, cid)["Status"] == "Success"
    computers = _computer_names(ssm, ids)
    outputs = {}
    for iid in ids:
        out = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["StandardOutputContent"]
        name = computers[iid]
        assert name.startswith("ip-") and name.endswith(f".{REGION}.compute.internal")
        assert out == f"{name}\n{name}\n{name}\n{name.split('.')[0]}\n"
        outputs[iid] = out
    assert len(set(outputs.values())) == len(ids)  # a fan-out of hostname gives one group per node


@pytest.mark.skipif(__import__("shutil").which("pwsh") is not None, reason="pwsh installed: real PowerShell runs")
def test_windows_shim_answers_the_first_cmdlets(sb: Sandbox, ssm: Any) -> None:
    win = _by_name(sb, "prod-win-ad-01")
    computer = _computer_names(ssm, [win])[win]
    cid = _send(ssm, [], DocumentName="AWS-RunPowerShellScript", InstanceIds=[win], Parameters={"commands": [
        "hostname; whoami", "Get-Service -Name AmazonSSMAgent", "$PSVersionTable.PSVersion", "Get-Date",
        "Get-ChildItem"]})
    assert _wait(ssm, cid)["Status"] == "Success"
    out = ssm.get_command_invocation(CommandId=cid, InstanceId=win)["StandardOutputContent"]
    assert out.startswith(f"{computer}\r\nnt authority\\system\r\n")
    assert "Running  AmazonSSMAgent     Amazon SSM Agent\r\n" in out
    assert "Major  Minor  Build  Revision\r\n-----  -----  -----  --------\r\n5      1      20348" in out
    assert f", {time.gmtime().tm_year} " in out
    assert "    Directory: C:\\ProgramData\\Amazon\\SSM\\InstanceData\\" in out and " _script.ps1\r\n" in out


def test_a_windows_node_in_a_linux_fan_out_is_invalid_platform_and_not_an_error(sb: Sandbox, ssm: Any) -> None:
    names = ["prod-app-01", "本番-決済API-01", "prod-win-ad-01"]
    cid = _send(ssm, ["echo ok"], Targets=[{"Key": "tag:Name", "Values": names}], MaxErrors="0",
                MaxConcurrency="1")
    cmd = _wait(ssm, cid)
    rows = {i["InstanceId"]: i for i in _invocations(ssm, cid)}
    win = rows.pop(_by_name(sb, "prod-win-ad-01"))
    assert (win["Status"], win["StatusDetails"]) == ("Failed", "InvalidPlatform")
    # Invalid Platform doesn't count against max-errors: the healthy nodes run, nothing is Terminated
    assert {(i["Status"], i["StatusDetails"]) for i in rows.values()} == {("Success", "Success")}
    assert (cmd["Status"], cmd["StatusDetails"], cmd["ErrorCount"], cmd["CompletedCount"], cmd["TargetCount"]) == (
        "Success", "Success", 0, 3, 3)


def test_resource_group_targets_and_list_group_resources(sb: Sandbox, ssm: Any, client: Callable[..., Any]) -> None:
    rg = client("resource-groups")
    query = {"ResourceTypeFilters": ["AWS::AllSupported"], "TagFilters": [{"Key": "Role", "Values": ["db"]}]}
    rg.create_group(Name="dbs", ResourceQuery={"Type": "TAG_FILTERS_1_0", "Query": json.dumps(query)})
    arns: list[str] = []
    for page in rg.get_paginator("list_group_resources").paginate(Group="dbs", PaginationConfig={"PageSize": 3}):
        arns.extend(r["Identifier"]["ResourceArn"] for r in page["Resources"])
    assert sb.scenario_data is not None
    dbs = {n.instance_id for n in sb.scenario_data.nodes if n.region == REGION and n.tags.get("Role") == "db"}
    assert {a.rsplit("/", 1)[-1] for a in arns} == dbs
    with pytest.raises(ClientError) as err:
        rg.list_group_resources(Group="nope")
    assert err.value.response["Error"]["Code"] == "NotFoundException"
    cid = _send(ssm, ["hostname"], Targets=[{"Key": "resource-groups:Name", "Values": ["dbs"]},
                                            {"Key": "resource-groups:ResourceTypeFilters",
                                             "Values": ["AWS::EC2::Instance"]}], TimeoutSeconds=30)
    # the group has a Windows node (InvalidPlatform, not an error) and a ConnectionLost one, which now waits
    # for its delivery timeout instead of being Terminated by that Windows node's "failure"
    cmd = _wait(ssm, cid)
    ec2_dbs = {i for i in dbs if not i.startswith("mi-")}
    assert cmd["TargetCount"] == len(ec2_dbs)
    assert {i["InstanceId"] for i in _invocations(ssm, cid)} == ec2_dbs


def test_list_commands_filters_and_pagination(sb: Sandbox, ssm: Any) -> None:
    iid = _online_linux(sb)[4]
    since = time.time()
    ids = [_send(ssm, [f"echo {n}"], InstanceIds=[iid], Comment=f"page-{n}") for n in range(5)]
    for cid in ids:
        _wait(ssm, cid)
    pages = list(ssm.get_paginator("list_commands").paginate(
        InstanceId=iid, Filters=[{"key": "InvokedAfter", "value": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                  time.gmtime(since - 1))}],
        PaginationConfig={"PageSize": 2}))
    listed = [c["CommandId"] for p in pages for c in p["Commands"]]
    assert listed[:5] == list(reversed(ids))  # newest first
    assert len(pages[0]["Commands"]) == 2
    ok = ssm.list_commands(Filters=[{"key": "Status", "value": "Success"},
                                    {"key": "DocumentName", "value": SHELL}])["Commands"]
    assert set(ids) <= {c["CommandId"] for c in ok}
    assert all(c["Status"] == "Success" for c in ok)
    done = ssm.list_commands(Filters=[{"key": "ExecutionStage", "value": "Executing"}])["Commands"]
    assert not set(ids) & {c["CommandId"] for c in done}
    with pytest.raises(ClientError) as err:
        ssm.list_commands(Filters=[{"key": "Bogus", "value": "x"}])
    assert err.value.response["Error"]["Code"] == "InvalidFilterKey"
    with pytest.raises(ClientError) as err:
        ssm.list_commands(CommandId="00000000-0000-0000-0000-000000000000")
    assert err.value.response["Error"]["Code"] == "InvalidCommandId"
    with pytest.raises(ClientError) as err:
        ssm.get_command_invocation(CommandId=ids[0], InstanceId="i-0000000000000dead")
    assert err.value.response["Error"]["Code"] == "InvocationDoesNotExist"


def test_simulated_plugins_record_node_state(sb: Sandbox, ssm: Any) -> None:
    # a node without the agent (the default scenario's prod web and app nodes start with it)
    iid = next(i for i in _online_linux(sb)[5:] if node_state.cw_agent_status(REGION, i) == "not-installed")
    manage = {"action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["default"],
              "optionalRestart": ["yes"]}
    cid = _send(ssm, [], DocumentName="AmazonCloudWatch-ManageAgent", InstanceIds=[iid], Parameters=manage)
    assert _wait(ssm, cid)["Status"] == "Failed"  # the agent is not installed yet
    assert node_state.cw_agent_status(REGION, iid) == "not-installed"
    cid = _send(ssm, [], DocumentName="AWS-ConfigureAWSPackage", InstanceIds=[iid],
                Parameters={"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})
    assert _wait(ssm, cid)["Status"] == "Success"
    assert node_state.installed_packages(REGION, iid) == {"AmazonCloudWatchAgent": "1.300057.1"}
    cid = _send(ssm, [], DocumentName="AmazonCloudWatch-ManageAgent", InstanceIds=[iid], Parameters=manage)
    assert _wait(ssm, cid)["Status"] == "Success"
    assert node_state.cw_agent_running(REGION, iid)
    plugins = _invocations(ssm, cid, details=True)[0]["CommandPlugins"]
    by_name = {p["Name"]: p for p in plugins}
    assert "Step execution skipped" in by_name["ControlCloudWatchAgentWindows"]["Output"]
    assert "Configuration validation succeeded" in by_name["ControlCloudWatchAgentLinux"]["Output"]
    stop = dict(manage, action=["stop"])
    _wait(ssm, _send(ssm, [], DocumentName="AmazonCloudWatch-ManageAgent", InstanceIds=[iid], Parameters=stop))
    assert node_state.cw_agent_status(REGION, iid) == "stopped"


def test_hostile_output_is_stored_and_served_intact(sb: Sandbox, ssm: Any) -> None:
    iid = _online_linux(sb)[6]
    cid = _send(ssm, ["printf '\\033]0;pwned\\007[red]x[/red]\\xff\\xfe\\n'"], InstanceIds=[iid])
    assert _wait(ssm, cid)["Status"] == "Success"
    out = ssm.get_command_invocation(CommandId=cid, InstanceId=iid)["StandardOutputContent"]
    assert out == "\x1b]0;pwned\x07[red]x[/red]\ufffd\ufffd\n"
