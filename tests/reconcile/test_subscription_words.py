"""The subscription kind's words and pure rules, whole: schedules, views, pairing, resolving.

No server: ``reconcile/subscriptions.py`` on hand-built pulses and snapshots, every message and
view pinned word for word (a mutation review found them checked only in part).
"""

from __future__ import annotations

from typing import Any

import pytest

from metabase_guard.api.models import Dashboard, Pulse, PulseChannel
from metabase_guard.errors import Problem
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.kind import Defaults, Desired
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.reconcile.subscriptions import (
    KIND,
    DesiredSubscription,
    SubscriptionView,
    _other_channel,
    _pair,
    _stop_effect,
    _summary,
    pulse_words,
    view_of_pulse,
)
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_dashboard_words import KEY, PLAN_YAML, SECOND, _ours, _plan
from tests.reconcile.test_plan_pure import ME, PM, live_state, managed_alert, managed_card


@pytest.mark.parametrize(("fields", "words"), [
    ({"schedule_type": "hourly", "schedule_hour": 8}, "hourly"),
    ({"schedule_type": "daily", "schedule_hour": 7}, "daily at 07:00"),
    ({"schedule_type": "daily", "schedule_hour": None}, "daily"),
    ({"schedule_type": "weekly", "schedule_hour": 8, "schedule_day": "mon"},
     "weekly on monday at 08:00"),
    ({"schedule_type": "weekly", "schedule_hour": 18, "schedule_day": "sun"},
     "weekly on sunday at 18:00"),
    ({"schedule_type": "weekly", "schedule_day": "someday"}, "weekly on someday"),
    ({"schedule_type": "monthly", "schedule_hour": 9, "schedule_frame": "first"},
     "monthly on the first day at 09:00"),
    ({"schedule_type": "monthly", "schedule_hour": 9, "schedule_frame": "mid"},
     "monthly on the 15th day at 09:00"),
    ({"schedule_type": "monthly", "schedule_hour": 9, "schedule_frame": "last",
      "schedule_day": "fri"}, "monthly on the last friday at 09:00"),
    ({"schedule_type": "monthly", "schedule_frame": "odd"}, "monthly on ? day"),
    ({"schedule_type": "yearly"}, "schedule yearly"),
    ({}, "schedule None"),
])
def test_pulse_words(fields: dict[str, Any], words: str) -> None:
    assert pulse_words(fields) == words


def _channel(**body: Any) -> dict[str, Any]:
    return {"channel_type": "email", "enabled": True, "schedule_type": "weekly",
            "schedule_hour": 8, "schedule_day": "mon", **body}


def _pulse(pulse_id: int = 60, channels: list[dict[str, Any]] | None = None,
           cards: list[dict[str, Any]] | None = None, **extra: Any) -> Pulse:
    return Pulse.model_validate({
        "id": pulse_id, "dashboard_id": 40, "creator_id": ME.id,
        "channels": channels if channels is not None else [_channel(recipients=[
            {"id": PM.id, "email": "PM@Example.com"}, {"email": "ds@example.com"},
            {"email": "pm@example.com"}, {"id": 9}])],
        "cards": cards if cards is not None else [], **extra})


def test_view_of_an_email_pulse_lowers_sorts_and_dedups_its_addresses() -> None:
    view = view_of_pulse(_pulse(skip_if_empty=True), {}, {})
    assert view == SubscriptionView("email", "weekly on monday at 08:00",
                                    ("ds@example.com", "pm@example.com"), True, (), True)


def test_view_of_a_slack_pulse_and_of_one_with_a_second_channel() -> None:
    slack = _channel(channel_type="slack", details={"channel": "#ml-alerts"}, enabled=False)
    view = view_of_pulse(_pulse(channels=[slack]), {}, {})
    assert view is not None
    assert (view.channel, view.recipients, view.enabled) == ("slack", ("#ml-alerts",), False)
    nameless = view_of_pulse(_pulse(channels=[_channel(channel_type="slack")]), {}, {})
    assert nameless is not None and nameless.recipients == ()
    both = _pulse(channels=[{"channel_type": "http"}, _channel(recipients=[{"email": "a@b.c"}]),
                            _channel(channel_type="slack", details={"channel": "#data"}),
                            _channel(channel_type="slack")])
    view = view_of_pulse(both, {}, {})
    assert view is not None
    assert view.recipients == ("a@b.c", "(also a http channel)", "(also a slack channel)",
                               "(also a slack channel: #data)")


