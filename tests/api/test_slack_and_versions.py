"""Slack lists, Slack ids, the Slack fallback, version tags, fields never echoed.

The client against the sandbox over HTTP: both shapes of the Slack list, ids on recipients,
the slack-token-valid? fallback, dev version tags, and what a read-merge-write must not send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from metabase_guard.api import AlertSpec, HandlerSpec, MetabaseClient, RecipientSpec
from metabase_guard.api.models import Notification, parse_version
from metabase_guard.api.resources import alert_create_body, merge_alert, slack_directory
from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.misc import rename_slack_channel
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

Factory = Callable[..., MountedSandbox]


def _seed(**changes: Any) -> dict[str, Any]:
    seed = dict(load_seed(DEMO_SEED))
    seed.update(changes)
    return seed


@pytest.mark.parametrize("shape", ["strings", "objects"])
def test_both_list_shapes_give_display_names(metabase_sandbox_factory: Factory,
                                             shape: str) -> None:
    mb = metabase_sandbox_factory(seed=_seed(slack_list=shape, slack_channels=[
        "#data-team", {"name": "@ada", "id": "U0ADA"}, {"name": "#ml-alerts", "id": "C20484062"},
    ]))
    facts = MetabaseClient(mb.url, api_key=mb.api_key).delivery()
    assert facts.slack_channels == ("#data-team", "@ada", "#ml-alerts")
    if shape == "objects":
        assert facts.slack_ids["#ml-alerts"] == "C20484062"
        assert facts.slack_ids["@ada"] == "U0ADA"
    else:
        assert dict(facts.slack_ids) == {}


def test_object_options_as_metabase_master_writes_them() -> None:
    # metabase/metabase src/metabase/pulse/api/pulse.clj (form_input), after PR #72223.
    form = {"channels": {"slack": {"configured": True, "fields": [{"name": "channel", "options": [
        {"displayName": "#data-team", "id": "C20484062"}, {"displayName": "@dan", "id": "U1"},
    ]}]}}}
    directory = slack_directory(form)
    assert directory.names == ("#data-team", "@dan")
    assert directory.name_of("U1") == "@dan"
    assert slack_directory({"channels": {}}).configured is None


def _alert(card_id: int, channel_id: str | None) -> AlertSpec:
    return AlertSpec(card_id, "has_result", False, "0 0 9 ? * 2 *", (HandlerSpec(
        "channel/slack", recipients=(RecipientSpec(
            "notification-recipient/raw-value", value="#alerts", channel_id=channel_id),)),))


def _card(client: MetabaseClient) -> int:
    db = client.databases.by_name("Warehouse").id
    return client.cards.create({
        "name": "c", "display": "table", "visualization_settings": {},
        "dataset_query": {"type": "native", "database": db,
                          "native": {"query": "SELECT 1 AS x"}},
    }).id


def test_channel_id_is_refused_by_the_closed_schema_before_the_object_list(
        metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed=_seed(version="v0.61.2"))
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    body = alert_create_body(_alert(_card(client), "C1"))
    refused = requests.post(f"{mb.url}/api/notification", headers={"x-api-key": mb.api_key},
                            json=body, timeout=10)
    assert refused.status_code == 400
    assert "channel_id" in refused.text
    assert client.notifications.create(_alert(_card(client), None)).id > 0


def test_alert_follows_a_renamed_channel_by_id(metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed=_seed(version="v0.63.1"))
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    channel_id = client.delivery().slack_ids["#alerts"]
    made = client.notifications.create(_alert(_card(client), channel_id))
    details = made.handlers[0].recipients[0].details or {}
    assert details == {"value": "#alerts", "channel_id": channel_id}
    rename_slack_channel(mb.sandbox.store, "#alerts", "#alarms")
    assert client.delivery().slack_ids["#alarms"] == channel_id
    client.notifications.send(made.id)
    slack = [d for d in mb.sandbox.outbox if d.channel == "channel/slack"]
    assert slack and slack[-1].recipients == ["#alarms"]


def test_sandboxed_user_falls_back_to_the_setting_and_says_why(
        metabase_sandbox_factory: Factory) -> None:
    seed = _seed()
    seed["users"] = [*seed["users"], {"email": "sb@example.com", "api_key": "mb_sb",
                                      "sandboxed": True}]
    mb = metabase_sandbox_factory(seed=seed)
    form = requests.get(f"{mb.url}/api/pulse/form_input", headers={"x-api-key": "mb_sb"},
                        timeout=10).json()
    assert "slack" not in form["channels"]
    slack = MetabaseClient(mb.url, api_key="mb_sb").slack()
    assert slack.configured is None and slack.names == ()
    assert slack.limit is not None and "sb@example.com" in slack.limit
    assert "slack-token-valid?" in slack.limit
    admin = MetabaseClient(mb.url, api_key=mb.api_key)
    assert admin.slack().configured is True and admin.slack().limit is None


@pytest.mark.parametrize(("tag", "major"), [
    ("v0.63.0-SNAPSHOT", None), ("v0.64.x-dev", None), ("v1.62.0-snapshot", None),
    ("v0.62.0-RC2", 62), ("v0.62.0-beta", 62), ("v0.61.2.3", 61), ("v1.63.1", 63),
])
def test_dev_tags_are_unknown_and_release_tags_known(tag: str, major: int | None) -> None:
    assert parse_version(tag).major == major


def test_a_dev_build_has_its_features_probed(metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed=_seed(version="v0.63.0-SNAPSHOT"))
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    assert client.version.major is None
    mb.sandbox.reset_log()
    assert client.has_notification_api
    assert ("GET", "/api/notification") in mb.sandbox.request_counts()
    assert client.version_warning is None


def test_internal_id_is_never_shown_nor_echoed(metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed=_seed(version="v0.62.2"))
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    made = client.notifications.create(_alert(_card(client), None))
    assert "internal_id" not in made.wire()
    listed = requests.get(f"{mb.url}/api/notification", headers={"x-api-key": mb.api_key},
                          params={"payload_type": "notification/card"}, timeout=10).json()
    assert listed and all("internal_id" not in n for n in listed)
    # A server that shows it (an older or patched build) must not get it back.
    stored = Notification.model_validate({**made.wire(), "internal_id": "legacy-7"})
    assert stored.wire()["internal_id"] == "legacy-7"
    assert made.payload is not None
    assert "internal_id" not in merge_alert(stored, _alert(made.payload.card_id, None))


def test_a_read_merge_write_sends_no_timestamps_or_hydrations(
        metabase_sandbox_factory: Factory) -> None:
    mb = metabase_sandbox_factory(seed=_seed(version="v0.63.1"))
    client = MetabaseClient(mb.url, api_key=mb.api_key)
    made = client.notifications.create(_alert(_card(client), None))
    stored = client.notifications.get(made.id)
    assert stored.wire()["created_at"] and stored.handlers[0].wire()["created_at"]
    body = merge_alert(stored, _alert(made.payload.card_id if made.payload else 0, None))

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
    updated = client.notifications.update(made.id, _alert(body["payload"]["card_id"], None))
    assert updated.id == made.id
