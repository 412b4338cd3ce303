"""CloudWatch Logs filter patterns: one parser and matcher for FilterLogEvents and metric filters.

Why: moto's matcher knows single terms and quoted phrases only and treats anything else as "match everything"
(an alarm on ``{ $.level = "ERROR" }`` would count every line). The syntax follows "Filter pattern syntax for
metric filters, subscription filters, filter log events, and Live Tail"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html):

* **Unstructured**: terms separated by spaces must all appear (case-sensitive); ``"a quoted phrase"`` is one
  term; ``?ERROR ?WARN`` matches either; ``-term`` excludes (``ERROR -Exiting``); ``%regex%`` is a regular
  expression. An empty pattern matches every event.
* **JSON**: ``{ $.level = "ERROR" }``, ``{ $.latency_ms > 1000 }``, ``{ $.user.id = 1 && $.status != 200 }``,
  ``||``, parentheses, ``*`` wildcards in strings, ``IS TRUE`` / ``IS FALSE`` / ``IS NULL`` / ``NOT EXISTS``,
  ``$.list[0]`` indexes. A non-JSON event never matches.
* **Space-delimited**: ``[ip, id, user, timestamp, request, status_code = 5*, size]``: fields separated by white
  space, ``"..."`` and ``[...]`` grouping one field each; a condition per field (``= != < <= > >=``, ``*``
  wildcards, ``&&``/``||`` between conditions of a field); ``...`` matches any number of fields. Without
  ``...`` the event must have exactly as many fields as the pattern.

A pattern the parser cannot read raises ``InvalidParameterException("Invalid filter pattern")``, as AWS answers.
:func:`field_value` reads a metric transformation's ``metricValue`` (``$.latency_ms``, ``$size``, a number).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from moto.logs.exceptions import InvalidParameterException

Matcher = Callable[[str], bool]
MISSING = object()


class PatternError(ValueError):
    pass


def invalid() -> InvalidParameterException:
    return InvalidParameterException("Invalid filter pattern")


@dataclass(frozen=True)
class FilterPattern:
    """A parsed pattern: ``matches(message)`` and, for space-delimited ones, the field names."""

    text: str
    kind: str  # "all" / "terms" / "json" / "fields"
    matcher: Matcher
    fields: tuple[str, ...] = ()

    def matches(self, message: str) -> bool:
        return self.matcher(message)

    def extract(self, message: str) -> dict[str, str]:
        """Named fields of a space-delimited pattern (for ``$field`` metric values)."""
        if self.kind != "fields":
            return {}
        values = split_fields(message)
        return {name: values[i] for i, name in enumerate(self.fields) if i < len(values) and name != "..."}


@lru_cache(maxsize=512)
def compile_pattern(text: str | None) -> FilterPattern:
    """Parse ``text`` (cached); raises InvalidParameterException for what AWS would refuse."""
    raw = (text or "").strip()
    try:
        if not raw:
            return FilterPattern(raw, "all", lambda _m: True)
        if raw.startswith("{"):
            return FilterPattern(raw, "json", _json_pattern(raw))
        if raw.startswith("["):
            names, matcher = _fields_pattern(raw)
            return FilterPattern(raw, "fields", matcher, names)
        return FilterPattern(raw, "terms", _terms_pattern(raw))
    except (PatternError, re.error, IndexError) as exc:
        raise invalid() from exc


# ------------------------------------------------------------------------------------------------------------
# unstructured terms


def _terms_pattern(text: str) -> Matcher:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        prefix = ""
        if ch in "?-" and i + 1 < len(text) and not text[i + 1].isspace():
            prefix, i = ch, i + 1
            ch = text[i]
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise PatternError("unterminated quote")
            tokens.append(prefix + "\0" + text[i + 1:end])
            i = end + 1
        elif ch == "%":
            end = text.find("%", i + 1)
            if end < 0:
                raise PatternError("unterminated regex")
            re.compile(text[i + 1:end])
            tokens.append(prefix + "\1" + text[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            tokens.append(prefix + "\0" + text[i:j])
            i = j
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    for token in tokens:
        prefix = token[0] if token[0] in "?-" else ""
        body = token[len(prefix):]
        kind, value = body[0], body[1:]
        if kind == "\1":
            rx = re.compile(value)
            test: Matcher = lambda m, rx=rx: rx.search(m) is not None  # noqa: E731
        else:
            test = lambda m, v=value: v in m  # noqa: E731
        (optional if prefix == "?" else excluded if prefix == "-" else required).append(test)

    def match(message: str) -> bool:
        if any(t(message) for t in excluded):
            return False
        if not all(t(message) for t in required):
            return False
        return not optional or any(t(message) for t in optional)

    return match


# ------------------------------------------------------------------------------------------------------------
# JSON


_JSON_TOKEN = re.compile(r"""\s*(?:(\|\||&&|!=|<=|>=|=|<|>|\(|\))|(\$[\w.\[\]\-*]*)|("(?:[^"\\]|\\.)*")|"""
                         r"""(IS\s+TRUE|IS\s+FALSE|IS\s+NULL|NOT\s+EXISTS)|([^\s()=<>!&|"]+))""")


