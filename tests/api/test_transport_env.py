"""The transport keeps what requests takes from the environment, without the ~/.netrc lookup.

An auth object that adds nothing (``_NoNetrc``) is what stops requests reading
``~/.netrc`` per request; ``trust_env`` stays on, so proxies and ``REQUESTS_CA_BUNDLE`` work.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import ApiConnectionError

KEY = "mb_test_key_0123456789"
FAST = RetryPolicy(attempts=1, initial_wait=0.001, max_wait=0.01)
ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
       "CURL_CA_BUNDLE", "NETRC")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _record(seen: list[Request]) -> object:
    def handler(request: Request) -> Response:
        seen.append(request)
        return Response('{"id": 1}', content_type="application/json")
    return handler


def test_a_matching_netrc_adds_no_basic_auth(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine localhost login someone password hunter2\n"
                     "machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seen: list[Request] = []
    httpserver.expect_request("/api/user/current").respond_with_handler(_record(seen))
    url = httpserver.url_for("/").rstrip("/")
    Transport(url, api_key=KEY, retry=FAST).request("GET", "/api/user/current")
    assert seen[0].headers.get("x-api-key") == KEY
    assert "Authorization" not in seen[0].headers


def test_a_proxy_from_the_environment_is_used(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the "proxy" is the test server: a request for a host that does not resolve reaches it
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    seen: list[Request] = []
    httpserver.expect_request("/api/user/current").respond_with_handler(_record(seen))
    body = Transport("http://metabase.invalid", api_key=KEY, retry=FAST).request(
        "GET", "/api/user/current")
    assert body == {"id": 1}
    assert seen[0].headers.get("Host") == "metabase.invalid"
    assert seen[0].headers.get("x-api-key") == KEY


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[HTTPServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="localhost", ssl_context=context)
    server.start()
    try:
        yield server, cert
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_requests_ca_bundle_is_honoured(
    tls_server: tuple[HTTPServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, cert = tls_server
    server.expect_request("/api/user/current").respond_with_json({"id": 1})
    url = server.url_for("/").rstrip("/")
    assert url.startswith("https://")
    with pytest.raises(ApiConnectionError, match="not trusted"):
        Transport(url, api_key=KEY, retry=FAST).request("GET", "/api/user/current")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    assert Transport(url, api_key=KEY, retry=FAST).request("GET", "/api/user/current") == {"id": 1}
