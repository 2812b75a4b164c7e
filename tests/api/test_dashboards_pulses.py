"""``client.dashboards`` and ``client.pulses`` against the sandbox, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from metabase_guard.api import Dashboard, MetabaseClient
from metabase_guard.errors import NotFoundError
from metabase_guard.sandbox.pytest_plugin import MountedSandbox


@pytest.fixture
def client(metabase_sandbox: MountedSandbox) -> MetabaseClient:
    return MetabaseClient(metabase_sandbox.url, api_key=metabase_sandbox.api_key)


def _card(client: MetabaseClient, name: str) -> int:
    card = client.cards.create({
        "name": name, "display": "scalar", "visualization_settings": {},
        "dataset_query": {"lib/type": "mbql/query", "database": 1,
                          "stages": [{"lib/type": "mbql.stage/native", "native": "SELECT 1"}]}})
    return card.id


def _filled(client: MetabaseClient, *card_ids: int) -> Dashboard:
    dash = client.dashboards.create({"name": "Recommender health", "description": "d"})
    cells = [{"id": -1 - i, "card_id": c, "row": 0, "col": 6 * i, "size_x": 6, "size_y": 3}
             for i, c in enumerate(card_ids)]
    return client.dashboards.update(dash.id, {"tabs": [], "dashcards": cells})


def _email_channel(**extra: Any) -> dict[str, Any]:
    return {"channel_type": "email", "enabled": True, "schedule_type": "daily",
            "schedule_hour": 8, "recipients": [{"email": "pm@example.com"}], **extra}


def test_dashboard_create_update_get_list_archive_delete(client: MetabaseClient) -> None:
    a, b = _card(client, "A"), _card(client, "B")
    dash = _filled(client, a, b)
    assert sorted(dc.card_id or 0 for dc in dash.dashcards) == sorted([a, b])
    assert dash.tabs == [] and dash.width == "fixed"
    got = client.dashboards.get(dash.id)
    assert {dc.id for dc in got.dashcards} == {dc.id for dc in dash.dashcards}
    listed = client.dashboards.list()
    assert [d.id for d in listed] == [dash.id] and listed[0].dashcards == []
    archived = client.dashboards.archive(dash.id)
    assert archived.archived is True
    assert [d.id for d in client.dashboards.list("archived")] == [dash.id]
    assert client.dashboards.list() == []
    client.dashboards.delete(dash.id)
    with pytest.raises(NotFoundError):
        client.dashboards.get(dash.id)


def test_dashcard_ids_stay_when_moved(client: MetabaseClient) -> None:
    a = _card(client, "A")
    dash = _filled(client, a)
    [cell] = dash.dashcards
    moved = client.dashboards.update(dash.id, {"tabs": [], "dashcards": [
        {"id": cell.id, "card_id": a, "row": 4, "col": 0, "size_x": 24, "size_y": 6}]})
    assert [(dc.id, dc.row, dc.size_x) for dc in moved.dashcards] == [(cell.id, 4, 24)]


def test_pulses_create_list_update_archive(client: MetabaseClient) -> None:
    a = _card(client, "A")
    dash = _filled(client, a)
    body = {"name": dash.name, "dashboard_id": dash.id,
            "cards": [{"id": a, "dashboard_card_id": dash.dashcards[0].id,
                       "include_csv": False, "include_xls": False}],
            "channels": [_email_channel()], "skip_if_empty": True}
    pulse = client.pulses.create(body)
    assert pulse.dashboard_id == dash.id and pulse.skip_if_empty is True
    assert pulse.channels[0].recipients == [{"email": "pm@example.com"}]
    assert [p.id for p in client.pulses.list(dashboard_id=dash.id)] == [pulse.id]
    assert client.pulses.list(dashboard_id=dash.id + 1) == []
    updated = client.pulses.update(pulse.id, {
        "channels": [_email_channel(schedule_type="weekly", schedule_day="mon")],
        "archived": False, "skip_if_empty": True})
    assert updated.channels[0].schedule_day == "mon" and updated.skip_if_empty is True
    archived = client.pulses.archive(pulse.id, skip_if_empty=True)
    assert archived.archived is True and archived.skip_if_empty is True
    assert [c.enabled for c in archived.channels] == [False]
    assert [p.id for p in client.pulses.list(archived=True)] == [pulse.id]
    assert client.pulses.get(pulse.id).archived is True


def test_pulse_update_refuses_a_body_that_would_reset_flags(client: MetabaseClient) -> None:
    with pytest.raises(ValueError, match="archived and skip_if_empty"):
        client.pulses.update(1, {"name": "x"})
