"""Measure the terminal emulator and print the numbers.

    .venv/bin/python bench/terminal.py [--mb 8] [--cols 200] [--rows 50]

Emulator part (this file): parse throughput in MB/s of `opstui.terminal.Terminal` against stock pyte
(`pyte.Screen` + `pyte.ByteStream`, same screen size, same run) on three workloads fed in 4 KB chunks:
- plain:   lines of plain ASCII text, CR LF terminated, scrolling the screen;
- colour:  `ls --color=always` output (the recorded fixture, repeated) - SGR on every name;
- mixed:   coloured ls output + plain text + cursor moves (CUP, EL, ED, a progress bar redrawn with CR,
           CJK text), like an interactive session.
Targets (2-core machine): >= 10 MB/s plain, >= 3 MB/s mixed.

End-to-end part: a sandbox shell in the headless app, `cat` of a large file (base64 lines, 100 wide) until
its last line is painted in the TerminalView, with the app's CPU per MB (robust to other load on the machine);
`--against-tmux` cats the same file in a detached tmux of the same size in the same run (until capture-pane
shows the line after it) and prints the ratio. Then keystroke-to-echo latency while `yes` floods the terminal
(p50/p90/p99/max over `--keys`), and the app's RSS. Targets (issue 17): cat >= 20 MB/s end to end, the last
screen painted within a frame once output stops, echo p99 <= 30 ms over >= 300 keys.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyte  # noqa: E402

from opstui.terminal.emulator import Terminal  # noqa: E402

CHUNK = 4096
STREAMS = ROOT / "tests" / "terminal" / "streams"
WORDS = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "iota", "kappa", "lambda", "omicron",
    "sigma", "upsilon", "omega", "server", "instance", "region", "backup", "snapshot", "volume", "mu", "pi",
]


@dataclass
class Result:
    name: str
    ours_mbps: float
    pyte_mbps: float | None = None
    note: str = ""

    def line(self) -> str:
        if not self.ours_mbps:
            return f"{self.name:<28} {self.note}"
        s = f"{self.name:<28} {self.ours_mbps:8.2f} MB/s"
        if self.pyte_mbps:
            s += f"   pyte {self.pyte_mbps:6.2f} MB/s   x{self.ours_mbps / self.pyte_mbps:5.1f}"
        if self.note:
            s += f"   {self.note}"
        return s


def _cut(data: bytes, size: int) -> bytes:
    """Repeat or cut `data` to about `size` bytes, at a line boundary."""
    out = data * (size // max(1, len(data)) + 1)
    end = out.rfind(b"\n", 0, size)
    return out[: end + 1 if end > 0 else size]


def plain_text(size: int) -> bytes:
    rng = random.Random(1)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))).encode() + b"\r\n" for _ in range(2000)]
    return _cut(b"".join(lines), size)


def coloured_ls(size: int) -> bytes:
    path = STREAMS / "ls_color.bin"
    data = path.read_bytes() if path.exists() else b""
    if not data:  # fall back to a synthetic listing
        rng = random.Random(2)
        data = b"".join(
            b"\x1b[0m\x1b[01;3%dm%s\x1b[0m  " % (rng.choice(b"1246"), rng.choice(WORDS).encode())
            + (b"\r\n" if i % 6 == 5 else b"")
            for i in range(3000)
        )
    return _cut(data, size)


def _lines_at(data: bytes, offset: int, size: int = 4096) -> bytes:
    """About `size` bytes of whole lines from `data` (no escape sequence cut in half)."""
    start = data.index(b"\n", offset) + 1
    return data[start : data.index(b"\n", start + size) + 1]


def mixed(size: int) -> bytes:
    rng = random.Random(3)
    ls = coloured_ls(64 * 1024)
    plain = plain_text(64 * 1024)
    parts: list[bytes] = []
    total = 0
    while total < size:
        kind = rng.randrange(5)
        if kind == 0:
            part = _lines_at(ls, rng.randrange(len(ls) - 8192))
        elif kind == 1:
            part = _lines_at(plain, rng.randrange(len(plain) - 8192))
        elif kind == 2:  # a progress bar redrawn in place
            part = b"".join(
                b"\r\x1b[K[%s%s] %3d%%" % (b"#" * (i // 4), b"." * (25 - i // 4), i) for i in range(0, 101, 2)
            ) + b"\r\n"
        elif kind == 3:  # a full-screen redraw with cursor moves, like top
            part = b"\x1b[H\x1b[2J" + b"".join(
                b"\x1b[%d;1H\x1b[7m%5d\x1b[0m %-10s \x1b[1;32m%5.1f\x1b[0m %s\x1b[K"
                % (y + 1, rng.randrange(99999), rng.choice(WORDS).encode(), rng.random() * 100, b"x" * rng.randrange(40))
                for y in range(40)
            )
        else:
            part = "中文字符 テキスト 한국어 mixed with ascii text\r\n".encode() * 8
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def _throughput(make_feed: Callable[[], Callable[[bytes], None]], data: bytes, repeat: int) -> float:
    best = float("inf")
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    for _ in range(repeat):
        feed = make_feed()
        start = time.perf_counter()
        for chunk in chunks:
            feed(chunk)
        best = min(best, time.perf_counter() - start)
    return len(data) / best / 1e6


def ours(cols: int, rows: int) -> Callable[[], Callable[[bytes], None]]:
    return lambda: Terminal(cols, rows).feed


def stock_pyte(cols: int, rows: int) -> Callable[[], Callable[[bytes], None]]:
    def make() -> Callable[[bytes], None]:
        return pyte.ByteStream(pyte.Screen(cols, rows)).feed

    return make


def measure_emulator(mb: float, cols: int, rows: int) -> list[Result]:
    size = int(mb * 1e6)
    pyte_size = min(size, 600_000)  # stock pyte is ~30x slower; a smaller sample keeps the run short
    results = []
    for name, make in (("plain", plain_text), ("colour (ls --color)", coloured_ls), ("mixed", mixed)):
        data = make(size)
        ours_mbps = _throughput(ours(cols, rows), data, repeat=3)
        pyte_mbps = _throughput(stock_pyte(cols, rows), data[:pyte_size], repeat=1)
        results.append(Result(f"parse {name}", ours_mbps, pyte_mbps, f"{len(data) / 1e6:.1f} MB, {cols}x{rows}"))
    return results


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted `values` (q in 0..100)."""
    return values[max(0, min(len(values) - 1, -(-len(values) * q // 100) - 1))] if values else 0.0


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    import resource

    current = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        current = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _make_file(mb: float) -> Path:
    """A file of base64 lines 100 wide (like a log), about `mb` MB, read once so the page cache holds it."""
    path = Path(tempfile.mkdtemp(prefix="opstui-bench-cat-")) / "big.txt"
    rng = random.Random(5)
    raw = rng.randbytes(int(mb * 1e6 * 3 / 4))
    text = base64.b64encode(raw)
    path.write_bytes(b"".join(text[i : i + 100] + b"\n" for i in range(0, len(text), 100)))
    path.read_bytes()
    return path


def _tmux_cat(path: Path, cols: int, rows: int) -> tuple[float, float] | None:
    """`cat path` in a detached tmux session of cols x rows (its own server): seconds until the sentinel after
    the file shows in the pane (capture-pane polled every 5 ms), and the tmux server's CPU seconds meanwhile.
    None when tmux is not installed."""
    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    sock = f"opstui-bench-{os.getpid()}"
    base = [tmux, "-L", sock, "-f", "/dev/null"]

    def run(*args: str) -> str:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60).stdout

    run("new-session", "-d", "-x", str(cols), "-y", str(rows), "-s", "bench", "sh")
    try:
        run("set-option", "-g", "history-limit", "10000")
        time.sleep(0.3)
        pid = int(run("display-message", "-p", "-t", "bench", "#{pid}").strip())

        def cpu() -> float:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        cpu0 = cpu()
        start = time.perf_counter()
        run("send-keys", "-t", "bench", f"cat {path}; echo END-$((2*2))", "Enter")
        while "END-4" not in run("capture-pane", "-p", "-t", "bench"):
            if time.perf_counter() - start > 300:
                return None
            time.sleep(0.005)
        return time.perf_counter() - start, cpu() - cpu0
    finally:
        run("kill-server")


def measure_end_to_end(mb: float, cols: int, rows: int, *, against_tmux: bool = False, keys: int = 300,
                       runs: int = 1) -> list[Result]:
    """A sandbox shell in the real app (headless): `cat` of a large file through the Session Manager channel
    into the painted TerminalView (optionally tmux on the same file in the same run), and keystroke-to-echo
    latency while `yes` floods the same terminal."""
    import asyncio

    from textual import events

    from opstui.app import OpsApp
    from opstui.config import Settings
    from opstui.demo import SandboxProcess

    results: list[Result] = []
    path = _make_file(mb)
    size_mb = path.stat().st_size / 1e6

    async def run() -> None:
        with SandboxProcess(live=False, state_dir=tempfile.mkdtemp(prefix="opstui-bench-")) as sandbox:
            settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600,
                                demo=True)
            app = OpsApp(settings, credentials=sandbox.aws_credentials())
            async with app.run_test(size=(cols, rows + 8)) as pilot:
                while app.fleet_view.refreshes < 1:
                    await asyncio.sleep(0.05)
                node = next(n for n in app.fleet_view.table.rows if n.name == "prod-web-01")
                app.open_shells([node])
                while not app.shells_view.sessions() or app.shells_view.sessions()[0].state != "connected":
                    await asyncio.sleep(0.05)
                session = app.shells_view.sessions()[0]
                view = session.terminal
                seen: dict[bytes, float] = {}
                painted: dict[bytes, float] = {}
                original_feed = view.feed
                original_render_lines = view.render_lines

                def feed(data: bytes) -> None:
                    original_feed(data)
                    for marker in (b"END-4", b"MADE-2", b"Z"):
                        if marker not in seen and marker in data:
                            seen[marker] = time.perf_counter()

                def render_lines(crop):  # noqa: ANN001, ANN202 - Textual's signature
                    strips = original_render_lines(crop)
                    if b"END-4" in seen and b"END-4" not in painted and any(
                            "END-4" in row for row in view.terminal.display):
                        painted[b"END-4"] = time.perf_counter()
                    return strips

                view.feed = feed  # type: ignore[method-assign]
                view.render_lines = render_lines  # type: ignore[method-assign]

                async def send(text: bytes) -> None:
                    session.post_message(view.Input(view, text))

                await send(b"echo MADE-$((1+1))\r")
                while b"MADE-2" not in seen:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                ours: list[float] = []
                theirs: list[float] = []
                for _ in range(runs):
                    if against_tmux:
                        tmux = _tmux_cat(path, cols, rows)
                        if tmux is not None:
                            seconds, tmux_cpu = tmux
                            theirs.append(size_mb / seconds)
                            results.append(Result("tmux cat -> pane", size_mb / seconds,
                                                  note=f"{size_mb:.1f} MB in {seconds:.2f} s, tmux server CPU "
                                                       f"{tmux_cpu * 1000 / size_mb:.0f} ms/MB, {cols}x{rows}"))
                        else:
                            results.append(Result("tmux cat -> pane", 0.0, note="tmux is not installed: skipped"))
                    seen.pop(b"END-4", None)
                    painted.pop(b"END-4", None)
                    await send(b"clear\r")
                    await asyncio.sleep(0.5)
                    profile = cProfile.Profile() if os.environ.get("OPSTUI_BENCH_PROFILE") else None
                    if profile is not None:  # the app's main thread during the cat, for a summarised profile
                        profile.enable()
                    paints0, parsed0, cpu0 = view.paint_count, view.bytes_parsed, time.process_time()
                    t0 = time.perf_counter()
                    await send(b"cat %s; echo END-$((2*2))\r" % str(path).encode())
                    while b"END-4" not in painted and time.perf_counter() - t0 < 600:
                        await asyncio.sleep(0.005)
                    seconds = painted[b"END-4"] - t0
                    if profile is not None:
                        profile.disable()
                        profile.dump_stats(os.environ["OPSTUI_BENCH_PROFILE"])
                    cpu = time.process_time() - cpu0
                    after_output = (painted[b"END-4"] - seen[b"END-4"]) * 1000
                    painted_mb = (view.bytes_parsed - parsed0) / 1e6
                    ours.append(size_mb / seconds)
                    results.append(Result("end-to-end cat -> widget", size_mb / seconds,
                                          note=f"{painted_mb:.1f} MB in {seconds:.2f} s, "
                                               f"{(view.paint_count - paints0) / seconds:.0f} paints/s, app CPU "
                                               f"{cpu * 1000 / painted_mb:.0f} ms/MB; last line painted "
                                               f"{after_output:.1f} ms after it arrived"))
                    await pilot.pause(0.1)
                if ours and theirs:
                    mine, tmux_mbps = statistics.median(ours), statistics.median(theirs)
                    results.append(Result("cat: opstui / tmux", 0.0,
                                          note=f"{mine:.2f} / {tmux_mbps:.2f} MB/s = {mine / tmux_mbps:.2f} "
                                               f"(median of {len(ours)} runs each, same file, same run)"))
                # keystroke-to-echo while `yes` floods the terminal (the tty echoes typed keys at once)
                await send(b"yes flood\r")
                await asyncio.sleep(1.0)
                latencies = []
                backlog = []
                for _ in range(keys):
                    seen.pop(b"Z", None)
                    t = time.perf_counter()
                    parsed_at_key = view.bytes_parsed
                    view.post_message(events.Key("Z", "Z"))  # as the terminal delivers a key (pilot.press
                    # would also wait for the app to go idle, which it never is during a flood)
                    while b"Z" not in seen and time.perf_counter() - t < 5:
                        await asyncio.sleep(0.001)
                    if b"Z" in seen:
                        latencies.append((seen[b"Z"] - t) * 1000)
                        backlog.append(view.bytes_parsed - parsed_at_key)
                    await asyncio.sleep(0.05)
                await pilot.press("ctrl+c")
                latencies.sort()
                if latencies:
                    results.append(Result("keystroke echo during flood", 0.0,
                                          note=f"p50 {_percentile(latencies, 50):.1f} ms, "
                                               f"p90 {_percentile(latencies, 90):.1f} ms, "
                                               f"p99 {_percentile(latencies, 99):.1f} ms, "
                                               f"max {latencies[-1]:.1f} ms (keys {len(latencies)} of {keys}; "
                                               f"median {statistics.median(backlog) / 1024:.0f} KB parsed "
                                               "between the key and its echo)"))
                current, peak = _rss_mb()
                results.append(Result("app RSS after the runs", 0.0,
                                      note=f"{current:.0f} MB now, {peak:.0f} MB peak (scrollback 10,000 lines)"))
            app.close_aws()

    try:
        asyncio.run(run())
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes per workload (default 8)")
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--against-tmux", action="store_true",
                        help="also cat the same file in tmux (same size, same run) and print the ratio")
    parser.add_argument("--runs", type=int, default=1, help="cat runs (each side with --against-tmux)")
    parser.add_argument("--keys", type=int, default=300, help="keys typed during the yes flood (default 300)")
    parser.add_argument("--skip-emulator", action="store_true", help="only the end-to-end part")
    args = parser.parse_args()
    if not args.skip_emulator:
        for result in measure_emulator(args.mb, args.cols, args.rows):
            print(result.line(), flush=True)
    for result in measure_end_to_end(args.mb, args.cols, args.rows, against_tmux=args.against_tmux,
                                     keys=args.keys, runs=args.runs):
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
