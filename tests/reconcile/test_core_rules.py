"""Core rules a plausible one-line bug would break: marker, goal removal, pairing, thresholds.

Each test here was written against a planted bug (docs/testing.md lists them) and fails with it.
"""

from __future__ import annotations

import pytest

from metabase_guard.errors import UnsafePlanError
from metabase_guard.evaluation import format_number
from metabase_guard.reconcile.cards import card_change_deletes_alerts
from metabase_guard.reconcile.identity import (
    compose_description,
    managed_key,
    mentioned_key,
    user_description,
)
from metabase_guard.reconcile.plan import Change, Plan, Thresholds
from tests.reconcile.test_plan_pure import (
    PM,
    YAML,
    live_state,
    managed_alert,
    managed_card,
    plan_for,
)

# -- identity ----------------------------------------------------------------------------------


def test_the_last_marker_in_a_description_counts() -> None:
    # a user who quotes another card's marker in the text must not move the card to that key
    quoted = compose_description("Copied from [metabase-guard: old-key] last year.", "new-key")
    assert managed_key(quoted) == "new-key"
    assert managed_key(compose_description(compose_description("x", "a"), "b-2")) == "b-2"
    # a description that only quotes markers is not ours; the plan names the last one quoted
    assert managed_key("see [metabase-guard: a] and [metabase-guard: b-2] y") is None
    assert mentioned_key("see [metabase-guard: a] and [metabase-guard: b-2] y") == "b-2"
    assert managed_key("") is None
    assert managed_key("[metabase-guard: Not_A_Key] x") is None


def test_user_description_drops_only_the_marker_line() -> None:
    text = compose_description("Line one.\nLine two.", "k")
    assert user_description(text) == "Line one.\nLine two."
    assert user_description(compose_description(None, "k")) in (None, "")
    assert user_description(None) is None


# -- Metabase's card-save side effect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "removed"),
    [
        ({"graph.goal_value": 2400}, {}, True),
        ({"graph.goal_value": 2400}, {"graph.goal_value": None}, True),
        ({"graph.goal_value": 0}, {"graph.goal_value": False}, True),  # 0 is truthy in Clojure
        ({"graph.goal_value": 2400}, {"graph.goal_value": 0}, False),
        ({"graph.goal_value": 2400}, {"graph.goal_value": 10}, False),
        ({}, {}, False),
        ({"graph.goal_value": None}, {}, False),
        ({"graph.goal_value": False}, {}, False),
    ],
)
def test_removing_the_goal_line_is_detected(old: dict[str, object], new: dict[str, object],
                                            removed: bool) -> None:
    reason = card_change_deletes_alerts("bar", "bar", old, new)
    assert (reason == "the goal line is removed") is removed
    assert reason is None or removed


def test_a_display_change_within_a_family_keeps_alerts() -> None:
    assert card_change_deletes_alerts("bar", "line", {}, {}) is None
    assert card_change_deletes_alerts("bar", "table", {}, {}) == (
        "the display changes from bar to table")


def test_a_plan_that_drops_the_goal_says_metabase_deletes_the_alerts() -> None:
    no_goal = (YAML.replace("    goal: {value: 2400, label: Minimum per week}\n", "")
               .replace("when: below_goal", "when: has_rows"))
    alert = managed_alert()
    plan = plan_for(live_state([managed_card()], [alert]), no_goal)
    card = next(c for c in plan.changes if c.kind == "card")
    assert any("the goal line is removed" in e and "Metabase deletes all 1 active alert" in e
               for e in card.effects), card.effects
    # the alert Metabase deletes is recreated, not updated in place
    assert [(c.action, c.kind) for c in plan.changes if c.kind == "alert"] == [
        ("create", "alert")]


# -- pairing declared alerts with live ones ------------------------------------------------------


