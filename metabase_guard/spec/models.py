"""Declaration models: what a health-check question, its goal and its alerts look like in YAML.

Every model is frozen, strict (no silent coercion: ``name: 2024`` is an error, not ``"2024"``)
and forbids unknown keys. The field descriptions are the reference documentation: the JSON
Schema (``metabase-guard schema``) and the docs are generated from them.

The rule that spans a question and its alerts (a goal alert needs a goal and a display that
carries one) is not enforced by the models, so that a live card read back by ``import`` can
still be represented; :func:`semantic_problems` lists such problems and the loader reports them
for every question that is otherwise valid.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from metabase_guard.spec import schedule as _schedule

__all__ = [
    "CONDITIONS",
    "DISPLAYS",
    "GOAL_CONDITIONS",
    "GOAL_DISPLAYS",
    "GRID_WIDTH",
    "ITEM_TAGS",
    "SCHEDULE_TAGS",
    "SIZE_PRESETS",
    "Alert",
    "Condition",
    "CronSchedule",
    "DailySchedule",
    "Dashboard",
    "DashboardItem",
    "DeclarationFile",
    "Display",
    "Goal",
    "HeadingItem",
    "HourlySchedule",
    "MonthlySchedule",
    "Question",
    "QuestionItem",
    "Schedule",
    "Size",
    "Subscription",
    "SubscriptionDailySchedule",
    "SubscriptionHourlySchedule",
    "SubscriptionMonthlySchedule",
    "SubscriptionSchedule",
    "SubscriptionWeeklySchedule",
    "TextItem",
    "WeeklySchedule",
    "check_key",
    "dashboard_problems",
    "semantic_problems",
    "suggest",
]

Display = Literal[
    "table",
    "bar",
    "line",
    "area",
    "row",
    "pie",
    "scalar",
    "smartscalar",
    "combo",
    "pivot",
    "funnel",
    "map",
    "scatter",
    "waterfall",
    "progress",
    "gauge",
    "object",
    "sankey",
    "boxplot",
]
#: Metabase's registered card displays.
DISPLAYS: tuple[str, ...] = get_args(Display)
#: Displays whose goal Metabase evaluates for goal alerts (metabase-api.md 3.9).
GOAL_DISPLAYS = ("line", "bar", "area", "progress")

Condition = Literal["below_goal", "above_goal", "has_rows"]
#: Alert conditions (``when``).
CONDITIONS: tuple[str, ...] = get_args(Condition)
#: Conditions that compare the result with the question's goal.
GOAL_CONDITIONS = ("below_goal", "above_goal")

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

KEY_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_KEY = re.compile(KEY_PATTERN)
_TIME_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
_MONTH_DAY_PATTERN = r"^(first|last|[0-9]{1,2}(st|nd|rd|th))$"
# Close to Metabase's own check (metabase.util/email?): a dot-atom local part and a dotted domain.
_EMAIL = re.compile(
    r"[\w!#$%&'*+/=?`{|}~^-]+(?:\.[\w!#$%&'*+/=?`{|}~^-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
)
_SLACK = re.compile(r"[#@][a-z0-9._-]{1,80}")


def suggest(word: str, choices: Any) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    if not close and isinstance(word, str):
        close = [c for c in choices if isinstance(c, str) and c.lower() == word.lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def _error(message: str, *subloc: str | int) -> PydanticCustomError:
    # ``subloc`` is appended to the error location by the loader (pydantic cannot place an
    # error from a validator below the validated value itself).
    return PydanticCustomError("declaration", message, {"subloc": subloc} if subloc else None)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise _error("must not be blank")
    return value


NonBlank = Annotated[str, AfterValidator(_non_blank)]


def _time(value: str) -> str:
    try:
        return _schedule.format_time(*_schedule.parse_time(value))
    except ValueError as exc:
        raise _error(str(exc)) from None


TimeOfDay = Annotated[
    str, AfterValidator(_time), Field(json_schema_extra={"pattern": _TIME_PATTERN})
]


def check_key(value: str) -> str:
    """Return ``value`` if it is a valid key (a slug of at most 64 characters), else raise."""
    if len(value) > 64:
        raise _error(f"key {value!r} is longer than 64 characters")
    if not _KEY.fullmatch(value):
        raise _error(
            f"invalid key {value!r}: use lowercase letters, digits and single '-' "
            "between them, as 'weekly-signups'"
        )
    return value


def _check_collection_path(value: str | None) -> str | None:
    if value is None:
        return value
    for segment in value.split("/"):
        if not segment.strip():
            raise _error(
                f"invalid collection path {value!r}: empty segment (no leading, trailing "
                "or doubled '/')"
            )
        if segment != segment.strip():
            raise _error(
                f"invalid collection path {value!r}: segment {segment!r} has surrounding spaces"
            )
    return value


class Goal(_Model):
    """The question's goal line; goal alerts compare the metric with its value."""

    value: float = Field(
        allow_inf_nan=False,
        description="The goal value, drawn as a goal line (line, bar, area) or as the target "
        "of a progress bar; `below_goal` and `above_goal` alerts compare the metric with it.",
    )
    label: NonBlank = Field("Goal", description="The goal line's label.")


