"""Measure the Logs viewer at a million events (issue 16) and print the numbers.

    .venv/bin/python bench/logs.py                # 1,000,000 events
    .venv/bin/python bench/logs.py 200000         # fewer
    .venv/bin/python bench/logs.py --keys 400     # more keys per key -> frame run

The viewer (opstui/views/logs/viewer.py) runs headless in a bare app (Textual's ``App.run_test``, 160x50),
driven by the pilot; the lines are bench/logs_viewer.py's mix (nginx access lines, JSON application events,
coloured syslog lines, ~78 characters). A frame is the moment Textual hands a composed screen to the terminal
(``App._display``), as in the other bench scripts. Printed:

* time to the first screen: the first page of 10,000 events appended -> its frame (what the user waits for
  when a follow starts), and all N appended in pages of 10,000 -> the frame showing the newest;
* search (a full scan of the N messages, no filter): wall time from ``start_search`` to the end of the scan
  for a rare, an absent and a dense text, with the process's CPU time, and key -> frame while a scan runs;
* key -> frame while scrolling: p50 / p99 / worst over ``--keys`` keys (up, down, PgUp, PgDn, home, end, n, N)
  with wrap off, then with wrap on; the target is <= 50 ms at a million lines;
* memory per event: RSS growth and tracemalloc growth while the N events are made and appended (the message
  strings included), and the viewer's own share (appending events that already exist).

Like OpsApp after its first load (app.py ``_fleet_changed``), the bench moves the app's heap out of the cyclic
GC's sight (``gc.freeze()``) once the bare app is up; ``--no-freeze`` leaves it, and then every full collection
(~100 ms of CPU on this machine, every few dozen keys) lands on some key: p99 goes from ~30 ms to ~200 ms.
Set ``OPSTUI_BENCH_SLOW=1`` to print the slowest keys of each run.

On this shared 2-core machine the wall times include waiting for a core: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from logs_viewer import Bench, make_lines, spy_frames  # noqa: E402
from textual.binding import Binding  # noqa: E402

from opstui.views.logs.viewer import LogViewer  # noqa: E402


class ViewerBench(Bench):
    """The bare viewer plus n / N, bound as the Logs tab's viewer panel binds them (FollowPanel._step)."""

    BINDINGS = [Binding("n", "step(1)"), Binding("N", "step(-1)")]

    def action_step(self, direction: int) -> None:
        self.query_one(LogViewer).search_step(direction)

PAGE = 10_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.1f} ms, p99 {pct(values, 0.99):.1f} ms, worst {max(values):.1f} ms "
            f"({len(values)} keys)")


async def next_frame(pilot, frames: list[float], since: float, timeout: float = 5.0) -> float | None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        frame = next((f for f in frames if f >= since), None)
        if frame is not None:
            return frame
        await pilot.pause(0.002)
    return None


async def key_run(pilot, viewer: LogViewer, frames: list[float], keys: list[str]) -> tuple[list[float], list[float]]:
    """key -> frame and the CPU spent per key; a key whose screen did not change gives no frame (not counted)."""
    latencies, cpu = [], []
    slow = []
    for n, key in enumerate(keys):
        frames.clear()
        t, c = time.perf_counter(), time.process_time()
        await pilot.press(key)
        frame = await next_frame(pilot, frames, t, timeout=1.0)
        cpu.append((time.process_time() - c) * 1000)
        if frame is not None:
            latencies.append((frame - t) * 1000)
            slow.append((latencies[-1], cpu[-1], n, key))
    if os.environ.get("OPSTUI_BENCH_SLOW"):
        print("slowest keys (ms, CPU ms, #, key):", [f"{a:.0f}/{b:.0f} #{c} {d}" for a, b, c, d in sorted(slow)[-8:]])
    return latencies, cpu


def scroll_keys(count: int) -> list[str]:
    pattern = ["pageup"] * 6 + ["up"] * 6 + ["pagedown"] * 3 + ["down"] * 3 + ["n", "N", "n", "home", "end", "N"]
    return [pattern[i % len(pattern)] for i in range(count)]


