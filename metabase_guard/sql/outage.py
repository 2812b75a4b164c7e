"""Does a query return no row when the data it counts is absent? Read from the sqlglot tree.

Metabase skips a goal alert on an empty result and a ``has_rows`` alert on an empty result or a
result of one null cell (``metabase/metabase src/metabase/notification/payload/impl/card.clj``
``skip-reason``; ``src/metabase/notification/payload/execute.clj`` ``is-card-empty?``). A query
that goes empty on a total outage therefore keeps its alert quiet exactly when it matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

# the same reading of "aggregate of this level" and "never NULL" as the lint rules
from metabase_guard.sql.shape import _NEVER_NULL, _aggregates

__all__ = ["Outage", "empty_on_outage", "null_aggregate_filter"]


@dataclass(frozen=True)
class Outage:
    """Why the query returns no row on an outage, and the rewrite that always returns one."""

    why: str
    rewrite: str


def _is_spine(select: exp.Select) -> bool:
    """FROM a subquery without FROM (a one-row calendar), every join a LEFT join."""
    source = select.args.get("from_") or select.args.get("from")
    first = source.this if source is not None else None
    if not isinstance(first, exp.Subquery) or not isinstance(first.this, exp.Select):
        return False
    if first.this.args.get("from_") or first.this.args.get("from"):
        return False
    return all(j.side == "LEFT" for j in select.args.get("joins") or [])


def _window_rewrite(select: exp.Select, dialect: str) -> str:
    """The grouped query without GROUP BY, its time bucket replaced by the window's start."""
    where = select.args.get("where")
    group = select.args.get("group")
    copy = select.copy()
    copy.set("group", None)
    copy.set("order", None)
    copy.set("limit", None)
    lower: exp.Expr | None = None
    if where is not None:
        for cmp in where.find_all(exp.GTE, exp.GT):
            if isinstance(cmp.this, exp.Column) and cmp.expression.find(
                exp.CurrentTimestamp, exp.CurrentDate, exp.Anonymous
            ) is not None:
                lower = cmp.expression
                break
    bucket_names: set[str] = set()
    if group is not None:
        for g in group.expressions:
            if isinstance(g, exp.Literal) and not g.is_string:
                index = int(g.this) - 1
                if 0 <= index < len(select.expressions):
                    bucket_names.add(select.expressions[index].alias_or_name)
            else:
                bucket_names.add(g.alias_or_name)
    items: list[exp.Expr] = []
    for item in copy.expressions:
        name = item.alias_or_name
        if name in bucket_names and lower is not None:
            items.append(exp.alias_(lower.copy(), name))
        elif name in bucket_names:
            continue
        else:
            items.append(item)
    copy.set("expressions", items)
    return copy.sql(dialect=dialect or None)


def empty_on_outage(select: exp.Select, dialect: str) -> Outage | None:
    """For goal alerts: why the query has no row when its tables are empty, or None."""
    where = select.args.get("where")
    if select.args.get("having") is not None and not select.args.get("group"):
        return Outage(
            "its HAVING drops the one row an aggregate returns, so when nothing matches it "
            "returns no row",
            "drop the HAVING and let the alert compare the aggregate (coalesce(..., 0) keeps "
            "it a number), or test for absence with NOT EXISTS",
        )
    if select.args.get("group"):
        if _is_spine(select):
            return None
        joins = [j for j in select.args.get("joins") or [] if j.side != "LEFT"]
        via = " (and an inner join that empties out)" if joins else ""
        filtered = " of a filtered window" if where is not None else ""
        return Outage(
            f"it groups (GROUP BY{filtered}){via}, and a grouped query over no matching row "
            "returns no row at all",
            "aggregate over the window without GROUP BY, so it always returns one row "
            f"(count(*) is then 0): {_window_rewrite(select, dialect)}",
        )
    return None


def _bare_nullable(node: exp.Expr) -> bool:
    """The comparison reads an aggregate that is NULL over no rows, outside a coalesce."""
    for agg in _aggregates(node):
        if isinstance(agg, _NEVER_NULL):
            continue
        parent = agg.parent
        wrapped = False
        while parent is not None and parent is not node:
            if isinstance(parent, exp.Coalesce) or (
                isinstance(parent, exp.Anonymous) and str(parent.this).lower() in (
                    "ifnull", "nvl", "isnull")
            ):
                wrapped = True
                break
            parent = parent.parent
        if not wrapped:
            return True
    return False


def null_aggregate_filter(select: exp.Select) -> str | None:
    """For ``has_rows`` alerts: why the firing row needs an aggregate that is NULL on no rows."""
    having = select.args.get("having")
    if having is None or select.args.get("group"):
        return None
    if having.find(exp.Is) is not None:
        return None
    comparisons = list(having.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ))
    if any(_bare_nullable(c) for c in comparisons):
        return ("its HAVING compares an aggregate that is NULL when no row matches (max, min, "
                "sum...), so on a total outage the comparison is unknown and the row is dropped")
    return None
