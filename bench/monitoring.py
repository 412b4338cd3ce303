"""Measure the Monitoring tab and the Overview at scale and print the numbers (issue 7, section 5).

    .venv/bin/python bench/monitoring.py              # 2,000 alarms, 500 series, 500-node fleet
    .venv/bin/python bench/monitoring.py 5000 1000    # other alarm and series counts

The sandbox runs in a child process (as in `opstui --demo`) with a generated fleet; the alarms are created in
one go by its `/_opstui/alarms/bulk` knob (CPU alarms over the region's instances). The app runs headless
(Textual's run_test) and loads the alarms board through the tab's own worker.

Printed: alarms board refresh (DescribeAlarms pages + table render), median of 3, and its API calls; metric
charts for N series through GetMetricData (3 hours at 5 minutes, and 24 hours asked at 1 minute: EC2 basic monitoring
answers one point per 5 minutes, as AWS does): time and calls; the Overview's refresh (alarms in ALARM, canaries, every running node's
CPU and status check): time and calls.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import at_latency  # noqa: E402
from opstui.app import OpsApp  # noqa: E402
from opstui.aws import cloudwatch as cw  # noqa: E402
from opstui.aws.clients import AwsClients  # noqa: E402
from opstui.aws.monitoring_models import MetricQuery  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402
from opstui.health import gather_health  # noqa: E402
from opstui.views.monitoring.alarms import AlarmsPanel  # noqa: E402

NODES = 500


def control(sandbox: SandboxProcess, path: str, body: dict) -> dict:
    return sandbox.control("POST", path, body, timeout=120)


def calls_delta(before: Counter, after: Counter) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


async def bench(alarm_count: int, series_count: int, latency: str = "0") -> dict[str, object]:
    out: dict[str, object] = {"latency": latency}
    with SandboxProcess(live=False, nodes=NODES, latency=latency) as sandbox:
        region = sandbox.regions[0]
        started = time.perf_counter()
        created = control(sandbox, "alarms/bulk", {"count": alarm_count, "region": region})
        out["alarms created (sandbox knob)"] = f"{created.get('created')} in {time.perf_counter() - started:.1f} s"
        settings = Settings(regions=(region,), endpoint_url=sandbox.endpoint, refresh=3600, demo=True,
                            fleet_cache=False)
        app = OpsApp(settings, credentials=sandbox.aws_credentials())
        async with app.run_test(size=(170, 44)) as pilot:
            fleet = app.fleet_view
            while fleet.refreshes < 1:
                await asyncio.sleep(0.05)
            while app.overview_view.loads < 1:
                await asyncio.sleep(0.05)
            running = [n.instance_id for n in fleet.snapshot.nodes
                       if n.ec2_state == "running" and n.instance_id.startswith("i-")]
            out["fleet"] = f"{len(fleet.snapshot.nodes)} nodes, {len(running)} running in {region}"

            # alarms board: the tab's own load (DescribeAlarms pages) and the table render
            view = app.monitoring_view
            app.show_tab("monitoring")
            times, renders = [], []
            for i in range(3):
                before = Counter(app.aws.calls)
                t0 = time.perf_counter()
                if i:
                    view.reload()
                while view.alarm_loads < i + 1:
                    await asyncio.sleep(0.01)
                t1 = time.perf_counter()
                await pilot.pause()
                renders.append(time.perf_counter() - t1)
                times.append(t1 - t0)
                calls = calls_delta(before, Counter(app.aws.calls))
            out["alarms board: alarms shown"] = f"{len(view.alarms)} ({sum(a.state == 'ALARM' for a in view.alarms)} in ALARM)"
            out["alarms board: refresh (median of 3)"] = f"{statistics.median(times):.2f} s " \
                f"(fetch {view.query_one(AlarmsPanel).last_seconds:.2f} s, first paint {statistics.median(renders) * 1000:.0f} ms)"
            out["alarms board: API calls per refresh"] = ", ".join(
                f"{k.split(':')[1]} {v}" for k, v in calls.items() if k.startswith("monitoring:DescribeAlarms"))

            # metric charts and the Overview: a client of their own, so the tab's own calls (the detail chart of
            # the alarm under the cursor) are not counted
            aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
            # metric charts: N series through GetMetricData, batched (<= 500 queries a call)
            metrics = ("CPUUtilization", "NetworkIn", "NetworkOut", "StatusCheckFailed")
            queries = [MetricQuery(f"q{i}", cw.metric_ref("AWS/EC2", metrics[(i // len(running)) % len(metrics)],
                                                          {"InstanceId": running[i % len(running)]}), "Average", 300)
                       for i in range(series_count)]
            for label, hours, period in (("3 h at 5 min", 3, 300), ("24 h at 1 min", 24, 60)):
                qs = [MetricQuery(q.id, q.metric, q.stat, period) for q in queries]
                end = datetime.now(UTC)
                before = Counter(aws.calls)
                t0 = time.perf_counter()
                series = await app.aws_loop.run(cw.get_metric_data(aws, region, qs, end - timedelta(hours=hours),
                                                                   end))
                elapsed = time.perf_counter() - t0
                calls = calls_delta(before, Counter(aws.calls)).get("monitoring:GetMetricData", 0)
                points = sum(len(s.values) for s in series.values())
                out[f"charts: {series_count} series, {label}"] = \
                    f"{elapsed:.2f} s, {calls} GetMetricData call(s), {points:,} points"

            # the Overview's refresh on this fleet
            before = Counter(aws.calls)
            t0 = time.perf_counter()
            health = await app.aws_loop.run(gather_health(aws, list(fleet.snapshot.nodes), [region]))
            elapsed = time.perf_counter() - t0
            calls = calls_delta(before, Counter(aws.calls))
            out["overview refresh"] = f"{elapsed:.2f} s, {sum(calls.values())} calls (" + ", ".join(
                f"{k.split(':')[1]} {v}" for k, v in sorted(calls.items())) + f"); {len(health[0].cpu)} CPUs read"
            await app.aws_loop.run(aws.close())
        app.close_aws()
    return out


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("alarms", nargs="?", type=int, default=2000, help="alarms on the board (2000)")
    parser.add_argument("series", nargs="?", type=int, default=500, help="metric series charted (500)")
    at_latency.add_argument(parser)
    args = parser.parse_args(argv[1:])
    alarms, series = args.alarms, args.series
    results = {lat: asyncio.run(bench(alarms, series, lat)) for lat in at_latency.chosen(args)}
    at_latency.print_columns(results, width=60)


if __name__ == "__main__":
    main(sys.argv)
