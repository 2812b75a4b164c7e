"""The lean card-list decode (msgspec) keeps what the generic decode kept, card for card."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer

from metabase_guard.api.resources import CardsAPI, _decode_card_list_generic
from metabase_guard.api.transport import Transport

KEY = "mb_test_key_0123456789"
MARK = "Kept. [managed by metabase-guard: key=kept]"


def _card(card_id: Any, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": card_id, "name": name, "description": extra.pop("description", None),
        "display": "table", "type": "question", "collection_id": None, "archived": False,
        "entity_id": f"e{card_id}", "creator_id": 1, "database_id": 1,
        "updated_at": "2026-01-01T00:00:00Z",
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 1"}},
        "visualization_settings": {"graph.goal_value": 3},
        "result_metadata": [{"name": "x", "base_type": "type/Integer"}],
        **extra,
    }


def _cards(server: HTTPServer, body: Any) -> CardsAPI:
    server.expect_request("/api/card").respond_with_data(
        json.dumps(body), content_type="application/json")
    return CardsAPI(Transport(server.url_for("/").rstrip("/"), api_key=KEY))


def _dumped(cards: list[Any]) -> list[dict[str, Any]]:
    return [c.model_dump() for c in cards]


def _kept(fields: Any) -> bool:
    return fields["description"] == MARK


def test_fast_decode_equals_the_generic_one(httpserver: HTTPServer) -> None:
    body = [_card(1, "slim", description="hand-made", extra_field={"big": [1] * 50}),
            _card(2, "kept", description=MARK), _card(3, "nothing optional")]
    del body[2]["collection_id"], body[2]["dataset_query"]
    fast = _cards(httpserver, body).list(full=_kept)
    generic = _decode_card_list_generic(json.dumps(body).encode(), _kept)
    assert _dumped(fast) == _dumped(generic)
    by_name = {c.name: c for c in fast}
    assert by_name["kept"].visualization_settings == {"graph.goal_value": 3}
    assert by_name["kept"].dataset_query["native"]["query"] == "SELECT 1"
    assert by_name["slim"].dataset_query == {} and by_name["slim"].model_extra == {}


def test_a_list_the_fast_decoder_refuses_is_read_item_by_item(httpserver: HTTPServer) -> None:
    # an item that is no card and an id as text: msgspec refuses the list, the generic path
    # skips the item and coerces the id, as before the fast decode
    body = [None, _card("7", "text id"), _card(8, "kept", description=MARK)]
    cards = _cards(httpserver, body).list(full=_kept)
    assert [(c.id, c.name) for c in cards] == [(7, "text id"), (8, "kept")]
    assert cards[1].visualization_settings == {"graph.goal_value": 3}
