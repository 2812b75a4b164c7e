"""The declaration loader: the README example, and every error kind located by file/line/field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from metabase_guard.errors import DeclarationError, Problem
from metabase_guard.spec import load_declarations, load_text, to_cron
from metabase_guard.spec.loader import discover
from metabase_guard.spec.models import DailySchedule, WeeklySchedule

README_EXAMPLE = """\
questions:
  - key: weekly-recommendations          # stable identity: a slug, survives renames and moves
    name: Recommendations pushed last week
    description: The recommender must push at least 2,400 recommendations every week.
    collection: Health checks/Recommender  # a path; missing collections are created on apply
    database: Warehouse                    # by name
    sql: |
      SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
      FROM recommendations
      WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
        AND pushed_at < date_trunc('week', now())
      GROUP BY 1
    display: bar                           # line, bar, area, progress, table, scalar, ...
    metric: recommendations                # optional: the column compared with the goal
    goal: {value: 2400, label: Minimum per week}
    alerts:
      - when: below_goal                   # below_goal | above_goal | has_rows
        schedule: {every: week, on: monday, at: "09:00"}
        email: [pm@example.com, ds@example.com]
        slack: ["#ml-alerts"]
"""

VALID_QUESTION = """\
  - key: {key}
    name: Q
    database: Warehouse
    sql: select 1
"""


def write(tmp_path: Path, text: str, name: str = "checks.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    path = write(tmp_path, text)
    with pytest.raises(DeclarationError) as info:
        load_declarations([path])
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def question(body: str, key: str = "q") -> str:
    """A valid question with ``body`` (indented four spaces) appended."""
    return (
        "questions:\n"
        + VALID_QUESTION.format(key=key)
        + textwrap.indent(textwrap.dedent(body), "    ")
    )


# --- the accepted format ---------------------------------------------------------------------


def test_readme_example_is_accepted_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, README_EXAMPLE, "recommender.yaml")
    declarations = load_declarations([path])
    assert declarations.files == [path]
    [q] = declarations.questions
    assert q.key == "weekly-recommendations"
    assert q.name == "Recommendations pushed last week"
    assert q.collection_path == ("Health checks", "Recommender")
    assert q.database == "Warehouse"
    assert q.sql.startswith("SELECT date_trunc('week', pushed_at)")
    assert q.display == "bar"
    assert q.metric == "recommendations"
    assert q.goal is not None and q.goal.value == 2400 and q.goal.label == "Minimum per week"
    [alert] = q.alerts
    assert alert.when == "below_goal"
    assert alert.schedule == WeeklySchedule(every="week", on="monday", at="09:00")
    assert to_cron(alert.schedule) == "0 0 9 ? * MON *"
    assert alert.email == ["pm@example.com", "ds@example.com"]
    assert alert.slack == ["#ml-alerts"]
    assert alert.once is False and alert.groups == [] and alert.webhook == []


def test_defaults_and_yaml_12_scalars(tmp_path: Path) -> None:
    # `on` is a key, not YAML 1.1's True; unquoted 9:00 is a string, not sexagesimal 540.
    text = question("""\
        alerts:
          - when: has_rows
            schedule: {every: day, at: 9:05}
            groups: [Data team]
        """)
    [q] = load_text(text).questions
    assert q.display == "table" and q.goal is None and q.collection is None
    assert q.alerts[0].schedule == DailySchedule(every="day", at="09:05")


def test_goal_label_defaults_to_goal() -> None:
    [q] = load_text(question("display: line\ngoal: {value: 3}\n")).questions
    assert q.goal is not None and q.goal.label == "Goal" and q.goal.value == 3.0


def test_example_files_in_the_repository_load() -> None:
    root = Path(__file__).resolve().parents[2] / "alerts"
    declarations = load_declarations([root / "recommender.yaml", root / "pipelines.yaml"])
    keys = [q.key for q in declarations.questions]
    assert "weekly-recommendations" in keys and "failed-model-runs" in keys
    by_key = declarations.by_key()
    assert by_key["failed-model-runs"].alerts[0].groups == ["Data team"]
    assert any(a.webhook == ["pagerduty"] for q in declarations.questions for a in q.alerts)
    assert any(q.display == "progress" and q.goal for q in declarations.questions)


def test_tests_section_is_kept_raw_with_locations(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tests:
          - question: weekly-recommendations
            rows: [[1, 2]]
            anything: {goes: here}
        """,
    )
    declarations = load_declarations([path])
    assert declarations.questions == []
    assert declarations.test_files == [
        (
            path,
            [
                {
                    "question": "weekly-recommendations",
                    "rows": [[1, 2]],
                    "anything": {"goes": "here"},
                }
            ],
        )
    ]
    assert declarations.locate_in(path, "tests[0].anything").line == 4


