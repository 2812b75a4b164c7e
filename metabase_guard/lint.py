"""Alert lint: declarations that Metabase accepts and then never, always or wrongly delivers.

Two passes, both pure:

- :func:`lint_declarations` needs no server (``metabase-guard validate``): goal alerts that can
  never fire, goal alerts over many periods, ``has_rows`` on a query that always returns a row,
  bursts of alerts scheduled at the same minute among the declarations;
- :func:`lint_live` needs the live snapshot (``metabase-guard plan``): recipients outside the
  instance's domain allow-list, bursts counted with the instance's own alerts, card changes that
  make Metabase delete alerts, ``once`` on Metabase 0.54-0.55.

Unconfigured e-mail or Slack and unknown Slack channels are not here: they are hard errors of
``reconcile/cards.py`` (ResolveError) already.

The SQL rules read the query's sqlglot tree, parsed once in the dialect of its database's
engine (:mod:`metabase_guard.sql`): they look at the top-level ``SELECT`` and stay silent when
they cannot tell (``UNION``, template tags, SQL sqlglot cannot parse, an unknown engine).
Each finding names a rule id; ``docs/alert-rules.md`` explains every rule, the reason behind
it and the Metabase source it follows.
"""

from __future__ import annotations

import difflib
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from metabase_guard.evaluation import GOAL_DISPLAYS, goal_column
from metabase_guard.spec.loader import Declarations, Location
from metabase_guard.spec.models import GOAL_CONDITIONS, Alert, Question
from metabase_guard.spec.schedule import canonical_cron, to_cron
from metabase_guard.sql.dialects import DEFAULT_ENGINE
from metabase_guard.sql.outage import empty_on_outage, null_aggregate_filter
from metabase_guard.sql.parse import Parsed, parse, parse_for_engine
from metabase_guard.sql.shape import SqlShape, always_one_row, periods, shape_of

if TYPE_CHECKING:  # the live checks' types only: `validate` never loads the HTTP client
    from metabase_guard.reconcile.cards import DesiredCard
    from metabase_guard.reconcile.live import LiveState
    from metabase_guard.reconcile.plan import Plan

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
    "recipient-typo": "an e-mail recipient that is no Metabase user but nearly a user's address",
}

#: Alerts starting at the same minute from which ``burst`` warns. Metabase sends notifications
#: on a pool of ``notification-thread-pool-size`` threads, 3 by default (metabase/metabase
#: src/metabase/notification/settings.clj); sends beyond it queue, and under load some are
#: dropped (metabase/metabase#56379, #51701). Dashboard subscriptions count too: they are sent
#: as notifications with a dashboard payload (src/metabase/notification/payload/impl/dashboard.clj).
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


_strict_findings = strict  # for lint_offline, whose keyword argument has the same name


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

    The same keys as ``DesiredCard.visualization`` (reconcile/cards.py): a progress goal in
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


def sql_shape(sql: str, dialect: str = "postgres") -> SqlShape | None:
    """The shape of ``sql``'s top-level ``SELECT`` read by sqlglot (None when not one)."""
    return shape_of(parse(sql, dialect))


# --------------------------------------------------------------------------- offline rules


def _finding(decls: Declarations, severity: Severity, rule: str, key: str, path: str,
             message: str, hint: str = "", *, dashboard: bool = False) -> Finding:
    """A finding on question ``key`` (or dashboard ``key``) at ``path``, with its line."""
    try:
        where = decls.locate_dashboard(key, path) if dashboard else decls.locate(key, path)
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
        parsed = parse_for_engine(q.sql, (engines or {}).get(q.database))
        shape = shape_of(parsed)
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


@functools.lru_cache(maxsize=4096)  # thousands of alerts share a few schedules
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
    dashboard: bool = False
    """A dashboard subscription (``key`` is a dashboard's), not an alert."""

    @property
    def path(self) -> str:
        return f"{'subscriptions' if self.dashboard else 'alerts'}[{self.index}].schedule"


def _declared_slots(decls: Declarations) -> list[_Scheduled]:
    out: list[_Scheduled] = []
    for q in decls.questions:
        for index, alert in enumerate(q.alerts):
            slots = cron_slots(to_cron(alert.schedule))
            if slots:
                label = q.key if len(q.alerts) == 1 else f"alert {index + 1} of {q.key}"
                out.append(_Scheduled(label, slots, q.key, index, alert.schedule))
    for d in decls.dashboards:
        for index, sub in enumerate(d.subscriptions):
            slots = cron_slots(to_cron(sub.schedule))
            if not slots:
                continue
            # Each e-mail list and each Slack channel is a Metabase subscription of its own,
            # and so a send of its own at that minute.
            for send in (["email"] if sub.email else []) + list(sub.slack):
                label = f"subscription {index + 1} of dashboard {d.key} ({send})"
                out.append(_Scheduled(label, slots, d.key, index, sub.schedule, dashboard=True))
    return out


