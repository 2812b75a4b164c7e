"""Offline alert tests: fixture rows in, Metabase's verdict out (``metabase-guard test``).

Like ``promtool test rules`` for Prometheus: files whose top-level key is ``tests`` sit beside
the declarations, and each test gives a declared question's alert a result and the expected
outcome::

    tests:
      - name: a quiet week fires the alert
        question: weekly-recommendations   # key of a declared question
        alert: 1                           # which of its alerts (1-based); needed when several
        columns: [week, recommendations]
        rows:
          - ["2026-11-16", 2100]
        expect: fires                      # fires | quiet

Instead of a result, a test may give tables; the question's SQL is then transpiled from its
engine's dialect to DuckDB with sqlglot and run over those tables, the clock frozen at ``now``::

    tests:
      - name: nothing pushed last week fires
        question: weekly-recommendations
        now: "2026-11-30T09:00:00"          # frozen clock for now()/current_date
        tables:
          recommendations:
            columns: {pushed_at: timestamp}  # name -> SQL type (required when rows is empty)
            rows: []                         # or [[...], ...]; columns may be a list of names
        expect: fires

The verdict comes from :mod:`metabase_guard.evaluation`, the same rules the sandbox and
``check`` use. A run on which Metabase itself would fail (a null before any crossing row, no
comparable column...) is reported as ``fails``: it passes neither ``fires`` nor ``quiet``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from metabase_guard.errors import DeclarationError, Problem
from metabase_guard.evaluation import QueryResult, Verdict, evaluate
from metabase_guard.lint import card_settings
from metabase_guard.reconcile.alerts import CONDITIONS
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.loader import describe_value as _kind
from metabase_guard.spec.models import Question, suggest
from metabase_guard.sql.duck import DuckDatabase, SqlError, Table, infer_type, plain
from metabase_guard.sql.parse import parse_for_engine

__all__ = [
    "EXPECTATIONS",
    "AlertTest",
    "TestOutcome",
    "TestReport",
    "junit_xml",
    "parse_tests",
    "render_report",
    "run_test",
    "run_tests",
]

#: Values of ``expect``.
EXPECTATIONS = ("fires", "quiet")
_FIELDS = ("name", "question", "alert", "columns", "rows", "tables", "now", "expect")
_REQUIRED = ("name", "question", "expect")
#: Rows of the SQL's result shown under a failing table-based test.
SHOWN_ROWS = 5


@dataclass(frozen=True)
class AlertTest:
    """One validated test: where it is, the question and alert (0-based), rows, expectation."""

    name: str
    file: str
    line: int | None
    question: Question
    alert_index: int
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    expect: str
    tables: Mapping[str, Table] | None = field(default=None, compare=False)
    """Tables to run the question's SQL on (None: ``columns``/``rows`` are the result)."""
    now: datetime | None = None


@dataclass(frozen=True)
class TestOutcome:
    """A test run: what Metabase would do (``fires``, ``quiet`` or ``fails``) and why."""

    __test__ = False  # not a pytest class

    test: AlertTest
    observed: str
    verdict: Verdict
    result: QueryResult | None = None
    """What the SQL returned (its first rows), for table-based tests."""
    result_rows: int = 0

    @property
    def passed(self) -> bool:
        """True when what Metabase would do is what the test expects."""
        return self.observed == self.test.expect

    @property
    def alert_label(self) -> str:
        """``weekly-recommendations alert 1 (below_goal)``."""
        q = self.test.question
        alert = q.alerts[self.test.alert_index]
        return f"alert {self.test.alert_index + 1} of {q.key} ({alert.when})"


@dataclass(frozen=True)
class TestReport:
    """Every outcome, in file order."""

    __test__ = False

    outcomes: tuple[TestOutcome, ...]

    @property
    def passed(self) -> int:
        """How many tests passed."""
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def failed(self) -> int:
        """How many tests failed."""
        return len(self.outcomes) - self.passed

    @property
    def summary(self) -> str:
        """``N passed, M failed``."""
        return f"{self.passed} passed, {self.failed} failed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "tests": [
                {
                    "name": o.test.name,
                    "file": o.test.file,
                    "line": o.test.line,
                    "question": o.test.question.key,
                    "alert": o.test.alert_index + 1,
                    "expect": o.test.expect,
                    "observed": o.observed,
                    "passed": o.passed,
                    "reason": o.verdict.reason,
                }
                for o in self.outcomes
            ],
        }


