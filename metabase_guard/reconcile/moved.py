"""``moved: {from: old-key, to: new-key}``: re-key a managed card and its alerts in place.

Without it, renaming a key plans a second card (and the old one keeps alerting). With it, the
plan is made against a snapshot in which the old card already answers to the new key, so its
alerts pair with the declared ones as usual; then the card's update gets the marker change
(``description``), which is what apply writes to hand the card to the new key. Once applied,
the move is a no-op: no card carries the old key any more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from metabase_guard.errors import ConfigError
from metabase_guard.reconcile.cards import DesiredCard
from metabase_guard.reconcile.identity import compose_description, user_description
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, FieldChange, Plan

__all__ = ["moved_live", "with_moves"]


def _pending(live: LiveState, moves: Sequence[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """The moves still to make, as (old, new, card id); refuses when both keys have a card."""
    managed = live.managed_cards()
    out: list[tuple[str, str, int]] = []
    for old, new in moves:
        card = managed.get(old)
        if card is None:
            continue  # already moved, or never existed: nothing to re-key
        if new in managed:
            raise ConfigError(
                f"moved: {old!r} -> {new!r}: both keys have a card on the instance (#{card.id} "
                f"and #{managed[new].id}); archive one of them by hand, then plan again"
            )
        out.append((old, new, card.id))
    return out


def moved_live(live: LiveState, moves: Sequence[tuple[str, str]]) -> LiveState:
    """The snapshot in which each moved card already carries its new key (nothing written)."""
    pending = {card_id: new for _, new, card_id in _pending(live, moves)}
    if not pending:
        return live
    cards = [
        c.model_copy(update={"description": compose_description(
            user_description(c.description), pending[c.id])}) if c.id in pending else c
        for c in live.cards
    ]
    return dataclasses.replace(live, cards=cards)


def with_moves(plan: Plan, live: LiveState, desired: Sequence[DesiredCard],
               moves: Sequence[tuple[str, str]]) -> Plan:
    """``plan`` (made on :func:`moved_live`) with the marker rewrite of each moved card.

    ``live`` is the snapshot as read, where the card still carries its old key. Refuses a
    move whose new key the plan writes to another card than the one it re-keys.
    """
    pending = _pending(live, moves)
    if not pending:
        return plan
    by_key = {d.key: d for d in desired}
    by_id = {c.id: c for c in live.cards}
    changes = list(plan.changes)
    notes = list(plan.notes)
    for old, new, card_id in pending:
        item = by_key[new]
        marker = FieldChange("description", by_id[card_id].description or "",
                             item.view.description)
        address = f"card {new}"
        index = next((i for i, c in enumerate(changes)
                      if c.kind == "card" and c.key == new), None)
        if index is not None and changes[index].live_id != card_id:
            raise ConfigError(
                f"moved: {old!r} -> {new!r}: the plan writes {new!r} to card "
                f"#{changes[index].live_id}, not to card #{card_id}, the card this move re-keys "
                "(a second move to the same key, or the key's card restored from the Trash); "
                "keep one move per key and no card of the new key in the Trash, then plan again"
            )
        if index is None:
            changes.append(Change("update", "card", address, key=new, live_id=card_id,
                                  fields=(marker,), card=item))
        else:
            found = changes[index]
            fields = tuple(f for f in found.fields if f.field != "description")
            changes[index] = dataclasses.replace(found, fields=(marker, *fields))
        notes.append(f"moved: card #{card_id} is re-keyed from {old!r} to {new!r}, with its "
                     "alerts; nothing is recreated")
    # apply puts the alerts of the new key on the re-keyed card, not on a card found anew
    card_ids = dict(plan.card_ids)
    for old, new, card_id in pending:
        card_ids.pop(old, None)
        card_ids[new] = card_id
    return plan.replaced(changes=changes, notes=notes, card_ids=card_ids)