def test_locate_fields_of_a_question(tmp_path: Path) -> None:
    path = write(tmp_path, README_EXAMPLE)
    declarations = load_declarations([path])
    assert declarations.locate("weekly-recommendations").line == 2
    assert declarations.locate("weekly-recommendations", "database").line == 6
    assert declarations.locate("weekly-recommendations", "alerts[0].email[1]").line == 19
    assert declarations.locate("weekly-recommendations", "alerts[0].schedule.at").line == 18
    # `once` is a default, not in the file: the nearest enclosing element.
    assert declarations.locate("weekly-recommendations", "alerts[0].once").line == 17
    assert declarations.locate("weekly-recommendations").file == path
    with pytest.raises(KeyError):
        declarations.locate("nope")


def test_paths_stay_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, question("name: [\n"), "alerts/team/a.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DeclarationError) as info:
        load_declarations(["alerts"])
    assert info.value.problems[0].file == "alerts/team/a.yaml"


def test_discover_recurses_sorted_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yml", "a/y.yaml", ".hidden/x.yaml", "notes.txt", "a/.x.yaml"):
        write(tmp_path, "questions: []\n", name)
    found = discover([tmp_path, tmp_path / "b.yaml"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/y.yaml",
        "a/z.yml",
        "b.yaml",
    ]


def test_discover_missing_and_empty_paths(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeclarationError) as info:
        discover([tmp_path / "missing", tmp_path / "empty"])
    messages = {p.file: p.message for p in info.value.problems}
    assert messages == {
        str(tmp_path / "missing"): "no such file or directory",
        str(tmp_path / "empty"): "no .yaml or .yml declaration files found",
    }


# --- file-level errors -----------------------------------------------------------------------


def test_yaml_syntax_error_has_the_line(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions:\n  - key: a\n    name: [x\n"))
    assert p.line == 4 and "invalid YAML" in p.message and p.file.endswith("checks.yaml")


def test_tab_indentation(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions:\n\t- key: a\n"))
    assert p.line == 2 and "tab" in p.message


def test_duplicate_key_in_a_mapping(tmp_path: Path) -> None:
    text = question("database: Other\n")
    p = only(problems_of(tmp_path, text))
    assert (p.line, p.field) == (6, "questions[0].database")
    assert "duplicate key 'database' (first at line 4)" in p.message


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    p = only(problems_of(tmp_path, text))
    assert p.message == "file is empty" and p.line is None


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "a string")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    p = only(problems_of(tmp_path, text))
    assert p.line == 1
    expected = f"must be a mapping with 'questions', 'dashboards' and/or 'tests', not {kind}"
    assert expected in p.message


def test_top_level_unknown_key_and_wrong_section_types(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "questions: 5\ntests: {}\nquestion: []\n")
    assert [(p.line, p.field) for p in problems] == [
        (1, "questions"),
        (2, "tests"),
        (3, "question"),
    ]
    assert problems[0].message == "expected a list, got an integer (5)"
    assert "did you mean 'questions'?" in problems[2].message


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"questions:\n  - key: caf\xe9\n")
    with pytest.raises(DeclarationError) as info:
        load_declarations([path])
    p = only(info.value.problems)
    assert p.line == 2 and "not valid UTF-8" in p.message and "0xe9" in p.message


def test_file_over_one_mib(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"questions: []\n" + b"#" * (1024 * 1024))
    with pytest.raises(DeclarationError) as info:
        load_declarations([path])
    assert "larger than 1 MiB" in only(info.value.problems).message


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = 'a: &a ["x", "x"]\nb: &b [*a, *a]\nc: &c [*b, *b]\nquestions: [*c]\n'
    p = only(problems_of(tmp_path, bomb))
    assert p.line == 1 and "anchor &a is not supported" in p.message


def test_alias_without_anchor_is_refused(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions: *nothing\n"))
    assert p.line == 1 and ("alias" in p.message or "anchor" in p.message)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions: " + "[" * 200 + "]" * 200 + "\n"))
    assert "nesting deeper than" in p.message


def test_python_tags_are_refused(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions: !!python/object/apply:os.system [echo hi]\n"))
    assert p.line == 1 and "!!python/object/apply:os.system is not supported" in p.message


# --- question errors -------------------------------------------------------------------------


def test_unknown_question_field_suggests(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, question("databse: W\n")))
    assert (p.line, p.field) == (6, "questions[0].databse")
    assert "unknown field 'databse'" in p.message and "did you mean 'database'?" in p.message
    assert p.message.startswith("question 'q': ")


def test_unknown_alert_field_suggests(tmp_path: Path) -> None:
    text = question("""\
        alerts:
          - when: has_rows
            schedul: {every: day, at: "09:00"}
            email: [a@example.com]
        """)
    problems = problems_of(tmp_path, text)
    by_field = {p.field: p for p in problems}
    unknown = by_field["questions[0].alerts[0].schedul"]
    assert unknown.line == 8
    assert "unknown field 'schedul' in an alert; did you mean 'schedule'?" in unknown.message
    missing = by_field["questions[0].alerts[0].schedule"]
    assert missing.line == 7 and "required field 'schedule' is missing" in missing.message


def test_missing_required_fields(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "questions:\n  - key: a\n    sql: x\n")
    assert {(p.line, p.field) for p in problems} == {
        (2, "questions[0].name"),
        (2, "questions[0].database"),
    }


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        ("display: tabel\n", 6, "questions[0].display", "did you mean 'table'?"),
        ("metric: 5\n", 6, "questions[0].metric", "expected a string, got an integer (5)"),
        ("goal: {value: lots}\n", 6, "questions[0].goal.value", "expected a number"),
        ("goal: {value: .nan}\n", 6, "questions[0].goal.value", "expected a finite number"),
        ("goal: {value: 1, lable: x}\n", 6, "questions[0].goal.lable", "did you mean 'label'?"),
        ("goal: 5\n", 6, "questions[0].goal", "expected a mapping, got an integer (5)"),
        ("collection: a//b\n", 6, "questions[0].collection", "empty segment"),
        ("collection: /a\n", 6, "questions[0].collection", "empty segment"),
        ("collection: 'a / b'\n", 6, "questions[0].collection", "surrounding spaces"),
        ("description: 3\n", 6, "questions[0].description", "expected a string"),
        ("alerts: {}\n", 6, "questions[0].alerts", "expected a list, got a mapping"),
    ],
)
def test_question_field_errors(
    tmp_path: Path, body: str, line: int, field: str, message: str
) -> None:
    p = only(problems_of(tmp_path, question(body)))
    assert (p.line, p.field) == (line, field)
    assert message in p.message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Weekly_Recs", "invalid key 'Weekly_Recs'"),
        ("a--b", "invalid key 'a--b'"),
        ("-a", "invalid key '-a'"),
        ("a" * 65, "longer than 64"),
    ],
)
def test_bad_keys(tmp_path: Path, key: str, message: str) -> None:
    p = only(problems_of(tmp_path, question("", key=key)))
    assert (p.line, p.field) == (2, "questions[0].key") and message in p.message


