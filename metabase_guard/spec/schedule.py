"""Alert schedules: the declaration forms, Quartz cron, a canonical form and plain words.

Metabase stores an alert's schedule as a Quartz cron expression (``sec min hour day-of-month
month day-of-week [year]``), fired in the instance's report timezone. Declarations use friendlier
forms (``{every: week, on: monday, at: "09:00"}``) or a raw ``{cron: ...}``. This module is pure
(no pydantic, nothing internal) so that the models, the reconciler and the importer share one
set of rules:

- :func:`to_cron` turns a declaration form into the canonical 7-field expression;
- :func:`canonical_cron` validates any Quartz expression and normalises it, so that two
  expressions that are written differently but mean the same compare equal;
- :func:`describe` says a schedule in words for plans;
- :func:`schedule_from_cron` is the inverse of :func:`to_cron` for ``import``.

Canonical form: 7 fields separated by one space; numbers without leading zeros; day-of-week as
names ``MON``..``SUN`` (Quartz numbers them 1=SUN..7=SAT); months as numbers 1..12; the year
``*`` when absent; ``*`` for a step starting at the field's minimum (``0/15`` -> ``*/15``); list
items sorted and de-duplicated; "every day" spelled ``* * ?`` (not ``? * *``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVERY",
    "WEEKDAYS",
    "canonical_cron",
    "describe",
    "format_time",
    "month_day_token",
    "ordinal",
    "parse_month_day",
    "parse_time",
    "pulse_schedule",
    "schedule_from_cron",
    "schedule_from_pulse",
    "to_cron",
]

#: The values of ``every`` in a declaration schedule.
EVERY = ("hour", "day", "week", "month")

#: Declaration day names, Monday first.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Quartz day-of-week numbering: 1=SUN .. 7=SAT.
_QUARTZ_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_ABBR = {day: day[:3].upper() for day in WEEKDAYS}
_ABBR_DAY = {abbr: day for day, abbr in _DAY_ABBR.items()}

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)")


# --- declaration pieces ----------------------------------------------------------------------


def parse_time(text: str) -> tuple[int, int]:
    """Parse ``"H:MM"`` or ``"HH:MM"`` (00:00-23:59) into ``(hour, minute)``.

    Raises :class:`ValueError` with a message fit for a user.
    """
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"invalid time {text!r}: expected HH:MM, for example '09:00'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        raise ValueError(f"invalid time {text!r}: the hour must be 00-23")
    if minute > 59:
        raise ValueError(f"invalid time {text!r}: the minutes must be 00-59")
    return hour, minute


def format_time(hour: int, minute: int) -> str:
    """Format a time of day as ``HH:MM``."""
    return f"{hour:02d}:{minute:02d}"


def ordinal(day: int) -> str:
    """Return the English ordinal of ``day``: 1 -> ``1st``, 22 -> ``22nd``, 13 -> ``13th``."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def parse_month_day(text: str) -> int | None:
    """Parse a monthly ``on``: ``first``, ``last`` or an ordinal ``1st``..``31st``.

    Returns the day of the month (1-31), or ``None`` for ``last``. Raises :class:`ValueError`.
    """
    if text == "first":
        return 1
    if text == "last":
        return None
    match = _ORDINAL.fullmatch(text) if isinstance(text, str) else None
    if match is not None:
        day = int(match.group(1))
        if 1 <= day <= 31 and ordinal(day) == text:
            return day
    raise ValueError(
        f"invalid day of the month {text!r}: expected 'first', 'last' or an ordinal from "
        "'1st' to '31st' (for example '15th')"
    )


def month_day_token(text: str) -> str:
    """Return the Quartz day-of-month token for a monthly ``on`` (``"1"``.. ``"31"`` or ``"L"``)."""
    day = parse_month_day(text)
    return "L" if day is None else str(day)


def _field(schedule: object, name: str) -> Any:
    if isinstance(schedule, Mapping):
        return schedule.get(name)
    return getattr(schedule, name, None)


