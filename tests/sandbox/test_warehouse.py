from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from metabase_guard.evaluation import evaluate
from metabase_guard.sandbox import warehouse as warehouse_module
from metabase_guard.sandbox.seed import DEFAULT_TABLE_NAMES
from metabase_guard.sandbox.warehouse import SqlError, Warehouse, default_tables, default_warehouse
from metabase_guard.sql.duck import infer_type

README_QUERY = """SELECT date_trunc('week', pushed_at) AS week, count(*) AS recommendations
FROM recommendations
WHERE pushed_at >= date_trunc('week', now()) - interval '7 days'
  AND pushed_at < date_trunc('week', now())
GROUP BY 1"""

TODAY = date(2026, 11, 26)  # a Thursday; last week starts Monday 2026-11-16
NOW = datetime(2026, 11, 26, 9, 30, 0)


@pytest.fixture(scope="module")
def tables() -> dict[str, dict[str, Any]]:
    return default_tables(TODAY)


@pytest.fixture(scope="module")
def warehouse(tables: dict[str, dict[str, Any]]) -> Warehouse:
    return Warehouse(tables, clock=lambda: NOW)


def small(clock: datetime = NOW) -> Warehouse:
    return Warehouse(
        {
            "events": {
                "columns": ["id", "at", "note"],
                "rows": [
                    [1, "2026-11-23 08:00:00", "now() - interval '7 days'"],
                    [2, "2026-11-25 23:59:59", "it's"],
                    [3, "2026-11-26 00:00:00", None],
                ],
            }
        },
        clock=lambda: clock,
    )


def weekly_counts(tables: dict[str, dict[str, Any]]) -> Counter[date]:
    counts: Counter[date] = Counter()
    for row in tables["recommendations"]["rows"]:
        day = date.fromisoformat(row[1][:10])
        counts[day - timedelta(days=day.weekday())] += 1
    return counts


# --------------------------------------------------------------------------- sample data


def test_readme_query_returns_last_week_below_goal(
    warehouse: Warehouse, tables: dict[str, dict[str, Any]]
) -> None:
    result = warehouse.run(README_QUERY)
    assert result.columns == ["week", "recommendations"]
    assert result.rows == [["2026-11-16T00:00:00", weekly_counts(tables)[date(2026, 11, 16)]]]
    assert 2300 <= result.rows[0][1] < 2400
    assert result.base_types == ["type/DateTime", "type/BigInteger"]
    verdict = evaluate("line", {"graph.goal_value": 2400}, "goal_below", result)
    assert verdict.sends


def test_default_tables_shape(tables: dict[str, dict[str, Any]]) -> None:
    counts = weekly_counts(tables)
    assert len(counts) == 52
    assert max(counts) == date(2026, 11, 16)
    assert min(counts) == date(2026, 11, 16) - timedelta(weeks=51)
    assert all(2300 <= n <= 3200 for n in counts.values())
    assert 2 <= sum(n < 2400 for n in counts.values()) < 52
    assert len(tables["recommendations"]["rows"]) < 150_000
    runs = tables["model_runs"]["rows"]
    assert any(r[1] == "failed" for r in runs[:-1])
    assert runs[-1][1] == "failed"
    assert runs[-1][0].startswith("2026-11-25")


def test_default_tables_deterministic(tables: dict[str, dict[str, Any]]) -> None:
    first = default_tables(TODAY)
    assert first == tables
    assert (
        weekly_counts(default_tables(TODAY + timedelta(weeks=1)))[date(2026, 11, 23)]
        == (weekly_counts(first)[date(2026, 11, 16)])
    )


def test_the_fast_draws_are_randranges_draws() -> None:
    import random

    fast, slow = random.Random(7), random.Random(7)
    below = warehouse_module._below(fast)
    for n in (1, 2, 3, 20000, 7 * 86400, 2**31 + 1) * 50:
        assert below(n) == slow.randrange(n)