def test_an_active_live_alert_is_paired_before_an_inactive_twin() -> None:
    # two equal live alerts of ours: the older one was deactivated; the active one is kept
    inactive, active = managed_alert(nid=20, active=False), managed_alert(nid=21)
    live = live_state([managed_card()], [inactive, active])
    kept = plan_for(live)
    assert kept.is_empty, [c.to_dict() for c in kept.changes]
    assert kept.pending_deletes == ()  # an inactive leftover is already off: nothing to prune
    assert plan_for(live, prune=True).is_empty


def test_among_equal_candidates_the_oldest_is_paired() -> None:
    # the younger twin is a copy a concurrent apply made: it is retired, the oldest kept
    live = live_state([managed_card()], [managed_alert(nid=31), managed_alert(nid=30)])
    (change,) = plan_for(live).changes
    assert (change.action, change.live_id) == ("delete", 31)
    assert "alert #30 is kept" in change.effects[0]


# -- thresholds ----------------------------------------------------------------------------------


def _plan(existing: int, **counts: int) -> Plan:
    changes = [Change(action=action, kind="card", address=f"card {action}-{i}")  # type: ignore[arg-type]
               for action, n in counts.items() for i in range(n)]
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=changes,
                      existing=existing)


@pytest.mark.parametrize("action", ["update", "delete"])
def test_the_share_threshold_is_exclusive_at_thirty_percent(action: str) -> None:
    _plan(10, **{action: 3}).raise_if_unsafe(Thresholds())  # 30 %: allowed
    with pytest.raises(UnsafePlanError, match=rf"{action} 4 of 10 managed objects \(40%"):
        _plan(10, **{action: 4}).raise_if_unsafe(Thresholds())


def test_under_ten_managed_objects_only_deletes_are_checked() -> None:
    _plan(9, update=9).raise_if_unsafe(Thresholds())
    with pytest.raises(UnsafePlanError):
        _plan(10, update=9).raise_if_unsafe(Thresholds())
    _plan(10, update=9).raise_if_unsafe(Thresholds(min_existing=11))
    _plan(5, delete=1).raise_if_unsafe(Thresholds())  # 20 %
    with pytest.raises(UnsafePlanError, match="delete 2 of 5"):
        _plan(5, delete=2).raise_if_unsafe(Thresholds())


def test_creates_never_count_against_the_thresholds() -> None:
    _plan(10, create=50).raise_if_unsafe(Thresholds())
    with pytest.raises(UnsafePlanError, match="delete"):
        _plan(10, update=3, delete=5).raise_if_unsafe(Thresholds(max_update_share=0.3))


# -- numbers in reasons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-1234.5, "-1,234.5"),
        (-0.25, "-0.25"),
        (1234.5, "1,234.5"),
        (-2400.0, "-2,400"),
        (-7, "-7"),
        (1234567, "1,234,567"),
        (0.1, "0.1"),
    ],
)
def test_reason_numbers_keep_their_sign_and_separators(value: float, text: str) -> None:
    assert format_number(value) == text


# -- survivors of the mutation run (docs/testing.md) ----------------------------------------------


def test_a_reactivated_alert_says_who_gets_mail_again() -> None:
    plan = plan_for(live_state([managed_card()], [managed_alert(active=False)]))
    (change,) = plan.changes
    assert [(f.field, f.old, f.new) for f in change.fields] == [("active", False, True)]
    assert change.alert is not None and change.alert.index == 0
    (effect,) = change.effects
    assert effect.startswith("Metabase e-mails ") and "were added to an alert" in effect
    for who in ("pm@example.com", "ds@example.com", "outsider@example.org"):
        assert who in effect


def test_a_recipient_change_mails_only_the_difference() -> None:
    changed = YAML.replace("ds@example.com, ", "lead@example.com, ")
    (change,) = plan_for(live_state([managed_card()], [managed_alert()]), changed).changes
    assert change.effects == (
        "Metabase e-mails lead@example.com that they were added to an alert",
        "Metabase e-mails ds@example.com that they were removed from an alert",
    )


