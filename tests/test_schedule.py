"""opstui.schedule: AWS's cron and rate syntax, next fire times, and the service limits (no sandbox, no
network).

Examples are the ones AWS documents (EventBridge "Cron expressions reference", the Systems Manager "Reference:
Cron and rate expressions", the Synthetics API reference) plus the edges of each wildcard.
"""

from __future__ import annotations

import datetime as dt

import pytest

from opstui.schedule import (
    Cron,
    Rate,
    ScheduleError,
    association_schedule,
    backup_schedule,
    canary_schedule,
    parse_cron,
    parse_rate,
)

UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def fires(expression: str, after: dt.datetime, n: int = 1, **kw: bool) -> list[dt.datetime]:
    cron = parse_cron(expression, **kw)
    out: list[dt.datetime] = []
    t: dt.datetime | None = after
    for _ in range(n):
        t = cron.next_after(t) if t is not None else None
        if t is None:
            break
        out.append(t)
    return out


# -- rate ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("rate(1 minute)", 60), ("rate(5 minutes)", 300),
                                               ("rate(1 hour)", 3600), ("rate(12 hours)", 43200),
                                               ("rate(1 day)", 86400), ("rate(7 days)", 604800),
                                               ("  rate( 30  minutes )  ", 1800)])
def test_rate_values(text: str, seconds: int) -> None:
    rate = parse_rate(text)
    assert rate.seconds == seconds and rate.interval == dt.timedelta(seconds=seconds)
    assert rate.next_after(at(2025, 1, 1)) == at(2025, 1, 1) + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["rate(1 hours)", "rate(5 hour)", "rate(1 minutes)", "rate(2 day)"])
def test_rate_unit_must_agree_with_the_value(text: str) -> None:
    with pytest.raises(ScheduleError, match="agree"):
        parse_rate(text)


@pytest.mark.parametrize("text", ["rate(0 minutes)", "rate(-1 minutes)", "rate(0.5 minutes)",
                                  "rate(30 seconds)", "rate(1 week)", "rate(minutes)", "rate 5 minutes",
                                  "RATE(5 minutes)", "rate(5 Minutes)", "cron(0 2 ? * * *)", ""])
