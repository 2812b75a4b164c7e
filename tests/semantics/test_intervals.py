"""Intervals reach DuckDB as Postgres meant them: an unknown unit is an error, not seconds."""

from __future__ import annotations

from datetime import datetime

import pytest

from metabase_guard.sql.duck import DuckDatabase, SqlError
from metabase_guard.sql.parse import parse

NOW = datetime(2026, 3, 15, 12, 0, 0)


def _value(sql: str) -> object:
    with DuckDatabase() as db:
        return db.query(parse(sql, "postgres"), NOW).rows[0][0]


@pytest.mark.parametrize(("sql", "expected"), [
    ("select now() - interval '3 weeks'", datetime(2026, 2, 22, 12, 0, 0)),
    ("select now() - interval '7' day", datetime(2026, 3, 8, 12, 0, 0)),
    # Postgres abbreviations DuckDB's unit keywords lack; as a bare word it took them for an alias
    ("select now() - interval '2 mons'", datetime(2026, 1, 15, 12, 0, 0)),
    ("select now() - interval '26 hrs'", datetime(2026, 3, 14, 10, 0, 0)),
    ("select now() - interval '1 day 2 hours'", datetime(2026, 3, 14, 10, 0, 0)),
    ("select now() - 2 * interval '1 day'", datetime(2026, 3, 13, 12, 0, 0)),
])
def test_interval_units_mean_what_postgres_means(sql: str, expected: datetime) -> None:
    assert _value(sql) == expected


def test_an_unknown_unit_is_an_error_naming_it() -> None:
    # before: DuckDB read `INTERVAL '3' LIGHTYEARS` as three seconds aliased "lightyears"
    with pytest.raises(SqlError, match=r"(?i)lightyears"):
        _value("select now() - interval '3 lightyears'")