class HourlySchedule(_Model):
    """Every hour, at a minute past the hour."""

    every: Literal["hour"] = Field(description="`hour`: run every hour.")
    minute: int = Field(0, ge=0, le=59, description="Minute past the hour, 0-59 (default 0).")


class DailySchedule(_Model):
    """Every day at a time."""

    every: Literal["day"] = Field(description="`day`: run every day.")
    at: TimeOfDay = Field(
        description="Time of day, HH:MM (24-hour), in the Metabase report timezone."
    )


class WeeklySchedule(_Model):
    """Every week on a day at a time."""

    every: Literal["week"] = Field(description="`week`: run once a week.")
    on: Weekday = Field(description="Day of the week, `monday` to `sunday`.")
    at: TimeOfDay = Field(
        description="Time of day, HH:MM (24-hour), in the Metabase report timezone."
    )


class MonthlySchedule(_Model):
    """Every month on a day at a time."""

    every: Literal["month"] = Field(description="`month`: run once a month.")
    on: str = Field(
        description="Day of the month: `first`, `last`, or an ordinal `1st` to `31st` "
        "(months without that day are skipped).",
        json_schema_extra={"pattern": _MONTH_DAY_PATTERN},
    )
    at: TimeOfDay = Field(
        description="Time of day, HH:MM (24-hour), in the Metabase report timezone."
    )

    @field_validator("on", mode="before")
    @classmethod
    def _check_on(cls, value: Any) -> Any:
        try:
            _schedule.parse_month_day(value)
        except ValueError as exc:
            raise _error(str(exc)) from None
        return value


class CronSchedule(_Model):
    """A raw Quartz cron expression, for schedules the other forms cannot say."""

    cron: str = Field(
        description="Quartz cron: `seconds minutes hours day-of-month month day-of-week "
        "[year]`, with `?` in exactly one of day-of-month and day-of-week, e.g. "
        "`0 0 9 ? * MON-FRI`.",
    )

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        try:
            _schedule.canonical_cron(value)
        except ValueError as exc:
            raise _error(str(exc)) from None
        return value


_SCHEDULE_KEYS = {
    "hour": HourlySchedule,
    "day": DailySchedule,
    "week": WeeklySchedule,
    "month": MonthlySchedule,
    "cron": CronSchedule,
}
#: Union tags pydantic inserts in error locations right after ``schedule``.
SCHEDULE_TAGS = frozenset(_SCHEDULE_KEYS)
_ALL_SCHEDULE_KEYS = ("every", "on", "at", "minute", "cron")


def _schedule_shape(value: Any) -> Any:
    """Check what picks the schedule form, so that the error says what is wrong with it."""
    return _check_schedule_shape(value, cron=True)


