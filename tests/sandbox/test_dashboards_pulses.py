"""``/api/dashboard`` and ``/api/pulse`` against the sandbox, one Metabase rule per test."""

from __future__ import annotations

from typing import Any

from conftest import Api


def _dashboard(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/api/dashboard", {"name": "Recommender health", **body})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _put(api: Api, dash_id: int, body: dict[str, Any], status: int = 200) -> Any:
    response = api.put(f"/api/dashboard/{dash_id}", body)
    assert response.status_code == status, response.text
    return response.json() if response.text else None


def _cell(dc_id: int, card_id: int | None, row: int, col: int = 0, w: int = 12,
          h: int = 6, **extra: Any) -> dict[str, Any]:
    return {"id": dc_id, "card_id": card_id, "row": row, "col": col, "size_x": w, "size_y": h,
            **extra}


def _heading(dc_id: int, text: str, row: int) -> dict[str, Any]:
    settings = {"virtual_card": {"name": None, "display": "heading", "visualization_settings": {},
                                 "dataset_query": {}, "archived": False}, "text": text}
    return _cell(dc_id, None, row, w=24, h=1, visualization_settings=settings)


def _pulse(api: Api, dash: dict[str, Any], **body: Any) -> dict[str, Any]:
    cards = [{"id": dc["card_id"], "dashboard_card_id": dc["id"], "include_csv": False,
              "include_xls": False} for dc in dash["dashcards"] if dc["card_id"]]
    payload = {"name": dash["name"], "dashboard_id": dash["id"], "cards": cards,
               "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly",
                             "schedule_day": "mon", "schedule_hour": 8, "schedule_frame": None,
                             "recipients": [{"email": "pm@example.com"}, {"id": 1}]}],
               **body}
    response = api.post("/api/pulse", payload)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_post_keeps_metadata_only_and_fills_defaults(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api, description="why", width="full", tabs=[{"id": -1, "name": "T"}],
                      dashcards=[_cell(-1, card["id"], 0)])
    assert (dash["dashcards"], dash["tabs"]) == ([], [])
    assert dash["width"] == "fixed" and dash["auto_apply_filters"] is True
    assert dash["description"] == "why" and dash["archived"] is False
    assert dash["creator_id"] == 2 and len(dash["entity_id"]) == 21
    assert dash["collection"]["id"] == "root"


def test_post_validation_errors_shape(api: Api) -> None:
    response = api.post("/api/dashboard", {"name": " ", "collection_id": -3})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["name"] == "value must be a non-blank string."
    assert body["errors"]["collection_id"] == "nullable value must be an integer greater than zero."
    assert body["specific-errors"]["collection_id"] == ["should be a positive int, received: -3"]


def test_put_creates_updates_and_deletes_dashcards_by_id(api: Api) -> None:
    a, b = api.card(name="A"), api.card(name="B")
    dash = _dashboard(api)
    full = _put(api, dash["id"], {"tabs": [], "dashcards": [
        _heading(-1, "Weekly", 0), _cell(-2, a["id"], 1), _cell(-3, b["id"], 1, col=12)]})
    ids = {dc["card_id"]: dc["id"] for dc in full["dashcards"]}
    assert set(ids) == {None, a["id"], b["id"]} and all(i > 0 for i in ids.values())
    assert {dc["card"]["name"] for dc in full["dashcards"] if dc["card"]} == {"A", "B"}
    assert all(dc["dashboard_tab_id"] is None and dc["series"] == [] for dc in full["dashcards"])
    # move A, drop B and the heading: A keeps its id, the others go
    moved = _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(ids[a["id"]], a["id"], 7)]})
    assert [(dc["id"], dc["row"]) for dc in moved["dashcards"]] == [(ids[a["id"]], 7)]
    # an unknown positive id is created, not matched
    again = _put(api, dash["id"], {"tabs": [], "dashcards": [
        _cell(ids[a["id"]], a["id"], 7), _cell(99999, b["id"], 0)]})
    assert sorted(dc["id"] for dc in again["dashcards"])[0] == ids[a["id"]]
    assert 99999 not in {dc["id"] for dc in again["dashcards"]}


