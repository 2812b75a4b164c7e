"""Cards and collections against the sandbox, one Metabase rule per test."""

from __future__ import annotations

import re

from conftest import SQL_WEEKLY, Api


def test_card_post_field_errors_shape(api: Api) -> None:
    response = api.post("/api/card", {"name": "", "display": "line", "description": "",
                                      "visualization_settings": {}})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"]["name"] == "value must be a non-blank string."
    assert body["specific-errors"]["name"] == ['non-blank string, received: ""']
    assert body["specific-errors"]["dataset_query"] == ["missing required key, received: nil"]
    assert "description" in body["errors"]
    assert "display" not in body["errors"]


def test_card_server_fields_and_fresh_entity_id(api: Api) -> None:
    card = api.card(entity_id="ChosenByTheClient_123")
    assert card["entity_id"] != "ChosenByTheClient_123"
    assert re.fullmatch(r"[A-Za-z0-9_-]{21}", card["entity_id"])
    assert card["creator_id"] == 2
    assert card["database_id"] == 1 and card["query_type"] == "native"
    assert (card["parameters"], card["parameter_mappings"]) == ([], [])
    assert card["collection_preview"] is True and card["enable_embedding"] is False
    assert card["cache_ttl"] is None and card["description"] is None
    assert card["collection"]["id"] == "root"
    assert card["creator"]["id"] == 2
    assert [c["name"] for c in card["result_metadata"]] == ["week", "pushes"]
    assert re.search(r"[+-]\d\d:\d\d$", card["created_at"])


def test_mbql5_from_057_and_legacy_before(api_for) -> None:  # type: ignore[no-untyped-def]
    api = api_for("v0.57.0")
    card = api.card(dataset_query={"type": "native", "database": 1,
                                   "native": {"query": SQL_WEEKLY, "template-tags": {}}})
    assert card["dataset_query"] == {
        "lib/type": "mbql/query", "database": 1,
        "stages": [{"lib/type": "mbql.stage/native", "native": SQL_WEEKLY}],
    }
    legacy = api.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()
    assert legacy["dataset_query"] == {"type": "native", "database": 1,
                                       "native": {"query": SQL_WEEKLY}}
    old = api_for("v0.56.5")
    sent = {"type": "native", "database": 1, "native": {"query": SQL_WEEKLY}}
    assert old.card(dataset_query=sent)["dataset_query"] == sent


def test_template_tags_are_a_list_from_063_and_a_map_before(api_for) -> None:  # type: ignore[no-untyped-def]
    # metabase/metabase PR #77133 (0.63 backport #77652): native stages answer template-tags as a
    # list of tag objects; either form is accepted on input; legacy-mbql answers the map.
    sql = "SELECT count(*) FROM recommendations WHERE pushed_at >= {{since}}"
    tag = {"id": "5b1a", "name": "since", "display-name": "Since", "type": "date"}
    as_map = {"type": "native", "database": 1,
              "native": {"query": sql, "template-tags": {"since": tag}}}
    as_list = {"lib/type": "mbql/query", "database": 1,
               "stages": [{"lib/type": "mbql.stage/native", "native": sql,
                           "template-tags": [tag]}]}
    new = api_for("v0.63.1")
    for sent in (as_map, as_list):
        (stage,) = new.card(dataset_query=sent)["dataset_query"]["stages"]
        assert stage["template-tags"] == [tag]
    card = new.card(dataset_query=as_map)
    legacy = new.get(f"/api/card/{card['id']}", params={"legacy-mbql": "true"}).json()
    assert legacy["dataset_query"]["native"]["template-tags"] == {"since": tag}
    older = api_for("v0.62.2")
    for sent in (as_map, as_list):
        (stage,) = older.card(dataset_query=sent)["dataset_query"]["stages"]
        assert stage["template-tags"] == {"since": tag}
    empty = {**as_list, "stages": [{**as_list["stages"][0], "template-tags": []}]}
    (stage,) = new.card(dataset_query=empty)["dataset_query"]["stages"]
    assert "template-tags" not in stage