def test_a_pulse_without_email_or_slack_has_no_view() -> None:
    assert view_of_pulse(_pulse(channels=[{"channel_type": "http"}]), {}, {}) is None
    assert view_of_pulse(_pulse(channels=[]), {}, {}) is None


def test_view_labels_each_card_ref_by_key_dashcard_and_attachment() -> None:
    cards = [
        {"id": 10, "dashboard_card_id": 51},
        {"id": 11, "dashboard_card_id": 52},
        {"id": 12, "dashboard_card_id": 99, "include_csv": True},
        {"id": 13, "dashboard_card_id": 53, "include_xls": True},
        {"dashboard_card_id": 54},
    ]
    view = view_of_pulse(_pulse(cards=cards), {10: "weekly", 12: "daily"},
                         {10: 51, 11: 52, 12: 50, 13: 53})
    assert view is not None
    assert view.cards == ("? (dashcard #54)", "card #11", "card #13 (with attachment)",
                          "daily (dashcard #99) (with attachment)", "weekly")


def test_other_channel_words() -> None:
    assert _other_channel(PulseChannel(channel_type="slack", details={"channel": "#x"})) == (
        "(also a slack channel: #x)")
    assert _other_channel(PulseChannel(channel_type="email", details={"channel": "#x"})) == (
        "(also a email channel)")


def _view(channel: str = "email", recipients: tuple[str, ...] = ("pm@example.com",),
          schedule: str = "weekly on monday at 08:00") -> SubscriptionView:
    return SubscriptionView(channel, schedule, recipients, False, ("weekly",))


def test_summary_and_stop_effect_words() -> None:
    address = "subscription recommender-health email"
    assert _summary(address, _view()) == (
        "subscription recommender-health email weekly on monday at 08:00 -> pm@example.com")
    assert _summary(address, _view(recipients=())) == (
        "subscription recommender-health email weekly on monday at 08:00 -> nobody")
    slack = _view("slack", ("#ml-alerts",))
    assert _summary("subscription recommender-health slack #ml-alerts", slack) == (
        "subscription recommender-health slack #ml-alerts weekly on monday at 08:00")
    assert _summary("subscription recommender-health#61 slack", slack) == (
        "subscription recommender-health#61 slack weekly on monday at 08:00 -> #ml-alerts")
    assert _summary("subscription x slack", _view("slack", ())) == (
        "subscription x slack weekly on monday at 08:00 -> nobody")
    assert _stop_effect(slack) == "Metabase stops posting the dashboard to #ml-alerts"
    assert _stop_effect(_view(recipients=("a@b.c", "pm@example.com"))) == (
        "Metabase stops e-mailing the dashboard to a@b.c, pm@example.com")
    assert _stop_effect(_view(recipients=())) == "Metabase stops e-mailing the dashboard to nobody"


def test_view_as_dict_lists_the_tuples() -> None:
    assert _view().as_dict() == {
        "channel": "email", "schedule": "weekly on monday at 08:00",
        "recipients": ["pm@example.com"], "skip_if_empty": False, "cards": ["weekly"],
        "enabled": True}


def _desired(channel: str = "email", recipients: tuple[str, ...] = ("pm@example.com",),
             hour: int = 8, index: int = 0, **extra: Any) -> DesiredSubscription:
    schedule = (("schedule_type", "weekly"), ("schedule_hour", hour), ("schedule_day", "mon"),
                ("schedule_frame", None))
    return DesiredSubscription("recommender-health", index, channel, schedule, recipients,
                               extra.pop("user_ids", ()), False, ("weekly", "daily"),
                               f"subscription {index}", **extra)


def test_desired_view_and_channel_bodies() -> None:
    want = _desired(recipients=("ds@example.com", "pm@example.com"),
                    user_ids=(("pm@example.com", PM.id),))
    assert want.view() == SubscriptionView("email", "weekly on monday at 08:00",
                                           ("ds@example.com", "pm@example.com"), False,
                                           ("daily", "weekly"))
    assert want.channel_body() == {
        "channel_type": "email", "enabled": True, "schedule_type": "weekly",
        "schedule_hour": 8, "schedule_day": "mon", "schedule_frame": None, "details": {},
        "recipients": [{"email": "ds@example.com"}, {"id": PM.id}]}
    assert _desired("slack", ("#ml-alerts",)).channel_body() == {
        "channel_type": "slack", "enabled": True, "schedule_type": "weekly",
        "schedule_hour": 8, "schedule_day": "mon", "schedule_frame": None, "recipients": [],
        "details": {"channel": "#ml-alerts"}}


def _live(pulse_id: int, view: SubscriptionView) -> tuple[Pulse, SubscriptionView]:
    return _pulse(pulse_id), view


