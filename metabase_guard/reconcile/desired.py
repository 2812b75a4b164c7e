"""Declarations resolved against a live snapshot: names become ids, pure and offline-testable.

Both sides of a diff are reduced to the same comparable views (:class:`CardView`,
:class:`AlertView`): names instead of ids, canonical cron, sorted recipient lists, normalised
SQL. All normalisation lives here, so a second plan after an apply is empty.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metabase_guard.api.models import (
    AlertSpec,
    Card,
    HandlerSpec,
    Notification,
    RecipientSpec,
)
from metabase_guard.api.query import NativeQuery, normalise_sql, read_native
from metabase_guard.api.resources import split_path
from metabase_guard.errors import Problem, ResolveError
from metabase_guard.reconcile.identity import compose_description
from metabase_guard.reconcile.live import LiveState
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import Alert, Question
from metabase_guard.spec.schedule import canonical_cron, to_cron

__all__ = [
    "CONDITIONS",
    "AlertView",
    "CardView",
    "Defaults",
    "DesiredAlert",
    "DesiredCard",
    "alert_view_of",
    "card_view_of",
    "display_family",
    "resolve",
    "settings_to_send",
]

#: Declaration ``when`` → Metabase ``send_condition``.
CONDITIONS = {"below_goal": "goal_below", "above_goal": "goal_above", "has_rows": "has_result"}
WHEN_OF = {v: k for k, v in CONDITIONS.items()}
GRAPH_DISPLAYS = frozenset({"line", "bar", "area"})


def display_family(display: str) -> str:
    """Metabase's alert families: ``graph`` (line, bar, area), ``progress`` or ``rows``.

    A card whose display moves between families loses its alerts (metabase-api.md 3.10).
    """
    if display in GRAPH_DISPLAYS:
        return "graph"
    return "progress" if display == "progress" else "rows"


@dataclass(frozen=True)
class Defaults:
    """Config defaults applied to every declaration."""

    collection: str | None = None
    email: tuple[str, ...] = ()
    slack: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardView:
    """A card as compared: what a declaration can say about it."""

    name: str
    description: str
    collection: str
    database: str
    sql: str
    display: str
    goal: float | None
    goal_label: str | None
    metric: str | None
    dimension: str | None

    def as_dict(self) -> dict[str, Any]:
        """Field name → value."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class AlertView:
    """An alert as compared, in names: condition, schedule, recipients (sorted)."""

    when: str
    schedule: str
    once: bool
    email: tuple[str, ...]
    groups: tuple[str, ...]
    slack: tuple[str, ...]
    webhook: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Field name → value (lists for the tuples)."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in ((k, getattr(self, k)) for k in self.__dataclass_fields__)
        }


@dataclass(frozen=True)
class DesiredAlert:
    """One declared alert, resolved: its view and the ids to write."""

    index: int
    view: AlertView
    send_condition: str
    send_once: bool
    cron: str
    handlers: tuple[HandlerSpec, ...]

    def spec(self, card_id: int) -> AlertSpec:
        """The write shape for the card with id ``card_id``."""
        return AlertSpec(
            card_id=card_id,
            send_condition=self.send_condition,
            send_once=self.send_once,
            cron=self.cron,
            handlers=self.handlers,
        )


