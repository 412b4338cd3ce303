"""CloudWatch Logs Insights for the sandbox: StartQuery, GetQueryResults, StopQuery, DescribeQueries, and saved
queries (Put/Describe/DeleteQueryDefinition, which moto lacks).

Why: moto runs a query synchronously with a handful of commands and answers anything else with made-up
results. Here a query is parsed at StartQuery (``MalformedQueryException`` with a ``queryCompileError`` for
what the sandbox does not run, never a guess), queued (``Scheduled``), run on a worker thread (``Running``)
and ``Complete`` (or ``Cancelled`` by StopQuery), following the query syntax reference
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html) and the API reference
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html):

* commands ``fields``, ``display``, ``filter``, ``parse`` (glob ``"* [*] *"`` and regex with named groups),
  ``stats`` (``count``, ``count_distinct``, ``avg``, ``min``, ``max``, ``sum``, ``pct``; ``by`` fields and
  ``bin(5m)``), ``sort`` (``asc``/``desc``), ``limit``, ``dedup``;
* expressions: ``= != < <= > >=``, ``like``/``not like`` with ``"substring"`` or ``/regex/``, ``=~``,
  ``in [...]``, ``and``/``or``/``not``, parentheses, ``ispresent(f)``, arithmetic ``+ - * /``;
* fields ``@timestamp``, ``@message``, ``@logStream``, ``@log``, ``@ingestionTime``, ``@ptr``, and the fields of
  JSON events discovered as AWS does (nested keys joined by dots, ``a.b``; list items ``a.0``);
* ``startTime``/``endTime`` in seconds, both inclusive; ``limit`` 1-100,000 (default 10,000); GetQueryResults
  pages with ``maxItems`` (default and at most 10,000) and ``nextToken``; ``statistics`` (records matched,
  scanned, bytes scanned).

Sandbox choices the references leave open: without ``sort`` rows come newest first (non-stats queries) and
``stats`` groups in ascending order of their keys; timestamps print as ``2026-12-02 09:40:01.123`` (UTC).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import heapq
import json
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
from moto.logs.responses import LogsResponse

from . import logs_fast
from .extension import Extension, attach

MAX_LIMIT = 100_000
DEFAULT_LIMIT = 10_000
MAX_ITEMS = 10_000


class MalformedQuery(JsonRESTError):
    """``MalformedQueryException`` with AWS's ``queryCompileError`` (where, and what)."""

    code = 400

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__("MalformedQueryException", message)
        body = json.loads(self.description)
        body["queryCompileError"] = {"location": {"startCharOffset": start, "endCharOffset": end},
                                     "message": message}
        self.description = json.dumps(body)


class QueryError(Exception):
    def __init__(self, message: str, pos: int = 0) -> None:
        super().__init__(message)
        self.pos = pos


# ------------------------------------------------------------------------------------------------------------
# tokens


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<regex>/(?:[^/\\]|\\.)+/[a-z]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<num>\d+(?:\.\d+)?(?![\w@.]))
  | (?P<dur>\d+(?:ms|s|m|h|d|w|mo|q|y)\b)
  | (?P<op>=~|!=|<=|>=|==|[=<>|,()\[\]+\-*/])
  | (?P<name>[@\w][\w.@\-]*|`[^`]+`)
""", re.X)


@dataclass
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise QueryError(f"unexpected symbol found {text[pos]} at line 1 and position {pos + 1}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group(0)
            if kind == "name" and value.startswith("`"):
                value = value[1:-1]
            out.append(Tok(kind, value, pos))
        pos = m.end()
    return out


