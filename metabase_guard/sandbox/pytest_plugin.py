"""pytest fixtures serving a fresh :class:`Sandbox` on pytest-httpserver.

pytest loads this module by itself once metabase-guard is installed (a ``pytest11`` entry
point; ``pytest -p no:metabase_guard.sandbox.pytest_plugin`` turns it off, and an older conftest
line ``pytest_plugins = ["metabase_guard.sandbox.pytest_plugin"]`` is harmless). The fixtures
need the ``test`` extra (pytest-httpserver); without it they fail with the command that installs
it, and nothing else in a user's test run changes. Importing it costs almost nothing: the
sandbox itself is imported when a test first asks for it. Fixtures:

- ``metabase_sandbox``: a default sandbox (``v0.61.2``, default seed) per test;
- ``metabase_sandbox_factory(version_tag=..., seed=..., api_key=..., **kwargs)``: build one with
  other settings (each call replaces the previous mount on the test's ``httpserver``).

A dropped request (``inject_failure(status=None)``) cannot be dropped through pytest-httpserver;
it is answered 502 ``Bad Gateway`` like a proxy would. Use ``serve`` to test real drops.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    from metabase_guard.sandbox.app import Sandbox

_MISSING_EXTRA = (
    "the metabase_sandbox fixtures need pytest-httpserver: pip install 'metabase-guard[test]'"
)


@dataclass(frozen=True)
class MountedSandbox:
    """A sandbox reachable over HTTP: ``url`` (no trailing slash), ``api_key``, ``sandbox``."""

    url: str
    api_key: str
    sandbox: Sandbox


def _handler(sandbox: Sandbox) -> Callable[[Request], Response]:
    from werkzeug import Response

    def respond(request: Request) -> Response:
        query = {key: request.args.getlist(key) for key in request.args}
        response = sandbox.handle(request.method, request.path, query, dict(request.headers),
                                  request.get_data())
        if response.dropped:
            return Response("Bad Gateway", status=502, content_type="text/plain")
        return Response(response.body, status=response.status, headers=response.headers)

    return respond


def mount(httpserver: HTTPServer, sandbox: Sandbox) -> MountedSandbox:
    """Serve ``sandbox`` on ``httpserver`` (replacing whatever it served)."""
    httpserver.clear_all_handlers()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_handler(sandbox))
    return MountedSandbox(httpserver.url_for("/").rstrip("/"), sandbox.admin_api_key, sandbox)


SandboxFactory = Callable[..., MountedSandbox]


@pytest.fixture
def metabase_sandbox_factory(request: pytest.FixtureRequest) -> Iterator[SandboxFactory]:
    """Build and mount a sandbox: ``factory(version_tag="v0.55.3", seed={...})``."""
    # checked here, when a test asks for a sandbox, so that loading the plugin in every pytest
    # run of a user imports neither pytest-httpserver nor werkzeug
    try:
        import pytest_httpserver  # noqa: F401
    except ImportError:
        pytest.fail(_MISSING_EXTRA, pytrace=False)
    httpserver: HTTPServer = request.getfixturevalue("httpserver")
    from metabase_guard.sandbox.app import Sandbox

    def factory(
        version_tag: str = "v0.61.2",
        seed: Mapping[str, Any] | str | Path | None = None,
        api_key: str = "mb_sandbox_admin_key",
        **kwargs: Any,
    ) -> MountedSandbox:
        return mount(httpserver, Sandbox(version_tag=version_tag, api_key=api_key, seed=seed,
                                         **kwargs))

    yield factory
    httpserver.check_assertions()
    httpserver.check_handler_errors()


@pytest.fixture
def metabase_sandbox(metabase_sandbox_factory: SandboxFactory) -> MountedSandbox:
    """A fresh default sandbox (``v0.61.2``, default seed) served over HTTP."""
    return metabase_sandbox_factory()
