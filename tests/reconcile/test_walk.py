"""The walk over the kinds (``reconcile/walk.py``): every miss resolved at once, the prune default,
the snapshot's warnings and the kept-objects note in the plan. Pure: a hand-built snapshot."""

from __future__ import annotations

import dataclasses

import pytest

from metabase_guard.api.models import Card
from metabase_guard.errors import ResolveError
from metabase_guard.reconcile import walk
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_dashboard_words import _dash
from tests.reconcile.test_plan_pure import live_state, managed_alert, managed_card

MISSES = """
questions:
  - key: a
    name: A
    collection: Ops
    database: Lakehouse
    sql: SELECT 1 AS n
    display: scalar
  - key: b
    name: B
    collection: Ops
    database: Warehouse
    sql: SELECT 1 AS n
    display: scalar
    alerts:
      - when: has_rows
        schedule: {every: day, at: "08:00"}
        groups: [Nobody team]
"""

KEPT = ("1 managed object(s) are no longer declared; they are kept. Run with --prune to archive "
        "those cards.")


def test_resolve_reports_every_miss_of_every_kind_at_once() -> None:
    with pytest.raises(ResolveError) as raised:
        walk.resolve(load_text(MISSES, "alerts/misses.yaml"), live_state())
    problems = [str(p) for p in raised.value.problems]
    assert len(problems) == 2, problems
    assert "no database named 'Lakehouse' (did you mean 'Warehouse'?)" in problems[0]
    assert "Nobody team" in problems[1]
    assert str(raised.value).startswith("2 names could not be resolved on the instance:\n  ")


def test_an_undeclared_managed_card_is_kept_unless_prune_is_asked_for() -> None:
    live = dataclasses.replace(live_state(cards=[managed_card()]),
                               warnings=["the snapshot's own warning"])
    kept = walk.make_plan([], live, url="http://mb")
    assert kept.prune is False
    assert [c.action for c in kept.changes] == []
    assert len(kept.pending_deletes) == 1
    assert kept.notes == ("the snapshot's own warning", KEPT)
    pruned = walk.make_plan([], live, url="http://mb", prune=True)
    assert pruned.prune is True
    assert [(c.action, c.kind, c.live_id) for c in pruned.changes] == [("delete", "card", 10)]
    assert pruned.notes == ("the snapshot's own warning",)


@pytest.mark.parametrize(("cards", "words"), [
    ([], "archive those dashboards"),
    ([managed_card()], "archive those cards and archive those dashboards"),
])
def test_the_note_on_undeclared_objects_names_what_prune_would_do_to_each_kind(
    cards: list[Card], words: str,
) -> None:
    """A card's alerts go with it (Metabase deletes them), so only kinds left say a verb."""
    live = dataclasses.replace(live_state(cards=cards, notifications=[managed_alert()]),
                               dashboards=[_dash(30)])
    kept = walk.make_plan([], live, url="http://mb")
    assert kept.notes == (f"{len(cards) + 1} managed object(s) are no longer declared; they "
                          f"are kept. Run with --prune to {words}.",)