def test_rate_refused(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_rate(text)


def test_rate_zero_runs_once_where_allowed() -> None:
    once = parse_rate("rate(0 minute)", zero=True, plural_rule=False)
    assert once.interval is None and once.next_after(at(2025, 1, 1)) is None


# -- cron: fields and wildcards -----------------------------------------------------------------------------


def test_documented_examples() -> None:
    start = at(2025, 1, 1)  # a Wednesday
    assert fires("cron(0 10 * * ? *)", start, 2) == [at(2025, 1, 1, 10), at(2025, 1, 2, 10)]
    assert fires("cron(15 12 * * ? *)", start) == [at(2025, 1, 1, 12, 15)]
    weekdays = fires("cron(0 18 ? * MON-FRI *)", at(2025, 1, 3, 19), 2)  # Friday evening
    assert weekdays == [at(2025, 1, 6, 18), at(2025, 1, 7, 18)]
    assert fires("cron(0 8 1 * ? *)", start, 2) == [at(2025, 1, 1, 8), at(2025, 2, 1, 8)]
    assert fires("cron(0/15 * * * ? *)", start, 3) == [at(2025, 1, 1, 0, 15), at(2025, 1, 1, 0, 30),
                                                        at(2025, 1, 1, 0, 45)]
    assert fires("cron(0/5 8-17 ? * MON-FRI *)", at(2025, 1, 3, 17, 55), 1) == [at(2025, 1, 6, 8)]
    assert fires("cron(0 9 ? * 2#1 *)", start, 2) == [at(2025, 1, 6, 9), at(2025, 2, 3, 9)]  # first Monday


def test_increments_start_where_written_and_run_to_the_maximum() -> None:
    assert parse_cron("cron(1/10 * * * ? *)").minutes == (1, 11, 21, 31, 41, 51)  # the user guide's example
    assert parse_cron("cron(*/20 * * * ? *)").minutes == (0, 20, 40)
    assert parse_cron("cron(10-30/10 * * * ? *)").minutes == (10, 20, 30)
    assert parse_cron("cron(0 0 1/10 * ? *)").days.values == frozenset({1, 11, 21, 31})
    assert parse_cron("cron(0 0 1 JAN/3 ? *)").months == (1, 4, 7, 10)


def test_lists_ranges_and_names() -> None:
    cron = parse_cron("cron(0,30 9-11 ? jan,Mar-MAY sun,TUE-thu 2025-2027)")
    assert cron.minutes == (0, 30) and cron.hours == (9, 10, 11)
    assert cron.months == (1, 3, 4, 5) and cron.days.values == frozenset({1, 3, 4, 5})
    assert cron.years == (2025, 2026, 2027)


@pytest.mark.parametrize(("text", "why"), [
    ("cron(0 2 * * SUN *)", "must be ?"),  # both day fields set
    ("cron(0 2 * * * *)", "must be ?"),  # * in both ("You can't use * in both")
    ("cron(0 2 ? * ? *)", "must be ?"),  # neither set
    ("cron(0 2 ? * *)", "6 fields"),
    ("cron(0 0 2 ? * * *)", "6 fields"),  # seconds only where Systems Manager takes them
    ("cron(60 * * * ? *)", "outside 0-59"),
    ("cron(0 24 * * ? *)", "outside 0-23"),
    ("cron(0 0 32 * ? *)", "outside 1-31"),
    ("cron(0 0 0 * ? *)", "outside 1-31"),
    ("cron(0 0 ? 13 * *)", "outside 1-12"),
    ("cron(0 0 ? * 8 *)", "outside 1-7"),
    ("cron(0 0 ? * 0 *)", "outside 1-7"),
    ("cron(0 0 1 * ? 1969)", "outside 1970-2199"),
    ("cron(0 0 1 * ? 2200)", "outside 1970-2199"),
    ("cron(0 0 ? * FUNDAY *)", "not a number"),
    ("cron(0 0 ? * FRI-MON *)", "backwards"),
    ("cron(50-10 * * * ? *)", "backwards"),
    ("cron(*/0 * * * ? *)", "at least 1"),
    ("cron(/5 * * * ? *)", "not a number"),
    ("cron(0 0 ? * */2 *)", "no / increments"),  # day-of-week: , - * ? L # only
    ("cron(0 0 ? * 3#1,6#3 *)", "stands alone"),  # EventBridge's own example of what is invalid
    ("cron(0 0 ? * 3#6 *)", "outside 1-5"),
    ("cron(0 0 1,L * ? *)", "stand alone"),
    ("cron(0 0 L-3 * ? *)", "stand alone"),
    ("cron(0 0 30 2 ? *)", "never fires"),
    ("cron(0 0 31 4,6,9,11 ? *)", "never fires"),
    ("every day", "not a cron expression"),
    ("cron 0 2 ? * * *", "not a cron expression"),
])
def test_cron_refused(text: str, why: str) -> None:
    with pytest.raises(ScheduleError, match=why):
        parse_cron(text)


def test_optional_seconds_field_for_systems_manager() -> None:
    assert fires("cron(0 0/30 * 1/1 * ? *)", at(2025, 1, 1), 2, seconds=True) == [at(2025, 1, 1, 0, 30),
                                                                                  at(2025, 1, 1, 1)]
    with pytest.raises(ScheduleError, match="seconds field"):
        parse_cron("cron(30 0 2 ? * * *)", seconds=True)


# -- cron: L, W and # -------------------------------------------------------------------------------------


def test_last_day_of_the_month_follows_leap_years() -> None:
    assert fires("cron(0 1 L * ? *)", at(2024, 1, 31, 2), 3) == [at(2024, 2, 29, 1), at(2024, 3, 31, 1),
                                                                 at(2024, 4, 30, 1)]
    assert fires("cron(0 1 L 2 ? *)", at(2025, 1, 1)) == [at(2025, 2, 28, 1)]


def test_last_weekday_of_the_month() -> None:
    # August 2025 ends on a Sunday; May 2026 on a Sunday; January 2025 on a Friday
    assert fires("cron(0 0 LW * ? *)", at(2025, 8, 1)) == [at(2025, 8, 29)]
    assert fires("cron(0 0 LW 5 ? *)", at(2026, 1, 1)) == [at(2026, 5, 29)]
    assert fires("cron(0 0 LW * ? *)", at(2025, 1, 1)) == [at(2025, 1, 31)]


@pytest.mark.parametrize(("month", "day", "expected"), [
    ((2025, 3), 15, 14),  # Saturday the 15th -> Friday the 14th
    ((2025, 6), 15, 16),  # Sunday the 15th -> Monday the 16th
    ((2025, 2), 1, 3),  # Saturday the 1st -> Monday the 3rd (never the month before)
    ((2025, 8), 31, 29),  # Sunday the 31st, the month's last day -> Friday the 29th (never the month after)
    ((2025, 1), 15, 15),  # a Wednesday stays
])
def test_nearest_weekday_stays_in_the_month(month: tuple[int, int], day: int, expected: int) -> None:
    year, m = month
    start = at(year, 1, 1) - dt.timedelta(minutes=1)
    assert fires(f"cron(0 0 {day}W {m} ? *)", start) == [at(year, m, expected)]


def test_nearest_weekday_of_a_day_the_month_lacks_does_not_fire() -> None:
    # April has no 31st; May 31 is a Saturday
    assert fires("cron(0 0 31W * ? *)", at(2025, 4, 1)) == [at(2025, 5, 30)]


def test_day_of_week_l_and_hash() -> None:
    assert fires("cron(0 0 ? * L *)", at(2025, 1, 1)) == [at(2025, 1, 4)]  # L alone: Saturday, the last day
    assert fires("cron(0 0 ? * 6L *)", at(2025, 1, 1), 2) == [at(2025, 1, 31), at(2025, 2, 28)]  # last Friday
    assert fires("cron(0 0 ? * FRIL *)", at(2025, 1, 1)) == [at(2025, 1, 31)]
    assert fires("cron(0 0 ? * 3#2 *)", at(2025, 1, 1)) == [at(2025, 1, 14)]  # second Tuesday
    assert fires("cron(0 0 ? * TUE#2 *)", at(2025, 1, 1)) == [at(2025, 1, 14)]
    # a fifth Monday: only months that have one (March, June, September, December 2025)
    assert fires("cron(0 0 ? * 2#5 *)", at(2025, 1, 1), 2) == [at(2025, 3, 31), at(2025, 6, 30)]


def test_the_association_example_with_an_offset_day() -> None:
    assert fires("cron(0 0 ? * THU#2 *)", at(2025, 1, 1)) == [at(2025, 1, 9)]  # the second Thursday


# -- cron: years, time zones, intervals ---------------------------------------------------------------------


def test_years_and_a_schedule_that_ends() -> None:
    assert fires("cron(0 0 1 1 ? 2030)", at(2025, 6, 1), 2) == [at(2030, 1, 1)]
    assert fires("cron(0 0 29 2 ? *)", at(2025, 1, 1), 2) == [at(2028, 2, 29), at(2032, 2, 29)]
    assert fires("cron(0 0 1 1 ? 2020/5)", at(2021, 1, 1)) == [at(2025, 1, 1)]
    assert parse_cron("cron(0 0 1 1 ? 2020)").next_after(at(2025, 1, 1)) is None  # valid, but in the past


def test_next_after_is_strictly_after_and_keeps_the_kind_of_datetime() -> None:
    cron = parse_cron("cron(0 5 ? * * *)")
    assert cron.next_after(at(2025, 1, 1, 5)) == at(2025, 1, 2, 5)
    assert cron.next_after(at(2025, 1, 1, 4, 59, 59)) == at(2025, 1, 1, 5)
    assert cron.next_after(dt.datetime(2025, 1, 1, 4)) == dt.datetime(2025, 1, 1, 5)  # naive: read as UTC
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert cron.next_after(dt.datetime(2025, 1, 1, 15, tzinfo=tokyo)) == at(2025, 1, 2, 5)  # 06:00 UTC


@pytest.mark.parametrize(("text", "minutes"), [
    ("cron(0/15 * * * ? *)", 15),
    ("cron(0,20 * ? * * *)", 20),
    ("cron(0 */2 ? * * *)", 120),
    ("cron(30 * ? * * *)", 60),
    ("cron(50 23 * * ? *)", 1440),
    ("cron(10,50 0,23 * * ? *)", 20),  # 23:50 -> 00:10 the next day
    ("cron(0 2 ? * SUN *)", 7 * 1440),
    ("cron(0 18 ? * MON-FRI *)", 1440),
    ("cron(0 1 L * ? *)", 28 * 1440),
])
def test_interval_is_the_shortest_gap_between_fire_times(text: str, minutes: int) -> None:
    assert parse_cron(text).interval == dt.timedelta(minutes=minutes)


def test_a_schedule_that_fires_once_has_no_interval() -> None:
    assert parse_cron("cron(0 0 1 1 ? 2030)").interval is None


# -- what each service takes --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["rate(30 minutes)", "rate(1 hour)", "rate(30 days)", "cron(0 2 ? * SUN *)",
                                  "cron(0,30 * ? * * *)", "cron(0 0/30 * 1/1 * ? *)",
                                  "cron(0 0 ? * THU#2 *)"])
