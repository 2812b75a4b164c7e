"""The dashboard layout rule: the issue's example, the size sources, and properties (hypothesis)
that hold for every accepted list of items: no overlap, inside the grid, reading order."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metabase_guard.spec.layout import DEFAULT_SIZES, Placement, default_size, layout
from metabase_guard.spec.models import (
    DISPLAYS,
    GRID_WIDTH,
    MAX_HEIGHT,
    Dashboard,
    DashboardItem,
    HeadingItem,
)

FAST = settings(derandomize=True, database=None, deadline=None, max_examples=200,
                suppress_health_check=[HealthCheck.too_slow])


def items(*raw: Any) -> list[DashboardItem]:
    """Items read the way the loader reads them, through the Dashboard model."""
    return list(Dashboard.model_validate({"key": "d", "name": "D", "cards": list(raw)}).cards)


def test_the_issue_example_lays_out_as_documented() -> None:
    displays = {"weekly-recommendations": "bar", "daily-recommendations": "line"}
    placed = layout(items(
        {"heading": "Weekly pushes"},
        "weekly-recommendations",
        {"question": "daily-recommendations", "size": "wide"},
        {"text": "Bars under the goal line mean the recommender missed its week."},
    ), displays.__getitem__)
    # the same table as docs/declarations.md "Layout"
    assert placed == [Placement(0, 0, 24, 1), Placement(1, 0, 12, 6), Placement(7, 0, 18, 6),
                      Placement(13, 0, 24, 2)]


def test_scalars_pack_four_to_a_row_and_a_heading_breaks_the_row() -> None:
    placed = layout(items("a", "b", "c", "d", "e", {"heading": "More"}, "f"),
                    lambda key: "scalar")
    assert [(p.row, p.col) for p in placed] == [(0, 0), (0, 6), (0, 12), (0, 18), (3, 0),
                                                (6, 0), (7, 0)]
    assert placed[5] == Placement(6, 0, 24, 1)


def test_a_new_row_starts_below_the_tallest_item_of_the_row_before() -> None:
    displays = {"kpi": "scalar", "tbl": "table", "chart": "line"}
    placed = layout(items("kpi", "tbl", "chart"), displays.__getitem__)
    assert placed == [Placement(0, 0, 6, 3), Placement(0, 6, 12, 9), Placement(9, 0, 12, 6)]


def test_sizes_come_from_the_item_then_the_display() -> None:
    placed = layout(items({"question": "a", "size": [8, 4]}, {"question": "a2", "size": "full"},
                          {"text": "t", "size": "small"}, "p"), lambda key: "pie")
    assert [(p.size_x, p.size_y) for p in placed] == [(8, 4), (24, 6), (6, 3), (12, 8)]


def test_default_sizes_are_metabases_table() -> None:
    # metabase/metabase src/metabase/dashboards/constants.cljc card-size-defaults
    assert default_size("scalar") == default_size("smartscalar") == (6, 3)
    assert default_size("table") == default_size("pivot") == default_size("object") == (12, 9)
    assert default_size("waterfall") == (14, 6) and default_size("sankey") == (16, 10)
    assert default_size("boxplot") == (12, 6)  # not in Metabase's table: the chart size
    assert set(DISPLAYS) - set(DEFAULT_SIZES) == {"boxplot"}


def test_layout_reads_no_display_for_headings_and_sized_items() -> None:
    asked: list[str] = []
    layout(items({"heading": "h"}, {"text": "t"}, {"question": "q", "size": "small"}, "r"),
           lambda key: asked.append(key) or "bar")  # type: ignore[func-returns-value]
    assert asked == ["r"]


# -- properties ------------------------------------------------------------------------------

_keys = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])
_size = st.one_of(
    st.none(),
    st.sampled_from(["small", "medium", "wide", "full"]),
    st.tuples(st.integers(1, GRID_WIDTH), st.integers(1, MAX_HEIGHT)).map(list),
)
_item = st.one_of(
    _keys,
    st.builds(lambda k, s: {"question": k} | ({"size": s} if s is not None else {}), _keys, _size),
    st.builds(lambda t: {"heading": t}, st.sampled_from(["Weekly", "Daily", "Notes"])),
    st.builds(lambda t, s: {"text": t} | ({"size": s} if s is not None else {}),
              st.sampled_from(["Read me", "**bold**"]), _size),
)
_displays = st.fixed_dictionaries({k: st.sampled_from(DISPLAYS) for k in "abcdefgh"})


def _overlap(a: Placement, b: Placement) -> bool:
    return (a.col < b.col + b.size_x and b.col < a.col + a.size_x
            and a.row < b.row + b.size_y and b.row < a.row + a.size_y)


@FAST
@given(st.lists(_item, max_size=30), _displays)
def test_placements_never_overlap_and_stay_inside_the_grid(
    raw: list[Any], displays: dict[str, str]
) -> None:
    placed = layout(items(*raw), displays.__getitem__)
    assert len(placed) == len(raw)
    for p in placed:
        assert p.row >= 0 and p.col >= 0 and p.size_x >= 1 and p.size_y >= 1
        assert p.col + p.size_x <= GRID_WIDTH
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert not _overlap(a, b), (a, b)


@FAST
@given(st.lists(_item, max_size=30), _displays)
def test_reading_the_grid_row_by_row_gives_the_declared_order(
    raw: list[Any], displays: dict[str, str]
) -> None:
    placed = layout(items(*raw), displays.__getitem__)
    assert sorted(range(len(placed)), key=lambda i: (placed[i].row, placed[i].col)) == list(
        range(len(placed)))


@FAST
@given(st.lists(_item, max_size=30), _displays)
def test_headings_are_full_width_alone_on_their_row(
    raw: list[Any], displays: dict[str, str]
) -> None:
    declared = items(*raw)
    placed = layout(declared, displays.__getitem__)
    for item, p in zip(declared, placed, strict=True):
        if isinstance(item, HeadingItem):
            assert (p.col, p.size_x, p.size_y) == (0, GRID_WIDTH, 1)
            assert not any(o.row == p.row for o in placed if o is not p)


@FAST
@given(st.lists(_item, max_size=30), _displays)
def test_removing_the_last_item_leaves_the_others_in_place(
    raw: list[Any], displays: dict[str, str]
) -> None:
    placed = layout(items(*raw), displays.__getitem__)
    assert layout(items(*raw[:-1]), displays.__getitem__) == placed[:-1]
