"""``import --dashboard N``: a dashboard clicked together in the UI becomes YAML and is adopted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from metabase_guard.api.client import MetabaseClient
from metabase_guard.reconcile.identity import managed_key
from tests.e2e.conftest import Env

HEADING = {"virtual_card": {"name": None, "display": "heading", "visualization_settings": {},
                            "dataset_query": {}, "archived": False},
           "text": "Weekly pushes", "dashcard.background": False}


def _text(text: str) -> dict[str, Any]:
    return {"virtual_card": {"name": None, "display": "text", "visualization_settings": {},
                             "dataset_query": {}, "archived": False}, "text": text}


def _pm(env: Env) -> MetabaseClient:
    return MetabaseClient(env.mb.url, username="pm@example.com", password="priya")


def _sql_card(pm: MetabaseClient, name: str, display: str = "scalar") -> int:
    db = pm.databases.by_name("Warehouse").id
    card = pm.cards.create({
        "name": name, "display": display, "visualization_settings": {},
        "collection_id": pm.collections.resolve_path("Team", create=True),
        "dataset_query": {"type": "native", "database": db,
                          "native": {"query": "SELECT count(*) AS n FROM recommendations"}},
    })
    return card.id


def _hand_made_dashboard(env: Env, dashcards: list[dict[str, Any]], *,
                         pulses: bool = True) -> int:
    """A dashboard the PM made in the UI over a managed card and a card of their own."""
    pm = _pm(env)
    folder = pm.collections.resolve_path("Team", create=True)
    dash = pm.dashboards.create({"name": "Team pulse", "description": "Made in the UI",
                                 "collection_id": folder})
    made = pm.dashboards.update(dash.id, {"tabs": [], "dashcards": dashcards})
    if pulses:
        charts = [d for d in made.dashcards if d.card_id is not None]
        cards = [{"id": d.card_id, "dashboard_card_id": d.id, "include_csv": False,
                  "include_xls": False} for d in charts]
        for channel in (
            {"channel_type": "email", "enabled": True, "schedule_type": "weekly",
             "schedule_day": "mon",
             "schedule_hour": 8, "recipients": [{"id": pm.me.id}, {"email": "boss@example.org"}]},
            {"channel_type": "slack", "enabled": True, "schedule_type": "daily",
             "schedule_hour": 7,
             "recipients": [], "details": {"channel": "#ml-alerts"}},
        ):
            pm.pulses.create({"name": "Team pulse", "dashboard_id": dash.id, "cards": cards,
                              "channels": [channel]})
    return dash.id


def _managed_card_id(env: Env, key: str) -> int:
    with env.client() as client:
        return next(c.id for c in client.cards.list() if managed_key(c.description) == key)


def _rule_layout(env: Env, own: int) -> list[dict[str, Any]]:
    """Dashcards exactly where metabase-guard's layout rule puts these items."""
    weekly = _managed_card_id(env, "weekly-recommendations")
    return [
        {"id": -1, "card_id": None, "row": 0, "col": 0, "size_x": 24, "size_y": 1,
         "visualization_settings": HEADING},
        {"id": -2, "card_id": weekly, "row": 1, "col": 0, "size_x": 12, "size_y": 6},  # bar
        {"id": -3, "card_id": own, "row": 1, "col": 12, "size_x": 6, "size_y": 3},  # scalar
        {"id": -4, "card_id": None, "row": 7, "col": 0, "size_x": 18, "size_y": 6,
         "visualization_settings": _text("Under the line: call the recommender team.")},
    ]


def test_import_dashboard_writes_its_declaration_adopts_it_and_plan_is_empty(
        env: Env, tmp_path: Path) -> None:
    assert env.run("apply", "--yes", str(env.alerts)).code == 0
    own = _sql_card(_pm(env), "Pushes today")
    dash_id = _hand_made_dashboard(env, _rule_layout(env, own))
    out = tmp_path / "team.yaml"

    result = env.run("import", "--dashboard", str(dash_id), "--out", str(out), "--yes")

    assert result.code == 0, result.err
    assert "Wrote 1 question(s), 1 dashboard(s)" in result.err
    assert "layout rule" not in result.err  # the geometry is the rule's: nothing moves
    data = yaml.safe_load(out.read_text())
    assert [q["key"] for q in data["questions"]] == ["pushes-today"]  # the unmanaged card
    (board,) = data["dashboards"]
    assert board["key"] == "team-pulse"
    assert board["collection"] == "Team"
    assert board["description"] == "Made in the UI"
    assert board["cards"] == [  # reading order; the bar and the scalar have default sizes
        {"heading": "Weekly pushes"},
        "weekly-recommendations",
        "pushes-today",
        {"text": "Under the line: call the recommender team.", "size": "wide"},
    ]
    assert board["subscriptions"] == [
        {"schedule": {"every": "week", "on": "monday", "at": "08:00"},
         "email": ["boss@example.org", "pm@example.com"]},
        {"schedule": {"every": "day", "at": "07:00"}, "slack": ["#ml-alerts"]},
    ]
    assert f"dashboard #{dash_id} marked as team-pulse" in result.err
    with env.client() as client:
        dash = client.dashboards.get(dash_id)
        assert managed_key(dash.description) == "team-pulse"
        assert dash.description is not None and dash.description.startswith("Made in the UI")
        assert managed_key(client.cards.get(own).description) == "pushes-today"
        # the PM's subscriptions are replaced by copies made by metabase-guard's user
        live = client.pulses.list(dashboard_id=dash_id)
        assert len(live) == 2 and {p.creator_id for p in live} == {client.me.id}
        assert len(client.pulses.list(dashboard_id=dash_id, archived=True)) == 2

    plan = env.run("plan", "--detailed-exitcode", str(env.alerts), str(out))
    assert plan.code == 0, plan.out
    assert "No changes." in plan.out


