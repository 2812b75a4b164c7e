"""The diff: desired cards against a live snapshot, giving a :class:`Plan`. Pure.

Ownership rules (docs/identity.md):

- a card is managed when its description ends with the marker line of a key (``identity.py``;
  a key claimed twice goes to the card metabase-guard's user created first, ``duplicates.py``);
  hand-made cards, even with the same name in the same collection, are never changed;
- an alert is managed when it sits on a managed card **and** was created by the user the
  credentials act as (an API key is its own user); alerts other people added to a managed card
  are listed as unmanaged and left alone;
- deletes happen only with ``prune``: managed cards whose declaration is gone are archived,
  managed alerts that are no longer declared are deactivated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from metabase_guard.api.models import Card, Notification
from metabase_guard.api.resources import split_path
from metabase_guard.reconcile.desired import (
    AlertView,
    CardView,
    DesiredAlert,
    DesiredCard,
    alert_view_of,
    card_view_of,
    display_family,
    settings_to_send,
)
from metabase_guard.reconcile.duplicates import (
    retire_alert_copies,
    retire_card_copy,
    retire_collection_copies,
)
from metabase_guard.reconcile.identity import managed_key, mentioned_key
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, FieldChange, Plan, Unmanaged
from metabase_guard.spec.schedule import describe

__all__ = ["card_change_deletes_alerts", "make_plan", "schedule_words"]

_CARD_FIELDS = ("name", "description", "collection", "database", "sql", "display", "goal",
                "goal_label")
_ALERT_FIELDS = ("when", "schedule", "once", "email", "groups", "slack", "webhook")


def card_change_deletes_alerts(
    old_display: str,
    new_display: str,
    old_settings: dict[str, Any],
    new_settings: dict[str, Any],
) -> str | None:
    """Why Metabase will delete every active alert of a card on this change, or None.

    Mirrors Metabase's card-save hook (metabase-api.md 3.10; metabase/metabase
    ``src/metabase/queries/events/cards_notification_deleted_on_card_save.clj``): a display
    change across families, or ``graph.goal_value`` disappearing. Archiving is handled by
    the caller.
    """
    if display_family(old_display) != display_family(new_display):
        return f"the display changes from {old_display} to {new_display}"
    # Clojure truthiness (``goal-missing?``): only nil and false are no goal; a goal of 0 is a
    # goal. Tested with ``is``: in Python ``0 in (None, False)`` is true.
    if _truthy(old_settings.get("graph.goal_value")) and not _truthy(
        new_settings.get("graph.goal_value")
    ):
        return "the goal line is removed"
    return None


def _truthy(value: Any) -> bool:
    return value is not None and value is not False


def _fields(old: dict[str, Any], new: dict[str, Any], names: Sequence[str]) -> list[FieldChange]:
    return [FieldChange(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


def _card_fields(old: CardView, desired: DesiredCard) -> list[FieldChange]:
    names = list(_CARD_FIELDS)
    if desired.view.goal is None or desired.view.display == "progress":
        names.remove("goal_label")
    names += [n for n in ("metric", "dimension") if n in desired.declared]
    return _fields(old.as_dict(), desired.view.as_dict(), names)


def _user_label(live: LiveState, user_id: int | None) -> str:
    for user in live.users:
        if user.id == user_id:
            return user.email
    if live.me.id == user_id:
        return live.me.email
    return f"user #{user_id} (an API key, or a deactivated user)"


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


def make_plan(
    desired: Sequence[DesiredCard],
    live: LiveState,
    *,
    url: str,
    prune: bool = False,
) -> Plan:
    """Everything apply would change for ``desired`` on ``live``, in a safe order."""
    changes: list[Change] = []
    unmanaged: list[Unmanaged] = []
    pending: list[Change] = []
    notes = list(live.warnings)
    if not live.me.is_api_key:
        notes.append(
            f"metabase-guard acts as the person {live.me.email}: alerts this person made by "
            "hand on managed cards count as managed (and --prune deactivates undeclared ones). "
            "Use an API key so that only metabase-guard's own alerts are managed."
        )
    claims = _without_moved_marks(live.claims(), desired, live, unmanaged)
    managed = {key: cards[0] for key, cards in claims.items()}
    archived = live.archived_managed_cards()
    mail = live.email_configured
    existing = 0

    leaving: set[int] = set()  # cards the plan moves out of, or archives from, a collection copy
    for key, (kept, *copies) in sorted(claims.items()):
        for copy in copies:
            verdict = retire_card_copy(key, kept, copy, live)
            if isinstance(verdict, Unmanaged):
                unmanaged.append(verdict)
                continue
            changes.append(verdict)
            leaving.add(copy.id)
    for hand in live.cards:
        mentioned = mentioned_key(hand.description)
        if mentioned is not None:
            unmanaged.append(Unmanaged(
                f"card #{hand.id}",
                f"mentions the mark of {mentioned!r} in its description, but not as its last "
                "line: a mention is text, so the card is not managed and never changed",
            ))

    planned_paths: set[tuple[str, ...]] = set()
    for item in desired:
        for depth in range(1, len(item.collection_path) + 1):
            prefix = item.collection_path[:depth]
            if prefix in planned_paths:
                continue
            if live.collection_id("/".join(prefix)) == "missing":
                planned_paths.add(prefix)
                changes.append(Change("create", "collection", f"collection {'/'.join(prefix)}",
                                      values=(("path", "/".join(prefix)),)))

    declared_keys = {d.key for d in desired}
    for item in desired:
        card: Card | None = managed.get(item.key)
        restoring = card is None and item.key in archived
        if restoring:
            card = archived[item.key]
        address = f"card {item.key}"
        if card is None:
            changes.append(Change(
                "create", "card", address, key=item.key, card=item,
                values=tuple((k, v) for k, v in item.view.as_dict().items()
                             if v is not None or k in ("goal",)),
            ))
            _hand_made_twin(item, live, unmanaged)
            for alert in item.alerts:
                changes.append(_create_alert(item.key, alert, mail))
            continue

        existing += 1
        old_view = card_view_of(card, live)
        kept_collection = live.collection_id("/".join(item.collection_path))
        if (not restoring and old_view.collection == item.view.collection
                and card.collection_id != kept_collection):
            # same path, but a copy of the collection (racing applies): move to the kept one
            leaving.add(card.id)
            old_view = replace(old_view, collection=f"{old_view.collection} "
                               f"(copy #{card.collection_id})")
        fields = _card_fields(old_view, item)
        if restoring:
            fields.insert(0, FieldChange("archived", True, False))
        sent = settings_to_send(item, card.visualization_settings, {f.field for f in fields})
        kill_reason = None if restoring or not fields else card_change_deletes_alerts(
            card.display,
            item.view.display,
            card.visualization_settings,
            card.visualization_settings if sent is None else sent,
        )
        live_alerts = [] if restoring else live.alerts_of(card.id)
        ours = [n for n in live_alerts if n.creator_id == live.me.id]
        theirs = [n for n in live_alerts if n.creator_id != live.me.id and n.active]
        existing += sum(1 for n in ours if n.active)
        for n in theirs:
            unmanaged.append(Unmanaged(
                f"alert #{n.id} on card {item.key}",
                f"created by {_user_label(live, n.creator_id)}, not by metabase-guard's user "
                f"{live.me.email}; left alone",
            ))
        effects: list[str] = []
        if kill_reason and fields:
            doomed = [n for n in live_alerts if n.active]
            if doomed:
                effects.append(
                    f"Metabase deletes all {len(doomed)} active alert(s) of this card"
                    + (" and e-mails their recipients" if mail else "")
                    + f" because {kill_reason}" + (
                        f", including {len(doomed) - sum(1 for n in doomed if n in ours)} "
                        "not managed by metabase-guard"
                        if any(n not in ours for n in doomed) else ""
                    ) + "; metabase-guard recreates its own"
                )
        if fields:
            changes.append(Change("update", "card", address, key=item.key, live_id=card.id,
                                  fields=tuple(fields), effects=tuple(effects), card=item))
        if kill_reason and fields:
            ours = [n for n in ours if not n.active]  # Metabase deletes the active ones
        live_by_id = {n.id: n for n in ours}
        pairs, creates, leftovers = _pair(
            item.alerts, [(n, alert_view_of(n, live)) for n in ours]
        )
        for alert in creates:
            changes.append(_create_alert(item.key, alert, mail))
            notes.extend(_foreign_twins(item.key, alert, theirs, live))
        retired, leftovers = retire_alert_copies(
            item.key, [(a.view, n) for a, n, _ in pairs], leftovers
        )
        changes.extend(
            replace(c, effects=c.effects + _mail_effect(
                "removed from", _recipients(alert_view_of(live_by_id[c.live_id], live)), mail))
            for c in retired if c.live_id is not None
        )
        existing -= len(retired)  # copies are not what the thresholds measure
        for alert, notification, view in pairs:
            change = _update_alert(item.key, alert, notification, view, mail)
            if change is not None:
                changes.append(change)
        for notification, view in leftovers:
            if not notification.active:
                continue
            change = Change(
                "delete", "alert", f"alert {item.key}#{notification.id}", key=item.key,
                live_id=notification.id,
                values=tuple((k, v) for k, v in view.as_dict().items()),
                effects=_mail_effect("removed from", _recipients(view), mail),
            )
            (changes if prune else pending).append(change)

    for key, stale in sorted(managed.items()):
        if key in declared_keys:
            continue
        if stale.creator_id != live.me.id:
            # another project (its own key) or an adopted card: a prune from here must not
            # archive what this project did not create
            unmanaged.append(Unmanaged(
                f"card #{stale.id}",
                f"carries the mark of {key!r}, which these declarations do not have, but was "
                f"created by {_user_label(live, stale.creator_id)}, not by metabase-guard's "
                "user: never archived from here, even with --prune (archive it by hand if "
                "it is really gone)",
            ))
            continue
        alive = [n for n in live.alerts_of(stale.id) if n.active]
        existing += 1 + sum(1 for n in alive if n.creator_id == live.me.id)
        archive_effects = (
            (f"Metabase deletes the card's {len(alive)} active alert(s) when it is archived",)
            if alive else ()
        )
        change = Change("delete", "card", f"card {key}", key=key, live_id=stale.id,
                        retires=1 + sum(1 for n in alive if n.creator_id == live.me.id),
                        values=(("name", stale.name),
                                ("collection", live.collection_path(stale.collection_id))),
                        effects=archive_effects)
        (changes if prune else pending).append(change)

    retired_collections, kept_collections = retire_collection_copies(live, leaving)
    changes.extend(retired_collections)
    unmanaged.extend(kept_collections)
    if not live.me.is_superuser:
        created = sum(1 for c in changes if c.kind == "alert" and c.action == "create")
        if created:
            notes.append(
                f"these credentials are not a Metabase admin, so they cannot see alerts that "
                f"other users made and that do not mail them: {created} alert(s) to create "
                "were checked only against the alerts these credentials can see"
            )
    if pending:
        notes.append(
            f"{len(pending)} managed object(s) are no longer declared; they are kept. "
            "Run with --prune to archive those cards and deactivate those alerts."
        )
    return Plan.build(
        url=url,
        version=str(live.version),
        timezone=live.report_timezone,
        changes=changes,
        existing=existing,
        unmanaged=unmanaged,
        pending_deletes=pending,
        notes=notes,
        prune=prune,
        card_ids={key: card.id for key, card in managed.items()},
    )


def _without_moved_marks(
    claims: dict[str, list[Card]],
    desired: Sequence[DesiredCard],
    live: LiveState,
    unmanaged: list[Unmanaged],
) -> dict[str, list[Card]]:
    """Drop a claimant whose marker was edited by hand to another declared key.

    Such a card was made by metabase-guard for key J (it has J's declared name and SQL) and
    now carries K's mark; created first, it would take K over and the real card of K would
    look like a copy. It is left alone and reported, with the import that gives it back to J.
    """
    shapes = {d.key: (d.view.name, d.view.sql) for d in desired}
    owners: dict[tuple[str, str], str] = {}
    for k, v in shapes.items():
        owners.setdefault(v, k)
    out: dict[str, list[Card]] = {}
    for key, cards in claims.items():
        if len(cards) < 2:
            out[key] = cards
            continue
        keep: list[Card] = []
        for card in cards:
            view = card_view_of(card, live)
            shape = (view.name, view.sql)
            owner = owners.get(shape)
            if (card.creator_id == live.me.id and owner is not None and owner != key
                    and shapes.get(key) != shape):
                unmanaged.append(Unmanaged(
                    f"card #{card.id}",
                    f"carries the mark of {key!r} but has the name and SQL of {owner!r}: its "
                    "mark was probably edited by hand, so it is left alone (its alerts keep "
                    f"running). Run `metabase-guard import --card {card.id} --key {owner}` "
                    "to give it back its own key",
                ))
                continue
            keep.append(card)
        out[key] = keep or cards
    return out


def _hand_made_twin(item: DesiredCard, live: LiveState, unmanaged: list[Unmanaged]) -> None:
    """Say plainly why an unmarked card that looks like ``item`` is not taken over."""
    path = "/".join(split_path(item.view.collection))
    for card in live.cards_named(item.view.name):
        if managed_key(card.description) is not None:
            continue
        where = live.collection_path(card.collection_id) or "the root collection"
        ours = [n for n in live.alerts_of(card.id) if n.active and n.creator_id == live.me.id]
        if ours:
            why = (f"has the name {card.name!r} in {where} and {len(ours)} active alert(s) made "
                   "by metabase-guard's user, but no metabase-guard mark: the mark was probably "
                   "removed by hand, so metabase-guard no longer manages it (its alerts keep "
                   "running) and creates a new card")
        elif live.collection_path(card.collection_id) == path:
            why = (f"has the name {card.name!r} in {where} but no metabase-guard mark "
                   "(hand-made, or its mark was removed by hand); it is left alone and a new "
                   "card is created")
        else:
            continue
        unmanaged.append(Unmanaged(
            f"card #{card.id}",
            f"{why} for {item.key!r}. To manage this card instead, run "
            f"`metabase-guard import --card {card.id} --key {item.key}` before applying.",
        ))


def _foreign_twins(
    key: str, alert: DesiredAlert, theirs: Sequence[Notification], live: LiveState
) -> list[str]:
    """Warn when a declared alert to create already runs, made by someone else.

    The usual cause is a change of credentials (another API key, a personal login): the
    alerts the old user made are not managed by the new one, and apply would send each twice.
    """
    return [
        f"alert #{n.id} on card {key} by {_user_label(live, n.creator_id)} is identical to "
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
    fields = _fields(live_view.as_dict(), alert.view.as_dict(), _ALERT_FIELDS)
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


def schedule_words(cron: str, timezone: str) -> str:
    """A schedule in words in the report timezone (for renderers)."""
    try:
        return describe(cron, timezone)
    except ValueError:
        return f"cron {cron} ({timezone})"

