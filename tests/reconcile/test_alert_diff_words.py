"""The alert diff's notes, copies and counts in exact words.

Mutation testing (docs/testing.md, the re-run of ``reconcile/alerts.py`` after run H) found
that no test pinned the notes ``Alerts.diff`` writes for a personal login that is not an
admin, the whole change that retires a copy of a declared alert (address, key, values, the mail
it causes), nor the count of managed objects the thresholds measure. Pure: declarations and a
hand-built snapshot.
"""

from __future__ import annotations

import dataclasses

from metabase_guard.api.models import User
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Unmanaged
from tests.reconcile import test_plan_pure as pure

KEY = "weekly-recommendations"
PERSON = User(id=2, email="Guard@Example.com", first_name="Gus", is_superuser=False)


def _as_person(live: LiveState, admin: bool = False) -> LiveState:
    me = PERSON.model_copy(update={"is_superuser": admin})
    return dataclasses.replace(live, me=me, users=[me, pure.PM, pure.DS])


#: The declared alert of YAML and a second one, to create.
TWO = pure.YAML + (
    "      - when: has_rows\n"
    "        schedule: {every: day, at: \"07:00\"}\n"
    "        email: [pm@example.com]\n"
)
#: The declared alert of YAML, live.
ONE_LIVE = ([pure.managed_card()], [pure.managed_alert()])

PERSON_NOTE = (
    "metabase-guard acts as the person Guard@Example.com: alerts this person made by hand on "
    "managed cards count as managed (and --prune deactivates undeclared ones). Use an API key "
    "so that only metabase-guard's own alerts are managed."
)


def test_a_person_who_is_no_admin_is_told_both_notes_with_the_count_of_creates() -> None:
    plan = pure.plan_for(_as_person(pure.live_state(*ONE_LIVE)), TWO)
    assert [(c.action, c.address) for c in plan.changes] == [("create", f"alert 2 of {KEY}")]
    assert plan.notes == (
        PERSON_NOTE,
        "these credentials are not a Metabase admin, so they cannot see alerts that other "
        "users made and that do not mail them: 1 alert(s) to create were checked only against "
        "the alerts these credentials can see",
    )


def test_an_admin_person_gets_only_the_person_note_and_nothing_to_create_says_nothing() -> None:
    live = pure.live_state(*ONE_LIVE)
    assert pure.plan_for(_as_person(live, admin=True)).notes == (PERSON_NOTE,)
    assert pure.plan_for(_as_person(live)).notes == (PERSON_NOTE,)


def test_alerts_by_others_are_unmanaged_in_words_and_not_counted_as_existing() -> None:
    live = pure.live_state([pure.managed_card()], [
        pure.managed_alert(),
        pure.managed_alert(nid=21, active=False, cron="0 0 7 * * ? *"),
        pure.managed_alert(nid=30, creator=pure.PM.id, cron="0 0 8 * * ? *"),
        pure.managed_alert(nid=31, creator=pure.PM.id, active=False, cron="0 0 8 * * ? *"),
    ])
    plan = pure.plan_for(live)
    assert plan.changes == ()
    assert plan.existing == 2  # the card and our one active alert
    assert plan.unmanaged == (Unmanaged(
        f"alert #30 on card {KEY}",
        "created by pm@example.com, not by metabase-guard's user "
        "api-key-user-x@api-key.invalid; left alone",
    ),)
    assert plan.notes == ()


OURS = ("ds@example.com", "outsider@example.org", "pm@example.com")
REMOVED = f"Metabase e-mails {', '.join(OURS)} that they were removed from an alert"


def _values(schedule: str) -> tuple[tuple[str, object], ...]:
    return (("when", "below_goal"), ("schedule", schedule), ("once", False),
            ("email", list(OURS)), ("groups", []), ("slack", ["#ml-alerts"]), ("webhook", []))


def test_a_copy_after_an_undeclared_alert_is_retired_whole_and_the_other_pruned() -> None:
    # 20 is the declared alert; 21 differs (pruned), 22 is an active copy of 20 listed after
    # 21 (so the scan must go on past 21), 23 an inactive copy (left as it is)
    live = pure.live_state([pure.managed_card()], [
        pure.managed_alert(), pure.managed_alert(nid=21, cron="0 0 7 * * ? *"),
        pure.managed_alert(nid=22), pure.managed_alert(nid=23, active=False)])
    plan = pure.plan_for(live, prune=True)
    assert plan.changes == (
        Change("delete", "alert", f"alert {KEY}#21", key=KEY, live_id=21,
               effects=(REMOVED,), values=_values("0 0 7 * * ? *")),
        Change("delete", "alert", f"alert {KEY}#22", key=KEY, live_id=22,
               effects=(f"{RACE}: alert #20 is kept", REMOVED),
               values=_values("0 0 9 ? * MON *"), duplicate=True),
    )
    assert plan.existing == 3  # the card, 20 and 21: a copy is not what thresholds measure


def test_a_create_next_to_a_kept_alert_says_whom_metabase_mails() -> None:
    plan = pure.plan_for(pure.live_state(*ONE_LIVE), TWO)
    (create,) = plan.changes
    assert create.effects == (
        "Metabase e-mails pm@example.com that they were added to an alert",)


FRESH = pure.YAML.replace("questions:\n", (
    "questions:\n  - key: fresh\n    name: Fresh\n    collection: Health checks\n"
    "    database: Warehouse\n    sql: SELECT 1\n    display: scalar\n    alerts:\n"
    "      - when: has_rows\n        schedule: {every: day, at: \"07:00\"}\n"
    "        slack: [\"#general\"]\n"))


def test_a_new_card_s_alerts_are_created_and_the_next_card_s_still_diffed() -> None:
    live = pure.live_state([pure.managed_card()], [pure.managed_alert(cron="0 0 7 * * ? *")])
    plan = pure.plan_for(live, FRESH)
    assert [(c.action, c.address, c.live_id, c.effects) for c in plan.changes] == [
        ("create", "card fresh", None, ()),
        ("create", "alert 1 of fresh", None, ()),  # Slack only: nobody is e-mailed
        ("update", f"alert 1 of {KEY}", 20, ()),
    ]
    (update,) = [c for c in plan.changes if c.action == "update"]
    assert [(f.field, f.old, f.new) for f in update.fields] == [
        ("schedule", "0 0 7 * * ? *", "0 0 9 ? * MON *")]


def test_a_restored_card_gets_its_alerts_made_anew_not_the_old_ones_reused() -> None:
    live = dataclasses.replace(pure.live_state([], [pure.managed_alert(active=False)]),
                               archived_cards=[pure.managed_card(archived=True)])
    plan = pure.plan_for(live)
    assert [(c.action, c.address, c.live_id) for c in plan.changes] == [
        ("update", f"card {KEY}", 10), ("create", f"alert 1 of {KEY}", None)]


def test_the_non_admin_note_counts_alert_creates_only() -> None:
    live = pure.live_state([pure.managed_card()], [pure.managed_alert(cron="0 0 7 * * ? *")])
    plan = pure.plan_for(_as_person(live), FRESH)  # a card create, an alert create, an update
    assert [(c.action, c.kind) for c in plan.changes] == [
        ("create", "card"), ("create", "alert"), ("update", "alert")]
    assert plan.notes[1].endswith(": 1 alert(s) to create were checked only against the "
                                  "alerts these credentials can see")
