"""Request-rate budgets: opstui paces the operations it polls so that it stays inside AWS's throttling limits.

Why: the Fleet pages six DescribeInstanceInformation listings per region side by side and Run Command polls
while a run streams; against a fast endpoint that is tens of calls a second, and AWS answers a burst beyond its
limit with throttling errors, for opstui and for every other tool of the account in that region. Each budget
is a token bucket per (service, operation, region), as AWS meters them (per account and Region): a call waits
for a token before it is sent -- each attempt, retries included (botocore's ``before-send`` event, awaited by
aiobotocore) -- so the sustained rate never exceeds ``rate`` and no second holds more than ``burst + rate``.

The limits, and where they come from:

* EC2 ``DescribeInstances``: a non-mutating action; EC2 meters those with a request token bucket per action,
  the page's example (DescribeHosts) 100 tokens refilled at 20 a second
  (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). opstui keeps to half of it.
* Systems Manager ``DescribeInstanceInformation``, ``ListCommandInvocations``, ``GetCommandInvocation``,
  ``ListCommands``: AWS meters them per account and Region, but the Systems Manager quotas page
  (https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm) publishes throughput only for Parameter
  Store, not for these operations (as far as the copies we could search show). opstui assumes 10 calls a second
  sustained with bursts of 20, its own ceiling, to be replaced if AWS publishes one; at 120 ms a call, that is
  more than one listing paging back to back can use, so it only binds against a fast endpoint.

The tests hold the app to these (``tests/aws/test_budgets.py``): the sandbox counts the calls it serves per
second (``GET /_opstui/calls``) and no second may hold more than the budget lets through (a full bucket and
one second of refill, :attr:`Budget.max_per_second`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """At most ``burst`` calls at once, ``rate`` a second sustained."""

    rate: float
    burst: int
    source: str

    @property
    def max_per_second(self) -> int:
        """The most calls any one second can hold: a full bucket plus one second of refill."""
        return int(self.burst + self.rate)


EC2_THROTTLING = "https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html"
SSM_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/ssm.html#limits_ssm"

#: (signing name, operation) -> budget, per region
BUDGETS: dict[tuple[str, str], Budget] = {
    ("ec2", "DescribeInstances"): Budget(10, 50, EC2_THROTTLING),
    ("ssm", "DescribeInstanceInformation"): Budget(10, 20, SSM_QUOTAS),
    ("ssm", "ListCommandInvocations"): Budget(10, 20, SSM_QUOTAS),
    ("ssm", "GetCommandInvocation"): Budget(10, 20, SSM_QUOTAS),
    ("ssm", "ListCommands"): Budget(10, 20, SSM_QUOTAS),
}


class TokenBucket:
    """One budget's bucket on one event loop: :meth:`take` returns once a token is there."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.tokens = float(budget.burst)
        self.stamp = time.monotonic()
        self.waited = 0.0  # total seconds callers waited (the bench reports it)
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(float(self.budget.burst), self.tokens + (now - self.stamp) * self.budget.rate)
        self.stamp = now

    async def take(self) -> None:
        async with self._lock:  # first come, first served
            now = time.monotonic()
            self._refill(now)
            if self.tokens < 1:
                wait = (1 - self.tokens) / self.budget.rate
                self.waited += wait
                await asyncio.sleep(wait)
                self._refill(time.monotonic())
            self.tokens -= 1


class Pacer:
    """The buckets of one AwsClients: one per (service, operation, region) that has a budget."""

    def __init__(self, budgets: dict[tuple[str, str], Budget] | None = None) -> None:
        self.budgets = BUDGETS if budgets is None else budgets
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}

    async def take(self, service: str, operation: str, region: str) -> None:
        budget = self.budgets.get((service, operation))
        if budget is None:
            return
        key = (service, operation, region)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(budget)
        await bucket.take()

    def waited(self) -> dict[str, float]:
        """Seconds spent waiting for tokens, per "service:Operation@region"."""
        return {f"{s}:{o}@{r}": round(b.waited, 3) for (s, o, r), b in self.buckets.items() if b.waited}