@dataclass(frozen=True)
class DesiredCard:
    """One declared question, resolved."""

    key: str
    view: CardView
    declared: frozenset[str]
    collection_path: tuple[str, ...]
    query: NativeQuery
    alerts: tuple[DesiredAlert, ...] = field(default=())

    def visualization(self, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The full ``visualization_settings`` to write, keeping keys we do not manage."""
        settings = dict(current or {})
        view = self.view
        # only the goal keys of this display's family are ours: touching the other family's
        # leftovers (a graph.goal_value on a progress card) would make Metabase delete alerts
        if view.display == "progress":
            settings.pop("progress.goal", None)
        else:
            for key in ("graph.goal_value", "graph.goal_label", "graph.show_goal"):
                settings.pop(key, None)
        if view.goal is not None:
            if view.display == "progress":
                settings["progress.goal"] = view.goal
            else:
                settings["graph.show_goal"] = True
                settings["graph.goal_value"] = view.goal
                settings["graph.goal_label"] = view.goal_label or "Goal"
        if "metric" in self.declared and view.metric:
            settings["graph.metrics"] = [view.metric]
        if "dimension" in self.declared and view.dimension:
            settings["graph.dimensions"] = [view.dimension]
        return settings


#: Card fields whose change is written through ``visualization_settings``.
VIZ_FIELDS = frozenset({"goal", "goal_label", "metric", "dimension", "display"})


def settings_to_send(
    item: DesiredCard, current: Mapping[str, Any], changed: set[str]
) -> dict[str, Any] | None:
    """The ``visualization_settings`` a card update sends, or None when it sends none.

    Plan and apply both use this, so the plan's prediction of Metabase's side effects (which
    depend on the settings sent) is about the very body apply writes.
    """
    return item.visualization(current) if changed & VIZ_FIELDS else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def card_view_of(card: Card, live: LiveState) -> CardView:
    """The comparable view of a live card."""
    viz = card.visualization_settings or {}
    query = read_native(card.dataset_query)
    names = {d.id: d.name for d in live.databases}
    if query is None:
        database = names.get(card.database_id or -1, f"#{card.database_id}")
        sql = "(not a native SQL query)"
    else:
        database = names.get(query.database_id, f"#{query.database_id}")
        sql = query.sql
    if card.display == "progress":
        goal = _number(viz.get("progress.goal"))
        label = None
    else:
        goal = _number(viz.get("graph.goal_value"))
        if goal is not None and card.display in GRAPH_DISPLAYS and not viz.get("graph.show_goal"):
            goal = None  # a hidden goal line is not a goal the UI or the reader sees
        # Metabase's UI labels a goal line "Goal" when no label is set
        label = (viz.get("graph.goal_label") or "Goal") if goal is not None else None
    metrics = viz.get("graph.metrics")
    dims = viz.get("graph.dimensions")
    return CardView(
        name=card.name,
        description=card.description or "",
        collection=live.collection_path(card.collection_id),
        database=database,
        sql=sql,
        display=card.display,
        goal=goal,
        goal_label=str(label) if label is not None else None,
        metric=str(metrics[0]) if isinstance(metrics, list) and len(metrics) == 1 else None,
        dimension=str(dims[0]) if isinstance(dims, list) and len(dims) == 1 else None,
    )


def alert_view_of(notification: Notification, live: LiveState) -> AlertView:
    """The comparable view of a live alert (ids turned back into names)."""
    emails: set[str] = set()
    groups: set[str] = set()
    slack: set[str] = set()
    webhooks: set[str] = set()
    users = {u.id: u.email.lower() for u in live.users}
    group_names = {g.id: g.name for g in live.groups}
    hooks = {c.id: c.name for c in live.webhooks}
    for handler in notification.handlers:
        if handler.active is False:
            continue
        if handler.channel_type == "channel/http":
            webhooks.add(hooks.get(handler.channel_id or -1, f"#{handler.channel_id}"))
            continue
        for recipient in handler.recipients:
            value = (recipient.details or {}).get("value")
            if recipient.type == "notification-recipient/user":
                # Metabase hydrates the user; it is the only way to name them when the
                # credentials may not list users (a non-admin key)
                hydrated = (recipient.model_extra or {}).get("user")
                fallback = (str(hydrated["email"]).lower()
                            if isinstance(hydrated, dict) and hydrated.get("email")
                            else f"user#{recipient.user_id}")
                target = users.get(recipient.user_id or -1, fallback)
            elif recipient.type == "notification-recipient/group":
                groups.add(group_names.get(recipient.permissions_group_id or -1,
                                           f"group#{recipient.permissions_group_id}"))
                continue
            else:
                target = str(value) if value is not None else "?"
            if handler.channel_type == "channel/slack":
                slack.add(target)
            else:
                emails.add(target.lower())
    cron = ""
    for subscription in notification.subscriptions:
        if subscription.cron_schedule:
            try:
                cron = canonical_cron(subscription.cron_schedule)
            except ValueError:
                cron = subscription.cron_schedule
            break
    payload = notification.payload
    condition = payload.send_condition if payload else "has_result"
    return AlertView(
        when=WHEN_OF.get(condition, condition),
        schedule=cron,
        once=bool(payload.send_once) if payload else False,
        email=tuple(sorted(emails)),
        groups=tuple(sorted(groups)),
        slack=tuple(sorted(slack)),
        webhook=tuple(sorted(webhooks)),
    )


def _choices(names: Sequence[str]) -> str:
    return ", ".join(sorted(names)) if names else "none"


def _unknown(kind: str, name: str, known: Sequence[str], unreadable: bool = False) -> str:
    if unreadable:
        return (f"cannot check the {kind} {name!r}: these credentials may not list "
                f"{kind}s (use an admin API key)")
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no {kind} named {name!r}{hint}; the instance has: {_choices(known)}"


def resolve(
    declarations: Declarations,
    live: LiveState,
    defaults: Defaults | None = None,
) -> list[DesiredCard]:
    """Turn declarations into desired cards with ids, or raise ResolveError listing every miss.

    Pure: reads only ``live``.
    """
    defaults = defaults or Defaults()
    problems: list[Problem] = []
    out: list[DesiredCard] = []
    for question in declarations.questions:
        out.append(_resolve_question(question, declarations, live, defaults, problems))
    if problems:
        raise ResolveError(problems)
    return out


def _problem(decls: Declarations, key: str, field: str, message: str) -> Problem:
    where = decls.locate(key, field)
    return Problem(where.file, where.line, field, f"question {key!r}: {message}")


def _resolve_question(
    q: Question,
    decls: Declarations,
    live: LiveState,
    defaults: Defaults,
    problems: list[Problem],
) -> DesiredCard:
    databases = {d.name: d for d in live.databases}
    same_name = [d for d in live.databases if d.name == q.database]
    database = databases.get(q.database)
    if len(same_name) > 1:
        engines = ", ".join(f"#{d.id} ({d.engine})" for d in same_name)
        problems.append(_problem(
            decls, q.key, "database",
            f"{len(same_name)} databases are named {q.database!r}: {engines}; rename one in "
            "Metabase (Admin > Databases) so the name says which",
        ))
    elif database is None:
        problems.append(
            _problem(decls, q.key, "database", _unknown("database", q.database, list(databases)))
        )
    path = tuple(split_path(defaults.collection or "")) + tuple(split_path(q.collection or ""))
    query = NativeQuery(database.id if database else 0, q.sql)
    goal = q.goal.value if q.goal else None
    declared = {name for name in ("metric", "dimension") if getattr(q, name, None)}
    view = CardView(
        name=q.name,
        description=compose_description(q.description, q.key),
        collection="/".join(path),
        database=q.database,
        sql=normalise_sql(q.sql),
        display=q.display,
        goal=float(goal) if goal is not None else None,
        goal_label=(q.goal.label or "Goal") if q.goal and q.display != "progress" else None,
        metric=q.metric,
        dimension=getattr(q, "dimension", None),
    )
    alerts = tuple(
        _resolve_alert(q.key, index, alert, decls, live, defaults, problems)
        for index, alert in enumerate(q.alerts)
    )
    return DesiredCard(
        key=q.key,
        view=view,
        declared=frozenset(declared),
        collection_path=path,
        query=query,
        alerts=alerts,
    )


def _resolve_alert(
    key: str,
    index: int,
    alert: Alert,
    decls: Declarations,
    live: LiveState,
    defaults: Defaults,
    problems: list[Problem],
) -> DesiredAlert:
    where = f"alerts[{index}]"
    users = {u.email.lower(): u for u in live.users if u.is_active}
    groups = {g.name: g for g in live.groups}
    hooks = {c.name: c for c in live.webhooks if c.active}

    emails = sorted({e.lower() for e in (*alert.email, *defaults.email)})
    slack = sorted(set(alert.slack) | set(defaults.slack))
    handlers: list[HandlerSpec] = []

    email_recipients: list[RecipientSpec] = []
    for address in emails:
        user = users.get(address)
        if user is not None:
            email_recipients.append(RecipientSpec("notification-recipient/user", user_id=user.id))
        else:
            email_recipients.append(
                RecipientSpec("notification-recipient/raw-value", value=address)
            )
    def named(kind: str, field: str, names: list[str], known: Mapping[str, Any]) -> list[Any]:
        """The live objects called ``names``; each missing one is a located problem."""
        found = []
        for n, name in enumerate(names):
            if name in known:
                found.append(known[name])
            else:
                problems.append(_problem(decls, key, f"{where}.{field}[{n}]", _unknown(
                    kind, name, list(known), f"{kind}s" in live.unreadable)))
        return found

    for group in named("group", "groups", list(alert.groups), groups):
        email_recipients.append(RecipientSpec("notification-recipient/group", group_id=group.id))
    if email_recipients:
        if not live.email_configured:
            problems.append(_problem(
                decls, key, f"{where}.email",
                "e-mail is not set up on this Metabase (Admin > Settings > Email), so these "
                "alerts would never be delivered",
            ))
        handlers.append(HandlerSpec("channel/email", recipients=_sorted(email_recipients)))

    if slack:
        if not live.slack_configured:
            problems.append(_problem(
                decls, key, f"{where}.slack",
                "Slack is not set up on this Metabase (Admin > Settings > Notifications), so "
                "these alerts would never be delivered",
            ))
        elif live.slack_channels:
            declared = list(alert.slack)
            for channel in slack:
                if channel not in live.slack_channels:
                    field = (f"{where}.slack[{declared.index(channel)}]" if channel in declared
                             else f"{where}.slack")
                    hint = "" if channel in declared else " (from the config's defaults.slack)"
                    problems.append(_problem(
                        decls, key, field,
                        (f"Slack channel '{channel}' was renamed to "
                         f"'{live.slack_renames[channel]}' in Slack (same channel id); "
                         "use the new name" if channel in live.slack_renames else
                         _unknown("Slack channel", channel, list(live.slack_channels))
                         + " (a private channel needs the Metabase app invited)") + hint,
                    ))
        handlers.append(HandlerSpec(
            "channel/slack",
            recipients=tuple(
                RecipientSpec("notification-recipient/raw-value", value=c,
                              slack_id=live.slack_ids.get(c))
                for c in slack
            ),
        ))
    for hook in named("webhook channel", "webhook", list(alert.webhook), hooks):
        handlers.append(HandlerSpec("channel/http", channel_id=hook.id))
    handlers.sort(key=lambda h: (h.channel_type, h.channel_id or 0))

    cron = to_cron(alert.schedule)
    view = AlertView(
        when=alert.when,
        schedule=cron,
        once=alert.once,
        email=tuple(emails),
        groups=tuple(sorted(set(alert.groups))),
        slack=tuple(slack),
        webhook=tuple(sorted(set(alert.webhook))),
    )
    return DesiredAlert(
        index=index,
        view=view,
        send_condition=CONDITIONS[alert.when],
        send_once=alert.once,
        cron=cron,
        handlers=tuple(handlers),
    )


def _sorted(recipients: list[RecipientSpec]) -> tuple[RecipientSpec, ...]:
    return tuple(
        sorted(recipients, key=lambda r: (r.type, r.user_id or 0, r.group_id or 0, r.value or ""))
    )
