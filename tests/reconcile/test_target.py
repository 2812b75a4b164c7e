"""``--only KEY`` (``reconcile/target.py``): the plan cut down to some questions, pinned whole.

Pure: a plan made from declarations and a hand-built snapshot with no collections, so that
every question brings the creates of its collections (a nested path included) and the cut
shows which of them stay.
"""

from __future__ import annotations

import pytest

from metabase_guard.api.models import Collection
from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.cards import DesiredCard, resolve
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.reconcile.target import restrict
from metabase_guard.reconcile.walk import make_plan
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import live_state

YAML = """
questions:
  - key: weekly-recommendations
    name: Recommendations pushed last week
    collection: Health checks/Recommender
    database: Warehouse
    sql: SELECT week, recommendations FROM weekly
    display: bar
    goal: {value: 2400}
    alerts:
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:00"}
        email: [pm@example.com]
  - key: nightly-runs
    name: Nightly runs
    collection: Ops/Nightly
    database: Warehouse
    sql: SELECT run_at, status FROM model_runs
  - key: signups
    name: Signups
    collection: Health checks
    database: Warehouse
    sql: SELECT day, signups FROM signups
"""

NOTE = "a note of the full plan"


def _made() -> tuple[Plan, list[DesiredCard]]:
    live = live_state(collections=[Collection(id="root", name="Our analytics")])
    desired = resolve(load_text(YAML, "alerts/cut.yaml"), live)
    plan = make_plan(desired, live, url="http://mb")
    gone = Change("delete", "card", "card old-question", key="old-question", live_id=40)
    other = Change("delete", "card", "card older-question", key="older-question", live_id=41)
    return plan.replaced(notes=[NOTE], pending_deletes=[gone, other]), desired


def _addresses(plan: Plan) -> list[str]:
    return [f"{c.action} {c.address}" for c in plan.changes]


def test_the_full_plan_is_what_the_cuts_below_are_taken_from() -> None:
    plan, _ = _made()
    assert _addresses(plan) == [
        "create collection Health checks",
        "create collection Health checks/Recommender",
        "create collection Ops",
        "create collection Ops/Nightly",
        "create card nightly-runs",
        "create card signups",
        "create card weekly-recommendations",
        "create alert 1 of weekly-recommendations",
    ]


def test_one_key_keeps_its_card_alerts_and_every_collection_of_its_path_parents_first() -> None:
    plan, desired = _made()
    cut = restrict(plan, desired, ["weekly-recommendations"])
    assert _addresses(cut) == [
        "create collection Health checks",
        "create collection Health checks/Recommender",
        "create card weekly-recommendations",
        "create alert 1 of weekly-recommendations",
    ]
    assert cut.notes == (NOTE, "--only weekly-recommendations: 4 other change(s) are not in "
                               "this plan; a plan without --only shows them")
    assert cut.pending_deletes == ()
    assert (cut.url, cut.existing) == (plan.url, plan.existing)


def test_a_top_level_collection_is_kept_for_its_question_and_its_children_are_not() -> None:
    plan, desired = _made()
    cut = restrict(plan, desired, ("signups",))
    assert _addresses(cut) == ["create collection Health checks", "create card signups"]


def test_several_keys_are_named_sorted_in_the_note() -> None:
    plan, desired = _made()
    cut = restrict(plan, desired, ["weekly-recommendations", "nightly-runs"])
    assert _addresses(cut) == [
        "create collection Health checks",
        "create collection Health checks/Recommender",
        "create collection Ops",
        "create collection Ops/Nightly",
        "create card nightly-runs",
        "create card weekly-recommendations",
        "create alert 1 of weekly-recommendations",
    ]
    assert cut.notes[1:] == ("--only nightly-runs, weekly-recommendations: 1 other change(s) "
                             "are not in this plan; a plan without --only shows them",)


def test_nothing_left_out_adds_no_note() -> None:
    plan, desired = _made()
    cut = restrict(plan, desired, ["weekly-recommendations", "nightly-runs", "signups"])
    assert cut.changes == plan.changes
    assert cut.notes == (NOTE,)


def test_a_managed_key_no_longer_declared_is_known_and_keeps_only_its_pending_delete() -> None:
    plan, desired = _made()
    cut = restrict(plan, desired, ["old-question"])
    assert [c.key for c in cut.pending_deletes] == ["old-question"]
    assert cut.changes == ()
    assert cut.notes[1].startswith("--only old-question: 8 other change(s)")


def test_a_key_known_only_from_a_change_of_the_plan_is_accepted() -> None:
    plan, desired = _made()
    retire = Change("delete", "card", "card retired", key="retired", live_id=42)
    cut = restrict(plan.replaced(changes=[*plan.changes, retire]), [*desired], ["retired"])
    assert cut.changes == (retire,)


def test_an_unknown_key_names_the_close_one() -> None:
    plan, desired = _made()
    with pytest.raises(ConfigError) as raised:
        restrict(plan, desired, ["weekly-recomendations"])
    assert str(raised.value) == ("--only weekly-recomendations: no declared or managed question "
                                 "has this key; did you mean 'weekly-recommendations'?")


def test_an_unknown_key_with_nothing_close_has_no_hint_and_the_first_unknown_is_named() -> None:
    plan, desired = _made()
    with pytest.raises(ConfigError) as raised:
        restrict(plan, desired, ["zzzz", "qqqq", "signups"])
    assert str(raised.value) == "--only qqqq: no declared or managed question has this key"


def test_the_empty_key_of_collection_changes_is_not_a_question_key() -> None:
    plan, desired = _made()
    assert "" in {c.key for c in plan.changes}  # collection changes carry no key
    with pytest.raises(ConfigError, match=r"^--only : no declared or managed question"):
        restrict(plan, desired, [""])
