"""Sandbox CloudWatch metrics through boto3: produced EC2 series, stored custom points, agent metrics via Run Command."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from opstui.sandbox import clock, cw_agent_seed
from opstui.sandbox.server import Sandbox
from tests.sandbox.conftest import make_client_factory
from tests.sandbox_control import SandboxControl

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(scenario="default", live=False, seed=42)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def cw(sb: Sandbox) -> Any:
    return make_client_factory(sb)("cloudwatch")


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> Callable[..., Any]:
    return make_client_factory(sb)


def _by_name(sb: Sandbox, name: str) -> str:
    assert sb.scenario_data is not None
    return next(n.instance_id for n in sb.scenario_data.nodes if n.name == name)


def _cpu(iid: str) -> dict[str, Any]:
    return {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}]}


def test_list_metrics_one_cpu_series_per_instance_with_data(sb: Sandbox, cw: Any) -> None:
    pages = list(cw.get_paginator("list_metrics").paginate(Namespace="AWS/EC2", MetricName="CPUUtilization"))
    ids = {m["Dimensions"][0]["Value"] for p in pages for m in p["Metrics"]}
    assert sb.scenario_data is not None
    running = {n.instance_id for n in sb.scenario_data.nodes
               if n.region == REGION and n.ec2_state == "running"}
    assert ids == running  # the instance seeded stopped (months ago) has no recent data: not listed
    assert _by_name(sb, "stg-app-02") not in ids
    one = cw.list_metrics(Namespace="AWS/EC2",
                          Dimensions=[{"Name": "InstanceId", "Value": _by_name(sb, "prod-web-01")}])["Metrics"]
    assert {m["MetricName"] for m in one} == {"CPUUtilization", "NetworkIn", "NetworkOut", "StatusCheckFailed",
                                              "StatusCheckFailed_Instance", "StatusCheckFailed_System"}
    # the agent runs at start only where the scenario installed it (prod web and app nodes, cw_agent_seed)
    agents = {d["Value"] for m in cw.list_metrics(Namespace="CWAgent")["Metrics"] for d in m["Dimensions"]
              if d["Name"] == "InstanceId"}
    assert agents == set(cw_agent_seed.seeded_nodes(sb.scenario_data))


def test_get_metric_data_day_of_cpu(sb: Sandbox, cw: Any) -> None:
    now = clock.now()
    iid = _by_name(sb, "prod-web-01")
    res = cw.get_metric_data(MetricDataQueries=[
        {"Id": "cpu", "MetricStat": {"Metric": _cpu(iid), "Period": 300, "Stat": "Average"}},
        {"Id": "mx", "MetricStat": {"Metric": _cpu(iid), "Period": 3600, "Stat": "Maximum"}, "Label": "peak"},
        {"Id": "hidden", "MetricStat": {"Metric": _cpu(iid), "Period": 300, "Stat": "Minimum"}, "ReturnData": False},
    ], StartTime=now - dt.timedelta(hours=24), EndTime=now)["MetricDataResults"]
    assert [r["Id"] for r in res] == ["cpu", "mx"]
    cpu, peak = res
    assert cpu["Label"] == "CPUUtilization" and peak["Label"] == "peak"
    assert 286 <= len(cpu["Values"]) <= 289 and cpu["StatusCode"] == "Complete"
    assert cpu["Timestamps"] == sorted(cpu["Timestamps"], reverse=True)  # TimestampDescending by default
    assert all(0 < v <= 100 for v in cpu["Values"])
    assert max(peak["Values"]) >= max(cpu["Values"]) - 1e-9
    again = cw.get_metric_data(MetricDataQueries=[
        {"Id": "cpu", "MetricStat": {"Metric": _cpu(iid), "Period": 300, "Stat": "Average"}}],
        StartTime=now - dt.timedelta(hours=24), EndTime=now, ScanBy="TimestampAscending")["MetricDataResults"][0]
    assert again["Values"] == cpu["Values"][::-1]  # deterministic
    stats = cw.get_metric_statistics(**_cpu(iid), StartTime=now - dt.timedelta(hours=1), EndTime=now, Period=300,
                                     Statistics=["Average", "SampleCount"])["Datapoints"]
    assert stats and all(p["Unit"] == "Percent" and p["SampleCount"] == 1.0 for p in stats)


def test_get_metric_data_pages_by_max_datapoints(sb: Sandbox, cw: Any) -> None:
    now = clock.now()
    queries = [{"Id": f"q{i}", "MetricStat": {"Metric": _cpu(_by_name(sb, name)), "Period": 300, "Stat": "Average"}}
               for i, name in enumerate(("prod-web-01", "prod-web-02", "prod-db-01"))]
    kw = {"MetricDataQueries": queries, "StartTime": now - dt.timedelta(hours=2), "EndTime": now,
          "MaxDatapoints": 30}
    seen: dict[str, int] = {}
    pages = 0
    token = None
    while True:
        res = cw.get_metric_data(**kw, **({"NextToken": token} if token else {}))
        pages += 1
        for r in res["MetricDataResults"]:
            seen[r["Id"]] = seen.get(r["Id"], 0) + len(r["Values"])
        token = res.get("NextToken")
        if not token:
            break
    assert pages >= 2 and set(seen) == {"q0", "q1", "q2"} and all(23 <= n <= 25 for n in seen.values())


def test_put_metric_data_custom_and_validation(cw: Any) -> None:
    now = clock.now()
    dims = [{"Name": "Service", "Value": "checkout"}]
    cw.put_metric_data(Namespace="Shop/Checkout", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now - dt.timedelta(seconds=30), "Value": v,
         "Unit": "Milliseconds"} for v in (100, 200, 300, 400)])
    cw.put_metric_data(Namespace="Shop/Checkout", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now - dt.timedelta(seconds=20),
         "StatisticValues": {"SampleCount": 2, "Sum": 1000, "Minimum": 450, "Maximum": 550}, "Unit": "Milliseconds"}])
    points = cw.get_metric_statistics(Namespace="Shop/Checkout", MetricName="Latency", Dimensions=dims,
                                      StartTime=now - dt.timedelta(minutes=30), EndTime=now + dt.timedelta(minutes=1),
                                      Period=3600, Statistics=["Average", "Sum", "SampleCount", "Minimum", "Maximum"])
    (p,) = points["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (6.0, 2000.0, 100.0, 550.0)
    assert p["Average"] == pytest.approx(2000 / 6) and p["Unit"] == "Milliseconds"
    listed = cw.list_metrics(Namespace="Shop/Checkout", Dimensions=[{"Name": "Service"}])["Metrics"]
    assert listed == [{"Namespace": "Shop/Checkout", "MetricName": "Latency", "Dimensions": dims}]
    with pytest.raises(ClientError) as err:
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{"MetricName": "CPUUtilization", "Value": 1}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        cw.get_metric_data(MetricDataQueries=[{"Id": "Bad-id", "MetricStat": {
            "Metric": {"Namespace": "x", "MetricName": "y"}, "Period": 60, "Stat": "Average"}}],
            StartTime=now - dt.timedelta(hours=1), EndTime=now)
    assert err.value.response["Error"]["Code"] == "ValidationError"


def test_stopped_instance_has_no_datapoints_after_it_stopped(sb: Sandbox, client: Callable[..., Any]) -> None:
    ec2, cw = client("ec2"), client("cloudwatch")
    iid = _by_name(sb, "stg-batch-02")
    ec2.stop_instances(InstanceIds=[iid])
    stopped_at = clock.now()
    try:
        clock.advance(1800)
        now = clock.now()
        res = cw.get_metric_data(MetricDataQueries=[
            {"Id": "c", "MetricStat": {"Metric": _cpu(iid), "Period": 300, "Stat": "Average"}}],
            StartTime=now - dt.timedelta(hours=3), EndTime=now)["MetricDataResults"][0]
        assert res["Timestamps"] and max(res["Timestamps"]) <= stopped_at
    finally:
        ec2.start_instances(InstanceIds=[iid])


def test_agent_installed_by_run_command_turns_cwagent_metrics_on(sb: Sandbox, client: Callable[..., Any]) -> None:
    SandboxControl.of(sb).run_command_configure(
        delivery_delay=0.02, delivery_timeout_scale=0.01, simulated_step_seconds=0.02)
    ssm, cw = client("ssm"), client("cloudwatch")
    iid = _by_name(sb, "stg-batch-02")  # Amazon Linux 2023 (xfs); prod web/app nodes start with the agent
    dims = [{"Name": "InstanceId", "Value": iid}]
    assert not cw.list_metrics(Namespace="CWAgent", Dimensions=dims)["Metrics"]

    def run(document: str, parameters: dict[str, list[str]]) -> None:
        cid = ssm.send_command(DocumentName=document, InstanceIds=[iid], Parameters=parameters)["Command"]["CommandId"]
        deadline = time.monotonic() + 15
        while (status := ssm.list_commands(CommandId=cid)["Commands"][0]["Status"]) in ("Pending", "InProgress"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status == "Success"

    run("AWS-ConfigureAWSPackage", {"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})
    assert not cw.list_metrics(Namespace="CWAgent", Dimensions=dims)["Metrics"]  # installed, not started
    run("AmazonCloudWatch-ManageAgent", {"action": ["configure"], "mode": ["ec2"],
                                         "optionalConfigurationSource": ["default"], "optionalRestart": ["yes"]})
    listed = cw.list_metrics(Namespace="CWAgent", Dimensions=dims)["Metrics"]
    by_name = {m["MetricName"]: {d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed}
    assert by_name["mem_used_percent"] == {"InstanceId": iid}
    assert by_name["disk_used_percent"] == {"InstanceId": iid, "path": "/", "device": "nvme0n1p1", "fstype": "xfs"}
    clock.advance(600)
    now = clock.now()
    res = cw.get_metric_data(MetricDataQueries=[
        {"Id": "mem", "MetricStat": {"Metric": listed[0], "Period": 60, "Stat": "Average"}},
        {"Id": "disk", "MetricStat": {"Metric": listed[1], "Period": 60, "Stat": "Average"}}],
        StartTime=now - dt.timedelta(hours=1), EndTime=now)["MetricDataResults"]
    assert all(8 <= len(r["Values"]) <= 11 for r in res)  # one a minute, only since the agent started
    assert all(0 < v < 100 for r in res for v in r["Values"])
    run("AmazonCloudWatch-ManageAgent", {"action": ["stop"], "mode": ["ec2"]})
    assert not cw.list_metrics(Namespace="CWAgent", Dimensions=dims)["Metrics"]


def _utc_timestamp(value: Any) -> Any:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


def test_get_metric_data_500_queries_is_fast(sb: Sandbox) -> None:
    # botocore's default parser turns each epoch timestamp into a tzlocal datetime (~25 us each: 3-4 s for
    # 144,000 points on this machine); a UTC parser, as a client of bulk metrics should use, takes a tenth of it
    import boto3
    import botocore.session

    session = botocore.session.get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_utc_timestamp)
    cw = boto3.session.Session(botocore_session=session).client(
        "cloudwatch", region_name=REGION, endpoint_url=sb.endpoint,
        aws_access_key_id=sb.credentials.access_key_id, aws_secret_access_key=sb.credentials.secret_access_key)
    now = clock.now()
    metrics = [m for p in cw.get_paginator("list_metrics").paginate(Namespace="AWS/EC2") for m in p["Metrics"]]
    queries = [{"Id": f"m{i}", "MetricStat": {"Metric": metrics[i % len(metrics)], "Period": 300,
                                              "Stat": ("Average", "Maximum", "p99")[i % 3]}} for i in range(500)]
    # 500 x 24 h x 5 min is 144,000 points, more than one response's 100,800: page with NextToken like the app
    total, calls, token = 0, 0, None
    while True:
        res = cw.get_metric_data(MetricDataQueries=queries, StartTime=now - dt.timedelta(hours=24), EndTime=now,
                                 **({"NextToken": token} if token else {}))
        calls += 1
        total += sum(len(r["Values"]) for r in res["MetricDataResults"])
        token = res.get("NextToken")
        if not token:
            break
    assert calls == 2 and total >= 500 * 280  # bench/monitoring.py times it (~1.5 s, ~0.4 s of it the sandbox's)
