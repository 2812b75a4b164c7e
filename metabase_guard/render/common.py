"""Formatting shared by the plan renderers."""

from __future__ import annotations

import json
from typing import Any

from metabase_guard.reconcile.diff import schedule_words

__all__ = ["fmt_field", "fmt_value", "shown"]


def fmt_value(value: Any) -> str:
    """A value as plan output shows it: numbers with separators, strings quoted, lists."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt_value(v) for v in value) + "]"
    text = str(value)
    if "\n" in text:
        return "<<EOT\n" + text + "\nEOT"
    return json.dumps(text, ensure_ascii=False)


def fmt_field(name: str, value: Any, timezone: str) -> str:
    """A field's value, with schedules in words in the report timezone."""
    if name == "schedule" and isinstance(value, str) and value:
        return f"{json.dumps(schedule_words(value, timezone))} ({value})"
    return fmt_value(value)


def shown(name: str, value: object) -> bool:
    """On creates and deletes, leave out what is empty or off: the block stays readable."""
    return name != "path" and value not in (None, False, (), [])
