"""Review fixes over HTTP: copies of a managed dashboard, changes made between plan and apply,
hand-made tabs on a dashboard whose questions change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.errors import ApplyError
from metabase_guard.sandbox import Sandbox
from metabase_guard.sandbox.server import serve
from tests.reconcile.test_subscriptions import (
    PM_KEY,
    _dashboard_id,
    _plan_apply,
    _sandbox,
    _write,
    dashboard_yaml,
)


def _dashboard_writes(writes: list[tuple[str, str]], dash_id: int) -> list[tuple[str, str]]:
    return [w for w in writes if w[1].startswith(f"/api/dashboard/{dash_id}")]


def test_a_copy_by_another_user_is_reported_and_never_written_even_once_the_original_goes(
    tmp_path: Path,
) -> None:
    sb = _sandbox()
    with serve_both(sb) as (client, pm):
        paths = _write(tmp_path)
        _plan_apply(paths, client)
        original = client.dashboards.get(_dashboard_id(client))
        # what the UI's "Duplicate" makes: the same description, the copier as creator
        copy = pm.dashboards.create({"name": "Recommender health (copy)",
                                     "description": original.description,
                                     "collection_id": original.collection_id})
        before = client.dashboards.get(copy.id).model_dump()

        while_there = engine.plan(engine.load(paths), client)
        (said,) = [u for u in while_there.plan.unmanaged if u.address == f"dashboard #{copy.id}"]
        assert f"#{original.id} is the managed one" in said.reason
        assert while_there.plan.is_empty

        client.dashboards.archive(original.id)
        gone = engine.plan(engine.load(paths), client)
        (said,) = [u for u in gone.plan.unmanaged if u.address == f"dashboard #{copy.id}"]
        assert f"#{original.id}, which had the mark first, is in the Trash" in said.reason
        assert [(c.action, c.live_id) for c in gone.plan.changes if c.kind == "dashboard"] == [
            ("create", None)]
        mark = len(sb.requests)
        engine.apply(gone, client, force=True)
        assert _dashboard_writes(_writes_since(sb, mark), copy.id) == []
        assert client.dashboards.get(copy.id).model_dump() == before
        assert client.pulses.list(dashboard_id=copy.id) == []
        assert engine.plan(engine.load(paths), client).plan.is_empty


def test_a_dashboard_adopted_from_someone_else_stays_managed_when_copied(tmp_path: Path) -> None:
    sb = _sandbox()
    with serve_both(sb) as (client, pm):
        paths = _write(tmp_path)
        _plan_apply(paths, client)
        ours = client.dashboards.get(_dashboard_id(client))
        # pm's own marked dashboard is the only claimant once ours is deleted for good
        client.dashboards.archive(ours.id)
        client.dashboards.delete(ours.id)
        adopted = pm.dashboards.create({"name": "Recommender health",
                                        "description": ours.description,
                                        "collection_id": ours.collection_id})
        copy = pm.dashboards.create({"name": "Recommender health (copy)",
                                     "description": ours.description})
        result = engine.plan(engine.load(paths), client)
        changed = {c.live_id for c in result.plan.changes if c.kind == "dashboard"}
        assert changed <= {adopted.id} and adopted.id in changed
        assert any(u.address == f"dashboard #{copy.id}" for u in result.plan.unmanaged)


def _writes_since(sb: Sandbox, mark: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sb.requests[mark:] if r.method != "GET"]


@contextmanager
def serve_both(sb: Sandbox) -> Iterator[tuple[MetabaseClient, MetabaseClient]]:
    """The sandbox served, with a client for metabase-guard's key and one for pm's."""
    with (serve(sb) as server,
          MetabaseClient(server.url, api_key=sb.admin_api_key) as client,
          MetabaseClient(server.url, api_key=PM_KEY) as pm):
        yield client, pm


FEWER = dashboard_yaml(items="      - weekly-recommendations\n"
                                         "      - daily-recommendations\n")


@pytest.mark.parametrize("edit", ["dashcard", "tab"])
def test_a_card_or_tab_added_between_plan_and_apply_is_not_deleted(
    tmp_path: Path, edit: str,
) -> None:
    sb = _sandbox()
    with serve_both(sb) as (client, pm):
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        planned = engine.plan(engine.load(_write(tmp_path, FEWER)), client)
        assert [c.action for c in planned.plan.changes if c.kind == "dashboard"] == ["update"]

        # a person edits the dashboard in the UI meanwhile
        cells = [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
                  "size_x": d.size_x, "size_y": d.size_y,
                  "visualization_settings": d.visualization_settings}
                 for d in client.dashboards.get(dash_id).dashcards]
        if edit == "tab":
            cells = [dict(c, dashboard_tab_id=-1) for c in cells]
            pm.dashboards.update(dash_id, {"tabs": [{"id": -1, "name": "Mine"}],
                                           "dashcards": cells})
        else:
            extra = {"id": -1, "card_id": None, "row": 30, "col": 0, "size_x": 4, "size_y": 2,
                     "visualization_settings": {"text": "Paula's note"}}
            pm.dashboards.update(dash_id, {"tabs": [], "dashcards": [*cells, extra]})
        edited = client.dashboards.get(dash_id).model_dump()

        mark = len(sb.requests)
        with pytest.raises(ApplyError) as raised:
            engine.apply(planned, client, force=True)
        assert _dashboard_writes(_writes_since(sb, mark), dash_id) == []
        assert client.dashboards.get(dash_id).model_dump() == edited
        ((change, error),) = raised.value.report.failed
        assert change.address == "dashboard recommender-health"
        assert str(error) == (
            f"dashboard recommender-health (#{dash_id}) changed since plan (its cards or tabs "
            "were edited in Metabase meanwhile), so its layout was not written: run plan again")


def test_hand_made_tabs_leave_subscription_cards_alone_and_apply_still_succeeds(
    tmp_path: Path,
) -> None:
    sb = _sandbox()
    with serve_both(sb) as (client, _):
        one = dashboard_yaml(items="      - weekly-recommendations\n")
        _plan_apply(_write(tmp_path, one), client)
        dash_id = _dashboard_id(client)
        cells = [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
                  "size_x": d.size_x, "size_y": d.size_y, "dashboard_tab_id": -1,
                  "visualization_settings": d.visualization_settings}
                 for d in client.dashboards.get(dash_id).dashcards]
        client.dashboards.update(dash_id, {"tabs": [{"id": -1, "name": "Mine"}],
                                           "dashcards": cells})
        refs = {p.id: p.cards for p in client.pulses.list(dashboard_id=dash_id)}

        # daily-recommendations is declared on the dashboard but cannot be laid out there,
        # and the schedule changes: the schedule is written, the cards are kept
        two = dashboard_yaml(items="      - weekly-recommendations\n"
                                   "      - daily-recommendations\n").replace(
            'on: monday, at: "08:00"', 'on: tuesday, at: "09:00"')
        paths = _write(tmp_path, two)
        result = _plan_apply(paths, client)
        assert any(u.address == "cards of the subscriptions of dashboard recommender-health"
                   for u in result.plan.unmanaged)
        updates = [c for c in result.plan.changes if c.kind == "subscription"]
        assert len(updates) == 2
        assert all({f.field for f in c.fields} == {"schedule"} for c in updates)
        pulses = client.pulses.list(dashboard_id=dash_id)
        assert {p.channels[0].schedule_day for p in pulses} == {"tue"}
        assert {p.id: p.cards for p in pulses} == refs
        assert len(client.dashboards.get(dash_id).tabs) == 1
        assert engine.plan(engine.load(paths), client).plan.is_empty


def test_a_layout_another_apply_already_wrote_is_not_a_change_since_plan(
    tmp_path: Path,
) -> None:
    sb = _sandbox()
    with serve_both(sb) as (client, _):
        _plan_apply(_write(tmp_path), client)
        dash_id = _dashboard_id(client)
        paths = _write(tmp_path, FEWER)
        first, second = (engine.plan(engine.load(paths), client) for _ in range(2))
        engine.apply(second, client, force=True)  # a concurrent run, or a killed one's PUT
        done = client.dashboards.get(dash_id).model_dump()
        mark = len(sb.requests)
        engine.apply(first, client, force=True)
        assert [w for w in _dashboard_writes(_writes_since(sb, mark), dash_id)
                if w[0] == "PUT"] == []
        assert client.dashboards.get(dash_id).model_dump() == done
