"""Rendered plans compared with golden files (regenerate with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metabase_guard.reconcile.plan import Plan
from metabase_guard.render import render_json, render_markdown, render_text
from tests.reconcile.test_plan_pure import (
    YAML,
    live_state,
    managed_alert,
    managed_card,
    plan_for,
)

GOLDEN = Path(__file__).with_name("golden")


def _plans() -> dict[str, Plan]:
    hand = managed_alert(nid=30, creator=3, cron="0 0 7 * * ? *")
    changed = YAML.replace("value: 2400", "value: 2500").replace(
        "ds@example.com", "lead@example.com")
    return {
        "create": plan_for(live_state()),
        "update": plan_for(live_state([managed_card()], [managed_alert(), hand]), changed),
        "empty": plan_for(live_state([managed_card()], [managed_alert()])),
        # the undeclared alert differs from the declared one: an identical one would be a copy
        # made by a concurrent apply (issue 9), retired even without --prune
        "prune": plan_for(live_state([managed_card()], [
            managed_alert(), managed_alert(nid=21, cron="0 0 10 ? * 2")]), prune=True),
    }


@pytest.mark.parametrize("name", ["create", "update", "empty", "prune"])
@pytest.mark.parametrize("fmt", ["txt", "md", "json"])
def test_rendering_matches_golden(name: str, fmt: str) -> None:
    plan = _plans()[name]
    rendered = {"txt": render_text, "md": render_markdown, "json": render_json}[fmt](plan)
    path = GOLDEN / f"{name}.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8")


def test_colour_only_when_asked() -> None:
    plan = _plans()["update"]
    assert "\033[" not in render_text(plan)
    assert "\033[33m~" in render_text(plan, colour=True)