def test_the_default_warehouse_filled_in_sql_holds_the_rows_of_default_tables(
    tables: dict[str, dict[str, Any]], warehouse: Warehouse,
) -> None:
    # what every sandbox process queries against what the tests above read as rows: same
    # rows in the same order, same column types
    fast = default_warehouse(TODAY, clock=lambda: NOW)
    slow = warehouse  # Warehouse(tables), inserted row by row
    assert sorted(tables) == sorted(fast.tables()) == list(DEFAULT_TABLE_NAMES)
    for name in DEFAULT_TABLE_NAMES:
        got = fast.run(f"SELECT * FROM {name}", max_rows=200_000)
        want = slow.run(f"SELECT * FROM {name}", max_rows=200_000)
        assert (got.columns, got.base_types) == (want.columns, want.base_types)
        assert got.rows == want.rows
        assert len(got.rows) == len(tables[name]["rows"])
    assert fast.run(README_QUERY).rows == slow.run(README_QUERY).rows


def test_the_declared_recommendation_types_are_the_inferred_ones(
    tables: dict[str, dict[str, Any]],
) -> None:
    spec = tables["recommendations"]
    inferred = {c: infer_type([r[i] for r in spec["rows"]]) for i, c in enumerate(spec["columns"])}
    assert inferred == warehouse_module._RECOMMENDATION_TYPES


def test_clock_moves_now() -> None:
    # the warehouse filled in SQL: the same rows as Warehouse(tables) (the test above), built
    # in 0.1 s instead of 1.5 s
    later = default_warehouse(TODAY, clock=lambda: NOW + timedelta(weeks=1))
    result = later.run(README_QUERY)
    assert result.rows == []
    earlier = default_warehouse(TODAY, clock=lambda: NOW - timedelta(weeks=1))
    assert earlier.run(README_QUERY).rows[0][0] == "2026-11-09T00:00:00"


def test_clock_is_read_per_run() -> None:
    moments = [NOW, NOW + timedelta(days=10)]
    wh = Warehouse({}, clock=lambda: moments[0])
    assert wh.run("SELECT now()").rows == [["2026-11-26T09:30:00"]]
    moments[0] = moments[1]
    assert wh.run("SELECT now()").rows == [["2026-12-06T09:30:00"]]


# ------------------------------------------------------------- transpiled to DuckDB


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("date_trunc('week', timestamp '2026-11-26 09:30:00')", "2026-11-23T00:00:00"),
        ("date_trunc('week', '2026-11-22 23:59:59'::timestamp)", "2026-11-16T00:00:00"),
        ("date_trunc('month', date '2026-11-26')", "2026-11-01T00:00:00"),
        ("now()", "2026-11-26T09:30:00"),
        ("current_date", "2026-11-26"),
        ("CURRENT_TIMESTAMP", "2026-11-26T09:30:00"),
        ("now() - interval '7 days'", "2026-11-19T09:30:00"),
        ("now() - interval '1 day 2 hours'", "2026-11-25T07:30:00"),
        ("now() - interval '2 weeks' + interval '30 minutes'", "2026-11-12T10:00:00"),
        ("timestamp '2026-03-31' - interval '1 month'", "2026-02-28T00:00:00"),
        ("current_date - interval '1 year'", "2025-11-26T00:00:00"),
        ("(now() - interval '1 day')::date", "2026-11-25"),
        ("'42'::int + 1", 43),
    ],
)
# PostgreSQL, the engine the demo database declares (metabase/metabase
# src/metabase/driver/postgres.clj): date_trunc, intervals and casts as documented in
# https://www.postgresql.org/docs/current/functions-datetime.html
def test_postgres_sql_runs_at_the_frozen_clock(expr: str, expected: object) -> None:
    assert small().run(f"SELECT {expr} AS v").rows == [[expected]]


def test_current_date_compares_like_postgres() -> None:
    wh = small()
    assert wh.run("SELECT id FROM events WHERE at >= current_date").rows == [[3]]
    assert wh.run("SELECT id FROM events WHERE at < current_date ORDER BY id").rows == [[1], [2]]


