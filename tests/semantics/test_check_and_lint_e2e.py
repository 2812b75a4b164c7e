"""``check`` against the demo-seeded sandbox, and lint in ``validate``/``plan``/``apply``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from metabase_guard.sandbox.pytest_plugin import MountedSandbox
from tests.e2e.conftest import demo_seed
from tests.semantics.conftest import RunCli

MANY_WEEKS = """
questions:
  - key: all-weeks
    name: Recommendations per week, all year
    database: Warehouse
    sql: |
      SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
      FROM recommendations
      GROUP BY 1
      ORDER BY 1
    display: bar
    metric: recommendations
    goal: {value: 2400}
    alerts:
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:10"}
        email: [pm@example.com]
    allow_empty: true                  # this test is about many-periods, not silent-on-outage
"""


def writes(mb: MountedSandbox) -> int:
    return sum(n for (method, path), n in mb.sandbox.request_counts().items()
               if method in ("PUT", "DELETE") or (method == "POST" and "query" not in path
                                                   and "dataset" not in path))


def test_check_shows_the_weekly_alert_would_send_now(demo_mb: MountedSandbox,
                                                     run_cli: RunCli) -> None:
    result = run_cli("check")
    assert result.code == 0, result.both
    line = next(x for x in result.out.splitlines() if "below_goal" in x and "2,400" in x
                and "2,381" in x)
    assert "WOULD SEND NOW" in line and "value 2,381, goal 2,400" in line
    assert "weekly-recommendations: Recommendations pushed last week (declared SQL run ad " \
           "hoc: no card yet; 1 row)" in result.out
    assert writes(demo_mb) == 0, "check must never write"
    counts = demo_mb.sandbox.request_counts()
    assert counts.get(("POST", "/api/dataset"), 0) == 4  # the four questions with alerts


def test_check_fail_on_send_exits_2_and_json_carries_the_verdicts(
        demo_mb: MountedSandbox, run_cli: RunCli) -> None:
    result = run_cli("check", "--fail-on-send", "--format", "json")
    assert result.code == 2
    data = json.loads(result.out)
    weekly = next(q for q in data["questions"] if q["key"] == "weekly-recommendations")
    alert = weekly["alerts"][0]
    assert (alert["status"], alert["value"], alert["goal"]) == ("sends", 2381, 2400)
    assert data["summary"]["sends"] >= 1


def test_check_runs_the_saved_card_after_apply(demo_mb: MountedSandbox,
                                               run_cli: RunCli) -> None:
    assert run_cli("apply", "--yes").code == 0
    demo_mb.sandbox.reset_log()
    result = run_cli("check", "--format", "markdown")
    assert result.code == 0
    assert "| `weekly-recommendations` | 1 `below_goal` | 2,381 | 2,400 | 🔔 would send now |" \
        in result.out
    posts = [p for (m, p) in demo_mb.sandbox.request_counts() if m == "POST"]
    assert all(p.startswith("/api/card/") and p.endswith("/query") for p in posts), posts


def test_check_counts_rows_for_many_periods_and_broken_queries_exit_1(
        demo_mb: MountedSandbox, workdir: Path, run_cli: RunCli) -> None:
    folder = workdir / "extra"
    folder.mkdir()
    (folder / "weeks.yaml").write_text(MANY_WEEKS)
    result = run_cli("check", str(folder))
    assert result.code == 0, result.both
    assert "warning[many-periods] all-weeks.alerts[0].when: the query returned 52 rows" \
        in result.out
    assert "6 of them are below the goal now" in result.out
    (folder / "broken.yaml").write_text(MANY_WEEKS.replace("all-weeks", "broken").replace(
        "FROM recommendations", "FROM no_such_table"))
    broken = run_cli("check", str(folder))
    assert broken.code == 1
    assert "broken: query failed" in broken.out


def test_validate_and_plan_report_lint_and_strict_blocks(demo_mb: MountedSandbox,
                                                         workdir: Path, run_cli: RunCli) -> None:
    folder = workdir / "extra"
    folder.mkdir()
    (folder / "weeks.yaml").write_text(MANY_WEEKS)
    validated = run_cli("validate", str(folder))
    assert validated.code == 0
    assert "extra/weeks.yaml:15: warning[many-periods] all-weeks.alerts[0].when" in validated.err
    assert "lint: 0 errors, 1 warning" in validated.err
    assert run_cli("validate", "--strict", str(folder)).code == 1

    planned = run_cli("plan", str(folder))
    assert planned.code == 0
    assert "Lint (0 errors, 1 warning):" in planned.out
    assert "warning[many-periods]" in planned.out
    as_json = json.loads(run_cli("plan", "--format", "json", str(folder)).out)
    assert [f["rule"] for f in as_json["findings"]] == ["many-periods"]
    assert "`many-periods`" in run_cli("plan", "--format", "markdown", str(folder)).out
    strict = run_cli("plan", "--strict", str(folder))
    assert strict.code == 1
    assert "errors block" in strict.err


def test_plan_and_apply_block_on_a_recipient_outside_the_allow_list(
        metabase_sandbox_factory: Callable[..., MountedSandbox], workdir: Path,
        monkeypatch: pytest.MonkeyPatch, run_cli: RunCli) -> None:
    mb = metabase_sandbox_factory(seed=demo_seed(allowed_domains=["example.com"]))
    monkeypatch.setenv("METABASE_URL", mb.url)
    monkeypatch.setenv("METABASE_API_KEY", mb.api_key)
    folder = workdir / "extra"
    folder.mkdir()
    (folder / "weeks.yaml").write_text(
        MANY_WEEKS.replace("[pm@example.com]", "[pm@example.com, ext@partner.org]"))
    planned = run_cli("plan", str(folder))
    assert planned.code == 1
    assert "error[recipient-not-allowed] all-weeks.alerts[0].email[1]: ext@partner.org" \
        in planned.out
    applied = run_cli("apply", "--yes", str(folder))
    assert applied.code == 1
    assert "Nothing was applied." in applied.err
    assert writes(mb) == 0
    # the same declarations without the outsider plan cleanly
    (folder / "weeks.yaml").write_text(MANY_WEEKS)
    assert run_cli("plan", str(folder)).code == 0


def test_plan_warns_when_a_card_change_deletes_alerts(demo_mb: MountedSandbox,
                                                      workdir: Path, run_cli: RunCli) -> None:
    assert run_cli("apply", "--yes").code == 0
    recommender = workdir / "alerts" / "recommender.yaml"
    text = recommender.read_text()
    recommender.write_text(text.replace(
        "    display: bar                           # line, bar, area, progress, table, scalar, "
        "...\n    metric: recommendations                # optional: the column compared with "
        "the goal\n    goal: {value: 2400, label: Minimum per week}\n    alerts:\n"
        "      - when: below_goal ",
        "    display: table\n    alerts:\n      - when: has_rows "))
    assert recommender.read_text() != text
    result = run_cli("plan")
    assert result.code == 0, result.both
    assert "warning[alerts-deleted] weekly-recommendations.display" in result.out
    assert "Metabase deletes all 1 active alert(s)" in result.out


EMPTY_WEEK = """
questions:
  - key: future-weeks
    name: Recommendations pushed next week
    database: Warehouse
    sql: |
      SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
      FROM recommendations
      WHERE pushed_at >= date_trunc('week', now()) + interval '7 days'
      GROUP BY 1
    display: bar
    metric: recommendations
    goal: {value: 2400}
    alerts:
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:10"}
        email: [pm@example.com]
    allow_empty: true
"""


def test_check_says_an_empty_result_keeps_a_below_goal_alert_quiet(
        demo_mb: MountedSandbox, run_cli: RunCli, workdir: Path) -> None:
    folder = workdir / "empty"
    folder.mkdir()
    (folder / "future.yaml").write_text(EMPTY_WEEK)
    result = run_cli("check", str(folder))
    assert result.code == 0, result.both
    assert "0 rows" in result.out
    assert ("empty result: the below-goal alert stays quiet; on a total outage this check is "
            "blind") in result.out
    data = json.loads(run_cli("check", str(folder), "--format", "json").out)
    assert data["questions"][0]["alerts"][0]["note"].startswith("empty result")


def test_plan_warns_when_the_config_engine_is_not_the_live_one(
        demo_mb: MountedSandbox, run_cli: RunCli, workdir: Path) -> None:
    (workdir / "metabase-guard.yaml").write_text("databases:\n  Warehouse: {engine: snowflake}\n")
    result = run_cli("plan")
    assert result.code == 0, result.both
    assert "warning[engine-mismatch]" in result.out
    assert "'postgres' on the instance" in result.out
    assert writes(demo_mb) == 0
