"""The derived views of a snapshot (``LiveState`` in ``reconcile/live.py``), each pinned whole.

Pure: hand-built snapshots. The planner tests reach these views only through a plan; here
each one answers directly, including the cases a plan rarely makes: claimants in every order
of creator and id, indexes rebuilt when a list grows or is replaced, same-named siblings,
unknown ids.
"""

from __future__ import annotations

from typing import Any

from metabase_guard.api.models import Card, Collection, Notification, Pulse, User
from metabase_guard.reconcile.identity import COLLECTION_MARK, compose_description
from metabase_guard.reconcile.live import claims_of, pulse_audience
from tests.reconcile.test_plan_pure import ME, PM, live_state

OTHER = PM.id


def card(card_id: int, key: str | None = "k", creator: int | None = ME.id, name: str = "Q",
         **extra: Any) -> Card:
    description = compose_description("text", key) if key else "plain"
    return Card.model_validate({"id": card_id, "name": name, "description": description,
                                "creator_id": creator, **extra})


def alert(nid: int, card_id: int | None) -> Notification:
    payload = {"card_id": card_id} if card_id is not None else None
    return Notification.model_validate({"id": nid, "payload_type": "notification/card",
                                        "payload": payload})


def ids(cards: list[Card]) -> list[int]:
    return [c.id for c in cards]


# -- claims ----------------------------------------------------------------------------------

def test_claims_put_the_card_metabase_guards_user_made_first_whatever_its_id() -> None:
    live = live_state([card(5, creator=OTHER), card(9), card(7, creator=OTHER), card(8)])
    assert {k: ids(v) for k, v in live.claims().items()} == {"k": [8, 9, 5, 7]}
    assert live.managed_cards()["k"].id == 8


def test_claims_of_an_adopted_key_put_the_lowest_id_first_and_skip_unmarked_cards() -> None:
    cards = [card(6, creator=OTHER), card(3, creator=None), card(4, key=None),
             card(2, key="other", creator=OTHER)]
    assert {k: ids(v) for k, v in claims_of(cards, ME.id).items()} == {"k": [3, 6], "other": [2]}


def test_archived_managed_cards_take_the_first_archived_claimant() -> None:
    live = live_state([card(1, key="live")])
    live.archived_cards = [card(4, creator=OTHER), card(6)]
    assert {k: c.id for k, c in live.archived_managed_cards().items()} == {"k": 6}
    assert list(live.managed_cards()) == ["live"]


def test_claims_are_rebuilt_when_the_card_list_grows_or_is_replaced() -> None:
    live = live_state([card(5, creator=OTHER)])
    assert ids(live.claims()["k"]) == [5]
    live.cards.append(card(9))
    assert ids(live.claims()["k"]) == [9, 5]
    old = live.cards
    live.cards = [card(5, creator=OTHER), card(3, key="new")]  # same length, another list
    assert set(live.claims()) == {"k", "new"} and old is not live.cards


# -- copies of a trashed card ----------------------------------------------------------------

def test_a_live_copy_of_our_trashed_card_takes_no_key() -> None:
    live = live_state([card(20, creator=OTHER), card(21, key="kept")])
    live.archived_cards = [card(2, creator=OTHER), card(10)]
    trashed = live.copies_of_trashed()
    assert {k: (g.id, ids(c)) for k, (g, c) in trashed.items()} == {"k": (10, [20])}
    assert list(live.claims()) == ["kept"]
    assert "k" not in live.managed_cards()


def test_our_live_card_keeps_its_key_beside_an_archived_one() -> None:
    live = live_state([card(20)])
    live.archived_cards = [card(10)]
    assert live.copies_of_trashed() == {}
    assert ids(live.claims()["k"]) == [20]


def test_an_adopted_card_in_the_trash_is_the_original_only_when_it_is_older() -> None:
    older = live_state([card(20, creator=OTHER)])
    older.archived_cards = [card(10, creator=OTHER)]
    assert {k: g.id for k, (g, _) in older.copies_of_trashed().items()} == {"k": 10}
    newer = live_state([card(20, creator=OTHER)])
    newer.archived_cards = [card(30, creator=OTHER)]
    assert newer.copies_of_trashed() == {}
    assert ids(newer.claims()["k"]) == [20]


def test_our_newer_trashed_card_is_the_original_even_when_a_copy_is_older() -> None:
    live = live_state([card(5, creator=OTHER)])
    live.archived_cards = [card(30)]
    assert {k: g.id for k, (g, _) in live.copies_of_trashed().items()} == {"k": 30}


def test_a_key_with_no_archived_claimant_is_not_trashed() -> None:
    live = live_state([card(5, creator=OTHER)])
    live.archived_cards = [card(3, key="elsewhere")]
    assert live.copies_of_trashed() == {}


# -- alerts, names, pulses, users ------------------------------------------------------------

def test_alerts_of_a_card_in_id_order_without_other_cards_or_payloadless_rows() -> None:
    live = live_state(notifications=[alert(30, 10), alert(4, 11), alert(12, 10), alert(7, None)])
    assert [n.id for n in live.alerts_of(10)] == [12, 30]
    assert [n.id for n in live.alerts_of(11)] == [4]
    assert live.alerts_of(99) == []


