"""An in-memory DuckDB standing in for one Metabase database (by default a Postgres warehouse).

Native questions are read by sqlglot in the database's dialect and transpiled to DuckDB, the
same path as the offline alert tests (:mod:`metabase_guard.sql.duck`); ``now()`` and
``current_date`` are frozen at the sandbox clock's time for each run. There is no SQL rewriting
of its own here. Result cells come back as JSON-ready values: timestamps as ISO text without
zone (``2026-11-16T00:00:00``, as Metabase serialises a ``timestamp without time zone``
column; metabase/metabase src/metabase/server/middleware/json.clj encodes java.time values
with their ISO ``toString``), decimals as numbers. Column types come from DuckDB's result
types mapped to Metabase ``base_type`` names.
"""

# "As in Postgres" below means PostgreSQL's documented behaviour, the engine the demo database
# declares (engine "postgres", metabase/metabase src/metabase/driver/postgres.clj):
# date_trunc and interval arithmetic: https://www.postgresql.org/docs/current/functions-datetime.html
# identifier folding: https://www.postgresql.org/docs/current/sql-syntax-lexical.html
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlglot import exp

from metabase_guard.evaluation import QueryResult
from metabase_guard.sql.duck import DuckDatabase, SqlError, Table, infer_type, plain
from metabase_guard.sql.parse import parse

__all__ = ["SqlError", "Warehouse", "default_tables", "default_warehouse"]

_TS_FORMAT = "%Y-%m-%d %H:%M:%S"


def _format_ts(value: datetime) -> str:
    return value.strftime(_TS_FORMAT)


def _table(spec: Mapping[str, Any]) -> Table:
    columns = spec["columns"]
    rows = [list(r) for r in spec.get("rows", [])]
    if isinstance(columns, Mapping):
        typed = tuple((str(c), str(t)) for c, t in columns.items())
    else:
        typed = tuple((str(c), infer_type([r[i] for r in rows])) for i, c in enumerate(columns))
    return Table(typed, tuple(tuple(r) for r in rows))


