"""Carry out a plan through the client, in an order Metabase's side effects cannot spoil.

Phases, each finished before the next starts: missing collections (parents first), cards
(creates and updates, concurrently), alerts (concurrently, after the card changes that could make
Metabase delete them), then deletes (alerts deactivated before cards are archived). Within a
phase, independent writes run in a bounded pool.

On the first failure no new write is started; writes already in flight finish. The report says
what was done, what failed and what was not attempted. Because identity lives in Metabase (the
card marker, the alert creator), the next apply reads what this one managed to do and completes
the job without duplicates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import Notification
from metabase_guard.api.query import write_native
from metabase_guard.api.resources import split_path
from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ApplyError,
    RateLimitError,
    ServerError,
)
from metabase_guard.reconcile.desired import AlertView, alert_view_of, settings_to_send
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.identity import COLLECTION_MARK, managed_key
from metabase_guard.reconcile.live import LiveState, claims_of
from metabase_guard.reconcile.plan import Change, Plan

__all__ = ["ApplyReport", "apply_plan"]

Progress = Callable[[Change, str, str | None], None]
T = TypeVar("T")

#: How often a create whose outcome is unknown is looked up and tried again.
CREATE_ATTEMPTS = 3
#: After a timed-out create: when to look for the object before giving up (seconds).
SETTLE_WAITS = (0.5, 1.0, 2.0, 4.0)
_UNKNOWN_OUTCOME = (ApiConnectionError, ServerError, RateLimitError)


def create_verified(create: Callable[[], T], find: Callable[[], T | None]) -> T:
    """Create once, even when answers get lost.

    A POST is never replayed blindly by the transport: if its answer was lost or was a server
    error, the object may exist anyway. So look for it (by its marker, or by its content and
    creator) and only try again when it is really not there.
    """
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return create()
        except ApiTimeoutError:
            # the first POST may still be running on the server: wait for it to land rather
            # than send a second one; if it never shows, stop (the next apply finds it)
            for delay in SETTLE_WAITS:
                time.sleep(delay)
                found = find()
                if found is not None:
                    return found
            raise
        except _UNKNOWN_OUTCOME:
            found = find()
            if found is not None:
                return found
            if attempt == CREATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def write_idempotent(write: Callable[[], T]) -> T:
    """An update (PUT) whose outcome is unknown is simply made again.

    Every update apply makes is idempotent: a card PUT sends the same values, an alert
    update reads the alert afresh and merges into it, deactivating and archiving set a flag.
    So a 500 after Metabase committed, or a lost answer, costs one more PUT, not a failed run.
    """
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            return write()
        except _UNKNOWN_OUTCOME:
            if attempt == CREATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class ApplyReport:
    """What an apply did: changes done, failed (with the error) and not attempted."""

    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    not_attempted: list[Change] = field(default_factory=list)
    #: creates skipped because a concurrent apply had made the object meanwhile
    made_elsewhere: list[Change] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        """True when every change was made."""
        return not self.failed and not self.not_attempted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "done": [c.address for c in self.done],
            "failed": [{"address": c.address, "error": e} for c, e in self.failed],
            "not_attempted": [c.address for c in self.not_attempted],
            "made_elsewhere": [c.address for c in self.made_elsewhere],
            "requests": self.requests,
        }


class _Run:
    def __init__(
        self, plan: Plan, client: MetabaseClient, live: LiveState, concurrency: int,
        progress: Progress | None,
    ) -> None:
        self.plan = plan
        self.client = client
        self.live = live
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.report = ApplyReport()
        self.lock = threading.Lock()
        self.collections: dict[tuple[str, ...], int | None] = {}
        self.cards: dict[str, int] = (
            dict(plan.card_ids) or {k: c.id for k, c in live.managed_cards().items()}
        )
        self.live_cards = {c.id: c for c in (*live.cards, *live.archived_cards)}
        self.stopped = False
        self.created_cards: dict[str, int] = {}
        self.created_alerts: dict[int, Change] = {}

    # -- bookkeeping --------------------------------------------------------------------

    def _record(self, change: Change, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.report.done.append(change)
            else:
                self.report.failed.append((change, error))
                self.stopped = True
        if self.progress:
            self.progress(change, "done" if error is None else "failed", error)

    def _retired(self, change: Change) -> None:
        """Record a copy this run retired after it found a racing apply's older one."""
        self._record(replace(change, duplicate=True), None)

    def _phase(self, changes: Sequence[Change], write: Callable[[Change], None],
               parallel: bool = True) -> None:
        queue = list(changes)
        if self.stopped:
            self.report.not_attempted.extend(queue)
            return
        if not parallel or self.concurrency == 1:
            while queue:
                if self.stopped:
                    self.report.not_attempted.extend(queue)
                    return
                change = queue.pop(0)
                self._one(write, change)
            return
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            running: set[Future[None]] = set()
            while queue or running:
                while queue and not self.stopped and len(running) < self.concurrency:
                    running.add(pool.submit(self._one, write, queue.pop(0)))
                if self.stopped and queue:
                    self.report.not_attempted.extend(queue)
                    queue.clear()
                if running:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()

    def _one(self, write: Callable[[Change], None], change: Change) -> None:
        if self.progress:
            self.progress(change, "start", None)
        try:
            write(change)
        except ApiError as exc:
            self._record(change, str(exc))
        else:
            if any(c is change for c in self.report.made_elsewhere):
                if self.progress:
                    self.progress(change, "done", None)
                return
            self._record(change, None)

    # -- writes ---------------------------------------------------------------------------

    def collection_id(self, path: tuple[str, ...]) -> int | None:
        if not path:
            return None
        if path in self.collections:
            return self.collections[path]
        found = self.live.collection_id("/".join(path))
        if isinstance(found, str):
            raise ApiError(f"collection {'/'.join(path)} was not created")
        return found

    def create_collection(self, change: Change) -> None:
        path = tuple(split_path(str(dict(change.values)["path"])))
        parent = self.collection_id(path[:-1])
        known = {c.id for c in self.live.collections}

        def siblings() -> list[Any]:
            return sorted((c for c in self.client.collections.list()
                           if isinstance(c.id, int) and not c.archived
                           and c.personal_owner_id is None
                           and c.name == path[-1] and c.parent_id == parent),
                          key=lambda c: int(c.id))

        # another apply may have made it since the snapshot: use it rather than a second one
        there = siblings()
        if there:
            self.collections[path] = int(there[0].id)
            with self.lock:
                self.report.made_elsewhere.append(change)
            return

        def find() -> Any:
            return next((c for c in siblings() if c.id not in known), None)

        made = create_verified(
            lambda: self.client.collections.create(path[-1], parent_id=parent,
                                                   description=COLLECTION_MARK),
            find,
        )
        # ids grow with commits, so a racing apply's older collection is visible by now: the
        # oldest wins in both runs, and ours goes (still empty: children come after it)
        after = siblings()
        oldest = after[0] if after else made
        if int(oldest.id) != int(made.id):
            write_idempotent(lambda: self.client.collections.update(int(made.id), archived=True))
            self._retired(Change("delete", "collection", f"collection {'/'.join(path)}#{made.id}",
                                 live_id=int(made.id), effects=(f"{RACE}: collection "
                                                                f"#{oldest.id} is kept",)))
        self.collections[path] = int(oldest.id)

    def write_card(self, change: Change) -> None:
        item = change.card
        assert item is not None
        view = item.view
        query = write_native(item.query, mbql5=self.live.mbql5)
        collection_id = self.collection_id(item.collection_path)
        if change.action == "create":
            payload = {
                "name": view.name,
                "type": "question",
                "description": view.description,
                "display": view.display,
                "collection_id": collection_id,
                "dataset_query": query,
                "visualization_settings": item.visualization(None),
            }

            def find() -> Any:
                return next((c for c in self.client.cards.list()
                             if managed_key(c.description) == item.key), None)

            made = create_verified(lambda: self.client.cards.create(payload), find)
            with self.lock:
                self.cards[item.key] = made.id
                self.created_cards[item.key] = made.id
            return
        assert change.live_id is not None
        live_id = change.live_id
        current = self.live_cards[live_id]
        changed = {f.field for f in change.fields}
        body: dict[str, Any] = {}
        if "archived" in changed:
            body["archived"] = False
        if "name" in changed:
            body["name"] = view.name
        if "description" in changed:
            body["description"] = view.description
        if "collection" in changed or "archived" in changed:
            body["collection_id"] = collection_id
        if changed & {"sql", "database"}:
            body["dataset_query"] = query
        if "display" in changed:
            body["display"] = view.display
        settings = settings_to_send(item, current.visualization_settings, changed)
        if settings is not None:
            body["visualization_settings"] = settings
        write_idempotent(lambda: self.client.cards.update(live_id, body))
        with self.lock:
            self.cards[item.key] = change.live_id

    def write_alert(self, change: Change) -> None:
        alert = change.alert
        assert alert is not None
        card_id = self.cards.get(change.key)
        if card_id is None:
            raise ApiError(f"card {change.key} does not exist, so its alert cannot be written")
        if change.action == "create":
            known = {n.id for n in self.live.notifications}
            me = self.live.me.id

            def find() -> Any:
                for n in self.client.notifications.list(card_id=card_id, include_inactive=True):
                    if (n.id not in known and n.creator_id == me
                            and alert_view_of(n, self.live) == alert.view):
                        return n
                return None

            made = create_verified(
                lambda: self.client.notifications.create(alert.spec(card_id)), find
            )
            with self.lock:
                self.created_alerts[made.id] = change
        else:
            assert change.live_id is not None
            live_id = change.live_id
            write_idempotent(lambda: self.client.notifications.update(live_id, alert.spec(card_id)))

    def delete(self, change: Change) -> None:
        assert change.live_id is not None
        live_id = change.live_id
        if change.kind == "alert":
            write_idempotent(lambda: self.client.notifications.set_active(live_id, False))
        elif change.kind == "collection":
            # Metabase moves what is inside to the Trash with the collection and deletes the
            # alerts of its cards (metabase-api.md 3.10, metabase/metabase
            # src/metabase/collections_rest/api.clj): look again, in case a concurrent apply put a
            # card in this copy since the plan was made
            retiring = {c.live_id for c in self.plan.changes
                        if c.kind == "collection" and c.action == "delete"}
            inside = [i for i in self.client.collections.items(live_id, models=())
                      if not (i.get("model") == "collection" and i.get("id") in retiring)]
            if inside:
                raise ApiError(f"collection #{live_id} is no longer empty ({len(inside)} "
                               "item(s)), so it is left alone; run plan again")
            write_idempotent(lambda: self.client.collections.update(live_id, archived=True))
        else:
            write_idempotent(lambda: self.client.cards.archive(live_id))


    # -- racing applies (docs/ci.md#concurrency) ------------------------------------------------

    def _claims_now(self) -> dict[str, list[Any]]:
        # A racing apply runs with the same credentials, so its cards are this user's:
        # f=mine finds them without reading every card of the instance again (the snapshot
        # already judged everyone else's).
        cards = [c for c in self.client.cards.list("mine", full=lambda raw: False)
                 if not c.archived]
        return claims_of(cards, self.live.me.id)

    def _skip_made_elsewhere(self, changes: list[Change],
                             taken: Callable[[Change], bool]) -> list[Change]:
        """``changes`` without the creates that ``taken`` finds already made by another run."""
        todo: list[Change] = []
        for change in changes:
            if change.action == "create" and taken(change):
                self.report.made_elsewhere.append(change)
            else:
                todo.append(change)
        return todo

    def skip_raced_cards(self, changes: list[Change]) -> list[Change]:
        """Card creates still to make: a key another apply created since the snapshot is used."""
        if not any(c.action == "create" for c in changes):
            return changes
        claims = self._claims_now()

        def taken(change: Change) -> bool:
            found = claims.get(change.key)
            if found:
                self.cards[change.key] = found[0].id
            return bool(found)

        return self._skip_made_elsewhere(changes, taken)

    def settle_cards(self) -> None:
        """After the creates: a key that a racing apply created first keeps that card only.

        Ids grow with commits, so the run that created second always sees the first card here;
        both runs keep the oldest, and the loser archives its own before any alert goes on it.
        """
        if not self.created_cards or self.stopped:
            return
        claims = self._claims_now()
        for key, mine in sorted(self.created_cards.items()):
            kept = (claims.get(key) or [None])[0]
            if kept is None or kept.id == mine:
                continue
            write_idempotent(partial(self.client.cards.archive, mine))
            self.cards[key] = kept.id
            self._retired(Change("delete", "card", f"card {key}#{mine}", key=key, live_id=mine,
                                 effects=(f"{RACE}: card #{kept.id}, created first, is kept",)))

    def _raced_alerts(self) -> dict[tuple[int, AlertView], list[Notification]]:
        """Active alerts of metabase-guard's user made since the snapshot by another run."""
        known = {n.id for n in self.live.notifications}
        out: dict[tuple[int, AlertView], list[Notification]] = {}
        for n in sorted(self.client.notifications.list(creator_id=self.live.me.id),
                        key=lambda n: n.id):
            if (n.active and n.payload and n.id not in known
                    and n.id not in self.created_alerts):
                out.setdefault((n.payload.card_id, alert_view_of(n, self.live)), []).append(n)
        return out

    def skip_raced_alerts(self, changes: list[Change]) -> list[Change]:
        """Alert creates still to make: an identical alert a racing apply made is used."""
        if not any(c.action == "create" for c in changes):
            return changes
        raced = self._raced_alerts()

        def taken(change: Change) -> bool:
            card_id = self.cards.get(change.key)
            pool = raced.get((card_id, change.alert.view), []) if change.alert and card_id else []
            if not pool:
                return False
            pool.pop(0)  # one of theirs stands for one of ours
            return True

        return self._skip_made_elsewhere(changes, taken)

    def settle_alerts(self) -> None:
        """After the creates: an alert a racing apply made first, identical to ours, is kept."""
        if not self.created_alerts or self.stopped:
            return
        raced = self._raced_alerts()
        for made_id, change in sorted(self.created_alerts.items()):
            card_id = self.cards.get(change.key)
            if change.alert is None or card_id is None:
                continue
            older = [n for n in raced.get((card_id, change.alert.view), []) if n.id < made_id]
            if not older:
                continue
            raced[(card_id, change.alert.view)].remove(older[0])  # one of ours per one of theirs
            write_idempotent(partial(self.client.notifications.set_active, made_id, False))
            self._retired(Change("delete", "alert", f"alert {change.key}#{made_id}",
                                 key=change.key, live_id=made_id,
                                 effects=(f"{RACE}: alert #{older[0].id} is kept",)))