def test_mbql5_clauses_get_lib_uuid(api: Api) -> None:
    query = {"lib/type": "mbql/query", "database": 1, "stages": [
        {"lib/type": "mbql.stage/native", "native": "SELECT 1 AS x",
         "template-tags": {"d": {"name": "d", "type": "dimension",
                                "dimension": ["field", {"base-type": "type/Date"}, 7]}}}]}
    card = api.card(dataset_query=query)
    dimension = card["dataset_query"]["stages"][0]["template-tags"]["d"]["dimension"]
    assert "lib/uuid" in dimension[1]


# metabase/metabase src/metabase/queries/api/card.clj (PUT /:id) and queries/models/card.clj
# (update-card!): the keys written when present, and which of them may be null
def test_put_null_rules_and_partial_update(api: Api) -> None:
    coll = api.post("/api/collection", {"name": "Guarded"}).json()
    card = api.card(collection_id=coll["id"], description="keep me")
    updated = api.put(f"/api/card/{card['id']}", {"name": None, "display": None,
                                                  "description": None, "collection_id": None})
    assert updated.status_code == 200
    body = updated.json()
    assert body["name"] == "Weekly pushes" and body["display"] == "line"  # ignored when null
    assert body["description"] is None and body["collection_id"] is None  # written when null
    assert api.put(f"/api/card/{card['id']}", {"description": ""}).json()["description"] == ""


# metabase/metabase src/metabase/queries/models/card.clj: visualization_settings replaced whole
def test_put_replaces_visualization_settings_whole(api: Api) -> None:
    card = api.card()
    body = api.put(f"/api/card/{card['id']}",
                   {"visualization_settings": {"graph.goal_value": 10}}).json()
    assert body["visualization_settings"] == {"graph.goal_value": 10}


def test_put_ignores_entity_id(api: Api) -> None:
    card = api.card()
    body = api.put(f"/api/card/{card['id']}", {"entity_id": "x" * 21}).json()
    assert body["entity_id"] == card["entity_id"]


def test_column_settings_keys_are_reencoded(api: Api) -> None:
    card = api.card(visualization_settings={
        "column_settings": {'["ref", ["field-id", 12]]': {"prefix": "$"},
                            '["name","pushes"]': {"suffix": "x"}}})
    assert set(card["visualization_settings"]["column_settings"]) == {
        '["ref",["field",12,null]]', '["name","pushes"]'}


def test_archived_card_reports_trash_collection(api: Api) -> None:
    coll = api.post("/api/collection", {"name": "Guarded"}).json()
    card = api.card(collection_id=coll["id"])
    put = api.put(f"/api/card/{card['id']}", {"archived": True, "collection_id": None}).json()
    assert put["archived"] is True and put["archived_directly"] is True
    assert put["collection_id"] == coll["id"]  # the collection_id in the body was dropped
    trash = api.get("/api/collection/trash").json()
    assert trash["type"] == "trash"
    assert api.get(f"/api/card/{card['id']}").json()["collection_id"] == trash["id"]
    archived = api.get("/api/card", params={"f": "archived"}).json()
    assert [c["collection_id"] for c in archived] == [coll["id"]]
    assert api.get("/api/card").json() == []


def test_card_list_full_rows_ordered_by_lower_name(api: Api) -> None:
    api.card(name="beta")
    api.card(name="Alpha")
    api.card(name="gamma")
    cards = api.get("/api/card", params={"f": "all"}).json()
    assert [c["name"] for c in cards] == ["Alpha", "beta", "gamma"]
    assert all("dataset_query" in c and "result_metadata" in c for c in cards)
    missing = api.get("/api/card", params={"f": "database"})
    assert missing.status_code == 400 and "model_id" in missing.json()["errors"]


def test_moving_card_to_trash_is_403(api: Api) -> None:
    card = api.card()
    trash = api.get("/api/collection/trash").json()
    assert api.put(f"/api/card/{card['id']}", {"collection_id": trash["id"]}).status_code == 403