def test_pair_prefers_equal_then_recipients_then_schedule_then_order() -> None:
    a = _desired(recipients=("a@x.io",), index=0)
    b = _desired(recipients=("b@x.io",), hour=9, index=1)
    c = _desired(recipients=("c@x.io",), hour=10, index=2)
    d = _desired(recipients=("d@x.io",), hour=11, index=3)
    s = _desired("slack", ("#ml-alerts",), index=4)
    equal_c = _live(70, c.view())
    target_b = _live(71, _view(recipients=("b@x.io",), schedule="daily"))
    sched_d = _live(72, _view(recipients=("z@x.io",), schedule="weekly on monday at 11:00"))
    anything = _live(73, _view(recipients=("y@x.io",), schedule="hourly"))
    later = _live(74, _view(recipients=("q@x.io",), schedule="hourly"))
    slack_other = _live(69, _view("slack", ("#other",), schedule="hourly"))
    pairs, creates, leftovers = _pair([a, b, c, d, s],
                                      [later, anything, sched_d, target_b, equal_c, slack_other])
    assert [(w.index, p.id) for w, p, _ in pairs] == [(2, 70), (1, 71), (3, 72), (0, 73), (4, 69)]
    assert creates == []
    assert [p.id for p, _ in leftovers] == [74]


def test_pair_never_crosses_channels() -> None:
    pairs, creates, leftovers = _pair([_desired("slack", ("#a",))], [_live(80, _view())])
    assert pairs == [] and [c.channel for c in creates] == ["slack"]
    assert [p.id for p, _ in leftovers] == [80]


DASH = """
questions:
  - key: weekly
    name: Weekly
    database: Warehouse
    sql: SELECT 1
dashboards:
  - key: recommender-health
    name: Recommender health
    cards:
      - heading: Top
      - weekly
    subscriptions:
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [zed@example.org, PM@example.com]
        slack: ["#ml-alerts", "#general"]
        skip_if_empty: true
      - schedule: {every: day, at: "07:00"}
        email: [ds@example.com]
        slack: ["#ml-alerts"]
"""


def _resolved(text: str = DASH, **live_changes: Any
              ) -> tuple[list[DesiredSubscription], list[Problem]]:
    live = live_state()
    for name, value in live_changes.items():
        setattr(live, name, value)
    problems: list[Problem] = []
    decls = load_text(text, "alerts/recommender.yaml")
    got = KIND.resolve(decls, live, Defaults(), problems, Desired())
    return list(got.subscriptions), problems


def test_resolve_makes_one_pulse_per_email_list_and_per_slack_channel() -> None:
    subs, problems = _resolved()
    assert problems == []
    assert [(s.index, s.channel, s.recipients, s.address) for s in subs] == [
        (0, "email", ("pm@example.com", "zed@example.org"),
         "subscription recommender-health email #1"),
        (0, "slack", ("#ml-alerts",), "subscription recommender-health slack #ml-alerts #1"),
        (0, "slack", ("#general",), "subscription recommender-health slack #general"),
        (1, "email", ("ds@example.com",), "subscription recommender-health email #2"),
        (1, "slack", ("#ml-alerts",), "subscription recommender-health slack #ml-alerts #2"),
    ]
    first = subs[0]
    assert first.user_ids == (("pm@example.com", PM.id),)
    assert first.skip_if_empty is True and subs[3].skip_if_empty is False
    assert first.cards == ("weekly",) and first.dashboard == "recommender-health"
    assert dict(first.schedule) == {"schedule_type": "weekly", "schedule_hour": 8,
                                    "schedule_day": "mon", "schedule_frame": None}
    assert subs[1].user_ids == () and not first.keep_cards


def test_resolve_names_no_number_for_a_single_email_list() -> None:
    one = DASH.replace("        email: [ds@example.com]\n", "")
    subs, _ = _resolved(one)
    assert [s.address for s in subs if s.channel == "email"] == [
        "subscription recommender-health email"]


