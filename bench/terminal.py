"""Measure the terminal emulator and print the numbers.

    .venv/bin/python bench/terminal.py [--mb 8] [--cols 200] [--rows 50]

Emulator part (this file): parse throughput in MB/s of `opstui.terminal.Terminal` against stock pyte
(`pyte.Screen` + `pyte.ByteStream`, same screen size, same run) on three workloads fed in 4 KB chunks:
- plain:   lines of plain ASCII text, CR LF terminated, scrolling the screen;
- colour:  `ls --color=always` output (the recorded fixture, repeated) - SGR on every name;
- mixed:   coloured ls output + plain text + cursor moves (CUP, EL, ED, a progress bar redrawn with CR,
           CJK text), like an interactive session.
Targets (2-core machine): >= 10 MB/s plain, >= 3 MB/s mixed.

End-to-end part (session channel -> widget): see `measure_end_to_end` below, a stub to be filled in.
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


def measure_end_to_end(mb: float, cols: int, rows: int) -> list[Result]:
    """TODO(end-to-end, to be filled in by the session/Shells-tab side): bytes through the Session Manager
    channel (bench/session.py's sandbox) into a mounted TerminalView in a headless app; report MB/s
    painted, paints per second, keystroke-to-echo latency with the view attached, and the longest event
    loop stall while a big `cat` is running. Return Result rows; an empty list means "not measured"."""
    return []


MEASUREMENTS: list[Callable[[float, int, int], list[Result]]] = [measure_emulator, measure_end_to_end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes per workload (default 8)")
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--rows", type=int, default=50)
    args = parser.parse_args()
    for measure in MEASUREMENTS:
        for result in measure(args.mb, args.cols, args.rows):
            print(result.line(), flush=True)


if __name__ == "__main__":
    main()
