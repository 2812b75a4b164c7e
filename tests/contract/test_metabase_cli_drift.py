"""Metabase's own CLI reads and edits what metabase-guard made; each edit is drift, repaired.

The demo's recommender declarations (two questions and the "Recommender health" dashboard with
its subscriptions) are applied to the sandbox at each contract version. Then ``mb`` reads them
back through its zod schemas (``mb dashboard get|cards``, ``mb subscription list``) and edits
them as a person would from a terminal (``mb dashboard update-dashcard`` moves and resizes a
card, ``mb dashboard update`` renames the dashboard). The next plan must show each edit, the
apply must repair it in place (same dashcard ids), and the plan after that must be empty.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from metabase_guard import engine
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.sandbox import DEMO_SEED, Sandbox
from metabase_guard.sandbox.server import serve
from metabase_guard.spec.loader import Declarations
from tests.contract.test_metabase_cli import REPO, VERSIONS, Mb, mb_available  # noqa: F401


@pytest.fixture(params=VERSIONS)
def seeded(request: pytest.FixtureRequest, mb_available: None,  # noqa: F811
           tmp_path: Path) -> Iterator[Mb]:
    """``mb`` pointed at a sandbox with the demo's world (Warehouse, people, Slack)."""
    server = serve(Sandbox(version_tag=request.param, seed=str(DEMO_SEED)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MB_", "METABASE_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"),
               MB_CLI_DISABLE_KEYRING="1", MB_VERBOSE="1", MB_API_KEY=server.api_key,
               MB_URL=server.url, NO_COLOR="1")
    try:
        yield Mb(server, env)
    finally:
        server.close()


def _declarations(tmp_path: Path) -> Declarations:
    path = tmp_path / "recommender.yaml"
    shutil.copy(REPO / "alerts" / "recommender.yaml", path)
    return engine.load([str(path)])


def test_metabase_cli_reads_and_edits_what_metabase_guard_made(
        seeded: Mb, tmp_path: Path) -> None:
    declarations = _declarations(tmp_path)
    with engine.connect(seeded.server.url, api_key=seeded.server.api_key) as client:
        engine.apply(engine.plan(declarations, client), client)
        assert engine.plan(declarations, client).plan.is_empty
        dash = next(d for d in client.dashboards.list()
                    if managed_key(d.description) == "recommender-health")
        weekly = next(c for c in client.cards.list()
                      if managed_key(c.description) == "weekly-recommendations")
        ids = sorted(d.id for d in client.dashboards.get(dash.id).dashcards)

        # mb reads it: every answer passes Metabase's CLI schemas
        got = seeded("dashboard", "get", str(dash.id), "--full")
        assert got["name"] == "Recommender health"
        assert managed_key(got["description"]) == "recommender-health"
        cells = seeded("dashboard", "cards", str(dash.id))["data"]
        assert sorted(c["id"] for c in cells) == ids
        chart = next(c for c in cells if c.get("card_id") == weekly.id)
        assert (chart["row"], chart["col"], chart["size_x"], chart["size_y"]) == (1, 0, 12, 6)
        subs = seeded("subscription", "list", "--dashboard-id", str(dash.id))["data"]
        kinds = sorted(c["channel_type"] for s in subs for c in s["channels"])
        assert kinds == ["email", "slack"]

        # mb edits it: a card moved and resized, the dashboard renamed
        moved = seeded("dashboard", "update-dashcard", str(dash.id), str(chart["id"]),
                       body={"row": 20, "col": 6, "size_x": 6})
        assert (moved["row"], moved["col"], moved["size_x"]) == (20, 6, 6)
        renamed = seeded("dashboard", "update", str(dash.id), body={"name": "Renamed by hand"})
        assert renamed["name"] == "Renamed by hand"

        drift = engine.plan(declarations, client).plan
        (change,) = drift.changes
        assert (change.action, change.address) == ("update", "dashboard recommender-health")
        fields = [(f.field, f.old, f.new) for f in change.fields]
        assert fields == [("name", "Renamed by hand", "Recommender health"),
                          ("cards", "weekly-recommendations at row 20, col 6, 6x6",
                           "weekly-recommendations at row 1, col 0, 12x6")]
        assert change.fields[1].summary == ("moved and resized weekly-recommendations "
                                            "(row 20 col 6, 6x6 -> row 1 col 0, 12x6)")

        report = engine.apply(engine.plan(declarations, client), client)
        assert [c.address for c in report.done] == ["dashboard recommender-health"]
        assert engine.plan(declarations, client).plan.is_empty
        repaired = client.dashboards.get(dash.id)
        assert repaired.name == "Recommender health"
        assert sorted(d.id for d in repaired.dashcards) == ids  # repaired in place
        back = next(c for c in seeded("dashboard", "cards", str(dash.id))["data"]
                    if c["id"] == chart["id"])
        assert (back["row"], back["col"], back["size_x"], back["size_y"]) == (1, 0, 12, 6)


def test_a_subscription_edited_with_metabase_cli_is_drift(seeded: Mb, tmp_path: Path) -> None:
    declarations = _declarations(tmp_path)
    with engine.connect(seeded.server.url, api_key=seeded.server.api_key) as client:
        engine.apply(engine.plan(declarations, client), client)
        dash = next(d for d in client.dashboards.list()
                    if managed_key(d.description) == "recommender-health")
        (mail,) = [p for p in client.pulses.list(dashboard_id=dash.id)
                   if [c.channel_type for c in p.channels] == ["email"]]
        channel = mail.channels[0].model_dump()
        seeded("subscription", "update", str(mail.id),
               body={"channels": [{**channel, "schedule_hour": 11}]})
        drift = engine.plan(declarations, client).plan
        assert [c.action for c in drift.changes] == ["update"]
        assert "subscription" in drift.changes[0].address
        engine.apply(engine.plan(declarations, client), client)
        assert engine.plan(declarations, client).plan.is_empty
