"""The planner on its own: declarations and a hand-built snapshot, no server."""

from __future__ import annotations

from typing import Any

import pytest

from metabase_guard.api.models import (
    Card,
    Channel,
    Collection,
    Database,
    Notification,
    PermissionGroup,
    User,
    parse_version,
)
from metabase_guard.errors import ResolveError, UnsafePlanError
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.identity import compose_description, managed_key
from metabase_guard.reconcile.kind import Defaults
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Thresholds
from metabase_guard.reconcile.walk import make_plan
from metabase_guard.spec.loader import load_text

ME = User(id=2, email="api-key-user-x@api-key.invalid", first_name="guard", is_superuser=True)
PM = User(id=3, email="pm@example.com", first_name="Priya")
DS = User(id=4, email="ds@example.com", first_name="Dan")

YAML = """
questions:
  - key: weekly-recommendations
    name: Recommendations pushed last week
    description: The recommender must push at least 2,400 recommendations every week.
    collection: Health checks/Recommender
    database: Warehouse
    sql: |
      SELECT week, recommendations FROM weekly
    display: bar
    metric: recommendations
    goal: {value: 2400, label: Minimum per week}
    alerts:
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:00"}
        email: [pm@example.com, ds@example.com, outsider@example.org]
        slack: ["#ml-alerts"]
"""


def live_state(cards: list[Card] | None = None, notifications: list[Notification] | None = None,
               collections: list[Collection] | None = None) -> LiveState:
    return LiveState(
        version=parse_version("v0.61.2"),
        report_timezone="Europe/Berlin",
        me=ME,
        cards=cards or [],
        archived_cards=[],
        collections=collections if collections is not None else [
            Collection(id="root", name="Our analytics"),
            Collection(id=5, name="Health checks", location="/"),
            Collection(id=6, name="Recommender", location="/5/"),
        ],
        notifications=notifications or [],
        databases=[Database(id=1, name="Warehouse", engine="postgres")],
        users=[ME, PM, DS],
        groups=[PermissionGroup(id=1, name="All Users"), PermissionGroup(id=3, name="Data team")],
        webhooks=[Channel(id=1, name="pagerduty")],
        email_configured=True,
        slack_configured=True,
        slack_channels=("#general", "#ml-alerts"),
    )


def managed_card(card_id: int = 10, goal: float = 2400, **extra: Any) -> Card:
    body: dict[str, Any] = {
        "id": card_id,
        "name": "Recommendations pushed last week",
        "description": compose_description(
            "The recommender must push at least 2,400 recommendations every week.",
            "weekly-recommendations"),
        "display": "bar",
        "collection_id": 6,
        "creator_id": ME.id,
        "dataset_query": {"lib/type": "mbql/query", "database": 1, "stages": [
            {"lib/type": "mbql.stage/native", "native": "SELECT week, recommendations FROM weekly",
             "lib/uuid": "x"}]},
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": goal,
                                   "graph.goal_label": "Minimum per week",
                                   "graph.metrics": ["recommendations"], "column_settings": {}},
    }
    body.update(extra)
    return Card.model_validate(body)


def managed_alert(nid: int = 20, card_id: int = 10, creator: int = ME.id,
                  cron: str = "0 0 9 ? * 2", active: bool = True) -> Notification:
    # recipients deliberately in another order and the cron in another spelling (6 fields, 2=MON)
    return Notification.model_validate({
        "id": nid, "payload_type": "notification/card", "active": active, "creator_id": creator,
        "payload": {"id": nid + 100, "card_id": card_id, "send_condition": "goal_below",
                    "send_once": False},
        "subscriptions": [{"id": 1, "type": "notification-subscription/cron",
                           "cron_schedule": cron}],
        "handlers": [
            {"id": 2, "channel_type": "channel/slack", "recipients": [
                {"id": 3, "type": "notification-recipient/raw-value",
                 "details": {"value": "#ml-alerts"}}]},
            {"id": 4, "channel_type": "channel/email", "recipients": [
                {"id": 5, "type": "notification-recipient/raw-value",
                 "details": {"value": "outsider@example.org"}},
                {"id": 6, "type": "notification-recipient/user", "user_id": DS.id},
                {"id": 7, "type": "notification-recipient/user", "user_id": PM.id}]},
        ],
    })


def plan_for(live: LiveState, yaml_text: str = YAML, prune: bool = False):  # type: ignore[no-untyped-def]
    decls = load_text(yaml_text, "alerts/recommender.yaml")
    return make_plan(resolve(decls, live), live, url="http://mb", prune=prune)


