"""Measure the terminal emulator and print the numbers.

    .venv/bin/python bench/terminal.py [--mb 8] [--cols 200] [--rows 50]

Emulator part (this file): parse throughput in MB/s of `opstui.terminal.Terminal` against stock pyte
(`pyte.Screen` + `pyte.ByteStream`, same screen size, same run) on three workloads fed in 4 KB chunks:
- plain:   lines of plain ASCII text, CR LF terminated, scrolling the screen;
- colour:  `ls --color=always` output (the recorded fixture, repeated) - SGR on every name;
- mixed:   coloured ls output + plain text + cursor moves (CUP, EL, ED, a progress bar redrawn with CR,
           CJK text), like an interactive session.
Targets (2-core machine): >= 10 MB/s plain, >= 3 MB/s mixed.

End-to-end part: a sandbox shell in the headless app, `cat` of a large file into the painted TerminalView,
and keystroke-to-echo latency while `yes` floods it. Targets: echo p99 <= 50 ms during a flood.
"""

from __future__ import annotations

import argparse
import random
import sys
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


def measure_end_to_end(mb: float, cols: int, rows: int, latency: str = "0") -> list[Result]:
    """A sandbox shell in the real app (headless): `cat` of a large file through the Session Manager channel
    into the painted TerminalView, and keystroke-to-echo latency while `yes` floods the same terminal."""
    import asyncio
    import statistics
    import tempfile

    from textual import events

    from opstui.app import OpsApp
    from opstui.config import Settings
    from opstui.demo import SandboxProcess

    results: list[Result] = []

    async def run() -> None:
        with SandboxProcess(live=False, state_dir=tempfile.mkdtemp(prefix="opstui-bench-"),
                            latency=latency) as sandbox:
            settings = Settings(regions=tuple(sandbox.regions), endpoint_url=sandbox.endpoint, refresh=3600,
                                demo=True, fleet_cache=False)
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
                original_feed = view.feed

                def feed(data: bytes) -> None:
                    original_feed(data)
                    for marker in (b"END-4", b"MADE-2", b"Z"):
                        if marker not in seen and marker in data:
                            seen[marker] = time.perf_counter()

                view.feed = feed  # type: ignore[method-assign]

                async def send(text: bytes) -> None:
                    session.post_message(view.Input(view, text))

                size = int(mb * 1024 * 1024)
                await send(b"head -c %d /dev/urandom | base64 -w 100 > big.txt; echo MADE-$((1+1))\r" % (size * 3 // 4))
                while b"MADE-2" not in seen:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                paints0, parsed0 = view.paint_count, view.bytes_parsed
                t0 = time.perf_counter()
                await send(b"cat big.txt; echo END-$((2*2))\r")
                while b"END-4" not in seen:
                    await asyncio.sleep(0.01)
                seconds = seen[b"END-4"] - t0
                await pilot.pause(0.1)
                painted_mb = (view.bytes_parsed - parsed0) / 1e6
                results.append(Result(f"end-to-end cat -> widget @ {latency}", painted_mb / seconds,
                                      note=f"{painted_mb:.1f} MB in {seconds:.2f} s, "
                                           f"{(view.paint_count - paints0) / seconds:.0f} paints/s"))
                # keystroke-to-echo while `yes` floods the terminal (the tty echoes typed keys at once)
                await send(b"yes flood\r")
                await asyncio.sleep(1.0)
                latencies = []
                backlog = []
                for _ in range(40):
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
                    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
                    results.append(Result(f"keystroke echo during flood @ {latency}", 0.0,
                                          note=f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms "
                                               f"(n={len(latencies)}; median {statistics.median(backlog) / 1024:.0f} KB "
                                               "parsed between the key and its echo)"))
            app.close_aws()

    asyncio.run(run())
    return results


MEASUREMENTS: list[Callable[[float, int, int], list[Result]]] = [measure_emulator, measure_end_to_end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes per workload (default 8)")
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--mb-at-latency", type=float, default=1.0,
                        help="megabytes end to end at a non-zero latency (the agent's 16-frame window carries ~16 KB "
                             "a round trip; default 1)")
    from bench import at_latency
    from opstui.sandbox.latency import parse_latency

    at_latency.add_argument(parser)
    args = parser.parse_args()
    for result in measure_emulator(args.mb, args.cols, args.rows):  # no network: once
        print(result.line(), flush=True)
    for latency in at_latency.chosen(args):
        mb = args.mb if parse_latency(latency).mean == 0 else min(args.mb, args.mb_at_latency)
        for result in measure_end_to_end(mb, args.cols, args.rows, latency):
            print(result.line(), flush=True)


if __name__ == "__main__":
    main()