def test_run_card_and_sql_errors(api: Api) -> None:
    card = api.card()
    result = api.post(f"/api/card/{card['id']}/query")
    assert result.status_code == 202
    body = result.json()
    assert body["status"] == "completed" and body["row_count"] == len(body["data"]["rows"]) > 0
    assert [c["name"] for c in body["data"]["cols"]] == ["week", "pushes"]
    bad = api.post("/api/dataset", {"type": "native", "database": 1,
                                    "native": {"query": "SELECT nope FROM nowhere"}})
    assert bad.status_code == 202 and bad.json()["status"] == "failed" and bad.json()["error"]
    broken = api.card(name="broken", dataset_query={"type": "native", "database": 1,
                                                    "native": {"query": "SELECT * FROM nowhere"}})
    assert broken["result_metadata"] is None


def test_delete_card_is_204(api: Api) -> None:
    card = api.card()
    assert api.delete(f"/api/card/{card['id']}").status_code == 204
    assert api.get(f"/api/card/{card['id']}").status_code == 404


def test_collection_location_ancestors_and_move(api: Api) -> None:
    top = api.post("/api/collection", {"name": "Top"}).json()
    mid = api.post("/api/collection", {"name": "Mid", "parent_id": top["id"]}).json()
    leaf = api.post("/api/collection", {"name": "Leaf", "parent_id": mid["id"]}).json()
    assert (top["location"], mid["location"], leaf["location"]) == (
        "/", f"/{top['id']}/", f"/{top['id']}/{mid['id']}/")
    got = api.get(f"/api/collection/{leaf['id']}").json()
    assert got["parent_id"] == mid["id"]
    assert got["effective_location"] == f"/{top['id']}/{mid['id']}/"
    assert [a["id"] for a in got["effective_ancestors"]] == ["root", top["id"], mid["id"]]
    api.put(f"/api/collection/{mid['id']}", {"parent_id": None, "archived": False})
    assert api.get(f"/api/collection/{leaf['id']}").json()["location"] == f"/{mid['id']}/"
    blank = api.post("/api/collection", {"name": " "})
    assert blank.status_code == 400 and "name" in blank.json()["errors"]


def test_collection_list_prepends_root(api: Api) -> None:
    api.post("/api/collection", {"name": "b"})
    api.post("/api/collection", {"name": "A"})
    listed = api.get("/api/collection").json()
    assert listed[0]["id"] == "root" and listed[0]["name"] == "Our analytics"
    names = [c["name"] for c in listed[1:] if not c.get("personal_owner_id")]
    assert names == ["A", "b"]
    assert all(c["id"] != "root" for c in api.get("/api/collection",
                                                  params={"archived": "true"}).json())


def test_collection_put_without_archived_unarchives(api: Api) -> None:
    coll = api.post("/api/collection", {"name": "Old"}).json()
    assert api.put(f"/api/collection/{coll['id']}", {"archived": True}).json()["archived"] is True
    assert api.put(f"/api/collection/{coll['id']}", {"name": "Renamed"}).json()["archived"] is False


def test_collection_items_paging(api: Api) -> None:
    coll = api.post("/api/collection", {"name": "Items"}).json()
    for name in ("c3", "c1", "c2"):
        api.card(name=name, collection_id=coll["id"])
    api.post("/api/collection", {"name": "sub", "parent_id": coll["id"]})
    everything = api.get(f"/api/collection/{coll['id']}/items").json()
    assert everything["total"] == 4 and everything["limit"] is None
    assert everything["models"] == ["card", "collection"]
    cards = api.get(f"/api/collection/{coll['id']}/items", params={"models": "card"}).json()
    assert [i["name"] for i in cards["data"]] == ["c1", "c2", "c3"]
    page = api.get(f"/api/collection/{coll['id']}/items",
                   params={"models": "card", "limit": 2, "offset": 2}).json()
    assert ([i["name"] for i in page["data"]], page["total"], page["limit"], page["offset"]) == (
        ["c3"], 3, 2, 2)
    past = api.get(f"/api/collection/{coll['id']}/items", params={"offset": 10}).json()
    assert past["data"] == [] and past["total"] is None and past["limit"] == 50
    root_id = "root"  # the virtual root collection
    root = api.get(f"/api/collection/{root_id}/items").json()
    assert "Items" in [i["name"] for i in root["data"]]
