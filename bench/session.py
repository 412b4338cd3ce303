"""Measure the Session Manager data channel on loopback and print the numbers (issue 3, section 5).

    .venv/bin/python bench/session.py [MEGABYTES] [--runs N]

- throughput: `cat` of a file of MEGABYTES (default 64) through the channel into a sink, MB/s (with --runs,
  the cat is repeated N times in the same session and the median and range are printed: this machine is noisy);
- keystroke round trip: one key sent, its echo received, p50/p99 over 300 keys, with the shell idle;
- CPU time per MB on both ends: this process (client) and the sandbox child (agent + MGS).
The sandbox runs in a child process as in `opstui --demo`; the agent sends 1,024-byte chunks like the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import at_latency  # noqa: E402
from opstui.aws.clients import AwsClients  # noqa: E402
from opstui.aws.fleet import load_fleet  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402
from opstui.sandbox.latency import parse_latency  # noqa: E402
from opstui.session.shell import open_shell  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def cpu_self() -> float:
    t = os.times()
    return t.user + t.system


async def read_until(shell, needle: bytes, sink: list[int] | None = None, timeout: float = 300) -> bytes:
    """A sink: takes every queued chunk without waiting, and waits only when nothing is queued."""
    tail = b""
    deadline = time.monotonic() + timeout
    while needle not in tail:
        chunk = shell.read_nowait()
        if chunk == b"":
            chunk = await asyncio.wait_for(shell.read(), max(0.001, deadline - time.monotonic()))
        if chunk is None:
            raise RuntimeError(f"session closed: {shell.close_reason}")
        if sink is not None:
            sink[0] += len(chunk)
        tail = (tail + chunk)[-4096:]
    return tail


async def main(megabytes: int, runs: int = 1, latency: str = "0") -> None:
    state = tempfile.mkdtemp(prefix="opstui-bench-")
    print(f"--- sandbox latency {latency}", flush=True)
    with SandboxProcess(live=False, state_dir=state, latency=latency) as sandbox:
        aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
        region = sandbox.regions[0]
        node = next(n for n in (await load_fleet(aws, [region])).nodes if n.name == "prod-web-01")
        async with open_shell(aws, region, node.instance_id, size=(200, 50)) as shell:
            await read_until(shell, b"$ ")
            await shell.send(b"head -c %d /dev/urandom | base64 -w 1000 > big.txt; echo MADE-$((1+1))\r"
                             % (megabytes * 1024 * 1024 * 3 // 4))
            await read_until(shell, b"MADE-2")
            await asyncio.sleep(0.3)
            while shell.read_nowait():
                pass
            # keystroke round trip, idle shell: type a character, wait for the pty's echo
            rtts = []
            for i in range(300):
                ch = b"abcdefghij"[i % 10 : i % 10 + 1]
                t = time.perf_counter()
                await shell.send(ch)
                await read_until(shell, ch, timeout=10)
                rtts.append((time.perf_counter() - t) * 1000)
            await shell.send(b"\x15")  # ctrl-u: clear the typed line
            await asyncio.sleep(0.2)
            while shell.read_nowait():
                pass
            # throughput
            samples = []  # (MB, seconds, client CPU s, sandbox CPU s)
            for _ in range(runs):
                sink = [0]
                c0, s0 = cpu_self(), cpu_of(sandbox.proc.pid)
                t0 = time.perf_counter()
                await shell.send(b"cat big.txt; echo END-$((2*2))\r")
                await read_until(shell, b"END-4", sink)
                seconds = time.perf_counter() - t0
                c1, s1 = cpu_self(), cpu_of(sandbox.proc.pid)
                samples.append((sink[0] / 1e6, seconds, c1 - c0, s1 - s0))
                await asyncio.sleep(0.2)
                while shell.read_nowait():
                    pass
        await aws.close()
    rtts.sort()
    p99 = rtts[int(len(rtts) * 0.99) - 1]
    rates = sorted(mb / seconds for mb, seconds, _c, _s in samples)
    client = sorted(1000 * c / mb for mb, _t, c, _s in samples)
    agent = sorted(1000 * s / mb for mb, _t, _c, s in samples)
    mb, seconds = samples[0][0], statistics.median(t for _mb, t, _c, _s in samples)
    spread = f", range {rates[0]:.1f}-{rates[-1]:.1f}, median of {runs}" if runs > 1 else ""
    print(f"throughput           {statistics.median(rates):8.1f} MB/s   ({mb:.1f} MB in {seconds:.2f} s{spread}, "
          "1,024-byte agent chunks)")
    print(f"keystroke round trip p50 {statistics.median(rtts):6.2f} ms   p99 {p99:6.2f} ms   (n={len(rtts)}, idle)")
    print(f"CPU per MB           client {statistics.median(client):6.1f} ms/MB   "
          f"sandbox agent+MGS {statistics.median(agent):6.1f} ms/MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("megabytes", nargs="?", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1, help="repeat the cat N times; print the median and range")
    parser.add_argument("--mb-at-latency", type=int, default=2,
                        help="megabytes at a non-zero latency (the agent's 16-frame window carries ~16 KB a round "
                             "trip: 64 MB would take minutes; default 2)")
    at_latency.add_argument(parser)
    args = parser.parse_args()
    for latency in at_latency.chosen(args):
        size = args.megabytes if parse_latency(latency).mean == 0 else min(args.megabytes, args.mb_at_latency)
        asyncio.run(main(size, max(1, args.runs), latency))
