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
    "SCHEDULE_TAGS",
    "Alert",
    "Condition",
    "CronSchedule",
    "DailySchedule",
    "DeclarationFile",
    "Display",
    "Goal",
    "HourlySchedule",
    "MonthlySchedule",
    "Question",
    "Schedule",
    "WeeklySchedule",
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
    if isinstance(value, BaseModel):
        return value
    example = "{every: day, at: '09:00'} or {cron: '0 0 9 * * ?'}"
    if not isinstance(value, dict):
        raise _error(f"expected a mapping such as {example}, got {_type_name(value)}")
    if "cron" in value and "every" in value:
        raise _error("give either 'every' or 'cron', not both")
    if "cron" in value:
        return value
    if "every" not in value:
        for key in value:
            if key not in _ALL_SCHEDULE_KEYS:
                raise _error(f"unknown field {key!r}{suggest(key, _ALL_SCHEDULE_KEYS)}", str(key))
        raise _error(f"missing 'every' (hour, day, week or month) or 'cron': expected {example}")
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

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if len(value) > 64:
            raise _error(f"key {value!r} is longer than 64 characters")
        if not _KEY.fullmatch(value):
            raise _error(
                f"invalid key {value!r}: use lowercase letters, digits and single '-' "
                "between them, as 'weekly-signups'"
            )
        return value

    @field_validator("collection")
    @classmethod
    def _check_collection(cls, value: str | None) -> str | None:
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

    @property
    def collection_path(self) -> tuple[str, ...]:
        """The collection path as segments; empty for the default collection."""
        return tuple(self.collection.split("/")) if self.collection else ()


class DeclarationFile(_Model):
    """One declaration file: health-check questions and offline alert tests."""

    model_config = ConfigDict(title="metabase-guard declarations")

    questions: list[Question] = Field(
        default_factory=list, description="Health-check questions declared in this file."
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
