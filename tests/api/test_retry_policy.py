"""The retry policy on the wire: what is replayed, how long it waits, when it gives up.

Waits are recorded, not timed: ``waits`` replaces ``time.sleep`` for the test's own thread (the
one tenacity sleeps in), so a 3,600 s ``Retry-After`` shows up as a number and the test never
sleeps it. The total-time bound is the one check that needs real (tiny) sleeps; it counts
requests, never seconds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metabase_guard.api import transport as transport_module
from metabase_guard.api.transport import (
    DEFAULT_RETRY,
    RetryPolicy,
    Transport,
    error_from_response,
)
from metabase_guard.errors import (
    AuthenticationError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
    redact,
)
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

KEY = "mb_retry_key_0123456789"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds the transport asked to sleep, in order (it does not sleep them)."""
    recorded: list[float] = []
    real_sleep = time.sleep
    main = threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() == main:
            recorded.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return recorded


def _client(server: HTTPServer, policy: RetryPolicy | None) -> Transport:
    return Transport(server.url_for("/").rstrip("/"), api_key=KEY, retry=policy)


def _answers(*responses: Response) -> Callable[[Request], Response]:
    queue = list(responses)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def test_a_post_answered_503_is_never_replayed(metabase_sandbox: MountedSandbox) -> None:
    # a proxy may answer 503 after Metabase got the POST: replaying would create the card twice
    metabase_sandbox.sandbox.inject_failure("POST", "^/api/card$", 503, times=1)
    client = Transport(metabase_sandbox.url, api_key=metabase_sandbox.sandbox.admin_api_key,
                       retry=RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.002))
    with pytest.raises(ServerError, match="503"):
        client.request("POST", "/api/card", json_body={"name": "x"})
    assert metabase_sandbox.sandbox.request_counts()[("POST", "/api/card")] == 1


def test_a_get_answered_503_is_replayed(metabase_sandbox: MountedSandbox, waits: list[float]
                                        ) -> None:
    metabase_sandbox.sandbox.inject_failure("GET", "^/api/card$", 503, times=2)
    client = Transport(metabase_sandbox.url, api_key=metabase_sandbox.sandbox.admin_api_key,
                       retry=RetryPolicy(attempts=4))
    assert isinstance(client.request("GET", "/api/card"), list)
    assert len(waits) == 2


def test_the_default_policy_backs_off_from_half_a_second(
    httpserver: HTTPServer, waits: list[float]
) -> None:
    assert RetryPolicy() == DEFAULT_RETRY
    assert (DEFAULT_RETRY.attempts, DEFAULT_RETRY.max_retry_after) == (5, 60.0)
    httpserver.expect_request("/api/card").respond_with_data("unavailable", 503)
    with pytest.raises(ServerError):
        _client(httpserver, None).request("GET", "/api/card")
    assert len(httpserver.log) == 5
    # initial_wait * 2**n, capped at max_wait, plus up to initial_wait of jitter
    for n, wait in enumerate(waits):
        low = min(8.0, 0.5 * 2**n)
        assert low <= wait <= low + 0.5, (n, wait)


def test_retry_after_is_honoured_but_capped(httpserver: HTTPServer, waits: list[float]) -> None:
    httpserver.expect_request("/api/card").respond_with_handler(_answers(
        Response("slow down", status=429, headers={"Retry-After": "3600"}),
        Response("slow down", status=429, headers={"Retry-After": "2"}),
        Response("slow down", status=429, headers={"Retry-After": "0"}),  # at once, not 1 s
        Response(json.dumps([]), content_type="application/json"),
    ))
    policy = RetryPolicy(attempts=5, initial_wait=0.001, max_wait=0.002, max_retry_after=7.0)
    assert _client(httpserver, policy).request("GET", "/api/card") == []
    assert waits == [7.0, 2.0, 0.0]


def test_an_http_date_retry_after_is_waited_for(httpserver: HTTPServer, waits: list[float]
                                                 ) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    httpserver.expect_request("/api/card").respond_with_handler(_answers(
        Response("slow down", status=429, headers={"Retry-After": when}),
        Response(json.dumps([]), content_type="application/json"),
    ))
    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002, max_retry_after=60.0)
    assert _client(httpserver, policy).request("GET", "/api/card") == []
    assert len(waits) == 1
    assert 20.0 <= waits[0] <= 30.0  # a date 30 s ahead, read a moment later


def test_retry_after_parsing() -> None:
    parse = transport_module._parse_retry_after
    assert parse(None) is None and parse("") is None and parse("soon") is None
    assert parse("-5") == 0.0 and parse("1.5") == 1.5
    assert parse(formatdate(time.time() - 60, usegmt=True)) == 0.0


def test_retries_stop_at_the_total_time_bound(httpserver: HTTPServer) -> None:
    # many attempts allowed, a short total: the bound, not the count, must end the retries
    httpserver.expect_request("/api/card").respond_with_data("unavailable", 503)
    policy = RetryPolicy(attempts=1000, initial_wait=0.01, max_wait=0.01, max_total=0.2)
    with pytest.raises(ServerError):
        _client(httpserver, policy).request("GET", "/api/card")
    assert 2 <= len(httpserver.log) < 1000


