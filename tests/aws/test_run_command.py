"""Run Command through the aws layer and the run tracker, against the sandbox's real executor:
aiobotocore -> HTTP -> sandbox -> bash in each node's directory -> CloudWatch Logs / S3 -> back."""

import asyncio
import time

import pytest

from opstui.aws import ssm
from opstui.aws.clients import AwsClients
from opstui.aws.errors import OpsError, ReadOnlyError
from opstui.aws.fleet import load_fleet
from opstui.aws.models import CommandRequest, invocation_outcome
from opstui.runs.launch import send_plan
from opstui.runs.targets import parse_target, plan_for, plan_for_nodes, platform_type
from opstui.runs.tracker import RunTracker

R1 = "ap-northeast-1"


async def run_to_end(tracker: RunTracker, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (await tracker.poll()).finished:
        assert time.monotonic() < deadline, f"run did not finish: {tracker.progress()}"
        await asyncio.sleep(0.3)


async def online_nodes(aws, regions=(R1,), role=None):
    fleet = await load_fleet(aws, regions)
    nodes = [n for n in fleet.nodes if n.ping_status == "Online" and platform_type(n) == "Linux"
             and n.ec2_state in ("running", "")]
    if role:
        nodes = [n for n in nodes if n.tag("Role") == role]
    return fleet, nodes


def shell(*commands: str, **kw) -> CommandRequest:
    return CommandRequest("AWS-RunShellScript", {"commands": list(commands)}, **kw)


async def test_each_node_runs_the_command_in_its_own_place_and_outputs_group(aws):
    fleet, nodes = await online_nodes(aws)
    picked = nodes[:4]
    sent = await send_plan(aws, plan_for_nodes(picked), shell("echo same", "echo id=$AWS_SSM_INSTANCE_ID >&2"))
    tracker = RunTracker(aws, list(sent.commands), {n.instance_id: n.name for n in picked})
    await run_to_end(tracker)
    for n in picked:
        stdout, stderr = tracker.output(f"{R1}/{n.instance_id}")
        assert stdout == "same\n"
        assert f"id={n.instance_id}" in stderr
    groups = tracker.groups()
    assert len(groups) == 1 and groups[0].size == 4 and groups[0].exit_code == 0


async def test_different_outputs_and_exit_codes_make_separate_groups(aws):
    _, nodes = await online_nodes(aws)
    picked = nodes[:3]
    odd = picked[0].instance_id
    script = f'if [ "$AWS_SSM_INSTANCE_ID" = {odd} ]; then echo broken; exit 3; fi; echo fine'
    sent = await send_plan(aws, plan_for_nodes(picked), shell(script))
    tracker = RunTracker(aws, list(sent.commands))
    await run_to_end(tracker)
    groups = tracker.groups()
    assert [(g.size, g.exit_code, g.stdout) for g in groups] == [(2, 0, "fine\n"), (1, 3, "broken\n")]
    assert tracker.failed_keys() == [f"{R1}/{odd}"]


async def test_output_streams_before_the_command_finishes(aws):
    _, nodes = await online_nodes(aws)
    sent = await send_plan(aws, plan_for_nodes(nodes[:1]), shell("for i in 1 2 3; do echo $i; sleep 1; done"))
    tracker = RunTracker(aws, list(sent.commands))
    seen_first_line_while_running = False
    deadline = time.monotonic() + 20
    while True:
        update = await tracker.poll()
        text = "".join(t for _, stream, t in update.appended if stream == "stdout")
        if "1\n" in text and not update.finished and "3\n" not in text:
            seen_first_line_while_running = True
        if update.finished:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert seen_first_line_while_running
    assert tracker.output(f"{R1}/{nodes[0].instance_id}")[0] == "1\n2\n3\n"


async def test_polling_costs_pages_not_calls_per_node(big_sandbox):
    aws = AwsClients(endpoint_url=big_sandbox.endpoint, credentials=big_sandbox.aws_credentials, max_attempts=2)
    try:
        _, nodes = await online_nodes(aws)
        picked = nodes[:60]  # two SendCommands (50 ids each at most)
        sent = await send_plan(aws, plan_for_nodes(picked), shell("echo same"))
        assert len(sent.commands) == 2
        tracker = RunTracker(aws, list(sent.commands))
        before = dict(aws.calls)
        polls = 0
        deadline = time.monotonic() + 40
        while not (await tracker.poll()).finished:
            polls += 1
            assert time.monotonic() < deadline
            await asyncio.sleep(0.3)
        polls += 1
        calls = {k: v - before.get(k, 0) for k, v in aws.calls.items()}
        # per poll and command: 1 ListCommands, <= 1 page of invocations (<= 50 nodes), 1 FilterLogEvents
        assert calls.get("ssm:ListCommandInvocations", 0) <= 2 * polls
        assert calls.get("logs:FilterLogEvents", 0) <= 2 * polls
        assert calls.get("ssm:GetCommandInvocation", 0) == 0  # the output came through the logs
        assert len(tracker.groups()) == 1 and tracker.groups()[0].size == 60
    finally:
        await aws.close()


async def test_truncated_output_is_fetched_whole_from_s3(aws):
    boto_bucket = "opstui-run-output"
    await aws.call("s3", R1, "create_bucket", Bucket=boto_bucket,
                   CreateBucketConfiguration={"LocationConstraint": R1})
    _, nodes = await online_nodes(aws)
    # 40,000 characters of stdout: GetCommandInvocation keeps 24,000; logs off so that is all we get
    req = shell("head -c 40000 /dev/zero | tr '\\0' x", cloudwatch_output=False, s3_bucket=boto_bucket,
                s3_prefix="runs")
    sent = await send_plan(aws, plan_for_nodes(nodes[:1]), req)
    tracker = RunTracker(aws, list(sent.commands))
    await run_to_end(tracker)
    key = f"{R1}/{nodes[0].instance_id}"
    state = next(s for s in tracker.states() if s.key == key)
    assert state.truncated and state.stdout_chars == 24_000
    full = await tracker.full_output(key)
    assert full == "x" * 40_000


async def test_cancel_stops_a_running_command(aws):
    _, nodes = await online_nodes(aws)
    sent = await send_plan(aws, plan_for_nodes(nodes[:2]), shell("sleep 30"))
    tracker = RunTracker(aws, list(sent.commands))
    await asyncio.sleep(0.5)
    assert await tracker.cancel() == [sent.commands[0].command_id]
    await run_to_end(tracker, timeout=15)
    assert {s.status for s in tracker.states()} == {"Cancelled"}


async def test_tag_target_reaches_the_tagged_nodes(aws):
    fleet = await load_fleet(aws, [R1])
    plan = plan_for(parse_target("tag:Role=web"), fleet)
    sent = await send_plan(aws, plan, shell("echo web", timeout_seconds=30))
    assert sent.commands[0].targets == (("tag:Role", ("web",)),)
    tracker = RunTracker(aws, list(sent.commands))
    await run_to_end(tracker, timeout=60)
    states = {s.instance_id: s for s in tracker.states()}
    assert set(states) == {n.instance_id for n in plan.radius.nodes}
    for n in plan.radius.nodes:
        expected = "Success" if n.ping_status == "Online" else "DeliveryTimedOut"
        assert states[n.instance_id].outcome == expected, n.name


async def test_unknown_document_and_instance_id_are_clear_errors(aws):
    with pytest.raises(OpsError) as err:
        await ssm.send_command(aws, R1, CommandRequest("No-Such-Doc", {"commands": ["x"]},
                                                       instance_ids=("i-0123456789abcdef0",)))
    assert err.value.kind == "invalid" and "No-Such-Doc" in str(err.value)
    with pytest.raises(OpsError) as err:
        await ssm.send_command(aws, R1, shell("true", instance_ids=("i-0000000000000dead",)))
    assert err.value.kind == "not-found" and "ap-northeast-1" in str(err.value)


async def test_read_only_refuses_send_and_cancel_before_anything_is_sent(sandbox):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, read_only=True)
    try:
        fleet = await load_fleet(aws, [R1])
        plan = plan_for(parse_target("tag:Role=web"), fleet)
        with pytest.raises(ReadOnlyError):
            await send_plan(aws, plan, shell("touch /tmp/should-not-exist"))
        with pytest.raises(ReadOnlyError):
            await ssm.cancel_command(aws, R1, "00000000-0000-0000-0000-000000000000")
        assert aws.calls["ssm:SendCommand"] == 0 and aws.calls["ssm:CancelCommand"] == 0
    finally:
        await aws.close()


