"""Markdown plans, for a pull-request comment."""

from __future__ import annotations

from collections.abc import Sequence

from metabase_guard.lint import Finding, count_by_severity
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.render.common import SUMMARISED, fmt_field, shown, sql_diff

__all__ = ["render_markdown"]

_ICON = {"create": "🟢 create", "update": "🟡 update", "delete": "🔴 delete"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _fenced(language: str, lines: Sequence[str]) -> list[str]:
    """A code block that keeps the SQL's indentation; its fence is longer than any in the SQL."""
    fence = "```"
    while any(fence in line for line in lines):
        fence += "`"
    return [f"{fence}{language}", *lines, fence]


def _sql_sections(changes: Sequence[Change]) -> list[str]:
    """The SQL of each created card, and each SQL change as a line diff, below the table."""
    out: list[str] = []
    for change in changes:
        if change.kind != "card":
            continue
        sql_change = next((f for f in change.fields if f.field == "sql"), None)
        if sql_change is not None:
            body = _fenced("diff", sql_diff(str(sql_change.old or ""), str(sql_change.new or "")))
            title = f"SQL change of <code>{change.address}</code>"
        elif change.action == "create":
            sql = dict(change.values).get("sql")
            if not isinstance(sql, str) or not sql:
                continue
            body = _fenced("sql", sql.splitlines())
            title = f"SQL of <code>{change.address}</code>"
        else:
            continue
        out += ["", f"<details><summary>{title}</summary>", "", *body, "", "</details>"]
    return out


def render_markdown(plan: Plan, *, findings: Sequence[Finding] = ()) -> str:
    """The plan as GitHub-flavoured markdown; ``findings``: a lint section."""
    summary = plan.summary
    out = [
        "### metabase-guard plan",
        "",
        f"`{plan.url}` · Metabase {plan.version} · report timezone {plan.timezone}",
        "",
    ]
    if plan.is_empty:
        out.append("**No changes.** Metabase matches the declarations.")
    else:
        out.append(f"**Plan: {summary['create']} to add, {summary['update']} to change, "
                   f"{summary['delete']} to destroy.**")
        out += ["", "| action | object | details |", "|---|---|---|"]
        for change in plan.changes:
            if change.fields:
                details = "<br>".join(
                    "`sql`: changed, see the line diff below" if f.field == "sql" else
                    f"`{f.field}`: {_cell(f.summary)}" if f.summary else
                    f"`{f.field}`: {_cell(fmt_field(f.field, f.old, plan.timezone))} → "
                    f"{_cell(fmt_field(f.field, f.new, plan.timezone))}" for f in change.fields
                )
            else:
                details = "<br>".join(
                    ([_cell(change.summary)] if change.summary else []) + [
                        f"`{k}`: {_cell(fmt_field(k, v, plan.timezone))}"
                        for k, v in change.values if k != "sql" and shown(k, v)
                        and not (change.summary and k in SUMMARISED)])
            for effect in change.effects:
                details += f"<br>⚠️ {_cell(effect)}"
            out.append(f"| {_ICON[change.action]} | `{change.address}` | {details} |")
        out += _sql_sections(plan.changes)
    if plan.pending_deletes:
        out += ["", "<details><summary>Kept: no longer declared (apply with --prune to remove)"
                "</summary>", ""]
        out += [f"- `{c.address}` (id {c.live_id})" for c in plan.pending_deletes]
        out += ["", "</details>"]
    if plan.unmanaged:
        out += ["", "<details><summary>Left alone: not managed by metabase-guard</summary>", ""]
        out += [f"- `{u.address}`: {_cell(u.reason)}" for u in plan.unmanaged]
        out += ["", "</details>"]
    for note in plan.notes:
        out += ["", f"> {note}"]
    if findings:
        out += ["", f"**Lint: {count_by_severity(findings)}**", ""]
        for f in findings:
            icon = "❌" if f.severity == "error" else "⚠️"
            path = ".".join(p for p in (f.key, f.field) if p)
            hint = f" *Hint:* {_cell(f.hint)}" if f.hint else ""
            out.append(f"- {icon} `{f.rule}` {_cell(f.where)}" + (f" `{path}`" if path else "")
                       + f": {_cell(f.message)}.{hint}")
    out += ["", f"<sub>checksum `{plan.checksum[:16]}`</sub>"]
    return "\n".join(out) + "\n"
