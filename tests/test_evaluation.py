from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from metabase_guard.evaluation import (
    GOAL_DISPLAYS,
    QueryResult,
    Verdict,
    evaluate,
    format_number,
    goal_column,
    goal_value,
    is_empty,
)

LINE = {"graph.goal_value": 2400, "graph.metrics": ["recommendations"]}


def weekly(*counts: Any) -> QueryResult:
    return QueryResult(
        columns=["week", "recommendations"],
        rows=[[f"2026-W{i:02d}", c] for i, c in enumerate(counts, start=1)],
    )


# --------------------------------------------------------------------------- has_result


def test_has_result_sends_on_rows() -> None:
    verdict = evaluate("table", {}, "has_result", weekly(5, 6))
    assert verdict.sends and verdict.can_fire
    assert verdict.reason == "result has 2 rows"


def test_has_result_skips_empty() -> None:
    verdict = evaluate("table", {}, "has_result", QueryResult(["n"], []))
    assert not verdict.sends
    assert verdict.can_fire
    assert verdict.reason == "result is empty"


def test_has_result_single_null_counts_as_empty() -> None:
    result = QueryResult(["total"], [[None]])
    assert is_empty(result)
    verdict = evaluate("scalar", {}, "has_result", result)
    assert not verdict.sends
    assert "single null" in verdict.reason


def test_single_row_of_several_nulls_is_not_empty() -> None:
    # execute.clj is-card-empty? compares with exactly [[nil]].
    result = QueryResult(["a", "b"], [[None, None]])
    assert not is_empty(result)
    assert evaluate("table", {}, "has_result", result).sends


def test_single_zero_is_not_empty() -> None:
    assert not is_empty(QueryResult(["count"], [[0]]))
    assert evaluate("scalar", {}, "has_result", QueryResult(["count"], [[0]])).sends


def test_archived_card_never_sends() -> None:
    verdict = evaluate("line", LINE, "has_result", weekly(1), archived=True)
    assert not verdict.sends
    assert verdict.reason == "card is archived"


def test_unknown_condition_raises() -> None:
    with pytest.raises(ValueError, match="goal_sideways"):
        evaluate("line", LINE, "goal_sideways", weekly(1))


# ------------------------------------------------------------------------------ goal_above


def test_goal_above_fires_on_equal_value() -> None:
    verdict = evaluate("line", LINE, "goal_above", weekly(2000, 2400))
    assert verdict.sends and verdict.can_fire
    assert verdict.value == 2400
    assert verdict.goal == 2400
    assert verdict.column == "recommendations"
    assert verdict.crossing_rows == 1
    assert verdict.reason == (
        "1 of 2 rows is at or above the goal 2,400 (recommendations = 2,400 on row 2)"
    )


def test_goal_above_does_not_fire_just_below() -> None:
    verdict = evaluate("line", LINE, "goal_above", weekly(2000, 2399))
    assert not verdict.sends
    assert verdict.can_fire
    assert verdict.value == 2399
    assert verdict.crossing_rows == 0
    assert verdict.reason == (
        "none of 2 rows is at or above the goal 2,400 (last: recommendations = 2,399 on row 2)"
    )


# ------------------------------------------------------------------------------ goal_below


def test_goal_below_does_not_fire_on_equal_value() -> None:
    verdict = evaluate("line", LINE, "goal_below", weekly(2400, 2500))
    assert not verdict.sends
    assert verdict.value == 2500


def test_goal_below_fires_just_below() -> None:
    verdict = evaluate("bar", LINE, "goal_below", weekly(2500, 2399.5))
    assert verdict.sends
    assert verdict.value == 2399.5
    assert "2,399.5 on row 2" in verdict.reason


def test_any_row_over_many_periods() -> None:
    counts = [2600 + i for i in range(52)]
    counts[11] = 2100
    counts[30] = 2300
    counts[40] = 2399
    verdict = evaluate("line", LINE, "goal_below", weekly(*counts))
    assert verdict.sends
    assert verdict.crossing_rows == 3
    assert verdict.value == 2100
    assert verdict.reason == (
        "3 of 52 rows are below the goal 2,400 (recommendations = 2,100 on row 12)"
    )
    assert not evaluate("line", LINE, "goal_below", weekly(*[2600] * 52)).sends


def test_empty_result_skips_goal_alert() -> None:
    verdict = evaluate("line", LINE, "goal_below", weekly())
    assert not verdict.sends
    assert verdict.can_fire
    assert not verdict.error
    assert verdict.reason == "result is empty: no row to compare with the goal 2,400"


def test_null_before_crossing_makes_metabase_throw() -> None:
    verdict = evaluate("line", LINE, "goal_below", weekly(2500, None, 2000))
    assert not verdict.sends
    assert verdict.error
    assert "row 2 has null" in verdict.reason


def test_null_after_crossing_is_never_reached() -> None:
    verdict = evaluate("line", LINE, "goal_below", weekly(2000, None))
    assert verdict.sends
    assert not verdict.error


