"""An embedded SQLite database standing in for one Metabase database (a Postgres warehouse).

Native questions are written in Postgres SQL. SQLite runs most plain ``SELECT`` statements as
they are; this module translates the small Postgres subset a health-check question usually
needs, and nothing else:

- ``date_trunc('<unit>', ts)`` for ``second``, ``minute``, ``hour``, ``day``, ``week`` (weeks
  start on Monday, as in Postgres), ``month``, ``quarter``, ``year``; it returns a timestamp
  string ``'YYYY-MM-DD HH:MM:SS'``.
- ``now()``, ``current_timestamp`` (``'YYYY-MM-DD HH:MM:SS'``, from the injectable clock) and
  ``current_date`` (``'YYYY-MM-DD'``).
- ``<operand> + interval '<n> <unit>[ <n> <unit>...]'`` and ``-``, with units second, minute,
  hour, day, week, month (clamped to the month's last day, as Postgres does), year and their
  plurals/abbreviations. The operand is the primary just before the operator: a function call,
  a parenthesised expression, a column, a literal or an earlier interval sum. The result is a
  timestamp string.
- Casts ``<operand>::date`` / ``::timestamp`` / ``::timestamptz`` (to the string forms above),
  ``::text`` / ``::varchar``, ``::int`` / ``::integer`` / ``::bigint``, ``::numeric`` /
  ``::float`` / ``::real`` / ``::decimal`` / ``::double precision``; typed literals
  ``date '...'`` and ``timestamp '...'``; ``ilike`` (SQLite's ``like`` is case-insensitive
  for ASCII already).
- Result names follow Postgres: an unquoted ``AS Alias`` comes back lower-cased and an unaliased
  function call is named after the function (``count(*)`` → ``count``).

Timestamps are stored and compared as text ``'YYYY-MM-DD HH:MM:SS'``; a date ``'YYYY-MM-DD'``
sorts before every time of its day, so ``ts >= current_date`` and ``ts < current_date`` behave as
in Postgres. Times are naive (the session time zone is UTC). Nothing is rewritten inside string
literals, quoted identifiers or comments. Anything else is passed to SQLite unchanged, and its
error comes back as :class:`SqlError`. The database is read-only to queries
(``PRAGMA query_only``); :meth:`Warehouse.add_tables` loads data.
"""

# "As in Postgres" below means PostgreSQL's documented behaviour, the engine the demo database
# declares (engine "postgres", metabase/metabase src/metabase/driver/postgres.clj):
# date_trunc and interval arithmetic: https://www.postgresql.org/docs/current/functions-datetime.html
# identifier folding: https://www.postgresql.org/docs/current/sql-syntax-lexical.html
from __future__ import annotations

import calendar
import random
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from metabase_guard.evaluation import QueryResult

__all__ = ["SqlError", "Warehouse", "default_tables", "translate"]


class SqlError(Exception):
    """A query failed: bad SQL, an unsupported construct, or an error raised by the database."""


_TS_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$"
)

_UNITS = {
    "s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
    "m": "minute", "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "d": "day", "day": "day", "days": "day",
    "w": "week", "week": "week", "weeks": "week",
    "mon": "month", "mons": "month", "month": "month", "months": "month",
    "y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year",
}  # fmt: skip

_CASTS = {
    "date": "date", "timestamp": "timestamp", "timestamptz": "timestamp",
    "text": "TEXT", "varchar": "TEXT",
    "int": "INTEGER", "int4": "INTEGER", "int8": "INTEGER", "integer": "INTEGER",
    "bigint": "INTEGER", "smallint": "INTEGER",
    "numeric": "REAL", "decimal": "REAL", "float": "REAL", "float8": "REAL", "real": "REAL",
    "double": "REAL",
}  # fmt: skip


# Words that may stand before a parenthesised operand without being a function name.
_KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "exists", "select", "where", "on", "when", "then", "else",
        "between", "like", "ilike", "is", "as", "from", "join", "by", "having", "case", "all",
        "any", "some", "distinct", "return", "using", "values", "set", "limit", "offset",
    }
)  # fmt: skip


# ---------------------------------------------------------------------------- date functions


