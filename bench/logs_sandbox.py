"""Measure the sandbox's CloudWatch Logs at a million events and print the numbers (issue 16, sandbox side).

    .venv/bin/python bench/logs_sandbox.py            # 1,000,000 events in 50 streams of one group
    .venv/bin/python bench/logs_sandbox.py 200000     # another count

The sandbox runs in this process (the events are written through its in-process writer, as the agents and Run
Command write them: PutLogEvents over HTTP at 10,000 events a call would measure botocore, not the sandbox);
every read goes through boto3 over HTTP. Printed: the write; FilterLogEvents' first page (no pattern, a JSON
pattern, the follow poll's "since 5 s ago"); GetLogEvents' newest page and a forward page; a Logs Insights
``stats count(*) by bin(1m)`` and a ``filter | sort | limit`` over every event; the log writers' and agents'
CPU per tick.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from opstui.sandbox import clock, cw_agent_logs, logs_fast  # noqa: E402
from opstui.sandbox.server import Sandbox  # noqa: E402

GROUP = "/bench/app"
STREAMS = 50


def timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def query(logs: Any, text: str, start: int, end: int) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    qid = logs.start_query(logGroupName=GROUP, startTime=start, endTime=end, queryString=text)["queryId"]
    while (result := logs.get_query_results(queryId=qid))["status"] in ("Scheduled", "Running"):
        time.sleep(0.05)
    return time.perf_counter() - t0, result


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as state, Sandbox(live=False, state_dir=state) as sb:
        logs = boto3.client("logs", region_name="ap-northeast-1", endpoint_url=sb.endpoint,
                            aws_access_key_id=sb.credentials.access_key_id,
                            aws_secret_access_key=sb.credentials.secret_access_key,
                            config=Config(retries={"total_max_attempts": 1}))
        now_ms = int(clock.now().timestamp() * 1000)
        t0_ms = now_ms - 6 * 3600 * 1000
        step = (now_ms - t0_ms) / count
        per_stream = count // STREAMS
        t0 = time.perf_counter()
        for s in range(STREAMS):
            logs_fast.put_events(sb.account_id, "ap-northeast-1", GROUP, f"i-{s:017x}", (
                (int(t0_ms + (i * STREAMS + s) * step),
                 json.dumps({"level": "ERROR" if i % 97 == 0 else "INFO", "latency_ms": (i * 7) % 900,
                             "request_id": f"r{s}-{i}"}))
                for i in range(per_stream)))
        write = time.perf_counter() - t0
        total = per_stream * STREAMS
        print(f"events: {total:,} in {STREAMS} streams; in-process write {write:.1f} s "
              f"({total / write:,.0f} events/s)")

        t, page = timed(lambda: logs.filter_log_events(logGroupName=GROUP, limit=1000))
        print(f"FilterLogEvents first page (1,000 events, no pattern): {t * 1000:.0f} ms")
        t, page = timed(lambda: logs.filter_log_events(logGroupName=GROUP, filterPattern='{ $.level = "ERROR" }',
                                                       limit=1000))
        print(f"FilterLogEvents first page with a JSON pattern ({len(page['events'])} events): {t * 1000:.0f} ms")
        t, page = timed(lambda: logs.filter_log_events(logGroupName=GROUP, startTime=now_ms - 5000))
        print(f"FilterLogEvents follow poll (since 5 s ago, {len(page['events'])} events): {t * 1000:.0f} ms")
        stream = f"i-{0:017x}"
        t, page = timed(lambda: logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=1000))
        print(f"GetLogEvents newest page (1,000 of {per_stream:,}): {t * 1000:.0f} ms")
        token = page["nextBackwardToken"]
        t, _ = timed(lambda: logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=token,
                                                 limit=1000))
        print(f"GetLogEvents older page by token: {t * 1000:.0f} ms")

        start, end = t0_ms // 1000, now_ms // 1000 + 60
        t, result = query(logs, "stats count(*) by bin(1m)", start, end)
        print(f"Insights 'stats count(*) by bin(1m)' over {int(result['statistics']['recordsScanned']):,} events: "
              f"{t:.1f} s, {len(result['results'])} rows")
        t, result = query(logs, "fields @timestamp, latency_ms | filter level = 'ERROR' | sort latency_ms desc "
                                "| limit 20", start, end)
        print(f"Insights 'filter level = ERROR | sort | limit 20' (JSON fields): {t:.1f} s, "
              f"{int(result['statistics']['recordsMatched']):,} matched")

        writers, shipper = cw_agent_logs._writers, cw_agent_logs.current()
        assert writers is not None
        writers.wait_backfilled()
        shipper.tick(force=True)

        def cpu() -> float:
            r = resource.getrusage(resource.RUSAGE_THREAD)
            return r.ru_utime + r.ru_stime

        c0, lines, shipped = cpu(), 0, 0
        for _ in range(50):
            clock.advance(2.0)
            lines += writers.tick()
            shipped += shipper.tick(force=True)
        print(f"demo fleet log writers + agents: {(cpu() - c0) / 50 * 1000:.1f} ms CPU per 2 s tick "
              f"({lines / 50:.0f} lines written, {shipped / 50:.0f} events shipped a tick)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
