"""CloudWatch metric math for GetMetricData: a small, safe (no ``eval``) parser and evaluator.

Why by hand: the grammar is a dozen rules (numbers, ids, ``"strings"``, ``+ - * / ^``, unary minus,
parentheses, ``[a, b]`` arrays, ``FUNCTION(args)``), the evaluator needs AWS's own rules for missing values, and
the one parser at hand (moto's ``metric_data_expression_parser``) knows only ids and ``+ - * /`` and gives up
silently. A general expression library would still need all of the semantics below; the parser is ~100 lines.

Semantics follow the user guide, "Metric math syntax and functions"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):

* Values are scalars (S), time series (TS) or arrays of time series (TS[]). ``m1`` is the series of query
  ``m1`` (a MetricStat or another expression; a cycle is refused).
* Arithmetic ``+ - * / ^`` between S S, TS S, S TS, TS TS, TS[] S, TS[] TS (each member), unary minus on all
  three. Between two series the timestamps are the union and "missing values in a time series are treated as
  0"; a point that would divide by zero (or is otherwise not a finite number) is dropped, and the result says
  so in its Messages (``ArithmeticError``, as GetMetricData reports dropped non-numeric points).
* ``SUM``, ``AVG``, ``MIN``, ``MAX``: of one TS a scalar (the sum/average/minimum/maximum of all its points), of
  a TS[] one TS, per timestamp over the members (AVG: "missing values are treated as 0", i.e. divided by the
  number of members; SUM the same; MIN/MAX over the members that have a value).
* ``METRICS()``: every MetricStat query of the request (math expressions aren't included), in request order;
  ``METRICS("str")`` only those whose **Id** contains ``str`` (the guide says Id, not Label). Straight or curly
  quotes, as the guide's own examples use both.
* ``FILL(TS|TS[], S|TS|REPEAT|LINEAR)``: the missing points of each series on its period grid from the
  (rounded) StartTime to EndTime (never past the present) are filled with the scalar, the filler series' value
  at that time (when it has one), the latest real value before the gap (``REPEAT``; nothing before the first
  value), or the straight line between the values on both sides of the gap (``LINEAR``; the edges stay empty).
* ``ABS``, ``CEIL``, ``FLOOR``, ``LOG``, ``LOG10``: each point, of a TS or of every member of a TS[].
* The final result must be a TS or TS[]; a scalar result is refused.

Errors: what AWS refuses (a syntax error, an unknown or lowercase function name, an unknown id, a cycle, a
scalar result, a TS[] combined with a TS[]) raises :class:`MathError`, which GetMetricData answers as a
``ValidationError`` naming the expression. A function AWS has but this sandbox does not compute (``IF``,
``RATE``, ``SEARCH``, ``SORT``, ...; see :data:`AWS_FUNCTIONS`) raises :class:`Unsupported`: the query's result
then has ``StatusCode`` ``InternalError`` and a Messages entry saying so, never invented data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: functions the user guide documents; those not in :data:`IMPLEMENTED` answer "not in the sandbox"
AWS_FUNCTIONS = frozenset({
    "ABS", "ANOMALY_DETECTION_BAND", "AVG", "CEIL", "DATAPOINT_COUNT", "DIFF", "DIFF_TIME", "FILL", "FIRST",
    "LAST", "FLOOR", "IF", "INSIGHT_RULE_METRIC", "LOG", "LOG10", "MAX", "METRIC_COUNT", "METRICS", "MIN",
    "MINUTE", "HOUR", "DAY", "DATE", "MONTH", "YEAR", "EPOCH", "PERIOD", "RATE", "REMOVE_EMPTY", "RUNNING_SUM",
    "SEARCH", "SERVICE_QUOTA", "SLICE", "SORT", "STDDEV", "SUM", "TIME_SERIES",
})
IMPLEMENTED = frozenset({"ABS", "AVG", "CEIL", "FILL", "FLOOR", "LOG", "LOG10", "MAX", "METRICS", "MIN", "SUM"})
ARITHMETIC_MESSAGE = ("One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, "
                      "+Infinite)")


class MathError(ValueError):
    """An expression AWS refuses (GetMetricData answers ValidationError)."""


class Unsupported(Exception):
    """A function AWS computes and this sandbox does not."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class Series:
    """One time series, ascending timestamps (epoch seconds)."""

    label: str
    ts: list[float]
    vals: list[float]
    period: int = 60
    start: float = 0.0  # the grid's first bucket (FILL)
    end: float = 0.0  # the grid's end, exclusive (FILL)

    def points(self) -> dict[float, float]:
        return dict(zip(self.ts, self.vals, strict=True))


Value = Any  # float | Series | list[Series] | str (a FILL keyword)


# ------------------------------------------------------------------------------------------------------------
# tokens and syntax tree

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>"[^"]*"|\u201c[^\u201d]*\u201d|'[^']*')
  | (?P<cmp>==|!=|<=|>=|&&|\|\||[<>])
  | (?P<op>[-+*/^(),\[\]])
