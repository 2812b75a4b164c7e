"""Declarations: YAML questions, goals, alerts and dashboards; models, schedules, layout."""

from typing import TYPE_CHECKING

from metabase_guard import _lazy

if TYPE_CHECKING:
    from metabase_guard.spec.layout import Placement, layout
    from metabase_guard.spec.loader import (
        Declarations,
        Location,
        discover,
        json_schema,
        load_declarations,
        load_text,
    )
    from metabase_guard.spec.models import (
        Alert,
        Dashboard,
        DashboardItem,
        DeclarationFile,
        Goal,
        HeadingItem,
        Question,
        QuestionItem,
        Schedule,
        Subscription,
        TextItem,
        semantic_problems,
    )
    from metabase_guard.spec.schedule import (
        canonical_cron,
        describe,
        pulse_schedule,
        schedule_from_cron,
        schedule_from_pulse,
        to_cron,
    )

__all__ = [
    "Alert",
    "Dashboard",
    "DashboardItem",
    "DeclarationFile",
    "Declarations",
    "Goal",
    "HeadingItem",
    "Location",
    "Placement",
    "Question",
    "QuestionItem",
    "Schedule",
    "Subscription",
    "TextItem",
    "canonical_cron",
    "describe",
    "discover",
    "json_schema",
    "layout",
    "load_declarations",
    "load_text",
    "pulse_schedule",
    "schedule_from_cron",
    "schedule_from_pulse",
    "semantic_problems",
    "to_cron",
]

__getattr__, __dir__ = _lazy.exports(__name__, {
    "Placement": "metabase_guard.spec.layout",
    "layout": "metabase_guard.spec.layout",
    "Declarations": "metabase_guard.spec.loader",
    "Location": "metabase_guard.spec.loader",
    "discover": "metabase_guard.spec.loader",
    "json_schema": "metabase_guard.spec.loader",
    "load_declarations": "metabase_guard.spec.loader",
    "load_text": "metabase_guard.spec.loader",
    "Alert": "metabase_guard.spec.models",
    "Dashboard": "metabase_guard.spec.models",
    "DashboardItem": "metabase_guard.spec.models",
    "DeclarationFile": "metabase_guard.spec.models",
    "Goal": "metabase_guard.spec.models",
    "HeadingItem": "metabase_guard.spec.models",
    "Question": "metabase_guard.spec.models",
    "QuestionItem": "metabase_guard.spec.models",
    "Schedule": "metabase_guard.spec.models",
    "Subscription": "metabase_guard.spec.models",
    "TextItem": "metabase_guard.spec.models",
    "semantic_problems": "metabase_guard.spec.models",
    "canonical_cron": "metabase_guard.spec.schedule",
    "describe": "metabase_guard.spec.schedule",
    "pulse_schedule": "metabase_guard.spec.schedule",
    "schedule_from_cron": "metabase_guard.spec.schedule",
    "schedule_from_pulse": "metabase_guard.spec.schedule",
    "to_cron": "metabase_guard.spec.schedule",
}, __all__)
