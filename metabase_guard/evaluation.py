"""Metabase's alert evaluation: when a card alert is delivered and when it is skipped.

The one place for these rules. The sandbox uses :func:`evaluate` to decide whether a send
happens; ``metabase-guard check`` and ``metabase-guard test`` use it to explain an alert.
Everything here is pure: no I/O, no clock.

Metabase sources read (``metabase/metabase``):

- ``src/metabase/notification/payload/impl/card.clj``: ``skip-reason`` (archived card first,
  then ``has_result`` skips an empty result, goal conditions skip when ``goal-met?`` is false,
  anything else throws "Unrecognized alert with condition") and ``goal-met?`` (``>=`` for
  ``goal_above``, ``<`` for ``goal_below``, ``some`` over the rows, and a throw "Unable to compare
  results to goal" when the goal value or the compared column is missing).
- ``src/metabase/notification/payload/execute.clj``: ``is-card-empty?`` (no result, a zero
  ``row_count``, or rows exactly equal to ``[[nil]]``).
- ``src/metabase/util/ui_logic.clj``: ``find-goal-value``, ``make-goal-comparison-rowfn``,
  ``default-goal-column-index`` (goal key per display, compared column).
- ``src/metabase/notification/send.clj``: ``send-notification-sync!`` renders and delivers only
  when the payload has no skip reason; an exception while building the payload or deciding is
  logged ("Failed to send") and rethrown, so nothing is delivered.

Two versions of ``ui_logic.clj`` are stored. The newer one (progress goals taken from a column,
documented by Metabase docs PR #63779, September 2025) changes only ``progress`` cards: a missing
or invalid ``progress.goal`` becomes 0, a string ``progress.goal`` names a column whose first-row
value is the goal, and the compared column falls back to ``progress.value`` and then the first
numeric column before column 0. ``progress_goal_columns=True`` (the default) follows the newer
source, ``False`` the older one (missing goal: no goal; column: ``graph.metrics`` else column 0).

Native results: Metabase's default column rule looks at each column's ``source``
(``aggregation``/``breakout``) and type. Native SQL columns are neither aggregations nor
breakouts, so every column counts as a dimension and every numeric column as a metric, and the
rule becomes positional (see :func:`goal_column`). ``graph.dimensions`` is never read server-side.
Numeric means a Metabase numeric ``base_type``; without base types it is inferred from the
values, and a column holding only nulls is assumed numeric (the database would still type it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeGuard

__all__ = [
    "GOAL_DISPLAYS",
    "SEND_CONDITIONS",
    "QueryResult",
    "SendCondition",
    "Verdict",
    "evaluate",
    "format_number",
    "goal_column",
    "goal_value",
    "is_empty",
]

SendCondition = Literal["has_result", "goal_above", "goal_below"]

SEND_CONDITIONS: frozenset[str] = frozenset({"has_result", "goal_above", "goal_below"})

# metabase/metabase src/metabase/util/ui_logic.clj, find-goal-value: `(:area :bar :line)` read
# graph.goal_value, `:progress` reads progress.goal, every other display yields nil.
GOAL_DISPLAYS: frozenset[str] = frozenset({"line", "bar", "area", "progress"})

_GRAPH_GOAL_KEY = "graph.goal_value"
_PROGRESS_GOAL_KEY = "progress.goal"

_NUMERIC_BASE_TYPES = frozenset(
    {"type/Number", "type/Integer", "type/BigInteger", "type/Float", "type/Decimal"}
)

_NO_GOAL_DISPLAY = (
    "Metabase reads graph.goal_value only for line, bar and area and progress.goal for progress"
)


@dataclass(frozen=True)
class QueryResult:
    """A query result as Metabase hands it to the alert code: column names and rows.

    ``base_types`` (optional, one Metabase ``base_type`` per column such as ``"type/Integer"``,
    None when unknown) decides which columns are numeric; without it numeric-ness is inferred
    from the values. An unknown type counts as numeric.
    """

    columns: list[str]
    rows: list[list[Any]]
    base_types: list[str | None] | None = None


@dataclass(frozen=True)
class Verdict:
    """What Metabase would do with one alert run over one result.

    ``sends``: Metabase would deliver now. ``can_fire``: False when the condition can never be
    evaluated for this card (no goal, no comparable column, a non-numeric column or goal...).
    ``reason``: one human sentence. ``value``: the deciding value (the first crossing row's,
    else the last row's). ``goal``: the goal compared against. ``column``: the compared column.
    ``crossing_rows``: numeric rows on the firing side of the goal. ``error``: Metabase's own
    evaluation throws on this result, so the run fails (logged, or a 500 from a manual send)
    instead of being skipped.
    """

    sends: bool
    can_fire: bool
    reason: str
    value: float | None
    goal: float | None
    column: str | None
    crossing_rows: int = 0
    error: bool = False


def format_number(value: float | int | Decimal) -> str:
    """Format a number for a reason sentence: thousands separators, no trailing ``.0``."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer():
            return f"{int(value):,}"
        text = repr(value)
        if "e" in text or "E" in text:
            return text
        whole, _, frac = text.partition(".")
        sign = "-" if whole.startswith("-") else ""
        return f"{sign}{int(whole.lstrip('-')):,}.{frac}"
    return f"{value:,}"


def _is_number(value: object) -> TypeGuard[int | float | Decimal]:
    # Clojure's numeric comparison accepts any java.lang.Number and throws on anything else
    # (ClassCastException for strings/booleans, NullPointerException for nil).
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _to_float(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _infer_base_type(values: Sequence[Any]) -> str | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "type/Integer"
    if all(_is_number(v) for v in present):
        return "type/Float"
    if all(isinstance(v, bool) for v in present):
        return "type/Boolean"
    if all(isinstance(v, str) for v in present):
        return "type/Text"
    return "type/*"


def _base_types(result: QueryResult) -> list[str | None]:
    if result.base_types is not None:
        return list(result.base_types)
    return [
        _infer_base_type([row[i] if i < len(row) else None for row in result.rows])
        for i in range(len(result.columns))
    ]


def _numeric_flags(columns: Sequence[str], base_types: Sequence[str | None] | None) -> list[bool]:
    if base_types is None:
        return [True] * len(columns)
    flags = [bt is None or bt in _NUMERIC_BASE_TYPES for bt in base_types]
    return (flags + [True] * len(columns))[: len(columns)]


def _name_index(name: Any, columns: Sequence[str]) -> int | None:
    # ui_logic.clj column-name->index: `.equalsIgnoreCase` on the names, first match wins.
    if not isinstance(name, str):
        return None
    wanted = name.casefold()
    for i, column in enumerate(columns):
        if column.casefold() == wanted:
            return i
    return None


def _default_index(display: str, numeric: Sequence[bool]) -> int | None:
    # ui_logic.clj default-goal-column-index, with native columns: every column is a dimension
    # (source is not :aggregation) and every numeric column is a metric (source is not
    # :breakout). The rule order matters: three columns hit DIMENSION_DIMENSION_METRIC first.
    count = len(numeric)
    if display == "progress":
        return 0
    if count == 3 and numeric[2]:
        return 2
    if count == 2 and numeric[1]:
        return 1
    if count >= 3 and all(numeric[1:]):
        return 1
    return None


def _column_index(
    display: str,
    visualization_settings: Mapping[str, Any],
    columns: Sequence[str],
    numeric: Sequence[bool],
    progress_goal_columns: bool,
) -> int | None:
    # ui_logic.clj make-goal-comparison-rowfn: the first graph.metrics name wins when it matches
    # a column; an unmatched name falls through to the default rather than failing.
    metrics = visualization_settings.get("graph.metrics")
    if isinstance(metrics, Sequence) and not isinstance(metrics, str) and metrics:
        index = _name_index(metrics[0], columns)
        if index is not None:
            return index
    if display == "progress" and progress_goal_columns:
        index = _name_index(visualization_settings.get("progress.value"), columns)
        if index is not None:
            return index
        for i, is_numeric in enumerate(numeric):
            if is_numeric:
                return i
    index = _default_index(display, numeric)
    if index is not None and index >= len(columns):
        return None
    return index


def goal_column(
    display: str,
    visualization_settings: Mapping[str, Any],
    columns: Sequence[str],
    base_types: Sequence[str | None] | None = None,
    *,
    progress_goal_columns: bool = True,
) -> str | None:
    """Return the column Metabase compares with the goal, or None when it finds none.

    The first name in ``graph.metrics`` (case-insensitive) when it matches a column; for
    ``progress`` (newer source) then ``progress.value`` and the first numeric column; else the
    default: progress → column 0; two columns with a numeric second → column 1; exactly three
    columns with a numeric third → column 2; three or more with every column after the first
    numeric → column 1; otherwise none. ``base_types`` are Metabase base types per column;
    None (or a None entry) means numeric.
    """
    numeric = _numeric_flags(columns, base_types)
    index = _column_index(display, visualization_settings, columns, numeric, progress_goal_columns)
    return None if index is None else columns[index]


def _progress_column_goal(name: str, result: QueryResult) -> float | None:
    # ui_logic.clj find-goal-value / extract-goal-value-from-column (newer source): an exact
    # (case-sensitive) name; a non-numeric or missing column gives 0; no rows gives nil.
    base_types = _base_types(result)
    if name not in result.columns:
        return 0.0
    index = result.columns.index(name)
    if not _numeric_flags(result.columns, base_types)[index]:
        return 0.0
    if not result.rows:
        return None
    first = result.rows[0]
    raw = first[index] if index < len(first) else None
    if raw == "Infinity":
        return math.inf
    number = _to_float(raw)
    return 0.0 if number is None else number


def goal_value(
    display: str,
    visualization_settings: Mapping[str, Any],
    result: QueryResult | None = None,
    *,
    progress_goal_columns: bool = True,
) -> float | None:
    """Return the numeric goal Metabase compares with, or None when there is none.

    ``graph.goal_value`` for line, bar and area; ``progress.goal`` for progress; nothing for any
    other display. ``graph.show_goal`` is not consulted. With ``progress_goal_columns`` (newer
    Metabase), a progress goal that is missing or invalid is 0 and a string names a column whose
    first-row value is the goal (needs ``result``). A non-numeric goal gives None.
    """
    if display in ("line", "bar", "area"):
        return _to_float(visualization_settings.get(_GRAPH_GOAL_KEY))
    if display != "progress":
        return None
    raw = visualization_settings.get(_PROGRESS_GOAL_KEY)
    if _is_number(raw):
        return float(raw)
    if not progress_goal_columns:
        return None
    if isinstance(raw, str):
        return None if result is None else _progress_column_goal(raw, result)
    return 0.0


def is_empty(result: QueryResult) -> bool:
    """Return True when Metabase counts the result as empty.

    No rows, or rows exactly ``[[None]]`` (one row holding one null: an aggregation over no
    rows). A single row of several nulls is *not* empty for Metabase.
    """
    # metabase/metabase src/metabase/notification/payload/execute.clj is-card-empty?:
    # `(zero? row_count)` or `(= [[nil]] rows)`.
    return not result.rows or result.rows == [[None]]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if _is_number(value):
        return format_number(value)
    return repr(value)


def _rows_word(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _verdict_has_result(result: QueryResult) -> Verdict:
    # card.clj skip-reason: has_result → :empty when is-card-empty?.
    if not result.rows:
        return Verdict(False, True, "result is empty", None, None, None)
    if is_empty(result):
        return Verdict(
            False,
            True,
            "result is a single null value, which Metabase counts as empty",
            None,
            None,
            None,
        )
    return Verdict(True, True, f"result has {_rows_word(len(result.rows))}", None, None, None)


def _verdict_goal(
    display: str,
    visualization_settings: Mapping[str, Any],
    condition: str,
    result: QueryResult,
    progress_goal_columns: bool,
) -> Verdict:
    above = condition == "goal_above"
    side = "at or above" if above else "below"
    if display not in GOAL_DISPLAYS:
        return Verdict(
            False,
            False,
            f"display {display} carries no goal: {_NO_GOAL_DISPLAY}",
            None,
            None,
            None,
            error=True,
        )
    key = _PROGRESS_GOAL_KEY if display == "progress" else _GRAPH_GOAL_KEY
    raw_goal = visualization_settings.get(key)
    goal = goal_value(
        display, visualization_settings, result, progress_goal_columns=progress_goal_columns
    )
    base_types = _base_types(result)
    numeric = _numeric_flags(result.columns, base_types)
    index = _column_index(
        display, visualization_settings, result.columns, numeric, progress_goal_columns
    )
    column = None if index is None else result.columns[index]

    # card.clj goal-met?: a nil/false goal or no column throws before any row is looked at,
    # even for an empty result. A truthy non-numeric goal only throws when compared.
    goal_is_truthy = goal is not None or (raw_goal is not None and raw_goal is not False)
    if display == "progress" and progress_goal_columns and isinstance(raw_goal, str):
        goal_is_truthy = goal is not None
    if not goal_is_truthy:
        if isinstance(raw_goal, str) and display == "progress":
            why = f"progress.goal names column {raw_goal!r} but the result has no row to read"
        else:
            why = f"{display} card has no {key}"
        return Verdict(
            False,
            False,
            f"{why}: Metabase fails the run with 'Unable to compare results to goal'",
            None,
            None,
            column,
            error=True,
        )
    if index is None:
        return Verdict(
            False,
            False,
            f"no column to compare with the goal among {len(result.columns)} column(s) "
            f"{', '.join(result.columns) or '(none)'}: name one in graph.metrics; Metabase fails "
            "the run with 'Unable to compare results to goal'",
            None,
            goal,
            None,
            error=True,
        )
    column_numeric = numeric[index]
    never = None
    if goal is None:
        never = f"{key} {raw_goal!r} is not a number"
    elif not column_numeric:
        never = f"column {column} is not numeric ({base_types[index]})"

    if not result.rows:
        # goal-met? is `some` over no rows: false, so the run is skipped as :goal-not-met.
        reason = "result is empty: no row to compare with the goal"
        if never is not None:
            reason = f"{never}: Metabase cannot compare it with rows; {reason}"
        elif goal is not None:
            reason = f"result is empty: no row to compare with the goal {format_number(goal)}"
        return Verdict(False, never is None, reason, None, goal, column)
    if never is not None or goal is None:
        return Verdict(
            False,
            False,
            f"{never}: Metabase's comparison throws on the first row and the run fails",
            _to_float(result.rows[0][index]),
            goal,
            column,
            error=True,
        )

    first_cross: tuple[int, Any] | None = None
    failure: tuple[int, Any] | None = None
    crossing = 0
    for number, row in enumerate(result.rows, start=1):
        value = row[index] if index < len(row) else None
        if not _is_number(value):
            if first_cross is None and failure is None:
                failure = (number, value)
            continue
        if (value >= goal) if above else (value < goal):
            crossing += 1
            if first_cross is None and failure is None:
                first_cross = (number, value)

    total = _rows_word(len(result.rows))
    goal_text = format_number(goal)
    if failure is not None:
        # `some` stops at the first crossing; a null or non-number reached before one throws.
        row_number, bad = failure
        kind = "null" if bad is None else f"non-numeric {_describe(bad)}"
        return Verdict(
            False,
            True,
            f"row {row_number:,} has {kind} in {column}, reached before any row {side} the goal "
            f"{goal_text}: Metabase's comparison throws and the run fails",
            None,
            goal,
            column,
            crossing,
            error=True,
        )
    if first_cross is not None:
        row_number, hit = first_cross
        verb = "is" if crossing == 1 else "are"
        return Verdict(
            True,
            True,
            f"{crossing:,} of {total} {verb} {side} the goal {goal_text} "
            f"({column} = {format_number(hit)} on row {row_number:,})",
            float(hit),
            goal,
            column,
            crossing,
        )
    last = result.rows[-1][index]
    return Verdict(
        False,
        True,
        f"none of {total} is {side} the goal {goal_text} "
        f"(last: {column} = {_describe(last)} on row {len(result.rows):,})",
        _to_float(last),
        goal,
        column,
    )


def evaluate(
    display: str,
    visualization_settings: Mapping[str, Any],
    send_condition: str,
    result: QueryResult,
    *,
    archived: bool = False,
    progress_goal_columns: bool = True,
) -> Verdict:
    """Decide whether Metabase would deliver a card alert for this result, and why.

    ``has_result`` sends unless the result is empty (:func:`is_empty`). ``goal_above`` sends
    when any row's compared value is ``>=`` the goal, ``goal_below`` when any is ``<`` it; rows
    are scanned in order and the first crossing decides, so a null or non-number met before a
    crossing makes Metabase throw (``error``). An archived card never sends. Raises
    ``ValueError`` for an unknown ``send_condition``.
    """
    if send_condition not in SEND_CONDITIONS:
        raise ValueError(
            f"unknown send_condition {send_condition!r}: expected one of "
            + ", ".join(sorted(SEND_CONDITIONS))
        )
    # card.clj skip-reason checks the archived flag before the condition.
    if archived:
        return Verdict(False, False, "card is archived", None, None, None)
    if send_condition == "has_result":
        return _verdict_has_result(result)
    return _verdict_goal(
        display, visualization_settings, send_condition, result, progress_goal_columns
    )
