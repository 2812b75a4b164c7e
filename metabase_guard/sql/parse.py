"""Parse a question's SQL once, in its engine's dialect, with sqlglot.

:func:`parse` is memoised on ``(sql, dialect)``: lint, alert tests and the sandbox read the same
tree and never parse a text twice. The tree is shared, so callers that change it copy it first
(:func:`metabase_guard.sql.duck.to_duckdb` does).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from metabase_guard.sql.dialects import dialect_for

#: Dialect spellings of "now" that sqlglot leaves as plain function calls: the lint rules read
#: them as the current time, and offline tests freeze them (``today``: the current date).
NOW_FUNCTIONS = frozenset({"now", "getdate", "sysdate", "systimestamp", "localtimestamp",
                           "current_timestamp", "getutcdate", "sysdatetime"})
TODAY_FUNCTIONS = frozenset({"today"})


__all__ = ["Parsed", "parse", "parse_for_engine"]


@dataclass(frozen=True)
class Parsed:
    """One SQL text read in one dialect: its tree, or why there is none."""

    sql: str
    dialect: str | None
    tree: exp.Expr | None
    reason: str = ""

    @property
    def select(self) -> exp.Select | None:
        """The top-level query when it is one plain ``SELECT`` (with or without a ``WITH``)."""
        return self.tree if isinstance(self.tree, exp.Select) else None


def parse_for_engine(sql: str, engine: str | None) -> Parsed:
    """:func:`parse` in the dialect of a Metabase engine (None: the default engine)."""
    dialect, why = dialect_for(engine)
    if dialect is None:
        return Parsed(sql, None, None, why)
    return parse(sql, dialect)


@functools.lru_cache(maxsize=8192)
def parse(sql: str, dialect: str) -> Parsed:
    """Read ``sql`` as one statement of ``dialect``; the reason says why when it cannot."""
    if "{{" in sql or "[[" in sql:
        return Parsed(sql, dialect, None, "it has template tags ({{...}} or [[...]]), which "
                      "Metabase fills in at run time")
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect or None) if t is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        label = dialect or "ANSI"
        return Parsed(sql, dialect, None, f"sqlglot cannot parse it as {label} SQL: {first}")
    if len(trees) != 1:
        return Parsed(sql, dialect, None, f"it has {len(trees)} statements, not one")
    return Parsed(sql, dialect, trees[0])
