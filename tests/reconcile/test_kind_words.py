"""The planner's words and rules that mutation testing found untested after the split into kinds.

Copies of a managed card (racing applies, a UI duplicate, a hand-edited mark), what Metabase
does to the alerts of a card whose display changes family, a declared alert someone else
already runs, the words of a resolve problem, :meth:`Plan.replaced`, and the dependency order
of the kinds. Pure: declarations and hand-built snapshots, as in ``test_plan_pure.py``.
"""

from __future__ import annotations

import dataclasses

import pytest

from metabase_guard.api.models import Collection, Database
from metabase_guard.errors import ResolveError
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.identity import COLLECTION_MARK, compose_description
from metabase_guard.reconcile.kind import Kind, problem, unknown
from metabase_guard.reconcile.plan import Change, Plan, Unmanaged
from metabase_guard.reconcile.walk import KINDS, _check_order
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import (
    PM,
    YAML,
    live_state,
    managed_alert,
    managed_card,
    plan_for,
)

KEY = "weekly-recommendations"
RACE = "duplicate created by a concurrent apply"
NO_MAIL = YAML.replace("        email: [pm@example.com, ds@example.com, outsider@example.org]\n",
                       "")


def _copy_verdict(copy_extra: dict[str, object], alerts: list[object]) -> Change | Unmanaged:
    """The one change or unmanaged entry a second marked card (#11) gets next to card #10."""
    live = live_state([managed_card(), managed_card(card_id=11, **copy_extra)],
                      [managed_alert(), *alerts])  # type: ignore[list-item]
    plan = plan_for(live)
    assert plan.existing == 2
    about_11 = [c for c in plan.changes if c.live_id == 11]
    about_11 += [u for u in plan.unmanaged if u.address == "card #11"]  # type: ignore[misc]
    assert len(about_11) == 1, about_11
    return about_11[0]


def test_an_identical_copy_of_ours_is_archived_and_its_active_alerts_counted() -> None:
    verdict = _copy_verdict({}, [managed_alert(nid=21, card_id=11),
                                 managed_alert(nid=22, card_id=11, cron="0 0 7 * * ? *"),
                                 managed_alert(nid=23, card_id=11, active=False)])
    assert verdict == Change(
        "delete", "card", f"card {KEY}#11", key=KEY, live_id=11,
        values=(("name", "Recommendations pushed last week"),
                ("collection", "Health checks/Recommender")),
        effects=(f"{RACE}: card #10, created first, is kept",
                 "Metabase deletes the card's 2 active alert(s) when it is archived"),
        duplicate=True,
    )


def test_an_identical_copy_without_active_alerts_says_only_which_card_is_kept() -> None:
    verdict = _copy_verdict({}, [managed_alert(nid=23, card_id=11, active=False)])
    assert isinstance(verdict, Change)
    assert verdict.effects == (f"{RACE}: card #10, created first, is kept",)


def test_a_copy_made_by_someone_else_is_left_alone() -> None:
    verdict = _copy_verdict({"creator_id": PM.id}, [])
    assert verdict == Unmanaged(
        "card #11",
        f"carries the mark of {KEY!r} but card #10 is the managed one (a duplicate made in the "
        "UI?); remove the mark from its description",
    )


@pytest.mark.parametrize(("extra", "differs"), [
    ({"name": "Renamed", "display": "line"}, "name, display"),
    ({"collection_id": 5}, "collection"),
    ({"visualization_settings": {"graph.show_goal": True, "graph.goal_value": 1,
                                 "graph.metrics": ["recommendations"]}}, "goal"),
])
def test_a_copy_that_differs_is_left_alone_naming_the_fields(extra: dict[str, object],
                                                             differs: str) -> None:
    verdict = _copy_verdict(extra, [managed_alert(nid=21, card_id=11),
                                    managed_alert(nid=22, card_id=11, cron="0 0 7 * * ? *"),
                                    managed_alert(nid=23, card_id=11, active=False)])
    assert verdict == Unmanaged(
        "card #11",
        f"carries the mark of {KEY!r}, but card #10, which metabase-guard's user created "
        f"first, is the managed one, and #11 differs from it ({differs}): its mark was "
        "probably edited by hand. It is left alone and its 2 active alert(s) keep running; "
        "give it back its own mark (or import it) or archive it",
    )


