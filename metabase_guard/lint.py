"""Alert lint: declarations that Metabase accepts and then never, always or wrongly delivers.

Two passes, both pure:

- :func:`lint_declarations` needs no server (``metabase-guard validate``): goal alerts that can
  never fire, goal alerts over many periods, ``has_rows`` on a query that always returns a row,
  bursts of alerts scheduled at the same minute among the declarations;
- :func:`lint_live` needs the live snapshot (``metabase-guard plan``): recipients outside the
  instance's domain allow-list, bursts counted with the instance's own alerts, card changes that
  make Metabase delete alerts, ``once`` on Metabase 0.54-0.55.

Unconfigured e-mail or Slack and unknown Slack channels are not here: they are hard errors of
``reconcile/desired.py`` (ResolveError) already.

The SQL rules read the query statically with a small tokenizer (:func:`sql_shape`): they look
at the top-level ``SELECT`` only and stay silent when they cannot tell. Each finding names a
rule id; ``docs/alert-rules.md`` explains every rule, the reason behind it and the Metabase
source it follows.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from metabase_guard.evaluation import GOAL_DISPLAYS, goal_column
from metabase_guard.reconcile.desired import DesiredCard
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Plan
from metabase_guard.spec.loader import Declarations, Location
from metabase_guard.spec.models import GOAL_CONDITIONS, Alert, Question
from metabase_guard.spec.schedule import canonical_cron, to_cron
from metabase_guard.sql.dialects import DEFAULT_ENGINE
from metabase_guard.sql.outage import empty_on_outage, null_aggregate_filter
from metabase_guard.sql.parse import Parsed, parse_for_engine

__all__ = [
    "BURST_THRESHOLD",
    "RULES",
    "Finding",
    "Severity",
    "SqlShape",
    "card_settings",
    "count_by_severity",
    "cron_slots",
    "engine_mismatches",
    "has_errors",
    "lint_declarations",
    "lint_live",
    "periods",
    "sort_findings",
    "sql_notes",
    "sql_shape",
    "strict",
]

Severity = Literal["error", "warning"]

#: Rule id → what it catches (the reference is docs/alert-rules.md).
RULES: dict[str, str] = {
    "goal-never-fires": "a goal alert Metabase can never evaluate: no column to compare, or a "
    "non-numeric one",
    "implicit-metric": "a goal alert on a result with several numeric columns and no metric",
    "unknown-metric": "metric names no column of the query",
    "many-periods": "a goal alert over a result with many periods: any period crossing fires it",
    "always-one-row": "has_rows on a query that always returns a row",
    "burst": "many alerts scheduled at the same minute",
    "recipient-not-allowed": "an e-mail recipient outside the instance's domain allow-list",
    "alerts-deleted": "a card change that makes Metabase delete alerts",
    "once-deactivates-early": "once: true on Metabase 0.54-0.55 stops after the first run",
    "silent-on-outage": "an alert whose query returns no row when the data it counts is absent",
    "engine-mismatch": "metabase-guard.yaml's engine for a database is not the live one",
}

#: Alerts starting at the same minute from which ``burst`` warns. Metabase sends notifications
#: on a pool of ``notification-thread-pool-size`` threads, 3 by default (metabase/metabase
#: src/metabase/notification/settings.clj); sends beyond it queue, and under load some are
#: dropped (metabase/metabase#56379, #51701).
BURST_THRESHOLD = 5


@dataclass(frozen=True)
class Finding:
    """One lint finding, located in the declarations when it can be.

    ``key`` is the question's key (empty when the finding is about no declared question),
    ``field`` a path relative to the question (``alerts[0].when``), ``line`` None when unknown.
    """

    severity: Severity
    rule: str
    file: str
    line: int | None
    field: str
    message: str
    hint: str = ""
    key: str = ""

    @property
    def where(self) -> str:
        """``file:line``, the file alone, or ``(instance)`` for findings about Metabase."""
        if not self.file:
            return "(instance)"
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        path = ".".join(p for p in (self.key, self.field) if p)
        head = f"{self.where}: {self.severity}[{self.rule}]" + (f" {path}:" if path else "")
        return f"{head} {self.message}" + (f"\n    hint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "severity": self.severity,
            "rule": self.rule,
            "file": self.file or None,
            "line": self.line,
            "key": self.key or None,
            "field": self.field or None,
            "message": self.message,
            "hint": self.hint or None,
        }


def strict(findings: Iterable[Finding]) -> list[Finding]:
    """``--strict``: every warning becomes an error."""
    return [replace(f, severity="error") for f in findings]


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding is an error (errors block validate, plan and apply)."""
    return any(f.severity == "error" for f in findings)


def count_by_severity(findings: Sequence[Finding]) -> str:
    """``"1 error, 2 warnings"``."""
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    return (f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}")


def card_settings(question: Question) -> dict[str, Any]:
    """The goal-related ``visualization_settings`` apply writes for a question.

    The same keys as ``DesiredCard.visualization`` (reconcile/desired.py): a progress goal in
    ``progress.goal``, any other goal as a shown goal line, ``metric`` as ``graph.metrics``.
    """
    settings: dict[str, Any] = {}
    if question.goal is not None:
        if question.display == "progress":
            settings["progress.goal"] = question.goal.value
        else:
            settings["graph.show_goal"] = True
            settings["graph.goal_value"] = question.goal.value
            settings["graph.goal_label"] = question.goal.label
    if question.metric:
        settings["graph.metrics"] = [question.metric]
    if question.dimension:
        settings["graph.dimensions"] = [question.dimension]
    return settings


