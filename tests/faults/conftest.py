"""Fixtures for fault tests: a demo-seeded sandbox served by ``serve()`` (real connection drops),
hand-made objects by another user, a copy of alerts/ and a fast retry policy."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.sandbox import DEMO_SEED, Sandbox, load_seed, serve
from metabase_guard.sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(attempts=6, initial_wait=0.01, max_wait=0.05, max_retry_after=2.0,
                   max_total=10.0)
PM_KEY = "mb_fault_pm_key"
WRITES = ("POST", "PUT", "DELETE")


def _post(sb: Sandbox, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    response = sb.handle("POST", path, {}, {"x-api-key": key}, json.dumps(body).encode())
    assert response.status == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@dataclass
class Faulty:
    sb: Sandbox
    server: SandboxServer
    alerts: Path
    hand_card: int
    hand_alert: int

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, retry: RetryPolicy = FAST, **kwargs: Any) -> MetabaseClient:
        return engine.connect(self.url, api_key=self.sb.admin_api_key, retry=retry, **kwargs)

    def spawn_apply(self, *args: str) -> subprocess.Popen[bytes]:
        """A real ``python -m metabase_guard apply --yes ARGS alerts/`` in a child process."""
        env = {**os.environ, "METABASE_URL": self.url, "METABASE_API_KEY": self.sb.admin_api_key,
               "PYTHONPATH": str(REPO)}
        env.pop("METABASE_USERNAME", None)
        env.pop("METABASE_PASSWORD", None)
        return subprocess.Popen(
            [sys.executable, "-m", "metabase_guard", "apply", "--yes", *args, str(self.alerts)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)

    def writes(self) -> int:
        return sum(1 for r in self.sb.requests if r.method in WRITES)

    def hand_made(self) -> Any:
        """A deep copy of every stored row of the hand-made card and alert."""
        store = self.sb.store
        with self.sb.lock:
            n = store.rows["notifications"][self.hand_alert]
            return copy.deepcopy({
                "card": store.rows["cards"][self.hand_card],
                "alert": n,
                "payload": store.rows["notification_cards"][n["payload_id"]],
                "subs": store.rows_where("subscriptions", "notification_id", n["id"]),
                "handlers": store.rows_where("handlers", "notification_id", n["id"]),
            })

    def assert_converged(self) -> None:
        """No change left, one card per key, one alert per declared alert; read from the store."""
        self.sb.clear_failures()
        with self.client() as client:
            result = engine.plan(engine.load([self.alerts]), client)
            assert result.plan.is_empty, [c.address for c in result.plan.changes]
        store = self.sb.store
        with self.sb.lock:
            cards = [c for c in store.all("cards") if managed_key(c["description"])]
            keys = Counter(managed_key(c["description"]) for c in cards)
            assert max(keys.values()) == 1, keys
            per_card = Counter(
                store.rows["notification_cards"][n["payload_id"]]["card_id"]
                for n in store.all("notifications") if n["active"]
            )
            declared = {q.key: len(q.alerts) for q in engine.load([self.alerts]).questions}
            for card in cards:
                key = managed_key(card["description"])
                assert per_card.get(card["id"], 0) == declared[key], (key, per_card)
            paths = Counter((c["name"], c["location"]) for c in store.all("collections"))
            assert max(paths.values()) == 1, paths


def fault_seed() -> dict[str, Any]:
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [dict(u, api_key=PM_KEY) if u["email"] == "pm@example.com" else u
                     for u in seed["users"]]
    return seed


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[Faulty]:
    """A served demo sandbox (RNG seed 7) with a hand-made card and alert by pm@example.com."""
    sb = Sandbox(seed=fault_seed(), rng_seed=7)
    card = _post(sb, "/api/card", {
        "name": "Recommendations pushed last week", "display": "table",
        "visualization_settings": {}, "description": "made by hand",
        "dataset_query": {"database": 1, "type": "native",
                          "native": {"query": "SELECT count(*) FROM recommendations"}},
    }, PM_KEY)
    alert = _post(sb, "/api/notification", {
        "payload_type": "notification/card",
        "payload": {"card_id": card["id"], "send_condition": "has_result"},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": "0 0 6 * * ? *"}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value",
             "details": {"value": "pm@example.com"}}]}],
    }, PM_KEY)
    sb.reset_log()
    alerts = tmp_path / "alerts"
    shutil.copytree(REPO / "alerts", alerts, ignore=shutil.ignore_patterns("*test*"))
    with serve(sb) as server:
        yield Faulty(sb, server, alerts, card["id"], alert["id"])
