"""Measure the Logs tab's viewer (opstui/views/logs/viewer.py) and following through the sandbox, and print the numbers.

    .venv/bin/python bench/logs_viewer.py               # 100,000 lines; follow 5 groups x 50 streams
    .venv/bin/python bench/logs_viewer.py 300000        # more lines
    .venv/bin/python bench/logs_viewer.py --no-sandbox  # the widget only

The viewer runs headless (Textual's run_test, 160x50) in a bare app, so only the widget is measured. A frame
is the moment Textual hands a composed screen to the terminal (``App._display``), as in bench/fleet.py.

Printed:
* appending while following: lines per second when batches of 1,000 arrive back to back (0 ms apart: the
  widget's ceiling) and when they arrive every 120 ms (a busy poll cadence): then the append -> frame time of
  each batch, median and worst, at 100,000 lines and more;
* key -> frame at N lines (pageup/pagedown/up/down/home/end), median and worst;
* the filter box at N lines: a word, and a JSON field condition;
* memory per line (tracemalloc, the lines and indices only);
* wall times and the process's CPU time (``time.process_time``): on a shared 2-core machine the wall time
  is mostly waiting for a core, the CPU time is what the viewer costs;
* with the sandbox: following 5 groups x 50 streams through the Logs tab's follower, the delay from
  PutLogEvents to the line being on screen (poll every 2 s) and the FilterLogEvents calls per poll.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402

from opstui.logfilter import parse_filter  # noqa: E402
from opstui.views.logs.viewer import LogViewer  # noqa: E402

BATCH = 1000
SOURCES = ("nginx:i-0a1", "app:i-0a1", "nginx:i-0b2", "app:i-0b2", "system:i-0c3")


def make_lines(count: int, start: int = 0, t0: int = 1_700_000_000_000) -> list[tuple[int, str, str]]:
    out = []
    for i in range(start, start + count):
        src = SOURCES[i % len(SOURCES)]
        if src.startswith("app"):
            msg = json.dumps({"level": "ERROR" if i % 51 == 1 else "INFO", "msg": f"request {i} done",
                              "latency": i % 997, "request_id": f"req-{i:08d}"})
        elif src.startswith("nginx"):
            status = 500 if i % 40 == 0 else 200
            msg = f'10.0.{i % 255}.{i % 7} - - "GET /api/items/{i} HTTP/1.1" {status} {i % 5000} "-" "curl/8.0"'
        else:
            msg = f"\x1b[32mINFO\x1b[0m systemd[1]: Started session {i} of user ec2-user."
        out.append((t0 + i * 3, src, msg))
    return out


class Bench(App[None]):
    def compose(self) -> ComposeResult:
        yield LogViewer(id="v")


def spy_frames(app: App) -> list[float]:
    frames: list[float] = []
    original = app._display

    def spy(screen, renderable):  # type: ignore[no-untyped-def]
        if renderable is not None:
            frames.append(time.perf_counter())
        return original(screen, renderable)

    app._display = spy  # type: ignore[method-assign]
    return frames


async def bench_viewer(total: int) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = make_lines(total + 20 * BATCH)
    app = Bench()
    async with app.run_test(size=(160, 50)) as pilot:
        viewer = app.query_one(LogViewer)
        frames = spy_frames(app)
        # 1. back to back (0 ms between batches), following
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, total, BATCH):
            viewer.append(lines[i:i + BATCH])
            await pilot.pause()
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        out["append while following, batches 0 ms apart"] = (
            f"{total / elapsed:,.0f} lines/s wall, {total / cpu:,.0f} lines/s of CPU ({total:,} lines, "
            f"a frame per batch)")
        # 2. batches every 120 ms at >= total lines: append -> frame
        per_batch, batch_cpu = [], []
        for k in range(20):
            i = total + k * BATCH
            frames.clear()
            t, c = time.perf_counter(), time.process_time()
            viewer.append(lines[i:i + BATCH])
            await pilot.pause()
            batch_cpu.append((time.process_time() - c) * 1000)
            frame = next((f for f in frames if f >= t), None)
            if frame is not None:
                per_batch.append((frame - t) * 1000)
            await asyncio.sleep(0.12)
        out[f"append -> frame at {len(viewer.lines):,} lines, batches 120 ms apart"] = (
            f"median {statistics.median(per_batch):.1f} ms, worst {max(per_batch):.1f} ms wall; "
            f"CPU median {statistics.median(batch_cpu):.1f} ms ({BATCH * 1000 / 120:,.0f} lines/s offered)")
        assert viewer.following and round(viewer.scroll_y) == viewer.max_scroll_y
        # 3. key -> frame
        viewer.focus()
        await pilot.pause(0.2)
        keys = ["pageup"] * 10 + ["up"] * 10 + ["pagedown"] * 5 + ["down"] * 5 + ["home", "end"] * 5
        latencies, key_cpu = [], []
        for key in keys:
            frames.clear()
            t, c = time.perf_counter(), time.process_time()
            await pilot.press(key)
            await pilot.pause()
            key_cpu.append((time.process_time() - c) * 1000)
            frame = next((f for f in frames if f >= t), None)
            if frame is not None:
                latencies.append((frame - t) * 1000)
        out[f"key -> frame at {len(viewer.lines):,} lines"] = (
            f"median {statistics.median(latencies):.1f} ms, worst {max(latencies):.1f} ms wall; CPU median "
            f"{statistics.median(key_cpu):.1f} ms, worst {max(key_cpu):.1f} ms ({len(latencies)} keys)")
        # 4. filter
        for text in ("timeout", "level=ERROR", "$.latency > 900"):
            t, c = time.perf_counter(), time.process_time()
            viewer.set_filter(parse_filter(text))
            cpu = (time.process_time() - c) * 1000
            await pilot.pause()
            out[f"filter {text!r} at {len(viewer.lines):,} lines"] = (
                f"{(time.perf_counter() - t) * 1000:.0f} ms to the frame, filter CPU {cpu:.0f} ms "
                f"-> {len(viewer.shown):,} shown")
        viewer.set_filter(parse_filter(""))
    # 5. memory per line
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    app = Bench()
    async with app.run_test(size=(160, 50)) as pilot:
        viewer = app.query_one(LogViewer)
        for i in range(0, total, 10_000):
            viewer.append(lines[i:i + 10_000])
        await pilot.pause()
        after = tracemalloc.take_snapshot()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
        message_bytes = sum(len(m) for _, _, m in lines[:total])
        out["memory per line"] = (f"{grown / total:.0f} B (of which the message text ~{message_bytes / total:.0f} B; "
                                  "the lines list holds the callers' tuples)")
    tracemalloc.stop()
    return out


async def bench_follow(groups: int = 5, streams: int = 50, rounds: int = 8) -> dict[str, str]:
    from opstui.aws import logs as lg
    from opstui.aws.clients import AwsClients
    from opstui.demo import SandboxProcess

    out: dict[str, str] = {}
    with SandboxProcess(live=False) as sandbox:
        region = sandbox.regions[0]
        aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
        try:
            names = [f"/bench/g{g}" for g in range(groups)]
            for g in names:
                await aws.call("logs", region, "create_log_group", logGroupName=g)
                for s in range(streams):
                    await aws.call("logs", region, "create_log_stream", logGroupName=g, logStreamName=f"i-{s:017x}")
            follower = lg.LogFollower([lg.FollowTarget(region, g) for g in names])
            await follower.poll(aws)
            app = Bench()
            delays = []
            calls_per_poll = []
            async with app.run_test(size=(160, 50)) as pilot:
                viewer = app.query_one(LogViewer)
                for r in range(rounds):
                    # every stream of every group gets a line; the marker line is the last one written
                    put_at = time.perf_counter()
                    now = int(time.time() * 1000)
                    for g in names:
                        for s in range(streams):
                            await aws.call("logs", region, "put_log_events", logGroupName=g,
                                           logStreamName=f"i-{s:017x}",
                                           logEvents=[{"timestamp": now, "message": f"round {r} {g} {s}"}])
                    written = time.perf_counter()
                    await asyncio.sleep(2.0 * ((r % 4) / 4))  # the poll comes at any moment of its 2 s period
                    before = aws.calls["logs:FilterLogEvents"]
                    update = await follower.poll(aws)
                    calls_per_poll.append(aws.calls["logs:FilterLogEvents"] - before)
                    viewer.append((e.timestamp, f"{e.group}:{e.stream}", e.message) for e in update.events)
                    await pilot.pause()
                    assert len(update.events) == groups * streams, len(update.events)
                    delays.append(time.perf_counter() - written + (written - put_at) / (groups * streams))
            out[f"follow {groups} groups x {streams} streams: PutLogEvents -> line on screen"] = (
                f"median {statistics.median(delays):.2f} s, worst {max(delays):.2f} s (poll every 2 s; "
                f"{rounds} rounds of {groups * streams} events)")
            out["FilterLogEvents per poll"] = f"{statistics.median(calls_per_poll):.0f} (= the number of groups)"
            out["API calls per minute while following"] = f"{groups * 60 / 2:.0f} at the 2 s poll"
        finally:
            await aws.close()
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("lines", nargs="?", type=int, default=100_000, help="lines in the viewer (default 100000)")
    parser.add_argument("--no-sandbox", action="store_true", help="measure the widget only")
    args = parser.parse_args(argv)
    results = asyncio.run(bench_viewer(args.lines))
    if not args.no_sandbox:
        results.update(asyncio.run(bench_follow()))
    import os

    results["load average while measuring (2 cores)"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