def test_import_dashboard_says_which_items_the_layout_rule_moves(
        env: Env, tmp_path: Path) -> None:
    assert env.run("apply", "--yes", str(env.alerts)).code == 0
    own = _sql_card(_pm(env), "Pushes today")
    cells = _rule_layout(env, own)
    cells[2].update(row=1, col=16, size_x=8, size_y=4)  # hand-placed with a gap, odd size
    dash_id = _hand_made_dashboard(env, cells, pulses=False)
    out = tmp_path / "team.yaml"

    result = env.run("import", "--dashboard", str(dash_id), "--out", str(out), "--yes")

    assert result.code == 0, result.err
    assert "the first apply moves 1 item(s)" in result.err
    assert "cards[2] pushes-today: row 1, col 16, 8x4 -> row 1, col 12, 8x4" in result.err
    board = yaml.safe_load(out.read_text())["dashboards"][0]
    assert board["cards"][2] == {"question": "pushes-today", "size": [8, 4]}
    assert "subscriptions" not in board
    plan = env.run("plan", "--detailed-exitcode", str(env.alerts), str(out))
    assert plan.code == 2
    assert "moved pushes-today (row 1 col 16 -> row 1 col 12)" in plan.out
    with env.client() as client:
        before = sorted(d.id for d in client.dashboards.get(dash_id).dashcards)
    assert env.run("apply", "--yes", str(env.alerts), str(out)).code == 0
    with env.client() as client:
        assert sorted(d.id for d in client.dashboards.get(dash_id).dashcards) == before
    assert env.run("plan", "--detailed-exitcode", str(env.alerts), str(out)).code == 0


def test_import_of_a_dashboard_that_does_not_exist_is_one_clear_error(
        env: Env, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    before = env.writes()
    result = env.run("import", "--dashboard", "999", "--out", str(out), "--yes")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"Error: --dashboard 999: there is no dashboard #999 on {env.mb.url} (the number is "
        "the one in the dashboard's URL, /dashboard/ID-...)"]
    assert "Traceback" not in result.both
    assert not out.exists() and env.writes() == before


def test_import_of_a_dashboard_with_a_query_builder_card_names_it(
        env: Env, tmp_path: Path) -> None:
    pm = _pm(env)
    gui = pm.cards.create({"name": "Clicked question", "display": "table",
                           "visualization_settings": {},
                           "dataset_query": {"type": "query", "database": 1,
                                             "query": {"source-table": 1}}})
    dash_id = _hand_made_dashboard(env, [
        {"id": -1, "card_id": gui.id, "row": 0, "col": 0, "size_x": 12, "size_y": 9}],
        pulses=False)
    before = env.writes()
    result = env.run("import", "--dashboard", str(dash_id), "--yes")
    assert result.code == 1
    assert (f"Error: --dashboard {dash_id}: card #{gui.id} 'Clicked question' on it is not a "
            "native SQL question") in result.err
    assert result.out == "" and env.writes() == before


def test_import_of_a_dashboard_with_a_link_card_or_tabs_says_why_it_cannot(env: Env) -> None:
    link = {"virtual_card": {"name": None, "display": "link", "visualization_settings": {},
                             "dataset_query": {}, "archived": False},
            "link": {"url": "https://example.org"}}
    dash_id = _hand_made_dashboard(env, [
        {"id": -1, "card_id": None, "row": 0, "col": 0, "size_x": 8, "size_y": 1,
         "visualization_settings": link}], pulses=False)
    result = env.run("import", "--dashboard", str(dash_id), "--yes")
    assert result.code == 1
    assert "dashcard #" in result.err and "is a link card" in result.err
    pm = _pm(env)
    pm.dashboards.update(dash_id, {"dashcards": [], "tabs": [
        {"id": -1, "name": "One"}, {"id": -2, "name": "Two"}]})
    result = env.run("import", "--dashboard", str(dash_id), "--yes")
    assert result.code == 1
    assert "has 2 tab(s); metabase-guard lays out dashboards without tabs" in result.err


