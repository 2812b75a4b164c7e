"""``metabase-guard check``: run each declared question now and say what its alerts would do.

Read-only: a question whose managed card exists with the declared SQL runs as the saved card
(``POST /api/card/:id/query``); one without a card yet, or whose SQL changed since the last
apply, runs the declared SQL ad hoc (``POST /api/dataset``). Queries run in a bounded thread
pool. Each alert's verdict comes from :mod:`metabase_guard.evaluation` applied to the declared
display and goal (what apply writes), so it answers "once applied, would this alert send
now?": ``sends`` (would send now), ``quiet``, ``never`` (can never fire on this result's
shape) or ``fails`` (Metabase's own evaluation throws on this result, nothing is delivered).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import Card, QueryOutcome
from metabase_guard.api.query import NativeQuery, normalise_sql, read_native, write_native
from metabase_guard.errors import ApiError
from metabase_guard.evaluation import QueryResult, Verdict, evaluate, format_number, is_empty
from metabase_guard.lint import Finding, card_settings
from metabase_guard.reconcile.alerts import CONDITIONS
from metabase_guard.reconcile.identity import managed_key
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import GOAL_CONDITIONS, Question

__all__ = [
    "STATUS_WORDS",
    "AlertCheck",
    "CheckReport",
    "QuestionCheck",
    "exit_status",
    "render_check",
    "run_check",
]

#: Verdict status → words shown to people.
STATUS_WORDS = {
    "sends": "would send now",
    "quiet": "quiet",
    "never": "can never fire",
    "fails": "Metabase fails the run",
    "error": "query failed",
}


@dataclass(frozen=True)
class AlertCheck:
    """One alert's verdict on the current result."""

    index: int
    when: str
    send_condition: str
    status: str
    verdict: Verdict
    note: str = ""
    """Set when the result is empty: what the alert then does, and what that means."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        v = self.verdict
        return {
            "note": self.note or None,
            "alert": self.index + 1,
            "when": self.when,
            "send_condition": self.send_condition,
            "status": self.status,
            "verdict": STATUS_WORDS[self.status],
            "value": v.value,
            "goal": v.goal,
            "column": v.column,
            "crossing_rows": v.crossing_rows,
            "reason": v.reason,
        }


@dataclass(frozen=True)
class QuestionCheck:
    """One question run now: how it ran, its result size, and its alerts' verdicts."""

    key: str
    name: str
    source: str
    card_id: int | None
    columns: tuple[str, ...] = ()
    row_count: int = 0
    error: str | None = None
    alerts: tuple[AlertCheck, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "name": self.name,
            "source": self.source,
            "card_id": self.card_id,
            "columns": list(self.columns),
            "row_count": self.row_count,
            "error": self.error,
            "alerts": [a.to_dict() for a in self.alerts],
        }


@dataclass(frozen=True)
class CheckReport:
    """Every checked question, plus findings learnt from the results (``many-periods``)."""

    url: str
    version: str
    questions: tuple[QuestionCheck, ...]
    findings: tuple[Finding, ...] = field(default=())

    def count(self, status: str) -> int:
        """How many alerts have this status (``error``: alerts of questions that failed)."""
        if status == "error":
            return sum(len(q.alerts) or 1 for q in self.questions if q.error)
        return sum(1 for q in self.questions for a in q.alerts if a.status == status)

    @property
    def would_send(self) -> bool:
        """Any alert would send now."""
        return self.count("sends") > 0

    @property
    def broken(self) -> bool:
        """A query failed, or an alert can never fire or makes Metabase fail its run."""
        return any(q.error for q in self.questions) or any(
            a.status in ("never", "fails") for q in self.questions for a in q.alerts
        )

    @property
    def summary(self) -> dict[str, int]:
        """Counts by status."""
        return {s: self.count(s) for s in STATUS_WORDS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "url": self.url,
            "metabase_version": self.version,
            "summary": self.summary,
            "questions": [q.to_dict() for q in self.questions],
            "findings": [f.to_dict() for f in self.findings],
        }


def _status(verdict: Verdict) -> str:
    if verdict.sends:
        return "sends"
    if not verdict.can_fire:
        return "never"
    return "fails" if verdict.error else "quiet"


def _evaluate(q: Question, outcome: QueryOutcome) -> tuple[AlertCheck, ...]:
    result = QueryResult(list(outcome.columns), [list(r) for r in outcome.rows],
                         base_types=outcome.base_types)
    settings = card_settings(q)
    checks: list[AlertCheck] = []
    for index, alert in enumerate(q.alerts):
        condition = CONDITIONS[alert.when]
        verdict = evaluate(q.display, settings, condition, result)
        note = _empty_note(alert.when) if is_empty(result) else ""
        checks.append(AlertCheck(index, alert.when, condition, _status(verdict), verdict, note))
    return tuple(checks)


def _empty_note(when: str) -> str:
    """What an alert does on an empty result (card.clj skip-reason skips it)."""
    if when == "below_goal":
        return ("empty result: the below-goal alert stays quiet; on a total outage this check "
                "is blind (aggregate without GROUP BY so the query always returns a row)")
    if when == "above_goal":
        return "empty result: the above-goal alert stays quiet"
    return "empty result: the has_rows alert stays quiet (nothing to report)"


