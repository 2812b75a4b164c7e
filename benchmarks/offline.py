"""validate and test of N questions, offline: the cost of reading SQL with sqlglot and DuckDB.

    python benchmarks/offline.py            # N = 1000
    python benchmarks/offline.py --n 200

Writes N questions (the weekly-count shape of alerts/recommender.yaml, each with its own SQL
text so nothing is served from the parse cache across questions) and, per question, one
table-based test over an empty table and one over three rows. Times ``engine.lint`` (validate)
and ``engine.run_tests`` (test) in process, after ``engine.load``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from metabase_guard import engine

QUESTION = """\
  - key: weekly-{n}
    name: Weekly count {n}
    database: Warehouse
    sql: |
      SELECT date_trunc('week', now()) - interval '7 days' AS week, count(*) AS c{n}
      FROM events_{n}
      WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
        AND pushed_at < date_trunc('week', now())
    display: bar
    metric: c{n}
    goal: {{value: 2}}
    alerts:
      - when: below_goal
        schedule: {{every: week, on: monday, at: "09:{minute:02d}"}}
        email: [pm@example.com]
"""
TESTS = """\
  - name: empty {n} fires
    question: weekly-{n}
    now: "2026-11-30T09:00:00"
    tables:
      events_{n}:
        columns: {{pushed_at: timestamp}}
        rows: []
    expect: fires
  - name: three pushes {n} stay quiet
    question: weekly-{n}
    now: "2026-11-30T09:00:00"
    tables:
      events_{n}:
        columns: [pushed_at]
        rows: [["2026-11-23 08:00:00"], ["2026-11-24 08:00:00"], ["2026-11-25 08:00:00"]]
    expect: quiet
"""


def main() -> int:
    """Write the files, time validate and test, print one line each."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "alerts"
        folder.mkdir()
        for start in range(0, n, 100):
            ids = range(start, min(n, start + 100))
            (folder / f"q{start}.yaml").write_text(
                "questions:\n" + "".join(QUESTION.format(n=i, minute=i % 60) for i in ids))
            (folder / f"q{start}.tests.yaml").write_text(
                "tests:\n" + "".join(TESTS.format(n=i) for i in ids))
        started = time.perf_counter()
        decls = engine.load([folder])
        loaded = time.perf_counter()
        findings = engine.lint(decls)
        linted = time.perf_counter()
        report = engine.run_tests(decls)
        tested = time.perf_counter()
    print(f"N = {n}: load {loaded - started:.2f} s, validate (lint) {linted - loaded:.2f} s "
          f"({len(findings)} findings), test {tested - linted:.2f} s ({report.summary})")
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