def to_cron(schedule: object) -> str:
    """Return the canonical 7-field Quartz expression of a declaration schedule.

    ``schedule`` is a schedule model from :mod:`metabase_guard.spec.models` or a mapping with
    the same keys (``every``/``on``/``at``/``minute``, or ``cron``). Examples::

        {every: hour}                          -> "0 0 * * * ? *"
        {every: hour, minute: 15}              -> "0 15 * * * ? *"
        {every: day, at: "07:30"}              -> "0 30 7 * * ? *"
        {every: week, on: monday, at: "09:00"} -> "0 0 9 ? * MON *"
        {every: month, on: first, at: "09:00"} -> "0 0 9 1 * ? *"
        {every: month, on: last, at: "09:00"}  -> "0 0 9 L * ? *"
        {cron: "0 0 8 * * ?"}                  -> "0 0 8 * * ? *"

    Raises :class:`ValueError` for an incomplete or invalid schedule.
    """
    cron = _field(schedule, "cron")
    if cron is not None:
        return canonical_cron(cron)
    every = _field(schedule, "every")
    if every == "hour":
        minute = _field(schedule, "minute")
        minute = 0 if minute is None else minute
        if not isinstance(minute, int) or isinstance(minute, bool) or not 0 <= minute <= 59:
            raise ValueError(f"invalid minute {minute!r}: expected 0-59")
        return f"0 {minute} * * * ? *"
    if every not in EVERY:
        raise ValueError(f"invalid schedule: 'every' must be one of {', '.join(EVERY)}")
    at = _field(schedule, "at")
    if at is None:
        raise ValueError(f"a schedule with 'every: {every}' needs 'at' (HH:MM)")
    hour, minute = parse_time(at)
    if every == "day":
        return f"0 {minute} {hour} * * ? *"
    on = _field(schedule, "on")
    if on is None:
        raise ValueError(f"a schedule with 'every: {every}' needs 'on'")
    if every == "week":
        if on not in _DAY_ABBR:
            raise ValueError(f"invalid day {on!r}: expected one of {', '.join(WEEKDAYS)}")
        return f"0 {minute} {hour} ? * {_DAY_ABBR[on]} *"
    return f"0 {minute} {hour} {month_day_token(on)} * ? *"


# --- Quartz cron -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    name: str
    low: int
    high: int
    max_step: int
    names: tuple[str, ...] = ()  # names[i] is the value low + i


_SECONDS = _Spec("seconds", 0, 59, 59)
_MINUTES = _Spec("minutes", 0, 59, 59)
_HOURS = _Spec("hours", 0, 23, 23)
_DOM = _Spec("day-of-month", 1, 31, 31)
_MONTH = _Spec("month", 1, 12, 12, _MONTHS)
_DOW = _Spec("day-of-week", 1, 7, 7, _QUARTZ_DAYS)
_YEAR = _Spec("year", 1970, 2199, 229)
_SPECS = (_SECONDS, _MINUTES, _HOURS, _DOM, _MONTH, _DOW, _YEAR)

# Monday-first order for sorting day-of-week list items.
_DOW_ORDER = {name: i for i, name in enumerate(("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"))}

_NUMBER_OR_NAME = r"(?:\d+|[A-Z]{3})"
_ITEM = re.compile(
    rf"(?P<start>\*|{_NUMBER_OR_NAME})(?:-(?P<end>{_NUMBER_OR_NAME}))?"
    r"(?:/(?P<step>\d+))?"
)


class _CronError(ValueError):
    pass


def _value(token: str, spec: _Spec) -> int:
    if token.isdigit():
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise _CronError(f"{spec.name} value {token} is out of range {spec.low}-{spec.high}")
        return number
    if token in spec.names:
        return spec.low + spec.names.index(token)
    if spec.names:
        raise _CronError(
            f"invalid {spec.name} name {token!r}: expected {spec.names[0]}..{spec.names[-1]} "
            f"or {spec.low}-{spec.high}"
        )
    raise _CronError(f"invalid {spec.name} value {token!r}")


def _show(number: int, spec: _Spec) -> str:
    # Day-of-week is shown by name; every other field by number.
    return _QUARTZ_DAYS[number - 1] if spec is _DOW else str(number)


