"""One numbering of alerts everywhere: plan, apply, check, lint and alert tests count from 1."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Env

TWO_ALERTS = """\
questions:
  - key: two-alerts
    name: Two alerts on one question
    collection: Health checks
    database: Warehouse
    sql: |
      SELECT date_trunc('week', now()) - interval '7 days' AS week, count(*) AS recommendations
      FROM recommendations
      WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
        AND pushed_at < date_trunc('week', now())
    display: bar
    metric: recommendations
    goal: {value: 2400}
    alerts:
      - when: has_rows
        schedule: {every: week, on: monday, at: "08:00"}
        email: [pm@example.com]
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:00"}
        email: [ds@example.com]
"""

TESTS = """\
tests:
  - name: the second alert fires under the goal
    question: two-alerts
    alert: 2
    columns: [week, recommendations]
    rows: [["2026-11-16", 10]]
    expect: quiet
"""


def test_the_second_alert_is_number_2_in_plan_apply_check_and_test(env: Env,
                                                                    tmp_path: Path) -> None:
    folder = tmp_path / "numbering"
    folder.mkdir()
    (folder / "q.yaml").write_text(TWO_ALERTS, encoding="utf-8")
    (folder / "q.tests.yaml").write_text(TESTS, encoding="utf-8")

    plan = env.run("plan", str(folder), "--format", "json")
    addresses = [c["address"] for c in json.loads(plan.out)["changes"]]
    assert "alert 1 of two-alerts" in addresses and "alert 2 of two-alerts" in addresses
    assert not [a for a in addresses if "[" in a]  # no 0-based index form left

    applied = env.run("apply", str(folder), "--yes")
    assert applied.code == 0, applied.err
    assert "alert 2 of two-alerts: created" in applied.both

    check = env.run("check", str(folder))
    assert "alert 2 below_goal" in check.out and "alert 1 has_rows" in check.out

    # the test expects 'quiet' on purpose: its failure names the alert the same way
    test = env.run("test", str(folder))
    assert test.code == 1
    assert "alert 2 of two-alerts (below_goal)" in test.both
