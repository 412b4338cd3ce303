"""Following through Live Tail (aiobotocore's event stream -> HTTP -> the sandbox's StartLiveTail), and the
fall back to FilterLogEvents polling where Live Tail is refused."""

from __future__ import annotations

import time
import uuid

import pytest

from opstui.aws import logs
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError

R1 = "ap-northeast-1"


def _group() -> str:
    return f"/opstui/test/live-{uuid.uuid4().hex[:8]}"


async def _put(aws: AwsClients, group: str, stream: str, *messages: str) -> None:
    for op, params in (("create_log_group", {"logGroupName": group}),
                       ("create_log_stream", {"logGroupName": group, "logStreamName": stream})):
        try:
            await aws.call("logs", R1, op, **params)
        except OpsError as err:
            if err.code != "ResourceAlreadyExistsException":
                raise
    now = int(time.time() * 1000)
    await aws.call("logs", R1, "put_log_events", logGroupName=group, logStreamName=stream,
                   logEvents=[{"timestamp": now, "message": m} for m in messages])


async def _until(follower: logs.LiveTailFollower, aws: AwsClients, message: str) -> list[logs.LogEvent]:
    """Poll (waiting for each Live Tail update) until ``message`` arrives; every event seen meanwhile."""
    seen: list[logs.LogEvent] = []
    for _ in range(15):
        update = await follower.poll(aws, wait=2.0)
        assert not update.errors
        seen += update.events
        if any(e.message == message for e in seen):
            return seen
    raise AssertionError(f"{message!r} never arrived: {[e.message for e in seen]}")


async def test_a_put_line_arrives_through_live_tail_after_the_history(aws: AwsClients, sandbox) -> None:
    group = _group()
    await _put(aws, group, "i-0aaa", "history line")
    follower = logs.LiveTailFollower([logs.FollowTarget(R1, group)])
    try:
        first = await follower.poll(aws)
        assert follower.mode == "live tail" and follower.reason == ""
        assert [e.message for e in first.events] == ["history line"]  # the backfill, from FilterLogEvents
        filter_calls = aws.calls["logs:FilterLogEvents"]
        await _put(aws, group, "i-0aaa", "live line")
        seen = await _until(follower, aws, "live line")
        assert [e.message for e in seen] == ["live line"]  # once, and not the history again
        assert (seen[0].group, seen[0].stream, seen[0].region) == (group, "i-0aaa", R1)
        assert aws.calls["logs:FilterLogEvents"] == filter_calls  # pushed, not polled
        assert aws.calls["logs:StartLiveTail"] >= 1
    finally:
        await follower.close()


async def test_a_node_target_and_a_pattern_narrow_the_session(aws: AwsClients) -> None:
    group = _group()
    await _put(aws, group, "i-0aaa", "start")
    follower = logs.LiveTailFollower([logs.FollowTarget(R1, group, stream_prefix="i-0bbb")], pattern="ERROR")
    try:
        await follower.poll(aws)
        assert follower.mode == "live tail"
        await _put(aws, group, "i-0aaa", "ERROR other node")
        await _put(aws, group, "i-0bbb", "INFO quiet", "ERROR mine")
        seen = await _until(follower, aws, "ERROR mine")
        assert [(e.stream, e.message) for e in seen] == [("i-0bbb", "ERROR mine")]
    finally:
        await follower.close()


@pytest.mark.parametrize("refusal", ["unsupported", "denied"])
async def test_a_refused_live_tail_falls_back_to_polling_and_says_why(aws: AwsClients, sandbox, refusal: str) -> None:
    group = _group()
    await _put(aws, group, "i-0aaa", "before")
    if refusal == "unsupported":
        sandbox.live_tail(supported=False)
    else:
        sandbox.add_fault("AccessDenied", service="logs", action="StartLiveTail")
    follower = logs.LiveTailFollower([logs.FollowTarget(R1, group)])
    try:
        first = await follower.poll(aws)
        assert follower.mode == "polling"
        assert ("UnknownOperationException" if refusal == "unsupported" else "logs:StartLiveTail") in follower.reason
        assert [e.message for e in first.events] == ["before"]
        await _put(aws, group, "i-0aaa", "after")
        assert [e.message for e in (await follower.poll(aws)).events] == ["after"]  # polling follows on
    finally:
        sandbox.live_tail(supported=True)
        await follower.close()


async def test_read_only_mode_refuses_live_tail_and_follows_by_polling(sandbox) -> None:
    """A Live Tail session is billed by the minute: read-only mode does not start one (the guard refuses it
    before anything is sent) and the follower polls FilterLogEvents, a read, instead."""
    ro = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=2, read_only=True)
    group = _group()
    writer = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=2)
    try:
        await _put(writer, group, "s", "x")
        follower = logs.LiveTailFollower([logs.FollowTarget(R1, group)])
        sent = sandbox.calls().get("logs:StartLiveTail", 0)
        first = await follower.poll(ro)
        assert follower.mode != "live tail" and ro.refused["logs:StartLiveTail"] >= 1
        assert sandbox.calls().get("logs:StartLiveTail", 0) == sent  # never sent
        assert [e.message for e in first.events] == ["x"]  # the history, by FilterLogEvents
        await _put(writer, group, "s", "y")
        assert [e.message for e in (await follower.poll(ro)).events] == ["y"]
        await follower.close()
    finally:
        await ro.close()
        await writer.close()


async def test_closing_the_follower_ends_its_sessions(aws: AwsClients, sandbox) -> None:
    group = _group()
    await _put(aws, group, "s", "x")
    follower = logs.LiveTailFollower([logs.FollowTarget(R1, group)])
    await follower.poll(aws)
    assert any(group in s["groups"] for s in sandbox.live_tail()["sessions"])
    await follower.close()
    for _ in range(50):  # the sandbox notices at its next write (one update a second)
        if not any(group in s["groups"] for s in sandbox.live_tail()["sessions"]):
            break
        time.sleep(0.1)
    assert not any(group in s["groups"] for s in sandbox.live_tail()["sessions"])


def test_sessions_respect_live_tails_limits() -> None:
    whole = [logs.FollowTarget(R1, f"/g{i}") for i in range(12)]
    narrowed = [logs.FollowTarget(R1, "/n", stream_prefix="i-0"), logs.FollowTarget(R1, "/m", stream_names=("a",))]
    other = [logs.FollowTarget("us-east-1", "/g0")]
    sessions = logs.live_tail_sessions(whole + narrowed + other)
    assert sorted(len(s) for s in sessions) == [1, 1, 1, 2, 10]
    assert all(len({t.region for t in s}) == 1 for s in sessions)


async def test_a_session_that_ends_is_started_again_and_the_gap_is_read_once(aws: AwsClients) -> None:
    group = _group()
    await _put(aws, group, "s", "first")
    follower = logs.LiveTailFollower([logs.FollowTarget(R1, group)])
    try:
        await follower.poll(aws)
        await _put(aws, group, "s", "seen live")
        await _until(follower, aws, "seen live")
        follower._streams[0].close()  # the connection drops (what a network fault or the 3-hour limit does)
        await _put(aws, group, "s", "in the gap")
        seen = await _until(follower, aws, "in the gap")
        assert follower.mode == "live tail" and aws.calls["logs:StartLiveTail"] >= 2
        assert [e.message for e in seen] == ["in the gap"]  # from the catch-up poll, "seen live" not again
        await _put(aws, group, "s", "after the restart")
        assert [e.message for e in await _until(follower, aws, "after the restart")] == ["after the restart"]
    finally:
        await follower.close()