async def test_a_throttled_poll_is_reported_and_the_run_still_finishes(sandbox):
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials, max_attempts=1)  # 1 retry, then give up
    try:
        _, nodes = await online_nodes(aws)
        sent = await send_plan(aws, plan_for_nodes(nodes[:1]), shell("echo ok"))
        tracker = RunTracker(aws, list(sent.commands))
        sandbox.add_fault("Throttling", service="ssm", action="ListCommands")
        update = await tracker.poll()
        assert update.errors and "throttled" in update.errors[0] and "ap-northeast-1" in update.errors[0]
        sandbox.clear_faults()
        await run_to_end(tracker)
        assert tracker.output(f"{R1}/{nodes[0].instance_id}")[0] == "ok\n"
    finally:
        await aws.close()


async def test_a_plan_over_two_regions_sends_to_both(aws, sandbox):
    """Both regions get their command: by tag (AWS expands it per region) and by instance ids."""
    import boto3

    fleet, nodes = await online_nodes(aws, regions=tuple(sandbox.regions))
    by_tag = plan_for(parse_target("tag:Role=app"), fleet)
    assert set(by_tag.regions) == set(sandbox.regions)
    picked = [next(n for n in nodes if n.region == r) for r in sandbox.regions]
    by_ids = plan_for_nodes(picked)
    for plan in (by_tag, by_ids):
        sent = await send_plan(aws, plan, shell("echo both"))
        assert not sent.errors
        assert {c.region for c in sent.commands} == set(sandbox.regions)
        for command in sent.commands:  # the service's own record in each region, not our bookkeeping
            ssm_client = boto3.client("ssm", region_name=command.region, endpoint_url=sandbox.endpoint,
                                      **sandbox.boto_kwargs())
            listed = ssm_client.list_commands(CommandId=command.command_id)["Commands"]
            assert [c["CommandId"] for c in listed] == [command.command_id]
        tracker = RunTracker(aws, list(sent.commands))
        await run_to_end(tracker)
        assert {key.split("/")[0] for key in tracker.nodes} == set(sandbox.regions)