def _many_periods(decls: Declarations, q: Question, check: QuestionCheck) -> list[Finding]:
    out: list[Finding] = []
    if check.error or check.row_count <= 1:
        return out
    for a in check.alerts:
        if a.when not in GOAL_CONDITIONS:
            continue
        try:
            where = decls.locate(q.key, f"alerts[{a.index}].when")
            file, line = where.file, where.line
        except KeyError:
            file, line = "", None
        side = "below" if a.when == "below_goal" else "at or above"
        crossing = (f"; {a.verdict.crossing_rows:,} of them are {side} the goal now"
                    if a.verdict.crossing_rows else "")
        out.append(Finding(
            "warning", "many-periods", file, line, f"alerts[{a.index}].when",
            f"the query returned {check.row_count:,} rows and Metabase fires '{a.when}' when "
            f"ANY row is {side} the goal{crossing}",
            "keep only the period the alert is about (a WHERE on the last complete period, or "
            "ORDER BY ... DESC LIMIT 1)",
            q.key,
        ))
    return out


def run_check(
    decls: Declarations,
    client: MetabaseClient,
    *,
    concurrency: int = 4,
) -> CheckReport:
    """Run every declared question that has alerts (read-only) and judge its alerts."""
    databases = {d.name: d.id for d in client.databases.list()}
    managed: dict[str, Card] = {}
    for card in sorted(client.cards.list("all"), key=lambda c: c.id):
        key = managed_key(card.description)
        if key and not card.archived and key not in managed:
            managed[key] = card
    mbql5 = client.uses_mbql5
    questions = [q for q in decls.questions if q.alerts]

    def run(q: Question) -> QuestionCheck:
        card = managed.get(q.key)
        db_id = databases.get(q.database)
        if db_id is None:
            return QuestionCheck(q.key, q.name, "not run", None,
                                 error=f"no database named {q.database!r} on the instance")
        stored = read_native(card.dataset_query) if card is not None else None
        same = (stored is not None and stored.database_id == db_id
                and stored.sql == normalise_sql(q.sql))
        try:
            if card is not None and same:
                source = f"card #{card.id}"
                outcome = client.cards.query(card.id)
            else:
                source = ("declared SQL run ad hoc: the card has other SQL until apply"
                          if card is not None else "declared SQL run ad hoc: no card yet")
                outcome = client.cards.query_adhoc(
                    write_native(NativeQuery(db_id, q.sql), mbql5=mbql5)
                )
        except ApiError as exc:
            return QuestionCheck(q.key, q.name, "not run", card.id if card else None,
                                 error=str(exc))
        card_id = card.id if card else None
        if outcome.error:
            return QuestionCheck(q.key, q.name, source, card_id, error=outcome.error)
        return QuestionCheck(q.key, q.name, source, card_id, tuple(outcome.columns),
                             len(outcome.rows), None, _evaluate(q, outcome))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        checks = list(pool.map(run, questions))
    findings: list[Finding] = []
    for q, check in zip(questions, checks, strict=True):
        findings.extend(_many_periods(decls, q, check))
    return CheckReport(client.url, str(client.version), tuple(checks), tuple(findings))


# --------------------------------------------------------------------------- rendering


def _num(value: float | None) -> str:
    return "-" if value is None else format_number(value)


def _summary_line(report: CheckReport) -> str:
    s = report.summary
    return (f"{s['sends']} would send now, {s['quiet']} quiet, {s['never']} can never fire, "
            f"{s['fails']} failing in Metabase, {s['error']} not checked (query failed).")


def _text(report: CheckReport) -> str:
    out = [f"Metabase {report.url} (version {report.version}): each alert on the current "
           "result", ""]
    for q in report.questions:
        if q.error:
            out.append(f"{q.key}: query failed ({q.source}): {q.error}")
            out.append("")
            continue
        out.append(f"{q.key}: {q.name} ({q.source}; {q.row_count:,} row"
                   f"{'s' if q.row_count != 1 else ''})")
        for a in q.alerts:
            v = a.verdict
            figures = ""
            if a.send_condition != "has_result":
                figures = f"value {_num(v.value)}, goal {_num(v.goal)}: "
            out.append(f"  alert {a.index + 1} {a.when}: {STATUS_WORDS[a.status].upper()}: "
                       f"{figures}{v.reason}")
            if a.note:
                out.append(f"    {a.note}")
        out.append("")
    for finding in report.findings:
        out.append(str(finding))
    if report.findings:
        out.append("")
    out.append(_summary_line(report))
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


_ICON = {"sends": "🔔", "quiet": "✅", "never": "⛔", "fails": "❌", "error": "❌"}


def _markdown(report: CheckReport) -> str:
    out = ["### metabase-guard check", "",
           f"`{report.url}` · Metabase {report.version}", "",
           "| question | alert | value | goal | verdict | why |", "|---|---|---|---|---|---|"]
    for q in report.questions:
        if q.error:
            out.append(f"| `{q.key}` | | | | {_ICON['error']} query failed | "
                       f"{_cell(q.error)} |")
            continue
        for a in q.alerts:
            v = a.verdict
            out.append(f"| `{q.key}` | {a.index + 1} `{a.when}` | {_num(v.value)} | "
                       f"{_num(v.goal)} | {_ICON[a.status]} {STATUS_WORDS[a.status]} | "
                       f"{_cell(v.reason)}{'<br>' + _cell(a.note) if a.note else ''} |")
    for finding in report.findings:
        out += ["", f"> ⚠️ `{finding.rule}` {_cell(finding.where)} `{finding.key}`: "
                    f"{_cell(finding.message)}. {_cell(finding.hint)}"]
    out += ["", _summary_line(report)]
    return "\n".join(out) + "\n"


def render_check(report: CheckReport, fmt: str = "text") -> str:
    """The report as ``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(report)
    return _text(report)


def exit_status(report: CheckReport, *, fail_on_send: bool) -> str:
    """``broken`` (exit 1), ``sends`` (exit 2 with ``--fail-on-send``) or ``ok`` (exit 0)."""
    if report.broken:
        return "broken"
    if fail_on_send and report.would_send:
        return "sends"
    return "ok"