def _stagger(item: _Scheduled, slot: int, offset: int) -> str:
    minute = (slot % 60 + offset) % 60
    hour = (slot // 60) % 24
    every = getattr(item.schedule, "every", None)
    if item.dashboard:
        # subscriptions send at whole hours: they move by hours, and hourly ones cannot move
        if every == "hour":
            return f"{item.label}: keep (hourly subscriptions send on the hour)"
        return f"{item.label}: at: \"{(hour + offset) % 24:02d}:00\""
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
        ours = sorted((m for m in members if m.key),
                      key=lambda m: (m.dashboard, m.key, m.index, m.label))
        theirs = [m for m in members if not m.key]
        first = ours[0]
        zone = f" ({timezone})" if timezone else ""
        also = f", and {len(theirs)} alert(s) already on the instance" if theirs else ""
        names = ", ".join(m.label for m in ours)
        moves = [_stagger(m, slot, n) for n, m in enumerate(ours[1:], start=1)][:6]
        what = "alerts" if not any(m.dashboard for m in members) else "alerts and subscriptions"
        out.append(_finding(
            decls, "warning", "burst", first.key, first.path,
            f"{len(members)} {what} start at the same minute, {_slot_words(groups[members])}"
            f"{zone}: "
            f"{names}{also}. Metabase sends notifications on a small thread pool (3 by "
            "default) and drops sends under such bursts (metabase/metabase#56379, #51701)",
            "stagger the schedules a few minutes apart"
            + (" (subscriptions by whole hours)" if what != "alerts" else "")
            + (", e.g. " + "; ".join(moves) if moves else ""),
            dashboard=first.dashboard,
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
    user_emails = sorted(active_users)  # once, not per address
    domains = _allowed_domains(allowed_domains)
    for item in desired:
        q = by_key.get(item.key)
        if q is None:
            continue
        for alert in item.alerts:
            declared = [e.lower() for e in q.alerts[alert.index].email]
            for address in alert.view.email:
                if address in active_users:
                    continue
                path = (f"alerts[{alert.index}].email[{declared.index(address)}]"
                        if address in declared else f"alerts[{alert.index}]")
                typo = _recipient_typo(decls, item.key, path, address, user_emails)
                if typo is not None:
                    out.append(typo)
                if domains is None:
                    continue
                domain = address.rsplit("@", 1)[-1].lower()
                if any(domain == d or domain.endswith("." + d) for d in domains):
                    continue
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
    out.extend(_subscription_typos(decls, active_users, user_emails))
    return _dedupe(out)


def _recipient_typo(decls: Declarations, key: str, path: str, address: str,
                    user_emails: list[str], *, dashboard: bool = False) -> Finding | None:
    """``recipient-typo`` when ``address`` (no Metabase user) is nearly a user's address."""
    near = difflib.get_close_matches(address, user_emails, n=1, cutoff=0.85)
    if not near:
        return None
    # a typo'd recipient is a check that never reaches the person it is for
    return _finding(
        decls, "warning", "recipient-typo", key, path,
        f"{address} is not a Metabase user, so it is sent to as written; did you mean "
        f"{near[0]}?", f"write {near[0]}, or keep {address} if it is meant", dashboard=dashboard)


def _subscription_typos(decls: Declarations, active_users: set[str], user_emails: list[str]
                        ) -> list[Finding]:
    """``recipient-typo`` for the addresses of dashboard subscriptions, as for alerts'."""
    out: list[Finding] = []
    for dash in decls.dashboards:
        for index, sub in enumerate(dash.subscriptions):
            for position, email in enumerate(sub.email):
                address = str(email).lower()
                typo = None if address in active_users else _recipient_typo(
                    decls, dash.key, f"subscriptions[{index}].email[{position}]", address,
                    user_emails, dashboard=True)
                if typo is not None:
                    out.append(typo)
    return out


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


def lint_offline(declarations: Declarations, *, strict: bool = False,
                 engines: Mapping[str, str] | None = None) -> list[Finding]:
    """Offline lint findings (``engine.lint``), errors first; ``strict``: warnings as errors."""
    findings = lint_declarations(declarations, engines=engines)
    return sort_findings(_strict_findings(findings) if strict else findings)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Errors first, then by file and line."""
    return sorted(findings, key=lambda f: (f.severity != "error", f.file or "~", f.line or 0,
                                           f.rule))

