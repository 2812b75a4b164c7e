"""Metabase's own CLI (``@metabase/cli``, command ``mb``) judges the sandbox from outside.

We wrote both the client and the emulator, so they can agree and both be wrong. ``mb`` parses
every response with its own zod schemas (``MB_VERBOSE=1`` prints the issues), so each command
below must exit 0 against the sandbox at every version listed. The CLI is pinned in
package.json / package-lock.json; ``npm ci`` installs it into the ignored node_modules/ (.ci/run
does). Without node 20+ these tests are skipped with a message saying so; with
``METABASE_GUARD_REQUIRE_MB_CLI=1`` (set by .ci/run) a missing CLI fails instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metabase_guard.api import AlertSpec, HandlerSpec, MetabaseClient, RecipientSpec
from metabase_guard.sandbox import DEMO_SEED, load_seed, notifications
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

REPO = Path(__file__).resolve().parents[2]
MB = REPO / "node_modules" / ".bin" / "mb"
# The CLI's own floor is 0.58 (BASELINE_CAPABILITIES in its client); 0.61 answers the Slack
# list as strings, 0.63 (what people run now) as objects with ids.
VERSIONS = ["v0.61.2", "v0.63.1"]


def _node_major() -> int | None:
    node = shutil.which("node")
    if node is None:
        return None
    found = re.match(r"v(\d+)", subprocess.run([node, "--version"], capture_output=True,
                                               text=True, timeout=30).stdout)
    return int(found.group(1)) if found else None


def _require_cli() -> None:
    major = _node_major()
    if major is None or major < 20:
        pytest.skip(f"Metabase CLI contract test skipped: needs node 20+, found "
                    f"{'no node' if major is None else f'node {major}'} on PATH")
    if not MB.exists():
        message = "Metabase CLI contract test: @metabase/cli is not installed; run `npm ci`"
        if os.environ.get("METABASE_GUARD_REQUIRE_MB_CLI") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Mb:
    """``mb`` against one sandbox, with a throw-away HOME and no keyring."""

    sandbox: MountedSandbox
    home: Path

    def __call__(self, *args: str, ok: bool = True) -> Any:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home),
               "MB_CLI_DISABLE_KEYRING": "1", "MB_VERBOSE": "1",
               "MB_URL": self.sandbox.url, "MB_API_KEY": self.sandbox.api_key}
        done = subprocess.run([str(MB), *args, "--json", "--full"], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        if ok:
            assert done.returncode == 0, f"mb {' '.join(args)} -> {done.returncode}\n{done.stderr}"
            return json.loads(done.stdout) if done.stdout.strip() else None
        return done


@pytest.fixture
def mb(request: pytest.FixtureRequest, tmp_path: Path,
       metabase_sandbox_factory: Callable[..., MountedSandbox]) -> Iterator[Mb]:
    _require_cli()
    seed = dict(load_seed(DEMO_SEED))
    seed["version"] = request.param
    yield Mb(metabase_sandbox_factory(seed=seed), tmp_path)


def _database(mb: Mb) -> int:
    return next(int(d["id"]) for d in mb.sandbox.sandbox.store.all("databases")
                if d["name"] == "Warehouse")


@pytest.mark.parametrize("mb", VERSIONS, indirect=True)
def test_the_cli_accepts_every_answer_of_the_sandbox(mb: Mb) -> None:
    db = _database(mb)
    collection = mb("collection", "create", "--body", json.dumps({"name": "Contract"}))
    assert mb("collection", "get", str(collection["id"]))["name"] == "Contract"
    mb("collection", "list")

    card = mb("card", "create", "--body", json.dumps({
        "name": "Pushes", "display": "line", "collection_id": collection["id"],
        "dataset_query": {"type": "native", "database": db,
                          "native": {"query": "SELECT 1 AS day, 2 AS pushes"}},
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": 3,
                                   "graph.dimensions": ["day"], "graph.metrics": ["pushes"]},
    }))
    card_id = str(card["id"])
    assert mb("card", "get", card_id)["visualization_settings"]["graph.goal_value"] == 3
    mb("card", "list")
    mb("card", "query", card_id)
    mb("card", "update", card_id, "--body", json.dumps({"description": "contract"}))

    slack_ids = mb.sandbox.sandbox.store.slack_ids
    details: dict[str, str] = {"value": "#alerts"}
    if mb.sandbox.sandbox.store.slack_objects:
        details["channel_id"] = slack_ids["#alerts"]
    alert = mb("alert", "create", "--body", json.dumps({
        "payload": {"card_id": card["id"], "send_condition": "goal_above"},
        "subscriptions": [{"cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [
            {"channel_type": "channel/email", "recipients": [
                {"type": "notification-recipient/raw-value",
                 "details": {"value": "team@example.com"}}]},
            {"channel_type": "channel/slack", "recipients": [
                {"type": "notification-recipient/raw-value", "details": details}]},
        ],
    }))
    alert_id = str(alert["id"])
    assert "internal_id" not in mb("alert", "get", alert_id)
    assert [a["id"] for a in mb("alert", "list")["data"]] == [alert["id"]]
    mb("card", "alerts", card_id)
    updated = mb("alert", "update", alert_id,
                 "--body", json.dumps({"payload": {"send_condition": "goal_below"}}))
    assert updated["payload"]["send_condition"] == "goal_below"
    mb("alert", "archive", alert_id)
    assert mb("alert", "list")["data"] == []
    mb("alert", "list", "--include-inactive")

    result = mb("query", "--body", json.dumps({"type": "native", "database": db,
                                               "native": {"query": "SELECT 1 AS one"}}))
    assert result is not None
    mb("setting", "list")
    assert mb("setting", "get", "site-name") is not None


@pytest.mark.parametrize("mb", VERSIONS[-1:], indirect=True)
def test_the_judge_rejects_an_answer_metabase_would_never_give(
        mb: Mb, monkeypatch: pytest.MonkeyPatch) -> None:
    original = notifications.hydrate

    def without_payload_id(store: Any, notification: Any) -> Any:
        out = original(store, notification)
        out.pop("payload_id", None)
        return out

    client = MetabaseClient(mb.sandbox.url, api_key=mb.sandbox.api_key)
    card = client.cards.create({
        "name": "c", "display": "table", "visualization_settings": {},
        "dataset_query": {"type": "native", "database": _database(mb),
                          "native": {"query": "SELECT 1 AS x"}}})
    client.notifications.create(AlertSpec(card.id, "has_result", False, "0 0 8 * * ? *", (
        HandlerSpec("channel/email", recipients=(
            RecipientSpec("notification-recipient/raw-value", value="a@example.com"),)),)))
    assert mb("alert", "list")["data"]

    monkeypatch.setattr(notifications, "hydrate", without_payload_id)
    done = mb("alert", "list", ok=False)
    assert done.returncode != 0
    assert "payload_id" in done.stderr and "zod" in done.stderr


def test_without_node_the_contract_test_is_skipped_saying_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="needs node 20\\+, found no node"):
        _require_cli()


def test_in_ci_a_missing_cli_fails_instead_of_skipping(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if _node_major() is None or (_node_major() or 0) < 20:
        pytest.skip("needs node 20+ on PATH to reach the installed-CLI check")
    monkeypatch.setattr(f"{__name__}.MB", tmp_path / "mb")
    monkeypatch.setenv("METABASE_GUARD_REQUIRE_MB_CLI", "1")
    with pytest.raises(pytest.fail.Exception, match="npm ci"):
        _require_cli()
