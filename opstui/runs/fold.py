"""Fold node names into a compact set expression: web-01 ... web-12 and batch-3 -> `web-[01-12],batch-3`.

Names are split at their last run of digits; names with the same text around it are merged and consecutive
numbers become ranges, keeping their zero padding. `unfold` is the inverse (used by the tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LAST_NUMBER = re.compile(r"^(.*?)(\d+)(\D*)$", re.S)
_BRACKETS = re.compile(r"^(.*)\[([0-9,\-]+)\](.*)$", re.S)


def _consecutive(a: str, b: str) -> bool:
    if int(b) != int(a) + 1:
        return False
    padded = (len(a) > 1 and a[0] == "0") or (len(b) > 1 and b[0] == "0")
    return len(a) == len(b) or not padded


def fold_names(names: Iterable[str]) -> str:
    """`web-[01-12],batch-3` for the given names (duplicates ignored; bigger series first, then by name)."""
    series: dict[tuple[str, str], set[str]] = {}
    plain: set[str] = set()
    for name in names:
        m = _LAST_NUMBER.match(name)
        if m is None:
            plain.add(name)
            continue
        series.setdefault((m.group(1), m.group(3)), set()).add(m.group(2))
    parts: list[tuple[int, str, str]] = [(1, name, name) for name in plain]
    for (prefix, suffix), numbers in series.items():
        ordered = sorted(numbers, key=lambda s: (int(s), len(s)))
        if len(ordered) == 1:
            parts.append((1, prefix + ordered[0] + suffix, prefix + suffix))
            continue
        runs: list[list[str]] = [[ordered[0]]]
        for num in ordered[1:]:
            if _consecutive(runs[-1][-1], num):
                runs[-1].append(num)
            else:
                runs.append([num])
        body = ",".join(r[0] if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
        folded = f"{prefix}[{body}]{suffix}"
        listed = ",".join(prefix + n + suffix for n in ordered)
        parts.append((len(ordered), folded if len(folded) <= len(listed) else listed, prefix + suffix))
    parts.sort(key=lambda p: (-p[0], p[2].lower(), p[1]))
    return ",".join(p[1] for p in parts)


def _split_top(text: str) -> list[str]:
    """Split at commas outside brackets."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p for p in out if p]


def unfold(expression: str) -> set[str]:
    """The names a folded expression stands for (names without brackets or commas only)."""
    names: set[str] = set()
    for part in _split_top(expression):
        m = _BRACKETS.match(part)
        if m is None:
            names.add(part)
            continue
        prefix, body, suffix = m.groups()
        for item in body.split(","):
            first, _, last = item.partition("-")
            if not last:
                names.add(prefix + first + suffix)
                continue
            width = len(first) if first.startswith("0") and len(first) > 1 else 0
            for n in range(int(first), int(last) + 1):
                names.add(f"{prefix}{n:0{width}d}{suffix}")
    return names