def test_string_literals_and_comments_untouched() -> None:
    sql = "SELECT 'now() - interval ''7 days''' AS a, \"note\" FROM events WHERE note = 'it''s'"
    assert small().run(sql).rows == [["now() - interval '7 days'", "it's"]]
    assert small().run("SELECT 1 AS one -- now() - interval '7 days'\n").rows == [[1]]


# https://www.postgresql.org/docs/current/sql-syntax-lexical.html: unquoted names fold to lower case
def test_result_names_follow_postgres() -> None:
    result = small().run('SELECT count(*), max(at) AS Latest, min(id) AS "MixedCase" FROM events')
    assert result.columns == ["count", "latest", "MixedCase"]


def test_max_rows_truncates() -> None:
    assert len(small().run("SELECT id FROM events", max_rows=2).rows) == 2


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM missing_table", "missing_table does not exist"),
        ("SELEC 1", "cannot parse"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("SELECT date_trunc('fortnight', now())", "FORTNIGHT"),
        ("SELECT 'unterminated", "cannot parse"),
        ("SELECT 1::money", "MONEY"),
        ("DELETE FROM events", "read-only"),
    ],
)
def test_sql_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        small().run(sql)


def test_data_survives_rejected_write() -> None:
    wh = small()
    with pytest.raises(SqlError):
        wh.run("DROP TABLE events")
    assert wh.run("SELECT count(*) FROM events").rows == [[3]]


def test_add_tables_replaces() -> None:
    wh = small()
    wh.add_tables({"events": {"columns": ["id"], "rows": [[7]]}})
    assert wh.run("SELECT id FROM events").rows == [[7]]
    assert wh.tables() == ["events"]


def test_column_types() -> None:
    types = small().run("SELECT id, at, note, date(at) AS d, 1.5 AS f, 2.5::float AS g "
                        "FROM events")
    assert types.base_types == ["type/BigInteger", "type/DateTime", "type/Text", "type/Date",
                                "type/Decimal", "type/Float"]
    assert small().column_types("SELECT id FROM events") == ["type/BigInteger"]


# ------------------------------------------------------------------------------- threading


def test_thread_safety(warehouse: Warehouse) -> None:
    expected = warehouse.run(README_QUERY).rows
    errors: list[BaseException] = []
    results: list[Any] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(warehouse.run(README_QUERY).rows)
                results.append(warehouse.run("SELECT count(*) FROM model_runs").rows)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 80
    assert all(r in (expected, [[90]]) for r in results)
    assert results.count(expected) == 40


def test_a_query_with_a_side_effect_leaves_the_warehouse_as_it_was() -> None:
    from metabase_guard.sandbox.warehouse import Warehouse

    warehouse = Warehouse({"t": {"columns": {"a": "integer"}, "rows": [[1]]}})
    before = warehouse.tables()
    warehouse.run("SELECT a INTO t2 FROM t")
    assert warehouse.tables() == before
    # the INTO may sit under a CTE: still found, still rolled back
    warehouse.run("WITH x AS (SELECT a FROM t) SELECT a INTO t3 FROM x")
    assert warehouse.tables() == before


def test_reads_on_their_own_cursors_keep_the_session_time_zone() -> None:
    # the time zone is a setting of each DuckDB connection: every cursor a read takes sets it
    warehouse = small()
    sql = "SELECT current_setting('TimeZone') AS tz, count(*) AS n FROM events"
    barrier = threading.Barrier(4)
    answers: list[Any] = []

    def read() -> None:
        barrier.wait(60)  # four readers at once: four cursors where the pool held none
        answers.append(warehouse.run(sql).rows)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [[["UTC", 3]]] * 4
    assert warehouse.run(sql).rows == [["UTC", 3]]  # a cursor back from the pool
    warehouse.run("SELECT id INTO copied FROM events")
    assert warehouse.tables() == ["events"]
