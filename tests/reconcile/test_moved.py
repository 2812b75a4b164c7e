"""``moved:`` in the planner: hand-built snapshots, the engine's three steps, no server.

The engine plans on :func:`moved_live` (the old card already answers to its new key), then
:func:`with_moves` adds the marker rewrite onto that card. These tests pin what each step
returns: which card is re-keyed, the one description change, the note and the card ids.
"""

from __future__ import annotations

import dataclasses

import pytest

from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.identity import compose_description, managed_key
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.moved import moved_live, with_moves
from metabase_guard.reconcile.plan import Plan
from metabase_guard.reconcile.walk import make_plan, resolve
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import PM, YAML, live_state, managed_alert, managed_card

OLD, NEW = "weekly-recommendations", "recommendations-per-week"
TEXT = "The recommender must push at least 2,400 recommendations every week."
MOVE = ((OLD, NEW),)
RENAMED = YAML.replace(f"key: {OLD}", f"key: {NEW}") + f"moved:\n  - {{from: {OLD}, to: {NEW}}}\n"
NOTE = f"moved: card #10 is re-keyed from {OLD!r} to {NEW!r}, with its alerts; nothing is recreated"


def planned(live: LiveState, yaml_text: str = RENAMED,
            moves: tuple[tuple[str, str], ...] | None = None) -> Plan:
    """What engine.plan makes: the plan on the moved snapshot, then the marker rewrites."""
    decls = load_text(yaml_text, "alerts/recommender.yaml")
    steps = tuple(decls.moves) if moves is None else moves
    moved = moved_live(live, steps)
    desired = resolve(decls, moved)
    return with_moves(make_plan(desired, moved, url="http://mb"), live, list(desired.cards),
                      steps)


def fields(plan: Plan) -> list[tuple[str, str, object, object]]:
    return [(c.address, f.field, f.old, f.new) for c in plan.changes for f in c.fields]


def test_a_move_is_one_marker_change_on_the_old_card_and_its_alert_is_kept() -> None:
    plan = planned(live_state([managed_card()], [managed_alert()]))
    [change] = plan.changes
    assert (change.action, change.kind, change.address, change.key, change.live_id) == (
        "update", "card", f"card {NEW}", NEW, 10)
    assert change.card is not None and change.card.key == NEW
    assert fields(plan) == [(f"card {NEW}", "description", compose_description(TEXT, OLD),
                             compose_description(TEXT, NEW))]
    assert plan.notes == (NOTE,)
    assert plan.card_ids == ((NEW, 10),)


def test_the_marker_replaces_the_description_change_and_comes_first() -> None:
    yaml_text = RENAMED.replace(TEXT, "Pushes per week.").replace("value: 2400", "value: 2000")
    plan = planned(live_state([managed_card()], [managed_alert()]), yaml_text)
    [change] = plan.changes
    assert change.live_id == 10
    assert fields(plan) == [
        (f"card {NEW}", "description", compose_description(TEXT, OLD),
         compose_description("Pushes per week.", NEW)),
        (f"card {NEW}", "goal", 2400.0, 2000.0),
    ]


def test_when_only_an_alert_changes_the_marker_is_a_card_change_of_its_own() -> None:
    # the alert's change carries the new key too: the marker must not be put on it
    plan = planned(live_state([managed_card()], [managed_alert()]),
                   RENAMED.replace('at: "09:00"', 'at: "10:00"'))
    assert [(c.kind, c.action, c.key, c.live_id) for c in plan.changes] == [
        ("card", "update", NEW, 10), ("alert", "update", NEW, 20)]
    assert [f.field for f in plan.changes[0].fields] == ["description"]
    assert "description" not in [f.field for f in plan.changes[1].fields]


def test_a_move_already_made_or_never_needed_returns_its_input() -> None:
    live = live_state([managed_card(description=compose_description(TEXT, NEW))],
                      [managed_alert()])
    assert moved_live(live, MOVE) is live
    plan = planned(live)
    assert plan.is_empty and plan.notes == ()
    made = make_plan(resolve(load_text(RENAMED, "a.yaml"), live), live, url="http://mb")
    assert with_moves(made, live, [], MOVE) is made


def test_a_move_after_one_already_made_is_still_made() -> None:
    plan = planned(live_state([managed_card()], [managed_alert()]),
                   moves=(("long-gone", NEW), *MOVE))
    assert [c.live_id for c in plan.changes] == [10]
    assert plan.notes == (NOTE,)


def test_moved_live_rekeys_only_the_moved_card_and_keeps_its_text() -> None:
    other = managed_card(card_id=12, description=compose_description("Other", "other"))
    live = live_state([managed_card(), other], [managed_alert()])
    moved = moved_live(live, MOVE)
    assert [(c.id, c.description) for c in moved.cards] == [
        (10, compose_description(TEXT, NEW)), (12, other.description)]
    assert moved.cards[1] is other
    assert moved.cards[0].name == live.cards[0].name
    assert dataclasses.replace(moved, cards=live.cards) == live
    assert [c.description for c in live.cards] == [compose_description(TEXT, OLD),
                                                   other.description]  # the read is kept


def test_the_old_keys_copy_left_behind_is_not_in_the_card_ids() -> None:
    # a racing apply's copy still carries the old key: the alerts of NEW go on card 10 only
    copy = managed_card(card_id=11)
    plan = planned(live_state([managed_card(), copy], [managed_alert()]))
    assert plan.card_ids == ((NEW, 10),)
    assert [c.live_id for c in plan.changes if c.key == NEW] == [10]


def test_both_keys_with_a_card_is_refused_before_planning() -> None:
    live = live_state([managed_card(), managed_card(
        card_id=11, description=compose_description(TEXT, NEW))], [managed_alert()])
    message = (f"moved: {OLD!r} -> {NEW!r}: both keys have a card on the instance (#10 and "
               "#11); archive one of them by hand, then plan again")
    with pytest.raises(ConfigError) as info:
        moved_live(live, MOVE)
    assert str(info.value) == message
    made = make_plan(resolve(load_text(RENAMED, "a.yaml"), live), live, url="http://mb")
    with pytest.raises(ConfigError) as again:
        with_moves(made, live, [], MOVE)
    assert str(again.value) == message


def _refusal(old: str, target: int, moved: int) -> str:
    return (f"moved: {old!r} -> {NEW!r}: the plan writes {NEW!r} to card #{target}, not to card "
            f"#{moved}, the card this move re-keys (a second move to the same key, or the key's "
            "card restored from the Trash); keep one move per key and no card of the new key in "
            "the Trash, then plan again")


def test_two_moves_to_one_key_are_refused() -> None:
    second = managed_card(card_id=11, name="Other", description=compose_description("", "other"))
    live = live_state([managed_card(), second], [managed_alert()])
    with pytest.raises(ConfigError) as info:
        planned(live, moves=(*MOVE, ("other", NEW)))
    assert str(info.value) == _refusal("other", 10, 11)


def test_a_move_onto_a_key_restored_from_the_trash_is_refused() -> None:
    # card 10 is someone else's (adopted as 'adopted'); ours of NEW is in the Trash
    theirs = managed_card(creator_id=PM.id, description=compose_description("", "adopted"))
    ours = managed_card(card_id=5, archived=True, description=compose_description(TEXT, NEW))
    live = dataclasses.replace(live_state([theirs], [managed_alert()]), archived_cards=[ours])
    with pytest.raises(ConfigError) as info:
        planned(live, moves=(("adopted", NEW),))
    assert str(info.value) == _refusal("adopted", 5, 10)
    assert managed_key(theirs.description) == "adopted"
