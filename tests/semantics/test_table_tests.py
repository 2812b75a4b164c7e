"""Table-based alert tests: the question's SQL runs on DuckDB; the outage lint on the same SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from metabase_guard.alerttests import render_report, run_tests
from metabase_guard.errors import DeclarationError
from metabase_guard.lint import lint_declarations
from metabase_guard.spec.loader import load_declarations
from tests.semantics.conftest import RunCli

GROUPED = """\
      SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
      FROM recommendations
      WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
        AND pushed_at < date_trunc('week', now())
      GROUP BY 1
"""
REWRITTEN = """\
      SELECT date_trunc('week', now()) - interval '7 days' AS week, count(*) AS recommendations
      FROM recommendations
      WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
        AND pushed_at < date_trunc('week', now())
"""
DECL = """\
questions:
  - key: weekly-recommendations
    name: Recommendations pushed last week
    database: Warehouse
    sql: |
{sql}    display: bar
    goal: {{value: 2400}}
    alerts:
      - when: below_goal
        schedule: {{every: week, on: monday, at: "09:00"}}
        email: [pm@example.com]
"""
TESTS = """\
tests:
  - name: nothing pushed last week fires
    question: weekly-recommendations
    now: "2026-11-30T09:00:00"
    tables:
      recommendations:
        columns: {pushed_at: timestamp}
        rows: []
    expect: fires
