"""A declared alert resolved into exactly the handlers Metabase is sent, and its located problems.

Mutation testing showed that nothing checked the recipients of a resolved alert one by one (a
user found by a differently-cased e-mail, a raw address, a group, a webhook) nor the words and
lines of its resolve problems. Pure: declarations and a hand-built snapshot.
"""

from __future__ import annotations

import dataclasses

import pytest

from metabase_guard.api.models import Channel, HandlerSpec, RecipientSpec
from metabase_guard.errors import ResolveError
from metabase_guard.reconcile.cards import resolve
from metabase_guard.reconcile.kind import Defaults
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import DS, PM, YAML, live_state

KEY = "weekly-recommendations"
FULL = YAML.replace(
    "email: [pm@example.com, ds@example.com, outsider@example.org]",
    "email: [PM@Example.com, outsider@example.org]\n"
    "        groups: [Data team]\n"
    "        webhook: [pagerduty]",
)
RAW = "notification-recipient/raw-value"


def test_every_kind_of_recipient_becomes_its_own_handler_entry() -> None:
    (card,) = resolve(load_text(FULL, "a.yaml"), live_state())
    (alert,) = card.alerts
    assert alert.handlers == (
        HandlerSpec("channel/email", recipients=(
            RecipientSpec("notification-recipient/group", group_id=3),
            RecipientSpec(RAW, value="outsider@example.org"),
            RecipientSpec("notification-recipient/user", user_id=PM.id),
        )),
        HandlerSpec("channel/http", channel_id=1),
        HandlerSpec("channel/slack", recipients=(RecipientSpec(RAW, value="#ml-alerts"),)),
    )
    assert alert.view.email == ("outsider@example.org", "pm@example.com")
    assert alert.view.groups == ("Data team",)
    assert alert.view.webhook == ("pagerduty",)


def _problems(yaml_text: str, **live: object) -> list[tuple[int, str, str]]:
    with pytest.raises(ResolveError) as info:
        resolve(load_text(yaml_text, "a.yaml"), dataclasses.replace(live_state(), **live))
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_unknown_groups_and_webhooks_and_no_email_are_located_problems() -> None:
    bad = FULL.replace("groups: [Data team]", "groups: [Data team, Nobody]").replace(
        "webhook: [pagerduty]", "webhook: [nohook]")
    assert _problems(bad, email_configured=False) == [
        (17, "alerts[0].groups[1]",
         f"question {KEY!r}: no group named 'Nobody'; the instance has: All Users, Data team"),
        (16, "alerts[0].email",
         f"question {KEY!r}: e-mail is not set up on this Metabase (Admin > Settings > Email), "
         "so these alerts would never be delivered"),
        (18, "alerts[0].webhook[0]",
         f"question {KEY!r}: no webhook channel named 'nohook'; the instance has: pagerduty"),
    ]


def test_groups_the_credentials_cannot_list_are_not_called_missing() -> None:
    bad = FULL.replace("groups: [Data team]", "groups: [Nobody]")
    assert _problems(bad, unreadable=frozenset({"groups"})) == [
        (17, "alerts[0].groups[0]",
         f"question {KEY!r}: cannot check the group 'Nobody': these credentials may not list "
         "groups (use an admin API key)"),
    ]


SLACK = FULL.replace('slack: ["#ml-alerts"]', 'slack: ["#ml-alerts", "#nope", "#ml-old"]')
RENAMED = {"slack_renames": {"#ml-old": "#ml-new"}, "slack_ids": {"#ml-alerts": "C123"}}


def test_each_slack_problem_names_its_channel_and_where_it_came_from() -> None:
    live = dataclasses.replace(live_state(), **RENAMED)  # type: ignore[arg-type]
    with pytest.raises(ResolveError) as info:
        resolve(load_text(SLACK, "a.yaml"), live, Defaults(slack=("#gone", "#general", "#nope")))
    channels = "the instance has: #general, #ml-alerts (a private channel needs the Metabase app "
    assert [(p.line, p.field, p.message) for p in info.value.problems] == [
        (19, "alerts[0].slack",
         f"question {KEY!r}: no Slack channel named '#gone' (did you mean '#general'?); "
         f"{channels}invited) (from the config's defaults.slack)"),
        (19, "alerts[0].slack[2]",
         f"question {KEY!r}: Slack channel '#ml-old' was renamed to '#ml-new' in Slack (same "
         "channel id); use the new name"),
        (19, "alerts[0].slack[1]",
         f"question {KEY!r}: no Slack channel named '#nope'; {channels}invited)"),
    ]


def test_slack_not_set_up_is_one_problem_whatever_the_channels() -> None:
    assert _problems(SLACK, slack_configured=False, **RENAMED) == [
        (19, "alerts[0].slack",
         f"question {KEY!r}: Slack is not set up on this Metabase (Admin > Settings > "
         "Notifications), so these alerts would never be delivered"),
    ]


def test_defaults_join_the_declared_recipients_sorted_and_slack_ids_are_sent() -> None:
    both = FULL.replace("groups: [Data team]", "groups: [Data team, All Users]").replace(
        "email: [PM@Example.com, outsider@example.org]",
        "email: [PM@Example.com, ds@example.com, outsider@example.org]").replace(
        "webhook: [pagerduty]", "webhook: [opsgenie, pagerduty]")
    live = dataclasses.replace(live_state(), **RENAMED)  # type: ignore[arg-type]
    live.webhooks.append(Channel(id=2, name="opsgenie"))
    (card,) = resolve(load_text(both, "a.yaml"), live,
                      Defaults(slack=("#general",), email=("Lead@Example.com",)))
    (alert,) = card.alerts
    assert alert.handlers == (
        HandlerSpec("channel/email", recipients=(
            RecipientSpec("notification-recipient/group", group_id=1),
            RecipientSpec("notification-recipient/group", group_id=3),
            RecipientSpec(RAW, value="lead@example.com"),
            RecipientSpec(RAW, value="outsider@example.org"),
            RecipientSpec("notification-recipient/user", user_id=PM.id),
            RecipientSpec("notification-recipient/user", user_id=DS.id),
        )),
        HandlerSpec("channel/http", channel_id=1),
        HandlerSpec("channel/http", channel_id=2),
        HandlerSpec("channel/slack", recipients=(
            RecipientSpec(RAW, value="#general"),
            RecipientSpec(RAW, value="#ml-alerts", slack_id="C123"),
        )),
    )
    assert alert.view.email == ("ds@example.com", "lead@example.com", "outsider@example.org",
                                "pm@example.com")
    assert alert.view.groups == ("All Users", "Data team")
    assert alert.view.slack == ("#general", "#ml-alerts")
    assert alert.view.webhook == ("opsgenie", "pagerduty")
