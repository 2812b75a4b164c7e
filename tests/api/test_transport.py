"""The transport against raw HTTP answers: error mapping, retries, auth, secrets."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
)

FAST = RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.01, max_retry_after=0.05)
KEY = "mb_test_key_0123456789"


def transport(server: HTTPServer, **kwargs: object) -> Transport:
    return Transport(server.url_for("/").rstrip("/"), api_key=KEY, retry=FAST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "ctype", "error", "fragment"),
    [
        (401, "Unauthenticated", "text/plain", AuthenticationError, "Unauthenticated"),
        (403, "You don't have permissions to do that.", "text/plain", PermissionDeniedError,
         "permissions"),
        (404, "Not found.", "text/plain", NotFoundError, "Not found."),
        (404, '"Not found."', "application/json", NotFoundError, "Not found."),
        (404, '{"message": "Not found."}', "application/json", NotFoundError, "Not found."),
        (400, json.dumps({"errors": {"name": "value must be a non-blank string."},
                          "specific-errors": {"name": ["should be a string, received: nil"]}}),
         "application/json", RequestRejectedError, "name"),
        (409, json.dumps({"errors": {"name": "Channel with that name already exists"}}),
         "application/json", RequestRejectedError, "already exists"),
        (500, json.dumps({"message": "Something went wrong", "via": []}), "application/json",
         ServerError, "Something went wrong"),
        (500, "boom", "text/plain", ServerError, "boom"),
    ],
)
def test_status_and_body_map_to_the_exception_of_their_cause(
    httpserver: HTTPServer, status: int, body: str, ctype: str, error: type, fragment: str
) -> None:
    httpserver.expect_request("/api/card/1").respond_with_data(body, status, content_type=ctype)
    with pytest.raises(error) as info:
        transport(httpserver).request("GET", "/api/card/1")
    assert fragment in str(info.value)
    assert info.value.status == status
    assert "GET" in str(info.value)


def test_validation_errors_are_flattened_per_field(httpserver: HTTPServer) -> None:
    body = {"errors": {"payload": {"card_id": "integer greater than 0"}},
            "specific-errors": {"payload": {"card_id": ["missing required key, received: nil"]}}}
    httpserver.expect_request("/api/notification", method="POST").respond_with_json(body, 400)
    with pytest.raises(RequestRejectedError) as info:
        transport(httpserver).request("POST", "/api/notification", json_body={})
    assert info.value.field_errors["payload.card_id"] == [
        "missing required key, received: nil", "integer greater than 0"]


def test_route_missing_is_told_apart_from_object_missing(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/notification").respond_with_data(
        "API endpoint does not exist.", 404, content_type="text/plain")
    with pytest.raises(NotFoundError) as info:
        transport(httpserver).request("GET", "/api/notification")
    assert info.value.route_missing


def test_get_is_retried_on_503_then_succeeds(httpserver: HTTPServer) -> None:
    calls: list[int] = []

    def flaky(request: Request) -> Response:
        calls.append(1)
        if len(calls) < 3:
            return Response("Metabase is still initializing", status=503)
        return Response(json.dumps({"status": "ok"}), content_type="application/json")

    httpserver.expect_request("/api/health").respond_with_handler(flaky)
    assert transport(httpserver).request("GET", "/api/health") == {"status": "ok"}
    assert len(calls) == 3


def test_retries_are_bounded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data("bad gateway", 502)
    with pytest.raises(ServerError):
        transport(httpserver).request("GET", "/api/card")
    assert len(httpserver.log) == FAST.attempts


def test_post_is_not_retried_when_it_may_have_landed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card", method="POST").respond_with_data("gateway", 504)
    with pytest.raises(ServerError):
        transport(httpserver).request("POST", "/api/card", json_body={"name": "x"})
    assert len(httpserver.log) == 1


def test_post_is_retried_on_429_with_retry_after(httpserver: HTTPServer) -> None:
    answers = iter([Response("slow down", status=429, headers={"Retry-After": "0"}),
                    Response(json.dumps({"id": 7}), content_type="application/json")])
    httpserver.expect_request("/api/card", method="POST").respond_with_handler(
        lambda request: next(answers))
    assert transport(httpserver).request("POST", "/api/card", json_body={}) == {"id": 7}
    assert len(httpserver.log) == 2


def test_rate_limit_error_carries_retry_after_when_exhausted(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/card").respond_with_data(
        "slow down", 429, headers={"Retry-After": "0.01"})
    with pytest.raises(RateLimitError) as info:
        transport(httpserver).request("GET", "/api/card")
    assert info.value.retry_after == pytest.approx(0.01)


def test_connection_refused_before_any_answer_fails_at_once_in_words() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = Transport(f"http://127.0.0.1:{port}", api_key=KEY, retry=FAST)
    with pytest.raises(ApiConnectionError) as info:
        t.request("GET", "/api/card")
    assert t.request_count == 1  # a wrong URL or a stopped Metabase: no round of backoff
    assert "connection was refused (is Metabase running there" in str(info.value)
    assert "NewConnectionError" not in str(info.value)
    assert KEY not in str(info.value)


def test_connection_refused_after_an_answer_is_retried_even_for_a_post() -> None:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/api/user/current").respond_with_json({"id": 1})
    server.start()
    t = Transport(server.url_for("/").rstrip("/"), api_key=KEY, retry=FAST)
    assert t.request("GET", "/api/user/current") == {"id": 1}
    server.stop()  # Metabase restarting
    with pytest.raises(ApiConnectionError):
        t.request("POST", "/api/card", json_body={})
    assert t.request_count == 1 + FAST.attempts  # never sent, so even a POST is retried


def test_timeout_is_a_timeout_error(httpserver: HTTPServer) -> None:
    import time

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/card", method="POST").respond_with_handler(slow)
    t = transport(httpserver, timeout=0.1)
    with pytest.raises(ApiTimeoutError):
        t.request("POST", "/api/card", json_body={})
    assert t.request_count == 1  # a POST that may have landed is not replayed


def test_api_key_header_and_no_secret_in_repr_or_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/user/current", headers={"x-api-key": KEY}).respond_with_json(
        {"id": 1, "email": "a@b.c"})
    t = transport(httpserver)
    assert t.request("GET", "/api/user/current")["id"] == 1
    assert KEY not in repr(t)
    httpserver.expect_request("/api/echo").respond_with_data(f"bad key {KEY}", 500)
    with pytest.raises(ServerError) as info:
        t.request("GET", "/api/echo")
    assert KEY not in str(info.value) and KEY not in json.dumps(info.value.body)


def test_credentials_are_required_and_url_checked() -> None:
    with pytest.raises(ConfigError, match="no credentials"):
        Transport("https://mb.example.com")
    with pytest.raises(ConfigError, match="http"):
        Transport("mb.example.com", api_key=KEY)


def test_plain_http_to_a_remote_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="metabase_guard.http"):
        Transport("http://metabase.example.com", api_key=KEY)
        Transport("http://127.0.0.1:3000", api_key=KEY)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "clear text" in warnings[0]
    assert KEY not in warnings[0]


def test_tls_verification_is_on_by_default_and_a_bundle_can_be_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert Transport("https://mb.example.com", api_key=KEY)._http.verify is True
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert Transport("https://mb.example.com", api_key=KEY,
                     verify=str(bundle))._http.verify == str(bundle)


def test_credentials_in_the_url_are_refused() -> None:
    with pytest.raises(ConfigError, match="user name or password") as info:
        Transport("https://proxy:S3cret@mb.example.com", api_key=KEY)
    assert "S3cret" not in str(info.value)


def test_redirects_and_html_pages_are_clear_errors(httpserver: HTTPServer) -> None:
    from metabase_guard.errors import ApiError

    httpserver.expect_request("/api/card").respond_with_data(
        "", 301, headers={"Location": "https://mb.example.com/api/card"})
    httpserver.expect_request("/api/user/current").respond_with_data(
        "<html><body>Sign in</body></html>", 200, content_type="text/html")
    t = transport(httpserver)
    with pytest.raises(ApiError, match=r"redirect.*https://mb\.example\.com"):
        t.request("GET", "/api/card")
    with pytest.raises(ApiError, match="HTML page"):
        t.request("GET", "/api/user/current")


def test_a_failed_login_is_tried_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/session", method="POST").respond_with_json(
        {"errors": {"password": "did not match stored password"}}, 401)
    t = Transport(httpserver.url_for("/").rstrip("/"), username="a@b.c", password="wrong-pw",
                  retry=FAST)
    with pytest.raises(AuthenticationError):
        t.request("GET", "/api/user/current")
    assert len(httpserver.log) == 1


def test_a_timed_out_create_is_waited_for_not_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    from metabase_guard.reconcile import writes as apply_module

    monkeypatch.setattr(apply_module, "SETTLE_WAITS", (0.0, 0.0, 0.0))
    sent: list[int] = []
    looked: list[int] = []

    def create() -> str:
        sent.append(1)
        raise ApiTimeoutError("no answer")

    def find() -> str | None:
        looked.append(1)
        return "landed" if len(looked) == 2 else None

    assert apply_module.create_verified(create, find) == "landed"
    assert len(sent) == 1
