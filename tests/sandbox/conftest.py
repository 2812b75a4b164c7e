from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from metabase_guard.sandbox.pytest_plugin import MountedSandbox

# Small and fast (90 rows); the weekly aggregate over `recommendations` takes ~0.5 s per run.
SQL_WEEKLY = "SELECT run_at AS week, duration_s AS pushes FROM model_runs ORDER BY 1"


class Api:
    """A tiny HTTP client for the sandbox (plain requests, no metabase_guard client code)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url
        self.session = requests.Session()
        if api_key:
            self.session.headers["x-api-key"] = api_key

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def as_key(self, key: str | None) -> Api:
        return Api(self.url, key)

    # builders ---------------------------------------------------------------------------------
    def card(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Weekly pushes",
            "display": "line",
            "dataset_query": {"type": "native", "database": 1, "native": {"query": SQL_WEEKLY}},
            "visualization_settings": {
                "graph.dimensions": ["week"],
                "graph.metrics": ["pushes"],
                "graph.show_goal": True,
                "graph.goal_value": 2400,
            },
        }
        body.update(overrides)
        response = self.post("/api/card", body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def alert(self, card_id: int, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "payload_type": "notification/card",
            "payload": {"card_id": card_id, "send_condition": "goal_below", "send_once": False},
            "subscriptions": [
                {"type": "notification-subscription/cron", "cron_schedule": "0 0 8 * * ? *",
                 "ui_display_type": "cron/raw"}
            ],
            "handlers": [
                {"channel_type": "channel/email", "recipients": [
                    {"type": "notification-recipient/user", "user_id": 1},
                    {"type": "notification-recipient/raw-value",
                     "details": {"value": "ops@example.com"}},
                ]},
                {"channel_type": "channel/slack", "recipients": [
                    {"type": "notification-recipient/raw-value", "details": {"value": "#alerts"}},
                ]},
            ],
        }
        body.update(overrides)
        response = self.post("/api/notification", body)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def mb(metabase_sandbox: MountedSandbox) -> MountedSandbox:
    return metabase_sandbox


@pytest.fixture
def api(metabase_sandbox: MountedSandbox) -> Api:
    return Api(metabase_sandbox.url, metabase_sandbox.api_key)


@pytest.fixture
def api_for(metabase_sandbox_factory: Callable[..., MountedSandbox]) -> Callable[..., Api]:
    def build(version_tag: str = "v0.61.2", **kwargs: Any) -> Api:
        mounted = metabase_sandbox_factory(version_tag=version_tag, **kwargs)
        return Api(mounted.url, mounted.api_key)

    return build
