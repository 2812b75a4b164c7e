"""What the lint rules read from a question's SQL: the shape of its top-level ``SELECT``.

Read from the sqlglot tree (:mod:`metabase_guard.sql.parse`): the select list (names, whether
each column is a number, text or a time, its aggregate, its time bucket), the WHERE, GROUP BY,
HAVING and LIMIT. Anything else (``UNION``, several statements, template tags, SQL sqlglot
cannot parse) gives no shape, and the rules say nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlglot import exp

from metabase_guard.sql.parse import NOW_FUNCTIONS, TODAY_FUNCTIONS, Parsed

__all__ = ["SelectItem", "SqlShape", "always_one_row", "format_unit", "periods", "shape_of"]

_NEVER_NULL = (exp.Count, exp.CountIf, exp.ApproxDistinct)
_NUMERIC = (exp.Count, exp.CountIf, exp.ApproxDistinct, exp.Sum, exp.Avg, exp.Stddev,
            exp.StddevPop, exp.StddevSamp, exp.Variance, exp.VariancePop, exp.Median,
            exp.PercentileCont)
_TRUNCS = (exp.TimestampTrunc, exp.DateTrunc, exp.DatetimeTrunc, exp.TimeTrunc)
_NOW = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentDatetime, exp.Localtimestamp)
_NOW_NAMES = NOW_FUNCTIONS | TODAY_FUNCTIONS
_UNIT_DAYS = {
    "second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0,
    "month": 30.0, "quarter": 91.0, "year": 365.0,
}
_SHORT_UNITS = {"mon": "month", "min": "minute", "sec": "second", "hr": "hour", "d": "day",
                "h": "hour", "w": "week", "y": "year"}
_INTERVAL_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|quarter|year|mon|min|sec|hr|d|h|w|y)"
    r"s?\b",
    re.IGNORECASE,
)
# strftime (SQLite, and sqlglot's normal form of to_char) and to_char (Postgres) spellings.
_FORMAT_UNITS = (("%M", "minute"), ("MI", "minute"), ("%H", "hour"), ("HH", "hour"),
                 ("%d", "day"), ("%j", "day"), ("DD", "day"), ("%W", "week"), ("%U", "week"),
                 ("%V", "week"), ("IW", "week"), ("WW", "week"), ("%m", "month"),
                 ("MM", "month"), ("%Y", "year"), ("YYYY", "year"))
UNBOUNDED = 10**6


@dataclass(frozen=True)
class SelectItem:
    """One column of the top-level select list.

    ``kind``: ``number``, ``text``, ``temporal`` or ``unknown``. ``aggregate``: the aggregate
    it is built on (``count``...), None for none. ``bucket``: ``(unit, column)`` when it is a
    time bucket such as ``date_trunc('week', pushed_at)``.
    """

    name: str
    node: exp.Expr
    kind: str = "unknown"
    aggregate: str | None = None
    never_null: bool = False
    bucket: tuple[str, str] | None = None


@dataclass(frozen=True)
class SqlShape:
    """The top-level ``SELECT``; ``items`` is None when the select list has ``*``."""

    items: tuple[SelectItem, ...] | None
    has_from: bool
    where: exp.Expr | None
    group_by: tuple[exp.Expr, ...]
    has_having: bool
    limit: int | None

    @property
    def columns(self) -> list[str] | None:
        """Result column names, when the select list is known."""
        return None if self.items is None else [i.name for i in self.items]


def _inside(node: exp.Expr, top: exp.Expr, kinds: tuple[type, ...]) -> bool:
    parent = node.parent
    while parent is not None and parent is not top:
        if isinstance(parent, kinds):
            return True
        parent = parent.parent
    return False


def _aggregates(node: exp.Expr) -> list[exp.AggFunc]:
    own = [node] if isinstance(node, exp.AggFunc) else []
    return own + [a for a in node.find_all(exp.AggFunc)
                  if a is not node and not _inside(a, node, (exp.Subquery, exp.Select,
                                                              exp.Window))]


def _agg_name(node: exp.Expr) -> str:
    return str(node.sql_name()).lower() if isinstance(node, exp.Func) else node.key


def _aggregate_of(node: exp.Expr) -> tuple[str | None, bool]:
    if isinstance(node, exp.Window):
        return None, False
    if isinstance(node, exp.AggFunc):
        return _agg_name(node), isinstance(node, _NEVER_NULL)
    if isinstance(node, exp.Coalesce):
        inner, _ = _aggregate_of(node.this)
        last = (node.expressions or [None])[-1]
        return inner, inner is not None and isinstance(last, exp.Literal)
    found = _aggregates(node)
    return (_agg_name(found[0]), False) if found else (None, False)


def _unit(node: exp.Expr) -> str | None:
    unit = node.args.get("unit")
    text = unit.name if isinstance(unit, (exp.Var, exp.Literal)) else None
    return text.lower() if text else None


def _column(node: exp.Expr | None) -> str | None:
    return node.name if isinstance(node, exp.Column) and node.name else None


def _bucket(node: exp.Expr) -> tuple[str, str] | None:
    """``(unit, column)`` when the expression is a time bucket of one column."""
    if isinstance(node, _TRUNCS):
        unit, column = _unit(node), _column(node.this)
        return (unit, column) if unit in _UNIT_DAYS and column else None
    if isinstance(node, (exp.Date, exp.TsOrDsToDate)) or (
        isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE)
    ):
        column = _column(node.this)
        return ("day", column) if column else None
    fmt: exp.Expr | None = None
    column = None
    if isinstance(node, exp.TimeToStr):
        fmt, column = node.args.get("format"), _column(node.this)
    elif isinstance(node, exp.Anonymous) and str(node.this).lower() in ("strftime",
                                                                         "format_date"):
        args = node.expressions
        column = next((_column(a) for a in args if _column(a)), None)
        fmt = next((a for a in args if isinstance(a, exp.Literal) and a.is_string), None)
    if column and isinstance(fmt, exp.Literal):
        unit = format_unit(fmt.this)
        return (unit, column) if unit else None
    return None


def format_unit(fmt: str) -> str | None:
    """The finest field of a strftime or to_char format: the time bucket it makes."""
    for needle, unit in _FORMAT_UNITS:
        if needle in fmt:
            return unit
    return None


def _literal_kind(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Neg):
        node = node.this
    if isinstance(node, exp.Literal):
        return "text" if node.is_string else "number"
    return None


def _has_now(node: exp.Expr) -> bool:
    return any(True for _ in node.find_all(*_NOW)) or any(
        str(a.this).lower() in _NOW_NAMES for a in node.find_all(exp.Anonymous))


def _item(node: exp.Expr, position: int, dialect: str) -> SelectItem:
    expr = node.this if isinstance(node, exp.Alias) else node
    if isinstance(node, exp.Alias):
        name = node.alias
    elif isinstance(expr, exp.Column):
        name = expr.name
    elif isinstance(expr, exp.Func):
        name = expr.sql(dialect=dialect or None).split("(", 1)[0].strip().lower()
    else:
        name = f"col{position}"
    aggregate, never_null = _aggregate_of(expr)
    bucket = _bucket(expr)
    literal = _literal_kind(expr)
    kind = "unknown"
    if literal is not None:
        kind = literal
    elif bucket is not None:
        kind = "text" if isinstance(expr, (exp.TimeToStr, exp.Anonymous)) else "temporal"
    elif aggregate is None and (_has_now(expr) or expr.find(*_TRUNCS, exp.Interval)):
        kind = "temporal"  # date_trunc('week', now()) - interval '7 days': a time
    elif isinstance(expr, _NUMERIC) or (
        isinstance(expr, exp.Coalesce) and isinstance(expr.this, _NUMERIC)
    ):
        kind = "number"
    return SelectItem(name, expr, kind, aggregate, never_null, bucket)


def shape_of(parsed: Parsed) -> SqlShape | None:
    """The shape of a parsed question's top-level ``SELECT``; None when it is not one."""
    select = parsed.select
    if select is None or parsed.dialect is None:
        return None
    items: tuple[SelectItem, ...] | None = tuple(
        _item(node, n, parsed.dialect) for n, node in enumerate(select.expressions, start=1))
    if any(isinstance(node, exp.Star) or (isinstance(node, exp.Column)
                                          and isinstance(node.this, exp.Star))
           for node in select.expressions):
        items = None
    limit: int | None = None
    clause = select.args.get("limit")
    if isinstance(clause, exp.Limit) and isinstance(clause.expression, exp.Literal):
        limit = int(float(clause.expression.this))
    elif isinstance(clause, exp.Fetch):
        count = clause.args.get("count")
        limit = int(float(count.this)) if isinstance(count, exp.Literal) else 1
    group = select.args.get("group")
    where = select.args.get("where")
    return SqlShape(
        items=items,
        has_from=select.args.get("from_") is not None or select.args.get("from") is not None,
        where=where.this if isinstance(where, exp.Where) else None,
        group_by=tuple(group.expressions) if group is not None else (),
        has_having=select.args.get("having") is not None,
        limit=limit,
    )


