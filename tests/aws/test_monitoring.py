"""CloudWatch, SNS and Synthetics through the aws layer against the sandbox (aiobotocore -> HTTP -> moto +
the sandbox's metrics, alarms and canaries)."""

from __future__ import annotations

import asyncio
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest

from opstui.aws import cloudwatch as cw
from opstui.aws import sns, synthetics
from opstui.aws.clients import AwsClients, parse_timestamp_utc
from opstui.aws.errors import ReadOnlyError
from opstui.aws.fleet import load_fleet
from opstui.aws.models import CommandRequest
from opstui.aws.monitoring_models import HeartbeatSpec, MetricQuery
from tests.helpers import UNUSED_CREDS


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _running(aws: AwsClients, region: str) -> list[str]:
    fleet = await load_fleet(aws, [region])
    return [n.instance_id for n in fleet.nodes if n.ec2_state == "running" and n.instance_id.startswith("i-")]


# -- alarms ------------------------------------------------------------------------------------------------


async def test_alarm_on_a_node_cpu_create_disable_enable_delete(sandbox, aws):
    region = sandbox.regions[0]
    iid = (await _running(aws, region))[0]
    topic = await sns.create_topic(aws, region, _name("alerts"))
    spec = cw.alarm_spec(name=_name("cpu-high"), region=region, metric=cw.node_metric("cpu", iid), threshold="80",
                         period="300", evaluation_periods="3", datapoints="2", topic_arns=[topic.arn])
    await cw.put_metric_alarm(aws, spec)
    [alarm] = await cw.describe_alarms(aws, region, names=[spec.name])
    assert alarm.metric == cw.node_metric("cpu", iid) and alarm.instance_id == iid
    assert alarm.threshold == 80 and alarm.alarm_actions == (topic.arn,) and alarm.actions_enabled
    assert alarm.condition == "CPUUtilization > 80 for 2 of 3 × 5 min"

    await cw.set_alarm_actions(aws, region, [spec.name], enabled=False)
    [alarm] = await cw.describe_alarms(aws, region, names=[spec.name])
    assert not alarm.actions_enabled
    await cw.set_alarm_actions(aws, region, [spec.name], enabled=True)
    [alarm] = await cw.describe_alarms(aws, region, names=[spec.name])
    assert alarm.actions_enabled

    await cw.delete_alarms(aws, region, [spec.name])
    assert await cw.describe_alarms(aws, region, names=[spec.name]) == []


async def test_describe_alarms_pages_through_many_alarms(sandbox, aws):
    region = sandbox.regions[0]
    prefix = _name("bulk")
    for i in range(130):
        await aws.call("cloudwatch", region, "put_metric_alarm", AlarmName=f"{prefix}-{i:03d}", Namespace="Custom",
                       MetricName="m", Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1.0,
                       ComparisonOperator="GreaterThanThreshold")
    before = aws.calls["monitoring:DescribeAlarms"]
    alarms = await cw.describe_alarms(aws, region, prefix=prefix)
    assert sorted(a.name for a in alarms) == [f"{prefix}-{i:03d}" for i in range(130)]
    assert aws.calls["monitoring:DescribeAlarms"] - before >= 2  # 100 a page
    await cw.delete_alarms(aws, region, [a.name for a in alarms])


@pytest.mark.parametrize(("fields", "message"), [
    ({"threshold": "eighty"}, "threshold: 'eighty' is not a number"),
    ({"threshold": ""}, "threshold: required (a number)"),
    ({"period": "45"}, "period (seconds): 10, 30 or a multiple of 60"),
    ({"datapoints": "4"}, "datapoints to alarm: at most the evaluation periods (3)"),
    ({"evaluation_periods": "0"}, "evaluation periods: at least 1"),
    ({"name": "  "}, "name: required"),
    ({"period": "3600", "evaluation_periods": "25", "datapoints": "1"}, "at most one day"),
])
def test_alarm_form_input_is_checked_before_sending(fields, message):
    values = {"name": "x", "region": "ap-northeast-1", "metric": cw.node_metric("cpu", "i-0123"), "threshold": "80",
              "period": "300", "evaluation_periods": "3", "datapoints": "3"} | fields
    with pytest.raises(cw.AlarmInputError) as err:
        cw.alarm_spec(**values)
    assert any(message in p for p in err.value.problems), err.value.problems


