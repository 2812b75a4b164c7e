"""Slack facts in both form_input shapes and for sandboxed users; dev tags are probed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from metabase_guard.api import AlertSpec, HandlerSpec, MetabaseClient, RecipientSpec
from metabase_guard.api.models import Notification
from metabase_guard.api.resources import merge_alert, slack_channel_ids, slack_channels
from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

Factory = Callable[..., MountedSandbox]
SEED = {"slack_channels": [{"name": "#data-team", "id": "C20484062"}, "@priya"],
        "users": [{"email": "pm@example.com", "api_key": "mb_pm_key", "sandboxed": True}]}


@pytest.mark.parametrize("shape", ["strings", "objects"])
def test_delivery_reads_names_from_either_list_shape(
    metabase_sandbox_factory: Factory, shape: str
) -> None:
    mb = metabase_sandbox_factory(seed={**SEED, "slack_list": shape})
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    facts = client.delivery()
    assert facts.slack_configured
    assert facts.slack_channels == ("#data-team", "@priya")
    form = client.server.form_input()
    expected = {"#data-team": "C20484062"} if shape == "objects" else {}
    assert {k: v for k, v in slack_channel_ids(form).items() if k == "#data-team"} == expected


def test_odd_options_are_skipped_not_stringified() -> None:
    form = {"channels": {"slack": {"configured": True, "fields": [
        {"name": "channel", "options": ["#a", {"displayName": "#b", "id": "C2"}, {"id": "C3"},
                                        7, {"displayName": "#a", "id": "C1"}]}]}}}
    assert slack_channels(form) == (True, ("#a", "#b"))
    assert slack_channel_ids(form) == {"#b": "C2", "#a": "C1"}


def test_sandboxed_user_falls_back_to_the_setting_and_says_who(
    metabase_sandbox_factory: Factory,
) -> None:
    mb = metabase_sandbox_factory(seed=SEED)
    pm = MetabaseClient(mb.url, api_key="mb_pm_key")
    assert "slack" not in pm.server.form_input()["channels"]
    configured, note = pm.slack_configured(pm.server.form_input())
    # slack-token-valid? is a settings-manager setting: a plain user cannot read it either.
    assert configured is False and note is not None
    assert "pm@example.com" in note and "slack-token-valid?" in note
    admin = MetabaseClient(mb.url, api_key=mb.api_key)
    configured, note = admin.slack_configured({"channels": {}})
    assert configured is True and note is not None and "this API key" in note
    assert admin.slack_configured(admin.server.form_input()) == (True, None)


@pytest.mark.parametrize(("tag", "warns"), [
    ("v0.63.4", False), ("v0.64.0", True), ("v1.70.1", True), ("v0.64.0-SNAPSHOT", False),
])
def test_newer_than_tested_is_one_warning(
    metabase_sandbox_factory: Factory, tag: str, warns: bool
) -> None:
    client = MetabaseClient(metabase_sandbox_factory(version_tag=tag).url,
                            api_key="mb_sandbox_admin_key")
    warnings = client.compatibility_warnings()
    assert len(warnings) == (1 if warns else 0)
    if warns:
        assert tag in warnings[0] and "0.63" in warnings[0]


def test_a_snapshot_build_is_probed_not_guessed(metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(version_tag="v0.53.0-SNAPSHOT")
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    assert client.version.major is None
    # The tag says 53 but is not trusted; the probe finds what the server really serves.
    assert client.has_notification_api is False



def test_read_merge_write_never_echoes_internal_id() -> None:
    stored = Notification.model_validate({
        "id": 4, "payload_type": "notification/card", "payload_id": 9, "active": True,
        "creator_id": 2, "internal_id": "system-alert", "payload": {"id": 9, "card_id": 3,
        "send_condition": "has_result", "send_once": False},
        "subscriptions": [{"id": 1, "type": "notification-subscription/cron",
                           "cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [],
    })
    body = merge_alert(stored, AlertSpec(3, "goal_above", False, "0 0 8 * * ? *", ()))
    assert "internal_id" not in body and body["id"] == 4
    assert body["payload"]["send_condition"] == "goal_above"


def _card_id(client: MetabaseClient) -> int:
    db = client.databases.by_name("Warehouse").id
    return client.cards.create({
        "name": "c", "display": "table", "visualization_settings": {},
        "dataset_query": {"type": "native", "database": db,
                          "native": {"query": "SELECT 1 AS x"}},
    }).id


def _slack_alert(card_id: int, channel_id: str | None) -> AlertSpec:
    return AlertSpec(card_id, "has_result", False, "0 0 9 ? * 2 *", (HandlerSpec(
        "channel/slack", recipients=(RecipientSpec(
            "notification-recipient/raw-value", value="#alerts", slack_id=channel_id),)),))


def test_an_alert_posts_to_a_renamed_channel_by_its_id(
        metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed={**load_seed(DEMO_SEED), "version": "v0.63.1"})
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    channel_id = mb.sandbox.store.slack_ids["#alerts"]
    made = client.notifications.create(_slack_alert(_card_id(client), channel_id))
    store = mb.sandbox.store
    store.slack_channels = [("#alarms" if c == "#alerts" else c) for c in store.slack_channels]
    store.slack_ids["#alarms"] = store.slack_ids.pop("#alerts")
    client.notifications.send(made.id)
    slack = [d for d in mb.sandbox.outbox if d.channel == "channel/slack"]
    assert slack and slack[-1].recipients == ["#alarms"]


def test_a_read_merge_write_sends_no_timestamps_or_hydrations(
        metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed={**load_seed(DEMO_SEED), "version": "v0.63.1"})
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    made = client.notifications.create(_slack_alert(_card_id(client), None))
    stored = client.notifications.get(made.id)
    assert stored.wire()["created_at"] and stored.handlers[0].wire()["created_at"]
    body = merge_alert(stored, _slack_alert(made.payload.card_id if made.payload else 0, None))

    def keys(value: Any) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    found = keys(body)
    assert not found & {"created_at", "updated_at", "internal_id", "creator", "card",
                        "channel", "template", "user", "permissions_group"}, found
    assert body["id"] == made.id and body["handlers"][0]["id"] == stored.handlers[0].id
    assert client.notifications.update(made.id, _slack_alert(made.payload.card_id
                                                             if made.payload else 0, None)).id \
        == made.id
