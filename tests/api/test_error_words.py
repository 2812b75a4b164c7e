"""The words of every transport error, exactly: what a user reads when Metabase cannot be reached.

Answers come over HTTP (pytest-httpserver). Failures with no answer (DNS, refused, reset, TLS)
cannot all be produced on one machine, so the exception texts requests and urllib3 raise for
them are built here and passed to the transport's helpers. The texts are the ones urllib3 1.26
and 2.x print; each case keeps a single marker, so a broken marker cannot hide behind another.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from metabase_guard.api import transport as tm
from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
    register_secret,
)

KEY = "mb_words_key_0123456789"
ONCE = RetryPolicy(attempts=1)
WHERE = "https://mb.example.com"
URL = WHERE + "/api/card"


def _error(server: HTTPServer, status: int, body: str, ctype: str = "application/json",
           method: str = "GET") -> ApiStatusError:
    server.expect_request("/api/card").respond_with_data(body, status, content_type=ctype)
    client = Transport(server.url_for("/").rstrip("/"), api_key=KEY, retry=ONCE)
    with pytest.raises(ApiStatusError) as info:
        client.request(method, "/api/card")
    error = info.value
    assert (error.status, error.method, error.url) == (status, method,
                                                       server.url_for("/api/card"))
    return error


@pytest.mark.parametrize(
    ("status", "body", "ctype", "kind", "words"),
    [
        (404, "   ", "text/plain", NotFoundError, "Not found: (empty body)"),
        (500, json.dumps({"error": "boom", "message": 7}), "application/json", ServerError,
         "Metabase failed (500): boom"),
        (500, json.dumps({"error_message": "bad sql"}), "application/json", ServerError,
         "Metabase failed (500): bad sql"),
        (500, json.dumps({"errors": {"a": ["x", "y"], "b": "z"}}), "application/json",
         ServerError, "Metabase failed (500): a: x, y; b: z"),
        (500, json.dumps({"via": [1]}), "application/json", ServerError,
         'Metabase failed (500): {"via": [1]}'),
        (500, json.dumps([1, 2]), "application/json", ServerError, "Metabase failed (500): [1, 2]"),
        # every 4xx that is not auth, not found or rate limiting is a rejected request
        (405, "Method not allowed", "text/plain", RequestRejectedError,
         "Metabase rejected the request (405): Method not allowed"),
        (413, "too large", "text/plain", RequestRejectedError,
         "Metabase rejected the request (413): too large"),
        (400, json.dumps({"errors": {"name": ["blank", "short"]}, "message": "Invalid"}),
         "application/json", RequestRejectedError,
         "Metabase rejected the request (400): name: blank; short"),
        (400, json.dumps({"errors": {"a": "x", "b": "y"}}), "application/json",
         RequestRejectedError, "Metabase rejected the request (400): a: x; b: y"),
    ],
)
def test_an_error_answer_in_words(httpserver: HTTPServer, status: int, body: str, ctype: str,
                                  kind: type, words: str) -> None:
    error = _error(httpserver, status, body, ctype)
    assert type(error) is kind
    assert str(error) == f"{words} (GET {httpserver.url_for('/api/card')})"


def test_a_missing_endpoint_is_told_in_full(httpserver: HTTPServer) -> None:
    error = _error(httpserver, 404, "API endpoint does not exist.", "text/plain")
    url = httpserver.url_for("/api/card")
    assert str(error) == (
        "no such API endpoint (is the Metabase URL right, with no path after the host unless "
        "Metabase is served under one? or is this Metabase older than metabase-guard "
        f"supports?) (GET {url})")


PAGE = ("<!DOCTYPE HTML>\n<html lang=\"en\"><head><title>Error\n response</title></head>"
        "<body><h1>Error response</h1><p>Error code: 404</p></body></html>\n")


def test_a_web_page_where_the_api_should_be_is_named_not_dumped(httpserver: HTTPServer) -> None:
    """Another web server at the URL (here Python's http.server page): its title, no markup."""
    url = httpserver.url_for("/api/card")
    error = _error(httpserver, 404, PAGE, "text/html")
    assert type(error) is NotFoundError
    assert str(error) == (
        "no such API endpoint: the server answered an HTML page titled 'Error response' (is "
        "the Metabase URL right, with no path after the host unless Metabase is served under "
        f"one? or is this Metabase older than metabase-guard supports?) (GET {url})")


@pytest.mark.parametrize(("body", "words"), [
    (PAGE.replace("404", "502"), "an HTML page titled 'Error response'"),
    ("  <html><body>Bad gateway</body></html>", "an HTML page"),
])
def test_a_proxys_error_page_is_named_by_its_title(httpserver: HTTPServer, body: str,
                                                   words: str) -> None:
    error = _error(httpserver, 400, body, "text/html")
    assert str(error) == (f"Metabase rejected the request (400): the server answered {words}, "
                          f"not Metabase's API (GET {httpserver.url_for('/api/card')})")


def test_the_rate_limit_error_keeps_where_it_happened(httpserver: HTTPServer) -> None:
    error = _error(httpserver, 429, "slow down", "text/plain", method="POST")
    assert isinstance(error, RateLimitError)
    assert str(error).startswith("Rate limited: slow down")


def test_a_json_error_body_is_redacted(httpserver: HTTPServer) -> None:
    secret = f"mb_{uuid.uuid4().hex}"
    register_secret(secret)
    error = _error(httpserver, 500, json.dumps({"message": f"bad key {secret}", "n": 1}))
    assert secret not in str(error) and secret not in json.dumps(error.body)
    assert isinstance(error.body, dict) and error.body["n"] == 1


def test_a_retry_is_logged_with_the_failure_it_retries(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_ordered_request("/api/card").respond_with_data("busy", 503)
    httpserver.expect_ordered_request("/api/card").respond_with_json([])
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY,
                       retry=RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.001))
    caplog.set_level(logging.DEBUG, logger=tm.log.name)
    assert client.request("GET", "/api/card") == []
    assert (f"retrying GET /api/card (attempt 2): Metabase failed (503): busy "
            f"(GET {httpserver.url_for('/api/card')})") in caplog.text