def _json_tokens(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    body = body.rstrip()
    while pos < len(body):
        m = _JSON_TOKEN.match(body, pos)
        if not m or m.end() == pos:
            raise PatternError(f"unexpected {body[pos:pos + 10]!r}")
        pos = m.end()
        op, sel, quoted, postfix, bare = m.groups()
        if op:
            out.append(("op", op))
        elif sel:
            out.append(("sel", sel))
        elif quoted is not None:
            out.append(("str", json.loads(quoted)))
        elif postfix:
            out.append(("post", " ".join(postfix.split())))
        else:
            out.append(("bare", bare))
    return out


def select(doc: Any, selector: str) -> Any:
    node = doc
    for part in re.findall(r"\.([^.\[]+)|\[(\d+|\*)\]", selector[1:]):
        key, index = part
        if key:
            if not isinstance(node, dict) or key not in node:
                return MISSING
            node = node[key]
        else:
            if not isinstance(node, list):
                return MISSING
            if index == "*":
                return node
            i = int(index)
            if i >= len(node):
                return MISSING
            node = node[i]
    return node


def _wild(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)


def _compare(value: Any, op: str, target: Any, quoted: bool) -> bool:
    if value is MISSING:
        return False
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(target, float) and not quoted:
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            ok = {"=": v == target, "!=": v != target, "<": v < target, "<=": v <= target, ">": v > target,
                  ">=": v >= target}[op]
        else:
            if op not in ("=", "!="):
                raise PatternError("strings compare with = or != only")
            text = v if isinstance(v, str) else json.dumps(v)
            hit = _wild(str(target)).match(text) is not None
            ok = hit if op == "=" else not hit
        if ok:
            return True
    return False


_SAFE_LITERAL = re.compile(r"^[ !#-)+-.0-\[\]-~]+$")  # printable ASCII but ", \\, / and *


def _json_pattern(text: str) -> Matcher:
    if not text.endswith("}"):
        raise PatternError("missing }")
    tokens = _json_tokens(text[1:-1])
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise PatternError("unexpected end")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Callable[[Any], bool]:
        left = term()
        while (t := peek()) is not None and t == ("op", "||"):
            take()
            right = term()
            left = (lambda a, b: lambda d: a(d) or b(d))(left, right)
        return left

    def term() -> Callable[[Any], bool]:
        left = factor()
        while (t := peek()) is not None and t == ("op", "&&"):
            take()
            right = factor()
            left = (lambda a, b: lambda d: a(d) and b(d))(left, right)
        return left

    def factor() -> Callable[[Any], bool]:
        t = take()
        if t == ("op", "("):
            inner = expr()
            if take() != ("op", ")"):
                raise PatternError("missing )")
            return inner
        if t[0] != "sel":
            raise PatternError("a selector ($.field) expected")
        selector = t[1]
        nxt = take()
        if nxt[0] == "post":
            post = nxt[1]
            if post == "NOT EXISTS":
                return lambda d: select(d, selector) is MISSING
            if post == "IS NULL":
                return lambda d: select(d, selector) is None
            flag = post == "IS TRUE"
            return lambda d: select(d, selector) is flag
        if nxt[0] != "op" or nxt[1] not in ("=", "!=", "<", "<=", ">", ">="):
            raise PatternError("a comparison expected")
        op = nxt[1]
        value = take()
        if value[0] == "str":
            target: Any = value[1]
            quoted = True
        elif value[0] == "bare":
            quoted = False
            try:
                target = float(value[1])
            except ValueError:
                if op not in ("=", "!="):
                    raise PatternError("a number expected") from None
                target = value[1]
        else:
            raise PatternError("a value expected")
        if quoted and op not in ("=", "!="):
            raise PatternError("strings compare with = or != only")
        return lambda d: _compare(select(d, selector), op, target, quoted)

    check = expr()
    if pos != len(tokens):
        raise PatternError("trailing tokens")
    # A cheap prefilter: in a pattern without ||, every `= "literal"` must appear in the raw event text (only
    # literals JSON never escapes), so most events are refused without json.loads.
    literals: list[str] = []
    if ("op", "||") not in tokens:
        for k in range(len(tokens) - 2):
            sel, op, val = tokens[k], tokens[k + 1], tokens[k + 2]
            if sel[0] == "sel" and op == ("op", "=") and val[0] == "str" and _SAFE_LITERAL.match(val[1]):
                literals.append(val[1])

    def match(message: str) -> bool:
        for literal in literals:
            if literal not in message:
                return False
        stripped = message.lstrip()
        if not stripped.startswith(("{", "[")):
            return False
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return bool(check(doc))

    return match


# ------------------------------------------------------------------------------------------------------------
# space-delimited


def split_fields(message: str) -> list[str]:
    """Fields of a space-delimited event: white space separates, ``"..."`` and ``[...]`` each make one field."""
    out: list[str] = []
    i, n = 0, len(message)
    while i < n:
        ch = message[i]
        if ch.isspace():
            i += 1
            continue
        if ch in '"[':
            close = '"' if ch == '"' else "]"
            end = message.find(close, i + 1)
            if end < 0:
                end = n
            out.append(message[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < n and not message[j].isspace():
                j += 1
            out.append(message[i:j])
            i = j
    return out


_CONDITION = re.compile(r"\s*(!=|<=|>=|=|<|>)\s*(\"(?:[^\"\\]|\\.)*\"|[^\s&|]+)\s*")


def _field_condition(spec: str) -> tuple[str, Callable[[str], bool]]:
    """``name`` or ``name <op> value [&& <op> value ...]`` -> (name, test of the field's text)."""
    m = re.match(r"\s*([\w.\-]+|\.\.\.)\s*", spec)
    if not m:
        raise PatternError(f"bad field {spec!r}")
    name = m.group(1)
    rest = spec[m.end():]
    if not rest.strip():
        return name, lambda _v: True
    tests: list[tuple[str, Callable[[str], bool]]] = []  # (joiner, test)
    joiner = "&&"
    while rest.strip():
        c = _CONDITION.match(rest)
        if not c:
            raise PatternError(f"bad condition {rest!r}")
        op, raw = c.groups()
        quoted = raw.startswith('"')
        target = json.loads(raw) if quoted else raw
        tests.append((joiner, _field_test(op, target, quoted)))
        rest = rest[c.end():]
        j = re.match(r"\s*(&&|\|\|)\s*", rest)
        if j:
            joiner = j.group(1)
            rest = rest[j.end():]
            # a following condition may repeat the field name: "status >= 500 && status < 600"
            again = re.match(r"\s*" + re.escape(name) + r"(?=\s*(!=|<=|>=|=|<|>))", rest)
            if again:
                rest = rest[again.end():]
        elif rest.strip():
            raise PatternError(f"bad condition {rest!r}")

    def test(value: str) -> bool:
        result = tests[0][1](value)
        for join, t in tests[1:]:
            result = (result and t(value)) if join == "&&" else (result or t(value))
        return result

    return name, test


def _field_test(op: str, target: str, quoted: bool) -> Callable[[str], bool]:
    number: float | None = None
    if not quoted:
        try:
            number = float(target)
        except ValueError:
            number = None
    if number is not None:
        def numeric(value: str) -> bool:
            try:
                v = float(value)
            except ValueError:
                return False
            return {"=": v == number, "!=": v != number, "<": v < number, "<=": v <= number, ">": v > number,
                    ">=": v >= number}[op]
        return numeric
    if op not in ("=", "!="):
        raise PatternError("strings compare with = or != only")
    rx = _wild(target)
    return (lambda v: rx.match(v) is not None) if op == "=" else (lambda v: rx.match(v) is None)


def _fields_pattern(text: str) -> tuple[tuple[str, ...], Matcher]:
    if not text.endswith("]"):
        raise PatternError("missing ]")
    parts = [p for p in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", text[1:-1])]
    specs = [_field_condition(p) for p in parts if p.strip()]
    names = tuple(name for name, _ in specs)
    ellipsis = "..." in names

    def match(message: str) -> bool:
        values = split_fields(message)
        if not ellipsis:
            if len(values) != len(specs):
                return False
            return all(test(v) for (_, test), v in zip(specs, values, strict=True))
        head = names.index("...")
        tail = len(specs) - head - 1
        if len(values) < head + tail:
            return False
        ok = all(specs[i][1](values[i]) for i in range(head))
        return ok and all(specs[head + 1 + k][1](values[len(values) - tail + k]) for k in range(tail))

    return names, match


# ------------------------------------------------------------------------------------------------------------
# metric values


def field_value(pattern: FilterPattern, message: str, metric_value: str) -> float | None:
    """The number a metric transformation's ``metricValue`` gives for a matching event (None: no datapoint)."""
    text = metric_value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    raw: Any = None
    if text.startswith("$.") and pattern.kind == "json":
        try:
            raw = select(json.loads(message), text)
        except ValueError:
            return None
    elif text.startswith("$"):
        raw = pattern.extract(message).get(text[1:])
    if raw is None or raw is MISSING or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None