""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MathError(f"Unexpected character {text[pos]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


@dataclass
class Node:
    kind: str  # num | id | str | word | neg | bin | call | array
    value: Any = None
    args: list[Node] = field(default_factory=list)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise MathError("Unexpected end of expression" + (f", expected {text!r}" if text else ""))
        if tok[0] == "cmp":
            raise Unsupported(f"the operator {tok[1]}")
        if text is not None and tok[1] != text:
            raise MathError(f"Expected {text!r} but found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.additive()
        tok = self.peek()
        if tok is not None:
            if tok[0] == "cmp":
                raise Unsupported(f"the operator {tok[1]}")
            raise MathError(f"Unexpected {tok[1]!r}")
        return node

    def additive(self) -> Node:
        node = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.i += 1
            node = Node("bin", tok[1], [node, self.term()])
        return node

    def term(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) is not None and tok[1] in "*/" and tok[0] == "op":
            self.i += 1
            node = Node("bin", tok[1], [node, self.unary()])
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok == ("op", "-"):
            self.i += 1
            return Node("neg", None, [self.unary()])
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        tok = self.peek()
        if tok == ("op", "^"):
            self.i += 1
            return Node("bin", "^", [base, self.unary()])  # right-associative: 2^3^2 = 2^9
        return base

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return Node("num", float(text))
        if kind == "str":
            return Node("str", text[1:-1])
        if kind == "name":
            if self.peek() == ("op", "("):
                self.i += 1
                args: list[Node] = []
                if self.peek() != ("op", ")"):
                    args.append(self.additive())
                    while self.peek() == ("op", ","):
                        self.i += 1
                        args.append(self.additive())
                self.take(")")
                return Node("call", text, args)
            return Node("id" if text[0].islower() else "word", text)
        if text == "(":
            node = self.additive()
            self.take(")")
            return node
        if text == "[":
            items = [self.additive()]
            while self.peek() == ("op", ","):
                self.i += 1
                items.append(self.additive())
            self.take("]")
            return Node("array", None, items)
        raise MathError(f"Unexpected {text!r}")


def parse(text: str) -> Node:
    """The syntax tree of an expression, or MathError; Unsupported for comparison/logical operators."""
    if not text.strip():
        raise MathError("The expression is empty")
    return _Parser(tokenize(text)).parse()


def references(node: Node) -> set[str]:
    """The query ids an expression uses (``METRICS()`` adds none: it is every MetricStat query)."""
    if node.kind == "id":
        return {node.value}
    out: set[str] = set()
    for arg in node.args:
        out |= references(arg)
    return out


# ------------------------------------------------------------------------------------------------------------
# evaluation


@dataclass
class Context:
    """What an expression can see: every query's result by id, and the MetricStat ids in request order."""

    resolve: Callable[[str], Value]
    metric_ids: Sequence[str]
    dropped: list[bool] = field(default_factory=lambda: [False])


def _finite(value: float, ctx: Context) -> bool:
    if math.isfinite(value):
        return True
    ctx.dropped[0] = True
    return False


def _apply(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b != 0 else math.nan
        result = a ** b
        return result if isinstance(result, float | int) else math.nan  # a complex root
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan


def _series_like(template: Series, label: str, points: dict[float, float]) -> Series:
    keys = sorted(points)
    return Series(label, keys, [points[k] for k in keys], template.period, template.start, template.end)


def _binary(op: str, a: Value, b: Value, ctx: Context) -> Value:
    if isinstance(a, list) and isinstance(b, list):
        raise MathError(f"The operator {op} can't combine two arrays of time series")
    if isinstance(a, list):
        return [_binary(op, item, b, ctx) for item in a]
    if isinstance(b, list):
        return [_binary(op, a, item, ctx) for item in b]
    if isinstance(a, str) or isinstance(b, str):
        raise MathError(f"The operator {op} needs numbers or time series")
    if a is None or b is None:  # a scalar of an empty series: nothing to compute with
        template = a if isinstance(a, Series) else b
        return _series_like(template, template.label, {}) if isinstance(template, Series) else None
    if isinstance(a, Series) and isinstance(b, Series):
        pa, pb = a.points(), b.points()
        out = {}
        for t in set(pa) | set(pb):
            v = _apply(op, pa.get(t, 0.0), pb.get(t, 0.0))
            if _finite(v, ctx):
                out[t] = v
        return _series_like(a, a.label, out)
    if isinstance(a, Series):
        out = {t: v for t, x in zip(a.ts, a.vals, strict=True) if _finite(v := _apply(op, x, b), ctx)}
        return _series_like(a, a.label, out)
    if isinstance(b, Series):
        out = {t: v for t, x in zip(b.ts, b.vals, strict=True) if _finite(v := _apply(op, a, x), ctx)}
        return _series_like(b, b.label, out)
    v = _apply(op, a, b)
    return v if math.isfinite(v) else None


def _aggregate(name: str, arg: Value) -> Value:
    if isinstance(arg, Series):
        if not arg.vals:
            return None
        if name == "SUM":
            return math.fsum(arg.vals)
        if name == "AVG":
            return math.fsum(arg.vals) / len(arg.vals)
        return min(arg.vals) if name == "MIN" else max(arg.vals)
    if isinstance(arg, list):
        if not arg:
            raise MathError(f"{name} of an empty array of time series")
        maps = [s.points() for s in arg]
        stamps = sorted(set().union(*maps))
        out: dict[float, float] = {}
        for t in stamps:
            present = [m[t] for m in maps if t in m]
            if name == "SUM":
                out[t] = math.fsum(present)
            elif name == "AVG":
                out[t] = math.fsum(present) / len(maps)  # missing values count as 0
            else:
                out[t] = min(present) if name == "MIN" else max(present)
        first = arg[0]
        return Series(first.label, stamps, [out[t] for t in stamps], first.period, first.start, first.end)
    raise MathError(f"{name} takes a time series or an array of time series")


def _grid(s: Series, now: float) -> list[float]:
    stop = min(s.end, now + 1e-6)
    n = max(0, math.ceil((stop - s.start) / s.period)) if s.period > 0 else 0
    return [s.start + k * s.period for k in range(n)]


def _fill_one(s: Series, how: Value, now: float) -> Series:
    have = s.points()
    grid = _grid(s, now)
    out = dict(have)
    if isinstance(how, str):
        known = sorted(have)
        if how == "REPEAT":
            last: float | None = None
            for t in sorted(set(grid) | set(known)):
                if t in have:
                    last = have[t]
                elif last is not None:
                    out[t] = last
        else:  # LINEAR
            for left, right in zip(known, known[1:], strict=False):
                for t in grid:
                    if left < t < right:
                        out[t] = have[left] + (have[right] - have[left]) * (t - left) / (right - left)
    elif isinstance(how, Series):
        filler = how.points()
        for t in grid:
            if t not in out and t in filler:
                out[t] = filler[t]
    elif how is not None:
        for t in grid:
            out.setdefault(t, float(how))
    return _series_like(s, s.label, out)


def evaluate(node: Node, ctx: Context, now: float) -> Value:
    """The value of a syntax tree (see the module docstring for the rules)."""
    kind = node.kind
    if kind == "num":
        return node.value
    if kind == "str":
        raise MathError(f'A string ("{node.value}") is only valid as the argument of METRICS')
    if kind == "id":
        return ctx.resolve(node.value)
    if kind == "word":
        if node.value in ("REPEAT", "LINEAR"):
            return node.value
        raise MathError(f"Unknown identifier {node.value}: ids start with a lowercase letter")
    if kind == "neg":
        return _binary("*", -1.0, evaluate(node.args[0], ctx, now), ctx)
    if kind == "bin":
        return _binary(node.value, evaluate(node.args[0], ctx, now), evaluate(node.args[1], ctx, now), ctx)
    if kind == "array":
        out: list[Series] = []
        for item in node.args:
            value = evaluate(item, ctx, now)
            if isinstance(value, Series):
                out.append(value)
            elif isinstance(value, list):
                out.extend(value)
            else:
                raise MathError("An array may only hold time series")
        return out
    return _call(node, ctx, now)


def _call(node: Node, ctx: Context, now: float) -> Value:
    name, args = node.value, node.args
    if name not in AWS_FUNCTIONS:
        raise MathError(f"Unrecognized function name {name}" + (" (functions are written in uppercase)"
                                                                 if name.upper() in AWS_FUNCTIONS else ""))
    if name not in IMPLEMENTED:
        raise Unsupported(name)
    if name == "METRICS":
        if len(args) > 1 or (args and args[0].kind != "str"):
            raise MathError("METRICS takes no argument or one string")
        wanted = args[0].value if args else ""
        return [ctx.resolve(i) for i in ctx.metric_ids if wanted in i]
    if name == "FILL":
        if len(args) != 2:
            raise MathError("FILL takes two arguments: a time series (or an array) and the filler")
        target = evaluate(args[0], ctx, now)
        how = evaluate(args[1], ctx, now)
        if isinstance(how, list):
            raise MathError("The filler of FILL is a scalar, a time series, REPEAT or LINEAR")
        if isinstance(target, Series):
            return _fill_one(target, how, now)
        if isinstance(target, list):
            return [_fill_one(s, how, now) for s in target]
        raise MathError("FILL fills a time series or an array of time series")
    if len(args) != 1:
        raise MathError(f"{name} takes one argument")
    arg = evaluate(args[0], ctx, now)
    if name in ("SUM", "AVG", "MIN", "MAX"):
        return _aggregate(name, arg)
    fn = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor,
          "LOG": lambda v: math.log(v) if v > 0 else math.nan,
          "LOG10": lambda v: math.log10(v) if v > 0 else math.nan}[name]

    def each(s: Series) -> Series:
        out = {t: float(v) for t, x in zip(s.ts, s.vals, strict=True) if _finite(v := float(fn(x)), ctx)}
        return _series_like(s, s.label, out)

    if isinstance(arg, Series):
        return each(arg)
    if isinstance(arg, list):
        return [each(s) for s in arg]
    raise MathError(f"{name} takes a time series or an array of time series")
