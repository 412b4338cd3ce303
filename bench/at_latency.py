"""``--latency`` for every bench script: the sandbox latencies to measure at (default 0 and 120 ms).

Each script runs its measurement once per latency, against a sandbox started with ``--latency`` (every API call
and the data channel's round trip wait that long, `opstui/sandbox/latency.py`), and prints one column each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opstui.sandbox.latency import parse_latency  # noqa: E402

DEFAULT = ("0", "120ms")


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--latency", action="append", metavar="L",
                        help="sandbox latency to measure at, e.g. 120ms or 120ms±40ms; repeat for several "
                             f"(default: {' and '.join(DEFAULT)})")


def chosen(args: argparse.Namespace) -> list[str]:
    values = args.latency or list(DEFAULT)
    for value in values:
        try:
            parse_latency(value)
        except ValueError as exc:
            raise SystemExit(f"--latency: {exc}") from None
    return values


def print_columns(results: Mapping[str, Mapping[str, object]], width: int = 26) -> None:
    """``{column title: {row: value}}`` as a table, rows in first-seen order."""
    keys: list[str] = []
    for result in results.values():
        keys += [k for k in result if k not in keys]
    label = max(len(k) for k in keys)
    print()
    print(f"{'':<{label}}  " + "  ".join(f"{title:>{width}}" for title in results))
    for key in keys:
        print(f"{key:<{label}}  " + "  ".join(f"{str(r.get(key, '')):>{width}}" for r in results.values()))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), for sandbox-vs-app CPU."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")