def test_omitted_dashcard_keys_are_kept_but_omitted_series_clears(api: Api) -> None:
    a, b = api.card(name="A"), api.card(name="B")
    dash = _dashboard(api)
    full = _put(api, dash["id"], {"tabs": [], "dashcards": [
        _cell(-1, a["id"], 0, visualization_settings={"card.title": "Mine"},
              series=[{"id": b["id"]}])]})
    dc = full["dashcards"][0]
    assert [s["id"] for s in dc["series"]] == [b["id"]]
    after = _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(dc["id"], a["id"], 3)]})
    kept = after["dashcards"][0]
    assert kept["visualization_settings"] == {"card.title": "Mine"}
    assert kept["series"] == [] and kept["row"] == 3


def test_scalar_patch_rules(api: Api) -> None:
    dash = _dashboard(api, description="d")
    after = _put(api, dash["id"], {"name": None, "description": None, "width": "full"})
    assert after["name"] == "Recommender health"  # name ignored when null
    assert after["description"] is None  # description cleared when null
    assert after["width"] == "full"
    bad = api.put(f"/api/dashboard/{dash['id']}", {"width": "wide"})
    assert bad.status_code == 400 and "width" in bad.json()["errors"]


def test_duplicate_or_invalid_dashcards_are_400(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api)
    body = {"tabs": [], "dashcards": [_cell(-1, card["id"], 0), _cell(-1, card["id"], 6)]}
    response = api.put(f"/api/dashboard/{dash['id']}", body)
    assert response.status_code == 400
    assert response.json()["errors"]["dashcards"] == (
        "nullable value must be seq of maps in which ids are unique")
    response = api.put(f"/api/dashboard/{dash['id']}",
                       {"dashcards": [_cell(-1, card["id"], -1, w=0)]})
    assert response.status_code == 400
    assert set(response.json()["specific-errors"]["dashcards"][0]) == {"row", "size_x"}


def test_missing_tabs_with_dashcards_deletes_every_tab(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api)
    tabs = [{"id": -1, "name": "One"}, {"id": -2, "name": "Two"}]
    with_tabs = _put(api, dash["id"], {
        "tabs": tabs, "dashcards": [_cell(-1, card["id"], 0, dashboard_tab_id=-2)]})
    assert [t["name"] for t in with_tabs["tabs"]] == ["One", "Two"]
    assert [t["position"] for t in with_tabs["tabs"]] == [0, 1]
    tab_two = with_tabs["tabs"][1]["id"]
    assert with_tabs["dashcards"][0]["dashboard_tab_id"] == tab_two
    # tabs is left out: every tab goes, and the dashcards on them with it
    flat = _put(api, dash["id"], {"dashcards": [
        _cell(with_tabs["dashcards"][0]["id"], card["id"], 0)]})
    assert flat["tabs"] == []
    assert len(flat["dashcards"]) == 1
    assert flat["dashcards"][0]["id"] != with_tabs["dashcards"][0]["id"]


def test_tabs_need_a_tab_on_every_dashcard(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api)
    response = api.put(f"/api/dashboard/{dash['id']}", {
        "tabs": [{"id": -1, "name": "A"}, {"id": -2, "name": "B"}],
        "dashcards": [_cell(-1, card["id"], 0)]})
    assert response.status_code == 400
    assert response.text == "This dashboard has tab, makes sure every card has a tab"
    single = _put(api, dash["id"], {"tabs": [{"id": -1, "name": "A"}],
                                    "dashcards": [_cell(-1, card["id"], 0)]})
    assert single["dashcards"][0]["dashboard_tab_id"] == single["tabs"][0]["id"]


