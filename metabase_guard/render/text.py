"""Terraform-style text plans: a legend, one block per object, ``old -> new``, a summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metabase_guard.lint import Finding, count_by_severity
from metabase_guard.reconcile.plan import Change, Plan
from metabase_guard.render.common import SUMMARISED, fmt_field, fmt_value, shown, sql_diff

__all__ = ["render_text"]

_SYMBOL = {"create": "+", "update": "~", "delete": "-"}
_COLOUR = {"create": "\033[32m", "update": "\033[33m", "delete": "\033[31m"}
_WORDS = {"create": "will be created", "update": "will be updated in-place",
          "delete": "will be deleted"}
_LEGEND = {"create": "create", "update": "update in-place", "delete": "delete"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"
_CARD_FIELDS = 8


def _paint(text: str, code: str, colour: bool) -> str:
    return f"{code}{text}{_RESET}" if colour else text


def _indent(text: str, pad: str) -> str:
    return "\n".join(line if not line or i == 0 else pad + line
                     for i, line in enumerate(text.split("\n")))



def _list_change(old: Sequence[Any], new: Sequence[Any]) -> str:
    """``+ "a", - "b" (2 unchanged)``: what a list gains and loses, not two whole lists."""
    added = [f"+ {fmt_value(v)}" for v in new if v not in old]
    removed = [f"- {fmt_value(v)}" for v in old if v not in new]
    kept = sum(1 for v in new if v in old)
    return ", ".join(added + removed) + (f" ({kept} unchanged)" if kept else "")


def _gap(out: list[str]) -> None:
    if out and out[-1] != "":
        out.append("")


def _block(change: Change, timezone: str, colour: bool) -> list[str]:
    symbol = _paint(_SYMBOL[change.action], _COLOUR[change.action], colour)
    words = _WORDS[change.action]
    if change.kind == "alert" and change.action == "delete":
        words = "will be deactivated"
    if change.kind in ("card", "collection", "dashboard") and change.action == "delete":
        words = "will be archived (moved to the Trash)"
    if change.kind == "subscription" and change.action == "delete":
        words = "will be archived"
    lines = [_paint(f"  # {change.address} {words}", _BOLD, colour)]
    label = change.address.split(" ", 1)[1]
    number, of, key = label.partition(" of ")
    if change.kind == "alert" and of and number.isdigit():
        label = f'{number} of "{key}"'  # the question's key is the quoted name, not the ordinal
    else:
        label = f'"{label}"'
    head = f"  {symbol} {change.summary or f'{change.kind} {label}'}"
    rows: list[tuple[str, str, str]] = []
    if change.fields:
        for f in change.fields:
            if f.summary:
                sym = "+" if f.old is None else "-" if f.new is None else "~"
                rows.append((sym, f.field, f.summary))
                continue
            if isinstance(f.old, (list, tuple)) and isinstance(f.new, (list, tuple)):
                rows.append(("~", f.field, _list_change(f.old, f.new)))
                continue
            if f.field == "sql" and isinstance(f.old, str) and isinstance(f.new, str):
                rows.append(("~", f.field, "\n".join(["<<DIFF", *sql_diff(f.old, f.new),
                                                       "DIFF"])))
                continue
            old = fmt_field(f.field, f.old, timezone)
            new = fmt_field(f.field, f.new, timezone)
            rows.append(("~", f.field, f"{old} -> {new}"))
    else:
        rows = [(_SYMBOL[change.action], k, fmt_field(k, v, timezone))
                for k, v in change.values
                if shown(k, v) and not (change.summary and k in SUMMARISED)]
    if not rows:
        lines.append(head)
    else:
        lines.append(head + " {")
        width = max(len(name) for _, name, _ in rows)
        for sym, name, value in rows:
            code = _COLOUR[{"~": "update", "+": "create", "-": "delete"}[sym]]
            pad = " " * (8 + width + 3)
            lines.append(f"      {_paint(sym, code, colour)} {name.ljust(width)} = "
                         f"{_indent(value, pad)}")
        if change.action == "update" and change.kind == "card":
            hidden = _CARD_FIELDS - len(change.fields)
            if hidden > 0:
                lines.append(_paint(f"        # ({hidden} unchanged fields hidden)", _DIM, colour))
        lines.append("    }")
    for effect in change.effects:
        lines.append(f"    ! {effect}")
    return lines


def render_text(plan: Plan, *, colour: bool = False, findings: Sequence[Finding] = ()) -> str:
    """The plan as text for a terminal or a CI log; ``findings``: a lint section."""
    out: list[str] = [
        f"Metabase {plan.url} (version {plan.version}, report timezone {plan.timezone})",
        "",
    ]
    if plan.is_empty and plan.pending_deletes:
        count = len(plan.pending_deletes)
        out.append(_paint(f"No changes. Metabase matches the declarations, except for {count} "
                          f"object{'s' if count != 1 else ''} no longer declared. Kept because "
                          "--prune was not given:", _BOLD, colour))
        out += [f"  {c.address} (id {c.live_id})" for c in plan.pending_deletes]
    elif plan.is_empty:
        out.append(_paint("No changes. Metabase matches the declarations.", _BOLD, colour))
    else:
        out.append("metabase-guard will perform the following actions, shown with these symbols:")
        for action in ("create", "update", "delete"):
            if plan.count(action):
                out.append(f"  {_paint(_SYMBOL[action], _COLOUR[action], colour)} "
                           f"{_LEGEND[action]}")
        out.append("")
        for change in plan.changes:
            out.extend(_block(change, plan.timezone, colour))
            out.append("")
    if plan.pending_deletes and not plan.is_empty:
        _gap(out)
        out.append("Kept because --prune was not given (no longer declared):")
        for change in plan.pending_deletes:
            out.append(f"  {change.address} (id {change.live_id})")
    if plan.unmanaged:
        _gap(out)
        out.append("Left alone (not managed by metabase-guard):")
        for item in plan.unmanaged:
            out.append(f"  {item.address}: {item.reason}")
    if plan.notes:
        _gap(out)
        for note in plan.notes:
            out.append(f"Note: {note}")
    if findings:
        _gap(out)
        out.append(f"Lint ({count_by_severity(findings)}):")
        for finding in findings:
            out.append("  " + str(finding).replace("\n", "\n  "))
    if not plan.is_empty:
        summary = plan.summary
        _gap(out)
        out.append(_paint(
            f"Plan: {summary['create']} to add, {summary['update']} to change, "
            f"{summary['delete']} to destroy.", _BOLD, colour))
    return "\n".join(out).rstrip() + "\n"