def test_alerts_of_is_rebuilt_when_the_list_grows_and_answers_a_copy() -> None:
    live = live_state(notifications=[alert(30, 10)])
    first = live.alerts_of(10)
    first.clear()
    assert [n.id for n in live.alerts_of(10)] == [30]
    live.notifications.append(alert(31, 10))
    assert [n.id for n in live.alerts_of(10)] == [30, 31]
    live.notifications = [alert(40, 10), alert(41, 12)]
    assert [n.id for n in live.alerts_of(10)] == [40]


def test_cards_named_in_snapshot_order_rebuilt_when_the_list_grows() -> None:
    live = live_state([card(9, name="A"), card(2, name="B"), card(5, name="A")])
    assert ids(live.cards_named("A")) == [9, 5]
    assert live.cards_named("C") == []
    live.cards_named("A").clear()
    live.cards.append(card(1, name="A"))
    assert ids(live.cards_named("A")) == [9, 5, 1]
    live.cards = [card(3, name="B"), card(4, name="C"), card(6, name="D"), card(8, name="E")]
    assert ids(live.cards_named("B")) == [3]


def test_pulses_of_a_dashboard_in_id_order() -> None:
    live = live_state()
    live.pulses = [Pulse(id=9, dashboard_id=1), Pulse(id=3, dashboard_id=2),
                   Pulse(id=4, dashboard_id=1)]
    assert [p.id for p in live.pulses_of(1)] == [4, 9]
    assert live.pulses_of(5) == []


def test_user_label_is_the_listed_email_then_ours_then_words() -> None:
    live = live_state()
    live.users = [User(id=7, email="a@example.com"), PM]
    live.me = User(id=40, email="key@api-key.invalid")
    assert live.user_label(PM.id) == PM.email
    assert live.user_label(7) == "a@example.com"
    assert live.user_label(40) == "key@api-key.invalid"
    assert live.user_label(41) == "user #41 (an API key, or a deactivated user)"
    assert live.user_label(None) == "user #None (an API key, or a deactivated user)"


def _channel(kind: str, recipients: list[dict[str, Any]] | None = None,
             **details: Any) -> dict[str, Any]:
    return {"channel_type": kind, "recipients": recipients or [], "details": details}


def test_pulse_audience_is_every_address_lowercased_and_every_slack_channel_sorted() -> None:
    pulse = Pulse.model_validate({"id": 1, "channels": [
        _channel("slack", channel="#ops"),
        _channel("slack"),  # no channel named yet
        _channel("email", [{"id": 3, "email": "Priya@Example.com"}, {"email": "b@example.org"},
                           {"id": 4}, {"email": ""}]),
        _channel("slack", [{"email": "never@example.com"}], channel="#alerts"),
    ]})
    assert pulse_audience(pulse) == ("#alerts", "#ops", "b@example.org", "priya@example.com")
    assert pulse_audience(Pulse(id=2)) == ()


# -- collections -----------------------------------------------------------------------------

def coll(cid: int | str, name: str, location: str | None = "/", **extra: Any) -> Collection:
    return Collection.model_validate({"id": cid, "name": name, "location": location, **extra})


def test_collection_path_names_every_ancestor_and_unknown_ones_by_id() -> None:
    live = live_state(collections=[coll("root", "Our analytics"), coll(5, "Health checks"),
                                   coll(6, "Recommender", "/5/"), coll(8, "Deep", "/5/77/")])
    assert live.collection_path(None) == ""
    assert live.collection_path(6) == "Health checks/Recommender"
    assert live.collection_path(5) == "Health checks"
    assert live.collection_path(8) == "Health checks/#77/Deep"
    assert live.collection_path(99) == "#99"


def test_collection_id_takes_the_lowest_id_of_same_named_live_shared_siblings() -> None:
    live = live_state(collections=[
        coll("root", "Our analytics"), coll(9, "Ops"), coll(4, "Ops"), coll(7, "Ops"),
        coll(2, "Ops", archived=True), coll(1, "Ops", personal_owner_id=3),
        coll(12, "Nightly", "/7/"), coll(11, "Nightly", "/9/"), coll(13, "Nightly", "/4/"),
    ])
    assert live.collection_id("") is None
    assert live.collection_id("Ops") == 4
    assert live.collection_id("Ops/Nightly") == 13
    assert live.collection_id("Ops/Weekly") == "missing"
    assert live.collection_id("Nightly") == "missing"


def test_collection_id_is_rebuilt_when_the_list_grows() -> None:
    live = live_state(collections=[coll(9, "Ops")])
    assert live.collection_id("Ops") == 9
    live.collections.append(coll(3, "Ops"))
    assert live.collection_id("Ops") == 3
    live.collections = [coll(5, "Ops"), coll(6, "Other")]
    assert live.collection_id("Ops") == 5


def test_collection_copies_are_our_marked_collections_that_their_path_does_not_resolve_to() -> None:
    mark = {"description": COLLECTION_MARK}
    live = live_state(collections=[
        coll("root", "Our analytics", None, **mark),
        coll(5, "Ops", **mark), coll(8, "Ops", **mark),  # 8 is a copy of 5
        coll(9, "Ops"),  # not ours: never a copy
        coll(10, "Ops", archived=True, **mark), coll(11, "Ops", personal_owner_id=3, **mark),
        coll(3, "Lone", **mark),
        coll(20, "Child", "/8/", **mark),  # under the copy: its path resolves to nothing
    ])
    assert [c.id for c in live.collection_copies()] == [8, 20]
