"""Schedules: the exact error a user reads for each wrong form, and the canonical order of lists.

The loader shows these messages at file:line:field, so their words are part of the behaviour;
the canonical form is what plans compare, so two spellings of one schedule must meet in it.
"""

from __future__ import annotations

from typing import Any

import pytest

from metabase_guard.spec.schedule import canonical_cron, parse_month_day, to_cron


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"every": "hour", "minute": True}, "invalid minute True: expected 0-59"),
        ({"every": "hour", "minute": "5"}, "invalid minute '5': expected 0-59"),
        ({"every": "hour", "minute": 60}, "invalid minute 60: expected 0-59"),
        ({"every": "fortnight"},
         "invalid schedule: 'every' must be one of hour, day, week, month"),
        ({"every": "week"}, "a schedule with 'every: week' needs 'at' (HH:MM)"),
        ({"every": "month", "at": "09:00"}, "a schedule with 'every: month' needs 'on'"),
        ({"every": "week", "on": "funday", "at": "09:00"},
         "invalid day 'funday': expected one of monday, tuesday, wednesday, thursday, friday, "
         "saturday, sunday"),
    ],
)
def test_an_incomplete_schedule_is_told_exactly(schedule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        to_cron(schedule)
    assert str(info.value) == message


def test_a_wrong_day_of_the_month_is_told_exactly() -> None:
    with pytest.raises(ValueError) as info:
        parse_month_day("32nd")
    assert str(info.value) == ("invalid day of the month '32nd': expected 'first', 'last' or an "
                               "ordinal from '1st' to '31st' (for example '15th')")


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("0 0 0 ? FOO *", "invalid month name 'FOO': expected JAN..DEC or 1-12"),
        ("0 0 0 ? * FOO", "invalid day-of-week name 'FOO': expected SUN..SAT or 1-7"),
        ("0 0 0 ? * MON#2#3", "invalid day-of-week 'MON#2#3': '#n' needs n from 1 to 5"),
        ("0 0 0 ? * MON#0", "invalid day-of-week 'MON#0': '#n' needs n from 1 to 5"),
        ("0 0 0 ? * MON#6", "invalid day-of-week 'MON#6': '#n' needs n from 1 to 5"),
        ("0 0 0 L-0 * ?", "invalid day-of-month 'L-0': 'L-n' needs n from 1 to 30"),
        ("0 0 0 L-31 * ?", "invalid day-of-month 'L-31': 'L-n' needs n from 1 to 30"),
        ("0 0 0 L-X * ?", "invalid day-of-month 'L-X': 'L-n' needs n from 1 to 30"),
        ("0 0 15W * * ?", "invalid hours item '15W': 'W' is only allowed in day-of-month"),
        ("0 1#2 0 * * ?", "invalid minutes item '1#2': '#' is only allowed in day-of-week"),
        ("0 5L 0 * * ?",
         "invalid minutes item '5L': 'L' is only allowed in day-of-month or day-of-week"),
        ("0 *-5 0 * * ?", "invalid minutes item '*-5': '*' cannot start a range"),
        ("0 0 0 * * ? ABC", "invalid year value 'ABC'"),
    ],
)
def test_a_wrong_cron_item_is_told_exactly(expr: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        canonical_cron(expr)
    assert str(info.value) == f"invalid cron {expr!r}: {reason}"


@pytest.mark.parametrize(
    ("expr", "canonical"),
    [
        ("0 0 0 L-1 * ?", "0 0 0 L-1 * ? *"),
        ("0 0 0 L-30 * ?", "0 0 0 L-30 * ? *"),
        ("0 0 0 ? * MON#1", "0 0 0 ? * MON#1 *"),
        ("0 0 0 ? * 2#5", "0 0 0 ? * MON#5 *"),
        # a step list: "*/n" items sort before every value, whatever the value
        ("0 0,*/15 * * * ?", "0 */15,0 * * * ? *"),
        ("0 0,0/20 * * * ?", "0 */20,0 * * * ? *"),
        ("0 0/1 * * * ?", "0 * * * * ? *"),
        ("0 */1 * * * ?", "0 * * * * ? *"),
        # days in week order (Monday first), not in Quartz's numbers (1 = Sunday)
        ("0 0 9 ? * SUN,MON", "0 0 9 ? * MON,SUN *"),
        ("0 0 9 ? * 1,2,7", "0 0 9 ? * MON,SAT,SUN *"),
    ],
)
def test_canonical_forms_of_edge_items(expr: str, canonical: str) -> None:
    assert canonical_cron(expr) == canonical