# --------------------------------------------------------------------------- periods


def _interval_days(node: exp.Expr) -> float | None:
    total: float | None = None
    for interval in node.find_all(exp.Interval):
        text = f"{interval.this.name if interval.this else ''} {_unit(interval) or ''}"
        for amount, unit in _INTERVAL_PART.findall(text):
            unit = _SHORT_UNITS.get(unit.lower(), unit.lower())
            total = (total or 0.0) + float(amount) * _UNIT_DAYS[unit]
    return total


def _fixed_date(node: exp.Expr) -> bool:
    return any(lit.is_string and not isinstance(lit.parent, exp.Interval)
               and lit.arg_key != "unit" for lit in node.find_all(exp.Literal))


def _named(node: exp.Expr, column: str) -> bool:
    return isinstance(node, exp.Column) and node.name.lower() == column.lower()


def _bounds(where: exp.Expr, column: str) -> tuple[list[exp.Expr], list[exp.Expr], bool]:
    lowers: list[exp.Expr] = []
    uppers: list[exp.Expr] = []
    equal = False
    for cmp in where.find_all(exp.GTE, exp.GT, exp.LT, exp.LTE, exp.EQ, exp.Between):
        if isinstance(cmp, exp.Between):
            if _named(cmp.this, column):
                lowers.append(cmp.args["low"])
                uppers.append(cmp.args["high"])
            continue
        left, right = cmp.this, cmp.expression
        if isinstance(cmp, exp.EQ):
            equal = equal or _named(left, column) or _named(right, column)
            continue
        low_side = isinstance(cmp, (exp.GTE, exp.GT))
        if _named(left, column):
            (lowers if low_side else uppers).append(right)
        elif _named(right, column):
            (uppers if low_side else lowers).append(left)
    return lowers, uppers, equal