def test_association_schedules_accepted(text: str) -> None:
    assert association_schedule(text).expression == text


@pytest.mark.parametrize(("text", "limit"), [
    ("rate(29 minutes)", True), ("rate(31 days)", True), ("rate(744 hours)", True),
    ("cron(0/15 * * * ? *)", True), ("cron(0,20 * ? * * *)", True),
    ("rate(1 minutes)", False), ("rate(2 hour)", False), ("rate(0 minutes)", False),
    ("cron(0 2 * * SUN *)", False), ("at(2025-01-01T00:00:00)", False), ("every 30 minutes", False),
])
def test_association_schedules_refused(text: str, limit: bool) -> None:
    with pytest.raises(ScheduleError) as raised:
        association_schedule(text)
    assert raised.value.limit is limit
    if limit:
        assert "30 minutes" in raised.value.reason


@pytest.mark.parametrize("text", ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(0 hour)",
                                  "rate(0 minute)", "rate(60 minutes)", "cron(0/10 * * * ? *)",
                                  "cron(0 9 ? * MON-FRI *)"])
def test_canary_schedules_accepted(text: str) -> None:
    assert canary_schedule(text).expression == text


def test_canary_rate_zero_runs_once() -> None:
    once = canary_schedule("rate(0 minute)")
    assert isinstance(once, Rate) and once.interval is None


@pytest.mark.parametrize(("text", "limit"), [("rate(2 hours)", True), ("rate(61 minutes)", True),
                                             ("rate(30 seconds)", False), ("rate(1 day)", False),
                                             ("rate(0.5 minutes)", False), ("cron(0 12 * * * *)", False),
                                             ("cron(0 0 12 * * ? *)", False)])
def test_canary_schedules_refused(text: str, limit: bool) -> None:
    with pytest.raises(ScheduleError) as raised:
        canary_schedule(text)
    assert raised.value.limit is limit


def test_backup_takes_cron_only() -> None:
    assert isinstance(backup_schedule("cron(0 5 ? * * *)"), Cron)
    assert backup_schedule("cron(0 1 L * ? *)").next_after(at(2025, 2, 1)) == at(2025, 2, 28, 1)
    for text in ("rate(12 hours)", "cron(0 0 5 ? * * *)", ""):
        with pytest.raises(ScheduleError):
            backup_schedule(text)


def test_parsed_expressions_are_shared() -> None:
    assert parse_cron("cron(0 5 ? * * *)") is parse_cron("cron(0 5 ? * * *)")