async def bench(total: int, key_count: int, freeze: bool = True) -> dict[str, str]:
    out: dict[str, str] = {}
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    lines = make_lines(total)
    needle_rare = f"req-{total // 2 + (1 - total // 2 % 5) % 5:08d}"  # one JSON event in the middle
    out["events made (not measured)"] = f"{total:,} in {time.perf_counter() - t:.1f} s"
    gc.collect()
    rss1 = rss_mb()
    app = ViewerBench()
    async with app.run_test(size=(160, 50)) as pilot:
        viewer = app.query_one(LogViewer)
        frames = spy_frames(app)
        await pilot.pause(0.2)
        if freeze:  # as OpsApp does after its first load (app.py, _fleet_changed): full GC passes skip the heap
            gc.collect()
            gc.freeze()
        # 1. first screen
        frames.clear()
        t, c = time.perf_counter(), time.process_time()
        viewer.append(lines[:PAGE])
        frame = await next_frame(pilot, frames, t)
        out["first screen: the first 10,000 events -> frame"] = (
            f"{(frame - t) * 1000:.0f} ms wall, append CPU {(time.process_time() - c) * 1000:.0f} ms"
            if frame else "no frame")
        t, c = time.perf_counter(), time.process_time()
        for i in range(PAGE, total, PAGE):
            viewer.append(lines[i:i + PAGE])
        frames.clear()
        appended = time.perf_counter()
        frame = await next_frame(pilot, frames, appended)
        assert len(viewer.lines) == total and viewer.following
        assert viewer._on_screen_positions()[-1] == total - 1  # the newest line is on screen
        gc.collect()
        rss2 = rss_mb()
        out[f"all {total:,} appended (pages of 10,000) -> frame with the newest"] = (
            f"{(frame or appended) - t:.2f} s wall, CPU {time.process_time() - c:.2f} s "
            f"({total / (appended - t):,.0f} events/s)")
        # 2. search: full scans
        viewer.focus()
        await pilot.pause(0.2)
        for label, text in (("rare", needle_rare), ("absent", "timeout"), ("dense", "GET")):
            t, c = time.perf_counter(), time.process_time()
            viewer.start_search(text)
            while viewer.searching:
                await asyncio.sleep(0.001)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            hits = len(viewer.search.hits) if viewer.search else 0
            out[f"search {label} {text!r}: full scan of {total:,}"] = (
                f"{wall * 1000:.0f} ms wall, CPU {cpu * 1000:.0f} ms -> {hits:,} matching lines")
            viewer.end_search()
            viewer.set_following(True)
            await pilot.pause(0.05)
        # key -> frame while a scan runs (the dense search, started again and again)
        during = []
        for _ in range(20):
            viewer.start_search("GET")
            await asyncio.sleep(0.005)
            for key in ("pageup", "up", "down"):
                if not viewer.searching:
                    break
                frames.clear()
                t = time.perf_counter()
                await pilot.press(key)
                frame = await next_frame(pilot, frames, t, timeout=1.0)
                if frame is not None:
                    during.append((frame - t) * 1000)
            while viewer.searching:
                await asyncio.sleep(0.005)
        if during:
            out["key -> frame while a full scan runs"] = summary(during)
        # 3. key -> frame while scrolling, wrap off then on (a search is active so n / N jump)
        viewer.start_search("error")  # about 1 line in 130, spread over the whole log
        while viewer.searching:
            await asyncio.sleep(0.005)
        out["search used by n / N"] = f"{viewer.search.text!r}: {len(viewer.search.hits):,} matching lines"
        latencies, cpu = await key_run(pilot, viewer, frames, scroll_keys(key_count))
        out[f"key -> frame at {total:,} lines, wrap off"] = (
            f"{summary(latencies)}; CPU p50 {statistics.median(cpu):.1f} ms, p99 {pct(cpu, 0.99):.1f} ms")
        await pilot.press("w")
        await pilot.pause(0.1)
        latencies, cpu = await key_run(pilot, viewer, frames, scroll_keys(key_count))
        out[f"key -> frame at {total:,} lines, wrap on"] = (
            f"{summary(latencies)}; CPU p50 {statistics.median(cpu):.1f} ms, p99 {pct(cpu, 0.99):.1f} ms")
        target = "met" if pct(latencies, 0.99) <= 50 else "not met at p99"
        out["target key -> frame <= 50 ms"] = target
    del app, viewer
    gc.collect()
    # 4. memory per event
    out["RSS per event"] = (f"{(rss2 - rss0) * 2**20 / total:.0f} B: the events as made {(rss1 - rss0) * 2**20 / total:.0f} B, "
                            f"the viewer's share {(rss2 - rss1) * 2**20 / total:.0f} B (RSS {rss2:.0f} MB with "
                            f"{total:,} events)")
    del lines
    gc.collect()
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    fresh = make_lines(total, start=total)
    snap1 = tracemalloc.take_snapshot()
    app = Bench()
    async with app.run_test(size=(160, 50)) as pilot:
        viewer = app.query_one(LogViewer)
        for i in range(0, total, PAGE):
            viewer.append(fresh[i:i + PAGE])
        await pilot.pause()
        snap2 = tracemalloc.take_snapshot()
        made = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
        held = sum(s.size_diff for s in snap2.compare_to(snap1, "filename"))
        out["memory per event (tracemalloc)"] = (
            f"{(made + held) / total:.0f} B in all: the event as made by the caller {made / total:.0f} B "
            f"(message text ~{sum(len(m) for _, _, m in fresh) / total:.0f} B), the viewer's share {held / total:.0f} B")
    tracemalloc.stop()
    out["load average while measuring (2 cores)"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("events", nargs="?", type=int, default=1_000_000, help="events in the viewer (1,000,000)")
    parser.add_argument("--keys", type=int, default=240, help="keys per key -> frame run (default 240)")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the GC alone (OpsApp freezes the heap after its first load; this shows why)")
    args = parser.parse_args(argv)
    results = asyncio.run(bench(args.events, args.keys, freeze=not args.no_freeze))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
