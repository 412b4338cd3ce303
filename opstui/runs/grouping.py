"""Fold identical outputs: 998 identical answers and 2 odd ones read as two blocks.

Nodes group by (stdout, exit code, outcome): outcome keeps "never ran" (Undeliverable, DeliveryTimedOut,
Cancelled before start) apart from "ran and printed nothing". The key is a digest of the whole stdout,
so output longer than what is kept in memory still groups exactly.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from opstui.runs.fold import fold_names


@dataclass(frozen=True, slots=True)
class NodeResult:
    """One node's result as grouping needs it."""

    key: str  # region/instance-id
    name: str  # Name tag, or the instance id
    outcome: str
    exit_code: int | None
    stdout: str
    digest: str  # of the full stdout
    stderr: str = ""


@dataclass(frozen=True)
class OutputGroup:
    members: tuple[NodeResult, ...]
    stdout: str
    exit_code: int | None
    outcome: str

    @cached_property
    def label(self) -> str:
        return fold_names(m.name for m in self.members)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def ok(self) -> bool:
        return self.outcome == "Success" and (self.exit_code in (0, None))


def group_results(results: Iterable[NodeResult]) -> list[OutputGroup]:
    """Largest group first; ties: successes first, then by label."""
    buckets: dict[tuple[str, int | None, str], list[NodeResult]] = {}
    for r in results:
        buckets.setdefault((r.digest, r.exit_code, r.outcome), []).append(r)
    groups = [OutputGroup(tuple(sorted(m, key=lambda r: r.name)), m[0].stdout, code, outcome)
              for (_, code, outcome), m in buckets.items()]
    groups.sort(key=lambda g: (-g.size, not g.ok, g.label))
    return groups


def diff_groups(base: OutputGroup, other: OutputGroup, context: int = 3) -> list[str]:
    """Unified diff of `other`'s output against `base`'s (usually the largest group)."""
    head = [f"exit code {base.exit_code} -> {other.exit_code}"] if base.exit_code != other.exit_code else []
    body = difflib.unified_diff(base.stdout.splitlines(), other.stdout.splitlines(),
                                fromfile=f"{base.label} ({base.size})", tofile=f"{other.label} ({other.size})",
                                lineterm="", n=context)
    lines = head + list(body)
    return lines or ["(identical output)"]
