"""The alert kind: card alerts (``/api/notification``), resolved, diffed and written.

An alert is managed when it sits on a managed card **and** was created by the user the
credentials act as (an API key is its own user); alerts other people added to a managed card
are listed as unmanaged and left alone. Declared alerts are paired with our live ones (equal
first, then same condition, then in order); managed alerts no longer declared are deactivated,
only with ``prune``. Both sides are compared as :class:`AlertView`: names instead of ids,
canonical cron, sorted recipients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from metabase_guard.api.models import (
    AlertSpec,
    HandlerSpec,
    Notification,
    RecipientSpec,
    User,
)
from metabase_guard.errors import ApiError, Problem
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.kind import Defaults, Desired, Kind, PlanWalk, problem, unknown
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, FieldChange, Unmanaged, field_changes
from metabase_guard.reconcile.writes import create_verified, retire_live, write_idempotent
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import Alert
from metabase_guard.spec.schedule import canonical_cron, describe, to_cron

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = [
    "CONDITIONS",
    "EMAIL_OFF",
    "KIND",
    "SLACK_OFF",
    "AlertView",
    "DesiredAlert",
    "active_users",
    "alert_view_of",
    "resolve_alerts",
    "retire_alert_copies",
    "schedule_words",
    "slack_channel_problem",
]

#: Declaration ``when`` → Metabase ``send_condition``.
CONDITIONS = {"below_goal": "goal_below", "above_goal": "goal_above", "has_rows": "has_result"}
WHEN_OF = {v: k for k, v in CONDITIONS.items()}
_ALERT_FIELDS = ("when", "schedule", "once", "email", "groups", "slack", "webhook")


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


# -- the live view ----------------------------------------------------------------------------


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


def schedule_words(cron: str, timezone: str) -> str:
    """A schedule in words in the report timezone (for renderers)."""
    try:
        return describe(cron, timezone)
    except ValueError:
        return f"cron {cron} ({timezone})"


# -- the desired view ---------------------------------------------------------------------------

#: Why a delivery channel cannot deliver (``.format("alerts")``, ``.format("subscriptions")``).
EMAIL_OFF = ("e-mail is not set up on this Metabase (Admin > Settings > Email), so these {} "
             "would never be delivered")
SLACK_OFF = ("Slack is not set up on this Metabase (Admin > Settings > Notifications), so these "
             "{} would never be delivered")


def active_users(live: LiveState) -> dict[str, User]:
    """Active Metabase users by lower-case e-mail: an address of one is sent as that user."""
    return {u.email.lower(): u for u in live.users if u.is_active}


def slack_channel_problem(channel: str, live: LiveState) -> str | None:
    """Why Metabase cannot post to ``channel``, or None (also when its channels are unknown)."""
    if not live.slack_channels or channel in live.slack_channels:
        return None
    if channel in live.slack_renames:
        return (f"Slack channel '{channel}' was renamed to '{live.slack_renames[channel]}' in "
                "Slack (same channel id); use the new name")
    return (unknown("Slack channel", channel, list(live.slack_channels))
            + " (a private channel needs the Metabase app invited)")


def resolve_alerts(
    key: str,
    alerts: Sequence[Alert],
    decls: Declarations,
    live: LiveState,
    defaults: Defaults,
    problems: list[Problem],
) -> tuple[DesiredAlert, ...]:
    """The alerts of question ``key`` with ids; each unknown name is a located problem."""
    return tuple(_resolve_alert(key, index, alert, decls, live, defaults, problems)
                 for index, alert in enumerate(alerts))


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
    users = active_users(live)
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
                problems.append(problem(decls, key, f"{where}.{field}[{n}]", unknown(
                    kind, name, list(known), f"{kind}s" in live.unreadable)))
        return found

    for group in named("group", "groups", list(alert.groups), groups):
        email_recipients.append(RecipientSpec("notification-recipient/group", group_id=group.id))
    if email_recipients:
        if not live.email_configured:
            problems.append(problem(decls, key, f"{where}.email", EMAIL_OFF.format("alerts")))
        handlers.append(HandlerSpec("channel/email", recipients=_sorted(email_recipients)))

    if slack:
        if not live.slack_configured:
            problems.append(problem(decls, key, f"{where}.slack", SLACK_OFF.format("alerts")))
        else:
            declared = list(alert.slack)
            for channel in slack:
                why = slack_channel_problem(channel, live)
                if why is not None:
                    field = (f"{where}.slack[{declared.index(channel)}]" if channel in declared
                             else f"{where}.slack")
                    hint = "" if channel in declared else " (from the config's defaults.slack)"
                    problems.append(problem(decls, key, field, why + hint))
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


# -- the diff -----------------------------------------------------------------------------------


def _recipients(view: AlertView) -> list[str]:
    return [*view.email, *(f"group {g}" for g in view.groups)]


def _pair(
    desired: Sequence[DesiredAlert], live: Sequence[tuple[Notification, AlertView]]
) -> tuple[list[tuple[DesiredAlert, Notification, AlertView]], list[DesiredAlert],
           list[tuple[Notification, AlertView]]]:
    """Match declared alerts to our live ones: equal first, then same condition, then order."""
    free = sorted(live, key=lambda nv: (not nv[0].active, nv[0].id))
    pairs: list[tuple[DesiredAlert, Notification, AlertView]] = []
    left: list[DesiredAlert] = []
    pending: list[DesiredAlert] = list(desired)
    for rule in ("equal", "when", "any"):
        left = []
        for wanted in pending:
            for i, (notification, view) in enumerate(free):
                if (
                    (rule == "equal" and view == wanted.view)
                    or (rule == "when" and view.when == wanted.view.when)
                    or rule == "any"
                ):
                    pairs.append((wanted, notification, view))
                    free.pop(i)
                    break
            else:
                left.append(wanted)
        pending = left
    return pairs, left, free


def retire_alert_copies(
    key: str,
    paired: Sequence[tuple[AlertView, Notification]],
    leftovers: Sequence[tuple[Notification, AlertView]],
) -> tuple[list[Change], list[tuple[Notification, AlertView]]]:
    """Deactivate leftover alerts identical to a paired one; return them and the others.

    ``paired`` holds the declared view of each paired alert with its live alert; the leftovers
    are metabase-guard's own alerts on the card that no declaration took (duplicates.py).
    """
    retired: list[Change] = []
    rest: list[tuple[Notification, AlertView]] = []
    for notification, view in leftovers:
        twin = next((n for wanted, n in paired if wanted == view), None)
        if twin is None or not notification.active:
            rest.append((notification, view))
            continue
        retired.append(Change(
            "delete", "alert", f"alert {key}#{notification.id}", key=key,
            live_id=notification.id, values=tuple(view.as_dict().items()),
            effects=(f"{RACE}: alert #{twin.id} is kept",), duplicate=True,
        ))
    return retired, rest


def _foreign_twins(
    key: str, alert: DesiredAlert, theirs: Sequence[Notification], live: LiveState
) -> list[str]:
    """Warn when a declared alert to create already runs, made by someone else.

    The usual cause is a change of credentials (another API key, a personal login): the
    alerts the old user made are not managed by the new one, and apply would send each twice.
    """
    return [
        f"alert #{n.id} on card {key} by {live.user_label(n.creator_id)} is identical to "
        f"declared alert {alert.index + 1} of {key}: apply will create a second one; run "
        f"`metabase-guard import --card {n.payload.card_id if n.payload else '?'}` to adopt it "
        "(were the credentials changed?)"
        for n in theirs if alert_view_of(n, live) == alert.view
    ]


def _mail_effect(verb: str, recipients: list[str], mail: bool) -> tuple[str, ...]:
    if not mail or not recipients:
        return ()
    return (f"Metabase e-mails {', '.join(recipients)} that they were {verb} an alert",)


def _create_alert(key: str, alert: DesiredAlert, mail: bool) -> Change:
    values = alert.view.as_dict()
    return Change(
        "create", "alert", f"alert {alert.index + 1} of {key}", key=key, alert=alert,
        values=tuple(values.items()),
        effects=_mail_effect("added to", _recipients(alert.view), mail),
    )


def _update_alert(
    key: str,
    alert: DesiredAlert,
    notification: Notification,
    live_view: AlertView,
    mail: bool,
) -> Change | None:
    fields = field_changes(live_view.as_dict(), alert.view.as_dict(), _ALERT_FIELDS)
    if not notification.active and (fields or not alert.send_once):
        fields.append(FieldChange("active", False, True))
    if not fields:
        return None
    effects: list[str] = []
    before, after = set(_recipients(live_view)), set(_recipients(alert.view))
    if notification.active:
        effects += _mail_effect("added to", sorted(after - before), mail)
        effects += _mail_effect("removed from", sorted(before - after), mail)
    else:
        effects += _mail_effect("added to", sorted(after), mail)
    return Change(
        "update", "alert", f"alert {alert.index + 1} of {key}", key=key, live_id=notification.id,
        fields=tuple(fields), effects=tuple(effects), alert=alert,
    )


class Alerts(Kind):
    """Card alerts: on the cards of ``cards.py``, written once those cards are."""

    name = "alert"
    retired_as = "deactivate those alerts"
    depends_on = ("card",)

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Pair each declared alert with a live one of ours, per card; others left alone."""
        live = walk.live
        mail = live.email_configured
        if not live.me.is_api_key:
            walk.notes.append(
                f"metabase-guard acts as the person {live.me.email}: alerts this person made by "
                "hand on managed cards count as managed (and --prune deactivates undeclared "
                "ones). Use an API key so that only metabase-guard's own alerts are managed."
            )
        for item in desired.cards:
            state = walk.card_states[item.key]
            card = state.card
            if card is None:
                walk.changes.extend(_create_alert(item.key, alert, mail) for alert in item.alerts)
                continue
            live_alerts = [] if state.restoring else live.alerts_of(card.id)
            ours = [n for n in live_alerts if n.creator_id == live.me.id]
            theirs = [n for n in live_alerts if n.creator_id != live.me.id and n.active]
            walk.existing += sum(1 for n in ours if n.active)
            for n in theirs:
                walk.unmanaged.append(Unmanaged(
                    f"alert #{n.id} on card {item.key}",
                    f"created by {live.user_label(n.creator_id)}, not by metabase-guard's "
                    f"user {live.me.email}; left alone",
                ))
            if state.kills_alerts:
                ours = [n for n in ours if not n.active]  # Metabase deletes the active ones
            self._pair_card(item.key, item.alerts, ours, theirs, walk)
        if not live.me.is_superuser:
            created = sum(1 for c in walk.changes if c.kind == "alert" and c.action == "create")
            if created:
                walk.notes.append(
                    f"these credentials are not a Metabase admin, so they cannot see alerts "
                    f"that other users made and that do not mail them: {created} alert(s) to "
                    "create were checked only against the alerts these credentials can see"
                )

    @staticmethod
    def _pair_card(key: str, declared: Sequence[DesiredAlert], ours: list[Notification],
                   theirs: list[Notification], walk: PlanWalk) -> None:
        live = walk.live
        mail = live.email_configured
        live_by_id = {n.id: n for n in ours}
        pairs, creates, leftovers = _pair(declared, [(n, alert_view_of(n, live)) for n in ours])
        for alert in creates:
            walk.changes.append(_create_alert(key, alert, mail))
            walk.notes.extend(_foreign_twins(key, alert, theirs, live))
        retired, leftovers = retire_alert_copies(
            key, [(a.view, n) for a, n, _ in pairs], leftovers
        )
        walk.changes.extend(
            replace(c, effects=c.effects + _mail_effect(
                "removed from", _recipients(alert_view_of(live_by_id[c.live_id], live)), mail))
            for c in retired if c.live_id is not None
        )
        walk.existing -= len(retired)  # copies are not what the thresholds measure
        for alert, notification, view in pairs:
            change = _update_alert(key, alert, notification, view, mail)
            if change is not None:
                walk.changes.append(change)
        for notification, view in leftovers:
            if not notification.active:
                continue
            walk.delete(Change(
                "delete", "alert", f"alert {key}#{notification.id}", key=key,
                live_id=notification.id,
                values=tuple((k, v) for k, v in view.as_dict().items()),
                effects=_mail_effect("removed from", _recipients(view), mail),
            ))

    # -- writes -----------------------------------------------------------------------------

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Create, update or deactivate one alert, on the card the card phase settled on."""
        if change.action == "delete":
            retire_live(change, lambda live_id: ctx.client.notifications.set_active(live_id, False))
            return
        alert = change.alert
        assert alert is not None
        card_id = ctx.cards.get(change.key)
        if card_id is None:
            raise ApiError(f"card {change.key} does not exist, so its alert cannot be written")
        if change.action == "create":
            known = {n.id for n in ctx.live.notifications}
            me = ctx.live.me.id

            def find() -> Any:
                # an identical alert on the card that an earlier create of this run made (its
                # answer lost too) is that one's, not this one's
                with ctx.lock:
                    ours = set(ctx.created_alerts)
                for n in ctx.client.notifications.list(card_id=card_id, include_inactive=True):
                    if (n.id not in known and n.id not in ours and n.creator_id == me
                            and alert_view_of(n, ctx.live) == alert.view):
                        return n
                return None

            made = create_verified(
                lambda: ctx.client.notifications.create(alert.spec(card_id)), find
            )
            with ctx.lock:
                ctx.created_alerts[made.id] = change
        else:
            assert change.live_id is not None
            live_id = change.live_id
            write_idempotent(lambda: ctx.client.notifications.update(live_id, alert.spec(card_id)))

    # -- racing applies (docs/ci.md#concurrency) -------------------------------------------

    @staticmethod
    def _raced(ctx: WriteContext) -> dict[tuple[int, AlertView], list[Notification]]:
        """Active alerts of metabase-guard's user made since the snapshot by another run."""
        known = {n.id for n in ctx.live.notifications}
        out: dict[tuple[int, AlertView], list[Notification]] = {}
        for n in sorted(ctx.client.notifications.list(creator_id=ctx.live.me.id),
                        key=lambda n: n.id):
            if (n.active and n.payload and n.id not in known
                    and n.id not in ctx.created_alerts and n.id not in ctx.taken_alerts):
                out.setdefault((n.payload.card_id, alert_view_of(n, ctx.live)), []).append(n)
        return out

    def prepare(self, changes: list[Change], ctx: WriteContext) -> list[Change]:
        """Alert creates still to make: an identical alert a racing apply made is used."""
        if not any(c.action == "create" for c in changes):
            return changes
        raced = self._raced(ctx)

        def taken(change: Change) -> bool:
            card_id = ctx.cards.get(change.key)
            pool = raced.get((card_id, change.alert.view), []) if change.alert and card_id else []
            if not pool:
                return False
            # one of theirs stands for one of ours, so settle must not count it again
            ctx.taken_alerts.add(pool.pop(0).id)
            return True

        return ctx.skip_made_elsewhere(changes, taken)

    def settle(self, ctx: WriteContext) -> None:
        """After the creates: an alert a racing apply made first, identical to ours, is kept."""
        if not ctx.created_alerts or ctx.stopped:
            return
        raced = self._raced(ctx)
        for made_id, change in sorted(ctx.created_alerts.items()):
            card_id = ctx.cards.get(change.key)
            if change.alert is None or card_id is None:
                continue
            older = [n for n in raced.get((card_id, change.alert.view), []) if n.id < made_id]
            if not older:
                continue
            raced[(card_id, change.alert.view)].remove(older[0])  # one of ours per one of theirs
            write_idempotent(partial(ctx.client.notifications.set_active, made_id, False))
            ctx.retired(Change("delete", "alert", f"alert {change.key}#{made_id}",
                               key=change.key, live_id=made_id,
                               effects=(f"{RACE}: alert #{older[0].id} is kept",)))


KIND = Alerts()