class Parser:
    def __init__(self, tokens: list[Tok]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.text.lower() in texts and t.kind in ("name", "op")

    def take(self, *texts: str) -> Tok:
        t = self.peek()
        if t is None:
            raise QueryError("unexpected end of query", self.toks[-1].pos if self.toks else 0)
        if texts and t.text.lower() not in texts:
            raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
        self.i += 1
        return t

    def done(self) -> bool:
        return self.i >= len(self.toks)

    # -- expressions ------------------------------------------------------------------------------------------

    def expr(self) -> Callable[[dict[str, Any]], Any]:
        left = self.and_expr()
        while self.at("or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda r: bool(a(r)) or bool(b(r)))(left, right)
        return left

    def and_expr(self) -> Callable[[dict[str, Any]], Any]:
        left = self.not_expr()
        while self.at("and"):
            self.take()
            right = self.not_expr()
            left = (lambda a, b: lambda r: bool(a(r)) and bool(b(r)))(left, right)
        return left

    def not_expr(self) -> Callable[[dict[str, Any]], Any]:
        if self.at("not"):
            self.take()
            inner = self.not_expr()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Callable[[dict[str, Any]], Any]:
        left = self.additive()
        negate = False
        if self.at("not") and (t := self.peek(1)) is not None and t.text.lower() in ("like", "in"):
            self.take()
            negate = True
        if self.at("like", "=~"):
            self.take()
            t = self.take()
            if t.kind == "regex":
                rx = _regex(t.text)
            elif t.kind == "str":
                rx = re.compile(re.escape(_unquote(t.text)))
            else:
                raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
            test = lambda r: (v := left(r)) is not None and rx.search(_text(v)) is not None  # noqa: E731
            return (lambda r: not test(r)) if negate else test
        if self.at("in"):
            self.take()
            self.take("[")
            items: list[Any] = []
            while not self.at("]"):
                items.append(self.primary()({}))
                if self.at(","):
                    self.take()
            self.take("]")
            wanted = {_text(x) for x in items}
            test = lambda r: (v := left(r)) is not None and _text(v) in wanted  # noqa: E731
            return (lambda r: not test(r)) if negate else test
        if self.at("=", "==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right = self.additive()
            return lambda r: _compare(left(r), op, right(r))
        return left

    def additive(self) -> Callable[[dict[str, Any]], Any]:
        left = self.term()
        while self.at("+", "-"):
            op = self.take().text
            right = self.term()
            left = (lambda a, b, o: lambda r: _arith(a(r), o, b(r)))(left, right, op)
        return left

    def term(self) -> Callable[[dict[str, Any]], Any]:
        left = self.primary()
        while self.at("*", "/"):
            op = self.take().text
            right = self.primary()
            left = (lambda a, b, o: lambda r: _arith(a(r), o, b(r)))(left, right, op)
        return left

    def primary(self) -> Callable[[dict[str, Any]], Any]:
        t = self.take()
        if t.kind == "op" and t.text == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if t.kind == "op" and t.text == "-":
            inner = self.primary()
            return lambda r: _arith(0, "-", inner(r))
        if t.kind == "num":
            value = float(t.text) if "." in t.text else int(t.text)
            return lambda r: value
        if t.kind == "str":
            text = _unquote(t.text)
            return lambda r: text
        if t.kind == "name":
            if self.at("("):
                return self.function(t)
            name = t.text
            return lambda r: r.get(name)
        raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)

    def function(self, t: Tok) -> Callable[[dict[str, Any]], Any]:
        fname = t.text.lower()
        self.take("(")
        args: list[Callable[[dict[str, Any]], Any]] = []
        while not self.at(")"):
            args.append(self.expr())
            if self.at(","):
                self.take()
        self.take(")")
        simple: dict[str, Callable[..., Any]] = {
            "ispresent": lambda v: v is not None, "isempty": lambda v: v is None or v == "",
            "tolower": lambda v: None if v is None else _text(v).lower(),
            "toupper": lambda v: None if v is None else _text(v).upper(),
            "strlen": lambda v: None if v is None else len(_text(v)),
            "abs": lambda v: None if _num(v) is None else abs(_num(v)),
            "floor": lambda v: None if _num(v) is None else math.floor(_num(v)),
            "ceil": lambda v: None if _num(v) is None else math.ceil(_num(v)),
        }
        if fname in simple and len(args) == 1:
            fn, arg = simple[fname], args[0]
            return lambda r: fn(arg(r))
        if fname == "concat":
            return lambda r: "".join(_text(a(r)) for a in args if a(r) is not None)
        raise QueryError(f"unsupported function {t.text} at line 1 and position {t.pos + 1}", t.pos)


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _regex(text: str) -> re.Pattern[str]:
    end = text.rfind("/")
    flags = re.I if "i" in text[end + 1:] else 0
    pattern = re.sub(r"\(\?<(\w+)>", r"(?P<\1>", text[1:end])
    return re.compile(pattern, flags)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _compare(a: Any, op: str, b: Any) -> bool:
    if a is None or b is None:
        return op == "!=" and (a is None) != (b is None)
    x, y = _num(a), _num(b)
    if x is None or y is None:
        x, y = _text(a), _text(b)  # type: ignore[assignment]
    if op in ("=", "=="):
        return x == y
    if op == "!=":
        return x != y
    try:
        return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]  # type: ignore[operator]
    except TypeError:
        return False


def _arith(a: Any, op: str, b: Any) -> float | None:
    x, y = _num(a), _num(b)
    if x is None or y is None:
        return None
    if op == "/":
        return None if y == 0 else x / y
    return {"+": x + y, "-": x - y, "*": x * y}[op]


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 2592000, "q": 7776000,
          "y": 31536000}


