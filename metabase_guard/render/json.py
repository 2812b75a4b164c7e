"""JSON plans (``format_version`` 1, documented in docs/plan-formats.md)."""

from __future__ import annotations

import json as _json

from metabase_guard.reconcile.plan import Plan

__all__ = ["render_json"]


def render_json(plan: Plan) -> str:
    """The plan as JSON."""
    return _json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