def _parse_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a date or timestamp: {value!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _format_ts(value: datetime) -> str:
    return value.strftime(_TS_FORMAT)


def _date_trunc(unit: Any, value: Any) -> str | None:
    ts = _parse_ts(value)
    if ts is None:
        return None
    unit = str(unit).lower()
    if unit == "second":
        out = ts.replace(microsecond=0)
    elif unit == "minute":
        out = ts.replace(second=0, microsecond=0)
    elif unit == "hour":
        out = ts.replace(minute=0, second=0, microsecond=0)
    elif unit in ("day", "week", "month", "quarter", "year"):
        day = datetime(ts.year, ts.month, ts.day)
        if unit == "day":
            out = day
        elif unit == "week":
            out = day - timedelta(days=day.weekday())
        elif unit == "month":
            out = day.replace(day=1)
        elif unit == "quarter":
            out = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        else:
            out = day.replace(month=1, day=1)
    else:
        raise ValueError(f"date_trunc unit {unit!r} is not supported")
    return _format_ts(out)


def _add_months(ts: datetime, months: int) -> datetime:
    index = ts.year * 12 + ts.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return ts.replace(year=year, month=month + 1, day=min(ts.day, last))


def _add_interval(value: Any, amount: Any, unit: Any) -> str | None:
    ts = _parse_ts(value)
    if ts is None:
        return None
    n = int(amount)
    unit = str(unit)
    if unit == "month":
        return _format_ts(_add_months(ts, n))
    if unit == "year":
        return _format_ts(_add_months(ts, 12 * n))
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}[unit]
    return _format_ts(ts + timedelta(seconds=n * seconds))


def _cast(value: Any, kind: Any) -> str | None:
    ts = _parse_ts(value)
    if ts is None:
        return None
    return ts.strftime("%Y-%m-%d") if kind == "date" else _format_ts(ts)


# ------------------------------------------------------------------------------- translation

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<str>'(?:[^']|'')*')
    | (?P<qident>"(?:[^"]|"")*")
    | (?P<cast>::)
    | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<op>[(),.;+\-*/%<>=!|]+?)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class _Tok:
    kind: str  # ws, comment, str, qident, cast, num, word, op, other, expr
    text: str


