"""The notification PUT before and after PR #79821 (ids from the URL from 0.64), over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Api

from metabase_guard.sandbox.pytest_plugin import MountedSandbox

SEED: dict[str, Any] = {"databases": [{"name": "KPI", "engine": "postgres", "tables": {
    "kpi": {"columns": ["day", "n"], "rows": [["2026-01-01", 5]]}}}]}
TAG = {"id": "4b5d", "name": "since", "display-name": "Since", "type": "date"}


def _api(factory: Callable[..., MountedSandbox], tag: str) -> Api:
    mounted = factory(version_tag=tag, seed=SEED)
    return Api(mounted.url, mounted.api_key)


def _card(api: Api, tags: Any) -> dict[str, Any]:
    response = api.post("/api/card", json={
        "name": "t", "display": "table", "visualization_settings": {},
        "dataset_query": {"lib/type": "mbql/query", "database": 1, "stages": [
            {"lib/type": "mbql.stage/native",
             "native": "SELECT day, n FROM kpi WHERE day >= {{since}}",
             "template-tags": tags}]}})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _alert(api: Api) -> dict[str, Any]:
    card = _card(api, {"since": TAG})
    response = api.post("/api/notification", json={
        "payload_type": "notification/card", "payload": {"card_id": card["id"]},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 9 * * ? *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value", "details": {"value": "a@b.com"}}]}]})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(("tag", "kept"), [("v0.63.1", False), ("v0.64.0", True)])
def test_put_without_ids_recreates_before_pr_79821_and_keeps_the_alert_after(
        metabase_sandbox_factory: Callable[..., MountedSandbox], tag: str, kept: bool) -> None:
    api = _api(metabase_sandbox_factory, tag)
    alert = _alert(api)
    body = {k: v for k, v in alert.items() if k not in ("id", "creator", "payload")}
    body["payload"] = {k: v for k, v in alert["payload"].items() if k not in ("id", "card")}
    body["active"] = False
    response = api.put(f"/api/notification/{alert['id']}", json=body)
    assert (response.status_code == 200) is kept, response.text
    if kept:
        assert response.json()["id"] == alert["id"]
        assert response.json()["payload"]["id"] == alert["payload"]["id"]
        assert response.json()["active"] is False
    else:
        assert api.get(f"/api/notification/{alert['id']}").status_code == 404
