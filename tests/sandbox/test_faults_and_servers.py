"""Failure injection, the request log, the stdlib server and foreground startup."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import requests
from conftest import Api

from metabase_guard.sandbox import Sandbox, serve
from metabase_guard.sandbox.pytest_plugin import MountedSandbox


def test_injected_status_with_retry_after(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.inject_failure("GET", r"^/api/card$", 503, retry_after=2, body="busy")
    first = api.get("/api/card")
    assert (first.status_code, first.text, first.headers["Retry-After"]) == (503, "busy", "2")
    assert api.get("/api/card").status_code == 200  # times=1 by default


def test_injected_failure_before_commit_writes_nothing(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.inject_failure("POST", r"^/api/collection$", 500)
    assert api.post("/api/collection", {"name": "lost"}).status_code == 500
    names = [c["name"] for c in api.get("/api/collection").json()]
    assert "lost" not in names


def test_after_commit_failure_keeps_the_write(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.inject_failure("POST", r"^/api/collection$", 502, after_commit=True)
    assert api.post("/api/collection", {"name": "kept"}).status_code == 502
    assert "kept" in [c["name"] for c in api.get("/api/collection").json()]


def test_probability_and_clear(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.inject_failure(path="^/api/health$", status=500, times=None, probability=0.5)
    statuses = [api.get("/api/health").status_code for _ in range(40)]
    assert 0 < statuses.count(500) < 40
    mb.sandbox.clear_failures()
    assert api.get("/api/health").status_code == 200


def test_drop_through_pytest_plugin_is_a_502(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.inject_failure("GET", "^/api/health$", None)
    assert api.get("/api/health").status_code == 502


def test_request_log_counts_by_route(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.reset_log()
    api.get("/api/card/1")
    api.get("/api/card/2")
    api.get("/api/nothing-here")
    counts = mb.sandbox.request_counts()
    assert counts[("GET", "/api/card/:id")] == 2
    assert counts[("GET", "?")] == 1
    assert [r.status for r in mb.sandbox.requests] == [404, 404, 404]
    mb.sandbox.reset_log()
    assert mb.sandbox.requests == []


def test_latency_is_added(mb: MountedSandbox, api: Api) -> None:
    mb.sandbox.latency = 0.2
    started = time.monotonic()
    api.get("/api/health")
    assert time.monotonic() - started >= 0.2


def test_serve_drops_the_connection() -> None:
    sandbox = Sandbox()
    with serve(sandbox) as server:
        api = Api(server.url, server.api_key)
        assert api.get("/api/user/current").json()["id"] == 2
        sandbox.inject_failure("GET", "^/api/health$", None)
        with pytest.raises(requests.ConnectionError):
            api.get("/api/health")
        assert api.get("/api/health").status_code == 200
        assert api.get("/api/setting/email-configured%3F").json() is True


def test_serve_handles_concurrent_requests() -> None:
    from concurrent.futures import ThreadPoolExecutor

    sandbox = Sandbox()
    with serve(sandbox) as server:
        api = Api(server.url, server.api_key)

        def create(i: int) -> int:
            return api.post("/api/collection", {"name": f"c{i}"}).json()["id"]

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, range(24)))
    assert len(set(ids)) == 24


def _ctrl_c_reaches_it() -> None:
    # A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and a
    # Python started with SIGINT ignored never turns it into KeyboardInterrupt: Ctrl-C would
    # not reach the sandbox and the test would wait out its timeout. A terminal's Ctrl-C would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_foreground_prints_url_and_key_then_stops_on_ctrl_c() -> None:
    code = ("from metabase_guard.sandbox import run_foreground;"
            "raise SystemExit(run_foreground('127.0.0.1', 0, 'fg_key', 'v0.60.1', None))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_reaches_it)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first.startswith("Metabase sandbox at http://127.0.0.1:")
        assert second == "API key: fg_key"
        url = first.rsplit(" ", 1)[1]
        props = requests.get(url + "/api/session/properties", timeout=5).json()
        assert props["version"]["tag"] == "v0.60.1"
        assert requests.get(url + "/api/user/current", headers={"x-api-key": "fg_key"},
                            timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