def test_empty_instance_plans_collections_card_and_alert_in_order() -> None:
    plan = plan_for(live_state(collections=[Collection(id="root", name="Our analytics")]))
    assert [(c.action, c.address) for c in plan.changes] == [
        ("create", "collection Health checks"),
        ("create", "collection Health checks/Recommender"),
        ("create", "card weekly-recommendations"),
        ("create", "alert 1 of weekly-recommendations"),
    ]
    alert = plan.changes[-1]
    assert any("pm@example.com" in e for e in alert.effects)


def test_state_equal_to_declarations_plans_nothing_despite_order_and_cron_spelling() -> None:
    plan = plan_for(live_state([managed_card()], [managed_alert()]))
    assert plan.is_empty, [c.to_dict() for c in plan.changes]


def test_goal_change_is_a_field_update() -> None:
    plan = plan_for(live_state([managed_card(goal=2000)], [managed_alert()]))
    assert len(plan.changes) == 1
    change = plan.changes[0]
    assert (change.action, change.kind, change.live_id) == ("update", "card", 10)
    assert [(f.field, f.old, f.new) for f in change.fields] == [("goal", 2000.0, 2400.0)]
    assert change.effects == ()


def test_display_change_across_families_says_metabase_deletes_alerts_and_recreates() -> None:
    yaml_text = YAML.replace("display: bar", "display: line")
    assert plan_for(live_state([managed_card()], [managed_alert()]), yaml_text).count("create") == 0
    table = YAML.replace("display: bar", "display: progress")
    plan = plan_for(live_state([managed_card()], [managed_alert()]), table)
    card = next(c for c in plan.changes if c.kind == "card")
    assert any("Metabase deletes all 1 active alert" in e for e in card.effects)
    assert [c.action for c in plan.changes if c.kind == "alert"] == ["create"]


def test_hand_made_alert_on_managed_card_is_left_alone() -> None:
    theirs = managed_alert(nid=30, creator=PM.id, cron="0 0 7 * * ? *")
    plan = plan_for(live_state([managed_card()], [managed_alert(), theirs]), prune=True)
    assert plan.is_empty
    assert any("alert #30" in u.address and "pm@example.com" in u.reason for u in plan.unmanaged)


def test_hand_made_card_with_same_name_is_not_adopted() -> None:
    hand = managed_card(card_id=11, description="made by hand")
    plan = plan_for(live_state([hand]))
    planned = [(c.action, c.address) for c in plan.changes]
    assert ("create", "card weekly-recommendations") in planned
    assert all(c.live_id != 11 for c in plan.changes)
    assert any(u.address == "card #11" and "import --card 11" in u.reason for u in plan.unmanaged)


def test_undeclared_managed_objects_are_deleted_only_with_prune() -> None:
    extra = managed_alert(nid=21, cron="0 0 10 * * ? *")
    live = live_state([managed_card()], [managed_alert(), extra])
    kept = plan_for(live)
    assert kept.is_empty and [c.live_id for c in kept.pending_deletes] == [21]
    pruned = plan_for(live, prune=True)
    assert [(c.action, c.kind, c.live_id) for c in pruned.changes] == [("delete", "alert", 21)]


def test_removed_declaration_archives_card_only_with_prune() -> None:
    other = managed_card(card_id=12, description=compose_description(None, "gone"))
    live = live_state([managed_card(), other], [managed_alert()])
    assert plan_for(live).is_empty
    pruned = plan_for(live, prune=True)
    assert [(c.action, c.address) for c in pruned.changes] == [("delete", "card gone")]


def test_inactive_alert_of_ours_is_reactivated_unless_send_once() -> None:
    plan = plan_for(live_state([managed_card()], [managed_alert(active=False)]))
    assert [(f.field, f.new) for f in plan.changes[0].fields] == [("active", True)]


def test_unknown_names_are_one_resolve_error_listing_what_exists() -> None:
    bad = YAML.replace("database: Warehouse", "database: Warehose").replace(
        '"#ml-alerts"', '"#nope"')
    with pytest.raises(ResolveError) as info:
        plan_for(live_state(), bad)
    text = str(info.value)
    assert "alerts/recommender.yaml:" in text
    assert "did you mean 'Warehouse'" in text and "#general" in text
    assert len(info.value.problems) == 2


