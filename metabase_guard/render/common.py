"""Formatting shared by the plan renderers."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from metabase_guard.reconcile.alerts import schedule_words
from metabase_guard.reconcile.plan import Change

__all__ = ["SUMMARISED", "apply_summary", "fmt_field", "fmt_value", "past_tense", "shown",
           "sql_diff"]

_PULSE_WORDS = ("hourly", "daily", "weekly", "monthly")
#: values a one-line ``Change.summary`` already says, so the block does not repeat them
SUMMARISED = frozenset({"channel", "schedule", "recipients", "enabled"})

# Beyond this a float's integer digits are noise: 1e308 is not printed as 309 digits.
_LARGEST_EXACT = 1e15
# A list longer than this on one line is shown one item per line.
_LIST_WIDTH = 80


def fmt_value(value: Any) -> str:
    """A value as plan output shows it: numbers with separators, strings quoted, lists."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < _LARGEST_EXACT:
        return f"{int(value):,}"
    if isinstance(value, (int, float)):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        items = [fmt_value(v) for v in value]
        line = "[" + ", ".join(items) + "]"
        if len(line) <= _LIST_WIDTH or any("\n" in item for item in items):
            return line
        # a dashboard's items in reading order read better one per line
        return "[\n" + ",\n".join(f"  {item}" for item in items) + ",\n]"
    text = str(value)
    if "\n" in text:
        return "<<EOT\n" + text + "\nEOT"
    return json.dumps(text, ensure_ascii=False)


def fmt_field(name: str, value: Any, timezone: str) -> str:
    """A field's value, with schedules in words in the report timezone."""
    if name == "schedule" and isinstance(value, str) and value:
        if value.startswith(_PULSE_WORDS):
            return fmt_value(value)  # a subscription's schedule is words already
        return f"{json.dumps(schedule_words(value, timezone))} ({value})"
    if name == "collection" and value == "":
        return "(root collection)"
    return fmt_value(value)


def sql_diff(old: str, new: str, *, context: int = 2) -> list[str]:
    """A SQL change line by line, indentation kept.

    Lines start with ``- ``, ``+ `` or two spaces (context); ``...`` separates distant hunks.
    """
    out: list[str] = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context)
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if out:
                out.append("...")
            continue
        out.append(f"{line[:1] or ' '} {line[1:]}")
    return out


def shown(name: str, value: object) -> bool:
    """On creates and deletes, leave out what is empty or off: the block stays readable."""
    return name != "path" and value not in (None, False, (), [])


def apply_summary(done: Sequence[Change], requests: int | None = None) -> str:
    """``3 added, 1 changed, 0 destroyed (5 requests)``: the one wording of apply and demo."""
    counts = {"create": 0, "update": 0, "delete": 0}
    for change in done:
        counts[change.action] += 1
    text = (f"{counts['create']} added, {counts['update']} changed, {counts['delete']} "
            "destroyed")
    if requests is not None:
        text += f" ({requests} request{'' if requests == 1 else 's'})"
    return text


def past_tense(change: Change) -> str:
    """What a done change did, in the plan's words.

    A card or collection is archived and an alert deactivated, never "deleted": Metabase keeps
    both.
    """
    if change.action == "delete":
        return "deactivated" if change.kind == "alert" else "archived"
    return {"create": "created", "update": "updated"}[change.action]