def test_archived_card_dashcard_is_hidden_and_an_archived_card_cannot_be_added(api: Api) -> None:
    a, b = api.card(name="A"), api.card(name="B")
    dash = _dashboard(api)
    full = _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(-1, a["id"], 0),
                                                             _cell(-2, b["id"], 6)]})
    assert api.put(f"/api/card/{b['id']}", {"archived": True}).status_code == 200
    shown = api.get(f"/api/dashboard/{dash['id']}").json()["dashcards"]
    assert [dc["card_id"] for dc in shown] == [a["id"]]
    response = api.put(f"/api/dashboard/{dash['id']}", {"tabs": [], "dashcards": [
        _cell(-1, b["id"], 0)]})
    assert response.status_code == 404
    assert response.json()["error_code"] == "archived"
    # the hidden row survives a PUT that does not name it, and comes back on restore
    keep = [dc for dc in full["dashcards"] if dc["card_id"] == a["id"]]
    _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(keep[0]["id"], a["id"], 0)]})
    assert api.put(f"/api/card/{b['id']}", {"archived": False}).status_code == 200
    back = api.get(f"/api/dashboard/{dash['id']}").json()["dashcards"]
    assert {dc["card_id"] for dc in back} == {a["id"], b["id"]}


def test_list_filters(api: Api, api_for: Any) -> None:
    first, second = _dashboard(api, name="b second"), _dashboard(api, name="A first")
    _put(api, first["id"], {"archived": True})
    assert [d["id"] for d in api.get("/api/dashboard").json()] == [second["id"]]
    archived = api.get("/api/dashboard", params={"f": "archived"}).json()
    assert [d["id"] for d in archived] == [first["id"]]
    assert "dashcards" not in archived[0]
    assert api.get("/api/dashboard", params={"f": "mine"}).json()[0]["id"] == second["id"]
    assert api.get("/api/dashboard", params={"f": "bogus"}).status_code == 400


def test_archive_moves_to_trash_and_deletes_subscriptions(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api)
    full = _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    pulse = _pulse(api, full)
    archived = _put(api, dash["id"], {"archived": True, "collection_id": 12345})
    assert archived["archived"] is True
    got = api.get(f"/api/dashboard/{dash['id']}").json()
    trash = api.get("/api/collection/trash").json()["id"]
    assert got["collection_id"] == trash and got["can_restore"] is True
    assert api.get(f"/api/pulse/{pulse['id']}").status_code == 404
    # dashcards cannot change on an archived dashboard
    response = api.put(f"/api/dashboard/{dash['id']}", {"tabs": [], "dashcards": []})
    assert response.status_code == 404
    restored = _put(api, dash["id"], {"archived": False})
    assert restored["archived"] is False
    assert api.get("/api/pulse", params={"dashboard_id": dash["id"]}).json() == []


def test_delete_is_hard(api: Api) -> None:
    dash = _dashboard(api)
    assert api.delete(f"/api/dashboard/{dash['id']}").status_code == 204
    assert api.get(f"/api/dashboard/{dash['id']}").status_code == 404
    assert api.get(f"/api/dashboard/{dash['entity_id']}").status_code == 404


def test_get_by_entity_id(api: Api) -> None:
    dash = _dashboard(api)
    assert api.get(f"/api/dashboard/{dash['entity_id']}").json()["id"] == dash["id"]


def test_pulse_create_get_and_recipients(api: Api) -> None:
    card = api.card()
    dash = _dashboard(api)
    full = _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    pulse = _pulse(api, full)
    assert pulse["creator_id"] == 2 and pulse["dashboard_id"] == dash["id"]
    assert pulse["archived"] is False and pulse["skip_if_empty"] is False
    assert [(c["id"], c["dashboard_card_id"]) for c in pulse["cards"]] == [
        (card["id"], full["dashcards"][0]["id"])]
    [channel] = pulse["channels"]
    # pulse_channel.clj (mi/to-json): details.emails is internal, the address is a recipient
    assert "emails" not in channel["details"]
    assert [r.get("id") for r in channel["recipients"]] == [None, 1]
    assert channel["recipients"][0] == {"email": "pm@example.com"}
    assert api.get(f"/api/pulse/{pulse['id']}").json()["channels"][0]["schedule_day"] == "mon"


