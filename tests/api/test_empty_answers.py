"""An error answer with no body at all reads as an empty body, never as the JSON word ``null``.

``_decode`` turns an empty body into ``None``; before the fix that ``None`` went through
``json.dumps`` and a bare 404 read ``Not found: null``.
"""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import ApiStatusError, NotFoundError, RequestRejectedError, ServerError

KEY = "mb_empty_key_0123456789"


@pytest.mark.parametrize(
    ("status", "ctype", "kind", "words"),
    [
        (404, "text/plain", NotFoundError, "Not found: (empty body)"),
        (404, "application/json", NotFoundError, "Not found: (empty body)"),
        (400, "application/json", RequestRejectedError,
         "Metabase rejected the request (400): (empty body)"),
        (500, "text/plain", ServerError, "Metabase failed (500): (empty body)"),
    ],
)
def test_an_empty_error_answer_says_so(httpserver: HTTPServer, status: int, ctype: str,
                                       kind: type, words: str) -> None:
    """The words of an empty answer, whatever its content type."""
    httpserver.expect_request("/api/card/9").respond_with_data("", status, content_type=ctype)
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY,
                       retry=RetryPolicy(attempts=1))
    with pytest.raises(ApiStatusError) as info:
        client.request("GET", "/api/card/9")
    assert type(info.value) is kind
    assert str(info.value) == f"{words} (GET {httpserver.url_for('/api/card/9')})"
    assert "null" not in str(info.value)