def _step(text: str, spec: _Spec) -> int:
    step = int(text)
    if not 1 <= step <= spec.max_step:
        raise _CronError(f"{spec.name} step /{text} must be 1-{spec.max_step}")
    return step


def _plain_item(item: str, spec: _Spec) -> tuple[tuple[int, int], str]:
    """Canonicalise ``*``, ``*/n``, ``a``, ``a-b``, ``a/n``, ``a-b/n``; return a sort key too."""
    match = _ITEM.fullmatch(item)
    if match is None:
        raise _CronError(f"invalid {spec.name} item {item!r}")
    start, end, step_text = match.group("start", "end", "step")
    step = _step(step_text, spec) if step_text is not None else None
    if start == "*":
        if end is not None:
            raise _CronError(f"invalid {spec.name} item {item!r}: '*' cannot start a range")
        return (-1, 0), "*" if step in (None, 1) else f"*/{step}"
    first = _value(start, spec)
    text = _show(first, spec)
    if end is not None:
        text += "-" + _show(_value(end, spec), spec)
    elif step is not None and first == spec.low:
        # "0/15" in minutes fires exactly when "*/15" does.
        return (-1, 0), "*" if step == 1 else f"*/{step}"
    if step is not None:
        text += f"/{step}"
    order = _DOW_ORDER[_show(first, spec)] if spec is _DOW else first
    return (order, len(text)), text


def _special(item: str, spec: _Spec) -> str | None:
    """Canonicalise the lone-item forms ``?``, ``L``, ``L-n``, ``LW``, ``nW``, ``xL``, ``x#n``."""
    if item == "?":
        if spec not in (_DOM, _DOW):
            raise _CronError(f"'?' is only allowed in day-of-month or day-of-week, not {spec.name}")
        return "?"
    if _ITEM.fullmatch(item):
        return None
    if spec is _DOM:
        if item in ("L", "LW"):
            return item
        if item.startswith("L-"):
            offset = item[2:]
            if not offset.isdigit() or not 1 <= int(offset) <= 30:
                raise _CronError(f"invalid day-of-month {item!r}: 'L-n' needs n from 1 to 30")
            return f"L-{int(offset)}"
        if item.endswith("W"):
            day = item[:-1]
            if not day.isdigit():
                raise _CronError(f"invalid day-of-month {item!r}: 'W' needs a single day, as 15W")
            return f"{_value(day, spec)}W"
    if spec is _DOW:
        if item == "L":
            return "SAT"  # Quartz: "L" alone in day-of-week means 7, Saturday
        if item.endswith("L"):
            return _show(_value(item[:-1], spec), spec) + "L"
        if "#" in item:
            day, _, nth = item.partition("#")
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                raise _CronError(f"invalid day-of-week {item!r}: '#n' needs n from 1 to 5")
            return f"{_show(_value(day, spec), spec)}#{int(nth)}"
    if "L" in item or "W" in item or "#" in item:
        where = {"L": "day-of-month or day-of-week", "W": "day-of-month", "#": "day-of-week"}
        char = next(c for c in "LW#" if c in item)
        raise _CronError(
            f"invalid {spec.name} item {item!r}: '{char}' is only allowed in {where[char]}"
        )
    return None


def _canonical_field(text: str, spec: _Spec) -> str:
    items = text.split(",")
    if any(not item for item in items):
        raise _CronError(f"empty item in {spec.name} field {text!r}")
    if len(items) == 1:
        special = _special(items[0], spec)
        if special is not None:
            return special
    else:
        for item in items:
            if not _ITEM.fullmatch(item) and any(c in item for c in "?LW#"):
                raise _CronError(
                    f"{spec.name} field {text!r}: '?', 'L', 'W' and '#' must stand alone, "
                    "not in a list"
                )
    canonical = sorted(set(_plain_item(item, spec) for item in items))
    texts = [item for _, item in canonical]
    if "*" in texts:
        return "*"  # "*" in a list covers every other item
    return ",".join(texts)


