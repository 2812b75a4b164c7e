"""``show``: what metabase-guard manages on an instance, and a saved plan rendered again.

Both are pure: the inventory is computed from a read-only snapshot, and a saved plan (the JSON
of ``plan --out``) is turned back into a :class:`~metabase_guard.reconcile.plan.Plan` so that
the text and markdown renderers show it exactly as ``plan`` did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.alerts import alert_view_of
from metabase_guard.reconcile.cards import card_view_of
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, FieldChange, Plan, Unmanaged
from metabase_guard.render.common import fmt_field

__all__ = ["ManagedAlert", "ManagedCard", "inventory", "plan_from_dict", "render_inventory"]


@dataclass(frozen=True)
class ManagedAlert:
    """A live alert metabase-guard owns (created by its user) on a managed card."""

    id: int
    active: bool
    fields: dict[str, Any]


@dataclass(frozen=True)
class ManagedCard:
    """A live card carrying the marker of ``key``."""

    key: str
    id: int
    name: str
    collection: str
    display: str
    alerts: list[ManagedAlert] = field(default_factory=list)
    others: int = 0
    """Alerts on the card made by someone else (left alone)."""


def inventory(live: LiveState) -> list[ManagedCard]:
    """The managed cards by key, each with the alerts metabase-guard's user owns on it."""
    out: list[ManagedCard] = []
    for key, card in sorted(live.managed_cards().items()):
        view = card_view_of(card, live)
        ours: list[ManagedAlert] = []
        others = 0
        for notification in live.alerts_of(card.id):
            if notification.creator_id != live.me.id:
                others += notification.active
                continue
            alert = alert_view_of(notification, live).as_dict()
            kept = {k: v for k, v in alert.items() if v not in ((), [], False, None)}
            ours.append(ManagedAlert(notification.id, bool(notification.active), kept))
        out.append(ManagedCard(key, card.id, card.name, view.collection, card.display, ours,
                               others))
    return out


def render_inventory(cards: Sequence[ManagedCard], *, url: str, timezone: str,
                     fmt: str = "text") -> str:
    """The inventory as text, markdown or JSON."""
    if fmt == "json":
        data = {"url": url, "cards": [
            {"key": c.key, "id": c.id, "name": c.name, "collection": c.collection,
             "display": c.display, "others_alerts": c.others,
             "alerts": [{"id": a.id, "active": a.active, **a.fields} for a in c.alerts]}
            for c in cards]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    md = fmt == "markdown"
    alerts = sum(len(c.alerts) for c in cards)
    head = f"{len(cards)} managed card(s) with {alerts} managed alert(s) on {url}"
    out = [f"### {head}" if md else head, ""]
    for c in cards:
        where = fmt_field("collection", c.collection, timezone)
        line = f"card {c.key}: #{c.id} {json.dumps(c.name, ensure_ascii=False)} in {where}"
        out.append(f"- `{line}`" if md else line)
        for a in c.alerts:
            state = "" if a.active else " (inactive)"
            details = ", ".join(f"{k} {fmt_field(k, v, timezone)}" for k, v in a.fields.items())
            out.append(f"  - alert #{a.id}{state}: {details}")
        if c.others:
            out.append(f"  - {c.others} alert(s) by other people, left alone")
    if not cards:
        out.append("Nothing is managed here yet: run plan and apply.")
    return "\n".join(out).rstrip() + "\n"


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _change(data: Mapping[str, Any]) -> Change:
    return Change(
        action=data["actions"][0],
        kind=data["kind"],
        address=data["address"],
        key=data.get("key", ""),
        live_id=data.get("id"),
        fields=tuple(FieldChange(f["field"], _tuples(f["old"]), _tuples(f["new"]))
                     for f in data.get("changes", [])),
        values=tuple((k, _tuples(v)) for k, v in data.get("values", {}).items()),
        effects=tuple(data.get("effects", [])),
        duplicate=bool(data.get("duplicate", False)),
    )


def plan_from_dict(data: Mapping[str, Any], *, source: str = "the saved plan") -> Plan:
    """A saved plan (``plan --out``) as a :class:`Plan` again, for rendering.

    Its ``checksum`` is recomputed and must match the saved one: a hand-edited file is refused.
    """
    try:
        plan = Plan(
            url=data["url"],
            version=data["metabase_version"],
            timezone=data["report_timezone"],
            changes=tuple(_change(c) for c in data["changes"]),
            existing=0,
            unmanaged=tuple(Unmanaged(u["address"], u["reason"])
                            for u in data.get("unmanaged", [])),
            pending_deletes=tuple(_change(c) for c in data.get("pending_deletes", [])),
            notes=tuple(data.get("notes", [])),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"{source} is not a metabase-guard plan (missing {exc})") from None
    if plan.checksum != data.get("checksum"):
        raise ConfigError(f"{source} was edited after it was saved: its checksum does not match")
    return plan