def _check_schedule_shape(value: Any, *, cron: bool) -> Any:
    if isinstance(value, BaseModel):
        return value
    example = "{every: day, at: '09:00'}" + (" or {cron: '0 0 9 * * ?'}" if cron else "")
    if not isinstance(value, dict):
        raise _error(f"expected a mapping such as {example}, got {_type_name(value)}")
    if "cron" in value and not cron:
        raise _error(
            "a subscription takes no cron: Metabase's dashboard subscriptions run hourly, "
            "daily, weekly or monthly at whole hours, as {every: week, on: monday, at: '08:00'}",
            "cron",
        )
    if "cron" in value and "every" in value:
        raise _error("give either 'every' or 'cron', not both")
    if "cron" in value:
        return value
    if "every" not in value:
        keys = _ALL_SCHEDULE_KEYS if cron else _ALL_SCHEDULE_KEYS[:-1]
        for key in value:
            if key not in keys:
                raise _error(f"unknown field {key!r}{suggest(key, keys)}", str(key))
        alternatives = "(hour, day, week or month)" + (" or 'cron'" if cron else "")
        raise _error(f"missing 'every' {alternatives}: expected {example}")
    every = value["every"]
    if every not in _schedule.EVERY:
        raise _error(
            f"expected one of hour, day, week, month; got {every!r}"
            + (suggest(every, _schedule.EVERY) if isinstance(every, str) else ""),
            "every",
        )
    return value


def _schedule_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return "cron" if isinstance(value, CronSchedule) else getattr(value, "every", None)
    if isinstance(value, dict):
        return "cron" if "cron" in value else value.get("every")
    return None  # pragma: no cover - _schedule_shape rejects it first


Schedule = Annotated[
    Union[
        Annotated[HourlySchedule, Tag("hour")],
        Annotated[DailySchedule, Tag("day")],
        Annotated[WeeklySchedule, Tag("week")],
        Annotated[MonthlySchedule, Tag("month")],
        Annotated[CronSchedule, Tag("cron")],
    ],
    Discriminator(_schedule_tag),
    BeforeValidator(_schedule_shape),
]
"""One of the schedule forms: hourly, daily, weekly, monthly or raw cron."""


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise _error(f"invalid email address {value!r}")
    return value


def _slack(value: str) -> str:
    if not _SLACK.fullmatch(value):
        raise _error(
            f"invalid Slack channel {value!r}: expected '#channel' or '@user' with lowercase "
            "letters, digits, '-', '_' or '.' (at most 80)"
        )
    return value


Email = Annotated[str, AfterValidator(_email)]
SlackChannel = Annotated[
    str, AfterValidator(_slack), Field(json_schema_extra={"pattern": r"^[#@][a-z0-9._-]{1,80}$"})
]


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise _error(f"{value!r} is listed twice", index)
        seen.add(value)
    return values


class Alert(_Model):
    """An alert subscription on the question: when it fires, how often, and who hears."""

    when: Condition = Field(
        description="When the alert fires: `below_goal` (the metric is below the goal in any "
        "row), `above_goal` (at or above the goal in any row), `has_rows` (the result is not "
        "empty). Goal conditions need a `goal` and a line, bar, area or progress display.",
    )
    schedule: Schedule = Field(
        description="How often Metabase runs the question: `{every: hour, minute?}`, "
        "`{every: day, at}`, `{every: week, on: monday..sunday, at}`, "
        "`{every: month, on: first|last|15th, at}`, or `{cron: <Quartz expression>}`. "
        "Times are in the Metabase report timezone.",
    )
    once: bool = Field(
        False, description="Send only the first time the condition holds, then stop (send_once)."
    )
    email: Annotated[list[Email], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Email addresses: Metabase users by their address, others as raw addresses.",
    )
    groups: Annotated[list[NonBlank], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Metabase permission group names whose members are emailed.",
    )
    slack: Annotated[list[SlackChannel], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Slack channels (`#ml-alerts`) or users (`@ada`).",
    )
    webhook: Annotated[list[NonBlank], AfterValidator(_unique)] = Field(
        default_factory=list, description="Names of Metabase webhook channels."
    )

    @property
    def has_recipient(self) -> bool:
        """True when the alert reaches at least one channel."""
        return bool(self.email or self.groups or self.slack or self.webhook)

    @model_validator(mode="after")
    def _check_recipient(self) -> Alert:
        if not self.has_recipient:
            raise _error(
                "alert has no recipient: give at least one of email, groups, slack, webhook"
            )
        return self


