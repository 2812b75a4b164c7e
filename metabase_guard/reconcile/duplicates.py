"""Copies of managed objects, and which of them apply retires. Pure.

Two applies that run at the same time both read "nothing there" and both create every card,
alert and collection: metabase-guard's own user then owns two of each. The next plan keeps the
copy that user created first (lowest id) and retires the others, so every racing run reaches
the same verdict and one more apply leaves one object per key and per path
(docs/identity.md#copies-made-by-a-concurrent-apply).

A copy is retired only when nothing but metabase-guard could have made it:

- a **card** whose marker repeats the managed card's key, created by metabase-guard's user,
  identical to the managed card (same name, SQL, database, display, goal and collection path)
  and with no active alert by anyone else; a copy made in the UI (another creator) or a card
  whose marker was edited by hand (it differs) is only reported;
- an **alert** of metabase-guard's user on a managed card, identical to another one of that
  user that a declaration already pairs with;
- a **collection** that metabase-guard created (its description is
  ``identity.COLLECTION_MARK``) at the path of an older one,
  and that holds nothing once its cards are moved out or retired.
"""

from __future__ import annotations

from collections.abc import Collection as Container
from collections.abc import Sequence

from metabase_guard.api.models import Card, Notification
from metabase_guard.reconcile.desired import AlertView, card_view_of
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Unmanaged

__all__ = ["RACE", "retire_alert_copies", "retire_card_copy", "retire_collection_copies"]

#: The words every retirement carries, in plans and their JSON.
RACE = "duplicate created by a concurrent apply"
_SAME = ("name", "sql", "database", "display", "goal", "collection")


def retire_card_copy(key: str, kept: Card, copy: Card, live: LiveState) -> Change | Unmanaged:
    """Archive ``copy`` (a second card carrying ``key``), or say why it is left alone."""
    me = live.me.id
    alive = [n for n in live.alerts_of(copy.id) if n.active]
    if copy.creator_id != me:
        return Unmanaged(
            f"card #{copy.id}",
            f"carries the mark of {key!r} but card #{kept.id} is the managed one (a duplicate "
            "made in the UI?); remove the mark from its description",
        )
    ours, theirs = card_view_of(kept, live).as_dict(), card_view_of(copy, live).as_dict()
    differs = [f for f in _SAME if ours[f] != theirs[f]]
    if differs:
        return Unmanaged(
            f"card #{copy.id}",
            f"carries the mark of {key!r}, but card #{kept.id}, which metabase-guard's user "
            f"created first, is the managed one, and #{copy.id} differs from it "
            f"({', '.join(differs)}): its mark was probably edited by hand. It is left alone "
            f"and its {len(alive)} active alert(s) keep running; give it back its own mark "
            "(or import it) or archive it",
        )
    foreign = [n for n in alive if n.creator_id != me]
    if foreign:
        return Unmanaged(
            f"card #{copy.id}",
            f"is a copy of managed card #{kept.id} ({RACE}?), but {len(foreign)} alert(s) by "
            "other users sit on it: left alone, archive it by hand once they are moved",
        )
    effects = [f"{RACE}: card #{kept.id}, created first, is kept"]
    if alive:
        effects.append(f"Metabase deletes the card's {len(alive)} active alert(s) when it is "
                       "archived")
    return Change(
        "delete", "card", f"card {key}#{copy.id}", key=key, live_id=copy.id,
        values=(("name", copy.name), ("collection", live.collection_path(copy.collection_id))),
        effects=tuple(effects), duplicate=True,
    )


def retire_alert_copies(
    key: str,
    paired: Sequence[tuple[AlertView, Notification]],
    leftovers: Sequence[tuple[Notification, AlertView]],
) -> tuple[list[Change], list[tuple[Notification, AlertView]]]:
    """Deactivate leftover alerts identical to a paired one; return them and the others.

    ``paired`` holds the declared view of each paired alert with its live alert; the leftovers
    are metabase-guard's own alerts on the card that no declaration took.
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


def retire_collection_copies(
    live: LiveState, leaving: Container[int]
) -> tuple[list[Change], list[Unmanaged]]:
    """Archive metabase-guard's copies of a collection path once nothing stays in them.

    ``leaving`` holds the ids of the cards the plan moves out of, or archives from, a copy.
    Children are decided before their parents: a copy is empty when its cards leave and its
    sub-collections are retired too.
    """
    copies = live.collection_copies()
    retired: set[int] = set()
    changes: list[Change] = []
    unmanaged: list[Unmanaged] = []
    for coll in sorted(copies, key=lambda c: (-len(c.ancestor_ids), int(c.id))):
        cid = int(coll.id)
        path = live.collection_path(cid)
        kept = live.collection_id(path)
        staying = [
            item for item in live.collection_items.get(cid, [])
            if not (item.get("model") == "collection" and item.get("id") in retired)
            and not (item.get("model") == "card" and item.get("id") in leaving)
        ]
        if staying:
            unmanaged.append(Unmanaged(
                f"collection #{cid}",
                f"was created by metabase-guard at the path {path!r} of collection #{kept} "
                f"({RACE}?) but still holds {len(staying)} item(s) that are not managed "
                "copies: left alone",
            ))
            continue
        retired.add(cid)
        changes.append(Change(
            "delete", "collection", f"collection {path}#{cid}", live_id=cid,
            values=(("path", path),),
            effects=(f"{RACE}: collection #{kept}, created first, is kept",), duplicate=True,
        ))
    return changes, unmanaged