def test_a_copy_carrying_other_users_active_alerts_is_left_alone() -> None:
    verdict = _copy_verdict({}, [managed_alert(nid=21, card_id=11),
                                 managed_alert(nid=22, card_id=11, creator=PM.id),
                                 managed_alert(nid=23, card_id=11, creator=PM.id, active=False)])
    assert verdict == Unmanaged(
        "card #11",
        f"is a copy of managed card #10 ({RACE}?), but 1 alert(s) by other users sit on it: "
        "left alone, archive it by hand once they are moved",
    )


def _card_effects(yaml_text: str, alerts: list[object], email: bool = True) -> tuple[str, ...]:
    live = dataclasses.replace(live_state([managed_card()], alerts),  # type: ignore[arg-type]
                               email_configured=email)
    plan = plan_for(live, yaml_text.replace("display: bar", "display: progress"))
    (card,) = [c for c in plan.changes if c.kind == "card"]
    return card.effects


def test_a_family_change_names_every_active_alert_metabase_deletes() -> None:
    effects = _card_effects(YAML, [managed_alert(),
                                   managed_alert(nid=31, creator=PM.id, cron="0 0 7 * * ? *"),
                                   managed_alert(nid=32, active=False, cron="0 0 8 * * ? *")])
    assert effects == (
        "Metabase deletes all 2 active alert(s) of this card and e-mails their recipients "
        "because the display changes from bar to progress, including 1 not managed by "
        "metabase-guard; metabase-guard recreates its own",
    )


def test_without_email_no_mail_is_promised_and_only_our_alerts_are_not_counted_as_foreign() -> None:
    effects = _card_effects(NO_MAIL, [managed_alert()], email=False)
    assert effects == (
        "Metabase deletes all 1 active alert(s) of this card because the display changes "
        "from bar to progress; metabase-guard recreates its own",
    )


def test_a_family_change_with_only_inactive_alerts_deletes_none() -> None:
    assert _card_effects(YAML, [managed_alert(active=False)]) == ()


def test_a_declared_alert_someone_else_runs_is_named_with_the_import_that_adopts_it() -> None:
    plan = plan_for(live_state([managed_card()], [managed_alert(nid=30, creator=PM.id),
                                                  managed_alert(nid=31, creator=PM.id,
                                                                cron="0 0 7 * * ? *")]))
    assert [(c.action, c.address) for c in plan.changes] == [
        ("create", f"alert 1 of {KEY}")]
    assert plan.notes == (
        f"alert #30 on card {KEY} by pm@example.com is identical to declared alert 1 of "
        f"{KEY}: apply will create a second one; run `metabase-guard import --card 10` to "
        "adopt it (were the credentials changed?)",
    )


def test_the_words_of_an_unknown_name() -> None:
    assert unknown("database", "Warehose", ["Zoo", "Warehouse"]) == (
        "no database named 'Warehose' (did you mean 'Warehouse'?); the instance has: "
        "Warehouse, Zoo")
    assert unknown("database", "Qqq", ["Zoo", "Warehouse"]) == (
        "no database named 'Qqq'; the instance has: Warehouse, Zoo")
    assert unknown("group", "Qqq", []) == "no group named 'Qqq'; the instance has: none"
    assert unknown("group", "Qqq", ["Qqq"], unreadable=True) == (
        "cannot check the group 'Qqq': these credentials may not list groups (use an admin "
        "API key)")


def test_a_resolve_problem_sits_at_the_line_of_its_field() -> None:
    decls = load_text(YAML, "alerts/recommender.yaml")
    found = problem(decls, KEY, "database", "boom")
    assert (found.file, found.line, found.field, found.message, found.severity) == (
        "alerts/recommender.yaml", 7, "database", f"question {KEY!r}: boom", "error")
    assert problem(decls, KEY, "sql", "x", what="dashboard").message == f"dashboard {KEY!r}: x"
    assert problem(decls, KEY, "sql", "x").line == 8