# -- metrics -----------------------------------------------------------------------------------------------


async def test_get_metric_data_batches_500_queries_a_call(sandbox, aws):
    region = sandbox.regions[0]
    running = await _running(aws, region)
    queries = [MetricQuery(f"q{i}", cw.node_metric("cpu", running[i % len(running)]),
                           ("Average", "Maximum", "Minimum")[i % 3], 300) for i in range(620)]
    end = datetime.now(UTC)
    before = aws.calls["monitoring:GetMetricData"]
    series = await cw.get_metric_data(aws, region, queries, end - timedelta(hours=3), end)
    assert set(series) == {q.id for q in queries}
    assert aws.calls["monitoring:GetMetricData"] - before == 2  # 500 + 120
    cpu = series["q0"]
    assert len(cpu.values) >= 30 and all(0 <= v <= 100 for v in cpu.values)
    assert list(cpu.timestamps) == sorted(cpu.timestamps)


async def test_response_timestamps_are_parsed_into_utc(sandbox, aws):
    """The client path parses epoch timestamps with one shared UTC (botocore's default builds a tzlocal() per
    value: seconds for a day of 500 series); the instant is the same."""
    region = sandbox.regions[0]
    iid = (await _running(aws, region))[0]
    end = datetime.now(UTC)
    raw = await aws.call("cloudwatch", region, "get_metric_data", StartTime=end - timedelta(hours=1), EndTime=end,
                         MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": cw.node_metric("cpu", iid).to_api(),
                                                                        "Period": 300, "Stat": "Average"}}])
    stamps = raw["MetricDataResults"][0]["Timestamps"]
    assert stamps and all(t.tzinfo is UTC for t in stamps)
    assert all(end - timedelta(hours=1, minutes=5) <= t <= end for t in stamps)


