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
    "metabase_guard.spec.layout": ("Placement", "layout"),
    "metabase_guard.spec.loader": ("Declarations", "Location", "discover", "json_schema",
                                   "load_declarations", "load_text"),
    "metabase_guard.spec.models": ("Alert", "Dashboard", "DashboardItem", "DeclarationFile",
                                   "Goal", "HeadingItem", "Question", "QuestionItem", "Schedule",
                                   "Subscription", "TextItem", "semantic_problems"),
    "metabase_guard.spec.schedule": ("canonical_cron", "describe", "pulse_schedule",
                                     "schedule_from_cron", "schedule_from_pulse", "to_cron"),
}, __all__)