class Question(_Model):
    """A health-check question: a native SQL query saved as a Metabase card, with its alerts."""

    key: str = Field(
        description="Stable identity: a lowercase slug (`a-z`, `0-9`, single `-`), at most 64 "
        "characters, unique across all files. Renaming or moving the question keeps it.",
        json_schema_extra={"pattern": KEY_PATTERN, "maxLength": 64},
    )
    name: NonBlank = Field(max_length=254, description="The card's name in Metabase.")
    description: str | None = Field(None, description="The card's description.")
    collection: str | None = Field(
        None,
        description="Collection path, `/`-separated (`Health checks/Recommender`), under the "
        "configured default collection; missing collections are created on apply. Absent: "
        "the default collection itself.",
    )
    database: NonBlank = Field(description="The Metabase database, by name.")
    sql: NonBlank = Field(description="The native SQL query.")
    display: Display = Field(
        "table",
        description="How Metabase shows the result (`table`, `bar`, `line`, `area`, "
        "`progress`, `scalar`...). Only line, bar, area and progress carry a goal that alerts "
        "can compare with.",
    )
    metric: NonBlank | None = Field(
        None,
        description="Result column compared with the goal and drawn as the series "
        "(`graph.metrics`, or `progress.value`). Default: Metabase's choice.",
    )
    dimension: NonBlank | None = Field(
        None, description="Result column on the x axis (`graph.dimensions`)."
    )
    goal: Goal | None = Field(
        None, title="Goal",
        description="Goal line: `{value: <number>, label?: <text>}` (label default Goal).",
    )
    alerts: list[Alert] = Field(
        default_factory=list, description="Alert subscriptions on this question."
    )
    allow_empty: bool = Field(
        False,
        description="The query returns no row on purpose when its data is absent: the "
        "`silent-on-outage` lint stays quiet for this question.",
    )

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        return check_key(value)

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str | None) -> str | None:
        return _check_collection_path(value)

    @property
    def collection_path(self) -> tuple[str, ...]:
        """The collection path as segments; empty for the default collection."""
        return tuple(self.collection.split("/")) if self.collection else ()


# --------------------------------------------------------------------------- dashboards

#: Columns of Metabase's dashboard grid (metabase/metabase src/metabase/dashboards/constants.cljc,
#: ``GRID_WIDTH``).
GRID_WIDTH = 24
#: The tallest explicit ``[w, h]`` size accepted, in grid rows (Metabase sets no limit; a card
#: taller than this is a typo more often than a wish).
MAX_HEIGHT = 48

SizeName = Literal["small", "medium", "wide", "full"]
#: Size presets as (width, height) in grid cells.
SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "small": (6, 3),
    "medium": (12, 6),
    "wide": (18, 6),
    "full": (GRID_WIDTH, 6),
}
_SIZE_WORDS = "small, medium, wide, full or [width, height]"


def _size_shape(value: Any) -> Any:
    if isinstance(value, str):
        if value not in SIZE_PRESETS:
            raise _error(f"unknown size {value!r}{suggest(value, SIZE_PRESETS)}: expected "
                         f"{_SIZE_WORDS}")
        return value
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(type(v) is int for v in value):
            raise _error(f"expected [width, height] with two whole numbers, as [12, 6]; got "
                         f"{list(value)!r}")
        width, height = value
        if not 1 <= width <= GRID_WIDTH:
            raise _error(f"width {width} is out of range: 1 to {GRID_WIDTH} columns (Metabase's "
                         "dashboard grid is 24 columns wide)", 0)
        if not 1 <= height <= MAX_HEIGHT:
            raise _error(f"height {height} is out of range: 1 to {MAX_HEIGHT} rows", 1)
        return (width, height)
    raise _error(f"expected {_SIZE_WORDS}, got {_type_name(value)}")


Size = Annotated[
    Union[
        SizeName,
        tuple[
            Annotated[int, Field(ge=1, le=GRID_WIDTH)], Annotated[int, Field(ge=1, le=MAX_HEIGHT)]
        ],
    ],
    BeforeValidator(_size_shape),
]
"""A card size: a preset (``small`` 6x3, ``medium`` 12x6, ``wide`` 18x6, ``full`` 24x6) or
``(width, height)`` in grid cells."""

_SIZE_DESCRIPTION = (
    "`small` (6x3), `medium` (12x6), `wide` (18x6), `full` (24x6), or `[width, height]` in "
    "grid cells (width 1-24, height 1-48)."
)


