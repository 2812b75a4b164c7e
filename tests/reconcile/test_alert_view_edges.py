"""A live alert read back when ids are missing or words are new, and the Slack channel words.

Mutation testing (docs/testing.md, run H) found that no test gave ``alert_view_of`` a handler
or recipient without its id on an instance where id 1 exists (a lookup by a made-up id would
then name a real object), an alert without a schedule, or a condition it does not know; nor
pinned the words of a renamed or unknown Slack channel. Pure: a hand-built snapshot.
"""

from __future__ import annotations

import dataclasses

from metabase_guard.api.models import Notification, User
from metabase_guard.reconcile.alerts import alert_view_of, slack_channel_problem
from tests.reconcile.test_plan_pure import live_state

FIRST = User(id=1, email="first@example.com", first_name="First")


def test_missing_ids_never_name_the_objects_with_id_1() -> None:
    live = dataclasses.replace(live_state(), users=[FIRST, *live_state().users])
    assert live.webhooks[0].id == 1 and live.groups[0].id == 1  # pagerduty, All Users
    raw = Notification.model_validate({
        "id": 50, "payload_type": "notification/card", "active": True, "creator_id": 2,
        "payload": {"id": 1, "card_id": 10, "send_condition": "goal_sideways"},
        "subscriptions": [],
        "handlers": [
            {"id": 1, "channel_type": "channel/http", "recipients": []},
            {"id": 2, "channel_type": "channel/email", "recipients": [
                {"id": 1, "type": "notification-recipient/user"},
                {"id": 2, "type": "notification-recipient/group"}]},
        ],
    })
    view = alert_view_of(raw, live)
    assert view.webhook == ("#None",)
    assert view.email == ("user#none",)
    assert view.groups == ("group#None",)
    assert view.schedule == ""  # no cron subscription: no schedule, not a made-up one
    assert view.when == "goal_sideways"  # a condition we do not know is shown as Metabase has it


def test_the_words_of_a_renamed_and_of_an_unknown_slack_channel() -> None:
    live = dataclasses.replace(live_state(), slack_renames={"#ml-old": "#ml-alerts"})
    assert slack_channel_problem("#ml-alerts", live) is None
    assert slack_channel_problem("#ml-old", live) == (
        "Slack channel '#ml-old' was renamed to '#ml-alerts' in Slack (same channel id); use "
        "the new name")
    assert slack_channel_problem("#nope", live) == (
        "no Slack channel named '#nope'; the instance has: #general, #ml-alerts (a private "
        "channel needs the Metabase app invited)")
    unknown_channels = dataclasses.replace(live, slack_channels=())
    assert slack_channel_problem("#nope", unknown_channels) is None