def test_pulse_channels_are_row_diffed_by_id_and_validated(api: Api) -> None:
    # pulse.clj update-notification-channels!: every channel sent without an id is created
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    slack = {"channel_type": "slack", "enabled": True, "schedule_type": "daily",
             "schedule_hour": 9, "details": {"channel": "#ml-alerts"}, "recipients": []}
    email = {"channel_type": "email", "enabled": True, "schedule_type": "hourly",
             "schedule_hour": 5, "recipients": [{"id": 1}]}
    pulse = _pulse(api, dash, channels=[slack, email, {**slack, "schedule_hour": 3}])
    channels = pulse["channels"]
    assert [(c["channel_type"], c["schedule_hour"]) for c in channels] == [
        ("slack", 9), ("email", None), ("slack", 3)]  # hourly drops the hour
    first, _, third = channels
    # a sent id updates that channel, one without an id is new, an unsent one is deleted
    put = api.put(f"/api/pulse/{pulse['id']}", {"channels": [
        {**slack, "id": third["id"], "schedule_hour": 4}, {**email, "schedule_type": "daily"}]})
    assert put.status_code == 200, put.text
    after = put.json()["channels"]
    assert after[0]["id"] == third["id"]
    assert first["id"] not in {c["id"] for c in after}
    assert [(c["channel_type"], c["schedule_hour"]) for c in after] == [
        ("slack", 4), ("email", 5)]
    response = api.post("/api/pulse", {"name": "x", "dashboard_id": dash["id"], "cards": [],
                                       "channels": [{"channel_type": "fax"}]})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"cards", "channels"}


def test_pulse_put_resets_archived_and_skip_if_empty_when_omitted(api: Api) -> None:
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    pulse = _pulse(api, dash, skip_if_empty=True)
    assert pulse["skip_if_empty"] is True
    archived = api.put(f"/api/pulse/{pulse['id']}",
                       {"archived": True, "skip_if_empty": True}).json()
    assert archived["archived"] is True
    assert [c["enabled"] for c in archived["channels"]] == [False]
    assert api.get("/api/pulse").json() == []
    assert [p["id"] for p in api.get("/api/pulse", params={"archived": "true"}).json()] == [
        pulse["id"]]
    renamed = api.put(f"/api/pulse/{pulse['id']}", {"name": "renamed"}).json()
    assert renamed["archived"] is False and renamed["skip_if_empty"] is False
    assert renamed["name"] == "renamed" and renamed["cards"]  # cards survive omission


def test_pulse_put_with_cards_rewrites_them_with_card_refs_defaults(api: Api) -> None:
    # pulse.clj, update-notification!: the stored refs (4 keys) never equal card->ref's (6),
    # so cards sent are always written anew, and an omitted format_rows is true again
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    pulse = _pulse(api, dash)
    ref = {k: pulse["cards"][0][k] for k in ("id", "dashboard_card_id", "include_csv",
                                               "include_xls")}
    hand = api.put(f"/api/pulse/{pulse['id']}",
                   {"cards": [{**ref, "format_rows": False, "pivot_results": True}]}).json()
    assert (hand["cards"][0]["format_rows"], hand["cards"][0]["pivot_results"]) == (False, True)
    kept = api.put(f"/api/pulse/{pulse['id']}", {"name": "renamed"}).json()
    assert (kept["cards"][0]["format_rows"], kept["cards"][0]["pivot_results"]) == (False, True)
    same = api.put(f"/api/pulse/{pulse['id']}", {"cards": [ref]}).json()
    assert (same["cards"][0]["format_rows"], same["cards"][0]["pivot_results"]) == (True, False)


def test_dashboard_update_renames_pulses_and_adds_new_cards(api: Api) -> None:
    a, b = api.card(name="A"), api.card(name="B")
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, a["id"], 0)]})
    pulse = _pulse(api, dash)
    old = dash["dashcards"][0]["id"]
    after = _put(api, dash["id"], {"name": "New name", "tabs": [], "dashcards": [
        _cell(old, a["id"], 0), _cell(-1, b["id"], 6)]})
    got = api.get(f"/api/pulse/{pulse['id']}").json()
    assert got["name"] == "New name"
    new_dc = [dc["id"] for dc in after["dashcards"] if dc["card_id"] == b["id"]]
    assert [(c["id"], c["dashboard_card_id"]) for c in got["cards"]] == [
        (a["id"], old), (b["id"], new_dc[0])]
    # removing a dashcard deletes its pulse card
    _put(api, dash["id"], {"tabs": [], "dashcards": [_cell(new_dc[0], b["id"], 0)]})
    assert [c["id"] for c in api.get(f"/api/pulse/{pulse['id']}").json()["cards"]] == [b["id"]]