class QuestionItem(_Model):
    """A question declared in this project, shown on the dashboard as its card."""

    question: str = Field(
        description="The key of a question declared in this project. A bare key in the "
        "`cards` list means the same.",
        json_schema_extra={"pattern": KEY_PATTERN, "maxLength": 64},
    )
    size: Size | None = Field(
        None, description="The card's size: " + _SIZE_DESCRIPTION + " Absent: the default "
        "size of the question's display.",
    )

    @field_validator("question")
    @classmethod
    def _check_question(cls, value: str) -> str:
        return check_key(value)


class HeadingItem(_Model):
    """A heading: full width, on a row of its own."""

    heading: NonBlank = Field(description="The heading's text.")


class TextItem(_Model):
    """A text card (Markdown)."""

    text: NonBlank = Field(description="The text, in Markdown.")
    size: Size | None = Field(
        None, description="The card's size: " + _SIZE_DESCRIPTION + " Absent: full width, 2 "
        "rows high (24x2).",
    )


_ITEM_KINDS = ("question", "heading", "text")
#: Union tags pydantic inserts in error locations right after a dashboard item's index.
ITEM_TAGS = frozenset({"QuestionItem", "HeadingItem", "TextItem"})
_ITEM_EXAMPLE = "a question key, {question: key, size: ...}, {heading: ...} or {text: ...}"


def _item_shape(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, str):
        return {"question": value}
    if not isinstance(value, dict):
        raise _error(f"expected {_ITEM_EXAMPLE}, got {_type_name(value)}")
    kinds = [kind for kind in _ITEM_KINDS if kind in value]
    if len(kinds) > 1:
        raise _error(f"give one of question, heading or text, not {' and '.join(kinds)}")
    if not kinds:
        for key in value:
            if key not in (*_ITEM_KINDS, "size"):
                raise _error(f"unknown field {key!r}{suggest(key, (*_ITEM_KINDS, 'size'))}",
                             str(key))
        raise _error(f"missing 'question', 'heading' or 'text': expected {_ITEM_EXAMPLE}")
    if kinds == ["heading"] and "size" in value:
        raise _error("a heading takes no size: headings are always full width, on a row of "
                     "their own", "size")
    return value


def _item_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        kind = next(k for k in _ITEM_KINDS if k in value)
        return {"question": "QuestionItem", "heading": "HeadingItem", "text": "TextItem"}[kind]
    return None  # pragma: no cover - _item_shape rejects it first


DashboardItem = Annotated[
    Union[
        Annotated[QuestionItem, Tag("QuestionItem")],
        Annotated[HeadingItem, Tag("HeadingItem")],
        Annotated[TextItem, Tag("TextItem")],
    ],
    Discriminator(_item_tag),
    BeforeValidator(_item_shape),
]
"""One item of a dashboard: a question (a bare key in YAML), a heading or a text card."""


def _whole_hour(value: str) -> str:
    try:
        hour, minute = _schedule.parse_time(value)
    except ValueError as exc:
        raise _error(str(exc)) from None
    if minute:
        raise _error(
            f"subscriptions send at whole hours: {value!r} has minutes, and Metabase's "
            f"dashboard subscriptions have an hour only; use {_schedule.format_time(hour, 0)!r}"
        )
    return _schedule.format_time(hour, 0)


WholeHour = Annotated[
    str,
    AfterValidator(_whole_hour),
    Field(json_schema_extra={"pattern": r"^([01]?[0-9]|2[0-3]):00$"}),
]
_WHOLE_HOUR = "Whole hour, HH:00 (24-hour), in the Metabase report timezone."
#: Monthly ``on`` values of a subscription, and Metabase's ``schedule_frame`` for each.
SUBSCRIPTION_MONTH_DAYS = {"first": "first", "15th": "mid", "last": "last"}


class SubscriptionHourlySchedule(_Model):
    """Every hour, on the hour."""

    every: Literal["hour"] = Field(description="`hour`: send every hour.")
    minute: int = Field(
        0, description="Only 0: subscriptions send on the hour.", json_schema_extra={"const": 0}
    )

    @field_validator("minute")
    @classmethod
    def _check_minute(cls, value: int) -> int:
        if value != 0:
            raise _error(f"subscriptions send at whole hours: minute {value} is not 0, and "
                         "Metabase's hourly dashboard subscriptions send on the hour; drop "
                         "'minute'")
        return value


