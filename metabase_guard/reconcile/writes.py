"""What the kinds write with: the run's context, its report, and the two retry rules.

A write whose answer is lost may have happened anyway. Creates are therefore looked up before
they are tried again (:func:`create_verified`), and updates are idempotent, so they are simply
made again (:func:`write_idempotent`). :class:`WriteContext` carries the client, the snapshot,
what earlier phases made (collection and card ids) and the bounded pool each phase runs in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from metabase_guard.api.client import MetabaseClient
from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    RateLimitError,
    ServerError,
)
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, Plan

__all__ = [
    "ApplyReport",
    "Progress",
    "WriteContext",
    "create_verified",
    "retire_live",
    "write_idempotent",
]

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


def retire_live(change: Change, retire: Callable[[int], object]) -> None:
    """Archive or deactivate the live object of a delete change (idempotent, so repeated)."""
    assert change.live_id is not None
    live_id = change.live_id
    write_idempotent(lambda: retire(live_id))


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


class WriteContext:
    """One apply run: the client, the snapshot, what was made so far, and the report.

    On the first failure no new write is started; writes already in flight finish.
    """

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
        self.stopped = False
        #: collection ids made by this run, by path
        self.collections: dict[tuple[str, ...], int | None] = {}
        #: the card each key is written to (the plan's choice, then the cards this run made)
        self.cards: dict[str, int] = (
            dict(plan.card_ids) or {k: c.id for k, c in live.managed_cards().items()}
        )
        self.live_cards = {c.id: c for c in (*live.cards, *live.archived_cards)}
        self.created_cards: dict[str, int] = {}
        self.created_alerts: dict[int, Change] = {}
        #: alerts a racing apply made that this run took for its own creates (not retired)
        self.taken_alerts: set[int] = set()
        #: the dashboard each key is written to
        self.dashboards: dict[str, int] = {}

    # -- bookkeeping --------------------------------------------------------------------

    def record(self, change: Change, error: str | None) -> None:
        """Report ``change`` as done (``error`` None) or failed, which stops the run."""
        with self.lock:
            if error is None:
                self.report.done.append(change)
            else:
                self.report.failed.append((change, error))
                self.stopped = True
        if self.progress:
            self.progress(change, "done" if error is None else "failed", error)

    def retired(self, change: Change) -> None:
        """Record a copy this run retired after it found a racing apply's older one."""
        self.record(replace(change, duplicate=True), None)

    def made_elsewhere(self, change: Change) -> None:
        """Record a create skipped because a concurrent apply made the object meanwhile."""
        with self.lock:
            self.report.made_elsewhere.append(change)

    def skip_made_elsewhere(self, changes: list[Change],
                            taken: Callable[[Change], bool]) -> list[Change]:
        """``changes`` without the creates that ``taken`` finds already made by another run."""
        todo: list[Change] = []
        for change in changes:
            if change.action == "create" and taken(change):
                self.report.made_elsewhere.append(change)
            else:
                todo.append(change)
        return todo

    def phase(self, changes: Sequence[Change], write: Callable[[Change], None],
              parallel: bool = True) -> None:
        """Write ``changes`` (concurrently when ``parallel``), stopping at the first failure."""
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
            self.record(change, str(exc))
        else:
            if any(c is change for c in self.report.made_elsewhere):
                if self.progress:
                    self.progress(change, "done", None)
                return
            self.record(change, None)
