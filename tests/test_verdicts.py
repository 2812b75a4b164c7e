"""Whole verdicts: every field of what ``evaluate`` says, for each branch of Metabase's rules.

``check`` and ``test`` print the reason and act on ``sends``, ``can_fire`` and ``error``; a
verdict right in one field and wrong in another (a goal dropped, ``None`` for ``False``) is a
wrong answer, so each case compares the whole verdict. The rules are metabase/metabase's
src/metabase/notification/payload/impl/card.clj (skip-reason, goal-met?),
src/metabase/notification/payload/execute.clj (is-card-empty?) and
src/metabase/util/ui_logic.clj (the goal column), as cited in metabase_guard/evaluation.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from metabase_guard.evaluation import QueryResult, Verdict, evaluate, goal_column

UNABLE = "Metabase fails the run with 'Unable to compare results to goal'"
NO_GOAL_DISPLAY = ("Metabase reads graph.goal_value only for line, bar and area and "
                   "progress.goal for progress")
THROWS = "Metabase's comparison throws on the first row and the run fails"
TYPES = ["type/DateTime", "type/Integer"]


def result(rows: list[list[Any]], columns: tuple[str, ...] = ("week", "n"),
           types: list[str | None] | None = None) -> QueryResult:
    return QueryResult(list(columns), rows, TYPES if types is None else types)


LINE_10 = {"graph.goal_value": 10}
LABEL = {"graph.goal_value": 10, "graph.metrics": ["label"]}
TEXT_TYPES: list[str | None] = ["type/DateTime", "type/Text"]

CASES: list[tuple[str, str, dict[str, Any], QueryResult, bool, Verdict]] = [
    # has_result
    ("table", "has_result", {}, result([]), True,
     Verdict(False, True, "result is empty", None, None, None)),
    ("table", "has_result", {}, result([[None]], ("n",), [None]), True,
     Verdict(False, True, "result is a single null value, which Metabase counts as empty",
             None, None, None)),
    ("table", "has_result", {}, result([["w", 1]] * 1234), True,
     Verdict(True, True, "result has 1,234 rows", None, None, None)),
    ("table", "has_result", {}, result([["w", 1]]), True,
     Verdict(True, True, "result has 1 row", None, None, None)),
    # a goal where Metabase reads none, or none set
    ("table", "goal_above", LINE_10, result([["w", 50]]), True,
     Verdict(False, False, f"display table carries no goal: {NO_GOAL_DISPLAY}", None, None,
             None, error=True)),
    ("line", "goal_above", {}, result([["w", 50]]), True,
     Verdict(False, False, f"line card has no graph.goal_value: {UNABLE}", None, None, "n",
             error=True)),
    ("line", "goal_above", {"graph.goal_value": False}, result([["w", 50]]), True,
     Verdict(False, False, f"line card has no graph.goal_value: {UNABLE}", None, None, "n",
             error=True)),
    ("line", "goal_above", {"graph.goal_value": True}, result([["w", 50]]), True,
     Verdict(False, False, f"graph.goal_value True is not a number: {THROWS}", 50.0, None, "n",
             error=True)),
    ("progress", "goal_above", {}, result([[5]], ("n",), ["type/Integer"]), False,
     Verdict(False, False, f"progress card has no progress.goal: {UNABLE}", None, None, "n",
             error=True)),
    ("progress", "goal_above", {"progress.goal": "target"},
     result([], ("done", "target"), ["type/Integer", "type/Integer"]), True,
     Verdict(False, False, "progress.goal names column 'target' but the result has no row to "
             f"read: {UNABLE}", None, None, "done", error=True)),
    ("progress", "goal_above", {"progress.goal": "abc"}, result([[5]], ("n",), [None]), False,
     Verdict(False, False, f"progress.goal 'abc' is not a number: {THROWS}", 5.0, None, "n",
             error=True)),
    # no column to compare
    ("line", "goal_above", LINE_10, result([["w", "x"]], types=TEXT_TYPES), True,
     Verdict(False, False, "no column to compare with the goal among 2 column(s) week, n: name "
             f"one in graph.metrics; {UNABLE}", None, 10.0, None, error=True)),
    ("line", "goal_above", LINE_10, QueryResult([], [], []), True,
     Verdict(False, False, "no column to compare with the goal among 0 column(s) (none): name "
             f"one in graph.metrics; {UNABLE}", None, 10.0, None, error=True)),
    # an empty result: goal-met? is `some` over no rows
    ("line", "goal_above", LINE_10, result([]), True,
     Verdict(False, True, "result is empty: no row to compare with the goal 10", None, 10.0,
             "n")),
    ("line", "goal_below", {"graph.goal_value": "abc"}, result([]), True,
     Verdict(False, False, "graph.goal_value 'abc' is not a number: Metabase cannot compare it "
             "with rows; result is empty: no row to compare with the goal", None, None, "n")),
    ("bar", "goal_above", LABEL, result([], ("week", "label"), TEXT_TYPES), True,
     Verdict(False, False, "column label is not numeric (type/Text): Metabase cannot compare it "
             "with rows; result is empty: no row to compare with the goal", None, 10.0,
             "label")),
    # rows that cannot be compared
    ("bar", "goal_above", LABEL, result([["w", "x"]], ("week", "label"), TEXT_TYPES), True,
     Verdict(False, False, f"column label is not numeric (type/Text): {THROWS}", None, 10.0,
             "label", error=True)),
    ("line", "goal_above", {"graph.goal_value": "abc"}, result([["w", 7]]), True,
     Verdict(False, False, f"graph.goal_value 'abc' is not a number: {THROWS}", 7.0, None, "n",
             error=True)),
    # the scan: first crossing decides; a null or non-number before it throws
    ("line", "goal_above", LINE_10, result([["a", 2], ["b", 12], ["c", 30]]), True,
     Verdict(True, True, "2 of 3 rows are at or above the goal 10 (n = 12 on row 2)", 12.0,
             10.0, "n", 2)),
    ("area", "goal_below", LINE_10, result([["a", 12], ["b", 3]]), True,
     Verdict(True, True, "1 of 2 rows is below the goal 10 (n = 3 on row 2)", 3.0, 10.0, "n",
             1)),
    ("line", "goal_above", LINE_10, result([["a", None], ["b", 12], ["c", 13]]), True,
     Verdict(False, True, "row 1 has null in n, reached before any row at or above the goal 10: "
             "Metabase's comparison throws and the run fails", None, 10.0, "n", 2, error=True)),
    ("line", "goal_above", LINE_10, result([["a", "n/a"], ["b", 12]], types=[None, None]), True,
     Verdict(False, True, "row 1 has non-numeric 'n/a' in n, reached before any row at or above "
             "the goal 10: Metabase's comparison throws and the run fails", None, 10.0, "n", 1,
             error=True)),
    ("line", "goal_above", LINE_10, result([["a", 1], ["b"]]), True,
     Verdict(False, True, "row 2 has null in n, reached before any row at or above the goal 10: "
             "Metabase's comparison throws and the run fails", None, 10.0, "n", 0, error=True)),
    ("line", "goal_above", LINE_10, result([["a", 1], ["b", 2.5]]), True,
     Verdict(False, True, "none of 2 rows is at or above the goal 10 (last: n = 2.5 on row 2)",
             2.5, 10.0, "n")),
]


@pytest.mark.parametrize(("display", "condition", "settings", "rows", "columns_goal",
                          "verdict"), CASES)
def test_the_whole_verdict(display: str, condition: str, settings: dict[str, Any],
                           rows: QueryResult, columns_goal: bool, verdict: Verdict) -> None:
    assert evaluate(display, settings, condition, rows,
                    progress_goal_columns=columns_goal) == verdict


def test_an_archived_card_never_sends_and_cannot_fire() -> None:
    for condition in ("has_result", "goal_above"):
        assert evaluate("line", LINE_10, condition, result([["w", 50]]), archived=True) == \
            Verdict(False, False, "card is archived", None, None, None)


def test_an_unknown_condition_names_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        evaluate("line", LINE_10, "goal_sideways", result([]))
    assert str(info.value) == ("unknown send_condition 'goal_sideways': expected one of "
                               "goal_above, goal_below, has_result")


def test_the_goal_column_edge_cases() -> None:
    # graph.metrics as a bare string is not a list of names: the default rule decides
    assert goal_column("line", {"graph.metrics": "n"}, ["n", "a"]) == "a"
    # a missing base type at the end counts as numeric (unknown)
    assert goal_column("line", {}, ["week", "n"], ["type/DateTime"]) == "n"
    # progress on no columns: column 0 does not exist
    assert goal_column("progress", {}, [], progress_goal_columns=False) is None
    assert goal_column("progress", {}, []) is None