def test_import_dashboard_leaves_alone_subscriptions_a_copy_could_not_repeat(
        env: Env, tmp_path: Path) -> None:
    """Filters, no links, webhooks, disabled channels, odd schedules: never re-created by us."""
    assert env.run("apply", "--yes", str(env.alerts)).code == 0
    own = _sql_card(_pm(env), "Pushes today")
    dash_id = _hand_made_dashboard(env, _rule_layout(env, own), pulses=False)
    pm = _pm(env)
    charts = [d for d in pm.dashboards.get(dash_id).dashcards if d.card_id is not None]
    cards = [{"id": d.card_id, "dashboard_card_id": d.id, "include_csv": False,
              "include_xls": False} for d in charts]
    weekly = {"schedule_type": "weekly", "schedule_day": "mon", "schedule_hour": 8}
    email = {"channel_type": "email", "enabled": True, **weekly,
             "recipients": [{"email": "boss@example.org"}]}

    def pulse(*channels: dict[str, Any], **extra: Any) -> int:
        return pm.pulses.create({"name": "Team pulse", "dashboard_id": dash_id, "cards": cards,
                                 "channels": list(channels), **extra}).id

    filtered = pulse(email, parameters=[{"id": "abc", "name": "Region", "slug": "region",
                                         "type": "string/=", "value": ["EU"]}])
    webhook = pulse(email, {"channel_type": "http", "enabled": True, **weekly,
                            "recipients": [], "channel_id": 1})
    disabled = pulse({**email, "enabled": False})
    odd = pulse({**email, "schedule_type": "monthly", "schedule_frame": "first"})
    no_links = pulse(email)
    # POST /api/pulse cannot set disable_links (src/metabase/pulse/api/pulse.clj), the
    # notification UI can: set it on the stored row as that UI would have
    env.mb.sandbox.store.get("pulses", no_links)["disable_links"] = True
    both = pulse(email, {"channel_type": "slack", "enabled": True, "schedule_type": "daily",
                         "schedule_hour": 7, "recipients": [],
                         "details": {"channel": "#ml-alerts"}})
    out = tmp_path / "team.yaml"

    result = env.run("import", "--dashboard", str(dash_id), "--out", str(out), "--yes")

    assert result.code == 0, result.err
    for pulse_id, why in ((filtered, "it filters the dashboard (parameters)"),
                          (webhook, "it delivers by 'http'"),
                          (disabled, "its email channel is disabled"),
                          (odd, "its email schedule has no declaration form"),
                          (no_links, "it is sent without links")):
        assert f"skipped: subscription #{pulse_id}: {why}" in result.err
    assert "not imported and left as it is" in result.err
    board = yaml.safe_load(out.read_text())["dashboards"][0]
    assert board["subscriptions"] == [
        {"schedule": {"every": "week", "on": "monday", "at": "08:00"},
         "email": ["boss@example.org"]},
        {"schedule": {"every": "day", "at": "07:00"}, "slack": ["#ml-alerts"]},
    ]
    with env.client() as client:
        active = {p.id: p for p in client.pulses.list(dashboard_id=dash_id)}
        archived = {p.id for p in client.pulses.list(dashboard_id=dash_id, archived=True)}
        assert archived == {both}  # only the one our copies repeat exactly
        left = {filtered, webhook, disabled, odd, no_links}
        assert left <= set(active)
        assert all(active[i].creator_id == pm.me.id for i in left)
        assert all(active[i].channels[0].enabled for i in left - {disabled})
        copies = [p for p in active.values() if p.creator_id == client.me.id]
        assert sorted(c.channels[0].channel_type for c in copies) == ["email", "slack"]
        assert all(len(c.channels) == 1 for c in copies)

    plan = env.run("plan", "--detailed-exitcode", str(env.alerts), str(out))
    assert plan.code == 0, plan.out
    assert "No changes." in plan.out


def test_imported_times_are_quoted_as_the_docs_write_them() -> None:
    from metabase_guard.importer import dump_yaml

    text = dump_yaml([], [{"key": "d", "subscriptions": [
        {"schedule": {"every": "week", "on": "monday", "at": at}} for at in ("08:00", "10:00")]}])
    # PyYAML wrote 08:00 plain and '10:00' quoted; the docs quote every time the same way
    assert 'at: "08:00"' in text and 'at: "10:00"' in text
    subscriptions = yaml.safe_load(text)["dashboards"][0]["subscriptions"]
    assert [s["schedule"]["at"] for s in subscriptions] == ["08:00", "10:00"]