def test_an_unknown_creator_is_named_by_id() -> None:
    theirs = managed_alert(nid=30, creator=99, cron="0 0 7 * * ? *")
    plan = plan_for(live_state([managed_card()], [managed_alert(), theirs]))
    note = next(u for u in plan.unmanaged if "alert #30" in u.address)
    assert "created by user #99 (an API key, or a deactivated user)" in note.reason


def test_field_changes_are_json_ready() -> None:
    from metabase_guard.reconcile.plan import FieldChange

    assert FieldChange("email", ("a@x", "b@x"), ("a@x",)).to_dict() == {
        "field": "email", "old": ["a@x", "b@x"], "new": ["a@x"]}
    assert FieldChange("goal", 2400.0, 2400.5).to_dict() == {
        "field": "goal", "old": 2400, "new": 2400.5}


def _notification(handlers: list[dict[str, object]], **payload: object) -> object:
    from metabase_guard.api.models import Notification

    body: dict[str, object] = {
        "id": 40, "payload_type": "notification/card", "active": True, "creator_id": 1,
        "subscriptions": [{"id": 1, "type": "notification-subscription/cron",
                           "cron_schedule": "0 30 8 ? * MON-FRI"}],
        "handlers": handlers,
    }
    if payload:
        body["payload"] = {"id": 1, "card_id": 10, **payload}
    return Notification.model_validate(body)


def test_a_live_alert_is_read_back_in_names() -> None:
    from metabase_guard.api.models import Channel
    from metabase_guard.reconcile.alerts import alert_view_of

    live = live_state()
    live.webhooks.append(Channel(id=9, name="opsgenie"))
    user = "notification-recipient/user"
    handlers: list[dict[str, object]] = [
        {"id": 1, "channel_type": "channel/http", "channel_id": 9, "recipients": []},
        {"id": 2, "channel_type": "channel/http", "channel_id": 77, "recipients": []},
        {"id": 3, "channel_type": "channel/email", "active": False, "recipients": [
            {"id": 1, "type": "notification-recipient/raw-value",
             "details": {"value": "inactive@example.com"}}]},
        {"id": 4, "channel_type": "channel/email", "recipients": [
            {"id": 2, "type": user, "user_id": PM.id},
            {"id": 3, "type": user, "user_id": 50, "user": {"email": "Gone@Example.com"}},
            {"id": 4, "type": user, "user_id": 51},
            {"id": 5, "type": "notification-recipient/raw-value",
             "details": {"value": "Outsider@Example.ORG"}},
            {"id": 6, "type": "notification-recipient/group", "permissions_group_id": 3},
            {"id": 7, "type": "notification-recipient/group", "permissions_group_id": 8}]},
        {"id": 5, "channel_type": "channel/slack", "recipients": [
            {"id": 8, "type": "notification-recipient/raw-value",
             "details": {"value": "#ML-alerts"}},
            {"id": 9, "type": "notification-recipient/raw-value", "details": {}}]},
    ]
    view = alert_view_of(_notification(handlers, send_condition="goal_above",  # type: ignore[arg-type]
                                       send_once=True), live)
    assert view.webhook == ("#77", "opsgenie")
    assert view.email == ("gone@example.com", "outsider@example.org", "pm@example.com",
                          "user#51")
    assert view.groups == ("Data team", "group#8")
    assert view.slack == ("#ML-alerts", "?")
    assert (view.when, view.once) == ("above_goal", True)
    assert view.schedule == "0 30 8 ? * MON-FRI *"


def test_a_live_alert_without_payload_or_valid_cron() -> None:
    from metabase_guard.api.models import Notification
    from metabase_guard.reconcile.alerts import alert_view_of

    raw = Notification.model_validate({
        "id": 41, "payload_type": "notification/card", "active": True, "creator_id": 1,
        "subscriptions": [{"id": 1, "type": "notification-subscription/cron",
                           "cron_schedule": None},
                          {"id": 2, "type": "notification-subscription/cron",
                           "cron_schedule": "not a cron"},
                          {"id": 3, "type": "notification-subscription/cron",
                           "cron_schedule": "0 0 9 * * ?"}],
        "handlers": [],
    })
    view = alert_view_of(raw, live_state())
    assert (view.when, view.once, view.schedule) == ("has_rows", False, "not a cron")