def periods(shape: SqlShape) -> tuple[int | None, SelectItem | None]:
    """How many time periods the query returns at most, and the bucket column.

    ``(None, None)`` when it is not grouped by a recognisable time bucket; a count of None
    with a bucket when it cannot tell; :data:`UNBOUNDED` when there is no lower bound on the
    bucketed column or the bound is a fixed date.
    """
    if not shape.group_by or shape.items is None:
        return None, None
    bucket_item: SelectItem | None = None
    for group in shape.group_by:
        candidate: SelectItem | None = None
        if isinstance(group, exp.Literal) and not group.is_string:
            index = int(float(group.this)) - 1
            if 0 <= index < len(shape.items):
                candidate = shape.items[index]
        elif isinstance(group, exp.Column):
            candidate = next((it for it in shape.items
                              if it.name.lower() == group.name.lower()), None)
        else:
            found = _bucket(group)
            if found is not None:
                candidate = SelectItem(found[1], group, "temporal", None, False, found)
        if candidate is not None and candidate.bucket is not None:
            bucket_item = candidate
            break
    if bucket_item is None or bucket_item.bucket is None:
        return None, None
    if shape.limit is not None and shape.limit <= 1:
        return 1, bucket_item
    unit, column = bucket_item.bucket
    if shape.where is None:
        return UNBOUNDED, bucket_item
    for cmp in shape.where.find_all(exp.EQ):
        if bucket_item.bucket in (_bucket(cmp.this), _bucket(cmp.expression)):
            return 1, bucket_item
    lowers, uppers, equal = _bounds(shape.where, column)
    if equal:
        return 1, bucket_item
    if not lowers:
        return UNBOUNDED, bucket_item
    best: int | None = None
    for lower in lowers:
        count: int | None
        if _fixed_date(lower) and _interval_days(lower) is None:
            count = UNBOUNDED
        elif not _has_now(lower):
            count = None
        else:
            back = _interval_days(lower) or 0.0
            ahead = min((_interval_days(u) or 0.0 for u in uppers), default=0.0)
            span = max(0.0, back - ahead)
            truncs = {_unit(t) for t in lower.find_all(*_TRUNCS)}
            aligned = unit in truncs or (unit == "day" and lower.find(exp.CurrentDate)
                                         is not None)
            step = _UNIT_DAYS[unit]
            count = max(1, math.ceil(span / step - 1e-9)) if aligned else (
                math.ceil(span / step - 1e-9) + 1)
        if count is not None:
            best = count if best is None else min(best, count)
    return best, bucket_item


def always_one_row(shape: SqlShape) -> str | None:
    """Why the query always returns exactly one non-empty row, or None.

    An aggregate without GROUP BY and HAVING returns one row even over no input rows; so does a
    SELECT without FROM and WHERE. Metabase counts a result of exactly one null cell as empty
    (``is-card-empty?``), so a lone ``max(x)`` over no rows is still "no rows"; ``count(...)``
    and a several-column row are never that.
    """
    if shape.items is None or shape.group_by or shape.has_having or shape.limit == 0:
        return None
    if not shape.has_from:
        return None if shape.where is not None else "it has no FROM, so it returns one row"
    aggregates = [it for it in shape.items if it.aggregate is not None]
    if not aggregates or any(
        it.aggregate is None and it.kind not in ("number", "text") for it in shape.items
    ):
        return None  # a plain column beside an aggregate needs GROUP BY: not our case
    if len(shape.items) == 1 and not shape.items[0].never_null:
        return None
    named = ", ".join(f"{it.aggregate}()" for it in aggregates)
    return f"it aggregates ({named}) without GROUP BY or HAVING, so it returns one row even " \
           "when nothing matches"