# -- no answer: connection words ---------------------------------------------------------------

POOL = "HTTPSConnectionPool(host='mb.example.com', port=443): Max retries exceeded with url: " \
       "/api/card (Caused by "
REFUSED = (f"cannot connect to {WHERE}: the connection was refused (is Metabase running there, "
           "and is the port right?)")
NO_NAME = f"cannot find the host of {WHERE}: the name does not resolve (a typo?)"
CLOSED = f"{WHERE} closed the connection without answering"


@pytest.mark.parametrize(
    ("text", "words", "never_sent"),
    [
        # urllib3 2: both name markers; urllib3 2 on a DNS outage; urllib3 1.26
        (POOL + "NameResolutionError(\"<conn>: Failed to resolve 'mb.example.com' ([Errno -2] "
         "Name or service not known)\"))", NO_NAME, True),
        (POOL + "NameResolutionError(\"<conn>: Failed to resolve 'mb.example.com' ([Errno -3] "
         "Temporary failure in name resolution)\"))", NO_NAME, True),
        (POOL + "gaierror(-2, 'Name or service not known'))", NO_NAME, False),
        (POOL + "NewConnectionError('<conn>: Failed to establish a new connection: [Errno 113] "
         "No route to host'))", REFUSED, True),
        (POOL + "ConnectionRefusedError(111, 'Connection refused'))", REFUSED, True),
        ("('Connection aborted.', BrokenPipeError(32, 'Broken pipe'))", CLOSED, False),
        ("RemoteDisconnected('Remote end closed connection without response')", CLOSED, False),
        ("('Connection broken: ConnectionResetError(104, 'Connection reset by peer')')", CLOSED,
         False),
        (POOL + "ProxyError('Unable to connect to proxy', OSError('Tunnel connection failed: 407 "
         "Proxy Authentication Required')))",
         f"cannot connect to {WHERE}: ProxyError('Unable to connect to proxy', OSError('Tunnel "
         "connection failed: 407 Proxy Authentication Required')))", False),
        ("OSError('Tunnel connection failed')",
         f"cannot connect to {WHERE}: OSError('Tunnel connection failed')", False),
        ("Proxy said no (Caused by X (Caused by Y" + "z" * 300,
         f"cannot connect to {WHERE}: X (Caused by Y" + "z" * 186, False),
    ],
)
def test_a_failed_connection_in_words(text: str, words: str, never_sent: bool) -> None:
    exc = requests.exceptions.ConnectionError(text)
    assert tm._connection_words(exc, WHERE) == words
    assert tm._never_sent(exc) is never_sent
    failure = tm._failure(exc, "POST", URL, 30.0, WHERE, answered=True)
    # a POST is retried only when it never left; the words are the same either way
    error = failure.error if isinstance(failure, tm._Retryable) else failure
    assert isinstance(failure, tm._Retryable) is never_sent
    assert isinstance(error, ApiConnectionError)
    assert str(error) == f"{words} (POST {URL})"
    assert (error.method, error.url) == ("POST", URL)


