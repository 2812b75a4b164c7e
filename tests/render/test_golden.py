"""Rendered plans compared with golden files.

The test only compares. To regenerate after an intended rendering change, run
``python -m tests.render.test_golden`` and review the diff of tests/render/golden/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from metabase_guard.api.models import Dashboard, Pulse
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.plan import Plan
from metabase_guard.reconcile.walk import make_plan, resolve
from metabase_guard.render import render_json, render_markdown, render_text
from metabase_guard.spec.loader import load_text
from tests.reconcile.test_plan_pure import (
    ME,
    PM,
    YAML,
    live_state,
    managed_alert,
    managed_card,
    plan_for,
)

DASHBOARD_YAML = YAML + """
dashboards:
  - key: recommender-health
    name: Recommender health
    collection: Health checks/Recommender
    cards:
      - heading: Weekly pushes
      - weekly-recommendations
    subscriptions:
      - schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
      - schedule: {every: day, at: "07:00"}
        slack: ["#ml-alerts"]
"""


def _pulse(pulse_id: int, channel: dict[str, object]) -> Pulse:
    return Pulse.model_validate({
        "id": pulse_id, "dashboard_id": 40, "creator_id": ME.id, "name": "Recommender health",
        "cards": [{"id": 10, "dashboard_card_id": 51, "include_csv": False,
                   "include_xls": False}],
        "channels": [{"channel_type": "email", "enabled": True, "schedule_type": "weekly",
                      "schedule_hour": 9, "schedule_day": "mon", **channel}]})


def _dashboard_plan() -> Plan:
    """The issue's dashboard: its card moved, a heading added, the e-mail sent an hour
    earlier, a Slack subscription to create and an old e-mail one pruned."""
    live = live_state([managed_card()], [managed_alert()])
    live.dashboards = [Dashboard.model_validate({
        "id": 40, "name": "Recommender health", "collection_id": 6, "creator_id": ME.id,
        "description": compose_description(None, "recommender-health"),
        "dashcards": [{"id": 51, "card_id": 10, "row": 0, "col": 0, "size_x": 12,
                       "size_y": 6}]})]
    live.pulses = [
        _pulse(60, {"recipients": [{"id": PM.id, "email": PM.email}]}),
        _pulse(61, {"recipients": [{"email": "old-team@example.com"}],
                    "schedule_type": "daily"}),
    ]
    decls = load_text(DASHBOARD_YAML, "alerts/recommender.yaml")
    return make_plan(resolve(decls, live), live, url="http://mb", prune=True)

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
        "dashboard": _dashboard_plan(),
    }


NAMES = ("create", "update", "empty", "prune", "dashboard")
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
