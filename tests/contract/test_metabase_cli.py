"""Metabase's own CLI (``@metabase/cli``, command ``mb``) against the sandbox: a judge from outside.

The sandbox and metabase-guard's client are written by the same people, so they can agree and
both be wrong. ``mb`` validates every response with its own zod schemas (``MB_VERBOSE=1``
prints the issues), so each command below exiting 0 means Metabase's CLI accepts what the
sandbox answers. The CLI is pinned in tools/mbcli/package-lock.json; ``.ci/run`` installs it.

Where node 20.6+ or the installed CLI is missing the tests skip and say why, unless
``METABASE_GUARD_REQUIRE_MB_CLI=1`` (set by ``.ci/run``), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from metabase_guard.sandbox import Sandbox
from metabase_guard.sandbox.server import SandboxServer, serve

REPO = Path(__file__).resolve().parents[2]
MB = REPO / "tools" / "mbcli" / "node_modules" / ".bin" / "mb"
VERSIONS = ["v0.58.3", "v0.63.0"]


def _missing() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not installed (Metabase's CLI needs node 20.6+)"
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.(\d+)", out.stdout.strip())
    if not match or (int(match.group(1)), int(match.group(2))) < (20, 6):
        return f"node {out.stdout.strip() or '?'} is older than 20.6, which @metabase/cli needs"
    if not MB.exists():
        return "@metabase/cli is not installed: run `npm ci --prefix tools/mbcli`"
    return None


@pytest.fixture(scope="module")
def mb_available() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("METABASE_GUARD_REQUIRE_MB_CLI") == "1":
        pytest.fail(f"Metabase CLI contract test cannot run: {reason}")
    pytest.skip(f"Metabase CLI contract test skipped: {reason}")


@dataclass
class Mb:
    server: SandboxServer
    env: dict[str, str]

    def __call__(self, *args: str, body: Any = None) -> Any:
        argv = [str(MB), *args, "--json"]
        if body is not None:
            argv += ["--body", json.dumps(body)]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, (
            f"`mb {' '.join(args)}` exited {done.returncode}: Metabase's CLI rejects what the "
            f"sandbox answered\n{done.stdout}\n{done.stderr}"
        )
        return json.loads(done.stdout)


@pytest.fixture(params=VERSIONS)
def mb(request: pytest.FixtureRequest, mb_available: None, tmp_path: Path) -> Iterator[Mb]:
    server = serve(Sandbox(version_tag=request.param))
    # A throw-away HOME, no keyring, and none of the METABASE_* variables the CLI also reads.
    # MB_URL and MB_API_KEY are the CLI's non-interactive credentials (its `auth login` help:
    # "For CI/non-interactive use"), so only the test of `auth login` logs in: each `mb` call
    # costs about half a second of node CPU, most of it loading the CLI's modules.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MB_", "METABASE_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"),
               MB_CLI_DISABLE_KEYRING="1", MB_VERBOSE="1", MB_API_KEY=server.api_key,
               MB_URL=server.url, NO_COLOR="1")
    try:
        yield Mb(server, env)
    finally:
        server.close()


def _native(sql: str) -> dict[str, Any]:
    return {"lib/type": "mbql/query", "database": 1,
            "stages": [{"lib/type": "mbql.stage/native", "native": sql}]}


def test_metabase_cli_accepts_every_sandbox_answer(mb: Mb) -> None:
    login = mb("auth", "login", "--url", mb.server.url)
    assert login["authenticated"] is True

    # The sandbox's collection and setting answers have no version gate (sandbox/collections.py,
    # the settings of sandbox/misc.py), so their reads are judged once, at the newest version:
    # each `mb` call is most of a second of node CPU
    newest = mb.server.sandbox.version_tag == VERSIONS[-1]
    collection = mb("collection", "create", body={"name": "Contract"})
    if newest:
        assert mb("collection", "get", str(collection["id"]))["name"] == "Contract"
        assert any(c["id"] == collection["id"] for c in mb("collection", "list")["data"])

    card = mb("card", "create", body={
        "name": "Nightly rows", "display": "line", "collection_id": collection["id"],
        "dataset_query": _native("SELECT 7 AS n"),
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": 5},
    })
    full = mb("card", "get", str(card["id"]), "--full")
    assert full["visualization_settings"]["graph.goal_value"] == 5
    assert mb("card", "list")["total"] >= 1
    assert mb("card", "update", str(card["id"]), body={"description": "rows"})[
        "description"] == "rows"

    ran = mb("query", body=_native("SELECT 7 AS n"))
    assert ran["data"]["rows"] == [[7]]

    alert = mb("alert", "create", body={
        "payload": {"card_id": card["id"], "send_condition": "goal_above"},
        "subscriptions": [{"cron_schedule": "0 0 8 * * ? *"}],
        "handlers": [
            {"channel_type": "channel/email", "recipients": [
                {"type": "notification-recipient/raw-value",
                 "details": {"value": "team@example.com"}}]},
            {"channel_type": "channel/slack", "recipients": [
                {"type": "notification-recipient/raw-value", "details": {"value": "#general"}}]},
        ],
    })
    alert_id = str(alert["id"])
    assert mb("alert", "get", alert_id, "--full")["payload"]["card_id"] == card["id"]
    assert [a["id"] for a in mb("alert", "list")["data"]] == [alert["id"]]
    updated = mb("alert", "update", alert_id, body={"payload": {"send_condition": "has_result"}})
    assert updated["payload"]["send_condition"] == "has_result"
    assert mb("alert", "archive", alert_id)["active"] is False

    if newest:
        assert mb("setting", "set", "report-timezone", '"Europe/Berlin"')["value"] == (
            "Europe/Berlin")
        assert mb("setting", "get", "report-timezone")["value"] == "Europe/Berlin"
        assert any(s["key"] == "site-url" for s in mb("setting", "list")["data"])

    assert mb("card", "archive", str(card["id"]))["archived"] is True


# that the judge can fail does not depend on the version: once, at the newest
@pytest.mark.parametrize("mb", VERSIONS[-1:], indirect=True)
def test_the_judge_fails_on_an_answer_metabase_would_never_give(
        mb: Mb, monkeypatch: pytest.MonkeyPatch) -> None:
    from metabase_guard.api import AlertSpec, HandlerSpec, MetabaseClient, RecipientSpec
    from metabase_guard.sandbox import notifications

    client = MetabaseClient(mb.server.url, api_key=mb.server.api_key)
    card = client.cards.create({"name": "c", "display": "table", "visualization_settings": {},
                                "dataset_query": _native("SELECT 1 AS x")})
    client.notifications.create(AlertSpec(card.id, "has_result", False, "0 0 8 * * ? *", (
        HandlerSpec("channel/email", recipients=(
            RecipientSpec("notification-recipient/raw-value", value="a@example.com"),)),)))
    assert mb("alert", "list")["data"]

    hydrate = notifications.hydrate

    def without_payload_id(store: Any, notification: Any) -> Any:
        out = hydrate(store, notification)
        out.pop("payload_id", None)
        return out

    monkeypatch.setattr(notifications, "hydrate", without_payload_id)
    done = subprocess.run([str(MB), "alert", "list", "--json"], env=mb.env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "payload_id" in done.stderr and "zod" in done.stderr


def _raw(mb: Mb, path: str) -> Any:
    response = requests.get(mb.server.url + path, headers={"x-api-key": mb.server.api_key},
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


HEADING = {"virtual_card": {"name": None, "display": "heading", "visualization_settings": {},
                            "dataset_query": {}, "archived": False},
           "text": "Weekly pushes", "dashboard.background": False}


def test_metabase_cli_reads_and_edits_dashboards_and_subscriptions(mb: Mb) -> None:
    card = mb("card", "create", body={
        "name": "Weekly pushes", "display": "line", "visualization_settings": {},
        "dataset_query": _native("SELECT 7 AS n")})

    # create is POST then PUT inside mb: the dashcards must land
    dash = mb("dashboard", "create", body={
        "name": "Recommender health", "description": "Key metrics",
        "dashcards": [
            {"id": -1, "card_id": None, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
             "visualization_settings": HEADING},
            {"id": -2, "card_id": card["id"], "row": 1, "col": 0, "size_x": 12, "size_y": 6},
        ]})
    dash_id = str(dash["id"])
    raw = _raw(mb, f"/api/dashboard/{dash_id}")
    assert sorted((dc["row"], dc["card_id"]) for dc in raw["dashcards"]) == [
        (0, None), (1, card["id"])]
    assert raw["tabs"] == [] and raw["width"] == "fixed"

    assert mb("dashboard", "get", dash_id)["name"] == "Recommender health"
    cells = mb("dashboard", "cards", dash_id)["data"]
    assert sorted(c["id"] for c in cells) == sorted(dc["id"] for dc in raw["dashcards"])
    assert [d["id"] for d in mb("dashboard", "list")["data"]] == [dash["id"]]

    assert mb("dashboard", "update", dash_id, body={"name": "Renamed"})["name"] == "Renamed"
    assert _raw(mb, f"/api/dashboard/{dash_id}")["name"] == "Renamed"

    chart = next(dc for dc in raw["dashcards"] if dc["card_id"] == card["id"])
    moved = mb("dashboard", "update-dashcard", dash_id, str(chart["id"]),
               body={"row": 3, "size_x": 24})
    assert (moved["id"], moved["row"], moved["size_x"]) == (chart["id"], 3, 24)
    after = _raw(mb, f"/api/dashboard/{dash_id}")["dashcards"]
    assert sorted(dc["id"] for dc in after) == sorted(dc["id"] for dc in raw["dashcards"])

    sub = mb("subscription", "create", body={
        "name": "Renamed", "dashboard_id": dash["id"],
        "cards": [{"id": card["id"], "dashboard_card_id": chart["id"], "include_csv": False,
                   "include_xls": False}],
        "channels": [{"channel_type": "email", "schedule_type": "weekly", "schedule_day": "mon",
                      "schedule_hour": 8, "recipients": [{"email": "pm@example.com"}]}]})
    sub_id = str(sub["id"])
    listed = mb("subscription", "list", "--dashboard-id", dash_id)["data"]
    assert [s["id"] for s in listed] == [sub["id"]]
    mb("subscription", "update", sub_id, body={"skip_if_empty": True})
    assert _raw(mb, f"/api/pulse/{sub_id}")["skip_if_empty"] is True
    assert mb("subscription", "archive", sub_id)["archived"] is True
    stored = _raw(mb, f"/api/pulse/{sub_id}")
    # mb carries skip_if_empty forward, so the archive does not reset it
    assert stored["archived"] is True and stored["skip_if_empty"] is True
    assert [c["enabled"] for c in stored["channels"]] == [False]

    assert mb("dashboard", "archive", dash_id)["archived"] is True
    assert [d["id"] for d in _raw(mb, "/api/dashboard?f=archived")] == [dash["id"]]
    assert mb("dashboard", "list", "--filter", "archived")["data"][0]["id"] == dash["id"]


# that the judge can fail does not depend on the version: once, at the newest
@pytest.mark.parametrize("mb", VERSIONS[-1:], indirect=True)
def test_the_judge_fails_on_a_dashboard_metabase_would_never_give(
        mb: Mb, monkeypatch: pytest.MonkeyPatch) -> None:
    from metabase_guard.sandbox import dashboards

    dash = mb("dashboard", "create", body={"name": "Judge"})
    assert mb("dashboard", "get", str(dash["id"]))["name"] == "Judge"

    render = dashboards.dashboard_json

    def without_width(*args: Any, **kwargs: Any) -> Any:
        out = render(*args, **kwargs)
        out.pop("width", None)
        return out

    monkeypatch.setattr(dashboards, "dashboard_json", without_width)
    done = subprocess.run([str(MB), "dashboard", "get", str(dash["id"]), "--json"], env=mb.env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "width" in done.stderr and "zod" in done.stderr
