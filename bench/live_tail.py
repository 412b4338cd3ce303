"""Measure the follow delay, PutLogEvents -> event in the follower, with Live Tail and with polling.

    .venv/bin/python bench/live_tail.py            # 12 lines each way
    .venv/bin/python bench/live_tail.py --rounds 30

A sandbox child process (no living fleet) and one group. Each way, the follower is driven at the Logs
viewer's own cadence (``opstui/views/logs/follow.py``): Live Tail collects its sessions' buffered updates every
``LIVE_POLL_SECONDS`` (0.25 s, no API call); polling runs one FilterLogEvents every ``POLL_SECONDS`` (2 s).
Marker lines are put at random moments (so a put falls anywhere in a poll or update period); the delay is
from just before the PutLogEvents call to the poll that returns the line. Printed: median and worst.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opstui.aws import logs as lg  # noqa: E402
from opstui.aws.clients import AwsClients  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402
from opstui.views.logs.follow import LIVE_POLL_SECONDS, POLL_SECONDS  # noqa: E402

GROUP = "/bench/live-tail"


async def measure(aws: AwsClients, region: str, follower: lg.LiveTailFollower | lg.LogFollower, interval: float,
                  rounds: int, seed: int) -> list[float]:
    await follower.poll(aws)  # the history (and, for Live Tail, the session)
    arrived: dict[str, float] = {}
    done = asyncio.Event()

    async def follow() -> None:
        while not done.is_set():
            update = await follower.poll(aws)
            now = time.perf_counter()
            for e in update.events:
                arrived.setdefault(e.message, now)
            await asyncio.sleep(interval)

    task = asyncio.create_task(follow())
    rng = random.Random(seed)
    put_at: dict[str, float] = {}
    for r in range(rounds):
        await asyncio.sleep(rng.uniform(0.3, 2.3))
        marker = f"marker {seed} {r}"
        put_at[marker] = time.perf_counter()
        await aws.call("logs", region, "put_log_events", logGroupName=GROUP, logStreamName="s",
                       logEvents=[{"timestamp": int(time.time() * 1000), "message": marker}])
    for _ in range(100):
        if all(m in arrived for m in put_at):
            break
        await asyncio.sleep(0.1)
    done.set()
    await task
    missing = [m for m in put_at if m not in arrived]
    if missing:
        raise SystemExit(f"never arrived: {missing}")
    return [arrived[m] - put_at[m] for m in put_at]


async def run(rounds: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with SandboxProcess(live=False) as sandbox:
        region = sandbox.regions[0]
        aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
        try:
            await aws.call("logs", region, "create_log_group", logGroupName=GROUP)
            await aws.call("logs", region, "create_log_stream", logGroupName=GROUP, logStreamName="s")
            target = [lg.FollowTarget(region, GROUP)]
            live = lg.LiveTailFollower(target)
            try:
                delays = await measure(aws, region, live, LIVE_POLL_SECONDS, rounds, 1)
                assert live.mode == "live tail", live.reason
            finally:
                await live.close()
            out["Live Tail: PutLogEvents -> event"] = (f"median {statistics.median(delays):.2f} s, worst "
                                                         f"{max(delays):.2f} s ({rounds} lines)")
            delays = await measure(aws, region, lg.LogFollower(target), POLL_SECONDS, rounds, 2)
            out[f"polling every {POLL_SECONDS:.0f} s: PutLogEvents -> event"] = (
                f"median {statistics.median(delays):.2f} s, worst {max(delays):.2f} s ({rounds} lines)")
        finally:
            await aws.close()
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--rounds", type=int, default=12, help="marker lines each way (default 12)")
    args = parser.parse_args(argv)
    for key, value in asyncio.run(run(args.rounds)).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