def _rich_plan() -> Plan:
    extra = managed_alert(nid=21, cron="0 0 10 * * ? *")
    live = live_state([managed_card(goal=2000), managed_card(card_id=11)],
                      [managed_alert(), extra, managed_alert(nid=30, creator=PM.id,
                                                             cron="0 0 7 * * ? *")])
    plan = plan_for(live)
    assert plan.changes and plan.pending_deletes and plan.unmanaged and plan.card_ids
    return dataclasses.replace(plan, notes=("a note",), prune=True)


def _fields(plan: Plan) -> dict[str, object]:
    return {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)}


@pytest.mark.parametrize("part", ["changes", "pending_deletes", "notes", "card_ids"])
def test_replaced_changes_only_the_part_given(part: str) -> None:
    plan = _rich_plan()
    assert _fields(plan.replaced()) == _fields(plan)
    assert plan.replaced().checksum == plan.checksum
    new: dict[str, object] = {"changes": [], "pending_deletes": [], "notes": ["other"],
                              "card_ids": {"k": 1}}
    after = plan.replaced(**{part: new[part]})  # type: ignore[arg-type]
    expected = {"changes": (), "pending_deletes": (), "notes": ("other",),
                "card_ids": (("k", 1),)}[part]
    assert getattr(after, part) == expected
    kept = {k: v for k, v in _fields(after).items() if k != part}
    assert kept == {k: v for k, v in _fields(plan).items() if k != part}


class _Named(Kind):
    def __init__(self, name: str, *depends_on: str) -> None:
        self.name = name
        self.depends_on = depends_on


def test_a_kind_must_come_after_the_kinds_it_depends_on() -> None:
    _check_order([_Named("a"), _Named("b", "a"), _Named("c", "a", "b")])
    with pytest.raises(AssertionError) as info:
        _check_order([_Named("a"), _Named("c", "a", "b"), _Named("b", "a")])
    assert str(info.value) == "kind c comes before ['b']"
    with pytest.raises(AssertionError, match=r"^kind b comes before \['a', 'z'\]$"):
        _check_order([_Named("b", "z", "a"), _Named("a")])
    assert [k.name for k in KINDS][:3] == ["collection", "card", "alert"]


def test_a_kind_without_a_write_says_so() -> None:
    with pytest.raises(NotImplementedError, match=r"^thing changes are not written$"):
        _Named("thing").write(Change("create", "thing", "thing x"), None)  # type: ignore[arg-type]


# -- the card kind's reports of cards it finds but leaves alone, in whole words -------------

NAME = "Recommendations pushed last week"
IMPORT = (f"for {KEY!r}. To manage this card instead, run "
          f"`metabase-guard import --card 10 --key {KEY}` before applying.")


def _notes(*cards: object, alerts: tuple[object, ...] = (), yaml_text: str = YAML
           ) -> list[tuple[str, str]]:
    plan = plan_for(live_state(list(cards), list(alerts)), yaml_text)  # type: ignore[arg-type]
    return [(u.address, u.reason) for u in plan.unmanaged]


@pytest.mark.parametrize(("collection_id", "where"), [(5, "Health checks"),
                                                      (None, "the root collection")])
def test_an_unmarked_card_with_our_alerts_is_said_to_have_lost_its_mark(
    collection_id: int | None, where: str,
) -> None:
    unmarked = managed_card(description="hand", collection_id=collection_id)
    assert _notes(unmarked, alerts=(managed_alert(),)) == [("card #10", (
        f"has the name {NAME!r} in {where} and 1 active alert(s) made by metabase-guard's "
        "user, but no metabase-guard mark: the mark was probably removed by hand, so "
        "metabase-guard no longer manages it (its alerts keep running) and creates a new card "
        + IMPORT))]


def test_an_unmarked_card_of_the_same_name_and_collection_is_said_to_be_left_alone() -> None:
    # the alert on it is another user's or inactive: not a sign that it was ours
    alerts = (managed_alert(creator=PM.id), managed_alert(nid=21, active=False))
    assert _notes(managed_card(description="hand"), alerts=alerts) == [("card #10", (
        f"has the name {NAME!r} in Health checks/Recommender but no metabase-guard mark "
        "(hand-made, or its mark was removed by hand); it is left alone and a new card is "
        "created " + IMPORT))]


