"""``cron_slots``: the minutes of a week a Quartz cron fires at, field form by field form.

The burst rule counts alerts per minute from these slots, so a field read wrongly (a range cut
short, a step ignored, a weekday off by one) hides a burst or invents one. Written against the
survivors of a mutmut run over lint.py's ``_expand`` and ``_num`` (docs/testing.md): every form
Quartz allows in the minutes, hours and day-of-week fields, with the expected minutes worked
out by hand from Quartz's rules (day-of-week 1 = Sunday; slot 0 = Monday 00:00).
"""

from __future__ import annotations

import pytest

from metabase_guard.lint import cron_slots

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def at(day: int, hour: int, minute: int) -> int:
    """The slot of ``day`` (Monday 0) at ``hour:minute``."""
    return day * 1440 + hour * 60 + minute


@pytest.mark.parametrize(("cron", "expected"), [
    # minutes: a range, a step from a start, a stepped range, a stepped star, a list
    ("0 10-12 9 ? * MON", {at(MON, 9, 10), at(MON, 9, 11), at(MON, 9, 12)}),
    ("0 5/20 9 ? * MON", {at(MON, 9, 5), at(MON, 9, 25), at(MON, 9, 45)}),
    ("0 0-30/15 9 ? * MON", {at(MON, 9, 0), at(MON, 9, 15), at(MON, 9, 30)}),
    ("0 */30 9 ? * MON", {at(MON, 9, 0), at(MON, 9, 30)}),
    ("0 58/1 9 ? * MON", {at(MON, 9, 58), at(MON, 9, 59)}),
    ("0 10,20 9 ? * MON", {at(MON, 9, 10), at(MON, 9, 20)}),
    ("0 59 9 ? * MON", {at(MON, 9, 59)}),
    # hours: a range, a stepped range, a step from a start reaching the last hour
    ("0 0 8-10 ? * MON", {at(MON, 8, 0), at(MON, 9, 0), at(MON, 10, 0)}),
    ("0 0 0-12/6 ? * MON", {at(MON, 0, 0), at(MON, 6, 0), at(MON, 12, 0)}),
    ("0 0 11/6 ? * MON", {at(MON, 11, 0), at(MON, 17, 0), at(MON, 23, 0)}),
    ("0 0 23 ? * MON", {at(MON, 23, 0)}),
    # day-of-week: numbers (1 = Sunday, 7 = Saturday), names in any case, ranges, steps
    ("0 0 9 ? * 1", {at(SUN, 9, 0)}),
    ("0 0 9 ? * 7", {at(SAT, 9, 0)}),
    ("0 0 9 ? * 1-3", {at(SUN, 9, 0), at(MON, 9, 0), at(TUE, 9, 0)}),
    ("0 0 9 ? * mon-wed", {at(MON, 9, 0), at(TUE, 9, 0), at(WED, 9, 0)}),
    ("0 0 9 ? * tue,thu", {at(TUE, 9, 0), at(THU, 9, 0)}),
    ("0 0 9 ? * 2-6/2", {at(MON, 9, 0), at(WED, 9, 0), at(FRI, 9, 0)}),
    ("0 0 9 ? * 1/3", {at(SUN, 9, 0), at(WED, 9, 0), at(SAT, 9, 0)}),
    ("0 0 9 ? * */3", {at(SUN, 9, 0), at(WED, 9, 0), at(SAT, 9, 0)}),
    ("0 0 9 ? * 5/1", {at(THU, 9, 0), at(FRI, 9, 0), at(SAT, 9, 0)}),
    # day-of-week specials: the last Friday, the first Monday, L alone (Saturday)
    ("0 0 9 ? * 6L", {at(FRI, 9, 0)}),
    ("0 0 9 ? * 2#1", {at(MON, 9, 0)}),
    ("0 0 9 ? * L", {at(SAT, 9, 0)}),
    # a day-of-month schedule may land on any weekday: all seven count
    ("0 0 9 L * ?", {at(day, 9, 0) for day in range(7)}),
    ("0 0 9 15W * ?", {at(day, 9, 0) for day in range(7)}),
    ("0 0 9 1-7 * ?", {at(day, 9, 0) for day in range(7)}),
])
def test_cron_slots_reads_every_field_form(cron: str, expected: set[int]) -> None:
    assert cron_slots(cron) == frozenset(expected)


def test_every_minute_of_every_hour_of_every_day() -> None:
    assert cron_slots("0 * * * * ?") == frozenset(range(7 * 1440))


@pytest.mark.parametrize("cron", ["0 0 9 ? * FOO", "0 0/x 9 * * ?", "not a cron", ""])
def test_a_cron_quartz_refuses_has_no_slots(cron: str) -> None:
    assert cron_slots(cron) is None