@pytest.mark.parametrize(
    ("exc", "method", "words", "retried"),
    [
        (requests.exceptions.ConnectTimeout("slow dns"), "POST",
         "could not connect in time: slow dns", True),
        (requests.exceptions.ReadTimeout("read timed out"), "GET",
         "no answer within 2.5 s: read timed out", True),
        (requests.exceptions.ReadTimeout("read timed out"), "POST",
         "no answer within 2.5 s: read timed out", False),
        (requests.exceptions.InvalidHeader("bad header"), "GET", "request failed: bad header",
         False),
    ],
)
def test_a_request_without_an_answer_in_words(exc: requests.exceptions.RequestException,
                                              method: str, words: str, retried: bool) -> None:
    failure = tm._failure(exc, method, URL, 2.5, WHERE, answered=True)
    assert isinstance(failure, tm._Retryable) is retried
    error = failure.error if isinstance(failure, tm._Retryable) else failure
    assert type(error) is (ApiTimeoutError if "Timeout" in type(exc).__name__
                           else ApiConnectionError)
    assert str(error) == f"{words} ({method} {URL})"
    assert (error.method, error.url) == (method, URL)
    if isinstance(failure, tm._Retryable):
        assert str(failure) == str(error)


# -- no answer: TLS words ----------------------------------------------------------------------

PLAIN = ("TLS handshake failed: the server does not speak https on this port (is the URL "
         "http://, or the port the one of a plain-http Metabase?)")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (POOL + "SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number "
         "(_ssl.c:1006)')))", PLAIN),
        (POOL + "SSLError(SSLError(1, '[SSL] record layer failure (_ssl.c:1010)')))", PLAIN),
        (POOL + "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] "
         "certificate verify failed: self-signed certificate in certificate chain "
         "(_ssl.c:1006)')))",
         "TLS certificate not trusted (self-signed certificate in certificate chain): give the "
         "CA bundle (REQUESTS_CA_BUNDLE) or, for a test instance only, --insecure"),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: (_ssl.c:1006)",
         "TLS certificate not trusted (verify failed): give the CA bundle (REQUESTS_CA_BUNDLE) "
         "or, for a test instance only, --insecure"),
        (POOL + "SSLError(SSLError(1, '[SSL: TLSV1_ALERT_PROTOCOL_VERSION] alert')))",
         "TLS failed: SSLError(SSLError(1, '[SSL: TLSV1_ALERT_PROTOCOL_VERSION] alert'"),
        ("handshake alert", "TLS failed: handshake alert"),
        ("a (Caused by b (Caused by " + "c" * 300, "TLS failed: b (Caused by " + "c" * 187),
    ],
)
def test_a_tls_failure_in_words(text: str, words: str) -> None:
    exc = requests.exceptions.SSLError(text)
    assert tm._tls_words(exc) == words
    failure = tm._failure(exc, "GET", URL, 30.0, WHERE, answered=False)
    assert isinstance(failure, ApiConnectionError)  # never retried: a retry cannot fix TLS
    assert str(failure) == f"{words} (GET {URL})"
    assert (failure.method, failure.url) == ("GET", URL)


def test_https_to_a_plain_http_port_is_told_over_the_wire(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/").rstrip("/").replace("http://", "https://")
    with pytest.raises(ApiConnectionError) as info:
        Transport(url, api_key=KEY, retry=ONCE).request("GET", "/api/user/current")
    assert str(info.value).startswith(PLAIN)


# -- credentials pasted with whitespace --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("KEY\n", "trailing newline"),
        ("\tKEY \r\n", "leading tab, trailing space+carriage return+newline"),
        ("\x0bKEY", "leading whitespace"),
    ],
)
def test_whitespace_around_a_key_is_named_and_stripped(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture, key: str, words: str
) -> None:
    secret = key.replace("KEY", f"mb_{uuid.uuid4().hex}")
    httpserver.expect_request("/api/user/current", headers={"x-api-key": secret.strip()}
                              ).respond_with_json({"id": 1})
    caplog.set_level(logging.WARNING, logger=tm.log.name)
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=secret, retry=ONCE)
    assert client.request("GET", "/api/user/current") == {"id": 1}
    assert f"the API key had whitespace around it ({words}); it was stripped" in caplog.text
    assert secret.strip() not in caplog.text


