"""Dashboard layout: the grid position of every item, a pure function of the declaration.

Metabase places dashcards on a grid 24 columns wide; each has a ``row``, ``col``, ``size_x``
and ``size_y`` that the server stores as sent, without checking overlaps or the grid's edge
(metabase-dashboards.md 1.4). metabase-guard computes them by one rule, so that the same YAML
always gives the same positions and a plan can compare them exactly:

- items are placed in reading order, left to right, in rows;
- a heading is full width (24x1) on a row of its own;
- an item that does not fit in what is left of the row starts a new row, below the tallest
  item of the row before;
- a question without ``size`` takes the default size of its display, from Metabase's own table
  (metabase/metabase src/metabase/dashboards/constants.cljc, ``card-size-defaults``); a text
  card without ``size`` is full width and 2 rows high.

So no two items overlap, none reaches past column 24, and sorting the placements by
``(row, col)`` gives the items back in their declared order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from metabase_guard.spec.models import (
    GRID_WIDTH,
    SIZE_PRESETS,
    DashboardItem,
    HeadingItem,
    QuestionItem,
    TextItem,
)

__all__ = [
    "DEFAULT_SIZES",
    "FALLBACK_SIZE",
    "HEADING_SIZE",
    "TEXT_SIZE",
    "Placement",
    "default_size",
    "item_size",
    "layout",
]

#: Default (width, height) of a card by display: Metabase's ``card-size-defaults``
#: (src/metabase/dashboards/constants.cljc), the size the UI gives a card added to a dashboard.
DEFAULT_SIZES: dict[str, tuple[int, int]] = {
    "table": (12, 9),
    "gauge": (12, 6),
    "bar": (12, 6),
    "pie": (12, 8),
    "scatter": (12, 6),
    "waterfall": (14, 6),
    "combo": (12, 6),
    "radar": (12, 8),
    "sankey": (16, 10),
    "scalar": (6, 3),
    "line": (12, 6),
    "area": (12, 6),
    "pivot": (12, 9),
    "funnel": (12, 6),
    "progress": (12, 6),
    "smartscalar": (6, 3),
    "map": (12, 6),
    "object": (12, 9),
    "row": (12, 6),
}
#: The size of a display missing from Metabase's table (``boxplot``): the common chart size.
FALLBACK_SIZE = (12, 6)
#: Headings: full width, one row (Metabase's ``heading`` default).
HEADING_SIZE = (GRID_WIDTH, 1)
#: Text cards without a size: full width, two rows (Metabase's own default is 12x3; a note
#: under charts reads better across the whole dashboard).
TEXT_SIZE = (GRID_WIDTH, 2)


@dataclass(frozen=True)
class Placement:
    """Where one dashboard item goes on Metabase's grid (the dashcard's geometry)."""

    row: int
    col: int
    size_x: int
    size_y: int


def default_size(display: str) -> tuple[int, int]:
    """The (width, height) Metabase gives a card of ``display`` on a dashboard."""
    return DEFAULT_SIZES.get(display, FALLBACK_SIZE)


def item_size(item: DashboardItem, display_of: Callable[[str], str]) -> tuple[int, int]:
    """The (width, height) of one item; ``display_of`` gives a question key's display."""
    if isinstance(item, HeadingItem):
        return HEADING_SIZE
    size = item.size
    if isinstance(size, str):
        return SIZE_PRESETS[size]
    if size is not None:
        return size
    if isinstance(item, TextItem):
        return TEXT_SIZE
    assert isinstance(item, QuestionItem)
    return default_size(display_of(item.question))


def layout(items: Sequence[DashboardItem], display_of: Callable[[str], str]) -> list[Placement]:
    """Place ``items`` in order on the 24-column grid; one :class:`Placement` per item.

    ``display_of`` maps a question key to its display (``bar``, ``scalar``...), which gives the
    default size of a question without ``size``.
    """
    placements: list[Placement] = []
    row = col = row_height = 0
    for item in items:
        width, height = item_size(item, display_of)
        width = min(width, GRID_WIDTH)
        if col > 0 and (isinstance(item, HeadingItem) or col + width > GRID_WIDTH):
            row, col, row_height = row + row_height, 0, 0
        placements.append(Placement(row, col, width, height))
        col += width
        row_height = max(row_height, height)
        if isinstance(item, HeadingItem):
            row, col, row_height = row + height, 0, 0
    return placements