def canonical_cron(expr: str) -> str:
    """Validate a Quartz cron expression and return its canonical 7-field form.

    Accepts what Quartz accepts for alert schedules: 6 or 7 whitespace-separated fields
    (seconds, minutes, hours, day-of-month, month, day-of-week, optional year); ``*``, values,
    ranges ``a-b``, lists ``a,b``, steps ``*/n`` ``a/n`` ``a-b/n``; day and month names in any
    case; ``?`` in exactly one of day-of-month and day-of-week; ``L``, ``L-n``, ``LW``, ``nW`` in
    day-of-month; ``L``, ``xL``, ``x#n`` in day-of-week. See the module docstring for the
    canonical form. ``canonical_cron(canonical_cron(e)) == canonical_cron(e)``.

    Raises :class:`ValueError` with a message naming the offending field.
    """
    if not isinstance(expr, str):
        raise ValueError(f"a cron expression must be a string, not {type(expr).__name__}")
    return _canonical_cron(expr)


@functools.lru_cache(maxsize=4096)  # pure; thousands of alerts share a few schedules
def _canonical_cron(expr: str) -> str:
    fields = expr.upper().split()
    if len(fields) not in (6, 7):
        raise ValueError(
            f"invalid cron {expr.strip()!r}: expected 6 or 7 fields (seconds minutes hours "
            f"day-of-month month day-of-week [year]), got {len(fields)}"
        )
    if len(fields) == 6:
        fields.append("*")
    try:
        out = [_canonical_field(text, spec) for text, spec in zip(fields, _SPECS, strict=True)]
    except _CronError as exc:
        raise ValueError(f"invalid cron {expr.strip()!r}: {exc}") from None
    dom, dow = out[3], out[5]
    if (dom == "?") == (dow == "?"):
        raise ValueError(
            f"invalid cron {expr.strip()!r}: Quartz needs '?' in exactly one of day-of-month "
            "and day-of-week"
        )
    if dom == "?" and dow == "*":
        out[3], out[5] = "*", "?"
    return " ".join(out)


# --- words and the inverse -------------------------------------------------------------------


def _shape(expr: str) -> dict[str, Any] | None:
    """Return the simplest declaration form of a canonical expression, or ``None``."""
    sec, minute, hour, dom, month, dow, year = expr.split(" ")
    if sec != "0" or month != "*" or year != "*" or not minute.isdigit():
        return None
    if hour == "*":
        if dom == "*" and dow == "?":
            return {"every": "hour"} if minute == "0" else {"every": "hour", "minute": int(minute)}
        return None
    if not hour.isdigit():
        return None
    at = format_time(int(hour), int(minute))
    if dow == "?":
        if dom == "*":
            return {"every": "day", "at": at}
        if dom == "L":
            return {"every": "month", "on": "last", "at": at}
        if dom.isdigit():
            on = "first" if dom == "1" else ordinal(int(dom))
            return {"every": "month", "on": on, "at": at}
        return None
    if dom == "?" and dow in _ABBR_DAY:
        return {"every": "week", "on": _ABBR_DAY[dow], "at": at}
    return None


def schedule_from_cron(expr: str) -> dict[str, Any]:
    """Return the simplest declaration schedule for a Quartz expression (for ``import``).

    ``{"every": "week", "on": "monday", "at": "09:00"}`` when one of the friendly forms says
    the same thing, else ``{"cron": <canonical expression>}``. ``to_cron`` of the result equals
    ``canonical_cron(expr)``. Raises :class:`ValueError` for an invalid expression.
    """
    canonical = canonical_cron(expr)
    shape = _shape(canonical)
    return shape if shape is not None else {"cron": canonical}