def test_a_second_login_is_skipped_when_another_thread_already_logged_in(
    httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/session", method="POST").respond_with_json(
        {"id": str(uuid.uuid4())})
    client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                       password="pw-for-login-race", retry=ONCE)
    client._login()
    # a thread that saw an older (stale) token, or none, arrives after the login
    client._login(stale="an-older-token")
    client._login()
    assert len(httpserver.log) == 1


# -- answers that are not plain JSON -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        # a proxy's text/plain answer that is JSON after all, even with leading blanks
        (400, ' \n{"message": "bad"}', "Metabase rejected the request (400): bad"),
        (500, '["boom"]', 'Metabase failed (500): ["boom"]'),
        (500, '{"message": "boom"', 'Metabase failed (500): {"message": "boom"'),
    ],
)
def test_a_json_error_sent_as_text_is_read_as_json(httpserver: HTTPServer, status: int,
                                                   body: str, words: str) -> None:
    error = _error(httpserver, status, body, "text/plain")
    assert str(error) == f"{words} (GET {httpserver.url_for('/api/card')})"


def test_a_success_sent_as_text_stays_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data('{"a": 1}', 200,
                                                             content_type="text/plain")
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY, retry=ONCE)
    assert client.request("GET", "/api/card") == '{"a": 1}'


def test_an_answer_without_a_content_type(httpserver: HTTPServer) -> None:
    bare = Response("fine", 200)
    del bare.headers["Content-Type"]
    httpserver.expect_request("/api/card").respond_with_response(bare)
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY, retry=ONCE)
    assert client.request("GET", "/api/card") == "fine"


def test_a_300_answer_is_a_redirect_to_follow_by_hand(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data(
        "", 300, headers={"Location": "https://mb.example.com/api/card"})
    client = Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY, retry=ONCE)
    with pytest.raises(ApiError) as info:
        client.request("GET", "/api/card")
    assert str(info.value) == (
        "Metabase answered a redirect (300) to https://mb.example.com/api/card: use the final "
        f"URL (often https://) as the Metabase URL (GET {httpserver.url_for('/api/card')})")


def test_a_refused_connection_names_the_instance_and_the_request() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(ApiConnectionError) as info:
        Transport(base, api_key=KEY, retry=ONCE).request("GET", "/api/card")
    assert str(info.value) == (
        f"cannot connect to {base}: the connection was refused (is Metabase running there, "
        f"and is the port right?) (GET {base}/api/card)")


def test_an_expired_session_is_renewed_and_the_request_sent_again_whole(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    httpserver.expect_ordered_request("/api/session", method="POST").respond_with_json(
        {"id": old})
    httpserver.expect_ordered_request("/api/card", method="POST").respond_with_data(
        "Unauthenticated", 401)
    httpserver.expect_ordered_request("/api/session", method="POST").respond_with_json(
        {"id": new})
    httpserver.expect_ordered_request(
        "/api/card", method="POST", query_string="f=mine", json={"name": "x"},
        headers={"X-Metabase-Session": new},
    ).respond_with_data('{"id": 5}', content_type="application/json")
    client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                       password="pw-for-renewal", retry=ONCE)
    caplog.set_level(logging.DEBUG, logger=tm.log.name)
    assert client.request("POST", "/api/card", params={"f": "mine"},
                          json_body={"name": "x"}, raw=True) == b'{"id": 5}'
    # whole, not a substring: a mangled message ("XXsession rejected...XX") still contains it
    assert [r.getMessage() for r in caplog.records
            if r.name == tm.log.name and " -> " not in r.getMessage()] == [
        "session rejected; logging in again"]
    httpserver.check_assertions()


def test_a_refused_login_is_not_answered_with_another_login(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/session", method="POST").respond_with_json(
        {"id": str(uuid.uuid4())})
    httpserver.expect_ordered_request("/api/session", method="POST").respond_with_data(
        "Unauthenticated", 401)
    client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                       password="pw-for-refused-login", retry=ONCE)
    client._login()
    with pytest.raises(AuthenticationError):
        client.request("POST", "/api/session", json_body={"username": "a@b.c"})
    assert len(httpserver.log) == 2


def test_each_answer_is_logged_with_its_status(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/api/card").respond_with_json([])
    caplog.set_level(logging.DEBUG, logger=tm.log.name)
    Transport(httpserver.url_for("/").rstrip("/"), api_key=KEY, retry=ONCE).request(
        "GET", "/api/card")
    assert [r.getMessage().split(" (")[0] for r in caplog.records
            if " -> " in r.getMessage()] == ["GET /api/card -> 200"]
    assert all(r.getMessage().endswith(" ms)") for r in caplog.records
               if " -> " in r.getMessage())
