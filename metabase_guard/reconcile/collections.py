"""The collection kind: the collections declared objects live in, created parents first.

metabase-guard creates the collections a declaration names and marks each with
``identity.COLLECTION_MARK``; it never updates or archives a collection someone made. The one
delete it plans is of a copy of a path (made by an apply that raced another, duplicates.py)
that holds nothing once the plan has moved its cards out.
"""

from __future__ import annotations

from collections.abc import Collection as Container
from typing import TYPE_CHECKING, Any

from metabase_guard.api.resources import split_path
from metabase_guard.errors import ApiError
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.identity import COLLECTION_MARK
from metabase_guard.reconcile.kind import Desired, Kind, PlanWalk
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Unmanaged
from metabase_guard.reconcile.writes import create_verified, write_idempotent

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = ["KIND", "collection_id", "retire_collection_copies"]


def _paths(desired: Desired) -> list[tuple[str, ...]]:
    """Every collection path the declared objects need, in declaration order."""
    return [*(item.collection_path for item in desired.cards),
            *(item.collection_path for item in desired.dashboards)]


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


def collection_id(ctx: WriteContext, path: tuple[str, ...]) -> int | None:
    """The id to write into at ``path`` during an apply (None for the root collection)."""
    if not path:
        return None
    if path in ctx.collections:
        return ctx.collections[path]
    found = ctx.live.collection_id("/".join(path))
    if isinstance(found, str):
        raise ApiError(f"collection {'/'.join(path)} was not created")
    return found


class Collections(Kind):
    """Collections: created before anything is put in them, level by level, parents first."""

    name = "collection"
    retired_as = "archive those collections"

    def batches(self, changes: list[Change]) -> list[list[Change]]:
        """One batch per depth, written concurrently: a child needs its parent's id.

        Siblings need nothing of each other: each create looks only for its own name under
        its own parent.
        """
        levels: dict[int, list[Change]] = {}
        for change in changes:
            depth = len(split_path(str(dict(change.values).get("path", ""))))
            levels.setdefault(depth, []).append(change)
        return [levels[depth] for depth in sorted(levels)]

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """A create for each missing collection on a declared path, parents first."""
        planned: set[tuple[str, ...]] = set()
        for path in _paths(desired):
            for depth in range(1, len(path) + 1):
                prefix = path[:depth]
                if prefix in planned:
                    continue
                if walk.live.collection_id("/".join(prefix)) == "missing":
                    planned.add(prefix)
                    walk.changes.append(Change(
                        "create", "collection", f"collection {'/'.join(prefix)}",
                        values=(("path", "/".join(prefix)),)))

    def retire(self, desired: Desired, walk: PlanWalk) -> None:
        """Copies of a path (racing applies) that the plan empties are archived."""
        retired, kept = retire_collection_copies(walk.live, walk.leaving)
        walk.changes.extend(retired)
        walk.unmanaged.extend(kept)

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Create a missing collection, or archive an empty copy."""
        if change.action == "delete":
            self._archive_copy(change, ctx)
            return
        path = tuple(split_path(str(dict(change.values)["path"])))
        parent = collection_id(ctx, path[:-1])
        known = {c.id for c in ctx.live.collections}

        def siblings() -> list[Any]:
            return sorted((c for c in ctx.client.collections.list()
                           if isinstance(c.id, int) and not c.archived
                           and c.personal_owner_id is None
                           and c.name == path[-1] and c.parent_id == parent),
                          key=lambda c: int(c.id))

        # another apply may have made it since the snapshot: use it rather than a second one
        there = siblings()
        if there:
            ctx.collections[path] = int(there[0].id)
            ctx.made_elsewhere(change)
            return

        def find() -> Any:
            return next((c for c in siblings() if c.id not in known), None)

        made = create_verified(
            lambda: ctx.client.collections.create(path[-1], parent_id=parent,
                                                  description=COLLECTION_MARK),
            find,
        )
        # ids grow with commits, so a racing apply's older collection is visible by now: the
        # oldest wins in both runs, and ours goes (still empty: children come after it)
        after = siblings()
        oldest = after[0] if after else made
        if int(oldest.id) != int(made.id):
            write_idempotent(lambda: ctx.client.collections.update(int(made.id), archived=True))
            ctx.retired(Change("delete", "collection", f"collection {'/'.join(path)}#{made.id}",
                               live_id=int(made.id), effects=(f"{RACE}: collection "
                                                              f"#{oldest.id} is kept",)))
        ctx.collections[path] = int(oldest.id)

    @staticmethod
    def _archive_copy(change: Change, ctx: WriteContext) -> None:
        assert change.live_id is not None
        live_id = change.live_id
        # Metabase moves what is inside to the Trash with the collection and deletes the
        # alerts of its cards (metabase-api.md 3.10, metabase/metabase
        # src/metabase/collections_rest/api.clj): look again, in case a concurrent apply put a
        # card in this copy since the plan was made
        retiring = {c.live_id for c in ctx.plan.changes
                    if c.kind == "collection" and c.action == "delete"}
        inside = [i for i in ctx.client.collections.items(live_id, models=())
                  if not (i.get("model") == "collection" and i.get("id") in retiring)]
        if inside:
            raise ApiError(f"collection #{live_id} is no longer empty ({len(inside)} "
                           "item(s)), so it is left alone; run plan again")
        write_idempotent(lambda: ctx.client.collections.update(live_id, archived=True))


KIND = Collections()