def _tokenize(sql: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN_RE.match(sql, pos)
        if match is None or match.end() == pos:
            raise SqlError(f"unterminated string, identifier or comment at offset {pos}")
        kind = match.lastgroup or "other"
        tokens.append(_Tok(kind, match.group()))
        pos = match.end()
    return tokens


def _prev(tokens: list[_Tok], i: int) -> int | None:
    j = i - 1
    while j >= 0 and tokens[j].kind in ("ws", "comment"):
        j -= 1
    return j if j >= 0 else None


def _next(tokens: list[_Tok], i: int) -> int | None:
    j = i + 1
    while j < len(tokens) and tokens[j].kind in ("ws", "comment"):
        j += 1
    return j if j < len(tokens) else None


def _primary_start(tokens: list[_Tok], end: int) -> int:
    """Index of the first token of the primary expression that ends at ``end``."""
    tok = tokens[end]
    if tok.text == ")":
        depth = 0
        j = end
        while j >= 0:
            if tokens[j].text == ")":
                depth += 1
            elif tokens[j].text == "(":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        if j < 0:
            raise SqlError("unbalanced parentheses")
        before = _prev(tokens, j)
        if before is not None and (
            tokens[before].kind == "qident"
            or (tokens[before].kind == "word" and tokens[before].text.lower() not in _KEYWORDS)
        ):
            return before
        return j
    if tok.kind in ("word", "qident", "num", "str", "expr"):
        start = end
        # a.b, "s"."t".c
        while True:
            dot = _prev(tokens, start)
            if dot is None or tokens[dot].text != ".":
                return start
            owner = _prev(tokens, dot)
            if owner is None or tokens[owner].kind not in ("word", "qident"):
                return start
            start = owner
    raise SqlError(f"cannot find the operand before {tok.text!r}")


def _render(tokens: Sequence[_Tok]) -> str:
    return "".join(t.text for t in tokens)


def _interval_parts(literal: str) -> list[tuple[int, str]]:
    body = literal[1:-1].replace("''", "'").strip().lower()
    words = body.replace(",", " ").split()
    parts: list[tuple[int, str]] = []
    i = 0
    while i < len(words):
        match = re.fullmatch(r"([+-]?\d+)([a-z]*)", words[i])
        if match is None:
            raise SqlError(f"unsupported interval literal {literal}")
        unit_text = match.group(2)
        if not unit_text:
            i += 1
            if i >= len(words):
                raise SqlError(f"interval literal {literal} has a number without a unit")
            unit_text = words[i]
        if unit_text not in _UNITS:
            raise SqlError(f"unsupported interval unit {unit_text!r} in {literal}")
        parts.append((int(match.group(1)), _UNITS[unit_text]))
        i += 1
    if not parts:
        raise SqlError(f"empty interval literal {literal}")
    return parts


def _rewrite_interval(tokens: list[_Tok], i: int) -> int:
    lit = _next(tokens, i)
    op = _prev(tokens, i)
    if lit is None or tokens[lit].kind != "str":
        raise SqlError("interval must be followed by a string literal such as '7 days'")
    if op is None or tokens[op].text not in ("+", "-"):
        raise SqlError("interval is only supported as <expr> + interval '...' or - interval")
    end = _prev(tokens, op)
    if end is None:
        raise SqlError("interval has no operand before + or -")
    start = _primary_start(tokens, end)
    sign = -1 if tokens[op].text == "-" else 1
    expr = _render(tokens[start : end + 1])
    for amount, unit in _interval_parts(tokens[lit].text):
        expr = f"pg_add_interval({expr}, {sign * amount}, '{unit}')"
    tokens[start : lit + 1] = [_Tok("expr", expr)]
    return start


def _rewrite_cast(tokens: list[_Tok], i: int) -> int:
    type_at = _next(tokens, i)
    end = _prev(tokens, i)
    if type_at is None or tokens[type_at].kind != "word" or end is None:
        raise SqlError("a :: cast needs an operand and a type name")
    type_name = tokens[type_at].text.lower()
    last = type_at
    if type_name == "double":
        follow = _next(tokens, type_at)
        if follow is not None and tokens[follow].text.lower() == "precision":
            last = follow
    follow = _next(tokens, last)
    if follow is not None and tokens[follow].text == "(":  # varchar(20), numeric(10, 2)
        close = follow
        while close < len(tokens) and tokens[close].text != ")":
            close += 1
        last = close
    if type_name not in _CASTS:
        raise SqlError(f"unsupported cast ::{type_name}")
    start = _primary_start(tokens, end)
    operand = _render(tokens[start : end + 1])
    target = _CASTS[type_name]
    if target in ("date", "timestamp"):
        expr = f"pg_cast({operand}, '{target}')"
    else:
        expr = f"CAST({operand} AS {target})"
    tokens[start : last + 1] = [_Tok("expr", expr)]
    return start


def _rewrite_operators(tokens: list[_Tok]) -> list[_Tok]:
    # One left-to-right pass, so `(now() - interval '1 day')::date` and
    # `now()::date - interval '1 day'` both see their operand already rewritten.
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "cast":
            i = _rewrite_cast(tokens, i)
        elif tok.kind == "word" and tok.text.lower() == "interval":
            i = _rewrite_interval(tokens, i)
        i += 1
    return tokens


def _rewrite_words(tokens: list[_Tok]) -> list[_Tok]:
    out: list[_Tok] = []
    skip: set[int] = set()
    for i, tok in enumerate(tokens):
        if i in skip:
            continue
        if tok.kind != "word":
            out.append(tok)
            continue
        lower = tok.text.lower()
        before = _prev(tokens, i)
        after = _next(tokens, i)
        after_tok = tokens[after] if after is not None else None
        called = after_tok is not None and after_tok.text == "("
        if before is not None and tokens[before].text == ".":
            out.append(tok)
        elif lower == "current_date" and not called:
            out.append(_Tok("expr", "pg_current_date()"))
        elif lower in ("current_timestamp", "localtimestamp") and not called:
            out.append(_Tok("expr", "now()"))
        elif lower == "ilike":
            out.append(_Tok("word", "LIKE"))
        elif (
            lower in ("date", "timestamp", "timestamptz")
            and after is not None
            and after_tok is not None
            and after_tok.kind == "str"
        ):
            kind = "date" if lower == "date" else "timestamp"
            out.append(_Tok("expr", f"pg_cast({after_tok.text}, '{kind}')"))
            skip.update(range(i + 1, after + 1))
        elif before is not None and tokens[before].text.lower() == "as":
            # Postgres folds unquoted identifiers to lower case, aliases included.
            out.append(_Tok("word", lower))
        else:
            out.append(tok)
    return out


def translate(sql: str) -> str:
    """Translate the supported Postgres subset (module docstring) into SQLite SQL."""
    tokens = _tokenize(sql)
    # Words first, so `current_date - interval ...` sees the clock-backed expression.
    tokens = _rewrite_words(tokens)
    tokens = _rewrite_operators(tokens)
    return _render(tokens)


_CALL_NAME_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(.*\)\s*$", re.DOTALL)


def _result_name(name: str) -> str:
    # Postgres names an unaliased function call after the function: count(*) → "count".
    match = _CALL_NAME_RE.match(name)
    if match is not None:
        function = match.group(1).lower()
        return {"pg_add_interval": "?column?", "pg_cast": "?column?"}.get(function, function)
    return name


def _base_type(values: Sequence[Any]) -> str | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, int) for v in present):
        return "type/Integer"
    if all(isinstance(v, (int, float)) for v in present):
        return "type/Float"
    if all(isinstance(v, str) for v in present):
        if all(_DATE_RE.match(v) for v in present):
            return "type/Date"
        if all(_DATETIME_RE.match(v) for v in present):
            return "type/DateTime"
        return "type/Text"
    return "type/*"


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _format_ts(_parse_ts(value) or value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _declared_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) for v in present):
        return "INTEGER"
    if present and all(isinstance(v, (int, float)) for v in present):
        return "REAL"
    return "TEXT"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Warehouse:
    """One in-memory SQLite database standing in for a Metabase database.

    Thread safe: one connection (``check_same_thread=False``) behind one lock. ``tables`` maps
    a table name to ``{"columns": [...], "rows": [[...], ...]}``; column types are inferred from
    the values (dates and datetimes are stored as ISO text). ``clock`` supplies ``now()``
    (default: the current UTC time).
    """

    def __init__(
        self,
        tables: Mapping[str, Mapping[str, Any]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._function_error: Exception | None = None
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        for name, arity, function in (
            ("date_trunc", 2, _date_trunc),
            ("pg_add_interval", 3, _add_interval),
            ("pg_cast", 2, _cast),
            ("now", 0, self._now),
            ("pg_current_date", 0, self._current_date),
        ):
            # All deterministic, now() included: Postgres fixes now() for the whole transaction,
            # and it lets SQLite compute `date_trunc('week', now())` once instead of per row.
            self._conn.create_function(name, arity, self._guard(function), deterministic=True)
        self.add_tables(tables)

    def _guard(self, function: Callable[..., Any]) -> Callable[..., Any]:
        # sqlite3 reports any exception from a Python function as "user-defined function
        # raised exception"; keep ours so SqlError can carry the real message.
        def call(*args: Any) -> Any:
            try:
                return function(*args)
            except Exception as exc:
                self._function_error = exc
                raise

        return call

    def _now(self) -> str:
        now = _parse_ts(self._clock())
        assert now is not None
        return _format_ts(now)

    def _current_date(self) -> str:
        return self._now()[:10]

    def add_tables(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        """Create and fill tables (replacing any of the same name)."""
        with self._lock:
            self._conn.execute("PRAGMA query_only = OFF")
            try:
                for name, spec in tables.items():
                    columns = [str(c) for c in spec["columns"]]
                    rows = [[_sqlite_value(v) for v in row] for row in spec.get("rows", [])]
                    types = [_declared_type([r[i] for r in rows]) for i in range(len(columns))]
                    ddl = ", ".join(f"{_quote(c)} {t}" for c, t in zip(columns, types, strict=True))
                    self._conn.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
                    self._conn.execute(f"CREATE TABLE {_quote(name)} ({ddl})")
                    marks = ", ".join("?" * len(columns))
                    self._conn.executemany(f"INSERT INTO {_quote(name)} VALUES ({marks})", rows)
                self._conn.commit()
            except (sqlite3.Error, KeyError, TypeError) as exc:
                self._conn.rollback()
                raise SqlError(f"cannot load tables: {exc}") from exc
            finally:
                self._conn.execute("PRAGMA query_only = ON")

    def tables(self) -> list[str]:
        """Names of the tables, sorted."""
        with self._lock:
            cursor = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return sorted(str(row[0]) for row in cursor.fetchall())

    def run(self, sql: str, max_rows: int = 2000) -> QueryResult:
        """Run one Postgres-flavoured query; return at most ``max_rows`` rows.

        Raises :class:`SqlError` with the database's message when the query fails.
        """
        translated = translate(sql)
        with self._lock:
            self._function_error = None
            try:
                cursor = self._conn.execute(translated)
                rows = [list(row) for row in cursor.fetchmany(max_rows)]
                description = cursor.description or ()
                cursor.close()
            except (sqlite3.Error, ValueError, OverflowError) as exc:
                message = str(exc)
                if self._function_error is not None:
                    message = f"{message}: {self._function_error}"
                raise SqlError(message) from exc
        columns = [_result_name(str(d[0])) for d in description]
        base_types = [_base_type([row[i] for row in rows]) for i in range(len(columns))]
        return QueryResult(columns=columns, rows=rows, base_types=base_types)

    def column_types(self, sql: str) -> list[str | None]:
        """Metabase ``base_type`` guesses for a query's result columns (None when all null)."""
        result = self.run(sql)
        return list(result.base_types or [])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


# ----------------------------------------------------------------------------- sample data

_SEED = 20240601
_WEEKS = 52
_LOW_WEEKS = 6  # weeks under 2,400, last week included


def default_tables(today: date | None = None) -> dict[str, dict[str, Any]]:
    """Deterministic sample data for the demo warehouse.

    ``recommendations(id, pushed_at, model_version, user_id)``: one row per pushed
    recommendation over the 52 full weeks ending with last week (the week before ``today``'s),
    2,300 to 3,200 a week; a few weeks, last week among them, fall under 2,400.
    ``model_runs(run_at, status, duration_s)``: one nightly run a day for the 90 days before
    ``today``, some ``'failed'``, the most recent one included.
    """
    today = today or datetime.now(timezone.utc).date()
    rng = random.Random(_SEED)
    this_monday = today - timedelta(days=today.weekday())
    first_monday = this_monday - timedelta(weeks=_WEEKS)

    counts = [rng.randint(2450, 3200) for _ in range(_WEEKS)]
    for week in rng.sample(range(_WEEKS - 1), _LOW_WEEKS - 1):
        counts[week] = rng.randint(2300, 2399)
    counts[-1] = rng.randint(2300, 2399)

    rows: list[list[Any]] = []
    next_id = 1
    for week, count in enumerate(counts):
        start = first_monday + timedelta(weeks=week)
        version = "v12" if week < _WEEKS - 10 else "v13"
        days = [(start + timedelta(days=d)).isoformat() for d in range(7)]
        for offset in sorted(rng.randrange(7 * 86400) for _ in range(count)):
            day, rest = divmod(offset, 86400)
            hour, rest = divmod(rest, 3600)
            minute, second = divmod(rest, 60)
            stamp = f"{days[day]} {hour:02d}:{minute:02d}:{second:02d}"
            rows.append([next_id, stamp, version, rng.randrange(1, 20001)])
            next_id += 1

    runs: list[list[Any]] = []
    for back in range(90, 0, -1):
        run_day = today - timedelta(days=back)
        started = datetime(run_day.year, run_day.month, run_day.day, 2, rng.randrange(0, 15))
        failed = back == 1 or rng.random() < 0.08
        duration = round(rng.uniform(20, 120) if failed else rng.uniform(600, 1500), 1)
        runs.append([_format_ts(started), "failed" if failed else "success", duration])

    return {
        "recommendations": {
            "columns": ["id", "pushed_at", "model_version", "user_id"],
            "rows": rows,
        },
        "model_runs": {"columns": ["run_at", "status", "duration_s"], "rows": runs},
    }
