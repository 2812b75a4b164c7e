"""Dashboards over HTTP against the sandbox: plan, apply, re-apply, reorder, remove, prune."""

from __future__ import annotations

from pathlib import Path

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.sandbox.app import Sandbox
from metabase_guard.sandbox.server import serve

QUESTIONS = """\
questions:
  - key: weekly-recommendations
    name: Weekly recommendations
    collection: Health checks/Recommender
    database: Sample Database
    sql: SELECT 1 AS n
    display: bar
  - key: daily-recommendations
    name: Daily recommendations
    collection: Health checks/Recommender
    database: Sample Database
    sql: SELECT 2 AS n
    display: line
"""

DASHBOARD = """\
dashboards:
  - key: recommender-health
    name: Recommender health
    collection: Health checks/Recommender
    description: Key metrics of the recommender, beside its health checks.
    cards:
{cards}
"""

ITEMS = """\
      - heading: Weekly pushes
      - weekly-recommendations
      - {question: daily-recommendations, size: wide}
      - text: Bars under the goal line mean the recommender missed its week.
"""


def _write(folder: Path, items: str = ITEMS, dashboards: bool = True) -> list[Path]:
    path = folder / "decl.yaml"
    text = QUESTIONS + (DASHBOARD.format(cards=items.rstrip("\n")) if dashboards else "")
    path.write_text(text, encoding="utf-8")
    return [path]


def _plan_apply(paths: list[Path], client: MetabaseClient,
                prune: bool = False) -> engine.PlanResult:
    result = engine.plan(engine.load(paths), client, prune=prune)
    engine.apply(result, client, force=True)
    return result


def _ours(client: MetabaseClient) -> list[int]:
    return [d.id for d in client.dashboards.list("all")
            if managed_key(d.description) == "recommender-health"]


def _writes(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r.method != "GET")


def test_a_dashboard_applies_reapplies_with_zero_writes_and_keeps_ids(tmp_path: Path) -> None:
    sb = Sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        first = _plan_apply(_write(tmp_path), client)
        assert [c.address for c in first.plan.changes if c.kind == "dashboard"] == [
            "dashboard recommender-health"]
        (dash_id,) = _ours(client)
        dash = client.dashboards.get(dash_id)
        assert dash.tabs == []
        cells = sorted((d.row, d.col, d.size_x, d.size_y, d.card_id is None)
                       for d in dash.dashcards)
        assert cells == [(0, 0, 24, 1, True), (1, 0, 12, 6, False), (7, 0, 18, 6, False),
                         (13, 0, 24, 2, True)]
        again = engine.plan(engine.load(_write(tmp_path)), client)
        assert again.plan.is_empty, [c.to_dict() for c in again.plan.changes]
        before = _writes(sb)
        engine.apply(again, client)
        assert _writes(sb) == before
        ids = {d.card_id: d.id for d in dash.dashcards if d.card_id is not None}

        # reorder: the same dashcards move, none is recreated
        swapped = ("      - heading: Weekly pushes\n"
                   "      - {question: daily-recommendations, size: wide}\n"
                   "      - weekly-recommendations\n")
        moved = _plan_apply(_write(tmp_path, swapped), client)
        (change,) = [c for c in moved.plan.changes if c.kind == "dashboard"]
        assert change.action == "update"
        after = client.dashboards.get(dash_id)
        assert {d.card_id: d.id for d in after.dashcards if d.card_id is not None} == ids
        assert len(after.dashcards) == 3  # the text went, nothing else
        assert engine.plan(engine.load(_write(tmp_path, swapped)), client).plan.is_empty


def test_an_item_removed_goes_cleanly_and_prune_archives_the_dashboard(tmp_path: Path) -> None:
    sb = Sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        (dash_id,) = _ours(client)
        fewer = "      - weekly-recommendations\n"
        result = _plan_apply(_write(tmp_path, fewer), client)
        (change,) = [c for c in result.plan.changes if c.kind == "dashboard"]
        assert any(f.new is None for f in change.fields)  # removals are listed
        dash = client.dashboards.get(dash_id)
        assert [(d.row, d.col) for d in dash.dashcards] == [(0, 0)]

        kept = engine.plan(engine.load(_write(tmp_path, dashboards=False)), client)
        assert not [c for c in kept.plan.changes if c.kind == "dashboard"]
        assert [c.address for c in kept.plan.pending_deletes] == ["dashboard recommender-health"]
        pruned = _plan_apply(_write(tmp_path, dashboards=False), client, prune=True)
        (gone,) = [c for c in pruned.plan.changes if c.kind == "dashboard"]
        assert gone.action == "delete" and "subscription" in gone.effects[0]
        assert _ours(client) == []
        assert client.dashboards.get(dash_id).archived


def test_a_hand_made_dashboard_of_the_same_name_is_never_touched(tmp_path: Path) -> None:
    sb = Sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        hand = client.dashboards.create({"name": "Recommender health",
                                         "description": "made by Paula"})
        before = client.dashboards.get(hand.id)
        result = _plan_apply(_write(tmp_path), client, prune=True)
        assert any(u.address == f"dashboard #{hand.id}" for u in result.plan.unmanaged)
        after = client.dashboards.get(hand.id)
        assert after.model_dump() == before.model_dump()
        assert len(_ours(client)) == 1 and _ours(client) != [hand.id]


def test_hand_made_tabs_are_reported_not_flattened(tmp_path: Path) -> None:
    sb = Sandbox()
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path), client)
        (dash_id,) = _ours(client)
        dash = client.dashboards.get(dash_id)
        cells = [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
                  "size_x": d.size_x, "size_y": d.size_y, "dashboard_tab_id": -1,
                  "visualization_settings": d.visualization_settings}
                 for d in dash.dashcards]
        client.dashboards.update(dash_id, {"tabs": [{"id": -1, "name": "Mine"}],
                                           "dashcards": cells})
        result = _plan_apply(_write(tmp_path, "      - weekly-recommendations\n"), client)
        assert any(u.address == "tabs of dashboard recommender-health"
                   for u in result.plan.unmanaged)
        assert len(client.dashboards.get(dash_id).tabs) == 1