def test_a_rate_limited_request_gives_up_after_the_attempts(
    httpserver: HTTPServer, waits: list[float]
) -> None:
    httpserver.expect_request("/api/card").respond_with_data(
        "slow down", 429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitError):
        _client(httpserver, RetryPolicy(attempts=3)).request("GET", "/api/card")
    assert len(httpserver.log) == 3 and waits == [1.0, 1.0]


def test_the_session_token_is_redacted_once_logged_in(httpserver: HTTPServer) -> None:
    # a fresh token: the secrets registry is process-wide, and a fixed token registered by an
    # earlier run in the same process (mutmut forks after one) would hide the bug
    token = str(uuid.uuid4())
    httpserver.expect_request("/api/session", method="POST").respond_with_json({"id": token})
    httpserver.expect_request(
        "/api/echo", headers={"X-Metabase-Session": token}
    ).respond_with_data(f"failed for session {token}", 500)
    client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                       password="pw-for-redaction-test", retry=RetryPolicy(attempts=1))
    with pytest.raises(ServerError) as info:
        client.request("GET", "/api/echo")
    assert "failed for session" in str(info.value.body)
    assert token not in str(info.value) and token not in str(info.value.body)
    assert token not in redact(f"header X-Metabase-Session: {token}")


def test_a_login_without_a_session_id_is_an_authentication_error(httpserver: HTTPServer) -> None:
    for answer in ({}, [], {"id": 7}):
        httpserver.clear_all_handlers()
        httpserver.expect_request("/api/session", method="POST").respond_with_json(answer)
        client = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c",
                           password="pw-for-login-test", retry=RetryPolicy(attempts=1))
        with pytest.raises(AuthenticationError) as info:
            client.request("GET", "/api/user/current")
        error = info.value
        assert "did not return a session (is multi-factor login required for this user? " \
            "use an API key)" in str(error)
        assert (error.status, error.method) == (200, "POST")
        assert error.url == httpserver.url_for("/api/session")


@pytest.mark.parametrize(
    ("errors", "fields"),
    [
        (["is bad", None, "is worse"], {"body": ["is bad", "is worse"]}),
        ("is bad", {"body": ["is bad"]}),
        ({"handlers": [{"channel_type": "unknown"}, {"recipients": ["empty", "twice"]}]},
         {"handlers[0].channel_type": ["unknown"], "handlers[1].recipients": ["empty", "twice"]}),
        ({"a": {"b": "x"}, "c": ["y"]}, {"a.b": ["x"], "c": ["y"]}),
    ],
)
def test_validation_errors_of_every_shape_are_flattened(
    errors: object, fields: dict[str, list[str]]
) -> None:
    error = error_from_response(400, {"errors": errors}, method="PUT", url="http://mb/api/x")
    assert isinstance(error, RequestRejectedError)
    assert error.field_errors == fields


def test_a_post_whose_connection_dropped_after_sending_is_not_replayed() -> None:
    from metabase_guard.errors import ApiConnectionError
    from metabase_guard.sandbox import Sandbox, serve

    sandbox = Sandbox()
    sandbox.inject_failure("POST", "^/api/card$", None, times=1)  # close without an answer
    with serve(sandbox) as server:
        client = Transport(server.url, api_key=sandbox.admin_api_key,
                           retry=RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.002))
        with pytest.raises(ApiConnectionError):
            client.request("POST", "/api/card", json_body={"name": "x"})
        assert client.request_count == 1
        # a GET that meets the same drop is replayed
        sandbox.inject_failure("GET", "^/api/card$", None, times=1)
        assert isinstance(client.request("GET", "/api/card"), list)
        assert client.request_count == 3


@pytest.mark.parametrize("reason", ["resolve", "refuse"])
@pytest.mark.parametrize("answered_before", [False, True])
def test_a_post_that_never_left(
    reason: str, answered_before: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before any answer, a connection that never opened is a wrong URL or a stopped Metabase:
    said at once. After one, it is a blip: retried, even for a POST, since nothing was sent."""
    import socket

    def fail(*args: object, **kwargs: object) -> object:
        if reason == "resolve":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise ConnectionRefusedError(111, "Connection refused")

    # the failure urllib3 meets while opening the connection, before any byte is sent
    monkeypatch.setattr(socket, "getaddrinfo" if reason == "resolve" else "create_connection",
                        fail)
    monkeypatch.setattr("urllib3.util.connection.create_connection", fail)
    client = Transport("http://metabase.example.com", api_key=KEY,
                       retry=RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.002))
    if answered_before:
        client._answered = True  # as after a first answer from this server
    from metabase_guard.errors import ApiConnectionError

    with pytest.raises(ApiConnectionError) as info:
        client.request("POST", "/api/card", json_body={})
    assert client.request_count == (3 if answered_before else 1)
    assert ("does not resolve" if reason == "resolve" else "refused") in str(info.value)


def test_the_repr_names_the_kind_of_auth_only() -> None:
    assert repr(Transport("https://mb.example.com", api_key=KEY)) == (
        "Transport('https://mb.example.com', auth=api-key)")
    assert repr(Transport("https://mb.example.com/", username="a@b.c", password="pw-repr-test")
                ) == "Transport('https://mb.example.com', auth=session)"