# ------------------------------------------------------------------------------------------------------------
# the query


@dataclass
class Agg:
    fn: str
    arg: Callable[[dict[str, Any]], Any] | None
    name: str
    pct: float = 0.0


@dataclass
class Query:
    """A parsed query: a pipeline of row stages, then an optional stats, then post stages."""

    text: str
    stages: list[tuple[str, Any]] = field(default_factory=list)
    needs_json: bool = False


_COMMANDS = ("fields", "display", "filter", "parse", "stats", "sort", "limit", "dedup")
_KNOWN_UNSUPPORTED = ("unmask", "pattern", "diff", "anomaly", "lookup", "filterindex", "source", "unnest",
                      "fieldsummary", "stats_over_time")


def _split_commands(text: str) -> list[tuple[str, int]]:
    """The query's commands at top-level pipes (not inside strings or regexes), with their offsets."""
    parts: list[tuple[str, int]] = []
    start, i, quote = 0, 0, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "/" and text[start:i].strip().split(" ")[0].lower() in ("filter", "parse") and \
                re.search(r"(like|=~|parse\s+\S+)\s*$", text[start:i], re.I):
            quote = "/"
        elif ch == "|":
            parts.append((text[start:i], start))
            start = i + 1
        i += 1
    parts.append((text[start:], start))
    return [(p, o) for p, o in parts if p.strip() or not parts]


def parse_query(text: str) -> Query:
    if not text.strip():
        raise QueryError("Query string is empty", 0)
    query = Query(text)
    for part, offset in _split_commands(text):
        stripped = part.lstrip()
        lead = len(part) - len(stripped)
        word = re.match(r"[\w]+", stripped)
        if not word:
            raise QueryError(f"unexpected symbol found {stripped[:1] or '|'} at line 1 and position "
                             f"{offset + lead + 1}", offset + lead)
        command = word.group(0).lower()
        body = stripped[word.end():]
        body_offset = offset + lead + word.end()
        if command not in _COMMANDS:
            what = "unsupported command" if command in _KNOWN_UNSUPPORTED else "unexpected symbol found"
            raise QueryError(f"{what} {word.group(0)} at line 1 and position {offset + lead + 1}", offset + lead)
        try:
            tokens = tokenize(body)
        except QueryError as exc:
            raise QueryError(str(exc), body_offset + exc.pos) from None
        for t in tokens:
            t.pos += body_offset
        p = Parser(tokens)
        if command in ("fields", "display"):
            items = []
            while not p.done():
                first = p.i
                fn = p.expr()
                last = p.toks[p.i - 1]
                name = body[p.toks[first].pos - body_offset:last.pos - body_offset + len(last.text)]
                if p.i - first == 1:
                    name = p.toks[first].text
                if p.at("as"):
                    p.take()
                    name = p.take().text
                items.append((name, fn))
                if p.at(","):
                    p.take()
                elif not p.done():
                    t = p.take()
                    raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
            query.stages.append((command, items))
        elif command == "filter":
            fn = p.expr()
            if not p.done():
                t = p.take()
                raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
            query.stages.append(("filter", fn))
        elif command == "parse":
            query.stages.append(("parse", _parse_command(p, body, body_offset)))
        elif command == "stats":
            query.stages.append(("stats", _stats_command(p, body, body_offset)))
        elif command == "sort":
            keys = []
            while not p.done():
                name = p.take().text
                desc = False
                if p.at("asc", "desc"):
                    desc = p.take().text.lower() == "desc"
                keys.append((name, desc))
                if p.at(","):
                    p.take()
            if not keys:
                raise QueryError("sort needs a field", body_offset)
            query.stages.append(("sort", keys))
        elif command == "limit":
            t = p.take()
            if t.kind != "num" or not p.done() or not 1 <= int(float(t.text)) <= MAX_LIMIT:
                raise QueryError(f"limit must be a number between 1 and {MAX_LIMIT}", t.pos)
            query.stages.append(("limit", int(float(t.text))))
        elif command == "dedup":
            names = []
            while not p.done():
                names.append(p.take().text)
                if p.at(","):
                    p.take()
            query.stages.append(("dedup", names))
    if sum(1 for kind, _ in query.stages if kind == "stats") > 2:
        raise QueryError("at most two stats commands are allowed", 0)
    query.needs_json = _uses_discovered_fields(text)
    return query