def test_goal_zero_is_a_goal() -> None:
    settings = {"graph.goal_value": 0}
    assert evaluate("line", settings, "goal_below", weekly(-1)).sends
    assert not evaluate("line", settings, "goal_below", weekly(0)).sends


def test_decimal_values_compare() -> None:
    assert evaluate("line", LINE, "goal_above", weekly(Decimal("2400.0"))).sends


# ---------------------------------------------------------------------------- goal column


def test_graph_metrics_case_insensitive() -> None:
    result = QueryResult(["week", "pushes", "Recommendations"], [["w1", 9999, 10]])
    settings = {"graph.goal_value": 100, "graph.metrics": ["RECOMMENDATIONS"]}
    verdict = evaluate("line", settings, "goal_below", result)
    assert verdict.column == "Recommendations"
    assert verdict.sends
    # The default for three columns would be the third; graph.metrics overrides it.
    settings["graph.metrics"] = ["Pushes"]
    verdict = evaluate("line", settings, "goal_below", result)
    assert verdict.column == "pushes"
    assert not verdict.sends


def test_unmatched_metric_falls_back_to_default() -> None:
    columns = ["week", "recommendations"]
    assert goal_column("line", {"graph.metrics": ["missing"]}, columns) == "recommendations"


def test_default_column_two_columns() -> None:
    assert goal_column("line", {}, ["week", "n"], ["type/DateTime", "type/Integer"]) == "n"
    assert goal_column("line", {}, ["week", "label"], ["type/DateTime", "type/Text"]) is None


def test_default_column_three_columns_takes_third() -> None:
    types = ["type/DateTime", "type/Integer", "type/Integer"]
    assert goal_column("line", {}, ["week", "a", "b"], types) == "b"
    types = ["type/DateTime", "type/Text", "type/Integer"]
    assert goal_column("line", {}, ["week", "region", "b"], types) == "b"


def test_default_column_many_metrics_takes_second() -> None:
    types = ["type/DateTime", "type/Integer", "type/Float", "type/Integer"]
    assert goal_column("bar", {}, ["week", "a", "b", "c"], types) == "a"
    types = ["type/DateTime", "type/Integer", "type/Text", "type/Integer"]
    assert goal_column("bar", {}, ["week", "a", "b", "c"], types) is None


def test_single_column_line_has_no_default_column() -> None:
    result = QueryResult(["count"], [[5]])
    verdict = evaluate("line", {"graph.goal_value": 10}, "goal_below", result)
    assert not verdict.sends
    assert not verdict.can_fire
    assert verdict.error
    assert "graph.metrics" in verdict.reason
    fixed = evaluate(
        "line", {"graph.goal_value": 10, "graph.metrics": ["COUNT"]}, "goal_below", result
    )
    assert fixed.sends


def test_default_column_inferred_from_values() -> None:
    result = QueryResult(["week", "label"], [["w1", "low"]])
    verdict = evaluate("line", {"graph.goal_value": 1}, "goal_below", result)
    assert not verdict.can_fire
    assert verdict.column is None


# --------------------------------------------------------------------------- goal presence


@pytest.mark.parametrize("display", ["table", "scalar", "combo", "row", "pie", "gauge"])
def test_display_without_goal_cannot_fire(display: str) -> None:
    verdict = evaluate(display, LINE, "goal_above", weekly(9999))
    assert not verdict.sends
    assert not verdict.can_fire
    assert verdict.error
    assert verdict.reason.startswith(f"display {display} carries no goal")
    assert goal_value(display, LINE) is None


def test_goal_displays() -> None:
    assert frozenset({"line", "bar", "area", "progress"}) == GOAL_DISPLAYS
    assert goal_value("area", LINE) == 2400


def test_show_goal_is_not_consulted() -> None:
    settings = {**LINE, "graph.show_goal": False}
    assert evaluate("line", settings, "goal_below", weekly(1)).sends


def test_line_without_goal_value_cannot_fire_even_when_empty() -> None:
    verdict = evaluate("line", {"graph.metrics": ["recommendations"]}, "goal_below", weekly())
    assert not verdict.can_fire
    assert verdict.error
    assert "no graph.goal_value" in verdict.reason


def test_non_numeric_goal_cannot_fire() -> None:
    settings = {"graph.goal_value": "2400", "graph.metrics": ["recommendations"]}
    assert goal_value("line", settings) is None
    verdict = evaluate("line", settings, "goal_below", weekly(1))
    assert not verdict.sends
    assert not verdict.can_fire
    assert verdict.error
    # With no row to compare, Metabase never reaches the comparison: a plain skip.
    empty = evaluate("line", settings, "goal_below", weekly())
    assert not empty.error and not empty.can_fire


def test_non_numeric_column_cannot_fire() -> None:
    result = QueryResult(["week", "status"], [["w1", "failed"]])
    settings = {"graph.goal_value": 1, "graph.metrics": ["status"]}
    verdict = evaluate("line", settings, "goal_above", result)
    assert not verdict.sends
    assert not verdict.can_fire
    assert "not numeric" in verdict.reason


# -------------------------------------------------------------------------------- progress


