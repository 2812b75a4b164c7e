"""Declarations: YAML health-check questions, goals and alerts, their models and schedules."""

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
    DeclarationFile,
    Goal,
    Question,
    Schedule,
    semantic_problems,
)
from metabase_guard.spec.schedule import canonical_cron, describe, schedule_from_cron, to_cron

__all__ = [
    "Alert",
    "DeclarationFile",
    "Declarations",
    "Goal",
    "Location",
    "Question",
    "Schedule",
    "canonical_cron",
    "describe",
    "discover",
    "json_schema",
    "load_declarations",
    "load_text",
    "schedule_from_cron",
    "semantic_problems",
    "to_cron",
]
