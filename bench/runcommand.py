"""Measure Run Command at scale and print the numbers (issue 5, section 5).

    .venv/bin/python bench/runcommand.py            # 1,000 nodes
    .venv/bin/python bench/runcommand.py 300        # another fleet size

The sandbox runs in a child process (as in `opstui --demo`) with a generated fleet; the app runs headless
(Textual's run_test). Every Online Linux node is sent `echo $AWS_SSM_INSTANCE_ID; uname -r` (so each node's
output differs and the grouping has work to do) through the Run Command tab's own path: the plan of the
selected nodes, SendCommand 50 ids at a time, the tracker polling, the view applying each update.

Printed: time from the first SendCommand to every node's output shown in the tab; API calls in total and per
second during the run (by operation); UI input latency while the run streams (cursor keys in the node table,
key to the next frame, median and worst); the time to build and show the grouped view; the app's RSS.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import at_latency  # noqa: E402
from opstui.app import OpsApp  # noqa: E402
from opstui.aws.models import CommandRequest  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402
from opstui.runs.launch import send_plan  # noqa: E402
from opstui.runs.targets import plan_for_nodes, platform_type  # noqa: E402
from opstui.runs.tracker import RunTracker  # noqa: E402
from opstui.views.runcommand import ActiveRun, RunCommandView  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(n: int, latency: str = "0") -> dict[str, object]:
    with SandboxProcess(nodes=n, live=False, timeout=600, latency=latency) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True,
                            fleet_cache=False)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        result: dict[str, object] = {"fleet": n, "latency": latency}
        async with app.run_test(size=(200, 50)) as pilot:
            view = app.fleet_view
            while view.refreshes < 1:
                await asyncio.sleep(0.05)
            nodes = [x for x in view.table.rows
                     if x.ping_status == "Online" and platform_type(x) == "Linux" and x.ec2_state in ("running", "")]
            result["targets"] = len(nodes)
            plan = plan_for_nodes(nodes)
            request = CommandRequest("AWS-RunShellScript", {"commands": ["echo $AWS_SSM_INSTANCE_ID", "uname -r"]})
            app.show_tab("run")
            rc = app.query_one(RunCommandView)
            await pilot.pause()
            before = Counter(app.aws.calls)
            sandbox.control("DELETE", "calls")  # the sandbox's per-second counts start with the run
            started = time.perf_counter()
            sent = await app.aws_loop.run(send_plan(app.aws, plan, request))
            result["SendCommand calls"] = len(sent.commands)
            tracker = RunTracker(app.aws, list(sent.commands), {x.instance_id: x.name for x in nodes})
            run = ActiveRun(tracker, request, "bench")
            rc.start_run(run)
            await pilot.pause()

            displays: list[float] = []
            original_display = app._display

            def spy(screen, renderable):  # when a frame is composed and handed to the terminal
                if renderable is not None:
                    displays.append(time.perf_counter())
                return original_display(screen, renderable)

            app._display = spy  # type: ignore[method-assign]
            latencies: list[float] = []
            key = "down"
            rc.run_panel.nodes_table.focus()
            while not run.finished:
                displays.clear()
                t = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                frame = next((d for d in displays if d >= t), None)
                if frame is not None:
                    latencies.append((frame - t) * 1000)
                key = "up" if key == "down" else "down"
                await asyncio.sleep(0.1)
                if time.perf_counter() - started > 300:
                    break
            done = time.perf_counter() - started
            app._display = original_display  # type: ignore[method-assign]
            calls = Counter(app.aws.calls) - before
            result["send → every output shown (s)"] = round(done, 2)
            result["nodes done"] = f"{run.progress.done}/{run.progress.total}" if run.progress else "?"
            result["API calls (total)"] = sum(calls.values())
            result["API calls/s during the run"] = round(sum(calls.values()) / done, 1)
            result["  by operation"] = ", ".join(f"{k.split(':')[1]} {v}" for k, v in calls.most_common())
            peaks = sandbox.control("GET", "calls")["peak_per_second"]
            result["most calls in one second, per region"] = ", ".join(
                f"{k.split('@')[0].split(':')[1]} {v}" for k, v in sorted(peaks.items(), key=lambda kv: -kv[1])
                if k.endswith("@" + sandbox.regions[0]))
            if latencies:
                result["UI key→frame during run, median (ms)"] = round(statistics.median(latencies), 1)
                result["UI key→frame during run, worst (ms)"] = round(max(latencies), 1)
                result["UI keys measured"] = len(latencies)
            t = time.perf_counter()
            tracker.groups()
            result["grouping computed (ms)"] = round((time.perf_counter() - t) * 1000, 1)
            t = time.perf_counter()
            await pilot.press("g")
            while not run.groups:
                await asyncio.sleep(0.01)
            await pilot.pause()
            result["grouped view shown (ms)"] = round((time.perf_counter() - t) * 1000, 1)
            result["groups"] = len(run.groups)
            result["app RSS (MB)"] = round(rss_mb())
        app.close_aws()
        return result


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, help="fleet sizes (default: 1000)")
    at_latency.add_argument(parser)
    args = parser.parse_args(argv)
    sizes = args.sizes or [1000]
    results = {f"{n} @ {lat}": asyncio.run(measure(n, lat)) for n in sizes for lat in at_latency.chosen(args)}
    at_latency.print_columns(results, width=60)


if __name__ == "__main__":
    main(sys.argv[1:])