def _is_cell(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def parse_tests(decls: Declarations) -> list[AlertTest]:
    """Validate every ``tests`` section; DeclarationError lists each problem with file:line."""
    problems: list[Problem] = []
    tests: list[AlertTest] = []
    by_key = decls.by_key()
    names: dict[str, str] = {}
    for filename, section in decls.test_files:
        for index, item in enumerate(section):
            base = f"tests[{index}]"

            def problem(path: str, message: str, *, _base: str = base,
                        _file: str = filename) -> None:
                field = f"{_base}.{path}" if path else _base
                where = decls.locate_in(_file, field)
                problems.append(Problem(_file, where.line, field, message))

            found = _parse_one(item, filename, decls.locate_in(filename, base).line, by_key,
                               problem)
            if found is None:
                continue
            first = names.get(found.name)
            if first is not None:
                problem("name", f"duplicate test name {found.name!r} (first at {first})")
                continue
            names[found.name] = f"{filename}:{found.line}"
            tests.append(found)
    if problems:
        raise DeclarationError(problems)
    return tests


def _parse_one(item: Any, filename: str, line: int | None, by_key: dict[str, Question],
               problem: Any) -> AlertTest | None:
    if not isinstance(item, dict):
        problem("", f"a test must be a mapping with {', '.join(_REQUIRED)}; got {_kind(item)}")
        return None
    ok = True
    for key in item:
        if key not in _FIELDS:
            hint = suggest(key, _FIELDS) if isinstance(key, str) else ""
            problem(str(key), f"unknown field {key!r} in a test"
                    + (hint or f"; expected one of: {', '.join(_FIELDS)}"))
            ok = False
    for key in _REQUIRED:
        if key not in item:
            problem("", f"required field {key!r} is missing")
            ok = False
    name = item.get("name")
    if "name" in item and (not isinstance(name, str) or not name.strip()):
        problem("name", f"expected a non-blank string, got {_kind(name)}")
        ok = False
    expect = item.get("expect")
    if "expect" in item and expect not in EXPECTATIONS:
        hint = suggest(expect, EXPECTATIONS) if isinstance(expect, str) else ""
        problem("expect", f"expected one of fires, quiet; got {_kind(expect)}{hint}")
        ok = False
    question: Question | None = None
    key = item.get("question")
    if "question" in item:
        if not isinstance(key, str):
            problem("question", f"expected a question key, got {_kind(key)}")
            ok = False
        elif key not in by_key:
            hint = suggest(key, by_key) or (
                f"; declared: {', '.join(sorted(by_key))}" if by_key else "; none is declared")
            problem("question", f"no declared question with key {key!r}{hint}")
            ok = False
        else:
            question = by_key[key]
    alert_index = 0
    raw_alert = item.get("alert")
    if question is not None:
        count = len(question.alerts)
        if count == 0:
            problem("question", f"question {question.key!r} has no alerts to test")
            ok = False
        elif "alert" in item:
            if not isinstance(raw_alert, int) or isinstance(raw_alert, bool):
                problem("alert", f"expected an alert number from 1 to {count}, got "
                        f"{_kind(raw_alert)}")
                ok = False
            elif not 1 <= raw_alert <= count:
                problem("alert", f"alert {raw_alert} is out of range: question "
                        f"{question.key!r} has {count} alert(s), numbered from 1")
                ok = False
            else:
                alert_index = raw_alert - 1
        elif count > 1:
            problem("", f"question {question.key!r} has {count} alerts: say which with "
                    f"alert: 1..{count}")
            ok = False
    tables: dict[str, Table] | None = None
    now: datetime | None = None
    if "tables" in item:
        for both in ("columns", "rows"):
            if both in item:
                problem(both, "'tables' and 'columns'/'rows' are mutually exclusive: give the "
                        "tables the SQL reads, or the result it returns")
                ok = False
        tables = _parse_tables(item["tables"], problem)
        ok = ok and tables is not None
        raw_now = item.get("now")
        if "now" not in item:
            problem("", "required field 'now' is missing: table-based tests freeze the clock "
                    "(now: \"2026-11-30T09:00:00\")")
            ok = False
        else:
            now = _parse_now(raw_now, problem)
            ok = ok and now is not None
        if not ok or question is None:
            return None
        assert isinstance(name, str)
        return AlertTest(name=name, file=filename, line=line, question=question,
                         alert_index=alert_index, columns=(), rows=(), expect=str(expect),
                         tables=tables, now=now)
    if "now" in item:
        problem("now", "'now' only applies to a test with 'tables'")
        ok = False
    for key in ("columns", "rows"):
        if key not in item:
            problem("", f"required field {key!r} is missing (or give 'tables' to run the SQL)")
            ok = False
    columns = item.get("columns")
    if "columns" in item:
        if not isinstance(columns, list) or not columns:
            problem("columns", f"expected a non-empty list of column names, got "
                    f"{_kind(columns)}")
            ok = False
        else:
            seen: set[str] = set()
            for n, column in enumerate(columns):
                if not isinstance(column, str) or not column.strip():
                    problem(f"columns[{n}]", f"expected a column name, got {_kind(column)}")
                    ok = False
                elif column.casefold() in seen:
                    problem(f"columns[{n}]", f"column {column!r} is listed twice")
                    ok = False
                else:
                    seen.add(column.casefold())
    rows = item.get("rows")
    if "rows" in item:
        if not isinstance(rows, list):
            problem("rows", f"expected a list of rows (each a list of values), got "
                    f"{_kind(rows)}")
            ok = False
        else:
            width = len(columns) if isinstance(columns, list) else None
            for n, row in enumerate(rows):
                if not isinstance(row, list):
                    problem(f"rows[{n}]", f"expected a row (a list of values), got {_kind(row)}")
                    ok = False
                    continue
                if width is not None and len(row) != width:
                    problem(f"rows[{n}]", f"the row has {len(row)} value(s) but there are "
                            f"{width} column(s)")
                    ok = False
                for m, cell in enumerate(row):
                    if not _is_cell(cell):
                        problem(f"rows[{n}][{m}]", f"expected a plain value (number, string, "
                                f"true/false or null), got {_kind(cell)}")
                        ok = False
    if not ok or question is None:
        return None
    assert isinstance(name, str) and isinstance(columns, list) and isinstance(rows, list)
    return AlertTest(
        name=name,
        file=filename,
        line=line,
        question=question,
        alert_index=alert_index,
        columns=tuple(columns),
        rows=tuple(tuple(r) for r in rows),
        expect=str(expect),
    )


def _parse_now(raw: Any, problem: Any) -> datetime | None:
    if not isinstance(raw, str):
        problem("now", f"expected a time as text (\"2026-11-30T09:00:00\"), got {_kind(raw)}")
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        problem("now", f"{raw!r} is not an ISO time such as \"2026-11-30T09:00:00\"")
        return None


def _parse_tables(raw: Any, problem: Any) -> dict[str, Table] | None:
    if not isinstance(raw, dict) or not raw:
        problem("tables", f"expected a mapping of table name to {{columns, rows}}, got "
                f"{_kind(raw)}")
        return None
    out: dict[str, Table] = {}
    ok = True
    for name, spec in raw.items():
        base = f"tables.{name}"
        if not isinstance(spec, dict) or "columns" not in spec:
            problem(base, f"expected {{columns, rows}} for table {name!r}, got {_kind(spec)}")
            ok = False
            continue
        for key in spec:
            if key not in ("columns", "rows"):
                problem(f"{base}.{key}", f"unknown field {key!r} in a table; expected columns, "
                        "rows")
                ok = False
        rows = spec.get("rows", [])
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and all(_is_cell(c) for c in r) for r in rows
        ):
            problem(f"{base}.rows", "expected a list of rows, each a list of plain values")
            ok = False
            continue
        columns = spec["columns"]
        typed: list[tuple[str, str]] = []
        if isinstance(columns, dict) and columns:
            for column, sql_type in columns.items():
                if not isinstance(sql_type, str) or not sql_type.strip():
                    problem(f"{base}.columns.{column}", f"expected a SQL type, got "
                            f"{_kind(sql_type)}")
                    ok = False
                typed.append((str(column), str(sql_type)))
        elif isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns):
            if not rows:
                problem(f"{base}.columns", "with no rows the column types cannot be inferred: "
                        "give them, as columns: {name: type}")
                ok = False
                continue
            typed = [(c, infer_type([r[i] if i < len(r) else None for r in rows]))
                     for i, c in enumerate(columns)]
        else:
            problem(f"{base}.columns", f"expected a mapping of column name to SQL type or a "
                    f"list of names, got {_kind(columns)}")
            ok = False
            continue
        for n, row in enumerate(rows):
            if len(row) != len(typed):
                problem(f"{base}.rows[{n}]", f"the row has {len(row)} value(s) but there are "
                        f"{len(typed)} column(s)")
                ok = False
        out[str(name)] = Table(tuple(typed), tuple(tuple(r) for r in rows))
    return out if ok else None


