"""The lean card-list decode (msgspec) keeps what the generic decode kept, card for card."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Response

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


def _body_of_cards(n: int) -> bytes:
    return json.dumps([_card(i, f"Card {i}", description=MARK if i % 3 else None)
                       for i in range(1, n + 1)]).encode()


def test_a_gzipped_or_chunked_list_is_read_whole_as_a_plain_one(httpserver: HTTPServer) -> None:
    """The streamed read sizes its buffer by Content-Length only for a plain body."""
    import gzip

    body = _body_of_cards(400)
    expected = _dumped(_decode_card_list_generic(body, _kept))
    httpserver.expect_request("/api/card", headers={}).respond_with_response(Response(
        gzip.compress(body), content_type="application/json",
        headers={"Content-Encoding": "gzip"}))
    cards = CardsAPI(Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY))
    assert _dumped(cards.list(full=_kept)) == expected
    httpserver.clear()
    # no Content-Length: werkzeug sends an iterable body chunked
    httpserver.expect_request("/api/card").respond_with_response(Response(
        (body[i:i + 7_000] for i in range(0, len(body), 7_000)),
        content_type="application/json"))
    assert _dumped(cards.list(full=_kept)) == expected


def test_a_list_cut_short_is_a_connection_error_in_words_and_retried() -> None:
    """A body that ends before its Content-Length: never a partial list, never a traceback."""
    import socket

    import pytest

    from metabase_guard.api.transport import RetryPolicy
    from metabase_guard.errors import ApiConnectionError
    from tests.api.socket_server import serving

    body = _body_of_cards(50)
    answered: list[int] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[: len(body) // 2])
            answered.append(1)

    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01, max_retry_after=0.05)
    with serving(answer) as url:
        transport = Transport(url, api_key=KEY, retry=policy)
        with pytest.raises(ApiConnectionError) as info:
            CardsAPI(transport).list(full=_kept)
    assert transport.request_count == 3  # a GET cut short is sent again, up to the policy
    assert len(answered) == 3
    assert "Traceback" not in str(info.value) and KEY not in str(info.value)
    assert "IncompleteRead" not in str(info.value)
    assert "closed before the whole answer arrived" in str(info.value)