def _uses_discovered_fields(text: str) -> bool:
    names = set(re.findall(r"(?<![\w@$.\"'/])([A-Za-z_][\w.]*)", text))
    keywords = {*_COMMANDS, "as", "by", "and", "or", "not", "like", "in", "asc", "desc", "count", "avg", "min",
                "max", "sum", "pct", "bin", "count_distinct", "ispresent", "isempty", "tolower", "toupper",
                "strlen", "abs", "floor", "ceil", "concat"}
    return bool(names - keywords)


def _parse_command(p: Parser, body: str, body_offset: int) -> tuple[str, Any, list[str]]:
    source = "@message"
    t = p.peek()
    if t is not None and t.kind == "name":
        source = p.take().text
    t = p.take()
    if t.kind == "regex":
        rx = _regex(t.text)
        if not rx.groupindex:
            raise QueryError("parse with a regular expression needs named groups (?<name>...)", t.pos)
        if not p.done():
            raise QueryError(f"unexpected symbol found {p.peek().text} at line 1 and position {p.peek().pos + 1}",  # type: ignore[union-attr]
                             p.peek().pos)  # type: ignore[union-attr]
        return source, rx, list(rx.groupindex)
    if t.kind != "str":
        raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
    glob = _unquote(t.text)
    p.take("as")
    names = []
    while not p.done():
        names.append(p.take().text)
        if p.at(","):
            p.take()
    pieces = glob.split("*")
    if len(pieces) - 1 != len(names):
        raise QueryError(f"parse: the pattern has {len(pieces) - 1} wildcard(s) but {len(names)} field name(s)",
                         t.pos)
    rx = re.compile("".join(re.escape(piece) + ("(.*?)" if k < len(pieces) - 1 else "")
                            for k, piece in enumerate(pieces)) + ("" if pieces[-1] else "$"), re.S)
    return source, rx, names


def _stats_command(p: Parser, body: str, body_offset: int) -> tuple[list[Agg], list[tuple[str, Any]]]:
    aggs: list[Agg] = []
    while True:
        t = p.take()
        fname = t.text.lower()
        if fname not in ("count", "count_distinct", "avg", "min", "max", "sum", "pct"):
            raise QueryError(f"unsupported stats function {t.text} at line 1 and position {t.pos + 1}", t.pos)
        p.take("(")
        arg = None
        pct = 0.0
        start = p.i
        if p.at("*"):
            p.take()
        elif not p.at(")"):
            arg = p.additive()
            if fname == "pct":
                p.take(",")
                q = p.take()
                if q.kind != "num":
                    raise QueryError("pct needs a percentile between 0 and 100", q.pos)
                pct = float(q.text)
        end = p.i
        p.take(")")
        if fname != "count" and arg is None:
            raise QueryError(f"{t.text} needs a field", t.pos)
        inner = " ".join(tok.text for tok in p.toks[start:end]).replace(" ,", ",")
        name = f"{t.text}({inner})"
        if p.at("as"):
            p.take()
            name = p.take().text
        aggs.append(Agg(fname, arg, name, pct))
        if p.at(","):
            p.take()
            continue
        break
    groups: list[tuple[str, Any]] = []
    if p.at("by"):
        p.take()
        while not p.done():
            t = p.peek()
            assert t is not None
            if t.text.lower() == "bin" and (nxt := p.peek(1)) is not None and nxt.text == "(":
                p.take()
                p.take("(")
                d = p.take()
                if d.kind not in ("dur", "num"):
                    raise QueryError("bin needs a period such as 5m", d.pos)
                m = re.match(r"(\d+)([a-z]*)", d.text)
                assert m is not None
                seconds = int(m.group(1)) * _UNITS.get(m.group(2) or "s", 1)
                p.take(")")
                name = f"bin({d.text})"
                if p.at("as"):
                    p.take()
                    name = p.take().text
                groups.append((name, ("bin", seconds)))
            else:
                name_tok = p.take()
                name = name_tok.text
                if p.at("as"):
                    p.take()
                    alias = p.take().text
                    groups.append((alias, ("field", name)))
                else:
                    groups.append((name, ("field", name)))
            if p.at(","):
                p.take()
            elif not p.done():
                t = p.take()
                raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
    elif not p.done():
        t = p.take()
        raise QueryError(f"unexpected symbol found {t.text} at line 1 and position {t.pos + 1}", t.pos)
    return aggs, groups


# ------------------------------------------------------------------------------------------------------------
# running


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(f"{prefix}.{i}" if prefix else str(i), v, out)
    elif prefix:
        out[prefix] = value


