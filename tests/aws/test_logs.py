"""CloudWatch Logs through aiobotocore -> HTTP -> sandbox: groups, streams, events, following, Insights and
metric filters. Every test writes its own group (PutLogEvents), so it does not depend on what the scenario
seeds."""

from __future__ import annotations

import time
import uuid

import pytest

from opstui.aws import logs
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError, ReadOnlyError

R1 = "ap-northeast-1"


def _now_ms() -> int:
    return int(time.time() * 1000)


async def put(aws: AwsClients, group: str, stream: str, messages: list[str], start_ms: int | None = None,
              step_ms: int = 1, region: str = R1) -> None:
    """Create the group and stream if needed and write the messages, one millisecond apart."""
    for op, params in (("create_log_group", {"logGroupName": group}),
                       ("create_log_stream", {"logGroupName": group, "logStreamName": stream})):
        try:
            await aws.call("logs", region, op, **params)
        except OpsError as err:
            if err.code != "ResourceAlreadyExistsException":
                raise
    base = start_ms if start_ms is not None else _now_ms() - 60_000
    for i in range(0, len(messages), 5000):
        chunk = messages[i:i + 5000]
        await aws.call("logs", region, "put_log_events", logGroupName=group, logStreamName=stream,
                       logEvents=[{"timestamp": base + (i + j) * step_ms, "message": m} for j, m in enumerate(chunk)])


def _group() -> str:
    return f"/opstui/test/{uuid.uuid4().hex[:8]}"


async def test_groups_and_streams_with_retention_and_bytes(aws):
    group = _group()
    await put(aws, group, "i-0aaa", ["one", "two"])
    await put(aws, group, "i-0bbb", ["three"], start_ms=_now_ms() - 1000)
    await aws.call("logs", R1, "put_retention_policy", logGroupName=group, retentionInDays=14)
    found = [g for g in await logs.describe_log_groups(aws, R1, prefix="/opstui/test/") if g.name == group]
    assert len(found) == 1 and found[0].retention_days == 14 and found[0].region == R1
    streams = await logs.describe_log_streams(aws, R1, group)
    assert [s.name for s in streams] == ["i-0bbb", "i-0aaa"]  # newest last event first
    assert streams[0].last_event is not None
    assert [s.name for s in await logs.describe_log_streams(aws, R1, group, prefix="i-0a")] == ["i-0aaa"]


async def test_filter_events_interleaves_streams_by_time_and_pages_with_next_token(aws):
    group = _group()
    base = _now_ms() - 100_000
    await put(aws, group, "a", [f"a{i}" for i in range(30)], start_ms=base, step_ms=2)
    await put(aws, group, "b", [f"b{i}" for i in range(30)], start_ms=base + 1, step_ms=2)
    page = await logs.filter_events(aws, R1, group, limit=25)
    assert [e.message for e in page.events[:4]] == ["a0", "b0", "a1", "b1"]
    assert page.next_token
    rest = await logs.filter_events(aws, R1, group, limit=100, next_token=page.next_token)
    assert len(page.events) + len(rest.events) == 60 and rest.next_token is None
    every = await logs.filter_all(aws, R1, group)
    assert [e.timestamp for e in every] == sorted(e.timestamp for e in every) and len(every) == 60
    only_b = await logs.filter_all(aws, R1, group, stream_prefix="b")
    assert {e.stream for e in only_b} == {"b"} and all(e.group == group for e in only_b)


async def test_filter_pattern_is_applied_by_the_service(aws):
    group = _group()
    await put(aws, group, "s", ["GET / 200", "GET /x 500 ERROR", "POST / 201"])
    hits = await logs.filter_all(aws, R1, group, pattern="ERROR")
    assert [e.message for e in hits] == ["GET /x 500 ERROR"]


async def test_get_log_events_pages_forward_and_backward(aws):
    group = _group()
    await put(aws, group, "s", [f"line {i}" for i in range(50)])
    newest = await logs.get_log_events(aws, R1, group, "s", limit=10)
    assert [e.message for e in newest.events] == [f"line {i}" for i in range(40, 50)]
    assert newest.backward_token and newest.forward_token
    older = await logs.get_log_events(aws, R1, group, "s", limit=10, next_token=newest.backward_token)
    assert [e.message for e in older.events] == [f"line {i}" for i in range(30, 40)]
    head = await logs.get_log_events(aws, R1, group, "s", start_from_head=True, limit=5)
    assert [e.message for e in head.events] == [f"line {i}" for i in range(5)]


async def test_both_stream_names_and_prefix_is_refused_before_sending(aws):
    with pytest.raises(OpsError, match="not both"):
        await logs.filter_events(aws, R1, "g", stream_names=["a"], stream_prefix="a")
    assert aws.calls["logs:FilterLogEvents"] == 0


async def test_missing_group_is_not_found_naming_the_region(aws):
    with pytest.raises(OpsError) as info:
        await logs.filter_events(aws, R1, "/opstui/test/no-such-group")
    assert info.value.kind == "not-found" and info.value.region == R1


