"""Transport edges the mutation run (docs/testing.md, run F) found unpinned.

An answer cut short mid-body (a GET is asked again, a POST never), or stalled mid-body (a
timeout, though requests calls it a connection error), the reason of a TLS
certificate failure as OpenSSL words it, and the exact words of a login without a session.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from pytest_httpserver import HTTPServer

from metabase_guard.api import transport as tm
from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    RequestRejectedError,
)
from tests.api.socket_server import serving

KEY = "mb_edges_key_0123456789"
WHERE = "https://mb.example.com"
URL = WHERE + "/api/card"
CUT = "the connection closed before the whole answer arrived"


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("POST", False)])
def test_an_answer_cut_short_in_words(method: str, retried: bool) -> None:
    exc = requests.exceptions.ChunkedEncodingError("IncompleteRead(5 bytes read, 9 more)")
    failure = tm._failure(exc, method, URL, 30.0, WHERE, answered=True)
    assert isinstance(failure, tm._Retryable) is retried
    error = failure.error if isinstance(failure, tm._Retryable) else failure
    assert type(error) is ApiConnectionError
    assert str(error) == f"{CUT} ({method} {URL})"
    assert (error.method, error.url) == (method, URL)


@pytest.fixture
def cut_short_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server that announces 40 bytes and sends 10; yields its URL and the requests seen."""
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            seen.append(conn.recv(65536).split(b" ", 1)[0])
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 40\r\n\r\n" + b'{"id": 1, ')

    with serving(answer) as url:
        yield url, seen


@pytest.mark.parametrize(("method", "sent"), [("POST", 1), ("GET", 3)])
def test_a_write_whose_answer_broke_off_is_not_sent_again(
    cut_short_server: tuple[str, list[bytes]], method: str, sent: int
) -> None:
    # the POST reached the server: sending it again could create the object twice
    url, seen = cut_short_server
    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002)
    client = Transport(url, api_key=KEY, retry=policy)
    with pytest.raises(ApiConnectionError) as info:
        client.request(method, "/api/card", json_body={"name": "x"} if method == "POST" else None)
    assert str(info.value) == f"{CUT} ({method} {url}/api/card)"
    assert seen == [method.encode()] * sent
    assert client.request_count == sent


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # the quote and parentheses that close urllib3's repr are not part of the reason
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate'))",
         "self-signed certificate"),
        # only the first "certificate verify failed:" starts the reason
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
         "issuer (depth 1) certificate verify failed: again", "unable to get local issuer"),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: X509 name mismatch",
         "X509 name mismatch"),
        # no OpenSSL sentence after the code: the text before any parenthesis
        ("[SSL: CERTIFICATE_VERIFY_FAILED] unknown ca (_ssl.c:1006)",
         "[SSL: CERTIFICATE_VERIFY_FAILED] unknown ca"),
    ],
)
def test_the_reason_of_an_untrusted_certificate(text: str, reason: str) -> None:
    assert tm._tls_words(requests.exceptions.SSLError(text)) == (
        f"TLS certificate not trusted ({reason}): give the CA bundle (REQUESTS_CA_BUNDLE) or, "
        "for a test instance only, --insecure")


def test_other_tls_failures_keep_their_last_letters() -> None:
    text = "a (Caused by TLSV1_ALERT_INTERNAL_ERROR: ALERT MAX)"
    assert tm._tls_words(requests.exceptions.SSLError(text)) == (
        "TLS failed: TLSV1_ALERT_INTERNAL_ERROR: ALERT MAX")


def test_a_login_without_a_session_in_exact_words(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/session", method="POST").respond_with_json({})
    client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                       password="pw-for-edges-test", retry=RetryPolicy(attempts=1))
    with pytest.raises(AuthenticationError) as info:
        client.request("GET", "/api/user/current")
    session = httpserver.url_for("/api/session")
    assert str(info.value) == (
        "Metabase did not return a session (is multi-factor login required for this user? use "
        f"an API key) (POST {session})")


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://localhost:3000", False),
        ("http://LOCALHOST:3000", False),  # the host name is compared as urlsplit lowers it
        ("http://localhost.localdomain", False),
        ("http://[::1]:3000", False),
        ("http://127.0.0.2", False),
        ("http://localhost.example.com", True),
        ("http://10.0.0.1:3000", True),
    ],
)
def test_plain_http_warns_unless_the_host_is_this_machine(
    caplog: pytest.LogCaptureFixture, url: str, warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger=tm.log.name):
        Transport(url, api_key=KEY)
        Transport(url, username="a@b.c", password="pw-for-edges-test")
    expected = [f"{url} is plain http: the API key travels in clear text",
                f"{url} is plain http: the password travels in clear text"]
    assert [r.getMessage() for r in caplog.records] == (expected if warned else [])


def test_a_json_list_sent_as_text_with_an_error_is_read_as_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data('["a","b"]', 400,
                                                             content_type="text/plain")
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY,
                       retry=RetryPolicy(attempts=1))
    with pytest.raises(RequestRejectedError) as info:
        client.request("GET", "/api/card")
    assert info.value.body == ["a", "b"]
    assert str(info.value) == (
        f'Metabase rejected the request (400): ["a", "b"] (GET {httpserver.url_for("/api/card")})')


@pytest.fixture
def stalled_server() -> Iterator[str]:
    """A server that sends the headers and the first bytes of a JSON list, then waits."""
    done = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 40\r\n\r\n[{\"id\": ")
            done.wait(timeout=30)

    with serving(answer) as url:
        try:
            yield url
        finally:
            done.set()


@pytest.mark.parametrize(("method", "sent"), [("GET", 2), ("POST", 1)])
def test_a_raw_answer_that_stalls_mid_body_is_a_timeout(
    stalled_server: str, method: str, sent: int
) -> None:
    # requests reports a read timeout inside a streamed body as a ConnectionError; it is a
    # timeout all the same, after the server answered, and a write is not sent again
    policy = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.002)
    client = Transport(stalled_server, api_key=KEY, timeout=0.2, retry=policy)
    with pytest.raises(ApiTimeoutError) as info:
        client.request(method, "/api/card", raw=True)
    assert str(info.value) == (
        f"the answer stopped for over 0.2 s before it was whole ({method} "
        f"{stalled_server}/api/card)")
    assert client.request_count == sent