def test_blank_and_long_names(tmp_path: Path) -> None:
    text = (
        "questions:\n"
        "  - {key: a, name: '  ', database: W, sql: x}\n"
        f"  - {{key: b, name: {'n' * 255}, database: W, sql: ' '}}\n"
    )
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.field) for p in problems] == [
        (2, "questions[0].name"),
        (3, "questions[1].name"),
        (3, "questions[1].sql"),
    ]
    assert "blank" in problems[0].message and "254" in problems[1].message


def test_key_longer_than_64_is_the_only_key_problem(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, question("", key="a" * 64 + "b")))
    assert p.field == "questions[0].key"


def test_question_item_not_a_mapping(tmp_path: Path) -> None:
    p = only(problems_of(tmp_path, "questions:\n  - just a string\n"))
    assert (p.line, p.field) == (2, "questions[0]") and "expected a mapping" in p.message


# --- alert errors ----------------------------------------------------------------------------


def alert_problems(tmp_path: Path, alert: str, extra: str = "") -> list[Problem]:
    body = extra + "alerts:\n" + textwrap.indent(textwrap.dedent(alert), "  ")
    return problems_of(tmp_path, question(body))


def test_goal_condition_without_goal(tmp_path: Path) -> None:
    alert = """\
        - when: below_goal
          schedule: {every: day, at: "09:00"}
          email: [a@example.com]
        """
    p = only(alert_problems(tmp_path, alert, "display: line\n"))
    assert (p.line, p.field) == (8, "questions[0].alerts[0].when")
    assert "no goal" in p.message and p.message.startswith("question 'q': ")


