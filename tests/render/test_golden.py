"""Rendered plans compared with golden files.

The test only compares. To regenerate after an intended rendering change, run
``python -m tests.render.test_golden`` and review the diff of tests/render/golden/.
"""

from __future__ import annotations

import sys
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


NAMES = ("create", "update", "empty", "prune")
FORMATS = ("txt", "md", "json")


def _render(name: str, fmt: str) -> str:
    plan = _plans()[name]
    return {"txt": render_text, "md": render_markdown, "json": render_json}[fmt](plan)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_matches_golden(name: str, fmt: str) -> None:
    path = GOLDEN / f"{name}.{fmt}"
    assert _render(name, fmt) == path.read_text(encoding="utf-8"), (
        f"{path.name} differs; if the change is intended, regenerate with "
        "python -m tests.render.test_golden")


def test_colour_only_when_asked() -> None:
    plan = _plans()["update"]
    assert "\033[" not in render_text(plan)
    assert "\033[33m~" in render_text(plan, colour=True)


def update_golden() -> list[Path]:
    """Rewrite every golden file from the current renderers; returns the files that changed."""
    changed = []
    for name in NAMES:
        for fmt in FORMATS:
            path = GOLDEN / f"{name}.{fmt}"
            rendered = _render(name, fmt)
            if not path.exists() or path.read_text(encoding="utf-8") != rendered:
                path.write_text(rendered, encoding="utf-8")
                changed.append(path)
    return changed


if __name__ == "__main__":
    for path in update_golden():
        sys.stdout.write(f"rewrote {path.name}\n")
