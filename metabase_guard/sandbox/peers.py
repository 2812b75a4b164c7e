"""List endpoints of objects the sandbox never holds, so that peer tools can run against it.

Added for the side-by-side benchmark with metabase-sync (benchmarks/run.py,
docs/benchmarks.md), which lists dashboards, snippets and dashboard subscriptions before it
plans cards. The sandbox stores none of these objects, so an empty list is the exact answer an
instance without them gives:

- ``GET /api/dashboard``: metabase/metabase src/metabase/dashboards_rest/api.clj (``GET /``,
  ``f`` defaults to ``all``): a bare array of the readable, non-archived dashboards;
- ``GET /api/native-query-snippet``: metabase/metabase
  src/metabase/native_query_snippets/api.clj (``GET /``): a bare array;
- ``GET /api/pulse``: metabase/metabase src/metabase/pulse/api/pulse.clj (``GET /``): a bare
  array of dashboard subscriptions.

Creating any of them still answers 404 "API endpoint does not exist.", as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metabase_guard.sandbox.core import Reply, Request, ok

if TYPE_CHECKING:
    from metabase_guard.sandbox.app import Router, Sandbox


def register(router: Router) -> None:
    """Register this module's endpoints."""
    for template in ("/api/dashboard", "/api/native-query-snippet", "/api/pulse"):
        router.add("GET", template)(empty_list)


def empty_list(sb: Sandbox, req: Request) -> Reply:
    """An empty bare array (the sandbox holds no such objects)."""
    return ok([])
