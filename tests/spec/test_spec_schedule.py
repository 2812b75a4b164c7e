"""Schedules <-> Quartz cron: canonical form, validation, words and the inverse."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metabase_guard.spec.models import (
    CronSchedule,
    DailySchedule,
    HourlySchedule,
    MonthlySchedule,
    WeeklySchedule,
)
from metabase_guard.spec.schedule import (
    WEEKDAYS,
    canonical_cron,
    describe,
    ordinal,
    parse_month_day,
    parse_time,
    schedule_from_cron,
    to_cron,
)


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        (HourlySchedule(every="hour"), "0 0 * * * ? *"),
        (HourlySchedule(every="hour", minute=15), "0 15 * * * ? *"),
        (DailySchedule(every="day", at="07:30"), "0 30 7 * * ? *"),
        (DailySchedule(every="day", at="9:05"), "0 5 9 * * ? *"),
        (WeeklySchedule(every="week", on="monday", at="09:00"), "0 0 9 ? * MON *"),
        (WeeklySchedule(every="week", on="sunday", at="23:59"), "0 59 23 ? * SUN *"),
        (MonthlySchedule(every="month", on="first", at="09:00"), "0 0 9 1 * ? *"),
        (MonthlySchedule(every="month", on="last", at="09:00"), "0 0 9 L * ? *"),
        (MonthlySchedule(every="month", on="15th", at="06:00"), "0 0 6 15 * ? *"),
        (CronSchedule(cron="0 0 8 * * ?"), "0 0 8 * * ? *"),
    ],
)
def test_to_cron(schedule: Any, cron: str) -> None:
    assert to_cron(schedule) == cron
    assert to_cron(schedule.model_dump()) == cron  # mappings work too
    assert canonical_cron(cron) == cron


@pytest.mark.parametrize(
    "schedule",
    [
        {"every": "day"},
        {"every": "week", "at": "09:00"},
        {"every": "week", "on": "mon", "at": "09:00"},
        {"every": "month", "on": "32nd", "at": "09:00"},
        {"every": "fortnight", "at": "09:00"},
        {"every": "hour", "minute": 60},
        {"cron": "nonsense"},
    ],
)
def test_to_cron_rejects_incomplete_schedules(schedule: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        to_cron(schedule)


@pytest.mark.parametrize(
    ("expr", "canonical"),
    [
        ("0 0 9 ? * MON", "0 0 9 ? * MON *"),  # 6 -> 7 fields
        ("0 0 9 ? * 2 *", "0 0 9 ? * MON *"),  # Quartz 2 = Monday
        ("0 0 9 ? * 1", "0 0 9 ? * SUN *"),
        ("0 0 9 ? * mon *", "0 0 9 ? * MON *"),
        ("  0   00  09 ? *   MON  * ", "0 0 9 ? * MON *"),
        ("0 0 9 ? * 2-6", "0 0 9 ? * MON-FRI *"),
        ("0 0 9 ? * FRI,MON,WED", "0 0 9 ? * MON,WED,FRI *"),
        ("0 0 9 ? * 6,2,4,2", "0 0 9 ? * MON,WED,FRI *"),
        ("0 0 9 ? * 6#3", "0 0 9 ? * FRI#3 *"),
        ("0 0 9 ? * 6L", "0 0 9 ? * FRIL *"),
        ("0 0 9 ? * L", "0 0 9 ? * SAT *"),
        ("0 0 9 ? * *", "0 0 9 * * ? *"),  # every day, spelled one way
        ("0 0/15 * * * ?", "0 */15 * * * ? *"),
        ("0 */1 * * * ?", "0 * * * * ? *"),
        ("0 5/15 * * * ?", "0 5/15 * * * ? *"),
        ("0 0 9 1 JAN,jul ?", "0 0 9 1 1,7 ? *"),
        ("0 0 9 1 jan-MAR ? 2030", "0 0 9 1 1-3 ? 2030"),
        ("0 0 9 LW * ?", "0 0 9 LW * ? *"),
        ("0 0 9 L-3 * ?", "0 0 9 L-3 * ? *"),
        ("0 0 9 15W * ?", "0 0 9 15W * ? *"),
        ("0 0 22-2 * * ?", "0 0 22-2 * * ? *"),  # Quartz wraps ranges around
        ("0 0 9,*,3 * * ?", "0 0 * * * ? *"),
        ("0 0 8-18/2 ? * MON-FRI *", "0 0 8-18/2 ? * MON-FRI *"),
    ],
)
def test_canonical_cron(expr: str, canonical: str) -> None:
    assert canonical_cron(expr) == canonical
    assert canonical_cron(canonical) == canonical


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 9 * *", "expected 6 or 7 fields"),
        ("0 0 9 * * ? * *", "got 8"),
        ("0 0 9 * * *", "'?' in exactly one"),
        ("0 0 9 ? * ?", "'?' in exactly one"),
        ("60 0 9 * * ?", "seconds value 60 is out of range 0-59"),
        ("0 60 9 * * ?", "minutes value 60"),
        ("0 0 24 * * ?", "hours value 24"),
        ("0 0 9 0 * ?", "day-of-month value 0"),
        ("0 0 9 32 * ?", "day-of-month value 32"),
        ("0 0 9 1 13 ?", "month value 13"),
        ("0 0 9 ? * 8", "day-of-week value 8"),
        ("0 0 9 ? * MOM", "invalid day-of-week name 'MOM'"),
        ("0 0 9 1 FOO ?", "invalid month name 'FOO'"),
        ("0 0 9 ? MON *", "invalid month name 'MON'"),
        ("0 0 9 1 * ? 1969", "year value 1969"),
        ("0 */0 * * * ?", "step /0"),
        ("0 */61 * * * ?", "step /61"),
        ("? 0 9 * * ?", "'?' is only allowed"),
        ("0 0 9 L,15 * ?", "must stand alone"),
        ("0 0 9 ? * MON#3,FRI", "must stand alone"),
        ("0 0 9 ? * MON#6", "'#n' needs n from 1 to 5"),
        ("0 0 9 W * ?", "'W' needs a single day"),
        ("0 0 9 ? * L-2", "invalid day-of-week item"),
        ("0 0 L * * ?", "'L' is only allowed in day-of-month or day-of-week"),
        ("0 0 9 1,,2 * ?", "empty item"),
        ("0 0 9 1-* * ?", "invalid day-of-month item"),
        ("0 0 9 */2-3 * ?", "invalid day-of-month item"),
        ("", "got 0"),
    ],
)
def test_canonical_cron_rejects(expr: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        canonical_cron(expr)
    assert message in str(info.value)


def test_canonical_cron_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        canonical_cron(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "timezone", "words"),
    [
        ("0 0 9 ? * MON *", "Europe/Berlin", "every Monday at 09:00 (Europe/Berlin)"),
        ("0 0 9 ? * 2", "Europe/Berlin", "every Monday at 09:00 (Europe/Berlin)"),
        ("0 30 7 * * ? *", "UTC", "every day at 07:30 (UTC)"),
        ("0 30 7 ? * *", None, "every day at 07:30"),
        ("0 0 * * * ? *", "UTC", "every hour"),
        ("0 15 * * * ?", None, "every hour at minute 15"),
        ("0 0 9 L * ? *", None, "on the last day of every month at 09:00"),
        ("0 0 9 1 * ? *", None, "on the first day of every month at 09:00"),
        ("0 0 6 22 * ?", "UTC", "on the 22nd of every month at 06:00 (UTC)"),
        ("0 */5 * * * ?", "Europe/Berlin", "cron 0 */5 * * * ? * (Europe/Berlin)"),
        ("30 0 9 * * ?", None, "cron 30 0 9 * * ? *"),
        ("0 0 9 ? * MON-FRI", None, "cron 0 0 9 ? * MON-FRI *"),
        ("0 0 9 * * ? 2030", None, "cron 0 0 9 * * ? 2030"),
        ("bogus", "UTC", "invalid cron 'bogus'"),
    ],
)
def test_describe(expr: str, timezone: str | None, words: str) -> None:
    assert describe(expr, timezone) == words


@pytest.mark.parametrize(
    ("expr", "schedule"),
    [
        ("0 0 * * * ?", {"every": "hour"}),
        ("0 15 * * * ? *", {"every": "hour", "minute": 15}),
        ("0 30 7 * * ?", {"every": "day", "at": "07:30"}),
        ("0 0 9 ? * 2 *", {"every": "week", "on": "monday", "at": "09:00"}),
        ("0 0 9 ? * sun", {"every": "week", "on": "sunday", "at": "09:00"}),
        ("0 0 9 1 * ?", {"every": "month", "on": "first", "at": "09:00"}),
        ("0 0 9 L * ?", {"every": "month", "on": "last", "at": "09:00"}),
        ("0 0 9 15 * ?", {"every": "month", "on": "15th", "at": "09:00"}),
        ("0 0 9 ? * MON-FRI", {"cron": "0 0 9 ? * MON-FRI *"}),
        ("0 0 9 LW * ?", {"cron": "0 0 9 LW * ? *"}),
        ("0 0 */2 * * ?", {"cron": "0 0 */2 * * ? *"}),
    ],
)
def test_schedule_from_cron(expr: str, schedule: dict[str, Any]) -> None:
    assert schedule_from_cron(expr) == schedule
    assert to_cron(schedule) == canonical_cron(expr)


def test_schedule_from_cron_rejects_invalid() -> None:
    with pytest.raises(ValueError):
        schedule_from_cron("0 0 9 * * *")


times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
month_days = st.one_of(st.sampled_from(["first", "last"]), st.integers(1, 31).map(ordinal))
schedules = st.one_of(
    st.builds(HourlySchedule, every=st.just("hour"), minute=st.integers(0, 59)),
    st.builds(DailySchedule, every=st.just("day"), at=times),
    st.builds(WeeklySchedule, every=st.just("week"), on=st.sampled_from(WEEKDAYS), at=times),
    st.builds(MonthlySchedule, every=st.just("month"), on=month_days, at=times),
)


@given(schedules)
def test_round_trip_through_cron(schedule: Any) -> None:
    cron = to_cron(schedule)
    assert canonical_cron(cron) == cron
    back = schedule_from_cron(cron)
    assert to_cron(back) == cron
    assert not describe(cron).startswith("cron ")


cron_field = st.sampled_from(["*", "0", "5", "1-5", "*/5", "3/10", "1,2,3"])


@given(
    cron_field,
    cron_field,
    st.sampled_from(["*", "0", "9", "22-2", "8-18/2"]),
    st.sampled_from(["?", "*", "1", "L", "15W", "1-15", "LW", "L-2"]),
    st.sampled_from(["*", "1", "JAN", "jan-jun", "1,7", "*/3"]),
    st.sampled_from(["?", "*", "1", "MON", "2-6", "mon,fri", "6L", "6#3", "L"]),
    st.sampled_from(["", " *", " 2030", " 2030-2035"]),
)
def test_canonical_cron_is_idempotent(
    sec: str, minute: str, hour: str, dom: str, month: str, dow: str, year: str
) -> None:
    expr = f"{sec} {minute} {hour} {dom} {month} {dow}{year}"
    try:
        canonical = canonical_cron(expr)
    except ValueError as exc:
        assert (dom == "?") == (dow == "?") or "'?'" in str(exc)
        return
    assert canonical_cron(canonical) == canonical
    assert len(canonical.split(" ")) == 7


def test_parse_helpers() -> None:
    assert parse_time("9:05") == (9, 5)
    assert parse_time("23:59") == (23, 59)
    for bad in ("24:00", "9:5", "09:000", "", "noon"):
        with pytest.raises(ValueError):
            parse_time(bad)
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "23rd",
        "31st",
    ]
    assert parse_month_day("first") == 1 and parse_month_day("last") is None
    assert parse_month_day("31st") == 31
    for bad in ("0th", "32nd", "1th", "11st", "15"):
        with pytest.raises(ValueError):
            parse_month_day(bad)


def test_the_largest_step_of_each_field_is_accepted() -> None:
    from metabase_guard.spec.schedule import canonical_cron as canonical

    assert canonical("0/59 0/59 0/23 1/31 1/12 ?").split()[:5] == [
        "*/59", "*/59", "*/23", "*/31", "*/12"]  # a step from the minimum is canonical */n
    with pytest.raises(ValueError, match="step /60 must be 1-59"):
        canonical("0/60 0 0 * * ?")