@pytest.mark.parametrize(
    ("old", "new", "kills"),
    [("table", "progress", True), ("progress", "line", True), ("scalar", "table", False),
     ("area", "bar", False), ("progress", "progress", False), ("line", "scalar", True)],
)
def test_display_families(old: str, new: str, kills: bool) -> None:
    from metabase_guard.reconcile.cards import display_family

    assert (card_change_deletes_alerts(old, new, {}, {}) is not None) is kills
    assert display_family("bar") == display_family("line") != display_family("table")
    assert display_family("progress") not in (display_family("bar"), display_family("table"))


def _alert(nid: int, cron: str, condition: str) -> object:
    from metabase_guard.api.models import Notification

    body = managed_alert(nid=nid, cron=cron).model_dump()
    body["payload"]["send_condition"] = condition
    return Notification.model_validate(body)


TWO_ALERTS = YAML.replace('''        slack: ["#ml-alerts"]
''', '''        slack: ["#ml-alerts"]
      - when: has_rows
        schedule: {every: day, at: "07:00"}
        email: [pm@example.com, ds@example.com, outsider@example.org]
        slack: ["#ml-alerts"]
''')


def test_equal_live_alerts_are_paired_before_any_other_rule() -> None:
    # two has_rows alerts; the daily one comes first by id, the weekly one is declared first:
    # pairing by condition or order would swap their schedules
    live = live_state([managed_card()], [_alert(20, "0 0 7 * * ? *", "has_result"),  # type: ignore[list-item]
                                         _alert(21, "0 0 9 ? * 2", "has_result")])
    plan = plan_for(live, TWO_ALERTS.replace("when: below_goal", "when: has_rows"))
    assert plan.is_empty, [c.to_dict() for c in plan.changes]


def test_same_condition_is_paired_before_order() -> None:
    # both schedules changed: pairing by condition changes only the schedules
    live = live_state([managed_card()], [_alert(20, "0 0 6 * * ? *", "has_result"),  # type: ignore[list-item]
                                         _alert(21, "0 0 8 ? * 2", "goal_below")])
    plan = plan_for(live, TWO_ALERTS)
    assert sorted((c.live_id, tuple(f.field for f in c.fields)) for c in plan.changes) == [
        (20, ("schedule",)), (21, ("schedule",))]


def test_the_goal_label_counts_only_with_a_goal() -> None:
    relabelled = YAML.replace("label: Minimum per week", "label: Floor")
    (change,) = plan_for(live_state([managed_card()], [managed_alert()]), relabelled).changes
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("goal_label", "Minimum per week", "Floor")]
    no_goal = (YAML.replace("    goal: {value: 2400, label: Minimum per week}\n", "")
               .replace("when: below_goal", "when: has_rows"))
    card = next(c for c in plan_for(live_state([managed_card()], [managed_alert()]),
                                     no_goal).changes if c.kind == "card")
    assert [f.field for f in card.fields] == ["goal"]  # no goal_label change of its own