# --------------------------------------------------------------------------- SQL shape

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qid>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>::|>=|<=|<>|!=|\|\||[(),.;=<>*+\-/%])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_AGGREGATES = frozenset({
    "count", "sum", "avg", "min", "max", "stddev", "stddev_pop", "stddev_samp", "variance",
    "var_pop", "var_samp", "bool_and", "bool_or", "every", "array_agg", "string_agg",
    "group_concat", "median", "percentile_cont", "percentile_disc", "mode", "count_if",
    "approx_count_distinct", "listagg",
})
_NEVER_NULL_AGGREGATES = frozenset({"count", "count_if", "approx_count_distinct"})
_NUMERIC_AGGREGATES = frozenset({"count", "sum", "avg", "stddev", "stddev_pop", "stddev_samp",
                                 "variance", "var_pop", "var_samp", "median", "count_if",
                                 "approx_count_distinct", "percentile_cont"})
_CLAUSES = ("select", "from", "where", "group", "having", "order", "limit", "window",
            "qualify", "offset", "fetch")
_UNIT_DAYS = {
    "second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0,
    "month": 30.0, "quarter": 91.0, "year": 365.0,
}
_INTERVAL_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|quarter|year|mon|min|sec|hr|d|h|w|y)s?\b",
    re.IGNORECASE,
)
_SHORT_UNITS = {"mon": "month", "min": "minute", "sec": "second", "hr": "hour", "d": "day",
                "h": "hour", "w": "week", "y": "year"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str

    @property
    def low(self) -> str:
        return self.text.lower()


def _tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        out.append(_Tok(kind, match.group()))
    return out


def _matching(tokens: Sequence[_Tok], start: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``start`` (len(tokens) when unbalanced)."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(tokens)


def _top_level(tokens: Sequence[_Tok]) -> list[tuple[int, _Tok]]:
    """Tokens outside any parentheses, with their index."""
    out: list[tuple[int, _Tok]] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        elif depth == 0:
            out.append((i, tok))
    return out


def _split_commas(tokens: Sequence[_Tok]) -> list[list[_Tok]]:
    items: list[list[_Tok]] = [[]]
    depth = 0
    for tok in tokens:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        if tok.text == "," and depth == 0:
            items.append([])
        else:
            items[-1].append(tok)
    return [item for item in items if item]


@dataclass(frozen=True)
class SelectItem:
    """One column of the top-level select list: its name and what it is, when recognisable.

    ``kind``: ``number``, ``text``, ``temporal`` or ``unknown``. ``aggregate``: the outermost
    aggregate function it calls (``count``...), None for none. ``bucket``: ``(unit, column)``
    when it is a time bucket such as ``date_trunc('week', pushed_at)``.
    """

    name: str
    tokens: tuple[_Tok, ...]
    kind: str = "unknown"
    aggregate: str | None = None
    never_null: bool = False
    bucket: tuple[str, str] | None = None


@dataclass(frozen=True)
class SqlShape:
    """What the top-level query of a SQL text looks like; see :func:`sql_shape`."""

    items: tuple[SelectItem, ...] | None
    """The select list (None when it has ``*``)."""
    has_from: bool
    where: tuple[_Tok, ...] | None
    group_by: tuple[tuple[_Tok, ...], ...]
    has_having: bool
    limit: int | None

    @property
    def columns(self) -> list[str] | None:
        """Result column names, when the select list is known."""
        return None if self.items is None else [i.name for i in self.items]


def _bucket(tokens: Sequence[_Tok]) -> tuple[str, str] | None:
    """``(unit, column)`` when the expression is a time bucket of one column."""
    toks = list(tokens)
    if len(toks) >= 3 and toks[-2].text == "::" and toks[-1].low in ("date", "timestamp"):
        column = _column_name(toks[:-2])
        return ("day", column) if column and toks[-1].low == "date" else None
    if len(toks) < 4 or toks[0].kind != "word" or toks[1].text != "(":
        return None
    fn = toks[0].low
    if _matching(toks, 1) != len(toks) - 1:
        return None
    args = _split_commas(toks[2:-1])
    if fn in ("date_trunc", "timestamp_trunc", "datetime_trunc") and len(args) == 2:
        unit_tok, col = (args[0], args[1]) if fn == "date_trunc" else (args[1], args[0])
        if len(unit_tok) == 1:
            unit = unit_tok[0].text.strip("'\"").lower()
            name = _column_name(col)
            if unit in _UNIT_DAYS and name:
                return unit, name
        return None
    if fn == "date" and len(args) == 1:
        name = _column_name(args[0])
        return ("day", name) if name else None
    if fn == "cast" and len(args) == 1:
        parts = args[0]
        if len(parts) >= 3 and parts[-2].low == "as" and parts[-1].low == "date":
            name = _column_name(parts[:-2])
            return ("day", name) if name else None
    if fn in ("strftime", "to_char", "format_date") and len(args) == 2:
        fmt_tok, col = (args[0], args[1]) if fn == "strftime" else (args[1], args[0])
        if len(fmt_tok) == 1 and fmt_tok[0].kind == "str":
            fmt = fmt_tok[0].text
            name = _column_name(col)
            fmt_unit = _format_unit(fmt)
            return (fmt_unit, name) if name and fmt_unit else None
    return None


def _format_unit(fmt: str) -> str | None:
    # The finest field of a strftime / to_char format is the bucket.
    checks = (("%M", "minute"), ("MI", "minute"), ("%H", "hour"), ("HH", "hour"), ("%d", "day"),
              ("%j", "day"), ("DD", "day"), ("%W", "week"), ("%U", "week"), ("%V", "week"),
              ("IW", "week"), ("WW", "week"), ("%m", "month"), ("MM", "month"), ("%Y", "year"),
              ("YYYY", "year"))
    for needle, unit in checks:
        if needle in fmt:
            return unit
    return None


def _column_name(tokens: Sequence[_Tok]) -> str | None:
    """``t.col`` or ``col`` → ``col``; None when the expression is not a plain column."""
    toks = list(tokens)
    if not toks or toks[-1].kind not in ("word", "qid"):
        return None
    for i, tok in enumerate(toks):
        if i % 2 == 0 and tok.kind not in ("word", "qid"):
            return None
        if i % 2 == 1 and tok.text != ".":
            return None
    return _unquote(toks[-1].text)


def _unquote(text: str) -> str:
    if text[:1] in "\"`[" and len(text) >= 2:
        return text[1:-1]
    return text


def _outer_call(tokens: Sequence[_Tok]) -> tuple[str, list[list[_Tok]]] | None:
    toks = list(tokens)
    if len(toks) >= 3 and toks[0].kind == "word" and toks[1].text == "(" and \
            _matching(toks, 1) == len(toks) - 1:
        return toks[0].low, _split_commas(toks[2:-1])
    return None


def _aggregate_of(tokens: Sequence[_Tok]) -> tuple[str | None, bool]:
    """The aggregate the expression is built on, and whether its value is never null."""
    call = _outer_call(tokens)
    if call is None:
        # An aggregate anywhere in the expression (outside subqueries and OVER windows).
        for i, tok in enumerate(tokens):
            if tok.kind == "word" and tok.low in _AGGREGATES and i + 1 < len(tokens) and \
                    tokens[i + 1].text == "(":
                end = _matching(tokens, i + 1)
                if end + 1 < len(tokens) and tokens[end + 1].low == "over":
                    continue
                return tok.low, False
        return None, False
    fn, args = call
    if fn in _AGGREGATES:
        return fn, fn in _NEVER_NULL_AGGREGATES
    if fn in ("coalesce", "ifnull", "nvl", "isnull") and len(args) >= 2:
        inner, _ = _aggregate_of(args[0])
        return inner, inner is not None and _literal_kind(args[-1]) is not None
    for arg in args:
        inner, _ = _aggregate_of(arg)
        if inner is not None:
            return inner, False
    return None, False


def _literal_kind(tokens: Sequence[_Tok]) -> str | None:
    toks = [t for t in tokens if t.text not in ("-", "+")]
    if len(toks) == 1 and toks[0].kind == "num":
        return "number"
    if len(toks) == 1 and toks[0].kind == "str":
        return "text"
    return None


def _strip_alias(tokens: list[_Tok]) -> tuple[list[_Tok], str | None]:
    """``expr AS name`` or ``expr name`` → ``(expr, name)``; ``(tokens, None)`` without alias."""
    if len(tokens) >= 3 and tokens[-2].low == "as" and tokens[-1].kind in ("word", "qid", "str"):
        return tokens[:-2], _unquote(tokens[-1].text.strip("'"))
    if (
        len(tokens) >= 2
        and tokens[-1].kind in ("word", "qid")
        and tokens[-1].low != "end"
        and (tokens[-2].kind in ("word", "qid", "str", "num") or tokens[-2].text == ")")
    ):
        return tokens[:-1], _unquote(tokens[-1].text)
    return tokens, None


def _select_item(tokens: list[_Tok], position: int) -> SelectItem:
    expr, alias = _strip_alias(tokens)
    column = _column_name(expr)
    name = alias or column or (expr[0].low if expr and expr[0].kind == "word" else f"col{position}")
    aggregate, never_null = _aggregate_of(expr)
    bucket = _bucket(expr)
    kind = "unknown"
    literal = _literal_kind(expr)
    call = _outer_call(expr)
    words = {t.low for t in expr if t.kind == "word"}
    if literal is not None:
        kind = literal
    elif aggregate is None and words & (_NOW | {"date_trunc", "interval"}):
        kind = "temporal"  # date_trunc('week', now()) - interval '7 days': a time, not a number
    elif bucket is not None:
        kind = "text" if call and call[0] in ("strftime", "to_char", "format_date") else "temporal"
    elif aggregate in _NUMERIC_AGGREGATES and call is not None and (
        call[0] == aggregate or call[0] in ("coalesce", "ifnull", "nvl")
    ):
        kind = "number"
    return SelectItem(name, tuple(tokens), kind, aggregate, never_null, bucket)


def sql_shape(sql: str) -> SqlShape | None:
    """Read the top-level query of ``sql``; None when it is not one plain ``SELECT``.

    ``UNION``/``INTERSECT``/``EXCEPT``, several statements, and template tags (``{{x}}``) give
    None: the rules then say nothing rather than guess.
    """
    if "{{" in sql:
        return None
    tokens = _tokens(sql.strip().rstrip(";"))
    top = _top_level(tokens)
    words = [(i, t.low) for i, t in top if t.kind == "word"]
    if any(w in ("union", "intersect", "except") for _, w in words) or any(
        t.text == ";" for _, t in top
    ):
        return None
    selects = [i for i, w in words if w == "select"]
    if not selects:
        return None
    start = selects[0]
    # Clause boundaries among top-level words after the main SELECT.
    bounds: list[tuple[int, str]] = []
    for n, (i, tok) in enumerate(top):
        w = tok.low
        if i < start or tok.kind != "word" or w not in _CLAUSES or (w == "select" and i != start):
            continue
        if w in ("group", "order") and (n + 1 >= len(top) or top[n + 1][1].low != "by"):
            continue
        bounds.append((i, w))
    bounds.append((len(tokens), "end"))
    clauses: dict[str, list[_Tok]] = {}
    for (i, w), (j, _) in itertools.pairwise(bounds):
        skip = 2 if w in ("group", "order") else 1
        clauses.setdefault(w, list(tokens[i + skip:j]))
    select = clauses.get("select", [])
    if select and select[0].low in ("distinct", "all"):
        select = select[1:]
    raw_items = _split_commas(select)
    items: tuple[SelectItem, ...] | None = tuple(
        _select_item(item, n) for n, item in enumerate(raw_items, start=1)
    )
    if any(t.text == "*" and (len(item) == 1 or item[-2].text == ".")
           for item in raw_items for t in item[-1:]):
        items = None
    limit = None
    if "limit" in clauses and clauses["limit"] and clauses["limit"][0].kind == "num":
        limit = int(float(clauses["limit"][0].text))
    elif "fetch" in clauses:
        nums = [t for t in clauses["fetch"] if t.kind == "num"]
        limit = int(float(nums[0].text)) if nums else 1
    return SqlShape(
        items=items,
        has_from="from" in clauses,
        where=tuple(clauses["where"]) if "where" in clauses else None,
        group_by=tuple(tuple(g) for g in _split_commas(clauses.get("group", []))),
        has_having="having" in clauses,
        limit=limit,
    )


def _next_top(top: Sequence[tuple[int, _Tok]], index: int) -> int:
    for n, (i, _) in enumerate(top):
        if i == index and n + 1 < len(top):
            return top[n + 1][0]
    return -1


# --------------------------------------------------------------------------- periods


def _interval_days(tokens: Sequence[_Tok]) -> float | None:
    """Total length of the ``interval '...'`` literals in an expression (None when none)."""
    total: float | None = None
    for i, tok in enumerate(tokens):
        text: str | None = None
        if tok.low == "interval" and i + 1 < len(tokens) and tokens[i + 1].kind == "str":
            text = tokens[i + 1].text.strip("'")
            if i + 2 < len(tokens) and tokens[i + 2].low.rstrip("s") in _UNIT_DAYS:
                text = f"{text} {tokens[i + 2].low}"
        elif tok.kind == "str" and i + 2 < len(tokens) and tokens[i + 1].text == "::" and \
                tokens[i + 2].low == "interval":
            text = tok.text.strip("'")
        if text is None:
            continue
        for amount, unit in _INTERVAL_PART.findall(text):
            unit = _SHORT_UNITS.get(unit.lower(), unit.lower())
            total = (total or 0.0) + float(amount) * _UNIT_DAYS[unit]
    return total


def _truncs(tokens: Sequence[_Tok]) -> set[str]:
    """Units of the ``date_trunc('unit', ...)`` calls in an expression."""
    units: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok.low == "date_trunc" and i + 2 < len(tokens) and tokens[i + 2].kind == "str":
            units.add(tokens[i + 2].text.strip("'").lower())
    return units


_NOW = frozenset({"now", "current_date", "current_timestamp", "getdate", "sysdate",
                  "localtimestamp", "today", "current_datetime"})


def _bounds(where: Sequence[_Tok], column: str) -> tuple[list[list[_Tok]], list[list[_Tok]],
                                                          bool]:
    """Lower and upper bound expressions of ``column`` in a WHERE, and whether it is ``=``."""
    lowers: list[list[_Tok]] = []
    uppers: list[list[_Tok]] = []
    equal = False
    toks = list(where)
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind in ("word", "qid") and _unquote(tok.text).lower() == column.lower() and (
            i + 1 < len(toks)
        ) and not (i + 1 < len(toks) and toks[i + 1].text == "."):
            op = toks[i + 1].text.lower() if i + 1 < len(toks) else ""
            rest = _until_and(toks, i + 2)
            if op in (">=", ">"):
                lowers.append(rest)
            elif op in ("<", "<="):
                uppers.append(rest)
            elif op == "=":
                equal = True
            elif op == "between":
                upper_start = i + 2 + len(rest) + 1
                lowers.append(rest)
                uppers.append(_until_and(toks, upper_start))
        i += 1
    return lowers, uppers, equal


def _until_and(toks: Sequence[_Tok], start: int) -> list[_Tok]:
    out: list[_Tok] = []
    depth = 0
    for tok in toks[start:]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and tok.low in ("and", "or"):
            break
        out.append(tok)
    return out


def periods(shape: SqlShape) -> tuple[int | None, SelectItem | None]:
    """How many time periods the query returns at most, and the bucket column.

    ``(None, None)`` when the query is not grouped by a recognisable time bucket; a count of
    None with a bucket when it cannot tell; ``10**6`` stands for "unbounded" (no lower bound
    on the bucketed column, or a fixed start date).
    """
    if not shape.group_by or shape.items is None:
        return None, None
    bucket_item: SelectItem | None = None
    for group in shape.group_by:
        candidate: SelectItem | None = None
        if len(group) == 1 and group[0].kind == "num":
            index = int(float(group[0].text)) - 1
            if 0 <= index < len(shape.items):
                candidate = shape.items[index]
        elif len(group) == 1 and group[0].kind in ("word", "qid"):
            name = _unquote(group[0].text).lower()
            candidate = next((it for it in shape.items if it.name.lower() == name), None)
        else:
            found = _bucket(group)
            if found is not None:
                candidate = SelectItem(found[1], tuple(group), "temporal", None, False, found)
        if candidate is not None and candidate.bucket is not None:
            bucket_item = candidate
            break
    if bucket_item is None or bucket_item.bucket is None:
        return None, None
    if shape.limit is not None and shape.limit <= 1:
        return 1, bucket_item
    unit, column = bucket_item.bucket
    if shape.where is None:
        return 10**6, bucket_item
    lowers, uppers, equal = _bounds(shape.where, column)
    # `WHERE date_trunc('week', x) = ...`: exactly one period.
    where_low = [t.low for t in shape.where]
    expr = [t.low for t in _strip_alias(list(bucket_item.tokens))[0]]
    for n in range(len(where_low) - len(expr)):
        if where_low[n:n + len(expr)] == expr and where_low[n + len(expr)] == "=":
            return 1, bucket_item
    if equal:
        return 1, bucket_item
    if not lowers:
        return 10**6, bucket_item
    best: int | None = None
    for lower in lowers:
        if any(t.kind == "str" for t in lower) and _interval_days(lower) is None:
            count: int | None = 10**6  # a fixed date: the window grows every period
        elif not any(t.low in _NOW for t in lower):
            count = None
        else:
            back = _interval_days(lower) or 0.0
            ahead = min((_interval_days(u) or 0.0 for u in uppers), default=0.0)
            span = max(0.0, back - ahead)
            aligned = unit in _truncs(lower) or (
                unit == "day" and any(t.low == "current_date" for t in lower)
            )
            step = _UNIT_DAYS[unit]
            count = max(1, math.ceil(span / step - 1e-9)) if aligned else (
                math.ceil(span / step - 1e-9) + 1
            )
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


# --------------------------------------------------------------------------- offline rules


def _finding(decls: Declarations, severity: Severity, rule: str, key: str, path: str,
             message: str, hint: str = "") -> Finding:
    try:
        where = decls.locate(key, path)
    except KeyError:
        where = Location("", None)
    return Finding(severity, rule, where.file, where.line, path, message, hint, key)


_STATIC_TYPE = {"number": "type/Float", "text": "type/Text", "temporal": "type/DateTime",
                "unknown": None}


def _goal_findings(decls: Declarations, q: Question, shape: SqlShape | None,
                   index: int, alert: Alert) -> list[Finding]:
    out: list[Finding] = []
    path = f"alerts[{index}].when"
    if q.display not in GOAL_DISPLAYS or q.goal is None:
        return out  # the loader already rejects these (spec/models.py semantic_problems)
    columns = shape.columns if shape is not None else None
    if columns is None or shape is None or shape.items is None:
        return out
    base_types = [_STATIC_TYPE[it.kind] for it in shape.items]
    settings = card_settings(q)
    chosen = goal_column(q.display, settings, columns, base_types)
    metric_known = q.metric is not None and q.metric.casefold() in (c.casefold() for c in columns)
    if q.metric is not None and not metric_known:
        if chosen is None:
            out.append(_finding(
                decls, "error", "goal-never-fires", q.key, "metric",
                f"metric {q.metric!r} is not a column of the query ({', '.join(columns)}) and "
                "Metabase finds no other column to compare with the goal, so every run fails "
                "with 'Unable to compare results to goal' and the alert never fires",
                f"name one of the query's columns: metric: {columns[-1]}",
            ))
            return out
        out.append(_finding(
            decls, "warning", "unknown-metric", q.key, "metric",
            f"metric {q.metric!r} is not a column of the query ({', '.join(columns)}); "
            f"Metabase ignores it and compares column {chosen!r} with the goal",
            f"name the column to compare: metric: {chosen}",
        ))
    if chosen is None:
        out.append(_finding(
            decls, "error", "goal-never-fires", q.key, path,
            f"'{alert.when}' can never fire: Metabase picks no column to compare with the goal "
            f"among {len(columns)} column(s) ({', '.join(columns)}) and every run fails with "
            "'Unable to compare results to goal'",
            "name the column to compare: metric: <column>",
        ))
        return out
    item = shape.items[[c.casefold() for c in columns].index(chosen.casefold())]
    if item.kind in ("text", "temporal"):
        out.append(_finding(
            decls, "error", "goal-never-fires", q.key, path,
            f"'{alert.when}' can never fire: Metabase compares column {chosen!r} with the goal, "
            f"and it is {'a date' if item.kind == 'temporal' else 'text'}, so the comparison "
            "throws on every row",
            "name the numeric column to compare: metric: <column>",
        ))
        return out
    numeric = [it.name for it in shape.items if it.kind in ("number", "unknown")
               and it.bucket is None]
    if not metric_known and len(numeric) > 1:
        out.append(_finding(
            decls, "warning", "implicit-metric", q.key, path,
            f"the query returns several numeric columns ({', '.join(numeric)}) and no metric "
            f"says which one the goal applies to: Metabase compares {chosen!r}, chosen by "
            "position (and its UI offers no goal alert on such a chart)",
            f"say which column is compared: metric: {chosen}",
        ))
    return out


def _many_periods_finding(decls: Declarations, q: Question, shape: SqlShape | None,
                          index: int, alert: Alert) -> Finding | None:
    if shape is None:
        return None
    count, item = periods(shape)
    if item is None or item.bucket is None or count is None or count <= 1:
        return None
    unit, column = item.bucket
    side = "below" if alert.when == "below_goal" else "at or above"
    many = "an unbounded number of" if count >= 10**6 else f"up to {count}"
    return _finding(
        decls, "warning", "many-periods", q.key, f"alerts[{index}].when",
        f"the query returns {many} {unit}s ({item.name}), and Metabase fires '{alert.when}' "
        f"when ANY row is {side} the goal: one old {unit} crossing the line makes it fire on "
        "every run",
        f"keep only the last complete {unit}: WHERE {column} >= date_trunc('{unit}', now()) - "
        f"interval '1 {unit}' AND {column} < date_trunc('{unit}', now()); or ORDER BY "
        f"{item.name} DESC LIMIT 1 (which keeps the current, incomplete {unit})",
    )


_EMPTY_GOAL = ("Metabase skips a goal alert whose result is empty (notification/payload/impl/"
               "card.clj skip-reason), so on a total outage the alert never fires")
_EMPTY_ROWS = ("Metabase skips a has_rows alert whose result is empty or one null cell "
               "(notification/payload/execute.clj is-card-empty?), so on a total outage the "
               "alert never fires")


def _outage_finding(decls: Declarations, q: Question, parsed: Parsed, index: int,
                    alert: Alert) -> Finding | None:
    """``silent-on-outage``: the query goes empty exactly when the data it watches is gone."""
    select = parsed.select
    if select is None or q.allow_empty or parsed.dialect is None:
        return None
    path = f"alerts[{index}].when"
    opt_out = " (if an empty result is meant, set allow_empty: true on the question)"
    if alert.when == "below_goal":
        found = empty_on_outage(select, parsed.dialect)
        if found is None:
            return None
        return _finding(decls, "error", "silent-on-outage", q.key, path,
                        f"'below_goal' is blind to a total outage: {found.why}; {_EMPTY_GOAL}",
                        found.rewrite + opt_out)
    if alert.when == "has_rows":
        why = null_aggregate_filter(select)
        if why is None:
            return None
        return _finding(decls, "warning", "silent-on-outage", q.key, path,
                        f"'has_rows' is blind to a total outage: {why}; {_EMPTY_ROWS}",
                        "test for absence instead: SELECT 'no recent row' AS problem WHERE NOT "
                        "EXISTS (SELECT 1 FROM ... WHERE <recent>), or coalesce the aggregate "
                        "and return a second, never-null column" + opt_out)
    return None


def sql_notes(decls: Declarations, engines: Mapping[str, str] | None = None) -> list[str]:
    """Why the SQL rules say nothing about some questions (``validate --verbose``)."""
    out: list[str] = []
    for q in decls.questions:
        parsed = parse_for_engine(q.sql, (engines or {}).get(q.database))
        if parsed.tree is None:
            try:
                where = decls.locate(q.key, "sql")
                at = where.file if where.line is None else f"{where.file}:{where.line}"
            except KeyError:
                at = "?"
            out.append(f"{at}: {q.key}: SQL rules skipped: {parsed.reason}")
    return out


def engine_mismatches(decls: Declarations, configured: Mapping[str, str],
                      live: Mapping[str, str]) -> list[Finding]:
    """``engine-mismatch``: the config file's offline engine is not the live database's."""
    out: list[Finding] = []
    for name in sorted({q.database for q in decls.questions}):
        offline = configured.get(name, DEFAULT_ENGINE)
        actual = live.get(name)
        if actual is None or actual.lower() == offline.lower():
            continue
        out.append(Finding(
            "warning", "engine-mismatch", "", None, "",
            f"database {name!r} is {actual!r} on the instance, but validate and test read its "
            f"SQL as {offline!r}" + ("" if name in configured else " (the default)"),
            f"set databases: {{{name}: {{engine: {actual}}}}} in metabase-guard.yaml",
        ))
    return out


def lint_declarations(
    decls: Declarations, *, burst: bool = True, burst_threshold: int = BURST_THRESHOLD,
    engines: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Offline findings: SQL and goal rules per alert, and bursts among the declarations.

    ``engines`` maps a database name to its Metabase engine (default postgres); the SQL is
    read once in that engine's dialect.
    """
    out: list[Finding] = []
    for q in decls.questions:
        if not q.alerts:
            continue
        shape = sql_shape(q.sql)
        parsed = parse_for_engine(q.sql, (engines or {}).get(q.database))
        for index, alert in enumerate(q.alerts):
            outage = _outage_finding(decls, q, parsed, index, alert)
            if outage is not None:
                out.append(outage)
            if alert.when in GOAL_CONDITIONS:
                out.extend(_goal_findings(decls, q, shape, index, alert))
                found = _many_periods_finding(decls, q, shape, index, alert)
                if found is not None:
                    out.append(found)
            elif shape is not None:
                why = always_one_row(shape)
                if why is not None:
                    out.append(_finding(
                        decls, "warning", "always-one-row", q.key, f"alerts[{index}].when",
                        f"'has_rows' fires on every run: {why}",
                        "return no row when there is nothing to report, e.g. add "
                        "HAVING count(*) > 0 (or the condition that matters), or compare the "
                        "value with a goal (below_goal / above_goal)",
                    ))
    if burst:
        out.extend(_burst_findings(decls, _declared_slots(decls), [], burst_threshold, None))
    return _dedupe(out)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out: list[Finding] = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


# --------------------------------------------------------------------------- schedules

_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_QUARTZ_DOW = {"SUN": 6, "MON": 0, "TUE": 1, "WED": 2, "THU": 3, "FRI": 4, "SAT": 5}
_QUARTZ_NUM = {1: 6, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5}


def _expand(field_text: str, low: int, high: int, names: Mapping[str, int] | None = None
            ) -> set[int] | None:
    values: set[int] = set()
    for part in field_text.split(","):
        step = 1
        stepped = "/" in part
        if stepped:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit():
                return None
            step = int(step_text)
        part = part.rstrip("L").split("#")[0]
        if part in ("*", "?", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _num(a, names), _num(b, names)
            if first is None or last is None:
                return None
            start, end = first, last
        else:
            value = _num(part, names)
            if value is None:
                return None
            start, end = value, (high if stepped else value)
        values.update(range(start, end + 1, max(1, step)))
    return values


def _num(text: str, names: Mapping[str, int] | None) -> int | None:
    if text.isdigit():
        return int(text)
    if names and text.upper() in names:
        return names[text.upper()]
    return None


def cron_slots(cron: str) -> frozenset[int] | None:
    """The minutes of a week (0 = Monday 00:00) at which a Quartz cron fires; None if unknown.

    A day-of-month schedule may land on any weekday, so it counts on all seven.
    """
    try:
        fields = canonical_cron(cron).split()
    except ValueError:
        return None
    _, minutes_f, hours_f, dom_f, _, dow_f = fields[:6]
    minutes = _expand(minutes_f, 0, 59)
    hours = _expand(hours_f, 0, 23)
    if minutes is None or hours is None:
        return None
    if dow_f in ("*", "?"):
        days: set[int] | None = set(range(7))
    else:
        raw = _expand(dow_f, 1, 7, {name: n for n, name in enumerate(
            ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)})
        days = None if raw is None else {_QUARTZ_NUM[d] for d in raw if d in _QUARTZ_NUM}
    if days is None:
        return None
    if dom_f not in ("*", "?"):
        days = set(range(7))
    return frozenset(d * 1440 + h * 60 + m for d in days for h in hours for m in minutes)


def _slot_words(slots: Sequence[int]) -> str:
    """``every day at 09:00``, ``Mon at 09:00``, ``every hour at minute 05``..."""
    minutes = sorted({s % 1440 for s in slots})
    days = sorted({s // 1440 for s in slots})
    when = "every day" if len(days) == 7 else ", ".join(_DAYS[d].title() for d in days)
    if len(minutes) == 24 and len({m % 60 for m in minutes}) == 1:
        return f"{when}, every hour at minute {minutes[0] % 60:02d}"
    times = ", ".join(f"{m // 60:02d}:{m % 60:02d}" for m in minutes[:4])
    return f"{when} at {times}" + (" and more" if len(minutes) > 4 else "")


@dataclass(frozen=True)
class _Scheduled:
    label: str
    slots: frozenset[int]
    key: str = ""
    index: int = -1
    schedule: Any = field(default=None, compare=False)


def _declared_slots(decls: Declarations) -> list[_Scheduled]:
    out: list[_Scheduled] = []
    for q in decls.questions:
        for index, alert in enumerate(q.alerts):
            slots = cron_slots(to_cron(alert.schedule))
            if slots:
                label = q.key if len(q.alerts) == 1 else f"{q.key} alert {index + 1}"
                out.append(_Scheduled(label, slots, q.key, index, alert.schedule))
    return out


def _stagger(item: _Scheduled, slot: int, offset: int) -> str:
    minute = (slot % 60 + offset) % 60
    hour = (slot // 60) % 24
    every = getattr(item.schedule, "every", None)
    if every == "hour":
        return f"{item.label}: minute: {minute}"
    if every in ("day", "week", "month"):
        return f"{item.label}: at: \"{hour:02d}:{minute:02d}\""
    return f"{item.label}: cron minute {minute}"


def _burst_findings(decls: Declarations, declared: list[_Scheduled], existing: list[_Scheduled],
                    threshold: int, timezone: str | None) -> list[Finding]:
    by_slot: dict[int, set[_Scheduled]] = defaultdict(set)
    for item in (*declared, *existing):
        for slot in item.slots:
            by_slot[slot].add(item)
    groups: dict[frozenset[_Scheduled], list[int]] = defaultdict(list)
    for slot in sorted(by_slot):
        members = frozenset(by_slot[slot])
        if len(members) >= threshold and any(m.key for m in members):
            groups[members].append(slot)
    maximal = [g for g in groups if not any(g < other for other in groups)]
    out: list[Finding] = []
    for members in sorted(maximal, key=lambda g: groups[g][0]):
        slot = groups[members][0]
        ours = sorted((m for m in members if m.key), key=lambda m: (m.key, m.index))
        theirs = [m for m in members if not m.key]
        first = ours[0]
        zone = f" ({timezone})" if timezone else ""
        also = f", and {len(theirs)} alert(s) already on the instance" if theirs else ""
        names = ", ".join(m.label for m in ours)
        moves = [_stagger(m, slot, n) for n, m in enumerate(ours[1:], start=1)][:6]
        out.append(_finding(
            decls, "warning", "burst", first.key, f"alerts[{first.index}].schedule",
            f"{len(members)} alerts start at the same minute, {_slot_words(groups[members])}"
            f"{zone}: "
            f"{names}{also}. Metabase sends notifications on a small thread pool (3 by "
            "default) and drops sends under such bursts (metabase/metabase#56379, #51701)",
            "stagger the schedules a few minutes apart" + (
                ", e.g. " + "; ".join(moves) if moves else ""),
        ))
    return out


# --------------------------------------------------------------------------- live rules


def _allowed_domains(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else str(raw).split(",")
    domains = [str(d).strip().lower() for d in items if str(d).strip()]
    return domains or None


def lint_live(
    decls: Declarations,
    desired: Sequence[DesiredCard],
    live: LiveState,
    plan: Plan | None = None,
    *,
    allowed_domains: Any = None,
    burst_threshold: int = BURST_THRESHOLD,
) -> list[Finding]:
    """Findings that need the instance: allow-list, bursts with its alerts, deleted alerts.

    ``allowed_domains`` is the ``subscription-allowed-domains`` setting as read (a
    comma-separated string, a list, or None when unset or unreadable: no check).
    """
    out: list[Finding] = []
    by_key = decls.by_key()
    active_users = {u.email.lower() for u in live.users if u.is_active}
    domains = _allowed_domains(allowed_domains)
    for item in desired:
        q = by_key.get(item.key)
        if q is None:
            continue
        for alert in item.alerts:
            declared = [e.lower() for e in q.alerts[alert.index].email]
            for address in alert.view.email:
                if domains is None or address in active_users:
                    continue
                domain = address.rsplit("@", 1)[-1].lower()
                if any(domain == d or domain.endswith("." + d) for d in domains):
                    continue
                path = (f"alerts[{alert.index}].email[{declared.index(address)}]"
                        if address in declared else f"alerts[{alert.index}]")
                out.append(_finding(
                    decls, "error", "recipient-not-allowed", item.key, path,
                    f"{address} is not an active Metabase user and its domain is not in the "
                    f"instance's allowed domains ({', '.join(domains)}): Metabase refuses the "
                    "alert with 403 'The following email addresses are not allowed'",
                    "invite the person to Metabase, add the domain in Admin > Settings > "
                    "Email (subscription-allowed-domains), or remove the address",
                ))
        if live.version.major in (54, 55):
            for alert in item.alerts:
                if alert.send_once:
                    out.append(_finding(
                        decls, "warning", "once-deactivates-early", item.key,
                        f"alerts[{alert.index}].once",
                        f"on Metabase {live.version} a 'once' alert is deactivated after its "
                        "first scheduled run even when nothing was sent (fixed in 0.56, "
                        "metabase/metabase#61491)",
                        "upgrade Metabase to 0.56 or newer, or drop once: true",
                    ))

    replaced = _replaced_notifications(desired, live)
    cards = {c.id: c.name for c in (*live.cards, *live.archived_cards)}
    existing: list[_Scheduled] = []
    for n in live.notifications:
        if not n.active or n.id in replaced:
            continue
        cron = next((s.cron_schedule for s in n.subscriptions if s.cron_schedule), None)
        slots = cron_slots(cron) if cron else None
        if slots:
            card = cards.get(n.payload.card_id if n.payload else -1, "?")
            existing.append(_Scheduled(f"alert #{n.id} on {card!r}", slots))
    out.extend(_burst_findings(decls, _declared_slots(decls), existing, burst_threshold,
                               live.report_timezone))

    if plan is not None:
        out.extend(_deleted_alert_findings(decls, plan))
    return _dedupe(out)


def _replaced_notifications(desired: Sequence[DesiredCard], live: LiveState) -> set[int]:
    """Live alerts the declarations stand for (ours, on a declared managed card)."""
    declared = {d.key for d in desired}
    out: set[int] = set()
    for key, card in live.managed_cards().items():
        if key not in declared:
            continue
        for n in live.alerts_of(card.id):
            if n.creator_id == live.me.id:
                out.add(n.id)
    return out


def _deleted_alert_findings(decls: Declarations, plan: Plan) -> list[Finding]:
    out: list[Finding] = []
    for change in plan.changes:
        if change.kind != "card" or not change.effects:
            continue
        for effect in change.effects:
            if "deletes" not in effect:
                continue
            if change.action == "delete":
                out.append(Finding(
                    "warning", "alerts-deleted", "", None, "",
                    f"{change.address} is archived: {effect}",
                    "Metabase e-mails the recipients that the alert is gone; keep the card "
                    "declared if its alerts should live", change.key,
                ))
                continue
            changed = {f.field for f in change.fields}
            path = "display" if "display" in changed else "goal"
            out.append(_finding(
                decls, "warning", "alerts-deleted", change.key, path,
                f"{change.address}: {effect}",
                "alerts made in the Metabase UI by others on this card are lost: tell their "
                "owners, or keep the display family and the goal line",
            ))
    return out


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by file and line."""
    return sorted(findings, key=lambda f: (f.severity != "error", f.file or "~", f.line or 0,
                                           f.rule))