def apply_plan(
    plan: Plan,
    client: MetabaseClient,
    live: LiveState,
    *,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> ApplyReport:
    """Make every change of ``plan``; raise ApplyError (carrying the report) on a failure.

    ``live`` must be the snapshot the plan was made from.
    """
    run = _Run(plan, client, live, concurrency, progress)
    before = client.request_count
    changes = list(plan.changes)
    run._phase([c for c in changes if c.kind == "collection" and c.action == "create"],
               run.create_collection,
               parallel=False)
    cards = [c for c in changes if c.kind == "card" and c.action != "delete"]
    run._phase(run.skip_raced_cards(cards) if not run.stopped else cards, run.write_card)
    run.settle_cards()
    alerts = [c for c in changes if c.kind == "alert" and c.action != "delete"]
    run._phase(run.skip_raced_alerts(alerts) if not run.stopped else alerts, run.write_alert)
    run.settle_alerts()
    run._phase([c for c in changes if c.kind == "alert" and c.action == "delete"], run.delete)
    run._phase([c for c in changes if c.kind == "card" and c.action == "delete"], run.delete)
    run._phase([c for c in changes if c.kind == "collection" and c.action == "delete"],
               run.delete)
    run.report.requests = client.request_count - before
    if not run.report.ok:
        failed = len(run.report.failed)
        raise ApplyError(
            f"apply stopped: {len(run.report.done)} change(s) done, {failed} failed, "
            f"{len(run.report.not_attempted)} not attempted; run apply again to finish",
            run.report,
        )
    return run.report