def _stamp(ms: float) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def _format(value: Any) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(round(value, 6))
    return _text(value)


def _records(account: str, region: str, groups: list[str], start_ms: int, end_ms: int,
             stats: dict[str, float], cancelled: threading.Event) -> Iterator[dict[str, Any]]:
    """Every event of the groups in the time range, stream after stream (no merge: the pipeline orders what it
    must itself -- ``sort``, newest first -- so a ``stats`` pays nothing for order)."""
    backend = logs_fast.logs_backends[account][region]
    scanned = 0
    nbytes = 0
    try:
        for group in groups:
            log_group = backend.groups.get(group)
            if log_group is None:
                continue
            with logs_fast.LOCK:
                streams = list(log_group.streams.items())
            log = f"{account}:{group}"
            for name, stream in streams:
                view = logs_fast.sorted_view(stream)
                with logs_fast.LOCK:
                    i = bisect.bisect_left(view.keys, (start_ms, -1))
                    j = bisect.bisect_right(view.keys, (end_ms, 1 << 62))
                    events = view.events
                for k in range(i, j):
                    if k % 8192 == 0 and cancelled.is_set():
                        return
                    e = events[k]
                    scanned += 1
                    nbytes += len(e.message)
                    yield {"@timestamp": e.timestamp, "@message": e.message, "@logStream": name, "@log": log,
                           "@ingestionTime": e.ingestion_time, "\0ptr": (group, name, e.event_id)}
    finally:
        stats["recordsScanned"] += scanned
        stats["bytesScanned"] += nbytes


def _ptr(r: dict[str, Any]) -> str | None:
    raw = r.get("\0ptr")
    if raw is None:
        return None
    return base64.b64encode("|".join(str(x) for x in raw).encode()).decode()


def _newest_first(r: dict[str, Any]) -> tuple[int, int]:
    ptr = r.get("\0ptr")
    return (r.get("@timestamp") or 0, ptr[2] if ptr else 0)


def execute(q: Query, records: Iterator[dict[str, Any]], limit: int,
            stats: dict[str, float]) -> list[list[dict[str, str]]]:
    """Run the pipeline over ``records``; the result rows as GetQueryResults returns them."""
    rows: Iterator[dict[str, Any]] = _with_json(records) if q.needs_json else records
    columns: list[str] | None = None  # display / stats columns
    chosen: list[str] | None = None  # the fields command's names (then @ptr)
    stats_seen = ordered = counted = False

    def counting(it: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for r in it:
            stats["recordsMatched"] += 1
            yield r

    for kind, spec in q.stages:
        if kind in ("stats", "sort", "limit", "dedup") and not counted:
            rows, counted = counting(rows), True
        if kind == "filter":
            rows = _filter_rows(rows, spec)
        elif kind == "parse":
            rows = _parse_rows(rows, *spec)
        elif kind == "fields":
            rows = _fields_rows(rows, spec)
            names = [name for name, _ in spec]
            if stats_seen:
                columns = names
            else:
                chosen = [*(chosen or []), *[n for n in names if n not in (chosen or [])]]
        elif kind == "display":
            rows = _fields_rows(rows, spec)
            columns = [name for name, _ in spec]
        elif kind == "stats":
            aggs, groups = spec
            rows = iter(_stats(rows, aggs, groups))
            columns = [name for name, _ in groups] + [a.name for a in aggs]
            stats_seen = True
        elif kind == "sort":
            data = list(rows)
            for name, desc in reversed(spec):
                data.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)
            rows, ordered = iter(data), True
        elif kind == "limit":
            if not ordered and not stats_seen:
                rows, ordered = iter(heapq.nlargest(spec, rows, key=_newest_first)), True
            else:
                rows = iter(_take(rows, spec))
        elif kind == "dedup":
            if not ordered and not stats_seen:
                rows, ordered = iter(sorted(rows, key=_newest_first, reverse=True)), True
            rows = iter(_dedup(rows, spec))
    if not counted:
        rows = counting(rows)
    if not ordered and not stats_seen:
        out = heapq.nlargest(limit, rows, key=_newest_first)
    else:
        out = _take(rows, limit)
        for _ in rows:  # the rest still counts as matched
            pass
    return [_result_row(r, columns, chosen) for r in out]


def _filter_rows(rows: Iterator[dict[str, Any]], test: Callable[[dict[str, Any]], Any]) -> Iterator[dict[str, Any]]:
    for r in rows:
        if test(r):
            yield r