def _shown(result: QueryResult) -> QueryResult:
    return QueryResult(list(result.columns),
                       [[plain(c) for c in row] for row in result.rows[:SHOWN_ROWS]],
                       result.base_types)


def run_test(test: AlertTest, engines: Mapping[str, str] | None = None,
             database: DuckDatabase | None = None) -> TestOutcome:
    """Evaluate one test with Metabase's rules (:func:`metabase_guard.evaluation.evaluate`).

    A table-based test first runs the question's SQL, read in the dialect of its database's
    engine (``engines``: database name → engine, default postgres), on DuckDB.
    """
    q = test.question
    alert = q.alerts[test.alert_index]
    result = QueryResult(list(test.columns), [list(r) for r in test.rows])
    ran: QueryResult | None = None
    if test.tables is not None and test.now is not None:
        parsed = parse_for_engine(q.sql, (engines or {}).get(q.database))
        own = database is None
        db = database or DuckDatabase()
        try:
            result = db.query_on(parsed, test.tables, test.now)
        except SqlError as exc:
            verdict = Verdict(False, False, f"the SQL could not run on DuckDB: {exc}", None,
                              None, None, error=True)
            return TestOutcome(test, "error", verdict)
        finally:
            if own:
                db.close()
        ran = _shown(result)
    verdict = evaluate(q.display, card_settings(q), CONDITIONS[alert.when], result)
    observed = "fires" if verdict.sends else ("fails" if verdict.error else "quiet")
    return TestOutcome(test, observed, verdict, ran, len(result.rows))