class SubscriptionDailySchedule(_Model):
    """Every day at a whole hour."""

    every: Literal["day"] = Field(description="`day`: send every day.")
    at: WholeHour = Field(description=_WHOLE_HOUR)


class SubscriptionWeeklySchedule(_Model):
    """Every week on a day at a whole hour."""

    every: Literal["week"] = Field(description="`week`: send once a week.")
    on: Weekday = Field(description="Day of the week, `monday` to `sunday`.")
    at: WholeHour = Field(description=_WHOLE_HOUR)


class SubscriptionMonthlySchedule(_Model):
    """Every month on the first, the 15th or the last day, at a whole hour."""

    every: Literal["month"] = Field(description="`month`: send once a month.")
    on: Literal["first", "15th", "last"] = Field(
        description="Day of the month: `first`, `15th` or `last` (the only days Metabase's "
        "subscriptions offer)."
    )
    at: WholeHour = Field(description=_WHOLE_HOUR)

    @field_validator("on", mode="before")
    @classmethod
    def _check_on(cls, value: Any) -> Any:
        if value in SUBSCRIPTION_MONTH_DAYS or not isinstance(value, str):
            return value
        raise _error(f"dashboard subscriptions send monthly on the first, the 15th or the last "
                     f"day only (Metabase's schedule_frame); got {value!r}: use first, 15th or "
                     "last")


def _subscription_schedule_shape(value: Any) -> Any:
    return _check_schedule_shape(value, cron=False)


SubscriptionSchedule = Annotated[
    Union[
        Annotated[SubscriptionHourlySchedule, Tag("hour")],
        Annotated[SubscriptionDailySchedule, Tag("day")],
        Annotated[SubscriptionWeeklySchedule, Tag("week")],
        Annotated[SubscriptionMonthlySchedule, Tag("month")],
    ],
    Discriminator(_schedule_tag),
    BeforeValidator(_subscription_schedule_shape),
]
"""A subscription schedule: hourly, daily, weekly or monthly, at whole hours (no cron)."""


class Subscription(_Model):
    """A dashboard subscription: Metabase sends the whole dashboard on a schedule."""

    schedule: SubscriptionSchedule = Field(
        description="When Metabase sends the dashboard: `{every: hour}`, `{every: day, at}`, "
        "`{every: week, on: monday..sunday, at}` or `{every: month, on: first|15th|last, at}`, "
        "at whole hours (`at: \"08:00\"`), in the Metabase report timezone.",
    )
    email: Annotated[list[Email], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Email addresses: Metabase users by their address, others as raw addresses. "
        "All of them are one Metabase subscription.",
    )
    slack: Annotated[list[SlackChannel], AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Slack channels (`#ml-alerts`) or users (`@ada`); each is a Metabase "
        "subscription of its own.",
    )
    skip_if_empty: bool = Field(
        False, description="Do not send when every question of the dashboard has no result."
    )

    @model_validator(mode="after")
    def _check_recipient(self) -> Subscription:
        if not (self.email or self.slack):
            raise _error("subscription has no recipient: give at least one of email, slack")
        return self


class Dashboard(_Model):
    """A dashboard of health-check questions, laid out by metabase-guard, and its subscriptions."""

    key: str = Field(
        description="Stable identity: a lowercase slug (`a-z`, `0-9`, single `-`), at most 64 "
        "characters, unique among the dashboards of all files. Renaming or moving the "
        "dashboard keeps it.",
        json_schema_extra={"pattern": KEY_PATTERN, "maxLength": 64},
    )
    name: NonBlank = Field(max_length=254, description="The dashboard's name in Metabase.")
    description: str | None = Field(None, description="The dashboard's description.")
    collection: str | None = Field(
        None,
        description="Collection path, `/`-separated, under the configured default collection, "
        "as for questions. Absent: the default collection itself.",
    )
    width: Literal["fixed", "full"] | None = Field(
        None,
        description="`fixed` or `full` width in Metabase. Absent: not managed (Metabase makes "
        "new dashboards `fixed`).",
    )
    cards: list[DashboardItem] = Field(
        default_factory=list,
        description="The dashboard's items in reading order: question keys, "
        "`{question: key, size}`, `{heading: text}` and `{text: markdown, size?}`. "
        "metabase-guard lays them out on Metabase's 24-column grid.",
        json_schema_extra=lambda schema: _allow_bare_keys(schema),
    )
    subscriptions: list[Subscription] = Field(
        default_factory=list, description="Dashboard subscriptions: e-mail and Slack sends."
    )

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        return check_key(value)

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str | None) -> str | None:
        return _check_collection_path(value)

    @property
    def collection_path(self) -> tuple[str, ...]:
        """The collection path as segments; empty for the default collection."""
        return tuple(self.collection.split("/")) if self.collection else ()

    @property
    def questions(self) -> list[str]:
        """The keys of the questions on the dashboard, in reading order."""
        return [item.question for item in self.cards if isinstance(item, QuestionItem)]


