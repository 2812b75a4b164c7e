"""The planner's words and rules that mutation testing found untested after the split into kinds.

Copies of a managed card (racing applies, a UI duplicate, a hand-edited mark), what Metabase
does to the alerts of a card whose display changes family, a declared alert someone else
already runs, the words of a resolve problem, :meth:`Plan.replaced`, and the dependency order
of the kinds. Pure: declarations and hand-built snapshots, as in ``test_plan_pure.py``.
"""

from __future__ import annotations

import dataclasses

import pytest

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