def test_resolve_says_where_delivery_cannot_work() -> None:
    _, problems = _resolved(email_configured=False, slack_configured=False)
    assert [(p.field, p.message) for p in problems] == [
        ("subscriptions[0].email", "dashboard 'recommender-health': e-mail is not set up on "
         "this Metabase (Admin > Settings > Email), so these subscriptions would never be "
         "delivered"),
        ("subscriptions[0].slack", "dashboard 'recommender-health': Slack is not set up on "
         "this Metabase (Admin > Settings > Notifications), so these subscriptions would never "
         "be delivered"),
        ("subscriptions[1].email", "dashboard 'recommender-health': e-mail is not set up on "
         "this Metabase (Admin > Settings > Email), so these subscriptions would never be "
         "delivered"),
        ("subscriptions[1].slack", "dashboard 'recommender-health': Slack is not set up on "
         "this Metabase (Admin > Settings > Notifications), so these subscriptions would never "
         "be delivered"),
    ]
    assert all(p.file == "alerts/recommender.yaml" and p.line > 0 for p in problems)
    _, problems = _resolved(slack_channels=("#ml-alerts",))
    assert [p.field for p in problems] == ["subscriptions[0].slack[1]"]
    assert problems[0].message.startswith("dashboard 'recommender-health': ")
    assert "#general" in problems[0].message


# -- the plan of the subscriptions of a dashboard, on a hand-built snapshot --------------------

SUBS = PLAN_YAML + """    subscriptions:
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
"""
EMAIL = "subscription recommender-health email"


def _ours_pulse(pulse_id: int = 60, creator: int = ME.id, hour: int = 8,
                channels: list[dict[str, Any]] | None = None,
                dashcard: int = 51) -> Pulse:
    return _pulse(pulse_id, channels if channels is not None else [_channel(
        schedule_hour=hour, recipients=[{"id": PM.id, "email": PM.email}])],
        cards=[{"id": 10, "dashboard_card_id": dashcard}], creator_id=creator)


def _sub_plan(pulses: list[Pulse], text: str = SUBS, prune: bool = False,
              dashboard: Dashboard | None = None) -> Plan:
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [dashboard or _ours()]
    live.pulses = pulses
    return _plan(live, text, prune=prune)


def _sub_changes(plan: Plan) -> list[Change]:
    return [c for c in plan.changes if c.kind == "subscription"]


def test_subscriptions_of_a_new_dashboard_are_created_with_their_summary() -> None:
    live = live_state([managed_card()], [managed_alert()])
    plan = _plan(live, SUBS + """      - schedule: {every: day, at: "07:00"}
        slack: ["#ml-alerts"]
""")
    creates = _sub_changes(plan)
    assert [(c.action, c.address, c.key, c.summary) for c in creates] == [
        ("create", EMAIL, KEY, f"{EMAIL} weekly on monday at 08:00 -> pm@example.com"),
        ("create", "subscription recommender-health slack #ml-alerts", KEY,
         "subscription recommender-health slack #ml-alerts daily at 07:00"),
    ]
    assert creates[0].values == (
        ("channel", "email"), ("schedule", "weekly on monday at 08:00"),
        ("recipients", ["pm@example.com"]), ("skip_if_empty", False),
        ("cards", ["weekly-recommendations"]), ("enabled", True))
    assert isinstance(creates[0].payload, DesiredSubscription)


def test_our_subscription_as_declared_plans_nothing_and_counts_as_existing() -> None:
    plan = _sub_plan([_ours_pulse()])
    assert plan.is_empty, [c.to_dict() for c in plan.changes]
    assert plan.existing == _sub_plan([]).existing + 1


def test_an_edited_subscription_is_an_update_of_the_changed_fields() -> None:
    plan = _sub_plan([_ours_pulse(hour=9, dashcard=77)])
    (change,) = _sub_changes(plan)
    assert (change.action, change.address, change.key, change.live_id) == (
        "update", EMAIL, KEY, 60)
    assert [(f.field, f.old, f.new) for f in change.fields] == [
        ("schedule", "weekly on monday at 09:00", "weekly on monday at 08:00"),
        ("cards", ["weekly-recommendations (dashcard #77)"], ["weekly-recommendations"])]


def test_other_peoples_and_other_channels_subscriptions_are_left_alone() -> None:
    hook = [{"channel_type": "http"}]
    plan = _sub_plan([_ours_pulse(), _ours_pulse(61, creator=PM.id),
                      _ours_pulse(62, channels=hook), _ours_pulse(63, creator=PM.id,
                                                                  channels=hook)])
    assert plan.is_empty
    assert [(u.address, u.reason) for u in plan.unmanaged if u.address.startswith("subs")] == [
        ("subscription #61 on dashboard recommender-health",
         f"created by pm@example.com, not by metabase-guard's user {ME.email}; left alone"),
        ("subscription #62 on dashboard recommender-health",
         "delivers neither by e-mail nor by Slack; left alone"),
        ("subscription #63 on dashboard recommender-health",
         f"created by pm@example.com, not by metabase-guard's user {ME.email}; left alone"),
    ]