def test_an_unmarked_card_of_the_same_name_elsewhere_or_a_marked_one_is_not_reported() -> None:
    elsewhere = managed_card(description="hand", collection_id=5)
    other_key = managed_card(card_id=12, description=compose_description(None, "other"),
                             collection_id=6)
    assert _notes(elsewhere, other_key, alerts=(managed_alert(creator=PM.id),)) == []


def test_a_mention_of_a_mark_is_text_and_said_so() -> None:
    mention = managed_card(card_id=12, name="Other",
                           description=compose_description(None, KEY) + "\nmore text")
    assert _notes(managed_card(), mention, alerts=(managed_alert(),)) == [("card #12", (
        f"mentions the mark of {KEY!r} in its description, but not as its last line: a "
        "mention is text, so the card is not managed and never changed"))]


def test_a_copy_of_a_card_in_the_trash_is_never_changed_and_the_original_restored() -> None:
    live = dataclasses.replace(live_state([managed_card(card_id=11, creator_id=PM.id)]),
                               archived_cards=[managed_card(archived=True)])
    plan = plan_for(live)
    assert [(u.address, u.reason) for u in plan.unmanaged] == [("card #11", (
        f"carries the mark of {KEY!r} but card #10, the managed one, is in the Trash (a "
        "duplicate made in the UI?, created by pm@example.com): a copy never takes a card "
        "over, so it is never changed; restore the original, or remove the mark from the "
        "copy"))]
    assert [(c.action, c.address, c.live_id) for c in plan.changes if c.kind == "card"] == [
        ("update", f"card {KEY}", 10)]


TWO = YAML + """  - key: daily-check
    name: Daily check
    collection: Health checks/Recommender
    database: Warehouse
    sql: SELECT 1
"""


def test_a_mark_moved_by_hand_onto_another_declared_card_does_not_take_the_key_over() -> None:
    moved = managed_card(card_id=9, name="Daily check",
                         description=compose_description(None, KEY),
                         dataset_query={"lib/type": "mbql/query", "database": 1, "stages": [
                             {"lib/type": "mbql.stage/native", "native": "SELECT 1"}]})
    plan = plan_for(live_state([managed_card(), moved], [managed_alert()]), TWO)
    assert [(u.address, u.reason) for u in plan.unmanaged] == [("card #9", (
        f"carries the mark of {KEY!r} but has the name and SQL of 'daily-check': its mark was "
        "probably edited by hand, so it is left alone (its alerts keep running). Run "
        "`metabase-guard import --card 9 --key daily-check` to give it back its own key"))]
    # card #10 stays the managed one and is not touched; daily-check gets its own card
    assert [(c.action, c.address) for c in plan.changes if c.kind == "card"] == [
        ("create", "card daily-check")]


def test_two_databases_of_the_declared_name_are_one_problem_naming_both() -> None:
    live = live_state()
    live.databases.append(Database(id=7, name="Warehouse", engine="snowflake"))
    with pytest.raises(ResolveError) as info:
        resolve(load_text(YAML, "a.yaml"), live)
    (found,) = info.value.problems
    assert (found.field, found.message) == ("database", (
        f"question {KEY!r}: 2 databases are named 'Warehouse': #1 (postgres), #7 (snowflake); "
        "rename one in Metabase (Admin > Databases) so the name says which"))


def test_a_card_no_longer_declared_is_archived_whole_and_another_users_never() -> None:
    other = YAML.replace("key: weekly-recommendations", "key: other-check")
    theirs = managed_card(card_id=13, description=compose_description(None, "theirs"),
                          creator_id=PM.id)
    live = live_state([managed_card(), theirs], [
        managed_alert(), managed_alert(nid=23), managed_alert(nid=21, creator=PM.id),
        managed_alert(nid=22, active=False)])
    plan = plan_for(live, other, prune=True)
    (gone,) = [c for c in plan.changes if c.kind == "card" and c.action == "delete"]
    assert dataclasses.astuple(gone) == dataclasses.astuple(Change(
        "delete", "card", f"card {KEY}", key=KEY, live_id=10, retires=3,
        values=(("name", "Recommendations pushed last week"),
                ("collection", "Health checks/Recommender")),
        effects=("Metabase deletes the card's 3 active alert(s) when it is archived",)))
    assert plan.existing == 3  # the card and our two active alerts on it
    assert [(u.address, u.reason) for u in plan.unmanaged] == [("card #13", (
        "carries the mark of 'theirs', which these declarations do not have, but was created "
        "by pm@example.com, not by metabase-guard's user: never archived from here, even with "
        "--prune (archive it by hand if it is really gone)"))]
    # without alerts: no effect is promised
    quiet = plan_for(live_state([managed_card()]), other, prune=True)
    (gone,) = [c for c in quiet.changes if c.kind == "card" and c.action == "delete"]
    assert (gone.effects, gone.retires) == ((), 1)