async def test_rerun_failed_takes_every_node_that_did_not_succeed(aws, sandbox):
    """Failed (exit 3), ExecutionTimedOut, DeliveryTimedOut (ConnectionLost agent) and Undeliverable (stopped
    instance) are all "failed" for a re-run; only a clean success is left out."""
    fleet = await load_fleet(aws, (R1,))
    by_name = {n.name: n for n in fleet.nodes}
    ok, bad, slow = by_name["stg-web-01"], by_name["stg-db-01"], by_name["prod-batch-01"]
    lost, stopped = by_name["prod-web-03"], by_name["stg-app-02"]  # the scenario's ConnectionLost / stopped
    assert lost.ping_status == "ConnectionLost" and stopped.ec2_state == "stopped"
    script = (f'case "$AWS_SSM_INSTANCE_ID" in {bad.instance_id}) echo bad; exit 3;; '
              f'{slow.instance_id}) sleep 30;; esac; echo fine')
    request = CommandRequest("AWS-RunShellScript", {"commands": [script], "executionTimeout": ["1"]},
                             max_errors="100%", timeout_seconds=30)  # every node runs to its own end
    sent = await send_plan(aws, plan_for_nodes([ok, bad, slow, lost, stopped]), request)
    tracker = RunTracker(aws, list(sent.commands), {n.instance_id: n.name for n in fleet.nodes})
    await run_to_end(tracker, timeout=60)
    runs = {n.name: tracker.nodes[f"{R1}/{n.instance_id}"] for n in (ok, bad, slow, lost, stopped)}
    outcomes = {name: invocation_outcome(run.status, run.details) for name, run in runs.items()}
    assert outcomes == {"stg-web-01": "Success", "stg-db-01": "Failed", "prod-batch-01": "ExecutionTimedOut",
                        "prod-web-03": "DeliveryTimedOut", "stg-app-02": "Undeliverable"}
    assert sorted(tracker.failed_keys()) == sorted(f"{R1}/{n.instance_id}" for n in (bad, slow, lost, stopped))


@pytest.fixture
def late_logs(sandbox):
    """AWS does not order a node's terminal status and its last CloudWatch Logs events; the sandbox's
    ``final_logs_lag`` knob makes the last chunk arrive that long after the status turns terminal."""
    from tests.sandbox_control import SandboxControl

    control = SandboxControl.of(sandbox)

    def lag(seconds: float) -> None:
        control.run_command_configure(final_logs_lag=seconds)

    yield lag
    control.run_command_configure(final_logs_lag=0.0)


def _fetches(aws) -> int:
    return aws.calls.get("ssm:GetCommandInvocation", 0)


async def test_output_that_reaches_the_logs_after_the_status_is_shown_once(aws, late_logs):
    """A node's last events come later than the next poll: the tracker takes its output from
    GetCommandInvocation, and the events that arrive after that (while another node still runs) do not add
    it a second time (CI saw 'fine\\nfine\\n')."""
    late_logs(0.8)
    _, nodes = await online_nodes(aws)
    quick, slow = nodes[:2]
    script = f'if [ "$AWS_SSM_INSTANCE_ID" = {slow.instance_id} ]; then sleep 2.5; fi; echo fine'
    sent = await send_plan(aws, plan_for_nodes([quick, slow]), shell(script))
    tracker = RunTracker(aws, list(sent.commands))
    before = _fetches(aws)
    await run_to_end(tracker)
    assert _fetches(aws) > before
    for n in (quick, slow):
        assert tracker.output(f"{R1}/{n.instance_id}") == ("fine\n", "")
    assert [(g.size, g.stdout) for g in tracker.groups()] == [(2, "fine\n")]


async def test_logs_a_moment_behind_the_status_are_waited_for_not_fetched(aws, late_logs):
    """The last events come shortly after the terminal status, within the next poll: the tracker reads them
    from the logs and asks GetCommandInvocation nothing."""
    late_logs(0.05)
    _, nodes = await online_nodes(aws)
    sent = await send_plan(aws, plan_for_nodes(nodes[:3]), shell("echo fine"))
    tracker = RunTracker(aws, list(sent.commands))
    before = _fetches(aws)
    await run_to_end(tracker)
    assert _fetches(aws) == before
    assert [(g.size, g.stdout) for g in tracker.groups()] == [(3, "fine\n")]
