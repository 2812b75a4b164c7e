"""Transpile a question's SQL to DuckDB and run it on an in-memory DuckDB.

One path for offline alert tests (``tables:`` in ``*.tests.yaml``) and the sandbox's
warehouse: :func:`to_duckdb` turns a parsed tree (:mod:`metabase_guard.sql.parse`) into DuckDB
SQL with sqlglot, with the clock frozen, and :class:`DuckDatabase` loads tables and runs it.

DuckDB has no settable clock, so ``now()``, ``current_timestamp``, ``current_date`` and their
dialect spellings are replaced in the tree by literals of the frozen time (an AST transform,
never string rewriting). Times are naive UTC, as a warehouse whose session time zone is UTC.
Result column names follow the source engine: unquoted identifiers are normalised the way the
engine folds them (Postgres lower-cases, Snowflake upper-cases), and on Postgres-family engines
an unaliased function call is named after the function (``count(*)`` → ``count``), as
Postgres's ``FigureColname`` does.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from metabase_guard.evaluation import QueryResult
from metabase_guard.sql.parse import NOW_FUNCTIONS, TODAY_FUNCTIONS, Parsed, parse

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DuckDatabase",
    "SqlError",
    "Table",
    "base_type",
    "infer_type",
    "plain",
    "to_duckdb",
]


class SqlError(Exception):
    """A query could not be transpiled or run; the message names the construct or error."""


@dataclass(frozen=True)
class Table:
    """A table to load: ``(name, SQL type)`` columns and rows of plain values.

    Types are DuckDB SQL types (:meth:`DuckDatabase.load` checks them).
    """

    columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[Any, ...], ...] = ()


_POSTGRES_NAMES = frozenset({"postgres", "redshift", ""})


def _freeze(now: datetime) -> Any:
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDatetime, exp.Localtimestamp,
                             exp.CurrentTimestampLTZ, exp.Systimestamp)) or (
            isinstance(node, exp.Anonymous) and str(node.this).lower() in NOW_FUNCTIONS
            and not node.expressions
        ):
            return exp.cast(exp.Literal.string(stamp), exp.DataType.Type.TIMESTAMP)
        if isinstance(node, exp.CurrentDate) or (
            isinstance(node, exp.Anonymous) and str(node.this).lower() in TODAY_FUNCTIONS
            and not node.expressions
        ):
            return exp.cast(exp.Literal.string(stamp[:10]), exp.DataType.Type.DATE)
        if isinstance(node, (exp.CurrentTime, exp.Localtime)):
            return exp.cast(exp.Literal.string(stamp[11:]), exp.DataType.Type.TIME)
        if isinstance(node, exp.Interval):
            return _interval(node)
        return node

    return replace


def _interval(node: exp.Interval) -> exp.Expr:
    """``INTERVAL '3' unit`` as the one string ``INTERVAL '3 unit'``, which DuckDB reads itself.

    sqlglot splits Postgres's ``interval '3 weeks'`` into a value and a unit and writes the unit
    as a bare word; DuckDB then takes a unit it does not know (``lightyears``, or Postgres's
    ``mons``) as a column alias and subtracts three *seconds*: a wrong answer, not an error. Its
    interval string parser knows Postgres's units and abbreviations and rejects the rest.
    """
    unit = node.args.get("unit")
    value = node.this
    if isinstance(unit, exp.Var) and isinstance(value, exp.Literal):
        return exp.Interval(this=exp.Literal.string(f"{value.this} {unit.name}"))
    if unit is not None and not isinstance(value, exp.Literal):
        # a computed amount keeps its unit; parentheses make DuckDB refuse an unknown one
        return exp.Paren(this=node)
    return node


def _function_name(node: exp.Expr, dialect: str) -> str:
    text = node.sql(dialect=dialect or None)
    head = text.split("(", 1)[0].strip().lower()
    return head if head.replace("_", "").isalnum() else "?column?"


def _postgres_names(select: exp.Select, dialect: str) -> None:
    """Alias unaliased computed columns as Postgres names them (``count(*)`` → ``count``)."""
    for n, item in enumerate(select.expressions):
        if isinstance(item, (exp.Alias, exp.Column, exp.Star)):
            continue
        name = _function_name(item, dialect) if isinstance(item, exp.Func) else "?column?"
        select.expressions[n] = exp.alias_(item, name, quoted=True)


def to_duckdb(parsed: Parsed, now: datetime) -> str:
    """The DuckDB SQL of a parsed question, with ``now`` frozen; SqlError names what fails."""
    if parsed.tree is None or parsed.dialect is None:
        raise SqlError(parsed.reason or "the SQL could not be read")
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc).replace(tzinfo=None)
    return _transpile(parsed.sql, parsed.dialect, now)


@functools.lru_cache(maxsize=4096)
def _transpile(sql: str, dialect: str, now: datetime) -> str:
    # Tests of one question at one frozen time share their DuckDB SQL.
    parsed = parse(sql, dialect)
    assert parsed.tree is not None
    tree = normalize_identifiers(parsed.tree.copy(), dialect=dialect or None)
    if isinstance(tree, exp.Select) and dialect in _POSTGRES_NAMES:
        _postgres_names(tree, dialect)
    tree = tree.transform(_freeze(now))
    try:
        return str(tree.sql(dialect="duckdb", identify=True,
                            unsupported_level=ErrorLevel.RAISE))
    except SqlglotError as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SqlError(f"cannot transpile to DuckDB: {message}") from None


# --------------------------------------------------------------------------- types


def infer_type(values: Sequence[Any]) -> str:
    """A DuckDB type for a column given only its values (VARCHAR when all are null)."""
    present = [v for v in values if v is not None]
    if not present:
        return "VARCHAR"
    if all(isinstance(v, bool) for v in present):
        return "BOOLEAN"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "BIGINT"
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in present):
        return "DOUBLE"
    if all(isinstance(v, datetime) for v in present):
        return "TIMESTAMP"
    if all(isinstance(v, date) for v in present):
        return "DATE"
    if all(isinstance(v, str) for v in present):
        if all(_is_date(v) for v in present):
            return "DATE"
        if all(_is_timestamp(v) for v in present):
            return "TIMESTAMP"
    return "VARCHAR"


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_BASE_TYPES = {
    "BOOLEAN": "type/Boolean", "TINYINT": "type/Integer", "SMALLINT": "type/Integer",
    "INTEGER": "type/Integer", "BIGINT": "type/BigInteger", "HUGEINT": "type/BigInteger",
    "UTINYINT": "type/Integer", "USMALLINT": "type/Integer", "UINTEGER": "type/Integer",
    "UBIGINT": "type/BigInteger", "FLOAT": "type/Float", "DOUBLE": "type/Float",
    "DATE": "type/Date", "TIMESTAMP": "type/DateTime", "TIMESTAMP WITH TIME ZONE":
    "type/DateTimeWithLocalTZ", "TIME": "type/Time", "VARCHAR": "type/Text",
    "INTERVAL": "type/*", "UUID": "type/UUID",
}  # fmt: skip


def base_type(duck_type: str) -> str:
    """Metabase's ``base_type`` for a DuckDB result type (``type/*`` when unknown)."""
    name = duck_type.upper()
    if name.startswith("DECIMAL"):
        return "type/Decimal"
    if name.startswith("TIMESTAMP") and "ZONE" not in name:
        return "type/DateTime"
    return _BASE_TYPES.get(name, "type/*")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return (schema or None), table


