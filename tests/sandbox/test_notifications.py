"""Notifications (card alerts) against the sandbox, one Metabase rule per test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api

from metabase_guard.sandbox.pytest_plugin import MountedSandbox

SEED: dict[str, Any] = {
    "users": [
        {"email": "pm@example.com", "first_name": "Priya", "last_name": "PM", "api_key": "pm_key"},
        {"email": "ds@example.com", "first_name": "Dan", "last_name": "Scientist",
         "api_key": "ds_key"},
    ],
    "databases": [{"name": "KPI", "engine": "postgres", "tables": {
        "kpi": {"columns": ["day", "n"], "rows": [["2026-01-01", 5], ["2026-01-02", 10]]},
        "nothing": {"columns": ["x"], "rows": []},
    }}],
}
KPI = "SELECT day, n FROM kpi ORDER BY day"


class Env:
    def __init__(self, mounted: MountedSandbox) -> None:
        self.mounted = mounted
        self.api = Api(mounted.url, mounted.api_key)

    @property
    def outbox(self) -> list[Any]:
        return self.mounted.sandbox.outbox

    def card(self, sql: str = KPI, goal: float | None = 7, display: str = "line",
             **extra: Any) -> dict[str, Any]:
        viz: dict[str, Any] = {"graph.metrics": ["n"], "graph.dimensions": ["day"]}
        if goal is not None:
            viz.update({"graph.show_goal": True, "graph.goal_value": goal})
        return self.api.card(display=display, visualization_settings=viz, dataset_query={
            "type": "native", "database": 1, "native": {"query": sql}}, **extra)

    def alert(self, card_id: int, condition: str = "goal_above", send_once: bool = False,
              **extra: Any) -> dict[str, Any]:
        return self.api.alert(card_id, payload={"card_id": card_id, "send_condition": condition,
                                                "send_once": send_once}, **extra)


@pytest.fixture
def env(metabase_sandbox_factory: Callable[..., MountedSandbox]) -> Env:
    return Env(metabase_sandbox_factory(seed=SEED))


@pytest.fixture
def env_for(metabase_sandbox_factory: Callable[..., MountedSandbox]) -> Callable[..., Env]:
    return lambda version_tag: Env(metabase_sandbox_factory(version_tag=version_tag, seed=SEED))


def _ids(notification: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptions": sorted(s["id"] for s in notification["subscriptions"]),
        "handlers": sorted(h["id"] for h in notification["handlers"]),
        "recipients": sorted(r["id"] for h in notification["handlers"] for r in h["recipients"]),
    }


def test_post_validation_errors_nest_like_the_body(env: Env) -> None:
    response = env.api.post("/api/notification", {"payload_type": "notification/card",
                                                  "payload": {}})
    assert response.status_code == 400
    assert response.json()["specific-errors"]["payload"]["card_id"] == [
        "missing required key, received: nil"]
    bad = env.api.post("/api/notification", {
        "payload_type": "notification/card", "payload": {"card_id": 1},
        "handlers": [{"channel_type": "channel/email",
                      "recipients": [{"type": "notification-recipient/user"}]}]})
    assert bad.status_code == 400
    assert bad.json()["errors"]["handlers"][0]["recipients"][0]["user_id"]
    assert env.api.post("/api/notification", {"payload": {"card_id": 1}}).status_code == 400


def test_post_creator_is_always_the_caller_and_response_is_hydrated(env: Env) -> None:
    card = env.card()
    alert = env.alert(card["id"], creator_id=1)
    assert alert["creator_id"] == 2 and alert["creator"]["id"] == 2
    assert alert["payload"]["card"]["id"] == card["id"]
    assert alert["payload"]["send_condition"] == "goal_above"
    users = [r for h in alert["handlers"] for r in h["recipients"]
             if r["type"] == "notification-recipient/user"]
    assert users[0]["user"]["email"] == "admin@example.com"
    assert alert["subscriptions"][0]["cron_schedule"] == "0 0 8 * * ? *"
    fetched = env.api.get(f"/api/notification/{alert['id']}").json()
    assert fetched["id"] == alert["id"]
    # notification/models.clj drops internal_id after every select: never in any answer.
    listed = env.api.get("/api/notification").json()
    assert all("internal_id" not in n for n in [alert, fetched, *listed])
    missing = env.api.get("/api/notification/999")
    assert (missing.status_code, missing.text) == (404, "Not found.")


def test_list_filters_and_visibility(env: Env) -> None:
    card = env.card()
    other = env.card(name="other")
    first = env.alert(card["id"])
    second = env.alert(other["id"])
    env.api.put(f"/api/notification/{second['id']}", {**second, "active": False})
    assert [n["id"] for n in env.api.get("/api/notification").json()] == [first["id"]]
    every = env.api.get("/api/notification", params={"include_inactive": "true"}).json()
    assert sorted(n["id"] for n in every) == [first["id"], second["id"]]
    by_card = env.api.get("/api/notification", params={"card_id": other["id"],
                                                      "include_inactive": "true"}).json()
    assert [n["id"] for n in by_card] == [second["id"]]
    pm = env.api.as_key("pm_key")
    assert pm.get("/api/notification").json() == []
    assert pm.get(f"/api/notification/{first['id']}").status_code == 403
    mine = pm.alert(card["id"])
    assert [n["id"] for n in pm.get("/api/notification").json()] == [mine["id"]]


def test_lists_are_shuffled_deterministically(
    metabase_sandbox_factory: Callable[..., MountedSandbox],
) -> None:
    orders = []
    for _ in range(2):
        env = Env(metabase_sandbox_factory(seed=SEED, rng_seed=7))
        card = env.card()
        for _ in range(10):
            env.alert(card["id"])
        calls = [[n["id"] for n in env.api.get("/api/notification").json()] for _ in range(3)]
        assert sorted(calls[0]) == list(range(1, 11))
        assert len({tuple(c) for c in calls}) > 1  # the order changes between calls
        orders.append(calls)
    assert orders[0] == orders[1]  # same rng seed, same orders


def test_put_with_kept_ids_updates_in_place(env: Env) -> None:
    card = env.card()
    alert = env.alert(card["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    body["payload"]["send_condition"] = "goal_below"
    body["subscriptions"][0]["cron_schedule"] = "0 0 9 * * ? *"
    updated = env.api.put(f"/api/notification/{alert['id']}", body)
    assert updated.status_code == 200
    after = updated.json()
    assert _ids(after) == _ids(alert) and after["payload"]["id"] == alert["payload"]["id"]
    assert after["payload"]["send_condition"] == "goal_below"
    assert after["subscriptions"][0]["cron_schedule"] == "0 0 9 * * ? *"


def test_put_rows_without_ids_are_recreated(env: Env) -> None:
    alert = env.alert(env.card()["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    for sub in body["subscriptions"]:
        del sub["id"]
    after = env.api.put(f"/api/notification/{alert['id']}", body).json()
    assert _ids(after)["subscriptions"] != _ids(alert)["subscriptions"]
    assert _ids(after)["handlers"] == _ids(alert)["handlers"]


def test_put_omitting_handlers_deletes_them_missing_recipients_key_keeps_them(env: Env) -> None:
    alert = env.alert(env.card()["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    for handler in body["handlers"]:
        del handler["recipients"]
    kept = env.api.put(f"/api/notification/{alert['id']}", body).json()
    assert _ids(kept) == _ids(alert)
    del body["handlers"]
    gone = env.api.put(f"/api/notification/{alert['id']}", body).json()
    assert gone["handlers"] == [] and len(gone["subscriptions"]) == 1


def test_put_without_id_deletes_recreates_and_answers_404(env: Env) -> None:
    alert = env.alert(env.card()["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    del body["id"]
    response = env.api.put(f"/api/notification/{alert['id']}", body)
    assert (response.status_code, response.text) == (404, "Not found.")
    assert env.api.get(f"/api/notification/{alert['id']}").status_code == 404
    replacements = env.api.get("/api/notification", params={"include_inactive": "true"}).json()
    assert len(replacements) == 1 and replacements[0]["id"] != alert["id"]
    assert replacements[0]["payload"] is None


def test_put_payload_without_id_orphans_the_payload(env: Env) -> None:
    alert = env.alert(env.card()["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    del body["payload"]["id"]
    after = env.api.put(f"/api/notification/{alert['id']}", body)
    assert after.status_code == 200 and after.json()["payload"] is None


def test_put_payload_type_change_and_permissions(env: Env) -> None:
    card = env.card()
    alert = env.alert(card["id"])
    body = env.api.get(f"/api/notification/{alert['id']}").json()
    changed = {**body, "payload_type": "notification/dashboard", "active": False}
    refused = env.api.put(f"/api/notification/{alert['id']}", changed)
    assert (refused.status_code, refused.text) == (400, "Update payload_type is not allowed.")
    pm = env.api.as_key("pm_key")
    assert pm.put(f"/api/notification/{alert['id']}", body).status_code == 403


@pytest.mark.parametrize(("version", "changes"), [("v0.61.2", False), ("v0.62.1", True)])
def test_creator_change_is_ignored_before_0_62(
    env_for: Callable[..., Env], version: str, changes: bool
) -> None:
    env = env_for(version)
    card = env.card()
    pm = env.api.as_key("pm_key")
    own = pm.alert(card["id"])
    own_body = pm.get(f"/api/notification/{own['id']}").json()
    reassigned = {**own_body, "creator_id": 1}
    if changes:
        assert pm.put(f"/api/notification/{own['id']}", reassigned).status_code == 403
    answer = env.api.put(f"/api/notification/{own['id']}", reassigned)
    assert answer.status_code == 200
    assert answer.json()["creator_id"] == (1 if changes else own["creator_id"])


@pytest.mark.parametrize(
    ("change", "deleted"),
    [
        ({"archived": True}, True),
        ({"display": "bar"}, False),
        ({"display": "table"}, True),
        ({"visualization_settings": {"graph.metrics": ["n"]}}, True),
        ({"visualization_settings": {"graph.metrics": ["n"], "graph.goal_value": 8}}, False),
        ({"name": "renamed"}, False),
    ],
)
# metabase/metabase src/metabase/queries/events/cards_notification_deleted_on_card_save.clj and
# src/metabase/pulse/update_alerts.clj (goal-missing?, display family changes)
def test_card_changes_that_delete_alerts(env: Env, change: dict[str, Any], deleted: bool) -> None:
    card = env.card()
    alert = env.alert(card["id"])
    assert env.api.put(f"/api/card/{card['id']}", change).status_code == 200
    status = env.api.get(f"/api/notification/{alert['id']}").status_code
    assert status == (404 if deleted else 200)


def test_inactive_alerts_survive_card_archive(env: Env) -> None:
    card = env.card()
    alert = env.alert(card["id"], active=False)
    env.api.put(f"/api/card/{card['id']}", {"archived": True})
    assert env.api.get(f"/api/notification/{alert['id']}").status_code == 200


def test_rows_display_to_goal_display_deletes_alerts(env: Env) -> None:
    card = env.card(display="table", goal=None)
    alert = env.alert(card["id"], condition="has_result")
    env.api.put(f"/api/card/{card['id']}", {"display": "line"})
    assert env.api.get(f"/api/notification/{alert['id']}").status_code == 404


def test_archiving_collection_deletes_alerts_of_its_cards(env: Env) -> None:
    coll = env.api.post("/api/collection", {"name": "Alerts"}).json()
    card = env.card(collection_id=coll["id"])
    alert = env.alert(card["id"])
    env.api.put(f"/api/collection/{coll['id']}", {"archived": True})
    assert env.api.get(f"/api/notification/{alert['id']}").status_code == 404
    assert env.api.get(f"/api/card/{card['id']}").json()["archived"] is True


def test_send_honours_goal_condition(env: Env) -> None:
    met = env.alert(env.card(goal=7)["id"], condition="goal_above")
    unmet = env.alert(env.card(goal=20, name="high")["id"], condition="goal_above")
    env.outbox.clear()
    assert env.api.post(f"/api/notification/{unmet['id']}/send").status_code == 204
    assert env.outbox == []
    assert env.api.post(f"/api/notification/{met['id']}/send").status_code == 204
    channels = sorted(d.channel for d in env.outbox)
    assert channels == ["channel/email", "channel/slack"]
    email = next(d for d in env.outbox if d.channel == "channel/email")
    assert sorted(email.recipients) == ["admin@example.com", "ops@example.com"]
    assert email.notification_id == met["id"]


def test_send_has_result_skips_empty_result(env: Env) -> None:
    empty = env.alert(env.card(sql="SELECT x FROM nothing", goal=None)["id"],
                      condition="has_result")
    env.outbox.clear()
    assert env.api.post(f"/api/notification/{empty['id']}/send").status_code == 204
    assert env.outbox == []


def test_send_goal_that_cannot_be_computed_is_500(env: Env) -> None:
    alert = env.alert(env.card(goal=None)["id"], condition="goal_below")
    assert env.api.post(f"/api/notification/{alert['id']}/send").status_code == 500


def test_send_once_deactivates_only_after_a_real_send_from_056(env_for) -> None:  # type: ignore[no-untyped-def]
    env = env_for("v0.56.0")
    skipped = env.alert(env.card(goal=20)["id"], send_once=True)
    sent = env.alert(env.card(goal=7, name="low")["id"], send_once=True)
    env.api.post(f"/api/notification/{skipped['id']}/send")
    env.api.post(f"/api/notification/{sent['id']}/send")
    assert env.api.get(f"/api/notification/{skipped['id']}").json()["active"] is True
    assert env.api.get(f"/api/notification/{sent['id']}").json()["active"] is False


def test_send_once_deactivates_after_any_run_before_056(env_for) -> None:  # type: ignore[no-untyped-def]
    env = env_for("v0.55.4")
    skipped = env.alert(env.card(goal=20)["id"], send_once=True)
    env.api.post(f"/api/notification/{skipped['id']}/send")
    assert env.api.get(f"/api/notification/{skipped['id']}").json()["active"] is False


def test_unsubscribe(env: Env) -> None:
    pm_id = env.mounted.sandbox.user_by_email("pm@example.com")["id"]  # type: ignore[index]
    alert = env.alert(env.card()["id"], handlers=[{"channel_type": "channel/email", "recipients": [
        {"type": "notification-recipient/user", "user_id": pm_id}]}])
    ds = env.api.as_key("ds_key")
    assert ds.post(f"/api/notification/{alert['id']}/unsubscribe").status_code == 403
    pm = env.api.as_key("pm_key")
    assert pm.post(f"/api/notification/{alert['id']}/unsubscribe").status_code == 204
    after = env.api.get(f"/api/notification/{alert['id']}").json()
    assert after["handlers"][0]["recipients"] == []


def test_allowed_domains_403(metabase_sandbox_factory: Callable[..., MountedSandbox]) -> None:
    env = Env(metabase_sandbox_factory(seed={**SEED, "allowed_domains": ["example.com"]}))
    card = env.card()
    response = env.api.post("/api/notification", {
        "payload_type": "notification/card", "payload": {"card_id": card["id"]},
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value", "details": {"value": "a@evil.test"}},
            {"type": "notification-recipient/raw-value", "details": {"value": "b@example.com"}},
        ]}]})
    assert response.status_code == 403
    assert response.text == "The following email addresses are not allowed: a@evil.test"


def test_added_to_alert_emails_exclude_the_creator(env: Env) -> None:
    card = env.card()
    env.outbox.clear()
    env.alert(card["id"])
    added = [d for d in env.outbox if d.kind == "added-to-alert"]
    assert len(added) == 1
    assert sorted(added[0].recipients) == ["admin@example.com", "ops@example.com"]


@pytest.mark.parametrize(("version", "status"), [("v0.60.4", 400), ("v0.62.1", 200)])
def test_slack_channel_id_in_recipient_details_by_version(
    env_for: Callable[..., Env], version: str, status: int
) -> None:
    """notification/models.clj: raw-value details were a closed {value} map before channel ids."""
    env = env_for(version)
    card = env.card()
    slack = {"channel_type": "channel/slack", "recipients": [
        {"type": "notification-recipient/raw-value",
         "details": {"value": "#general", "channel_id": "C0123"}}]}
    answer = env.api.post("/api/notification", {
        "payload_type": "notification/card",
        "payload": {"card_id": card["id"], "send_condition": "has_result"},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [slack]})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert "channel_id" in answer.json()["specific-errors"]["handlers"][0]["recipients"][0][
            "details"]
    else:
        stored = answer.json()["handlers"][0]["recipients"][0]["details"]
        assert stored == {"value": "#general", "channel_id": "C0123"}