class Warehouse:
    """One in-memory DuckDB standing in for a Metabase database.

    ``tables`` maps a table name to ``{"columns": [...] or {name: type}, "rows": [[...]]}``;
    listed columns get types inferred from the values. ``clock`` supplies ``now()`` (default:
    the current UTC time); ``dialect`` is the sqlglot dialect questions are written in.
    """

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Any]],
        clock: Callable[[], datetime] | None = None,
        dialect: str = "postgres",
    ) -> None:
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._dialect = dialect
        self._db = DuckDatabase()
        self.add_tables(tables)

    def add_tables(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        """Create and fill tables (replacing any of the same name)."""
        try:
            loaded = {name: _table(spec) for name, spec in tables.items()}
        except (KeyError, TypeError, IndexError) as exc:
            raise SqlError(f"cannot load tables: {exc}") from None
        self._db.load(loaded)

    def tables(self) -> list[str]:
        """Names of the tables, sorted."""
        return self._db.tables()

    def run(self, sql: str, max_rows: int = 2000) -> QueryResult:
        """Run one query at the clock's time; at most ``max_rows`` rows; SqlError on failure."""
        parsed = parse(sql, self._dialect)
        if parsed.tree is not None and not isinstance(parsed.tree, exp.Query):
            raise SqlError("the warehouse is read-only: only queries run")
        # A query with a side effect (SELECT ... INTO, or a text sqlglot could not parse) runs
        # in a transaction rolled back after: it would otherwise change the one warehouse every
        # request of the sandbox shares. Any other query cannot, and skips the two statements
        # (0.8 of 2.9 ms per card create's metadata query). On a cursor of its own, so that
        # concurrent card creates run their metadata queries at once.
        isolated = parsed.tree is None or parsed.tree.find(exp.Into) is not None
        result = self._db.read(parsed, self._clock(), max_rows, isolated=isolated)
        rows = [[plain(c) for c in row] for row in result.rows]
        return QueryResult(result.columns, rows, result.base_types)

    def column_types(self, sql: str) -> list[str | None]:
        """Metabase ``base_type`` names of a query's result columns."""
        return list(self.run(sql, max_rows=0).base_types or [])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


# ----------------------------------------------------------------------------- sample data

_SEED = 20240601
_WEEKS = 52
_LOW_WEEKS = 6  # weeks under 2,400, last week included


_WEEK_SECONDS = 7 * 86400


def _below(rng: random.Random) -> Callable[[int], int]:
    """``rng.randrange(n)`` for ``n > 0``, drawing the same bits: CPython's ``_randbelow``.

    ``randrange`` checks its arguments on every call, which is half the time of the 290,000
    draws of :func:`default_tables`; ``tests/sandbox/test_warehouse.py`` checks the two agree.
    """
    getrandbits = rng.getrandbits

    def below(n: int) -> int:
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return r

    return below


def _times_of_day() -> list[str]:
    """``HH:MM:SS`` for every second of a day, by index."""
    return [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


@dataclass(frozen=True)
class _Sample:
    """The draws behind :func:`default_tables`, before any row is built."""

    first_monday: date
    seconds: list[int]  # of each recommendation since first_monday 00:00, ascending
    users: list[int]
    runs: list[list[Any]]


def _sample(today: date | None) -> _Sample:
    today = today or datetime.now(timezone.utc).date()
    rng = random.Random(_SEED)
    below = _below(rng)
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=_WEEKS)

    counts = [rng.randint(2450, 3200) for _ in range(_WEEKS)]
    for week in rng.sample(range(_WEEKS - 1), _LOW_WEEKS - 1):
        counts[week] = rng.randint(2300, 2399)
    counts[-1] = rng.randint(2300, 2399)

    seconds: list[int] = []
    users: list[int] = []
    for week, count in enumerate(counts):
        base = week * _WEEK_SECONDS
        offsets = sorted([below(_WEEK_SECONDS) for _ in range(count)])
        seconds += [base + offset for offset in offsets]
        users += [below(20000) + 1 for _ in range(count)]

    runs: list[list[Any]] = []
    for back in range(90, 0, -1):
        run_day = today - timedelta(days=back)
        started = datetime(run_day.year, run_day.month, run_day.day, 2, rng.randrange(0, 15))
        failed = back == 1 or rng.random() < 0.08
        duration = round(rng.uniform(20, 120) if failed else rng.uniform(600, 1500), 1)
        runs.append([_format_ts(started), "failed" if failed else "success", duration])
    return _Sample(first_monday, seconds, users, runs)


def _version(second: int) -> str:
    return "v12" if second < (_WEEKS - 10) * _WEEK_SECONDS else "v13"


_RUN_COLUMNS = ["run_at", "status", "duration_s"]
#: The types :func:`~metabase_guard.sql.duck.infer_type` gives the rows of default_tables
#: (``tests/sandbox/test_warehouse.py`` checks they agree).
_RECOMMENDATION_TYPES = {"id": "BIGINT", "pushed_at": "TIMESTAMP", "model_version": "VARCHAR",
                         "user_id": "BIGINT"}


def default_tables(today: date | None = None) -> dict[str, dict[str, Any]]:
    """Deterministic sample data for the demo warehouse.

    ``recommendations(id, pushed_at, model_version, user_id)``: one row per pushed
    recommendation over the 52 full weeks ending with last week (the week before ``today``'s),
    2,300 to 3,200 a week; a few weeks, last week among them, fall under 2,400.
    ``model_runs(run_at, status, duration_s)``: one nightly run a day for the 90 days before
    ``today``, some ``'failed'``, the most recent one included.
    """
    sample = _sample(today)
    clock = _times_of_day()
    days = [f"{(sample.first_monday + timedelta(days=d)).isoformat()} "
            for d in range(7 * _WEEKS)]
    pairs = zip(sample.seconds, sample.users, strict=True)
    rows = [[i, days[second // 86400] + clock[second % 86400], _version(second), user]
            for i, (second, user) in enumerate(pairs, start=1)]
    return {
        "recommendations": {"columns": list(_RECOMMENDATION_TYPES), "rows": rows},
        "model_runs": {"columns": list(_RUN_COLUMNS), "rows": sample.runs},
    }


def default_warehouse(today: date | None = None,
                      clock: Callable[[], datetime] | None = None) -> Warehouse:
    """A warehouse holding :func:`default_tables`, the recommendations filled by DuckDB.

    The same rows as ``Warehouse(default_tables(today))`` (``tests/sandbox/test_warehouse.py``
    compares them): every sandbox process builds this at its first query, the demo's
    included, and binding 145,000 rows of four Python values each cost DuckDB about 0.8 s of
    CPU where two lists of integers cost 0.1 s; the stamps, ids and versions are computed in
    SQL from them.
    """
    sample = _sample(today)
    warehouse = Warehouse(
        {"model_runs": {"columns": list(_RUN_COLUMNS), "rows": sample.runs},
         "recommendations": {"columns": dict(_RECOMMENDATION_TYPES), "rows": []}},
        clock=clock,
    )
    start = datetime(sample.first_monday.year, sample.first_monday.month,
                     sample.first_monday.day)
    warehouse._db.fill(
        "INSERT INTO recommendations SELECT id, $1 + to_seconds(s), "
        "CASE WHEN s < $2 THEN 'v12' ELSE 'v13' END, u "
        "FROM (SELECT unnest(range(1, len($3) + 1)) AS id, unnest($3) AS s, unnest($4) AS u)",
        [start, (_WEEKS - 10) * _WEEK_SECONDS, sample.seconds, sample.users],
    )
    return warehouse