def test_goal_condition_on_a_display_without_goal(tmp_path: Path) -> None:
    alert = """\
        - when: above_goal
          schedule: {every: day, at: "09:00"}
          email: [a@example.com]
        """
    p = only(alert_problems(tmp_path, alert, "display: pie\ngoal: {value: 1}\n"))
    assert (p.line, p.field) == (9, "questions[0].alerts[0].when")
    assert "display 'pie' has none" in p.message
    assert "line, bar, area or progress" in p.message


@pytest.mark.parametrize("display", ["line", "bar", "area", "progress"])
def test_goal_condition_on_goal_displays_is_fine(display: str) -> None:
    text = question(f"""\
        display: {display}
        goal: {{value: 1}}
        alerts:
          - when: above_goal
            schedule: {{every: day, at: "09:00"}}
            webhook: [pagerduty]
        """)
    assert load_text(text).questions[0].alerts[0].when == "above_goal"


def test_alert_without_recipient(tmp_path: Path) -> None:
    p = only(alert_problems(tmp_path, "- when: has_rows\n  schedule: {every: hour}\n"))
    assert (p.line, p.field) == (7, "questions[0].alerts[0]")
    assert "no recipient" in p.message


def test_bad_when(tmp_path: Path) -> None:
    problems = alert_problems(
        tmp_path, "- when: below\n  schedule: {every: hour}\n  webhook: [x]\n"
    )
    p = only(problems)
    assert (p.line, p.field) == (7, "questions[0].alerts[0].when")
    assert "expected one of below_goal, above_goal, has_rows; got 'below'" in p.message


@pytest.mark.parametrize("field", ["email", "groups", "slack", "webhook"])
def test_recipients_must_be_lists(tmp_path: Path, field: str) -> None:
    alert = f"- when: has_rows\n  schedule: {{every: hour}}\n  {field}: '#x@example.com'\n"
    p = only(alert_problems(tmp_path, alert))
    assert (p.line, p.field) == (9, f"questions[0].alerts[0].{field}")
    assert "expected a list, got a string" in p.message


