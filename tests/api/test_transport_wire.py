"""What the transport sends and keeps, seen from the server: headers, pooled connections, the
base URL, the refusals of a bad configuration in their exact words, and the answers of a raw
(streamed) read. Written against the survivors of mutation run F (docs/testing.md).
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metabase_guard._version import __version__
from metabase_guard.api import transport as tm
from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ConfigError,
    RequestRejectedError,
    ServerError,
)
from tests.api.socket_server import serving

KEY = "mb_wire_key_0123456789"
ONCE = RetryPolicy(attempts=1)
FULL = "Connection pool is full, discarding connection"


def _base(server: HTTPServer) -> str:
    return server.url_for("/").rstrip("/")


# -- what every request carries ---------------------------------------------------------------


def test_every_request_names_the_client_and_asks_for_json(httpserver: HTTPServer) -> None:
    seen: list[tuple[str | None, str | None]] = []

    def answer(request: Request) -> Response:
        seen.append((request.headers.get("User-Agent"), request.headers.get("Accept")))
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/api/card").respond_with_handler(answer)
    client = Transport(_base(httpserver), api_key=KEY, retry=ONCE)
    assert client.request("GET", "/api/card") == []
    assert seen == [(f"metabase-guard/{__version__}", "application/json")]


def test_the_defaults_of_a_transport() -> None:
    client = Transport("https://mb.example.com", api_key=KEY)
    assert client.timeout == 30.0
    assert client.retry == RetryPolicy()


def test_a_key_first_seen_by_the_transport_is_blanked_from_its_errors(
    httpserver: HTTPServer,
) -> None:
    # a key of this test only: the secret registry is process-wide, so a key another test (or
    # mutmut's parent run) registered would be blanked even if the transport forgot it
    key = f"mb_{uuid.uuid4().hex}"
    httpserver.expect_request("/api/card").respond_with_data(f"bad key {key}", 500)
    client = Transport(_base(httpserver), api_key=key, retry=ONCE)
    with pytest.raises(ServerError) as info:
        client.request("GET", "/api/card")
    assert str(info.value) == (
        f"Metabase failed (500): bad key *** (GET {httpserver.url_for('/api/card')})")


# -- the base URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://mb.example.com/", "https://mb.example.com"),
        ("https://MB.EXAMPLE.BOX/", "https://MB.EXAMPLE.BOX"),  # only slashes are trimmed
        ("https://MB.EXAMPLE.BOXX", "https://MB.EXAMPLE.BOXX"),
        ("https://mb.example.com/api/", "https://mb.example.com"),
        ("https://mb.example.com/metabase/api", "https://mb.example.com/metabase"),
        ("https://mb.example.com/API", "https://mb.example.com/API"),  # paths are case-sensitive
        ("https://mb.example.com/rapid", "https://mb.example.com/rapid"),
    ],
)
def test_the_base_url_kept(given: str, kept: str) -> None:
    assert Transport(given, api_key=KEY).base_url == kept


def test_a_url_copied_from_an_api_call_reaches_the_api_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/user/current").respond_with_json({"id": 1})
    client = Transport(_base(httpserver) + "/api/", api_key=KEY, retry=ONCE)
    assert client.request("GET", "/api/user/current") == {"id": 1}


# -- refusals of a bad configuration, in words ------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://mb.example.com", "http://", "https:///api",
                                 "mb.example.com"])
def test_a_url_that_is_not_http_is_refused_in_words(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Transport(url, api_key=KEY)
    assert str(info.value) == f"the Metabase URL must start with http:// or https://, got {url!r}"


def test_a_url_whose_port_is_not_a_number_is_refused_in_words() -> None:
    with pytest.raises(ConfigError) as info:
        Transport("http://mb.example.com:x", api_key=KEY)
    prefix = "the Metabase URL 'http://mb.example.com:x' is not a valid URL: "
    assert str(info.value).startswith(prefix)
    assert len(str(info.value)) > len(prefix)  # the parser's reason follows


def test_a_url_with_credentials_is_refused_in_words() -> None:
    with pytest.raises(ConfigError) as info:
        Transport("https://me:pw@mb.example.com", api_key=KEY)
    assert str(info.value) == (
        "the Metabase URL carries a user name or password (user:pass@host); remove them: "
        "metabase-guard prints its URL in plans and errors")


@pytest.mark.parametrize(
    "credentials",
    [{}, {"username": "a@b.c"}, {"password": "pw-for-wire-test"}, {"api_key": " \n"},
     {"username": "a@b.c", "password": "\t"}],
)
def test_credentials_that_cannot_log_in_are_refused_in_words(credentials: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        Transport("https://mb.example.com", **credentials)  # type: ignore[arg-type]
    assert str(info.value) == (
        "no credentials: give an API key (METABASE_API_KEY) or a username and password "
        "(METABASE_USERNAME, METABASE_PASSWORD)")


def test_whitespace_around_a_password_is_named_and_stripped(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    httpserver.expect_request(
        "/api/session", method="POST", json={"username": "a@b.c", "password": password}
    ).respond_with_json({"id": str(uuid.uuid4())})
    httpserver.expect_request("/api/user/current").respond_with_json({"id": 1})
    caplog.set_level(logging.WARNING, logger=tm.log.name)
    client = Transport(_base(httpserver), username="a@b.c", password=password + "\n",
                       retry=ONCE)
    assert client.request("GET", "/api/user/current") == {"id": 1}
    assert [r.getMessage() for r in caplog.records] == [
        "the password had whitespace around it (trailing newline); it was stripped"]


# -- pooled connections ------------------------------------------------------------------------


@pytest.fixture
def held_server() -> Iterator[tuple[str, list[int], dict[str, threading.Barrier]]]:
    """A keep-alive server that answers each request when the barrier's party is complete.

    Yields its URL, one item per connection it accepted, and a holder whose ``"barrier"`` the
    test replaces to say how many requests must be in flight before any is answered.
    """
    accepted: list[int] = []
    holder = {"barrier": threading.Barrier(1)}

    def answer(conn: socket.socket) -> None:
        accepted.append(1)
        with conn:
            while True:
                try:
                    if not conn.recv(65536):
                        return
                    holder["barrier"].wait(timeout=20)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 2\r\n\r\n[]")
                except (OSError, threading.BrokenBarrierError):
                    return

    with serving(answer) as url:
        try:
            yield url, accepted, holder
        finally:
            holder["barrier"].abort()


@pytest.mark.parametrize(
    ("pool_size", "in_flight", "discarded"),
    [(None, 12, 0), (None, 13, 1), (4, 12, 0), (16, 16, 0), (16, 17, 1)],
)
def test_connections_in_flight_are_kept_up_to_the_pool_size(
    held_server: tuple[str, list[int], dict[str, threading.Barrier]],
    caplog: pytest.LogCaptureFixture, pool_size: int | None, in_flight: int, discarded: int,
) -> None:
    # every request is held until all are in flight, so each needs a connection of its own;
    # urllib3 warns for each one its pool has no room to keep
    url, accepted, holder = held_server
    holder["barrier"] = threading.Barrier(in_flight)
    sizes = {} if pool_size is None else {"pool_size": pool_size}
    client = Transport(url, api_key=KEY, retry=ONCE, **sizes)  # type: ignore[arg-type]
    answers: list[object] = []
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    threads = [threading.Thread(target=lambda: answers.append(client.request("GET", "/api/x")))
               for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [[]] * in_flight
    assert len(accepted) == in_flight
    full = [r.getMessage() for r in caplog.records if FULL in r.getMessage()]
    assert len(full) == discarded
    # the pool kept the rest: the next requests, one at a time, open no new connection
    holder["barrier"] = threading.Barrier(1)
    for _ in range(3):
        assert client.request("GET", "/api/x") == []
    assert len(accepted) == in_flight


def test_https_uses_the_same_pool_as_http() -> None:
    client = Transport("https://mb.example.com", api_key=KEY, pool_size=20)
    for url in ("https://mb.example.com/api/card", "http://mb.example.com/api/card"):
        adapter = client._http.get_adapter(url)
        assert adapter._pool_maxsize == 20  # type: ignore[attr-defined]


# -- answers that are not what a raw read expects ---------------------------------------------


def test_a_redirect_without_a_location_is_said_so(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data("", 302)
    client = Transport(_base(httpserver), api_key=KEY, retry=ONCE)
    with pytest.raises(ApiError) as info:
        client.request("GET", "/api/card")
    assert str(info.value) == (
        "Metabase answered a redirect (302) to ?: use the final URL (often https://) as the "
        f"Metabase URL (GET {httpserver.url_for('/api/card')})")


@pytest.mark.parametrize("raw", [False, True])
def test_an_html_page_with_blanks_before_it_is_not_taken_for_json(
    httpserver: HTTPServer, raw: bool
) -> None:
    httpserver.expect_request("/api/card").respond_with_data(
        "\n  <!doctype html><title>Sign in</title>", 200, content_type="text/html")
    client = Transport(_base(httpserver), api_key=KEY, retry=ONCE)
    with pytest.raises(ApiError) as info:
        client.request("GET", "/api/card", raw=raw)
    assert str(info.value) == (
        "expected JSON but got an HTML page: is the URL Metabase itself, not a login page or "
        f"proxy in front of it? (GET {httpserver.url_for('/api/card')})")
    assert (info.value.method, info.value.url) == ("GET", httpserver.url_for("/api/card"))


def test_a_raw_read_of_a_400_raises_instead_of_returning_the_bytes(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_json({"errors": {"name": "bad"}}, 400)
    client = Transport(_base(httpserver), api_key=KEY, retry=ONCE)
    with pytest.raises(RequestRejectedError) as info:
        client.request("GET", "/api/card", raw=True)
    assert str(info.value) == (
        f"Metabase rejected the request (400): name: bad (GET {httpserver.url_for('/api/card')})")


def test_a_raw_read_of_an_answer_without_a_content_type_is_its_text(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/api/none").respond_with_handler(_no_content_type)
    client = Transport(_base(httpserver), api_key=KEY, retry=ONCE)
    assert client.request("GET", "/api/none", raw=True) == "plain words"
    assert client.request("GET", "/api/none", raw=False) == "plain words"


def _no_content_type(request: Request) -> Response:
    response = Response(b"plain words")
    del response.headers["Content-Type"]
    return response


@pytest.mark.parametrize(
    ("length", "encoding", "sent", "read"),
    [
        ("40", None, b'{"id": 1, ', b'{"id": 1, '),  # a short body: what arrived, no padding
        ("4", None, b'{"id": 1}', b'{"id": 1}'),  # a longer one: all of it
        ("40", "gzip", b'{"id": 1}', b'{"id": 1}'),  # an encoded length is not the body's
        ("", None, b'{"id": 1}', b'{"id": 1}'),
    ],
)
def test_a_streamed_body_is_read_as_it_arrived(
    length: str, encoding: str | None, sent: bytes, read: bytes
) -> None:
    # urllib3 2 refuses a body shorter than its Content-Length, urllib3 1.26 does not (its
    # enforce_content_length is off): a plain file stands for the latter
    response = requests.Response()
    response.raw = io.BytesIO(sent)
    response.headers["Content-Length"] = length
    if encoding:
        response.headers["Content-Encoding"] = encoding
    assert tm._read_whole(response) == bytearray(read)


def test_a_retry_is_logged_in_exact_words(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_ordered_request("/api/card").respond_with_data("busy", 503)
    httpserver.expect_ordered_request("/api/card").respond_with_json([])
    client = Transport(_base(httpserver), api_key=KEY,
                       retry=RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.001))
    caplog.set_level(logging.DEBUG, logger=tm.log.name)
    assert client.request("GET", "/api/card") == []
    assert [r.getMessage() for r in caplog.records
            if r.name == tm.log.name and " -> " not in r.getMessage()] == [
        "retrying GET /api/card (attempt 2): Metabase failed (503): busy "
        f"(GET {httpserver.url_for('/api/card')})"]


def test_a_raw_read_cut_short_names_the_request() -> None:
    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 40\r\n\r\n[{\"id\": 1")

    with serving(answer) as url:
        client = Transport(url, api_key=KEY, retry=ONCE)
        with pytest.raises(ApiConnectionError) as info:
            client.request("GET", "/api/card", raw=True)
    assert str(info.value) == (
        f"the connection closed before the whole answer arrived (GET {url}/api/card)")