def test_progress_goal_column_zero() -> None:
    settings = {"progress.goal": 100}
    result = QueryResult(["done", "extra"], [[120, 1]])
    verdict = evaluate("progress", settings, "goal_above", result)
    assert verdict.sends
    assert verdict.column == "done"
    assert not evaluate("progress", settings, "goal_below", result).sends
    assert goal_value("progress", {"graph.goal_value": 100}, progress_goal_columns=False) is None


def test_progress_without_goal_old_and_new_source() -> None:
    result = QueryResult(["done"], [[-5]])
    old = evaluate("progress", {}, "goal_below", result, progress_goal_columns=False)
    assert not old.can_fire and old.error
    new = evaluate("progress", {}, "goal_below", result)
    assert new.goal == 0
    assert new.sends


def test_progress_goal_from_column() -> None:
    result = QueryResult(["done", "target"], [[80, 100]])
    settings = {"progress.goal": "target", "progress.value": "done"}
    assert goal_value("progress", settings, result) == 100
    assert evaluate("progress", settings, "goal_below", result).sends
    assert not evaluate("progress", settings, "goal_above", result).sends
    assert goal_value("progress", settings) is None


def test_progress_value_column_chosen() -> None:
    columns = ["label", "target", "done"]
    settings = {"progress.value": "DONE"}
    assert goal_column("progress", settings, columns) == "done"
    types = ["type/Text", "type/Integer", "type/Integer"]
    assert goal_column("progress", {}, columns, types) == "target"
    assert goal_column("progress", {}, columns, types, progress_goal_columns=False) == "label"


# ------------------------------------------------------------------------------ formatting


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2400, "2,400"),
        (2400.0, "2,400"),
        (1234567.25, "1,234,567.25"),
        (-2100, "-2,100"),
        (-1234.5, "-1,234.5"),  # the minus sign of a negative non-integer is kept, once
        (-0.25, "-0.25"),
        (0.5, "0.5"),
        (1e-07, "1e-07"),  # repr's exponent form, with no dot to split at
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


# -- survivors of the mutation run (docs/testing.md) ----------------------------------------------


def test_base_types_are_inferred_from_the_values() -> None:
    from metabase_guard.evaluation import _infer_base_type as infer

    assert infer([]) is None and infer([None, None]) is None
    assert infer([1, None, 2]) == "type/Integer"
    assert infer([True, False]) == "type/Boolean"  # a bool is not an integer here
    assert infer([1, 2.5]) == "type/Float"
    assert infer(["a", None]) == "type/Text"
    assert infer(["a", 1]) == "type/*"


@pytest.mark.parametrize(
    ("numeric", "index"),
    [
        ([True, True, True], 2),
        ([True, True, False], None),  # three columns, the third not numeric
        ([False, True], 1),
        ([True, False], None),
        ([False, True, True, True], 1),
        ([False, True, False, True], None),
        ([False, False, True, True], None),  # the second column not numeric: no metric
        ([True, True, True, False], None),
        ([True], None),
    ],
)
def test_the_default_goal_column(numeric: list[bool], index: int | None) -> None:
    from metabase_guard.evaluation import _default_index

    assert _default_index("bar", numeric) == index
    assert _default_index("progress", numeric) == 0


def test_a_progress_goal_read_from_a_column() -> None:
    from metabase_guard.evaluation import QueryResult, goal_value

    def goal(result: QueryResult, name: str = "target") -> float | None:
        return goal_value("progress", {"progress.goal": name}, result)

    both = QueryResult(["n", "target"], [[5, 40]])
    assert goal(both) == 40.0
    assert goal(both, "Target") == 0.0  # exact, case-sensitive name
    assert goal(QueryResult(["n", "target"], [])) is None
    assert goal(QueryResult(["n", "target"], [[5, "Infinity"]],
                            base_types=[None, "type/Float"])) == math.inf
    assert goal(QueryResult(["n", "target"], [[5, None]])) == 0.0
    assert goal(QueryResult(["n", "target"], [[5]])) == 0.0  # a short row
    assert goal(QueryResult(["n", "target"], [[5, "x"]])) == 0.0  # a text column
    assert goal(QueryResult(["n", "target"], [[5, 7]],
                            base_types=["type/Integer", "type/Text"])) == 0.0


def test_a_numeric_progress_goal_is_the_goal_with_or_without_goal_columns() -> None:
    for columns in (True, False):
        assert goal_value("progress", {"progress.goal": 100},
                          progress_goal_columns=columns) == 100.0


def test_a_progress_alert_compares_the_progress_value_column() -> None:
    # newer Metabase (progress_goal_columns): progress.value names the compared column, here
    # not the first numeric one
    result = QueryResult(columns=["label", "target", "done"], rows=[["x", 50, 20]])
    assert evaluate("progress", {"progress.goal": 10, "progress.value": "done"}, "goal_above",
                    result) == Verdict(
        True, True, "1 of 1 row is at or above the goal 10 (done = 20 on row 1)", 20.0, 10.0,
        "done", crossing_rows=1)
