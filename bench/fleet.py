"""Measure the Fleet at scale and print the numbers (issue 2, section 7).

    .venv/bin/python bench/fleet.py            # 1,000 and 10,000 nodes
    .venv/bin/python bench/fleet.py 500 2000   # other sizes

For each size: sandbox ready time (child process, to its `endpoint` line), time to first paint, time to the
full table, API calls per full refresh, filter keystroke-to-repaint latency (median and worst over a typed
query, measured around the key event and the repaint), and the app process's RSS once the table is full.
The app runs headless (Textual's run_test) against the sandbox in a child process, as in `opstui --demo`.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opstui.app import OpsApp  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(n: int) -> dict[str, float | str]:
    with SandboxProcess(nodes=n, live=False, timeout=600) as sandbox:
        settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True)
        started = time.perf_counter()
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        result: dict[str, float | str] = {"nodes": n, "sandbox ready (s)": round(sandbox.ready_seconds, 2)}
        async with app.run_test(size=(200, 50)) as pilot:
            result["first paint (s)"] = round(time.perf_counter() - started, 3)
            view = app.fleet_view
            while view.refreshes < 1:
                await asyncio.sleep(0.01)
            await pilot.pause()
            result["full table (s)"] = round(time.perf_counter() - started, 2)
            result["rows"] = len(view.table.rows)
            # one more full refresh, counting the API calls it makes
            before = app.aws.calls.copy()
            refresh_started = time.perf_counter()
            view.refresh_now()
            while view.refreshes < 2:
                await asyncio.sleep(0.01)
            result["refresh (s)"] = round(time.perf_counter() - refresh_started, 2)
            delta = app.aws.calls - before
            target_ssm, target_ec2 = math.ceil(n / 50), math.ceil(n / 1000)
            result["API calls/refresh"] = (
                f"{delta['ssm:DescribeInstanceInformation']} SSM + {delta['ec2:DescribeInstances']} EC2 "
                f"(target {target_ssm} + {target_ec2})"
            )
            hybrid = sum(1 for node in view.table.rows if node.instance_id.startswith("mi-"))
            result["hybrid tag calls/refresh"] = f"{delta['ssm:ListTagsForResource']} (one per hybrid node: {hybrid})"
            result["other API calls/refresh"] = sum(delta.values()) - delta["ssm:DescribeInstanceInformation"] - delta[
                "ec2:DescribeInstances"
            ] - delta["ssm:ListTagsForResource"]
            # filter latency: type a query one key at a time; each key's time covers the key event, the
            # filter over every row, and the repaint of the screen (on the Fleet: the Overview is the home tab)
            app.show_tab("fleet")
            await pilot.pause(0.2)
            await pilot.press("slash")
            app.query_one("#fleet-filter").cursor_blink = False  # only our repaints count
            await pilot.pause(0.2)
            displays: list[float] = []
            original_display = app._display

            def spy(screen, renderable):  # the moment a frame is composed and handed to the terminal
                if renderable is not None:
                    displays.append(time.perf_counter())
                return original_display(screen, renderable)

            app._display = spy  # type: ignore[method-assign]
            filtered: list[float] = []
            original_refilter = view._refilter

            def refilter_spy():
                original_refilter()
                filtered.append(time.perf_counter())

            view._refilter = refilter_spy  # type: ignore[method-assign]
            latencies = []
            filter_ms = []
            for ch in "tag:Role=web !ping:Online":
                displays.clear()
                filtered.clear()
                t = time.perf_counter()
                await pilot.press(ch)
                await pilot.pause()
                # the first frame composed after the filter ran is the one the user sees with the new rows
                frame = next((d for d in displays if filtered and d >= filtered[0]), None)
                if frame is not None:
                    latencies.append((frame - t) * 1000)
                filter_ms.append(view.last_filter_ms)
            result["filter keystroke→repaint median (ms)"] = round(statistics.median(latencies), 1)
            result["filter keystroke→repaint worst (ms)"] = round(max(latencies), 1)
            result["filter compute median (ms)"] = round(statistics.median(filter_ms), 1)
            result["app RSS (MB)"] = round(rss_mb(), 0)
        app.close_aws()
        return result


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, help="fleet sizes (default: 1000 10000)")
    sizes = parser.parse_args(argv).sizes or [1000, 10000]
    rows = [asyncio.run(measure(n)) for n in sizes]
    keys = list(rows[0])
    width = max(len(k) for k in keys)
    print()
    for key in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{str(r[key]):>34}" for r in rows))


if __name__ == "__main__":
    main(sys.argv[1:])