def _with_json(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in rows:
        message = r["@message"]
        if message.startswith("{"):
            try:
                doc = json.loads(message)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                flat: dict[str, Any] = {}
                _flatten("", doc, flat)
                for k, v in flat.items():
                    r.setdefault(k, v)
        yield r


def _parse_rows(rows: Iterator[dict[str, Any]], source: str, rx: re.Pattern[str], names: list[str]
                ) -> Iterator[dict[str, Any]]:
    for r in rows:
        value = r.get(source)
        m = rx.search(_text(value)) if value is not None else None
        if m is not None:
            if rx.groupindex:
                for name in names:
                    r[name] = m.group(name)
            else:
                for k, name in enumerate(names, 1):
                    r[name] = m.group(k)
        yield r


def _fields_rows(rows: Iterator[dict[str, Any]], items: list[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    for r in rows:
        for name, fn in items:
            if name not in r or not name.startswith("@"):
                value = fn(r)
                if value is not None:
                    r[name] = value
        yield r


def _take(rows: Iterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if len(out) >= n:
            break
        out.append(r)
    return out


def _dedup(rows: Iterator[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for r in rows:
        if any(r.get(n) is None for n in names):
            out.append(r)  # AWS: rows with a null in a dedup field are kept
            continue
        key = tuple(_text(r.get(n)) for n in names)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    num = _num(value)
    return (1, num) if num is not None else (2, _text(value))


def _stats(rows: Iterator[dict[str, Any]], aggs: list[Agg], groups: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    table: dict[tuple[Any, ...], list[Any]] = {}
    for r in rows:
        key_parts: list[Any] = []
        for _name, (kind, arg) in groups:
            if kind == "bin":
                ts = r.get("@timestamp")
                key_parts.append(None if ts is None else (ts // (arg * 1000)) * arg * 1000)
            else:
                key_parts.append(r.get(arg))
        key = tuple(key_parts)
        acc = table.get(key)
        if acc is None:
            acc = [[] if a.fn in ("pct", "count_distinct") else [0, 0.0, None, None] for a in aggs]
            table[key] = acc
        for a, slot in zip(aggs, acc, strict=True):
            if a.fn == "count":
                if a.arg is None or a.arg(r) is not None:
                    slot[0] += 1
                continue
            value = a.arg(r) if a.arg is not None else None
            if a.fn == "count_distinct":
                if value is not None:
                    slot.append(_text(value))
                continue
            num = _num(value)
            if num is None:
                continue
            if a.fn == "pct":
                slot.append(num)
                continue
            slot[0] += 1
            slot[1] += num
            slot[2] = num if slot[2] is None else min(slot[2], num)
            slot[3] = num if slot[3] is None else max(slot[3], num)
    out = []
    for key in sorted(table, key=lambda k: tuple(_sort_key(v) for v in k)):
        row: dict[str, Any] = {}
        for (name, (kind, _arg)), value in zip(groups, key, strict=True):
            if value is not None:
                row[name] = _stamp(value) if kind == "bin" else value
        for a, slot in zip(aggs, table[key], strict=True):
            if a.fn == "count":
                row[a.name] = slot[0]
            elif a.fn == "count_distinct":
                row[a.name] = len(set(slot))
            elif a.fn == "pct":
                if slot:
                    ordered = sorted(slot)
                    rank = max(1, math.ceil(a.pct / 100.0 * len(ordered)))
                    row[a.name] = ordered[min(rank, len(ordered)) - 1]
            elif slot[0]:
                row[a.name] = {"avg": slot[1] / slot[0], "sum": slot[1], "min": slot[2], "max": slot[3]}[a.fn]
        out.append(row)
    return out


def _result_row(r: dict[str, Any], columns: list[str] | None, chosen: list[str] | None) -> list[dict[str, str]]:
    if columns is not None:
        names = columns
    elif chosen is not None:
        names = [*chosen, "@ptr"]
    else:
        names = ["@timestamp", "@message", "@logStream", "@log", "@ptr"]
    out = []
    for name in names:
        value = _ptr(r) if name == "@ptr" else r.get(name)
        if value is None:
            continue
        if name in ("@timestamp", "@ingestionTime") and isinstance(value, int):
            text = _stamp(value)
        else:
            text = _format(value)
        out.append({"field": name, "value": text})
    return out


# ------------------------------------------------------------------------------------------------------------
# the queries and their worker


@dataclass
class Running:
    query_id: str
    account: str
    region: str
    groups: list[str]
    start_ms: int
    end_ms: int
    text: str
    limit: int
    parsed: Query
    create_time: int
    status: str = "Scheduled"
    results: list[list[dict[str, str]]] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=lambda: {"recordsMatched": 0.0, "recordsScanned": 0.0,
                                                              "bytesScanned": 0.0})
    cancelled: threading.Event = field(default_factory=threading.Event)


_queries: dict[str, Running] = {}
_lock = threading.Lock()
_work: queue.Queue[Running | None] = queue.Queue()
_worker: threading.Thread | None = None


def _run(item: Running) -> None:
    with _lock:
        if item.status != "Scheduled":
            return
        item.status = "Running"
    try:
        records = _records(item.account, item.region, item.groups, item.start_ms, item.end_ms, item.stats,
                           item.cancelled)
        rows_out = execute(item.parsed, records, item.limit, item.stats)
        with _lock:
            if item.cancelled.is_set():
                item.status = "Cancelled"
                return
            item.results = rows_out
            item.status = "Complete"
    except Exception:
        with _lock:
            item.status = "Failed"


def _loop() -> None:
    while True:
        item = _work.get()
        if item is None:
            return
        _run(item)


def _ensure_worker() -> None:
    global _worker
    if _worker is None or not _worker.is_alive():
        _worker = threading.Thread(target=_loop, name="opstui-sandbox-insights", daemon=True)
        _worker.start()


# ------------------------------------------------------------------------------------------------------------
# API handlers


def start_query(self: Any) -> str:
    name = self._get_param("logGroupName")
    names = self._get_param("logGroupNames")
    identifiers = self._get_param("logGroupIdentifiers")
    given = [x for x in (name, names, identifiers) if x]
    if len(given) != 1:
        raise InvalidParameterException("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers "
                                        "must be specified.")
    groups = [name] if name else list(names or identifiers)
    groups = [g.split(":log-group:", 1)[-1].removesuffix(":*") if g.startswith("arn:") else g for g in groups]
    start = self._get_param("startTime")
    end = self._get_param("endTime")
    text = self._get_param("queryString") or ""
    limit = self._get_param("limit")
    if start is None or end is None:
        raise InvalidParameterException("startTime and endTime are required.")
    if int(start) > int(end):
        raise InvalidParameterException("endTime must be greater than or equal to startTime.")
    if limit is not None and not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidParameterException(constraint=f"Member must have value between 1 and {MAX_LIMIT}",
                                        parameter="limit", value=limit)
    if len(text) > 10_000:
        raise InvalidParameterException(constraint="Member must have length less than or equal to 10000",
                                        parameter="queryString", value="...")
    for g in groups:
        if g not in self.logs_backend.groups:
            raise ResourceNotFoundException(f"Log group '{g}' does not exist for account ID "
                                            f"'{self.current_account}' (Service: AWSLogs)")
    try:
        parsed = parse_query(text)
    except QueryError as exc:
        raise MalformedQuery(str(exc), exc.pos, exc.pos) from None
    except re.error as exc:
        raise MalformedQuery(f"invalid regular expression: {exc}", 0, 0) from None
    item = Running(str(uuid.uuid4()), self.current_account, self.region, groups, int(start) * 1000,
                   int(end) * 1000 + 999, text, int(limit) if limit is not None else DEFAULT_LIMIT, parsed,
                   int(time.time() * 1000))
    with _lock:
        _queries[item.query_id] = item
    _ensure_worker()
    _work.put(item)
    return json.dumps({"queryId": item.query_id})


def _get(self: Any, query_id: str | None) -> Running:
    with _lock:
        item = _queries.get(query_id or "")
    if item is None or item.account != self.current_account or item.region != self.region:
        raise ResourceNotFoundException("Query does not exist.")
    return item


def get_query_results(self: Any) -> str:
    item = _get(self, self._get_param("queryId"))
    max_items = self._get_param("maxItems")
    max_items = int(max_items) if max_items is not None else MAX_ITEMS
    if not 1 <= max_items <= MAX_ITEMS:
        raise InvalidParameterException(constraint=f"Member must have value between 1 and {MAX_ITEMS}",
                                        parameter="maxItems", value=max_items)
    token = self._get_param("nextToken")
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc
    with _lock:
        status = item.status
        rows = item.results if status == "Complete" else []
        stats = dict(item.stats)
    page = rows[offset:offset + max_items]
    result: dict[str, Any] = {"status": status, "results": page, "statistics": stats, "queryLanguage": "CWLI"}
    if offset + max_items < len(rows):
        result["nextToken"] = base64.urlsafe_b64encode(str(offset + max_items).encode()).decode()
    return json.dumps(result, ensure_ascii=False)


def stop_query(self: Any) -> str:
    item = _get(self, self._get_param("queryId"))
    with _lock:
        if item.status not in ("Scheduled", "Running"):
            raise InvalidParameterException(f"Query {item.query_id} is not running (status {item.status}).")
        item.cancelled.set()
        item.status = "Cancelled"
    return json.dumps({"success": True})


def describe_queries(self: Any) -> str:
    group = self._get_param("logGroupName")
    status = self._get_param("status")
    max_results = int(self._get_param("maxResults") or 1000)
    if not 1 <= max_results <= 1000:
        raise InvalidParameterException(constraint="Member must have value between 1 and 1000",
                                        parameter="maxResults", value=max_results)
    token = self._get_param("nextToken")
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc
    with _lock:
        items = [q for q in _queries.values() if q.account == self.current_account and q.region == self.region
                 and (not group or group in q.groups) and (not status or q.status == status)]
    items.sort(key=lambda q: q.create_time, reverse=True)
    page = items[offset:offset + max_results]
    result: dict[str, Any] = {"queries": [
        {"queryLanguage": "CWLI", "queryId": q.query_id, "queryString": q.text, "status": q.status,
         "createTime": q.create_time, "logGroupName": q.groups[0]} for q in page]}
    if offset + max_results < len(items):
        result["nextToken"] = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
    return json.dumps(result)


# ------------------------------------------------------------------------------------------------------------
# saved queries (moto has none): Put/Describe/DeleteQueryDefinition
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutQueryDefinition.html


_definitions: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (account, region) -> id -> definition


def save_definition(account: str, region: str, name: str, query_string: str, groups: list[str] | None = None,
                    definition_id: str | None = None) -> str:
    """Store a saved query (the API handler and the scenario seed); returns its id."""
    with _lock:
        table = _definitions.setdefault((account, region), {})
        if definition_id is not None and definition_id not in table:
            raise ResourceNotFoundException("The specified query definition does not exist.")
        qid = definition_id or str(uuid.uuid4())
        table[qid] = {"queryLanguage": "CWLI", "queryDefinitionId": qid, "name": name, "queryString": query_string,
                      "lastModified": int(time.time() * 1000), "logGroupNames": list(groups or [])}
        return qid


def put_query_definition(self: Any) -> str:
    name = self._get_param("name") or ""
    text = self._get_param("queryString") or ""
    if not 1 <= len(name) <= 255:
        raise InvalidParameterException(constraint="Minimum length of 1. Maximum length of 255.", parameter="name",
                                        value=name)
    if not 1 <= len(text) <= 10_000:
        raise InvalidParameterException(constraint="Minimum length of 1. Maximum length of 10000.",
                                        parameter="queryString", value="...")
    qid = save_definition(self.current_account, self.region, name, text, self._get_param("logGroupNames"),
                          self._get_param("queryDefinitionId"))
    return json.dumps({"queryDefinitionId": qid})


def describe_query_definitions(self: Any) -> str:
    prefix = self._get_param("queryDefinitionNamePrefix") or ""
    max_results = int(self._get_param("maxResults") or 1000)
    if not 1 <= max_results <= 1000:
        raise InvalidParameterException(constraint="Member must have value between 1 and 1000",
                                        parameter="maxResults", value=max_results)
    token = self._get_param("nextToken")
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except ValueError as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc
    with _lock:
        rows = [dict(d) for d in _definitions.get((self.current_account, self.region), {}).values()
                if d["name"].startswith(prefix)]
    rows.sort(key=lambda d: (d["name"], d["queryDefinitionId"]))
    result: dict[str, Any] = {"queryDefinitions": rows[offset:offset + max_results]}
    if offset + max_results < len(rows):
        result["nextToken"] = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
    return json.dumps(result)


def delete_query_definition(self: Any) -> str:
    qid = self._get_param("queryDefinitionId") or ""
    with _lock:
        table = _definitions.get((self.current_account, self.region), {})
        if qid not in table:
            raise ResourceNotFoundException("The specified query definition does not exist.")
        del table[qid]
    return json.dumps({"success": True})


class Insights(Extension):
    """Logs Insights queries (see the module docstring); forgotten at each sandbox start."""

    name = "insights"

    def patch(self) -> None:
        logs_fast.EXTENSION.install()
        attach(LogsResponse, start_query, get_query_results, stop_query, describe_queries, put_query_definition,
               describe_query_definitions, delete_query_definition)

    def prepare(self, sandbox: Any) -> None:
        with _lock:
            for q in _queries.values():
                q.cancelled.set()
            _queries.clear()
            _definitions.clear()


EXTENSION = Insights()
