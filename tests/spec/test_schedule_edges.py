"""Schedules at their edges: the last minute, the order of stepped items, words of refusals, the
pulse forms of subscriptions and the channels ``import`` cannot read back.

Written against the survivors of a mutmut run over spec/schedule.py (docs/testing.md).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from metabase_guard.spec.schedule import (
    canonical_cron,
    parse_time,
    pulse_schedule,
    schedule_from_cron,
    schedule_from_pulse,
    to_cron,
)


def test_minute_59_is_the_last_minute_of_an_hourly_schedule() -> None:
    assert to_cron({"every": "hour", "minute": 59}) == "0 59 * * * ? *"


@pytest.mark.parametrize("minutes", ["*/5,0/15", "0/15,*/5", "*/15,0/5", "0/5,*/15"])
def test_stepped_stars_in_a_list_meet_in_one_order(minutes: str) -> None:
    # "0/n" is "*/n"; every such item shares one sort key, so the list is ordered by its text
    expected = "0 */15,*/5 * * * ? *"
    assert canonical_cron(f"0 {minutes} * * * ?") == expected


@pytest.mark.parametrize(("cron", "message"), [
    ("0 XL * * * ?", "invalid minutes item 'XL': 'L' is only allowed in day-of-month or "
                     "day-of-week"),
    ("0 5,x * * * ?", "invalid minutes item 'X'"),
    ("0 0 9 ? * MON,2#1", "day-of-week field 'MON,2#1': '?', 'L', 'W' and '#' must stand alone, "
                          "not in a list"),
])
def test_the_words_of_a_refused_cron_item(cron: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid cron {cron!r}: {message}") + "$"):
        canonical_cron(cron)


def test_a_cron_that_is_not_a_string_names_its_type() -> None:
    with pytest.raises(ValueError, match=r"^a cron expression must be a string, not int$"):
        canonical_cron(5)  # type: ignore[arg-type]


def test_a_cron_on_one_day_of_the_month_every_hour_has_no_friendly_form() -> None:
    assert schedule_from_cron("0 5 * 1 * ?") == {"cron": "0 5 * 1 * ? *"}
    assert schedule_from_cron("0 5 * * * ?") == {"every": "hour", "minute": 5}


@pytest.mark.parametrize(("schedule", "message"), [
    ({"cron": "0 0 9 * * ?"}, "a subscription schedule is hourly, daily, weekly or monthly"),
    ({"every": "hour", "minute": 5}, "hourly subscriptions send on the hour"),
    ({"every": "day", "at": "09:30"}, "subscriptions send at whole hours"),
    ({"every": "month", "on": "2nd", "at": "09:00"},
     "monthly subscriptions send on the first, the 15th or the last day"),
])
def test_the_words_of_a_refused_subscription_schedule(schedule: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        pulse_schedule(schedule)


def test_a_pulse_schedule_sends_every_field_the_none_ones_too() -> None:
    assert pulse_schedule({"every": "day", "at": "09:00"}) == {
        "schedule_type": "daily", "schedule_hour": 9, "schedule_day": None,
        "schedule_frame": None}
    assert pulse_schedule({"every": "hour", "minute": 0}) == {
        "schedule_type": "hourly", "schedule_hour": None, "schedule_day": None,
        "schedule_frame": None}


@pytest.mark.parametrize("channel", [
    {"schedule_type": "yearly"},
    {"schedule_type": "daily", "schedule_hour": None},
    {"schedule_type": "daily", "schedule_hour": 24},
    {"schedule_type": "weekly", "schedule_hour": 8, "schedule_day": "funday"},
    {"schedule_type": "monthly", "schedule_hour": 8, "schedule_frame": "middle"},
])
def test_a_pulse_channel_import_cannot_read_has_no_schedule(channel: dict[str, Any]) -> None:
    assert schedule_from_pulse(channel) is None


def test_the_last_hour_of_a_pulse_channel_is_read() -> None:
    assert schedule_from_pulse({"schedule_type": "daily", "schedule_hour": 23}) == {
        "every": "day", "at": "23:00"}


def test_a_time_that_is_not_text_is_refused_in_words() -> None:
    # YAML reads an unquoted 9:30 as a number (sexagesimal 570 in YAML 1.1)
    message = r"^invalid time 570: expected HH:MM, for example '09:00'$"
    with pytest.raises(ValueError, match=message):
        parse_time(570)  # type: ignore[arg-type]
