"""The sandbox's CloudWatch agent through boto3 (HTTP): its configuration from Parameter Store, validation, log
shipping from node files, and the default scenario's pre-configured prod web and app nodes."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opstui.sandbox import clock, cw_agent_config, cw_agent_seed, node_logs
from opstui.sandbox.agent_shell import node_home
from opstui.sandbox.cw_agent_logs import MAX_EVENT_BYTES, TRUNCATED, batches, truncate
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory, recorded_sandbox
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with recorded_sandbox(tmp_path_factory.mktemp("state"), monkeypatch_module) as sandbox:
        control = SandboxControl.of(sandbox)
        control.run_command_configure(delivery_delay=0.02, delivery_timeout_scale=0.01, simulated_step_seconds=0.02)
        control.cwagent(flush_seconds=0.2)
        assert any("agents flush logs every 0.2 s" in line for line in control.health()["lenient"])
        yield sandbox


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Callable[..., Any]:
    return make_client_factory(sb)


def _by_name(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.name == name)


def _run(ssm: Any, iid: str, document: str, parameters: dict[str, list[str]]) -> dict[str, Any]:
    cid = ssm.send_command(DocumentName=document, InstanceIds=[iid], Parameters=parameters)["Command"]["CommandId"]
    deadline = time.monotonic() + 20
    while True:
        inv = ssm.list_command_invocations(CommandId=cid, Details=True)["CommandInvocations"]
        if inv and inv[0]["Status"] not in ("Pending", "InProgress", "Delayed"):
            return inv[0]
        assert time.monotonic() < deadline, inv
        time.sleep(0.05)


def _manage(location: str, action: str = "configure") -> dict[str, list[str]]:
    return {"action": [action], "mode": ["ec2"], "optionalConfigurationSource": ["ssm"],
            "optionalConfigurationLocation": [location], "optionalRestart": ["yes"]}


def _events(logs: Any, group: str, want: Callable[[list[dict[str, Any]]], bool], **kw: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group, **kw)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if want(events):
            return events
        assert time.monotonic() < deadline, events[-5:]
        time.sleep(0.1)


def _linux_output(invocation: dict[str, Any]) -> str:
    return next(p["Output"] for p in invocation["CommandPlugins"] if p["Name"] == "ControlCloudWatchAgentLinux")


def test_manage_agent_applies_an_ssm_configuration_and_ships_the_named_files(sb: Sandbox, client: Any) -> None:
    ssm, logs, cw = client("ssm"), client("logs"), client("cloudwatch")
    iid = _by_name(sb, "stg-batch-02")
    config = {
        "logs": {"logs_collected": {"files": {"collect_list": [{
            "file_path": "/var/log/worker/*.log", "log_group_name": "/stg/worker",
            "log_stream_name": "{instance_id}/{hostname}/{ip_address}",
            "timestamp_format": "%Y-%m-%d %H:%M:%S", "multi_line_start_pattern": "{timestamp_format}",
            "timezone": "UTC"}]}}},
        "metrics": {"append_dimensions": {"InstanceId": "${aws:InstanceId}"},
                    "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}}},
    }
    ssm.put_parameter(Name="worker-agent", Type="String", Value=json.dumps(config))
    # the node's program has been writing its log (the agent reads a file it has no state for from its start)
    log = node_home(sb.state_dir, iid) / "var" / "log" / "worker" / "jobs.log"
    log.parent.mkdir(parents=True)
    log.write_text("2026-12-01 10:00:00 job 1 started\n"
                   "2026-12-01 10:00:02 job 1 failed\n"
                   "Traceback (most recent call last):\n"
                   "  File \"job.py\", line 3, in run\n"
                   "KeyError: 'sku'\n"
                   "2026-12-01 10:00:05 job 2 started\n")
    assert _run(ssm, iid, "AWS-ConfigureAWSPackage",
                {"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})["Status"] == "Success"
    invocation = _run(ssm, iid, "AmazonCloudWatch-ManageAgent", _manage("worker-agent"))
    assert invocation["Status"] == "Success", invocation
    assert "Configuration validation succeeded" in _linux_output(invocation)
    events = _events(logs, "/stg/worker", lambda ev: len(ev) >= 3)
    assert [e["message"].split("\n")[0] for e in events] == [
        "2026-12-01 10:00:00 job 1 started", "2026-12-01 10:00:02 job 1 failed", "2026-12-01 10:00:05 job 2 started"]
    assert events[1]["message"].endswith("KeyError: 'sku'")  # the traceback is one event with its first line
    assert events[0]["timestamp"] == int(dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC).timestamp() * 1000)
    node = sb.nodes.get(sb.account_id, REGION, iid)
    assert node is not None
    assert {e["logStreamName"] for e in events} == {f"{iid}/{node.computer_name}/{node.ip_address}"}
    # a partial line waits for its newline; appended lines are shipped in order
    with log.open("a") as fh:
        fh.write("2026-12-01 10:00:09 job 2 done\n2026-12-01 10:00:10 half a li")
    events = _events(logs, "/stg/worker", lambda ev: len(ev) >= 4)
    assert events[-1]["message"] == "2026-12-01 10:00:09 job 2 done"
    # metrics follow metrics_collected: memory only, no disk
    listed = cw.list_metrics(Namespace="CWAgent", Dimensions=[{"Name": "InstanceId", "Value": iid}])["Metrics"]
    assert {m["MetricName"] for m in listed} == {"mem_used_percent"}


def test_a_bad_configuration_fails_the_command_as_the_agents_validation_does(sb: Sandbox, client: Any) -> None:
    ssm = client("ssm")
    iid = _by_name(sb, "stg-batch-02")
    before = cw_agent_seed.node_state.cw_agent_settings(REGION, iid)
    bad = {"logs": {"logs_collected": {"files": {"collect_list": [{"log_group_name": "x"}]}}},
           "metrics": {"metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}}, "bogus": 1}}
    ssm.put_parameter(Name="bad-agent", Type="String", Value=json.dumps(bad))
    invocation = _run(ssm, iid, "AmazonCloudWatch-ManageAgent", _manage("bad-agent"))
    assert invocation["Status"] == "Failed"
    output = _linux_output(invocation)
    assert "E! Invalid Json input schema." in output
    assert "Under path : /logs/logs_collected/files/collect_list/0 | Error : file_path is required" in output
    assert "Under path : /metrics | Error : Additional property bogus is not allowed" in output
    assert "configuration validation first phase failed. Agent version: 1.0." in output
    assert cw_agent_seed.node_state.cw_agent_settings(REGION, iid) is before  # the old configuration stays
    ssm.put_parameter(Name="not-json", Type="String", Value="{logs: ")
    output = _linux_output(_run(ssm, iid, "AmazonCloudWatch-ManageAgent", _manage("not-json")))
    assert "invalid json content" in output
    missing = _run(ssm, iid, "AmazonCloudWatch-ManageAgent", _manage("no-such-parameter"))
    assert missing["Status"] == "Failed"
    assert "error in retrieving parameter store content: ParameterNotFound" in _linux_output(missing)


def test_second_phase_checks_refuse_a_bad_timestamp_format_and_conflicting_retention() -> None:
    config = {"logs": {"logs_collected": {"files": {"collect_list": [
        {"file_path": "/a.log", "log_group_name": "g", "timestamp_format": "%Q", "retention_in_days": 7},
        {"file_path": "/b.log", "log_group_name": "g", "retention_in_days": 30}]}}}}
    with pytest.raises(cw_agent_config.AgentConfigError) as err:
        cw_agent_config.parse(json.dumps(config), "ssm:x")
    assert "Under path : /logs/logs_collected/files/collect_list/timestamp_format | Error : Timestamp format %Q is " \
           "invalid" in err.value.lines
    assert any("Different retention_in_days values can't be set for the same log group: g" in line
               for line in err.value.lines)


def test_defaults_follow_the_agent() -> None:
    parsed = cw_agent_config.parse(json.dumps({"logs": {"logs_collected": {"files": {"collect_list": [
        {"file_path": "/tmp/TestLogFile.log.2017-07-11-14"}]}}}}), "ssm:x")
    entry = parsed.files[0]
    assert entry.log_group_name == "/tmp/TestLogFile.log"  # the file path up to its last dot
    assert entry.log_stream_name == "{instance_id}"
    assert entry.start_regex.pattern == r"^[\S]"
    ts = cw_agent_config.TimestampFormat.of("%b %d %H:%M:%S")
    now = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    assert ts.parse("Dec  2 09:40:01 ip-10-0-0-10 systemd[1]: x", True, now) == \
        int(dt.datetime(2026, 12, 2, 9, 40, 1, tzinfo=dt.UTC).timestamp() * 1000)


def test_put_log_events_limits_shape_the_batches() -> None:
    now = int(clock.now().timestamp() * 1000)
    many = [(now - 1000 + i % 7, "x") for i in range(10_001)]
    parts, dropped = batches(many, now)
    assert [len(p) for p in parts] == [10_000, 1] and dropped == 0
    assert all(a[0] <= b[0] for p in parts for a, b in zip(p, p[1:], strict=False))  # in order
    big = [(now, "y" * 200_000) for _ in range(6)]
    parts, _ = batches(big, now)
    assert all(sum(len(m) + 26 for _, m in p) <= 1_048_576 for p in parts) and len(parts) == 2
    day = 24 * 3600 * 1000
    parts, dropped = batches([(now - 15 * day, "old"), (now - 2 * day, "a"), (now, "b"), (now + 3 * 3600_000, "new")],
                             now)
    assert [[m for _, m in p] for p in parts] == [["a"], ["b"]] and dropped == 2
    cut = truncate("z" * 300_000)
    assert len(cut.encode()) == MAX_EVENT_BYTES and cut.endswith(TRUNCATED)


def test_default_scenario_ships_live_logs_of_prod_web_and_app_nodes(sb: Sandbox, client: Any) -> None:
    logs, cw, ssm = client("logs"), client("cloudwatch"), client("ssm")
    assert sb.scenario_data is not None
    seeded = set(cw_agent_seed.seeded_nodes(sb.scenario_data))
    names = {n.instance_id: n.name for n in sb.scenario_data.nodes}
    assert {names[i] for i in seeded} >= {"prod-web-01", "prod-web-02", "prod-app-01", "prod-win-ad-01"}
    assert not any(names[i].startswith(("stg-", "dr-")) for i in seeded)
    # the parameters pass the agent's full validation
    for name in (cw_agent_seed.LINUX_PARAMETER, cw_agent_seed.WINDOWS_PARAMETER):
        cw_agent_config.parse(ssm.get_parameter(Name=name)["Parameter"]["Value"], f"ssm:{name}")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/prod/")["logGroups"]}
    assert set(groups) >= {cw_agent_seed.GROUP_SYSTEM, cw_agent_seed.GROUP_ACCESS, cw_agent_seed.GROUP_APP,
                           cw_agent_seed.GROUP_WINDOWS_SYSTEM}
    assert groups[cw_agent_seed.GROUP_ACCESS]["retentionInDays"] == 30
    web = {_by_name(sb, "prod-web-01"), _by_name(sb, "prod-web-02")}
    streams = {s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName=cw_agent_seed.GROUP_ACCESS)["logStreams"]}
    assert web <= streams and streams <= seeded  # one stream per instance
    app = _events(logs, cw_agent_seed.GROUP_APP, bool, limit=50)
    record = json.loads(app[0]["message"])
    assert {"timestamp", "level", "request_id", "latency_ms", "status"} <= set(record)
    assert app[0]["timestamp"] == int(dt.datetime.fromisoformat(record["timestamp"]).timestamp() * 1000)
    # the storefront turns slow: new nginx lines carry 504s and the error log says why
    control = SandboxControl.of(sb)
    control.webapp(health="slow")
    try:
        clock.advance(600)
        control.cwagent(write=True)
        errors = _events(logs, cw_agent_seed.GROUP_ERROR, lambda ev: any("upstream timed out" in e["message"]
                                                                        for e in ev))
        assert errors
        access = _events(logs, cw_agent_seed.GROUP_ACCESS, lambda ev: any('" 504 ' in e["message"] for e in ev))
        assert access
    finally:
        control.webapp(health="ok")
    # the Windows node's event log, in the configured text format
    win = _by_name(sb, "prod-win-ad-01")
    events = _events(logs, cw_agent_seed.GROUP_WINDOWS_APPLICATION, bool, logStreamNames=[win])
    assert events[0]["message"].startswith("[Application] [")
    # the agents' metrics have history (running "for long"), one a minute
    now = clock.now()
    res = cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
        "Namespace": "CWAgent", "MetricName": "mem_used_percent",
        "Dimensions": [{"Name": "InstanceId", "Value": _by_name(sb, "prod-app-01")}]}, "Period": 60,
        "Stat": "Average"}}], StartTime=now - dt.timedelta(hours=3), EndTime=now)["MetricDataResults"][0]
    assert len(res["Values"]) >= 170


def test_a_shell_on_the_node_reads_the_file_the_agent_ships(sb: Sandbox, client: Any) -> None:
    ssm, logs = client("ssm"), client("logs")
    iid = _by_name(sb, "prod-web-01")
    SandboxControl.of(sb).cwagent(write=True, flush=True)
    path = node_logs.NGINX_ACCESS.lstrip("/")
    invocation = _run(ssm, iid, "AWS-RunShellScript", {"commands": [f"tail -n 1 ~/{path}"]})
    last = next(p["Output"] for p in invocation["CommandPlugins"]).strip()
    # the fleet's writer logs 10.0.x.x clients; a real request to the storefront (a canary's) logs 127.0.0.1
    assert re.match(r"(10\.0|127\.0)\.\d+\.\d+ - - \[.*\] \"[A-Z]+ \S+ HTTP/1\.1\" \d{3} ", last), last
    _events(logs, cw_agent_seed.GROUP_ACCESS, lambda ev: any(e["message"] == last for e in ev),
            logStreamNames=[iid])


def test_requests_the_storefront_answers_reach_a_web_nodes_access_log(sb: Sandbox, client: Any) -> None:
    import urllib.request

    from opstui.sandbox import webapp

    url = webapp.webapp_url() + "health?from=test-probe"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the sandbox's own loopback storefront
        assert resp.status == 200
    SandboxControl.of(sb).cwagent(write=True)
    events = _events(client("logs"), cw_agent_seed.GROUP_ACCESS,
                     lambda ev: any("/health?from=test-probe" in e["message"] for e in ev),
                     filterPattern='"from=test-probe"')
    assert '"GET /health?from=test-probe HTTP/1.1" 200 ' in events[0]["message"]
    assert events[0]["message"].startswith("127.0.0.1 - - [")


def test_agent_metrics_follow_namespace_dimensions_and_intervals() -> None:
    config = cw_agent_config.parse(json.dumps({
        "agent": {"metrics_collection_interval": 10},
        "metrics": {"namespace": "Custom/Agent", "append_dimensions": {"InstanceType": "${aws:InstanceType}"},
                    "metrics_collected": {"disk": {"measurement": ["used_percent"], "metrics_collection_interval": 30},
                                          "mem": {"measurement": ["mem_used_percent"]},
                                          "cpu": {"measurement": ["cpu_usage_idle"], "totalcpu": True}}}}), "ssm:x")
    facts = cw_agent_config.NodeFacts(instance_id="i-0abc", hostname="ip-10-0-0-9", ip_address="10.0.0.9",
                                      region=REGION, account_id="123456789012", platform_name="Ubuntu",
                                      instance_type="t3.large")
    by_name = {m.name: m for m in config.agent_metrics(facts)}
    assert set(by_name) == {"disk_used_percent", "mem_used_percent"}  # cpu validates, is not produced here
    disk = by_name["disk_used_percent"]
    assert disk.namespace == "Custom/Agent" and disk.interval == 30 and by_name["mem_used_percent"].interval == 10
    assert dict(disk.dimensions) == {"InstanceType": "t3.large", "path": "/", "device": "nvme0n1p1",
                                     "fstype": "ext4"}
    hybrid = cw_agent_config.NodeFacts(instance_id="mi-0abc", hostname="onprem-01", ip_address="192.168.0.5",
                                       region=REGION, account_id="123456789012", hybrid=True)
    [mem, _disk] = cw_agent_config.default_config(windows=False).agent_metrics(hybrid)
    assert dict(mem.dimensions) == {"host": "onprem-01"}  # no instance id to append on a hybrid node


def test_a_restarted_agent_resumes_where_it_stopped_and_rereads_a_rotated_file(sb: Sandbox, client: Any) -> None:
    ssm, logs = client("ssm"), client("logs")
    iid = _by_name(sb, "stg-db-01")
    config = {"logs": {"logs_collected": {"files": {"collect_list": [
        {"file_path": "/var/log/db/postgresql.log", "log_group_name": "/stg/db"}]}}}}
    ssm.put_parameter(Name="db-agent", Type="String", Value=json.dumps(config))
    log = node_home(sb.state_dir, iid) / "var" / "log" / "db" / "postgresql.log"
    log.parent.mkdir(parents=True)
    log.write_text("checkpoint starting\ncheckpoint complete\n")
    assert _run(ssm, iid, "AWS-ConfigureAWSPackage",
                {"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})["Status"] == "Success"
    assert _run(ssm, iid, "AmazonCloudWatch-ManageAgent", _manage("db-agent"))["Status"] == "Success"
    _events(logs, "/stg/db", lambda ev: len(ev) == 2)
    assert _run(ssm, iid, "AmazonCloudWatch-ManageAgent", {"action": ["stop"], "mode": ["ec2"]})["Status"] == \
        "Success"
    with log.open("a") as fh:
        fh.write("written while the agent was stopped\n")
    time.sleep(0.5)
    assert len(logs.filter_log_events(logGroupName="/stg/db")["events"]) == 2  # a stopped agent ships nothing
    assert _run(ssm, iid, "AmazonCloudWatch-ManageAgent", {"action": ["start"], "mode": ["ec2"]})["Status"] == \
        "Success"
    events = _events(logs, "/stg/db", lambda ev: len(ev) >= 3)
    assert [e["message"] for e in events] == ["checkpoint starting", "checkpoint complete",
                                              "written while the agent was stopped"]  # no line twice
    log.rename(log.with_name("postgresql.log.1"))  # logrotate: a new, shorter file under the same name
    log.write_text("new file\n")
    events = _events(logs, "/stg/db", lambda ev: len(ev) >= 4)
    assert events[-1]["message"] == "new file" and len(events) == 4