def describe(expr: str, timezone: str | None = None) -> str:
    """Say a Quartz schedule in words, for plans and reports.

    ``"every Monday at 09:00 (Europe/Berlin)"``, ``"every day at 07:30 (UTC)"``,
    ``"every hour"``, ``"every hour at minute 15"``, ``"on the 15th of every month at 09:00"``,
    ``"on the last day of every month at 09:00"``. The timezone, when given, is added in
    parentheses except for hourly schedules. Shapes without words fall back to
    ``"cron 0 */5 * * * ? * (Europe/Berlin)"``; an invalid expression (Metabase does not
    validate what it stores) gives ``"invalid cron '...'"`` rather than an exception.
    """
    try:
        canonical = canonical_cron(expr)
    except ValueError:
        return f"invalid cron {str(expr).strip()!r}"
    zone = f" ({timezone})" if timezone else ""
    shape = _shape(canonical)
    if shape is None:
        return f"cron {canonical}{zone}"
    every = shape["every"]
    if every == "hour":
        minute = shape.get("minute", 0)
        return "every hour" if minute == 0 else f"every hour at minute {minute}"
    at = shape["at"]
    if every == "day":
        return f"every day at {at}{zone}"
    if every == "week":
        return f"every {shape['on'].capitalize()} at {at}{zone}"
    on = shape["on"]
    day = {"first": "first day", "last": "last day"}.get(on, on)
    return f"on the {day} of every month at {at}{zone}"


# --- dashboard subscriptions (pulse channels) --------------------------------------------------

# Metabase's pulse channels say a schedule in four fields, not cron: schedule_type
# hourly|daily|weekly|monthly, schedule_hour 0-23, schedule_day mon..sun, schedule_frame
# first|mid|last, and a monthly "mid" is the 15th (metabase/metabase
# src/metabase/pulse/models/pulse_channel.clj valid-schedule?, src/metabase/util/cron.clj
# frame->cron).
_PULSE_TYPES = {"hour": "hourly", "day": "daily", "week": "weekly", "month": "monthly"}
_PULSE_FRAMES = {"first": "first", "15th": "mid", "last": "last"}


def pulse_schedule(schedule: object) -> dict[str, Any]:
    """The pulse channel schedule fields of a subscription schedule.

    ``{every: week, on: monday, at: "08:00"}`` ->
    ``{"schedule_type": "weekly", "schedule_hour": 8, "schedule_day": "mon",
    "schedule_frame": None}``; the fields that do not apply are ``None``, as Metabase stores
    them. Raises :class:`ValueError` for a form subscriptions do not have (cron, minutes, a
    monthly day other than first, 15th or last).
    """
    every = _field(schedule, "every")
    if every not in _PULSE_TYPES:
        raise ValueError("a subscription schedule is hourly, daily, weekly or monthly")
    out: dict[str, Any] = {"schedule_type": _PULSE_TYPES[every], "schedule_hour": None,
                           "schedule_day": None, "schedule_frame": None}
    if every == "hour":
        if _field(schedule, "minute") not in (None, 0):
            raise ValueError("hourly subscriptions send on the hour")
        return out
    hour, minute = parse_time(_field(schedule, "at"))
    if minute:
        raise ValueError("subscriptions send at whole hours")
    out["schedule_hour"] = hour
    on = _field(schedule, "on")
    if every == "week":
        out["schedule_day"] = _DAY_ABBR[on].lower()
    elif every == "month":
        if on not in _PULSE_FRAMES:
            raise ValueError("monthly subscriptions send on the first, the 15th or the last day")
        out["schedule_frame"] = _PULSE_FRAMES[on]
    return out


def schedule_from_pulse(channel: Mapping[str, Any]) -> dict[str, Any] | None:
    """The declaration schedule of a pulse channel (for ``import``), or None without one.

    The inverse of :func:`pulse_schedule`. A monthly channel on a weekday (``first`` Monday)
    has no declaration form and gives None.
    """
    kind = channel.get("schedule_type")
    every = next((e for e, t in _PULSE_TYPES.items() if t == kind), None)
    if every is None:
        return None
    if every == "hour":
        return {"every": "hour"}
    hour = channel.get("schedule_hour")
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        return None
    at = format_time(hour, 0)
    if every == "day":
        return {"every": "day", "at": at}
    day = channel.get("schedule_day")
    if every == "week":
        name = _ABBR_DAY.get(str(day).upper())
        return None if name is None else {"every": "week", "on": name, "at": at}
    frame = channel.get("schedule_frame")
    on = next((o for o, f in _PULSE_FRAMES.items() if f == frame), None)
    if on is None or day is not None:
        return None
    return {"every": "month", "on": on, "at": at}