def test_defaults_prefix_collection_and_add_recipients() -> None:
    decls = load_text(YAML, "a.yaml")
    live = live_state(collections=[Collection(id="root", name="Our analytics")])
    desired = resolve(decls, live, Defaults(collection="Ops", email=("oncall@example.com",)))
    assert desired[0].collection_path == ("Ops", "Health checks", "Recommender")
    assert "oncall@example.com" in desired[0].alerts[0].view.email


@pytest.mark.parametrize(("default", "path"), [("Ops", ("Ops",)), (None, ())])
def test_a_question_without_a_collection_goes_to_the_default_collection(
    default: str | None, path: tuple[str, ...],
) -> None:
    """docs/declarations.md: an absent ``collection`` is the configured default collection
    itself (the root collection without one), not a collection under it."""
    decls = load_text(YAML.replace("    collection: Health checks/Recommender\n", ""), "a.yaml")
    assert decls.questions[0].collection is None
    (card,) = resolve(decls, live_state(), Defaults(collection=default))
    assert (card.collection_path, card.view.collection) == (path, "/".join(path))


def test_thresholds_stop_mass_updates() -> None:
    cards = [managed_card(card_id=100 + i, goal=1,
                          description=compose_description(None, f"q{i}")) for i in range(12)]
    yaml_text = "questions:\n" + "".join(
        f"  - key: q{i}\n    name: Recommendations pushed last week\n"
        "    collection: Health checks/Recommender\n    database: Warehouse\n"
        "    sql: SELECT week, recommendations FROM weekly\n    display: bar\n"
        "    metric: recommendations\n    goal: {value: 2, label: Minimum per week}\n"
        for i in range(12))
    plan = plan_for(live_state(cards), yaml_text)
    assert plan.count("update") == 12
    with pytest.raises(UnsafePlanError, match="12 of 12"):
        plan.raise_if_unsafe(Thresholds())
    plan.raise_if_unsafe(Thresholds(max_update_share=1.0))


def test_checksum_is_stable_and_sensitive() -> None:
    live = live_state([managed_card(goal=2000)], [managed_alert()])
    assert plan_for(live).checksum == plan_for(live).checksum
    other = live_state([managed_card(goal=2100)], [managed_alert()])
    assert plan_for(live).checksum != plan_for(other).checksum


def test_marker_round_trip() -> None:
    text = compose_description("Hello", "my-key")
    assert managed_key(text) == "my-key"
    assert managed_key("no marker") is None
    assert managed_key(None) is None


def test_card_whose_mark_was_removed_is_reported_plainly() -> None:
    unmarked = managed_card(description="The recommender must push ...", collection_id=5)
    plan = plan_for(live_state([unmarked], [managed_alert()]))
    assert ("create", "card weekly-recommendations") in [(c.action, c.address)
                                                         for c in plan.changes]
    note = next(u for u in plan.unmanaged if u.address == "card #10")
    assert "mark was probably removed by hand" in note.reason
    assert "import --card 10" in note.reason


def test_prune_never_archives_a_marked_card_this_user_did_not_create() -> None:
    other_project = managed_card(card_id=13, description=compose_description(None, "theirs"),
                                 creator_id=PM.id)
    pruned = plan_for(live_state([managed_card(), other_project], [managed_alert()]), prune=True)
    assert pruned.is_empty
    note = next(u for u in pruned.unmanaged if u.address == "card #13")
    assert "never archived from here" in note.reason and "pm@example.com" in note.reason


def test_ambiguous_database_name_and_default_slack_channels_are_checked() -> None:
    live = live_state()
    live.databases.append(Database(id=2, name="Warehouse", engine="snowflake"))
    decls = load_text(YAML, "a.yaml")
    with pytest.raises(ResolveError) as info:
        resolve(decls, live, Defaults(slack=("#nowhere",)))
    text = str(info.value)
    assert "2 databases are named 'Warehouse'" in text
    assert "'#nowhere'" in text and "defaults.slack" in text


def test_a_saved_plan_that_retires_race_copies_renders_again() -> None:
    from metabase_guard.reconcile.plan import Change, Plan
    from metabase_guard.render.show import plan_from_dict

    copy = Change("delete", "card", "card weekly#12", key="weekly", live_id=12, duplicate=True)
    saved = Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=[copy],
                       existing=3).to_dict()
    again = plan_from_dict(saved)  # refused as hand-edited when `duplicate` was dropped
    assert again.changes[0].duplicate is True
    assert again.checksum == saved["checksum"]