def test_an_undeclared_subscription_of_ours_is_archived_with_prune() -> None:
    extra = _ours_pulse(64, hour=6)
    kept = _sub_plan([_ours_pulse(), extra])
    assert kept.is_empty
    assert [c.address for c in kept.pending_deletes] == ["subscription recommender-health#64"]
    (gone,) = _sub_changes(_sub_plan([_ours_pulse(), extra], prune=True))
    assert (gone.action, gone.address, gone.key, gone.live_id) == (
        "delete", "subscription recommender-health#64", KEY, 64)
    assert gone.summary == ("subscription recommender-health#64 email weekly on monday at "
                            "06:00 -> pm@example.com")
    assert gone.effects == ("Metabase stops e-mailing the dashboard to pm@example.com",)
    assert dict(gone.values)["schedule"] == "weekly on monday at 06:00"


def test_on_hand_made_tabs_only_the_questions_found_are_attached() -> None:
    tabs = _ours(tabs=[{"id": 1}], dashcards=[])
    plan = _sub_plan([], dashboard=tabs)
    assert _sub_changes(plan) == []
    said = {u.address: u.reason for u in plan.unmanaged}
    assert said["cards of the subscriptions of dashboard recommender-health"] == (
        "dashboard #40 has tabs made by hand, so its layout is not managed: the cards its "
        "subscriptions attach are left as they are (their schedules and recipients are "
        "managed); remove the tabs in Metabase to manage them")
    assert said[EMAIL] == ("not created: none of its questions is on dashboard #40, whose tabs "
                           "were made by hand")

    shown = _ours(tabs=[{"id": 1}], dashcards=[
        {"id": 51, "card_id": 10, "row": 1, "col": 0, "size_x": 12, "size_y": 6,
         "dashboard_tab_id": 1}])
    (create,) = _sub_changes(_sub_plan([], dashboard=shown))
    assert create.payload.keep_cards and create.payload.cards == ("weekly-recommendations",)
    # a declared question that is not on the tabbed dashboard is not attached
    scalar = ("  - key: total\n    name: Total\n    database: Warehouse\n    sql: SELECT 1\n"
              "    display: scalar\n")
    two = SUBS.replace("\ndashboards:\n", "\n" + scalar + "dashboards:\n").replace(
        "      - weekly-recommendations\n", "      - weekly-recommendations\n      - total\n")
    (create,) = _sub_changes(_sub_plan([], two, dashboard=shown))
    assert create.payload.cards == ("weekly-recommendations",)
    # an update leaves the cards alone: a wrong dashcard is not a change, a schedule is
    (update,) = _sub_changes(_sub_plan([_ours_pulse(hour=9, dashcard=77)], dashboard=shown))
    assert [f.field for f in update.fields] == ["schedule"]
    assert _sub_plan([_ours_pulse(dashcard=77)], dashboard=shown).is_empty


def test_a_problem_is_located_at_its_field_not_at_the_dashboard() -> None:
    _, problems = _resolved(email_configured=False)
    assert problems[0].line == DASH.splitlines().index(
        "        email: [zed@example.org, PM@example.com]") + 1


def test_a_question_new_on_an_existing_dashboard_leaves_the_subscriptions_diffable() -> None:
    scalar = ("  - key: total\n    name: Total\n    database: Warehouse\n    sql: SELECT 1\n"
              "    display: scalar\n")
    text = SUBS.replace("\ndashboards:\n", "\n" + scalar + "dashboards:\n").replace(
        "      - weekly-recommendations\n", "      - weekly-recommendations\n      - total\n")
    (update,) = _sub_changes(_sub_plan([_ours_pulse()], text))
    assert [(f.field, f.new) for f in update.fields] == [
        ("cards", ["total", "weekly-recommendations"])]


def test_subscriptions_of_an_existing_dashboard_are_diffed_after_a_new_one() -> None:
    second = _ours(41, description=compose_description("Key metrics.", "zz-second"),
                   dashcards=[{"id": 61, "card_id": 10, "row": 0, "col": 0, "size_x": 12,
                               "size_y": 6}])
    text = PLAN_YAML + SECOND + """    subscriptions:
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
"""
    pulse = _ours_pulse(hour=9, dashcard=61).model_copy(update={"dashboard_id": 41})
    plan = _sub_plan([pulse], text, dashboard=second)
    assert [(c.action, c.address) for c in _sub_changes(plan)] == [
        ("update", "subscription zz-second email")]


def test_with_slack_off_only_that_is_said_not_each_unknown_channel() -> None:
    _, problems = _resolved(slack_configured=False, slack_channels=("#other",))
    assert [p.field for p in problems] == ["subscriptions[0].slack", "subscriptions[1].slack"]
