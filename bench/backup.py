"""Measure the Backup tab at scale and S3 transfers, and print the numbers (issue 8, section 4).

    .venv/bin/python bench/backup.py            # 10,000 backup jobs over 30 days; a 100 MB file to and from S3
    .venv/bin/python bench/backup.py 20000 200  # other sizes: jobs, file size in MB

Jobs list: the sandbox's history knob replaces the daily-ec2 plan's history with N backup jobs spread over 30
days (each completed one has its copy job to ap-northeast-3). The app runs headless (Textual's run_test) as in
`opstui --demo`; the Backup tab's 30-day range loads every backup, copy and restore job of both regions
(ListBackupJobs / ListCopyJobs / ListRestoreJobs, 1,000 a page, ByCreatedAfter): time to answer, time to show
(rows prepared and the table repainted), API calls. The aws layer alone is timed too (median of 3).

S3: a file of random bytes uploaded to the file-backup bucket (multipart, 8 MB parts, 4 in flight) and
downloaded back (streamed to disk), checked byte-exact by SHA-256; MB/s each way.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import at_latency  # noqa: E402
from opstui.app import OpsApp  # noqa: E402
from opstui.aws import backup as bk  # noqa: E402
from opstui.aws import s3  # noqa: E402
from opstui.aws.clients import AwsClients  # noqa: E402
from opstui.config import Settings  # noqa: E402
from opstui.demo import SandboxProcess  # noqa: E402

BUCKET = "opstui-file-backups-123456789012"


def knob(sandbox: SandboxProcess, body: dict) -> dict:
    return sandbox.control("POST", "backup", body, timeout=600)


async def until(predicate, timeout: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.01)


async def jobs_in_app(sandbox: SandboxProcess, result: dict[str, object]) -> None:
    settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600, demo=True,
                            fleet_cache=False)
    app = OpsApp(settings, credentials=sandbox.aws_credentials())
    async with app.run_test(size=(200, 50)) as pilot:
        await until(lambda: app.fleet_view.refreshes >= 1)
        app.show_tab("backup")
        view = app.backup_view
        await until(lambda: view.job_loads >= 1)
        loads = view.job_loads
        before = sum(v for k, v in app.aws.calls.items() if k.startswith("backup:List"))
        started = time.perf_counter()
        view.query_one("#bk-range").value = "30d"
        await until(lambda: view.job_loads > loads)
        await pilot.pause()
        shown = time.perf_counter() - started
        calls = sum(v for k, v in app.aws.calls.items() if k.startswith("backup:List")) - before
        table = view.table("bk-jobs")
        rows = table.rows
        result["jobs listed (backup + copy + restore, 30 d)"] = len(rows)
        result["  of which backup / copy / restore"] = " / ".join(
            str(sum(1 for r in rows if r.kind == k)) for k in ("backup", "copy", "restore"))
        result["  failed / completed with issues"] = " / ".join(str(n) for n in bk.job_list_failures(rows))
        result["app: answer (s)"] = round(view.last_jobs_seconds, 3)
        result["app: render (s)"] = round(view.last_jobs_render_seconds, 3)
        result["app: range switch to table shown (s)"] = round(shown, 3)
        result["app: API calls (List*Jobs, both regions)"] = calls
        started = time.perf_counter()
        await pilot.press("s")  # state filter: problems only
        await pilot.pause()
        result["app: state filter over all jobs (s)"] = round(time.perf_counter() - started, 3)
        result["  problems shown"] = len(table.order_shown)
    app.close_aws()


async def jobs_in_aws_layer(sandbox: SandboxProcess, result: dict[str, object]) -> None:
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
    try:
        times, calls = [], 0
        for _ in range(3):
            started = time.perf_counter()
            got = await bk.list_jobs(aws, sandbox.regions, "30d")
            times.append(time.perf_counter() - started)
            calls = got.calls
        result["aws layer: list_jobs 30 d, median of 3 (s)"] = round(statistics.median(times), 3)
        result["aws layer: calls per load"] = calls
    finally:
        await aws.close()


async def s3_throughput(sandbox: SandboxProcess, size_mb: int, result: dict[str, object]) -> None:
    aws = AwsClients(endpoint_url=sandbox.endpoint, credentials=sandbox.aws_credentials())
    region = sandbox.regions[0]
    key = f"bench/{size_mb}mb.bin"
    with tempfile.TemporaryDirectory(prefix="opstui-bench-") as tmp:
        src, dst = Path(tmp) / "src.bin", Path(tmp) / "dst.bin"
        with src.open("wb") as fh:
            for _ in range(size_mb):
                fh.write(os.urandom(1 << 20))
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        try:
            before = aws.calls["s3:UploadPart"]
            started = time.perf_counter()
            await s3.upload_file(aws, region, BUCKET, key, src)
            up = time.perf_counter() - started
            parts = aws.calls["s3:UploadPart"] - before
            started = time.perf_counter()
            written = await s3.download_file(aws, region, BUCKET, key, dst)
            down = time.perf_counter() - started
            same = hashlib.sha256(dst.read_bytes()).hexdigest() == digest and written == src.stat().st_size
            result[f"S3 upload {size_mb} MB (s)"] = round(up, 2)
            result["S3 upload (MB/s)"] = round(size_mb / up, 1)
            result["  upload parts (8 MB, 4 in flight)"] = parts
            result[f"S3 download {size_mb} MB (s)"] = round(down, 2)
            result["S3 download (MB/s)"] = round(size_mb / down, 1)
            result["  byte-exact (SHA-256)"] = same
        finally:
            listing = await s3.list_versions(aws, region, BUCKET, "bench/")
            for e in listing.entries:
                if e.kind != "prefix":
                    await aws.call("s3", region, "delete_object", Bucket=BUCKET, Key=e.key, VersionId=e.version_id)
            await aws.close()


async def measure(jobs: int, size_mb: int, latency: str = "0") -> dict[str, object]:
    result: dict[str, object] = {"backup jobs in the history": jobs, "latency": latency}
    with SandboxProcess(live=False, timeout=600, latency=latency) as sandbox:
        result["sandbox ready (s)"] = round(sandbox.ready_seconds, 2)
        started = time.perf_counter()
        made = knob(sandbox, {"history_days": 30, "jobs": jobs})
        result["history knob (s)"] = round(time.perf_counter() - started, 2)
        result["  made"] = made.get("history", made)
        await jobs_in_app(sandbox, result)
        await jobs_in_aws_layer(sandbox, result)
        await s3_throughput(sandbox, size_mb, result)
    return result


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("jobs", nargs="?", type=int, default=10_000, help="backup jobs of history (10000)")
    parser.add_argument("size_mb", nargs="?", type=int, default=100, help="S3 transfer size in MB (100)")
    at_latency.add_argument(parser)
    args = parser.parse_args()
    jobs, size_mb = args.jobs, args.size_mb
    results = {lat: asyncio.run(measure(jobs, size_mb, lat)) for lat in at_latency.chosen(args)}
    at_latency.print_columns(results, width=40)


if __name__ == "__main__":
    main()