def test_hard_deleted_card_takes_its_dashcards(api: Api) -> None:
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    assert api.delete(f"/api/card/{card['id']}").status_code == 204
    assert api.get(f"/api/dashboard/{dash['id']}").json()["dashcards"] == []


def test_inline_parameters_from_056(api_for: Any) -> None:
    for tag, present in (("v0.55.4", False), ("v0.58.3", True)):
        api = api_for(tag)
        card = api.card()
        dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [
            _cell(-1, card["id"], 0)]})
        assert ("inline_parameters" in dash["dashcards"][0]) is present


def test_pulse_takes_its_dashboards_collection(api: Api) -> None:
    # pulse.clj define-before-insert :model/Pulse
    folder = api.post("/api/collection", {"name": "Team"}).json()["id"]
    other = api.post("/api/collection", {"name": "Other"}).json()["id"]
    card = api.card()
    dash = _put(api, _dashboard(api, collection_id=folder)["id"],
                {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    assert _pulse(api, dash, collection_id=other)["collection_id"] == folder


def test_pulse_channel_enabled_and_card_include_flags_are_required(api: Api) -> None:
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    channel = {"channel_type": "email", "schedule_type": "hourly", "recipients": [{"id": 1}]}
    body = {"name": "x", "dashboard_id": dash["id"], "channels": [channel],
            "cards": [{"id": card["id"], "include_csv": False, "include_xls": False}]}
    # create-pulse-channel! precondition (boolean? enabled): an AssertionError, a 500
    response = api.post("/api/pulse", body)
    assert response.status_code == 500
    assert "boolean? enabled" in response.json()["message"]
    assert api.get("/api/pulse", params={"dashboard_id": dash["id"]}).json() == []
    # pulse.clj CardBase: include_csv and include_xls are required keys
    response = api.post("/api/pulse", {**body, "channels": [{**channel, "enabled": True}],
                                       "cards": [{"id": card["id"]}]})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"cards"}
    pulse = _pulse(api, dash)
    response = api.put(f"/api/pulse/{pulse['id']}", {"channels": [channel]})
    assert response.status_code == 500


def test_pulse_lists_active_recipients_only(api_for: Any) -> None:
    # user.clj deactivation keeps the recipient row; pulse/db.clj active-recipients-for-channels
    api = api_for(seed={"users": [
        {"email": "gone@example.com", "first_name": "Gone", "password": "x", "active": False}]})
    gone = next(u["id"] for u in api.get("/api/user", params={"status": "all"}).json()["data"]
                if u["email"] == "gone@example.com")
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    channel = {"channel_type": "email", "enabled": True, "schedule_type": "hourly",
               "recipients": [{"id": 1}, {"id": gone}]}
    pulse = _pulse(api, dash, channels=[channel])
    assert [r["id"] for r in pulse["channels"][0]["recipients"]] == [1]


def test_pulse_unarchive_enables_every_channel(api: Api) -> None:
    # pulse.clj define-before-update :model/Pulse, when archived changes
    card = api.card()
    dash = _put(api, _dashboard(api)["id"], {"tabs": [], "dashcards": [_cell(-1, card["id"], 0)]})
    channel = {"channel_type": "email", "enabled": False, "schedule_type": "hourly",
               "recipients": [{"id": 1}]}
    pulse = _pulse(api, dash, channels=[channel])
    assert [c["enabled"] for c in pulse["channels"]] == [False]
    kept = api.put(f"/api/pulse/{pulse['id']}", {"name": "still live"}).json()
    assert [c["enabled"] for c in kept["channels"]] == [False]  # archived did not change
    api.put(f"/api/pulse/{pulse['id']}", {"archived": True})
    restored = api.put(f"/api/pulse/{pulse['id']}", {"archived": False}).json()
    assert restored["archived"] is False
    assert [c["enabled"] for c in restored["channels"]] == [True]
