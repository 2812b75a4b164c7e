"""``metabase-guard test`` end to end through ``cli.main``, offline."""

from __future__ import annotations

import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.semantics.conftest import RunCli

QUESTIONS = """
questions:
  - key: weekly
    name: Weekly count
    database: Warehouse
    sql: SELECT week, n FROM weekly
    display: bar
    metric: n
    goal: {value: 2400}
    alerts:
      - when: below_goal
        schedule: {every: week, on: monday, at: "09:00"}
        email: [pm@example.com]
      - when: above_goal
        schedule: {every: week, on: monday, at: "09:05"}
        email: [pm@example.com]
  - key: failures
    name: Failures
    database: Warehouse
    sql: SELECT run_at FROM runs WHERE status = 'failed'
    alerts:
      - when: has_rows
        schedule: {every: day, at: "07:30"}
        email: [pm@example.com]
"""


def write(folder: Path, tests: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "q.yaml").write_text(QUESTIONS)
    (folder / "q.tests.yaml").write_text("tests:\n" + textwrap.indent(
        textwrap.dedent(tests).strip(), "  ") + "\n")
    return folder


def case(name: str, *, question: str = "weekly", alert: int | None = 1,
         columns: str = "[week, n]", rows: str = "[]", expect: str = "quiet") -> str:
    alert_line = f"  alert: {alert}\n" if alert is not None else ""
    return (f"- name: {name}\n  question: {question}\n{alert_line}  columns: {columns}\n"
            f"  rows: {rows}\n  expect: {expect}\n")


def test_the_examples_pass_and_write_junit(workdir: Path, run_cli: RunCli) -> None:
    junit = workdir / "report.xml"
    result = run_cli("test", "alerts", "--junit", str(junit))
    assert result.code == 0, result.both
    assert "PASS  a week under 2,400 recommendations fires the alert" in result.out
    assert result.out.rstrip().endswith("12 passed, 0 failed")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "12" and suite.get("failures") == "0"
    assert {c.get("classname") for c in suite.iter("testcase")} == {
        "alerts/pipelines.tests.yaml", "alerts/recommender.tests.yaml"}


def test_validate_and_the_loader_accept_tests_only_files(workdir: Path, run_cli: RunCli) -> None:
    result = run_cli("validate", "alerts")
    assert result.code == 0, result.err
    assert ("5 question(s) with 4 alert(s), 1 dashboard(s) with 2 subscription(s) in 4 "
            "file(s)") in result.err


def test_a_failing_test_says_what_was_expected_and_why(tmp_path: Path, run_cli: RunCli) -> None:
    folder = write(tmp_path / "d", case("low week stays quiet", rows='[["2026-11-16", 2100]]')
                   + case("high week stays quiet", rows='[["2026-11-16", 2600]]'))
    junit = tmp_path / "junit.xml"
    result = run_cli("test", str(folder), "--junit", str(junit))
    assert result.code == 1
    assert "FAIL  low week stays quiet  (" in result.out and "q.tests.yaml:2)" in result.out
    assert "expected: quiet" in result.out
    assert "Metabase would fire: 1 of 1 row is below the goal 2,400 (n = 2,100 on row 1)" \
        in result.out
    assert "PASS  high week stays quiet" in result.out
    assert result.out.rstrip().endswith("1 passed, 1 failed")
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "expected quiet, Metabase would fire"


# Metabase's evaluation rules, each shown firing and not firing through `test`.
RULE_CASES = [
    # goal_below: strictly below (`<`)
    case("below fires", rows='[["w", 2399]]', expect="fires"),
    case("at the goal is not below", rows='[["w", 2400]]', expect="quiet"),
    # goal_above: at or above (`>=`)
    case("at the goal is above", alert=2, rows='[["w", 2400]]', expect="fires"),
    case("under the goal is not above", alert=2, rows='[["w", 2399]]', expect="quiet"),
    # any row crossing fires, not only the last
    case("an old week fires", rows='[["w1", 2000], ["w2", 3000]]', expect="fires"),
    case("no week crosses", rows='[["w1", 2500], ["w2", 3000]]', expect="quiet"),
    # an empty result never fires a goal alert
    case("empty goal result", rows="[]", expect="quiet"),
    # has_result: rows fire, no rows and [[null]] are empty
    case("a row fires", question="failures", alert=None, columns="[run_at]",
         rows='[["2026-11-16"]]', expect="fires"),
    case("no row", question="failures", alert=None, columns="[run_at]", rows="[]"),
    case("one null cell is empty", question="failures", alert=None, columns="[run_at]",
         rows="[[null]]"),
]


def test_evaluation_rules_fire_and_stay_quiet(tmp_path: Path, run_cli: RunCli) -> None:
    folder = write(tmp_path / "d", "".join(RULE_CASES))
    result = run_cli("test", str(folder))
    assert result.code == 0, result.out
    assert result.out.rstrip().endswith(f"{len(RULE_CASES)} passed, 0 failed")


def test_a_run_metabase_fails_is_neither_fires_nor_quiet(tmp_path: Path,
                                                          run_cli: RunCli) -> None:
    # a null met before any crossing row makes Metabase's comparison throw
    folder = write(tmp_path / "d", case("null first", rows='[["w1", null], ["w2", 10]]',
                                        expect="fires"))
    result = run_cli("test", str(folder))
    assert result.code == 1
    assert "Metabase would fail the run (nothing is sent): row 1 has null in n" in result.out


@pytest.mark.parametrize("tests, message", [
    (case("x", question="weeky"), "tests[0].question: no declared question with key 'weeky'; "
                                  "did you mean 'weekly'?"),
    (case("x", alert=3), "tests[0].alert: alert 3 is out of range: question 'weekly' has 2 "
                         "alert(s)"),
    (case("x", alert=None), "tests[0]: question 'weekly' has 2 alerts: say which with alert: "
                            "1..2"),
    (case("x", rows='[["w"]]'), "tests[0].rows[0]: the row has 1 value(s) but there are 2"),
    (case("x", rows='[["w", [1]]]'), "tests[0].rows[0][1]: expected a plain value"),
    (case("x", expect="fire"), "tests[0].expect: expected one of fires, quiet; got a string "
                               "('fire'); did you mean 'fires'?"),
    (case("x", columns="week"), "tests[0].columns: expected a non-empty list"),
    (case("x") + "  expected: quiet\n", "tests[0].expected: unknown field 'expected' in a "
                                        "test; did you mean 'expect'?"),
    (case("x") + case("x"), "tests[1].name: duplicate test name 'x'"),
    ("- just a string", "tests[0]: a test must be a mapping"),
])
def test_bad_test_files_are_errors_with_file_and_line(tmp_path: Path, run_cli: RunCli,
                                                      tests: str, message: str) -> None:
    folder = write(tmp_path / "d", tests)
    result = run_cli("test", str(folder))
    assert result.code == 1
    assert "q.tests.yaml:" in result.err
    assert message in result.err, result.err


def test_bad_line_points_at_the_field(tmp_path: Path, run_cli: RunCli) -> None:
    folder = write(tmp_path / "d", case("ok") + case("bad", alert=0))
    result = run_cli("test", str(folder))
    assert result.code == 1
    # the second test starts on line 8; its `alert:` is on line 10
    assert "q.tests.yaml:10: tests[1].alert: alert 0 is out of range" in result.err


def test_no_tests_found(tmp_path: Path, run_cli: RunCli) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "q.yaml").write_text(QUESTIONS)
    result = run_cli("test", str(folder))
    assert result.code == 0
    assert "No tests found" in result.out and "0 passed, 0 failed" in result.out