def _column_values(values: list[Any]) -> list[Any]:
    """Values DuckDB can bind as one list: mixed kinds become text (the cast converts them)."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1 or kinds <= {int, float}:
        return values
    return [None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
            for v in values]


class DuckDatabase:
    """One in-memory DuckDB (session time zone UTC); thread safe.

    Loads and :meth:`query_on` run on the connection behind one lock; :meth:`read` runs on a
    cursor of its own (a connection to the same database), so that reads overlap.
    """

    def __init__(self) -> None:
        # imported here: every command imports this module, few of them run SQL
        import duckdb

        self._error: type[Exception] = duckdb.Error
        self._lock = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection = duckdb.connect(":memory:")
        self._conn.execute("SET TimeZone = 'UTC'")
        self._idle: list[duckdb.DuckDBPyConnection] = []  # cursors for read(), under _lock

    def close(self) -> None:
        """Close the connection and its cursors."""
        with self._lock:
            for cursor in self._idle:
                cursor.close()
            self._idle.clear()
            self._conn.close()

    def __enter__(self) -> DuckDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self, tables: Mapping[str, Table]) -> None:
        for name, table in tables.items():
            schema, bare = _qualified(name)
            if schema:
                self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            target = (f"{_quote(schema)}." if schema else "") + _quote(bare)
            ddl = ", ".join(f"{_quote(c)} {t}" for c, t in table.columns)
            self._conn.execute(f"CREATE OR REPLACE TABLE {target} ({ddl})")
            if not table.rows:
                continue
            lists = [_column_values([row[i] for row in table.rows])
                     for i in range(len(table.columns))]
            select = ", ".join(f"CAST(unnest(${i + 1}) AS {t})"
                               for i, (_, t) in enumerate(table.columns))
            self._conn.execute(f"INSERT INTO {target} SELECT {select}", lists)

    def fill(self, sql: str, params: list[Any]) -> None:
        """Run one statement that fills a table from bound lists (no result)."""
        with self._lock:
            try:
                self._conn.execute(sql, params)
            except self._error as exc:
                raise SqlError(f"cannot load the tables: {_message(exc)}") from None

    def load(self, tables: Mapping[str, Table]) -> None:
        """Create and fill tables (replacing any of the same name); SqlError on bad data."""
        with self._lock:
            try:
                self._load(tables)
            except self._error as exc:
                raise SqlError(f"cannot load the tables: {_message(exc)}") from None

    def query(self, parsed: Parsed, now: datetime, max_rows: int = 2000) -> QueryResult:
        """Run a parsed question at the frozen time ``now``."""
        sql = to_duckdb(parsed, now)
        with self._lock:
            try:
                return _run_on(self._conn, sql, max_rows)
            except self._error as exc:
                raise SqlError(_message(exc)) from None

    def query_on(self, parsed: Parsed, tables: Mapping[str, Table], now: datetime,
                 max_rows: int = 2000) -> QueryResult:
        """Run a parsed question over ``tables`` only, in a transaction rolled back after."""
        sql = to_duckdb(parsed, now)
        with self._lock:
            self._conn.execute("BEGIN TRANSACTION")
            try:
                try:
                    self._load(tables)
                except self._error as exc:
                    raise SqlError(f"cannot load the tables: {_message(exc)}") from None
                try:
                    return _run_on(self._conn, sql, max_rows)
                except self._error as exc:
                    raise SqlError(_message(exc)) from None
            finally:
                self._conn.execute("ROLLBACK")

    def read(self, parsed: Parsed, now: datetime, max_rows: int = 2000, *,
             isolated: bool = True) -> QueryResult:
        """Run a parsed question over the loaded tables.

        The same answer as :meth:`query_on` with no tables, but on a cursor taken from a pool
        and without the lock: concurrent reads (the sandbox's card creates) run at once.
        ``isolated`` runs it in a transaction rolled back after (for a query that may have a
        side effect); without, it costs one DuckDB statement instead of three.
        """
        sql = to_duckdb(parsed, now)
        with self._lock:
            if self._idle:
                cursor = self._idle.pop()
            else:
                cursor = self._conn.cursor()
                cursor.execute("SET TimeZone = 'UTC'")  # a setting of each connection
        try:
            if isolated:
                cursor.execute("BEGIN TRANSACTION")
            try:
                return _run_on(cursor, sql, max_rows)
            except self._error as exc:
                raise SqlError(_message(exc)) from None
            finally:
                if isolated:
                    cursor.execute("ROLLBACK")
        finally:
            with self._lock:
                self._idle.append(cursor)

    def tables(self) -> list[str]:
        """Names of the tables, sorted."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()
        return sorted(str(r[0]) for r in rows)


def _run_on(conn: duckdb.DuckDBPyConnection, sql: str, max_rows: int) -> QueryResult:
    cursor = conn.execute(sql)
    description = cursor.description or []
    rows = [list(r) for r in cursor.fetchmany(max_rows)]
    columns = [str(d[0]) for d in description]
    types: list[str | None] = [base_type(str(d[1])) for d in description]
    return QueryResult(columns, rows, types)


def _message(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def plain(value: Any) -> Any:
    """A result cell as JSON-ready Python (ISO text for times, float for decimals)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
