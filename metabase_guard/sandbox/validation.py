"""Request-body validation producing Metabase's ``errors`` / ``specific-errors`` bodies.

metabase/metabase src/metabase/server/middleware/exceptions.clj and src/metabase/api/macros.clj:
a body that fails its malli schema is a 400 whose ``errors`` holds schema descriptions and
``specific-errors`` per-field lists of ``"<problem>, received: <value>"``, both nested like
the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from metabase_guard.sandbox.core import ApiFailure

MISSING: Any = object()

# The first major whose ``GET /api/pulse/form_input`` lists Slack options as
# ``{"displayName", "id"}`` objects (metabase/metabase src/metabase/pulse/api/pulse.clj,
# ``form_input``; PR #72223, merged to master 2026-04-09). The release that first ships it
# could not be pinned from the stored sources: 61 is inferred from the merge date, and a
# seed's ``slack_list`` selects either shape at any version. See docs/compatibility.md.
SLACK_OBJECT_LIST_SINCE = 61

NON_BLANK = "value must be a non-blank string."
MAP = "Value must be a map."
POSITIVE_INT = "value must be an integer greater than zero."
BOOLEAN = "value must be a boolean."
SEQUENCE = "value must be an array."


def received(value: Any) -> str:
    """Render a value the way Clojure's ``pr-str`` shows it in ``specific-errors``."""
    if value is MISSING or value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        inner = ", ".join(f":{k} {received(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + " ".join(received(v) for v in value) + "]"
    return json.dumps(value)


class Errors:
    """Collects field errors; :meth:`raise_if_any` turns them into the 400 Metabase sends."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}
        self.specific: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], description: str, specifics: Iterable[str]) -> None:
        """Record one field's problem at ``path`` (keys, or list indexes for list items)."""
        self.errors = _put(self.errors, list(path), description)
        self.specific = _put(self.specific, list(path), list(specifics))

    def raise_if_any(self) -> None:
        """Raise the 400 ``{"errors": ..., "specific-errors": ...}`` when anything was recorded."""
        if self.errors:
            raise ApiFailure(400, {"errors": self.errors, "specific-errors": self.specific})

    def __bool__(self) -> bool:
        return bool(self.errors)


def _put(tree: Any, path: list[str | int], value: Any) -> Any:
    """Set ``value`` at ``path``; list indexes pad with nulls like malli's humanized errors."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items: list[Any] = tree if isinstance(tree, list) else []
        while len(items) <= head:
            items.append(None)
        items[head] = _put(items[head], rest, value)
        return items
    mapping: dict[str, Any] = tree if isinstance(tree, dict) else {}
    mapping[head] = _put(mapping.get(head), rest, value)
    return mapping


Check = Callable[[Any], list[str] | None]


def check_non_blank(value: Any) -> list[str] | None:
    """``ms/NonBlankString``."""
    if isinstance(value, str) and value.strip():
        return None
    if not isinstance(value, str):
        return [
            f"should be a string, received: {received(value)}",
            f"non-blank string, received: {received(value)}",
        ]
    return [f"non-blank string, received: {received(value)}"]


def check_map(value: Any) -> list[str] | None:
    """``ms/Map``."""
    return None if isinstance(value, dict) else [f"invalid type, received: {received(value)}"]


def check_positive_int(value: Any) -> list[str] | None:
    """``ms/PositiveInt``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return None
    return [f"should be a positive int, received: {received(value)}"]


def check_bool(value: Any) -> list[str] | None:
    """``:boolean``."""
    return (
        None if isinstance(value, bool) else [f"should be a boolean, received: {received(value)}"]
    )


def check_list(value: Any) -> list[str] | None:
    """``[:sequential ...]``."""
    return None if isinstance(value, list) else [f"invalid type, received: {received(value)}"]


def check_enum(options: Sequence[str]) -> Check:
    """``[:enum ...]``."""

    def check(value: Any) -> list[str] | None:
        if isinstance(value, str) and value in options:
            return None
        return [f"should be either {', '.join(options)}, received: {received(value)}"]

    return check


DESCRIPTIONS: dict[Check, str] = {
    check_non_blank: NON_BLANK,
    check_map: MAP,
    check_positive_int: POSITIVE_INT,
    check_bool: BOOLEAN,
    check_list: SEQUENCE,
}


def field(
    errors: Errors,
    body: dict[str, Any],
    key: str,
    check: Check,
    *,
    required: bool = False,
    nullable: bool = True,
    path: Sequence[str | int] = (),
    description: str | None = None,
) -> None:
    """Validate ``body[key]``: required keys present and non-null, optional ones nullable."""
    value = body.get(key, MISSING)
    desc = description or DESCRIPTIONS.get(check, "invalid value")
    where: list[str | int] = [*path, key]
    if value is MISSING:
        if required:
            missing = ["missing required key, received: nil"]
            errors.add(where, desc, (check(None) or []) if check is check_non_blank else missing)
        return
    if value is None:
        if required or not nullable:
            errors.add(where, desc if required else f"nullable {desc}", check(None) or [])
        return
    found = check(value)
    if found:
        errors.add(where, desc if required else f"nullable {desc}", found)
