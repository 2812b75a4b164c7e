"""The JSON Schema and the models behind it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from metabase_guard.spec import json_schema
from metabase_guard.spec.models import (
    DISPLAYS,
    Alert,
    DeclarationFile,
    Goal,
    Question,
    WeeklySchedule,
    semantic_problems,
)


def properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every property of every object in the schema, as 'Model.field'."""
    out: dict[str, dict[str, Any]] = {}
    for name, definition in [("DeclarationFile", schema), *schema["$defs"].items()]:
        for field, spec in definition.get("properties", {}).items():
            out[f"{name}.{field}"] = spec
    return out


def test_schema_header() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "metabase-guard declarations"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"questions", "dashboards", "tests", "moved"}


def test_schema_has_every_field_with_a_description() -> None:
    props = properties(json_schema())
    expected = {
        "DeclarationFile": {"questions", "dashboards", "tests", "moved"},
        "Question": {
            "key",
            "allow_empty",
            "name",
            "description",
            "collection",
            "database",
            "sql",
            "display",
            "metric",
            "dimension",
            "goal",
            "alerts",
        },
        "Goal": {"value", "label"},
        "Alert": {"when", "schedule", "once", "email", "groups", "slack", "webhook"},
        "HourlySchedule": {"every", "minute"},
        "DailySchedule": {"every", "at"},
        "WeeklySchedule": {"every", "on", "at"},
        "MonthlySchedule": {"every", "on", "at"},
        "CronSchedule": {"cron"},
        "Dashboard": {"key", "name", "description", "collection", "width", "cards",
                      "subscriptions"},
        "QuestionItem": {"question", "size"},
        "HeadingItem": {"heading"},
        "TextItem": {"text", "size"},
        "Subscription": {"schedule", "email", "slack", "skip_if_empty"},
        "SubscriptionHourlySchedule": {"every", "minute"},
        "SubscriptionDailySchedule": {"every", "at"},
        "SubscriptionWeeklySchedule": {"every", "on", "at"},
        "SubscriptionMonthlySchedule": {"every", "on", "at"},
    }
    assert {f"{m}.{f}" for m, fs in expected.items() for f in fs} == set(props)
    undocumented = [name for name, spec in props.items() if not spec.get("description")]
    assert undocumented == []


def test_schema_carries_the_constraints() -> None:
    schema = json_schema()
    props = properties(schema)
    assert props["Question.key"]["pattern"] == "^[a-z0-9]+(?:-[a-z0-9]+)*$"
    assert props["Question.key"]["maxLength"] == 64
    assert props["Question.display"]["enum"] == list(DISPLAYS)
    assert props["Question.display"]["default"] == "table"
    assert props["Alert.when"]["enum"] == ["below_goal", "above_goal", "has_rows"]
    assert props["WeeklySchedule.on"]["enum"][0] == "monday"
    assert "pattern" in props["DailySchedule.at"]
    assert props["Goal.label"]["default"] == "Goal"
    assert set(schema["$defs"]["Question"]["required"]) == {"key", "name", "database", "sql"}
    assert set(schema["$defs"]["Alert"]["required"]) == {"when", "schedule"}
    assert len(props["Alert.schedule"]["oneOf"]) == 5


def test_models_are_frozen_and_strict() -> None:
    goal = Goal(value=1)
    with pytest.raises(ValidationError):
        goal.value = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Goal(value="1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Goal(value=1, colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DeclarationFile.model_validate({"questions": [], "other": 1})


def test_alert_needs_a_recipient_even_when_built_in_python() -> None:
    schedule = WeeklySchedule(every="week", on="monday", at="09:00")
    with pytest.raises(ValidationError, match="no recipient"):
        Alert(when="has_rows", schedule=schedule)
    assert Alert(when="has_rows", schedule=schedule, groups=["Data team"]).has_recipient


def test_semantic_problems_are_listed_not_raised() -> None:
    question = Question.model_validate(
        {
            "key": "k",
            "name": "n",
            "database": "d",
            "sql": "s",
            "display": "table",
            "alerts": [
                {"when": "below_goal", "schedule": {"cron": "0 0 9 * * ?"}, "webhook": ["p"]},
                {"when": "has_rows", "schedule": {"every": "hour"}, "webhook": ["p"]},
            ],
        }
    )
    problems = semantic_problems(question)
    assert [path for path, _ in problems] == [("alerts", 0, "when"), ("alerts", 0, "when")]
    assert "no goal" in problems[0][1] and "display 'table'" in problems[1][1]


def test_schema_of_dashboards_carries_the_constraints() -> None:
    schema = json_schema()
    props = properties(schema)
    items = props["Dashboard.cards"]["items"]["oneOf"]
    # a bare question key is an item, as the loader reads it
    assert items[0] == {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$",
                        "maxLength": 64, "title": "Question key",
                        "description": "The key of a question declared in this project."}
    assert [i.get("$ref") for i in items[1:]] == [
        "#/$defs/QuestionItem", "#/$defs/HeadingItem", "#/$defs/TextItem"]
    size = props["QuestionItem.size"]["anyOf"]
    assert size[0]["enum"] == ["small", "medium", "wide", "full"]
    width, height = size[1]["prefixItems"]
    assert (width["minimum"], width["maximum"]) == (1, 24)
    assert (height["minimum"], height["maximum"]) == (1, 48)
    assert props["Dashboard.width"]["anyOf"][0]["enum"] == ["fixed", "full"]
    assert props["SubscriptionDailySchedule.at"]["pattern"] == r"^([01]?[0-9]|2[0-3]):00$"
    assert props["SubscriptionHourlySchedule.minute"]["const"] == 0
    assert props["SubscriptionMonthlySchedule.on"]["enum"] == ["first", "15th", "last"]
    # four forms, no cron
    assert len(props["Subscription.schedule"]["oneOf"]) == 4
    assert set(schema["$defs"]["Dashboard"]["required"]) == {"key", "name"}
    assert set(schema["$defs"]["Subscription"]["required"]) == {"schedule"}
