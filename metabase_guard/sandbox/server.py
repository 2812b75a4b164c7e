"""Serve a :class:`Sandbox` over HTTP with the standard library (threaded)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from metabase_guard.sandbox.app import Sandbox
from metabase_guard.sandbox.store import parse_major


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out in two writes; with Nagle on, a keep-alive client's
    # delayed ACK held every answer back by about 40 ms (docs/benchmarks.md).
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        headers = {k: v for k, v in self.headers.items()}
        response = self.server.sandbox.handle(
            self.command, unquote(parts.path), query, headers, body
        )
        if response.dropped:
            # Close without answering, like a proxy or a crashed process.
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class SandboxServer:
    """A sandbox served on a background thread; use as a context manager or call :meth:`close`."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self._server = _Server((host, port), sandbox)
        self.host = host
        self.port = int(self._server.server_address[1])
        # A short poll interval: close() waits for the loop to notice the shutdown, and the
        # default 0.5 s made every served test half a second slower.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="mb-sandbox", daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The sandbox's admin API key."""
        return self.sandbox.admin_api_key

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Start serving ``sandbox`` on a background thread (``port=0`` picks a free port)."""
    return SandboxServer(sandbox, host, port)


def run_foreground(
    host: str = "127.0.0.1",
    port: int = 3000,
    api_key: str = "mb_sandbox_admin_key",
    version_tag: str = "v0.61.2",
    seed_path: Mapping[str, Any] | str | Path | None = None,
) -> int:
    """Serve a new sandbox until Ctrl-C (the ``metabase-guard sandbox`` command); returns 0."""
    sandbox = Sandbox(version_tag=version_tag, api_key=api_key, seed=seed_path)
    server = _Server((host, port), sandbox)
    bound = int(server.server_address[1])
    print(f"Metabase sandbox at http://{host}:{bound}", flush=True)
    print(f"API key: {api_key}", flush=True)
    # a dev build's tag (vLOCAL_DEV) names no release: the newest emulated API answers
    named = parse_major(sandbox.version_tag) is not None
    print(f"Version: {sandbox.version_tag}" + (
        "" if named else f" (names no release: answers as Metabase 0.{sandbox.major})"),
        flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    sys.stdout.flush()
    return 0