def run_tests(decls: Declarations, engines: Mapping[str, str] | None = None) -> TestReport:
    """Validate and run every test in the declarations (DeclarationError on a bad test file)."""
    tests = parse_tests(decls)
    with DuckDatabase() as database:
        return TestReport(tuple(run_test(t, engines, database) for t in tests))


_WOULD = {"fires": "fire", "quiet": "stay quiet", "fails": "fail the run (nothing is sent)",
          "error": "not get a result (test error)"}


def render_report(report: TestReport) -> str:
    """Text: one line per test, details under a failure, the summary line last."""
    out: list[str] = []
    for o in report.outcomes:
        t = o.test
        where = t.file if t.line is None else f"{t.file}:{t.line}"
        if o.passed:
            out.append(f"PASS  {t.name}")
            continue
        out.append(f"FAIL  {t.name}  ({where})")
        out.append(f"      alert:    {o.alert_label}")
        out.append(f"      expected: {t.expect}")
        out.append(f"      Metabase would {_WOULD[o.observed]}: {o.verdict.reason}")
        if o.result is not None:
            out.append(f"      the SQL returned {o.result_rows} row(s), columns "
                       f"{', '.join(o.result.columns) or '(none)'}:")
            out.extend(f"        {row}" for row in o.result.rows)
            if not o.result.rows:
                out.append("        (no row)")
    if not report.outcomes:
        out.append("No tests found (files with a top-level 'tests' list).")
    out.append(report.summary)
    return "\n".join(out) + "\n"


def junit_xml(report: TestReport, suite: str = "metabase-guard") -> str:
    """JUnit XML (one testsuite, one testcase per test) for CI test reports."""
    root = ET.Element("testsuites", tests=str(len(report.outcomes)),
                      failures=str(report.failed))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(report.outcomes)),
                         failures=str(report.failed), errors="0", skipped="0")
    for o in report.outcomes:
        case = ET.SubElement(node, "testcase", classname=o.test.file, name=o.test.name,
                             file=o.test.file, line=str(o.test.line or 0))
        if not o.passed:
            failure = ET.SubElement(
                case, "failure",
                message=f"expected {o.test.expect}, Metabase would {_WOULD[o.observed]}",
                type="AlertTestFailure",
            )
            failure.text = f"{o.alert_label}: {o.verdict.reason}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"
