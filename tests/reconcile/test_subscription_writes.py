"""What apply sends for subscriptions when the dashboard is not as planned or not ours to lay out.

Over HTTP against the sandbox, bodies read from its log: a dashboard with tabs made by hand
(its layout is left alone, so a create attaches only the declared questions found on it and
an update sends no cards), a question card removed from the dashboard between plan and apply,
and the look-up after a create whose answer was lost, which must take only a pulse this create
could have made (on this dashboard, by this user, not there at plan time, same channel and
recipients).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.sandbox.server import serve
from tests.reconcile.test_dashboard_bodies import Recording, _bodies, _card_ids
from tests.reconcile.test_subscriptions import (
    _dashboard_id,
    _plan_apply,
    _write,
    dashboard_yaml,
    pm_seed,
)

ONE = "      - weekly-recommendations\n"
BOTH = "      - weekly-recommendations\n      - daily-recommendations\n"
def _cells(client: MetabaseClient, dash_id: int, **extra: Any) -> list[dict[str, Any]]:
    """The dashboard's dashcards as a PUT sends them back."""
    return [{"id": d.id, "card_id": d.card_id, "row": d.row, "col": d.col,
             "size_x": d.size_x, "size_y": d.size_y,
             "visualization_settings": d.visualization_settings, **extra}
            for d in client.dashboards.get(dash_id).dashcards]


def _tabs_by_hand(client: MetabaseClient, dash_id: int) -> None:
    """One tab made in the UI, every dashcard on it: the layout is no longer managed."""
    client.dashboards.update(dash_id, {"tabs": [{"id": -1, "name": "Mine"}],
                                       "dashcards": _cells(client, dash_id, dashboard_tab_id=-1)})
    assert len(client.dashboards.get(dash_id).tabs) == 1


def _ref(client: MetabaseClient, dash_id: int, card_id: int) -> dict[str, Any]:
    (shown,) = [d.id for d in client.dashboards.get(dash_id).dashcards if d.card_id == card_id]
    return {"id": card_id, "dashboard_card_id": shown, "include_csv": False,
            "include_xls": False}


def test_on_hand_made_tabs_an_update_sends_no_cards_so_attachment_settings_stay(
    tmp_path: Path,
) -> None:
    """Metabase writes the cards of a PUT that has them anew, each with ``card->ref``'s
    defaults (src/metabase/pulse/models/pulse.clj, ``update-notification!``), so sending the
    pulse's refs back would reset a ``format_rows`` set by hand; without ``cards`` they stay."""
    sb = Recording(pm_seed())
    with serve(sb) as server, MetabaseClient(server.url, api_key=sb.admin_api_key) as client:
        _plan_apply(_write(tmp_path, dashboard_yaml(ONE)), client)
        dash_id = _dashboard_id(client)
        _tabs_by_hand(client, dash_id)
        (email,) = [p for p in client.pulses.list(dashboard_id=dash_id)
                    if p.channels[0].channel_type == "email"]
        weekly = _card_ids(client)["weekly-recommendations"]
        # in the UI: a CSV attached, with unformatted values
        client.pulses.update(email.id, {
            "cards": [{**_ref(client, dash_id, weekly), "include_csv": True,
                       "format_rows": False}],
            "archived": False, "skip_if_empty": False})
        before = {p.id: p.cards for p in client.pulses.list(dashboard_id=dash_id)}
        assert before[email.id][0]["format_rows"] is False

        moved = dashboard_yaml(BOTH).replace('on: monday, at: "08:00"', 'on: tuesday, at: "09:00"')
        mark = len(sb.writes)
        result = _plan_apply(_write(tmp_path, moved), client)
        assert {c.action for c in result.plan.changes if c.kind == "subscription"} == {"update"}
        sent = _bodies(sb, mark, "PUT", "/api/pulse/")
        assert len(sent) == 2
        assert [sorted(body) for body in sent] == [
            ["archived", "channels", "name", "skip_if_empty"]] * 2
        assert {p.id: p.cards for p in client.pulses.list(dashboard_id=dash_id)} == before
        assert engine.plan(engine.load(_write(tmp_path, moved)), client).plan.is_empty
