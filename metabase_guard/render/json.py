"""JSON plans (``format_version`` 1, documented in docs/plan-formats.md)."""

from __future__ import annotations

import json as _json
from collections.abc import Sequence
from typing import Any

from metabase_guard.lint import Finding
from metabase_guard.reconcile.plan import Plan

__all__ = ["render_json"]


def render_json(plan: Plan, *, findings: Sequence[Finding] | None = None) -> str:
    """The plan as JSON; with ``findings``, a ``findings`` list is added (lint results)."""
    data: dict[str, Any] = plan.to_dict()
    if findings is not None:
        data["findings"] = [f.to_dict() for f in findings]
    return _json.dumps(data, indent=2, ensure_ascii=False) + "\n"
