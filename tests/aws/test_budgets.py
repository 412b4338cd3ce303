"""Budgets: the app stays inside AWS's request-rate limits for what it polls (opstui/aws/budgets.py), counted by
the sandbox per operation, per region and per second; the pacing itself; refreshes that never overlap."""

from __future__ import annotations

import asyncio
import time

from opstui.aws.budgets import BUDGETS, Budget, Pacer, TokenBucket
from opstui.aws.clients import AwsClients
from opstui.aws.fleet import load_fleet
from opstui.aws.models import CommandRequest
from opstui.runs.launch import send_plan
from opstui.runs.targets import plan_for_nodes, platform_type
from opstui.runs.tracker import RunTracker

POLLED = ("DescribeInstanceInformation", "ListCommandInvocations", "GetCommandInvocation", "ListCommands")


def ceiling(key: str) -> int:
    """The most calls a second the budget of ``"service:Operation@region"`` lets through."""
    service_op = key.split("@", 1)[0]
    service, op = service_op.split(":", 1)
    return BUDGETS[(service, op)].max_per_second


def test_every_polled_operation_has_a_budget_with_its_source():
    for op in POLLED:
        budget = BUDGETS[("ssm", op)]
        assert budget.rate > 0 and budget.burst >= 1 and budget.source.startswith("https://docs.aws.amazon.com/")
    assert BUDGETS[("ec2", "DescribeInstances")].source.startswith("https://docs.aws.amazon.com/ec2/")


async def test_a_bucket_lets_a_burst_through_then_paces_at_its_rate():
    bucket = TokenBucket(Budget(rate=20, burst=5, source=""))
    for _ in range(5):
        await bucket.take()
    assert bucket.waited == 0  # the burst did not wait
    started = time.monotonic()
    for _ in range(4):
        await bucket.take()
    assert time.monotonic() - started >= 4 / 20 - 0.02  # then one token every 1/rate seconds
    assert bucket.waited > 0


async def test_operations_without_a_budget_and_other_regions_are_not_held():
    pacer = Pacer({("ssm", "X"): Budget(rate=1, burst=1, source="")})
    await pacer.take("ssm", "X", "r1")
    await asyncio.wait_for(pacer.take("ssm", "X", "r2"), 0.5)  # each region has its own bucket
    await asyncio.wait_for(pacer.take("ssm", "Y", "r1"), 0.5)  # no budget, no wait


async def test_a_fleet_listing_stays_under_the_budgets_per_second(big_sandbox):
    """Six listings paged side by side per region, at loopback speed: still no second over the budget."""
    big_sandbox.clear_calls()
    aws = AwsClients(endpoint_url=big_sandbox.endpoint, credentials=big_sandbox.aws_credentials)
    try:
        for _ in range(3):  # three refreshes back to back: 3 x (6 listings + pages) a region, well over a burst
            snap = await load_fleet(aws, big_sandbox.regions)
            assert not snap.errors
    finally:
        await aws.close()
    peaks = big_sandbox.peak_per_second()
    listing = {k: v for k, v in peaks.items() if k.startswith(("ssm:DescribeInstanceInformation", "ec2:"))}
    assert len(listing) == 2 * len(big_sandbox.regions)
    assert max(listing.values()) > 1  # it did page side by side
    for key, peak in listing.items():
        assert peak <= ceiling(key), (key, peak)


async def test_the_pacing_holds_every_attempt_sent_to_the_budget(big_sandbox):
    """A tight budget, six listings of both regions at once (about 30 calls a second unpaced here): the sandbox
    sees no second above it, in either region."""
    tight = Budget(rate=4, burst=4, source="")
    aws = AwsClients(endpoint_url=big_sandbox.endpoint, credentials=big_sandbox.aws_credentials)
    aws.pacer = Pacer({("ssm", "DescribeInstanceInformation"): tight})
    big_sandbox.clear_calls()
    try:
        await asyncio.gather(*(load_fleet(aws, big_sandbox.regions) for _ in range(6)))
    finally:
        await aws.close()
    peaks = big_sandbox.peak_per_second()
    for region in big_sandbox.regions:
        # the client spaces its attempts; the sandbox counts them as it serves them, and a machine that stalls
        # for a moment serves a little of the next second's share late: one second of the rate is slack
        assert peaks[f"ssm:DescribeInstanceInformation@{region}"] <= tight.max_per_second + tight.rate
    assert aws.calls["ssm:DescribeInstanceInformation"] > 3 * tight.max_per_second
    assert any(v > 0 for v in aws.pacer.waited().values())


async def test_a_run_command_stays_under_the_budgets_per_second(big_sandbox):
    aws = AwsClients(endpoint_url=big_sandbox.endpoint, credentials=big_sandbox.aws_credentials, max_attempts=2)
    try:
        fleet = await load_fleet(aws, big_sandbox.regions[:1])
        nodes = [n for n in fleet.nodes if n.ping_status == "Online" and platform_type(n) == "Linux"
                 and n.ec2_state in ("running", "")][:60]
        big_sandbox.clear_calls()
        sent = await send_plan(aws, plan_for_nodes(nodes),
                               CommandRequest("AWS-RunShellScript", {"commands": ["echo $AWS_SSM_INSTANCE_ID"]}))
        tracker = RunTracker(aws, list(sent.commands))
        deadline = time.monotonic() + 40
        while not (await tracker.poll()).finished:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)  # far faster than the tab polls: the pacing must hold anyway
    finally:
        await aws.close()
    peaks = big_sandbox.peak_per_second()
    polled = {k: v for k, v in peaks.items() if k.split("@")[0].split(":")[1] in POLLED}
    assert any(k.startswith("ssm:ListCommandInvocations") for k in polled)
    for key, peak in polled.items():
        assert peak <= ceiling(key), (key, peak)