def _allow_bare_keys(schema: dict[str, Any]) -> None:
    # The model turns a bare string into {question: <it>}; editors should accept it too.
    schema["items"]["oneOf"].insert(0, {
        "type": "string", "pattern": KEY_PATTERN, "maxLength": 64, "title": "Question key",
        "description": "The key of a question declared in this project.",
    })


def dashboard_problems(dashboard: Dashboard) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field problems of a valid dashboard, as ``(path within the dashboard, message)``.

    - the same question twice on the dashboard (each card is on it at most once, so that a
      dashcard stands for one declared item);
    - a subscription on a dashboard without any question (Metabase refuses a subscription
      without cards);
    - two subscriptions sending to the same recipient at the same schedule.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    first: dict[str, int] = {}
    for index, item in enumerate(dashboard.cards):
        if isinstance(item, QuestionItem):
            if item.question in first:
                problems.append(((("cards", index)), f"question {item.question!r} is already "
                                 f"on this dashboard, at cards[{first[item.question]}]: a "
                                 "question can be on a dashboard once"))
            first.setdefault(item.question, index)
    if dashboard.subscriptions and not first:
        problems.append((("subscriptions",), "a subscription sends the dashboard's questions, "
                         "but the dashboard has none: Metabase refuses a subscription without "
                         "cards"))
    sends: dict[tuple[str, str], str] = {}
    for s, sub in enumerate(dashboard.subscriptions):
        when = _schedule.to_cron(sub.schedule)
        targets = [("email", i, address.lower()) for i, address in enumerate(sub.email)]
        targets += [("slack", i, channel) for i, channel in enumerate(sub.slack)]
        for kind, i, target in targets:
            seen = sends.setdefault((when, target), f"subscriptions[{s}]")
            if seen != f"subscriptions[{s}]":
                problems.append((("subscriptions", s, kind, i), f"{target!r} already gets "
                                 f"this dashboard at the same time from {seen}"))
    return problems


class DeclarationFile(_Model):
    """One declaration file: health-check questions, dashboards and offline alert tests."""

    model_config = ConfigDict(title="metabase-guard declarations")

    questions: list[Question] = Field(
        default_factory=list, description="Health-check questions declared in this file."
    )
    dashboards: list[Dashboard] = Field(
        default_factory=list, description="Dashboards of the questions, and their subscriptions."
    )
    tests: list[Any] = Field(
        default_factory=list,
        description="Offline alert tests: result rows and the alerts expected to fire.",
    )


def _type_name(value: Any) -> str:
    if value is None:
        return "an empty value"
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    return names.get(type(value), type(value).__name__)


def semantic_problems(question: Question) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field problems of a valid question, as ``(path within the question, message)``.

    - a goal condition on a question without ``goal``;
    - a goal condition on a display that carries no goal (only line, bar, area, progress do).
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, alert in enumerate(question.alerts):
        if alert.when in GOAL_CONDITIONS:
            if question.goal is None:
                problems.append(
                    (
                        ("alerts", index, "when"),
                        f"'{alert.when}' compares the result with the question's goal, but the "
                        "question has no goal: add goal: {value: ...} or use when: has_rows",
                    )
                )
            if question.display not in GOAL_DISPLAYS:
                problems.append(
                    (
                        ("alerts", index, "when"),
                        f"'{alert.when}' needs a display that carries a goal (line, bar, area or "
                        f"progress); display '{question.display}' has none, so Metabase could not "
                        "evaluate the alert",
                    )
                )
    return problems