@pytest.mark.parametrize(
    "address", ["pm@example", "pm", "@example.com", "pm@@example.com", "p m@example.com"]
)
def test_bad_email(tmp_path: Path, address: str) -> None:
    alert = (
        f"- when: has_rows\n  schedule: {{every: hour}}\n  email: [ok@example.com, '{address}']\n"
    )
    p = only(alert_problems(tmp_path, alert))
    assert (p.line, p.field) == (9, "questions[0].alerts[0].email[1]")
    assert f"invalid email address {address!r}" in p.message


@pytest.mark.parametrize("channel", ["ml-alerts", "#ML-alerts", "#", "#a b", "#" + "a" * 81])
def test_bad_slack_channel(tmp_path: Path, channel: str) -> None:
    alert = f"- when: has_rows\n  schedule: {{every: hour}}\n  slack: ['{channel}']\n"
    p = only(alert_problems(tmp_path, alert))
    assert (p.line, p.field) == (9, "questions[0].alerts[0].slack[0]")
    assert "invalid Slack channel" in p.message


@pytest.mark.parametrize("channel", ["#ml-alerts", "@ada", "#a.b_c-1", "#" + "a" * 80])
def test_good_slack_channels(channel: str) -> None:
    text = question(
        f"alerts:\n  - {{when: has_rows, schedule: {{every: hour}}, slack: ['{channel}']}}\n"
    )
    assert load_text(text).questions[0].alerts[0].slack == [channel]


def test_duplicate_recipient(tmp_path: Path) -> None:
    alert = "- when: has_rows\n  schedule: {every: hour}\n  email: [a@example.com, a@example.com]\n"
    p = only(alert_problems(tmp_path, alert))
    assert p.field == "questions[0].alerts[0].email[1]" and "listed twice" in p.message


def test_once_must_be_a_boolean(tmp_path: Path) -> None:
    alert = "- when: has_rows\n  schedule: {every: hour}\n  once: yes\n  webhook: [x]\n"
    p = only(alert_problems(tmp_path, alert))
    assert (p.line, p.field) == (9, "questions[0].alerts[0].once")
    assert "expected true or false" in p.message


# --- schedule errors -------------------------------------------------------------------------


def schedule_problem(tmp_path: Path, schedule: str) -> Problem:
    alert = f"- when: has_rows\n  webhook: [x]\n  schedule: {schedule}\n"
    p = only(alert_problems(tmp_path, alert))
    assert p.line == 9, p
    return p


@pytest.mark.parametrize(
    ("schedule", "field", "message"),
    [
        ('{every: day, at: "25:00"}', "at", "invalid time '25:00': the hour must be 00-23"),
        ('{every: day, at: "9:60"}', "at", "the minutes must be 00-59"),
        ('{every: day, at: "9h"}', "at", "expected HH:MM"),
        ("{every: day, at: 900}", "at", "expected a string"),
        ("{every: day}", "at", "required field 'at' is missing"),
        ('{every: week, at: "09:00"}', "on", "required field 'on' is missing"),
        ('{every: week, on: mondey, at: "09:00"}', "on", "did you mean 'monday'?"),
        ('{every: week, on: Monday, at: "09:00"}', "on", "did you mean 'monday'?"),
        ('{every: month, on: 32nd, at: "09:00"}', "on", "invalid day of the month '32nd'"),
        ('{every: month, on: 15rd, at: "09:00"}', "on", "invalid day of the month '15rd'"),
        ('{every: month, on: 15, at: "09:00"}', "on", "for example '15th'"),
        ("{every: hour, minute: 60}", "minute", "less than or equal to 59"),
        ('{every: hour, at: ":15"}', "at", "'at' does not apply to an hourly schedule"),
        ('{every: day, on: monday, at: "09:00"}', "on", "'on' does not apply to a daily"),
        ('{every: day, at: "09:00", tz: UTC}', "tz", "unknown field 'tz'"),
        ("{every: fortnight}", "every", "expected one of hour, day, week, month"),
        ("{every: weekly}", "every", "did you mean 'week'?"),
        ("{evry: day}", "evry", "did you mean 'every'?"),
        ("{at: '09:00'}", "", "missing 'every'"),
        ("{every: day, cron: '0 0 9 * * ?'}", "", "either 'every' or 'cron'"),
        ("daily", "", "expected a mapping"),
        ("{cron: '0 0 9 * * *'}", "cron", "'?' in exactly one"),
        ("{cron: '0 0 9 ? * *', at: '09:00'}", "at", "does not apply to a cron schedule"),
    ],
)
def test_schedule_errors(tmp_path: Path, schedule: str, field: str, message: str) -> None:
    p = schedule_problem(tmp_path, schedule)
    expected_field = "questions[0].alerts[0].schedule" + (f".{field}" if field else "")
    assert p.field == expected_field
    assert message in p.message


