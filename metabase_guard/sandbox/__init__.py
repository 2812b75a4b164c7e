"""An in-memory Metabase emulator for tests, the demo and ``metabase-guard sandbox``.

``Sandbox.handle(method, path, query, headers, body)`` is the one pure entry point; adapters
serve it on the standard library (:func:`serve`) or on pytest-httpserver
(``metabase_guard.sandbox.pytest_plugin``). Behaviours copied from Metabase cite its source.
"""

from metabase_guard.sandbox.app import RequestRecord, Sandbox, SandboxResponse
from metabase_guard.sandbox.seed import ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_SEED, load_seed
from metabase_guard.sandbox.server import SandboxServer, run_foreground, serve
from metabase_guard.sandbox.store import Delivery

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "DEMO_SEED",
    "Delivery",
    "RequestRecord",
    "Sandbox",
    "SandboxResponse",
    "SandboxServer",
    "load_seed",
    "run_foreground",
    "serve",
]