async def test_follower_merges_groups_by_time_without_duplicates_one_call_per_group(aws):
    g1, g2 = _group(), _group()
    base = _now_ms() - 30_000
    await put(aws, g1, "i-0node1", ["g1 first", "g1 second"], start_ms=base, step_ms=10)
    await put(aws, g1, "i-0node2", ["other node"], start_ms=base + 5)
    await put(aws, g2, "i-0node1/app", ["g2 first"], start_ms=base + 3)
    targets = logs.node_targets([(R1, g1), (R1, g2)], "i-0node1")
    follower = logs.LogFollower(targets, start_ms=base - 1000)
    before = aws.calls["logs:FilterLogEvents"]
    first = await follower.poll(aws)
    assert [e.message for e in first.events] == ["g1 first", "g2 first", "g1 second"]  # merged by time
    assert aws.calls["logs:FilterLogEvents"] - before == 2 == first.calls  # one call per group
    second = await follower.poll(aws)
    assert second.events == []  # the overlap re-read returns nothing twice
    await put(aws, g2, "i-0node1/app", ["g2 later"], start_ms=_now_ms())
    third = await follower.poll(aws)
    assert [e.message for e in third.events] == ["g2 later"] and third.events[0].group == g2


async def test_follower_reports_a_failing_group_and_keeps_the_others(aws):
    good = _group()
    await put(aws, good, "s", ["still here"])
    follower = logs.LogFollower([logs.FollowTarget(R1, good), logs.FollowTarget(R1, "/opstui/test/gone")],
                                start_ms=_now_ms() - 3_600_000)
    update = await follower.poll(aws)
    assert [e.message for e in update.events] == ["still here"]
    [(target, err)] = update.errors.items()
    assert target.group == "/opstui/test/gone" and err.kind == "not-found"


async def test_insights_query_runs_to_completion(aws):
    group = _group()
    await put(aws, group, "s", ["alpha 1", "beta 2", "alpha 3"])
    now = int(time.time())
    results = await logs.run_query(aws, R1, [group], "fields @timestamp, @message | sort @timestamp desc | limit 5",
                                   now - 3600, now + 60, poll=0.1, timeout=30)
    assert results.status == "Complete"
    assert "@message" in results.fields
    assert {dict(r).get("@message") for r in results.rows} >= {"alpha 1", "beta 2", "alpha 3"}


async def test_empty_query_and_no_group_are_refused_before_sending(aws):
    with pytest.raises(OpsError, match="empty"):
        await logs.start_query(aws, R1, ["g"], "  ", 0, 1)
    with pytest.raises(OpsError, match="at least one log group"):
        await logs.start_query(aws, R1, [], "fields @message", 0, 1)
    assert aws.calls["logs:StartQuery"] == 0


async def test_metric_filter_put_describe_delete(aws):
    group = _group()
    await put(aws, group, "s", ["x"])
    name = f"errors-{uuid.uuid4().hex[:6]}"
    await logs.put_metric_filter(aws, R1, group, name, '{ $.level = "ERROR" }', f"AppErrors{name}",
                                 namespace="Opstui/Test")
    [mf] = await logs.describe_metric_filters(aws, R1, group)
    assert (mf.name, mf.pattern, mf.metric.metric_name, mf.metric.namespace, mf.metric.value) == (
        name, '{ $.level = "ERROR" }', f"AppErrors{name}", "Opstui/Test", "1")
    by_metric = await logs.describe_metric_filters(aws, R1, metric_name=f"AppErrors{name}", namespace="Opstui/Test")
    assert [f.name for f in by_metric] == [name]
    await logs.delete_metric_filter(aws, R1, group, name)
    assert await logs.describe_metric_filters(aws, R1, group) == []


def test_metric_filter_form_problems_by_field():
    assert logs.metric_filter_problems("ok", "ERROR", "Errors", "App", "1") == {}
    problems = logs.metric_filter_problems("a:b", "x" * 2000, "", "App", "lots")
    assert set(problems) == {"name", "pattern", "metric", "value"}
    assert logs.metric_filter_problems("ok", "", "M", "N", "$.latency") == {}


async def test_read_only_refuses_metric_filter_changes_and_insights_but_reads_pass(sandbox):
    ro = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True,
                    max_attempts=2)
    try:
        for call in (logs.put_metric_filter(ro, R1, "g", "f", "ERROR", "M"),
                     logs.delete_metric_filter(ro, R1, "g", "f"),
                     logs.start_query(ro, R1, ["g"], "fields @message", 0, 1),
                     logs.stop_query(ro, R1, "q")):
            with pytest.raises(ReadOnlyError):
                await call
        await logs.describe_log_groups(ro, R1)
        await logs.describe_metric_filters(ro, R1)
        assert sum(ro.refused.values()) == 4 and ro.calls["logs:DescribeLogGroups"] >= 1
    finally:
        await ro.close()