def test_a_card_to_create_lists_its_values_and_always_its_goal() -> None:
    plain = (YAML.replace("    goal: {value: 2400, label: Minimum per week}\n", "")
             .replace("    metric: recommendations\n", "")
             .replace("when: below_goal", "when: has_rows"))
    plan = plan_for(live_state(), plain)
    (made,) = [c for c in plan.changes if c.kind == "card"]
    assert [k for k, _ in made.values] == ["name", "description", "collection", "database",
                                           "sql", "display", "goal"]
    assert dict(made.values)["goal"] is None
    assert plan.existing == 0


def test_two_declared_questions_of_one_name_and_sql_keep_their_own_copies() -> None:
    # the second key shares the first's name and SQL: its own cards are not "moved marks"
    twin = YAML.split("    alerts:")[0].replace(f"key: {KEY}", "key: twin").replace(
        "questions:\n", "")
    twins = [managed_card(card_id=i, description=compose_description(
        "The recommender must push at least 2,400 recommendations every week.", "twin"))
        for i in (30, 31)]
    plan = plan_for(live_state([managed_card(), *twins], [managed_alert()]), YAML + twin)
    assert [u.reason for u in plan.unmanaged if "name and SQL of" in u.reason] == []
    assert [(c.action, c.address, c.live_id) for c in plan.changes if c.kind == "card"] == [
        ("delete", "card twin#31", 31)]


def test_every_unmarked_card_of_the_name_is_looked_at() -> None:
    # a marked card of another key and an unmarked one elsewhere come first in the snapshot
    other_key = managed_card(card_id=7, description=compose_description(None, "other"))
    elsewhere = managed_card(card_id=8, description="hand", collection_id=5)
    here = managed_card(card_id=10, description="hand")
    assert [a for a, _ in _notes(other_key, elsewhere, here)] == ["card #10"]


def test_each_copy_of_a_card_gets_its_own_verdict() -> None:
    differs = managed_card(card_id=11, dataset_query={
        "lib/type": "mbql/query", "database": 1,
        "stages": [{"lib/type": "mbql.stage/native", "native": "SELECT 2"}]})
    plan = plan_for(live_state([managed_card(), differs, managed_card(card_id=12)],
                               [managed_alert()]))
    assert [u.address for u in plan.unmanaged] == ["card #11"]
    assert [(c.action, c.live_id) for c in plan.changes if c.kind == "card"] == [
        ("delete", 12)]


def test_a_collection_copy_holding_only_a_retired_card_copy_is_archived_too() -> None:
    live = live_state([managed_card(), managed_card(card_id=11, collection_id=7)],
                      [managed_alert()])
    live.collections.append(Collection(id=7, name="Recommender", location="/5/",
                                       description=COLLECTION_MARK))
    live.collection_items[7] = [{"model": "card", "id": 11}]
    plan = plan_for(live)
    assert [(c.action, c.address) for c in plan.changes if c.action == "delete"] == [
        ("delete", f"card {KEY}#11"), ("delete", "collection Health checks/Recommender#7")]


def test_an_unknown_database_is_a_problem_of_the_database_field() -> None:
    with pytest.raises(ResolveError) as info:
        resolve(load_text(YAML.replace("database: Warehouse", "database: Nowhere"), "a.yaml"),
                live_state())
    assert [(p.field, p.message) for p in info.value.problems] == [("database", (
        f"question {KEY!r}: no database named 'Nowhere'; the instance has: Warehouse"))]
