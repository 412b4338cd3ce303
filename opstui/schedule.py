"""AWS schedule expressions, once for the whole project: ``cron(...)`` and ``rate(...)``, when they fire, and
the limits each service adds.

Why one module: the sandbox must refuse exactly what AWS refuses, and the app checks a form before it sends
anything; both must read a schedule the same way. It imports neither moto nor textual: either side uses it.

The syntax (Amazon EventBridge User Guide, "Cron expressions reference" and "Rate expressions"; AWS Backup and
CloudWatch Synthetics refer to the same syntax; Systems Manager User Guide, "Reference: Cron and rate
expressions for Systems Manager"):

``cron(minutes hours day-of-month month day-of-week year)``, always UTC:

============  ================  ===============
field         values            wildcards
============  ================  ===============
minutes       0-59              ``, - * /``
hours         0-23              ``, - * /``
day-of-month  1-31              ``, - * ? / L W``
month         1-12 or JAN-DEC   ``, - * /``
day-of-week   1-7 or SUN-SAT    ``, - * ? L #``
year          1970-2199         ``, - * /``
============  ================  ===============

* ``a/b`` is every b-th value from a to the field's maximum (``1/10`` in minutes: 1, 11, 21 ...), ``*/b`` from
  the field's minimum, ``a-b/c`` within the range; ranges do not wrap (``FRI-MON`` is refused); names are
  case-insensitive.
* One of day-of-month and day-of-week is ``?`` and the other is not ("You can't specify the Day-of-month and
  Day-of-week fields in the same cron expression").
* Day-of-month: ``L`` the last day of the month, ``LW`` its last weekday, ``nW`` the weekday nearest day n
  within the same month (``1W`` on a Saturday is Monday the 3rd). Day-of-week: ``L`` the last day of the week
  (Saturday), ``nL`` the last day n of the month (``6L``: the last Friday), ``n#k`` the k-th day n of the
  month (``3#2``: the second Tuesday; only one ``#`` expression in the field). These stand alone, in no list.
* Systems Manager also takes an optional leading seconds field ("An additional field, the Seconds field (the
  first in a cron expression), is optional"); :func:`parse_cron` accepts it with ``seconds=True`` and only as
  ``0`` (the sandbox's schedulers work in minutes).
* An expression that can never fire (``cron(0 0 30 2 ? *)``) is refused.

``rate(value unit)``: value a whole number, unit ``minute(s)``, ``hour(s)`` or ``day(s)``; "If the value is
equal to 1, then the unit must be singular. If the value is greater than 1, the unit must be plural."
(EventBridge); ``rate(0 ...)`` is refused.

Service limits, kept as the project has always applied them:

* State Manager associations (the Systems Manager reference above): rates of 30 minutes or more and less than
  31 days; cron expressions may not fire more often than every 30 minutes (:func:`association_schedule`). The
  sandbox holds every association to the 30 minutes; the app, only AWS-GatherSoftwareInventory.
* AWS Backup (AWS Backup API reference, ``BackupRule.ScheduleExpression``: "A cron expression in UTC
  specifying when Backup initiates a backup job"): cron only (:func:`backup_schedule`).
* CloudWatch Synthetics (API reference, ``CanaryScheduleInput.Expression``): ``rate(number unit)`` with unit
  ``minute``, ``minutes`` or ``hour`` between ``rate(1 minute)`` and ``rate(1 hour)``; "Specifying rate(0
  minute) or rate(0 hour) is a special value that causes the canary to run only once when it is started"; or a
  six-field cron (:func:`canary_schedule`). Like the sandbox always did, it also takes ``hours`` and does not
  hold the rate's unit to the singular/plural rule.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

MIN_YEAR, MAX_YEAR = 1970, 2199
#: how many allowed years a search for the next fire time looks through: the calendar's days of the week
#: repeat every 28 years (within a century), so an expression that has not fired by then never fires
HORIZON_YEARS = 28

DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MONTH_NAMES = {m: n for n, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP",
                                           "OCT", "NOV", "DEC"), start=1)}
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}

ASSOCIATION_MIN_INTERVAL = dt.timedelta(minutes=30)
ASSOCIATION_MAX_RATE = dt.timedelta(days=31)
CANARY_MIN_RATE = dt.timedelta(minutes=1)
CANARY_MAX_RATE = dt.timedelta(hours=1)

_RATE = re.compile(r"rate\(\s*(\d+)\s+([a-z]+)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_NUMBER = re.compile(r"\d+")


class ScheduleError(ValueError):
    """Why an expression is not a schedule the service takes. ``limit``: the syntax is fine but the service's
    limits refuse it (its error message then says which limit)."""

    def __init__(self, reason: str, *, limit: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


# -- rate(...) -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """``rate(value unit)``: every ``value`` units from when the schedule starts (0: once; Synthetics)."""

    expression: str
    value: int
    unit: str  # minute | hour | day (singular)

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]

    @property
    def interval(self) -> dt.timedelta | None:
        """Time between two runs; None for ``rate(0 ...)`` (runs once)."""
        return dt.timedelta(seconds=self.seconds) if self.value else None

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        return after + dt.timedelta(seconds=self.seconds) if self.value else None


def parse_rate(expression: str, *, units: tuple[str, ...] = ("minute", "hour", "day"),
               plural_rule: bool = True, zero: bool = False) -> Rate:
    """``rate(value unit)`` with these singular units (each also plural); raises :class:`ScheduleError`."""
    text = expression.strip()
    m = _RATE.fullmatch(text)
    if m is None:
        raise ScheduleError(f"{text[:60]!r} is not a rate expression: rate(value unit), e.g. "
                            "rate(30 minutes)")
    value, word = int(m.group(1)), m.group(2)
    unit = word[:-1] if word.endswith("s") else word
    if unit not in units:
        raise ScheduleError(f"the unit of a rate is {', '.join(f'{u}(s)' for u in units)}, not {word!r}")
    if value == 0 and not zero:
        raise ScheduleError("a rate must be at least 1")
    if plural_rule and (value == 1) == word.endswith("s"):
        agreeing = unit + ("" if value == 1 else "s")
        raise ScheduleError(f"write rate({value} {agreeing}): AWS requires the unit to agree with the value")
    return Rate(text, value, unit)


# -- cron(...) -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Days:
    """Which days of a month fire: the day-of-month or day-of-week field (the other one is ``?``).

    kind: ``every`` | ``dom`` (values: days of the month) | ``last`` | ``last-weekday`` | ``nearest-weekday``
    (n: the day) | ``dow`` (values: 1=SUN .. 7=SAT) | ``last-dow`` (n: the day of the week) | ``nth-dow`` (n:
    the day of the week, k: which one).
    """

    kind: str
    values: frozenset[int] = frozenset()
    n: int = 0
    k: int = 0

    def in_month(self, year: int, month: int) -> tuple[int, ...]:
        return _days_in_month(self, year, month)


def _aws_dow(day: dt.date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday=0 -> 2, Sunday=6 -> 1


@functools.lru_cache(maxsize=4096)
def _days_in_month(days: Days, year: int, month: int) -> tuple[int, ...]:
    first_dow, length = _aws_dow(dt.date(year, month, 1)), calendar.monthrange(year, month)[1]

    def dow(day: int) -> int:
        return (first_dow - 1 + day - 1) % 7 + 1

    kind = days.kind
    if kind == "every":
        return tuple(range(1, length + 1))
    if kind == "dom":
        return tuple(d for d in sorted(days.values) if d <= length)
    if kind == "last":
        return (length,)
    if kind == "last-weekday":
        last = length
        while dow(last) in (1, 7):
            last -= 1
        return (last,)
    if kind == "nearest-weekday":
        n = days.n
        if n > length:
            return ()
        if dow(n) == 7:  # Saturday: the Friday before, or Monday the 3rd if n is the 1st
            return (n - 1,) if n > 1 else (n + 2,)
        if dow(n) == 1:  # Sunday: the Monday after, or the Friday before if n is the month's last day
            return (n + 1,) if n < length else (n - 2,)
        return (n,)
    if kind == "dow":
        return tuple(d for d in range(1, length + 1) if dow(d) in days.values)
    matching = [d for d in range(1, length + 1) if dow(d) == days.n]
    if kind == "last-dow":
        return (matching[-1],)
    return (matching[days.k - 1],) if days.k <= len(matching) else ()  # nth-dow


@dataclass(frozen=True)
class Cron:
    """A parsed ``cron(...)`` expression, evaluated in UTC."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: Days
    months: tuple[int, ...]
    years: tuple[int, ...] | None  # None: every year

    def fires_on(self, day: dt.date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        return day.day in self.days.in_month(day.year, day.month)

    def _firing_days(self, start: dt.date) -> Iterator[dt.date]:
        """Days the expression fires on, from ``start`` on, within :data:`HORIZON_YEARS` allowed years."""
        years = self.years if self.years is not None else range(start.year, MAX_YEAR + 1)
        scanned = 0
        for year in years:
            if year < start.year:
                continue
            scanned += 1
            if scanned > HORIZON_YEARS:
                return
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self.days.in_month(year, month):
                    when = dt.date(year, month, day)
                    if when >= start:
                        yield when

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after ``after`` (aware: answered in UTC; naive: read as UTC)."""
        aware = after.tzinfo is not None
        base = after.astimezone(dt.UTC).replace(tzinfo=None) if aware else after
        for day in self._firing_days(base.date()):
            for hour in self.hours:
                for minute in self.minutes:
                    when = dt.datetime(day.year, day.month, day.day, hour, minute)
                    if when > base:
                        return when.replace(tzinfo=dt.UTC) if aware else when
        return None

    @functools.cached_property
    def interval(self) -> dt.timedelta | None:
        """The shortest time between two consecutive fire times (None: it fires only once)."""
        times = [h * 60 + m for h in self.hours for m in self.minutes]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        start = dt.date(self.years[0] if self.years else 2000, 1, 1)
        previous: dt.date | None = None
        for count, day in enumerate(self._firing_days(start)):
            if previous is not None:
                gaps.append((day - previous).days * 1440 - times[-1] + times[0])
                if day - previous == dt.timedelta(days=1) or count > 400:
                    break
            previous = day
        return dt.timedelta(minutes=min(gaps)) if gaps else None


def _value(token: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names and token in names:
        return names[token]
    if not _NUMBER.fullmatch(token):
        named = f" or a name ({', '.join(names)})" if names else ""
        raise ScheduleError(f"{token!r} is not a number{named}")
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"{value} is outside {low}-{high}")
    return value


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None, *, steps: bool = True,
           what: str = "") -> tuple[int, ...]:
    """A list of values, ranges, ``*`` and (where the field allows) ``/`` steps."""
    out: set[int] = set()
    for part in text.split(","):
        step, stepped = 1, "/" in part
        if stepped:
            if not steps:
                raise ScheduleError(f"{what} takes no / increments")
            part, step_text = part.split("/", 1)
            if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
                raise ScheduleError(f"the increment in {what} must be a whole number of at least 1")
            step = int(step_text)
        if part == "*":
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _value(a, low, high, names), _value(b, low, high, names)
            if first > last:
                raise ScheduleError(f"the range {part} in {what} runs backwards")
        else:
            first = _value(part, low, high, names)
            last = high if stepped else first  # a/b: from a to the field's maximum
        out.update(range(first, last + 1, step))
    return tuple(sorted(out))


def _day_of_month(text: str) -> Days:
    if text == "*":
        return Days("every")
    if text == "L":
        return Days("last")
    if text == "LW":
        return Days("last-weekday")
    if text.endswith("W"):
        return Days("nearest-weekday", n=_value(text[:-1], 1, 31, None))
    if "L" in text or "W" in text:
        raise ScheduleError("L and W stand alone in day-of-month (L, LW, 15W)")
    return Days("dom", frozenset(_field(text, 1, 31, what="day-of-month")))


def _day_of_week(text: str) -> Days:
    if text == "*":
        return Days("every")
    if text == "L":
        return Days("dow", frozenset({7}))  # the last day of the week
    if "#" in text:
        day, _, which = text.partition("#")
        if "," in text or "-" in text:
            raise ScheduleError("a # expression stands alone in day-of-week (e.g. 3#2, the second Tuesday)")
        return Days("nth-dow", n=_value(day, 1, 7, DAY_NAMES), k=_value(which, 1, 5, None))
    if text.endswith("L"):
        return Days("last-dow", n=_value(text[:-1], 1, 7, DAY_NAMES))
    return Days("dow", frozenset(_field(text, 1, 7, DAY_NAMES, steps=False, what="day-of-week")))


@functools.lru_cache(maxsize=512)
def parse_cron(expression: str, *, seconds: bool = False) -> Cron:
    """``cron(...)``: six fields (``seconds``: or seven, the first 0); raises :class:`ScheduleError`."""
    text = expression.strip()
    m = _CRON.fullmatch(text)
    if m is None:
        raise ScheduleError(f"{text[:60]!r} is not a cron expression: cron(minutes hours day-of-month month "
                            "day-of-week year), e.g. cron(0 2 ? * * *)")
    fields = m.group(1).upper().split()
    if seconds and len(fields) == 7:
        if fields[0] != "0":
            raise ScheduleError("the optional seconds field of a cron expression must be 0")
        fields = fields[1:]
    if len(fields) != 6:
        raise ScheduleError("a cron expression has 6 fields: minutes hours day-of-month month day-of-week "
                            "year, e.g. cron(0 2 ? * * *)")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("in cron(...) either day-of-month or day-of-week must be ?, e.g. "
                            "cron(0 2 ? * * *)")
    cron = Cron(
        expression=text,
        minutes=_field(minute, 0, 59, what="minutes"),
        hours=_field(hour, 0, 23, what="hours"),
        days=_day_of_week(dow) if dom == "?" else _day_of_month(dom),
        months=_field(month, 1, 12, MONTH_NAMES, what="month"),
        years=None if year == "*" else _field(year, MIN_YEAR, MAX_YEAR, what="year"),
    )
    first = dt.datetime(cron.years[0] if cron.years else 2000, 1, 1)
    if cron.next_after(first - dt.timedelta(minutes=1)) is None:
        raise ScheduleError(f"{text} never fires")
    return cron


Schedule = Rate | Cron


# -- what each service takes ---------------------------------------------------------------------------------


def association_schedule(expression: str) -> Schedule:
    """A State Manager association's ``ScheduleExpression``: a rate of 30 minutes or more and less than 31
    days, or a cron expression (optional seconds field) that fires at most every 30 minutes."""
    text = expression.strip()
    if text.startswith("rate("):
        rate = parse_rate(text)
        if not ASSOCIATION_MIN_INTERVAL <= dt.timedelta(seconds=rate.seconds) < ASSOCIATION_MAX_RATE:
            raise ScheduleError("Rate expressions for associations must be 30 minutes or greater and less "
                                "than 31 days.", limit=True)
        return rate
    cron = parse_cron(text, seconds=True)
    if cron.interval is not None and cron.interval < ASSOCIATION_MIN_INTERVAL:
        raise ScheduleError("Cron expressions for associations must not run more often than every 30 "
                            "minutes.", limit=True)
    return cron


def backup_schedule(expression: str) -> Cron:
    """An AWS Backup rule's ``ScheduleExpression``: a six-field cron expression (UTC)."""
    return parse_cron(expression)


def canary_schedule(expression: str) -> Schedule:
    """A canary's ``Schedule.Expression``: a rate of 1 minute to 1 hour, ``rate(0 minute)`` (once) or cron."""
    text = expression.strip()
    if text.startswith("rate("):
        rate = parse_rate(text, units=("minute", "hour"), plural_rule=False, zero=True)
        if rate.value and not CANARY_MIN_RATE <= dt.timedelta(seconds=rate.seconds) <= CANARY_MAX_RATE:
            raise ScheduleError("the rate must be between rate(1 minute) and rate(1 hour), or rate(0 minute) "
                                "to run once.", limit=True)
        return rate
    return parse_cron(text)
