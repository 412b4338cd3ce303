"""Local filter of log lines: words and JSON field conditions, for the Logs tab's viewer (no Textual).

Syntax, typed into the viewer's filter box (all parts must hold):

* ``word``: the line contains it (case-insensitive); ``!word``: it does not; ``"two words"`` keeps a space.
* ``level=ERROR``, ``$.level = "ERROR"``, ``{ $.status >= 500 }``, ``$.req.ms > 250``, ``level != INFO``: a
  JSON line's field (dotted path into nested objects) compared with a value. Numbers compare as numbers,
  text as text; ``*`` in a text value matches anything (``$.path = "/api/*"``). A line that is not a JSON
  object never matches a field condition. ``&&`` / ``and`` between parts and the braces of AWS's pattern
  syntax are accepted, so a metric filter's JSON pattern can be pasted as is.

The match runs over 100,000 lines on each keystroke: a line is only parsed as JSON when it starts with ``{``
and contains every literal value an ``=`` condition asks for.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

_CONDITION = re.compile(
    r"""(?P<path>\$?\.?[A-Za-z_@][\w.@-]*)\s*(?P<op>!=|>=|<=|==|=|>|<)\s*(?P<value>"[^"]*"|'[^']*'|[^\s&|}"'][^\s&|}]*)""")
_NOISE = {"&&", "and", "{", "}", "AND"}


class FilterError(ValueError):
    """The filter text cannot be understood (shown under the box; the previous filter stays)."""


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    op: str
    value: str

    def holds(self, obj: Any) -> bool:
        for part in self.path:
            if not isinstance(obj, dict) or part not in obj:
                return self.op == "!="
            obj = obj[part]
        if isinstance(obj, bool):
            actual = "true" if obj else "false"
        elif obj is None:
            actual = "null"
        else:
            actual = obj if isinstance(obj, str) else json.dumps(obj) if isinstance(obj, dict | list) else obj
        if self.op in (">", "<", ">=", "<="):
            try:
                a, b = float(actual), float(self.value)
            except (TypeError, ValueError):
                return False
            return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[self.op]
        try:
            equal = float(actual) == float(self.value)
        except (TypeError, ValueError):
            text = str(actual)
            equal = fnmatch.fnmatchcase(text, self.value) if "*" in self.value else text == self.value
        return equal if self.op in ("=", "==") else not equal


@dataclass(frozen=True, slots=True)
class LineFilter:
    words: tuple[str, ...] = ()  # lowercased; a leading ! negates
    conditions: tuple[Condition, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words and not self.conditions

    @property
    def highlight(self) -> tuple[str, ...]:
        """The words to highlight in shown lines (the positive ones)."""
        return tuple(w for w in self.words if not w.startswith("!"))

    def matches(self, message: str) -> bool:
        if self.words:
            low = message.lower()
            for w in self.words:
                if w.startswith("!") and len(w) > 1:
                    if w[1:] in low:
                        return False
                elif w not in low:
                    return False
        if not self.conditions:
            return True
        text = message.lstrip()
        if not text.startswith("{"):
            return False
        for c in self.conditions:  # cheap rejection before json.loads
            if c.op != "!=" and f'"{c.path[-1]}"' not in text:
                return False  # the field is not in the line at all
            if c.op in ("=", "==") and "*" not in c.value and c.value not in text:
                return False
        try:
            obj = json.loads(text)
        except ValueError:
            return False
        return isinstance(obj, dict) and all(c.holds(obj) for c in self.conditions)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_filter(text: str) -> LineFilter:
    conditions: list[Condition] = []

    def take(match: re.Match[str]) -> str:
        path = match.group("path").removeprefix("$").removeprefix(".")
        parts = tuple(p for p in path.split(".") if p)
        if not parts:
            raise FilterError(f"no field name in {match.group(0)!r}")
        conditions.append(Condition(parts, match.group("op"), _unquote(match.group("value"))))
        return " "

    rest = _CONDITION.sub(take, text)
    try:
        tokens = shlex.split(rest.replace("{", " ").replace("}", " "))
    except ValueError as exc:
        raise FilterError(f"unbalanced quote: {exc}") from None
    words = tuple(t.lower() for t in tokens if t not in _NOISE and t != "!")
    return LineFilter(words, tuple(conditions))