"""


def write(tmp_path: Path, sql: str, tests: str = TESTS) -> Path:
    folder = tmp_path / "alerts"
    folder.mkdir(exist_ok=True)
    (folder / "r.yaml").write_text(DECL.format(sql=sql), encoding="utf-8")
    (folder / "r.tests.yaml").write_text(tests, encoding="utf-8")
    return folder


def test_the_grouped_query_is_quiet_on_an_empty_table_and_the_test_fails(tmp_path: Path) -> None:
    report = run_tests(load_declarations([write(tmp_path, GROUPED)]))
    assert report.failed == 1
    outcome = report.outcomes[0]
    assert outcome.observed == "quiet"
    assert outcome.result is not None and outcome.result.rows == []
    text = render_report(report)
    assert "FAIL  nothing pushed last week fires" in text
    assert "the SQL returned 0 row(s), columns week, recommendations" in text
    assert "result is empty" in text


def test_the_rewritten_query_fires_on_an_empty_table(tmp_path: Path) -> None:
    report = run_tests(load_declarations([write(tmp_path, REWRITTEN)]))
    assert report.failed == 0
    assert report.outcomes[0].observed == "fires"
    assert "0" in report.outcomes[0].verdict.reason


def test_validate_flags_the_grouped_query_with_file_and_line_not_the_rewrite(
    tmp_path: Path,
) -> None:
    grouped = lint_declarations(load_declarations([write(tmp_path, GROUPED)]))
    assert [(f.rule, f.severity) for f in grouped] == [("silent-on-outage", "error")]
    finding = grouped[0]
    assert finding.file.endswith("r.yaml") and finding.line == 14
    assert "Metabase skips a goal alert whose result is empty" in finding.message
    assert "without GROUP BY" in finding.hint and "allow_empty" in finding.hint
    assert lint_declarations(load_declarations([write(tmp_path, REWRITTEN)])) == []


def test_allow_empty_silences_the_outage_rule(tmp_path: Path) -> None:
    folder = write(tmp_path, GROUPED)
    text = (folder / "r.yaml").read_text(encoding="utf-8")
    (folder / "r.yaml").write_text(text.replace("    display: bar", "    allow_empty: true\n"
                                                "    display: bar"), encoding="utf-8")
    assert lint_declarations(load_declarations([folder])) == []


@pytest.mark.parametrize("sql, rule", [
    ("      SELECT max(run_at) AS last FROM runs WHERE status = 'success'\n"
     "      HAVING max(run_at) < now() - interval '26 hours'\n", "silent-on-outage"),
    ("      SELECT 'late' AS problem WHERE NOT EXISTS (SELECT 1 FROM runs\n"
     "        WHERE run_at >= now() - interval '26 hours')\n", None),
    ("      SELECT max(run_at) AS last, count(*) AS n FROM runs\n"
     "      HAVING coalesce(max(run_at), date '1970-01-01') < now() - interval '1 day'\n", None),
])
def test_has_rows_over_a_null_aggregate_filter_warns(tmp_path: Path, sql: str,
                                                     rule: str | None) -> None:
    decl = DECL.format(sql=sql).replace("below_goal", "has_rows").replace(
        "    display: bar\n    goal: {value: 2400}\n", "")
    folder = tmp_path / "alerts"
    folder.mkdir()
    (folder / "q.yaml").write_text(decl, encoding="utf-8")
    found = [(f.rule, f.severity) for f in lint_declarations(load_declarations([folder]))
             if f.rule == "silent-on-outage"]
    assert found == ([(rule, "warning")] if rule else [])


def test_tables_and_rows_are_mutually_exclusive(tmp_path: Path) -> None:
    bad = TESTS.replace("    expect: fires", "    rows: []\n    expect: fires")
    with pytest.raises(DeclarationError, match="mutually exclusive"):
        run_tests(load_declarations([write(tmp_path, REWRITTEN, bad)]))


def test_untyped_empty_table_is_a_clear_error(tmp_path: Path) -> None:
    bad = TESTS.replace("{pushed_at: timestamp}", "[pushed_at]")
    with pytest.raises(DeclarationError, match="types cannot be inferred") as info:
        run_tests(load_declarations([write(tmp_path, REWRITTEN, bad)]))
    assert "r.tests.yaml:7" in str(info.value)


def test_sql_that_cannot_run_is_a_test_error_naming_the_construct(tmp_path: Path) -> None:
    sql = "      SELECT no_such_function(pushed_at) AS recommendations FROM recommendations\n"
    report = run_tests(load_declarations([write(tmp_path, sql)]))
    outcome = report.outcomes[0]
    assert outcome.observed == "error" and not outcome.passed
    assert "no_such_function" in outcome.verdict.reason


def test_cli_test_fails_and_names_the_grouped_test(tmp_path: Path, run_cli: RunCli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, GROUPED)
    monkeypatch.chdir(tmp_path)
    run = run_cli("test", "alerts")
    assert run.code == 1
    assert "FAIL  nothing pushed last week fires" in run.out
    assert "Traceback" not in run.err


def test_plan_warns_when_the_offline_engine_is_not_the_live_one(tmp_path: Path) -> None:
    from metabase_guard.lint import engine_mismatches

    decls = load_declarations([write(tmp_path, REWRITTEN)])
    found = engine_mismatches(decls, {}, {"Warehouse": "snowflake"})
    assert [(f.rule, f.severity) for f in found] == [("engine-mismatch", "warning")]
    assert "'snowflake' on the instance" in found[0].message and "(the default)" in found[0].message
    assert "engine: snowflake" in found[0].hint
    assert engine_mismatches(decls, {"Warehouse": "snowflake"}, {"Warehouse": "snowflake"}) == []
    assert engine_mismatches(decls, {}, {"Warehouse": "postgres"}) == []


def test_the_sql_is_read_in_the_engine_s_dialect(tmp_path: Path) -> None:
    sql = ("      SELECT TOP 1 CAST(GETDATE() AS date) AS week, count(*) AS recommendations\n"
           "      FROM recommendations\n"
           "      WHERE pushed_at >= DATEADD(day, -7, GETDATE())\n")
    decls = load_declarations([write(tmp_path, sql)])
    report = run_tests(decls, {"Warehouse": "sqlserver"})
    assert report.outcomes[0].observed == "fires", report.outcomes[0].verdict.reason
    broken = run_tests(decls, {"Warehouse": "mongo"}).outcomes[0]
    assert broken.observed == "error" and "does not run SQL" in broken.verdict.reason


def test_every_spelling_of_now_that_lint_reads_is_frozen_in_tests() -> None:
    # lint and the test runner share one list: a "now" lint knows but tests did not freeze
    # (today()) read the real clock in a test
    from datetime import datetime

    from metabase_guard.sql.duck import to_duckdb
    from metabase_guard.sql.parse import NOW_FUNCTIONS, TODAY_FUNCTIONS, parse

    frozen = datetime(2026, 11, 30, 9)
    for name in sorted(NOW_FUNCTIONS | TODAY_FUNCTIONS):
        sql = to_duckdb(parse(f"SELECT {name}() AS t", "postgres"), frozen)
        assert "2026-11-30" in sql, (name, sql)