def test_timestamp_parser_keeps_botocore_for_text_and_out_of_range():
    from botocore.utils import parse_timestamp

    assert parse_timestamp_utc(1_700_000_000) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_timestamp_utc(1_700_000_000.5).tzinfo is UTC
    assert parse_timestamp_utc(1_700_000_000.5) == parse_timestamp(1_700_000_000.5)
    assert parse_timestamp_utc("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_timestamp_utc("Wed, 01 May 2024 10:00:00 GMT") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    with pytest.raises((ValueError, RuntimeError, OverflowError, OSError)):
        parse_timestamp_utc(1e20)


async def test_cloudwatch_agent_metrics_appear_once_the_agent_is_installed_and_started(sandbox, aws):
    """No CWAgent metrics for a node until the seed's two documents ran on it; then its memory and disk."""
    from opstui.runs.launch import send_plan
    from opstui.runs.targets import plan_for_nodes
    from opstui.runs.tracker import RunTracker

    region = sandbox.regions[0]
    agents = await cw.agent_nodes(aws, region)
    running = set(await _running(aws, region))
    assert set(agents) <= running  # only nodes whose agent was started report CWAgent metrics
    fleet = await load_fleet(aws, (region,))
    node = next(n for n in fleet.nodes if n.name == "stg-app-01")
    assert node.instance_id in running and node.instance_id not in agents
    steps = (
        ("AWS-ConfigureAWSPackage", {"action": ["Install"], "name": ["AmazonCloudWatchAgent"]}),
        ("AmazonCloudWatch-ManageAgent", {"action": ["configure"], "mode": ["ec2"],
                                          "optionalConfigurationSource": ["default"], "optionalRestart": ["yes"]}),
    )
    for document, params in steps:
        sent = await send_plan(aws, plan_for_nodes([node]), CommandRequest(document, params))
        tracker = RunTracker(aws, list(sent.commands))
        while not (await tracker.poll()).finished:
            await asyncio.sleep(0.3)
        assert [s.outcome for s in tracker.states()] == ["Success"], document
    agents = await cw.agent_nodes(aws, region)
    assert {"mem_used_percent", "disk_used_percent"} <= set(agents.get(node.instance_id, ())), agents


# -- SNS ---------------------------------------------------------------------------------------------------


async def test_topic_subscribe_and_publish(sandbox, aws):
    region = sandbox.regions[0]
    topic = await sns.create_topic(aws, region, _name("ops"))
    assert topic.name.startswith("ops-") and topic in await sns.list_topics(aws, region)
    await sns.subscribe(aws, region, topic.arn, "email", "oncall@example.com")
    await sns.subscribe(aws, region, topic.arn, "sms", "+81901234567")
    subs = await sns.list_subscriptions(aws, region, topic.arn)
    assert {(s.protocol, s.endpoint) for s in subs} == {("email", "oncall@example.com"), ("sms", "+81901234567")}
    assert {s.topic_arn for s in await sns.list_subscriptions(aws, region)} >= {topic.arn}
    assert await sns.publish(aws, region, topic.arn, "test from opstui", "opstui test")


@pytest.mark.parametrize(("protocol", "endpoint", "message"), [
    ("email", "not-an-address", "is not an e-mail address"),
    ("https", "http://hooks.example.com/x", "must be a URL starting with https://"),
    ("http", "hooks.example.com", "must be a URL starting with http://"),
    ("sms", "090-1234-5678", "E.164"),
    ("email", "", "endpoint: required"),
    ("carrier-pigeon", "x", "protocol: one of"),
])
async def test_bad_endpoints_are_refused_before_sending(protocol, endpoint, message):
    assert message in (sns.endpoint_problem(protocol, endpoint) or "")
    aws = AwsClients(endpoint_url="http://127.0.0.1:9", credentials=UNUSED_CREDS)  # nothing is sent
    with pytest.raises(ValueError, match="."):
        await sns.subscribe(aws, "ap-northeast-1", "arn:aws:sns:ap-northeast-1:123456789012:x", protocol, endpoint)
    assert not aws.calls
    await aws.close()


# -- Synthetics --------------------------------------------------------------------------------------------


async def test_seeded_canaries_with_last_runs_and_history(sandbox, aws):
    region = sandbox.regions[0]
    canaries = {c.name: c for c in await synthetics.describe_canaries(aws, region)}
    heartbeat = canaries["storefront-heartbeat"]
    assert heartbeat.schedule == "rate(1 minute)" and heartbeat.state == "RUNNING"
    assert heartbeat.last_run is not None and heartbeat.last_run.status in ("PASSED", "FAILED", "RUNNING")
    legacy = canaries["legacy-api-heartbeat"]
    assert legacy.failing and "ERR_CONNECTION_REFUSED" in legacy.last_run.reason
    runs = await synthetics.canary_runs(aws, region, "storefront-heartbeat", max_runs=150)
    assert len(runs) == 150  # two pages of 100
    assert [r.started for r in runs] == sorted((r.started for r in runs), reverse=True)


async def test_heartbeat_canary_created_with_the_blueprint_and_started(sandbox, aws):
    region = sandbox.regions[0]
    name = _name("hb")
    spec = HeartbeatSpec(name=name, region=region, url="http://127.0.0.1:9/health",
                         execution_role="arn:aws:iam::123456789012:role/CloudWatchSyntheticsRole",
                         artifact_location="s3://cw-syn-results-123456789012-ap-northeast-1/canary/")
    await synthetics.create_heartbeat(aws, spec)
    [canary] = [c for c in await synthetics.describe_canaries(aws, region) if c.name == name]
    assert canary.schedule == "rate(1 minute)" and canary.handler == synthetics.HANDLER
    assert canary.state in ("STARTING", "RUNNING")
    await synthetics.stop_canary(aws, region, name)
    with zipfile.ZipFile(BytesIO(synthetics.heartbeat_zip(spec.url))) as zf:
        assert '"http://127.0.0.1:9/health"' in zf.read(synthetics.SCRIPT_PATH).decode()


@pytest.mark.parametrize(("name", "url", "schedule", "message"), [
    ("Storefront", "https://shop.example.com", "rate(1 minute)", "name: 1 to 255 lowercase"),
    ("shop", "shop.example.com", "rate(1 minute)", "is not an http:// or https:// URL"),
    ("shop", "ftp://shop.example.com", "rate(1 minute)", "is not an http:// or https:// URL"),
    ("shop", "https://shop.example.com", "rate(0 minutes)", "at least rate(1 minute)"),
    ("shop", "https://shop.example.com", "rate(30 seconds)", "is not a rate expression"),
    ("shop", "https://shop.example.com", "every minute", "is not a rate expression"),
])
def test_heartbeat_form_input_is_checked(name, url, schedule, message):
    problems = synthetics.heartbeat_problems(name, url, schedule, "arn:aws:iam::1:role/r", "s3://b/p/")
    assert any(message in p for p in problems), problems


# -- read-only ---------------------------------------------------------------------------------------------


async def test_read_only_refuses_alarm_topic_and_canary_changes(sandbox):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True, max_attempts=1)
    region = sandbox.regions[0]
    try:
        assert isinstance(await cw.describe_alarms(aws, region), list)  # reads still work
        spec = cw.alarm_spec(name="ro", region=region, metric=cw.node_metric("cpu", "i-0123"), threshold="1")
        changes = [
            cw.put_metric_alarm(aws, spec),
            cw.delete_alarms(aws, region, ["ro"]),
            cw.set_alarm_actions(aws, region, ["ro"], enabled=False),
            sns.create_topic(aws, region, "ro-topic"),
            sns.publish(aws, region, "arn:aws:sns:ap-northeast-1:123456789012:ops-alerts", "x"),
            synthetics.start_canary(aws, region, "storefront-heartbeat"),
            synthetics.create_heartbeat(aws, HeartbeatSpec("ro-canary", region, "https://x.example.com",
                                                           execution_role="arn:aws:iam::1:role/r",
                                                           artifact_location="s3://b/p/")),
        ]
        for change in changes:
            with pytest.raises(ReadOnlyError):
                await change
        assert not any(op.split(":")[1].startswith(("Put", "Delete", "Disable", "Create", "Publish", "Start"))
                       for op in aws.calls)
    finally:
        await aws.close()


async def test_email_subscription_reads_pending_until_its_address_confirms(sandbox, aws):
    """AWS keeps an email subscription "PendingConfirmation" until the link in its confirmation mail is used;
    the app's list shows it pending, then confirmed."""
    region = sandbox.regions[0]
    topic = await sns.create_topic(aws, region, _name("confirm"))
    arn = await sns.subscribe(aws, region, topic.arn, "email", "pending@example.com")
    (sub,) = await sns.list_subscriptions(aws, region, topic.arn)
    assert sub.pending and sub.arn == "PendingConfirmation"
    mail = next(d for d in sandbox._send("GET", "sns-outbox?protocol=email")["deliveries"]
                if d["endpoint"] == "pending@example.com" and d["kind"] == "confirmation")
    await aws.call("sns", region, "confirm_subscription", TopicArn=topic.arn, Token=mail["token"])
    (sub,) = await sns.list_subscriptions(aws, region, topic.arn)
    assert not sub.pending and sub.arn == arn