# --- several problems, several files ---------------------------------------------------------


def test_duplicate_keys_within_a_file(tmp_path: Path) -> None:
    text = "questions:\n" + VALID_QUESTION.format(key="a") + VALID_QUESTION.format(key="a")
    p = only(problems_of(tmp_path, text))
    assert (p.line, p.field) == (6, "questions[1].key")
    assert p.message == f"duplicate question key 'a': already declared at {p.file}:2"


def test_duplicate_keys_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, "questions:\n" + VALID_QUESTION.format(key="a"), "a.yaml")
    second = write(
        tmp_path,
        "questions:\n" + VALID_QUESTION.format(key="b") + VALID_QUESTION.format(key="a"),
        "b.yaml",
    )
    with pytest.raises(DeclarationError) as info:
        load_declarations([tmp_path])
    p = only(info.value.problems)
    assert (p.file, p.line) == (second, 6)
    assert f"already declared at {first}:2" in p.message


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "questions:\n  - key: a\n    name: [\n", "1-broken.yaml")
    write(tmp_path, "", "2-empty.yaml")
    write(
        tmp_path,
        question("""\
        display: tabel
        alerts:
          - when: below_goal
            schedule: {every: week, on: monday, at: "25:00"}
            email: [pm@example]
          - when: has_rows
            schedule: {every: hour}
        """),
        "3-bad.yaml",
    )
    with pytest.raises(DeclarationError) as info:
        load_declarations([tmp_path])
    got = [(Path(p.file).name, p.line, p.field) for p in info.value.problems]
    assert got == [
        ("1-broken.yaml", 4, ""),
        ("2-empty.yaml", None, ""),
        ("3-bad.yaml", 6, "questions[0].display"),
        ("3-bad.yaml", 9, "questions[0].alerts[0].schedule.at"),
        ("3-bad.yaml", 10, "questions[0].alerts[0].email[0]"),
        ("3-bad.yaml", 11, "questions[0].alerts[1]"),
    ]
    assert str(info.value).startswith("6 problems in the declarations:")


def test_semantic_checks_run_next_to_structural_errors(tmp_path: Path) -> None:
    text = (
        "questions:\n"
        "  - {key: a, name: A, database: W, sql: x, display: nope}\n"
        "  - {key: b, name: B, database: W, sql: x,\n"
        "     alerts: [{when: below_goal, schedule: {every: hour}, email: [a@example.com]}]}\n"
    )
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.field) for p in problems] == [
        (2, "questions[0].display"),
        (4, "questions[1].alerts[0].when"),
        (4, "questions[1].alerts[0].when"),
    ]


def test_load_text_uses_the_given_name() -> None:
    with pytest.raises(DeclarationError) as info:
        load_text("questions: 1\n", "inline.yaml")
    assert str(info.value.problems[0]) == (
        "inline.yaml:1: questions: expected a list, got an integer (1)"
    )