def test_a_live_card_is_read_back_in_names() -> None:
    from metabase_guard.api.models import Card
    from metabase_guard.reconcile.cards import card_view_of

    live = live_state()

    def view(**body: object) -> object:
        base: dict[str, object] = {"id": 1, "name": "c", "display": "bar", "collection_id": 6,
                                   "database_id": 1, "dataset_query": {}}
        return card_view_of(Card.model_validate({**base, **body}), live)

    mbql = view(dataset_query={"type": "query", "database": 1, "query": {"source-table": 3}})
    assert (mbql.sql, mbql.database, mbql.description) == (  # type: ignore[attr-defined]
        "(not a native SQL query)", "Warehouse", "")
    assert view(database_id=9).database == "#9"  # type: ignore[attr-defined]
    native = managed_card(card_id=2, database_id=None).model_dump()
    native["dataset_query"]["database"] = 9
    assert card_view_of(Card.model_validate(native), live).database == "#9"
    progress = view(display="progress", visualization_settings={"progress.goal": 30,
                                                                "graph.goal_label": "x"})
    assert (progress.goal, progress.goal_label) == (30.0, None)  # type: ignore[attr-defined]
    hidden = view(visualization_settings={"graph.goal_value": 5, "graph.show_goal": False})
    assert (hidden.goal, hidden.goal_label) == (None, None)  # type: ignore[attr-defined]
    shown = view(visualization_settings={"graph.goal_value": 5, "graph.show_goal": True,
                                         "graph.dimensions": ["week"],
                                         "graph.metrics": ["n", "m"]})
    assert (shown.goal, shown.goal_label) == (5.0, "Goal")  # type: ignore[attr-defined]
    assert (shown.dimension, shown.metric) == ("week", None)  # type: ignore[attr-defined]
    table = view(display="table", visualization_settings={"graph.goal_value": 5})
    assert (table.goal, table.goal_label) == (5.0, "Goal")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("stored", "goal"), [(True, None), (False, None), ("2400", 2400.0),
                                              ("2,400", None), (None, None), ([5], None)])
def test_a_stored_goal_is_a_number_only_when_it_reads_as_one(stored: object,
                                                             goal: float | None) -> None:
    from metabase_guard.api.models import Card
    from metabase_guard.reconcile.cards import card_view_of

    card = Card.model_validate({"id": 1, "name": "c", "display": "progress", "database_id": 1,
                                "dataset_query": {}, "visualization_settings": {
                                    "progress.goal": stored}})
    assert card_view_of(card, live_state()).goal == goal


def test_a_card_without_a_database_id_is_said_to_have_none() -> None:
    from metabase_guard.api.models import Card
    from metabase_guard.reconcile.cards import card_view_of

    # the snapshot's one database has id 1: no fallback id may land on it
    card = Card.model_validate({"id": 1, "name": "c", "display": "table", "database_id": None,
                                "dataset_query": {"type": "query", "query": {}}})
    assert card_view_of(card, live_state()).database == "#None"


def test_marker_edge_cases_of_the_merged_identity_rules() -> None:
    marker_only = compose_description("", "k")
    assert marker_only == compose_description(None, "k")
    assert marker_only.startswith("[metabase-guard: k] ")
    assert managed_key(compose_description("x", "k") + "\n  \n") == "k"  # trailing blank lines
    quoted = "[metabase-guard: a] [metabase-guard: b] [metabase-guard: c] are ours"
    assert mentioned_key(quoted) == "c"


def test_copies_are_retired_without_counting_against_the_thresholds() -> None:
    copies = [Change(action="delete", kind="alert", address=f"alert k#{i}", duplicate=True)
              for i in range(8)]
    plan = Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=copies,
                      existing=10)
    plan.raise_if_unsafe(Thresholds())
    assert plan.changes[0].to_dict()["duplicate"] is True
    assert "duplicate" not in _plan(10, delete=1).changes[0].to_dict()


def test_retiring_everything_always_needs_force() -> None:
    with pytest.raises(UnsafePlanError, match=r"delete all 2 managed object\(s\) \(100%\)"):
        _plan(2, delete=2).raise_if_unsafe(Thresholds(max_delete_share=1.0))
    # an archived card takes its alerts along: they count as retired objects
    card = Change(action="delete", kind="card", address="card k", retires=3)
    many = Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=[card],
                      existing=10)
    many.raise_if_unsafe(Thresholds())  # 3 of 10
    heavy = Change(action="delete", kind="card", address="card k", retires=4)
    with pytest.raises(UnsafePlanError, match="delete 4 of 10"):
        Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=[heavy],
                   existing=10).raise_if_unsafe(Thresholds())
