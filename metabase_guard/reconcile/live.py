"""A read-only snapshot of everything a plan needs from Metabase, in a fixed number of requests.

``read_live`` uses list endpoints only, so the number of requests does not grow with the number
of declarations: session properties, current user, cards (live and archived), collections,
card alerts (inactive included), databases, users, groups, webhook channels, the
delivery form, dashboards and dashboard subscriptions. It never writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from metabase_guard._gc import gc_paused
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import (
    Card,
    Channel,
    Collection,
    Dashboard,
    Database,
    Notification,
    PermissionGroup,
    Pulse,
    ServerVersion,
    User,
)
from metabase_guard.api.resources import slack_channels, slack_renames, split_path
from metabase_guard.errors import ApiError, PermissionDeniedError
from metabase_guard.reconcile.identity import COLLECTION_MARK, managed_key

__all__ = ["READ_WIDTH", "LiveState", "claims_of", "pulse_audience", "read_ahead", "read_live"]

# The independent list reads of a snapshot, all in flight at once: the card list is the long
# pole, and every other read hides under it only if none waits for a worker (with 4 workers
# the alert list started behind the user read and ended 0.6 s after the card list).
READ_WIDTH = 11

T = TypeVar("T")


@dataclass
class LiveState:
    """What the instance holds, as far as a plan cares."""

    version: ServerVersion
    report_timezone: str
    me: User
    cards: list[Card]
    archived_cards: list[Card]
    collections: list[Collection]
    notifications: list[Notification]
    databases: list[Database]
    users: list[User]
    groups: list[PermissionGroup]
    webhooks: list[Channel]
    email_configured: bool
    slack_configured: bool
    slack_channels: tuple[str, ...]
    mbql5: bool = True
    slack_ids: Mapping[str, str] = field(default_factory=dict)  # issue 8: name -> Slack id
    slack_renames: Mapping[str, str] = field(default_factory=dict)  # stored name -> name now
    warnings: list[str] = field(default_factory=list)
    unreadable: frozenset[str] = frozenset()
    #: live dashboards: the marked ones whole (dashcards, tabs), the others as list rows
    dashboards: list[Dashboard] = field(default_factory=list)
    #: archived dashboards (list rows), read only when a key's live claimants are all someone
    #: else's: they tell an adopted dashboard from a copy of one in the Trash (dashboards.py)
    archived_dashboards: list[Dashboard] = field(default_factory=list)
    #: what collection copies hold (``GET /api/collection/:id/items``), by collection id
    collection_items: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    #: live (not archived) dashboard subscriptions the credentials may see (``GET /api/pulse``)
    pulses: list[Pulse] = field(default_factory=list)
    _alerts_index: tuple[tuple[int, int], dict[int, list[Notification]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _names_index: tuple[tuple[int, int], dict[str, list[Card]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _paths_index: tuple[tuple[int, int], dict[tuple[int | None, str], int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _claims_index: dict[tuple[int, int], dict[str, list[Card]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    # -- derived views (pure) -------------------------------------------------------------

    def managed_cards(self) -> dict[str, Card]:
        """Live (not archived) cards carrying a marker, by key (see :meth:`claims`)."""
        return {key: cards[0] for key, cards in self.claims().items()}

    def archived_managed_cards(self) -> dict[str, Card]:
        """Archived cards carrying a marker, by key."""
        return {key: cards[0] for key, cards in self._claims(self.archived_cards).items()}

    def claims(self) -> dict[str, list[Card]]:
        """Every live card carrying each key's marker, the managed one first.

        The managed one is the card metabase-guard's user created first (lowest id); only when
        none of them was created by that user (a card adopted with ``import``) the lowest id.
        A copy of the marker, by a UI "Duplicate" or a hand edit, never takes a key over from
        the card metabase-guard made, and two racing applies agree on which card is kept.
        """
        trashed = self.copies_of_trashed()
        return {key: list(cards) for key, cards in self._claims(self.cards).items()
                if key not in trashed}

    def copies_of_trashed(self) -> dict[str, tuple[Card, list[Card]]]:
        """Keys whose managed card is in the Trash while other users' copies are live.

        A UI "Duplicate" copies the marker but is created by the person who made it. Once the
        original goes to the Trash, that copy would otherwise be the key's only live claimant
        and be taken over, its query and settings rewritten. As for dashboards, a copy never
        takes over: the key has no live managed card (a declared one is restored), and the
        copies are left alone. The original is the archived claimant metabase-guard's user
        created, or, when no claimant live or archived was made by that user (an adopted
        card), the oldest claimant, if that one is archived.
        """
        me = self.me.id
        out: dict[str, tuple[Card, list[Card]]] = {}
        archived = self._claims(self.archived_cards)
        for key, live in self._claims(self.cards).items():
            gone = archived.get(key)
            if not gone or live[0].creator_id == me:
                continue
            if gone[0].creator_id == me or gone[0].id < live[0].id:
                out[key] = (gone[0], list(live))
        return out

    def _claims(self, cards: list[Card]) -> dict[str, list[Card]]:
        # Once per card list (rebuilt if it is replaced or grows): a plan asked for the
        # claims five times, each reading the marker of every card of the instance (0.45 s
        # of a plan at N = 1,000 with 21,000 cards).
        stamp = (id(cards), len(cards))
        found = self._claims_index.get(stamp)
        if found is None:
            found = self._claims_index[stamp] = claims_of(cards, self.me.id)
        return found

    def alerts_of(self, card_id: int) -> list[Notification]:
        """Card alerts on ``card_id``, active or not, in id order.

        Indexed once per snapshot (rebuilt if ``notifications`` is replaced or grows): a plan
        asks this for every declared card, and a scan per call made plans quadratic
        (docs/benchmarks.md).
        """
        stamp = (id(self.notifications), len(self.notifications))
        if self._alerts_index is None or self._alerts_index[0] != stamp:
            index: dict[int, list[Notification]] = {}
            for n in sorted(self.notifications, key=lambda n: n.id):
                if n.payload:
                    index.setdefault(n.payload.card_id, []).append(n)
            self._alerts_index = (stamp, index)
        return list(self._alerts_index[1].get(card_id, ()))

    def pulses_of(self, dashboard_id: int) -> list[Pulse]:
        """The live subscriptions of dashboard ``dashboard_id``, in id order."""
        return sorted((p for p in self.pulses if p.dashboard_id == dashboard_id),
                      key=lambda p: p.id)

    def user_label(self, user_id: int | None) -> str:
        """The e-mail of user ``user_id``, for messages (an API key has no listed user)."""
        for user in self.users:
            if user.id == user_id:
                return user.email
        if self.me.id == user_id:
            return self.me.email
        return f"user #{user_id} (an API key, or a deactivated user)"

    def cards_named(self, name: str) -> list[Card]:
        """Live cards called ``name``, in snapshot order (indexed once, like ``alerts_of``)."""
        stamp = (id(self.cards), len(self.cards))
        if self._names_index is None or self._names_index[0] != stamp:
            index: dict[str, list[Card]] = {}
            for card in self.cards:
                index.setdefault(card.name, []).append(card)
            self._names_index = (stamp, index)
        return list(self._names_index[1].get(name, ()))

    def collection_copies(self) -> list[Collection]:
        """Collections metabase-guard created at the path of an older collection.

        metabase-guard marks the collections it creates (``identity.COLLECTION_MARK``); one of
        those that is not the collection its path resolves to is a copy, made by an apply that
        ran at the same time as another.
        """
        return [
            c for c in self.collections
            if isinstance(c.id, int) and not c.archived and c.personal_owner_id is None
            and c.description == COLLECTION_MARK
            and self.collection_id(self.collection_path(c.id)) != c.id
        ]

    def collection_path(self, collection_id: int | None) -> str:
        """``"Health checks/Recommender"`` for an id; ``""`` for the root collection."""
        if collection_id is None:
            return ""
        by_id = {c.id: c for c in self.collections if isinstance(c.id, int)}
        node = by_id.get(collection_id)
        if node is None:
            return f"#{collection_id}"
        names = [by_id[a].name if a in by_id else f"#{a}" for a in node.ancestor_ids]
        return "/".join([*names, node.name])

    def collection_id(self, path: str) -> int | str | None:
        """The id at ``path`` (None for the root), or ``"missing"`` when it does not exist.

        Of same-named siblings the lowest id wins. Indexed once per snapshot, like
        ``alerts_of``: every declared card and alert asks for its collection, and a scan of
        every collection per path segment was a fifth of a plan at N = 5,000.
        """
        stamp = (id(self.collections), len(self.collections))
        if self._paths_index is None or self._paths_index[0] != stamp:
            index: dict[tuple[int | None, str], int] = {}
            for c in self.collections:
                if isinstance(c.id, int) and not c.archived and c.personal_owner_id is None:
                    slot = (c.parent_id, c.name)
                    index[slot] = min(c.id, index.get(slot, c.id))
            self._paths_index = (stamp, index)
        parent: int | None = None
        for name in split_path(path):
            found = self._paths_index[1].get((parent, name))
            if found is None:
                return "missing"
            parent = found
        return parent


def claims_of(cards: list[Card], me: int) -> dict[str, list[Card]]:
    """Cards by the key of their marker, the managed one first (see ``LiveState.claims``)."""
    out: dict[str, list[Card]] = {}
    for card in sorted(cards, key=lambda c: (c.creator_id != me, c.id)):
        key = managed_key(card.description)
        if key:
            out.setdefault(key, []).append(card)
    return out


def pulse_audience(pulse: Pulse) -> tuple[str, ...]:
    """Whom a subscription sends to: its e-mail addresses and Slack channels, sorted.

    Metabase lists user recipients as user objects and raw addresses as ``{"email": ...}``
    (src/metabase/pulse/models/pulse_channel.clj); a Slack channel is ``details.channel``.
    """
    out: set[str] = set()
    for channel in pulse.channels:
        if channel.channel_type == "slack":
            name = channel.details.get("channel")
            if name:
                out.add(str(name))
            continue
        out.update(str(r["email"]).lower() for r in channel.recipients if r.get("email"))
    return tuple(sorted(out))


def _marked(raw: Mapping[str, Any]) -> bool:
    """Cards kept whole in a snapshot: the managed ones (the others only by name and place)."""
    description = raw.get("description")
    return managed_key(description if isinstance(description, str) else None) is not None


def read_ahead(client: MetabaseClient) -> Future[LiveState]:
    """Start :func:`read_live` in the background; the future holds the snapshot or its error.

    For a caller with work of its own before it needs the snapshot (loading the YAML): the
    requests and the server's work on them overlap it. Read-only; a caller that stops early
    (a declaration error) should still wait for the future, so that no request is left in
    flight behind it (a process waits for them at exit anyway).
    """
    future: Future[LiveState] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            with gc_paused():  # the snapshot is acyclic (see engine.plan)
                live = read_live(client)
        except BaseException as exc:  # handed to whoever waits on the future
            future.set_exception(exc)
        else:
            future.set_result(live)

    threading.Thread(target=run, name="read-ahead", daemon=True).start()
    return future


def read_live(client: MetabaseClient, *, workers: int = READ_WIDTH) -> LiveState:
    """Read the snapshot; independent list requests run concurrently (at most ``workers``)."""
    client.require_notification_api()
    properties = client.properties
    warnings: list[str] = []
    unreadable: set[str] = set()

    def guarded(call: Callable[[], T], default: T, what: str) -> Callable[[], T]:
        def run() -> T:
            try:
                return call()
            except PermissionDeniedError:
                unreadable.add(what)
                warnings.append(
                    f"the credentials may not list {what}; names in the declarations that "
                    f"refer to {what} cannot be checked (use an admin API key)"
                )
                return default
        return run

    # longest first: the two big lists start at once, the small ones beside them
    tasks: dict[str, Callable[[], Any]] = {
        "cards": lambda: client.cards.list("all", full=_marked),
        "notifications": lambda: client.notifications.list(include_inactive=True),
        "me": lambda: client.me,
        "archived": lambda: client.cards.list("archived", full=_marked),
        "collections": lambda: client.collections.list(),
        "databases": lambda: client.databases.list(),
        "users": guarded(lambda: client.users.list(status="all"), [], "users"),
        "groups": guarded(lambda: client.groups.list(), [], "groups"),
        "webhooks": guarded(lambda: client.channels.list(), [], "webhook channels"),
        "form": guarded(lambda: client.server.form_input(), {}, "delivery channels"),
        "dashboards": lambda: client.dashboards.list("all"),
    }
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        results: dict[str, Any] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except ApiError:
                for other in futures.values():
                    other.cancel()
                raise
    _, channels = slack_channels(results["form"])
    slack_ok, slack_note = client.slack_configured(results["form"])  # issue 8
    warnings += [*client.compatibility_warnings(), *([slack_note] if slack_note else [])]
    slack_ids = client.slack_ids(results["form"])
    email_ok = properties.email_configured or bool(
        ((results["form"].get("channels") or {}).get("email") or {}).get("configured")
    )
    live = LiveState(
        version=client.version,
        report_timezone=properties.report_timezone_long or "UTC",
        me=results["me"],
        cards=[c for c in results["cards"] if not c.archived],
        archived_cards=list(results["archived"]),
        collections=list(results["collections"]),
        notifications=[n for n in results["notifications"] if n.payload_type ==
                       "notification/card"],
        databases=list(results["databases"]),
        users=list(results["users"]),
        groups=list(results["groups"]),
        webhooks=list(results["webhooks"]),
        email_configured=email_ok,
        slack_configured=slack_ok,
        slack_channels=channels,
        slack_ids=slack_ids,
        slack_renames=slack_renames(results["notifications"], slack_ids),
        mbql5=client.uses_mbql5,
        warnings=sorted(warnings),
        unreadable=frozenset(unreadable),
        # the list has no dashcards: only the managed dashboards are read whole, one GET each
        dashboards=[client.dashboards.get(d.id) if managed_key(d.description) else d
                    for d in results["dashboards"] if not d.archived],
    )
    keys = {d.id: managed_key(d.description) for d in live.dashboards}
    mine = {keys[d.id] for d in live.dashboards if d.creator_id == live.me.id}
    if any(key is not None and key not in mine for key in keys.values()):
        live.archived_dashboards = list(client.dashboards.list("archived"))
    # subscriptions matter only on managed dashboards: without one, no request for them
    if any(managed_key(d.description) for d in live.dashboards):
        none: list[Pulse] = []
        pulses = guarded(lambda: client.pulses.list(), none, "dashboard subscriptions")()
        live.pulses = [p for p in pulses if not p.archived]
        live.warnings, live.unreadable = sorted(warnings), frozenset(unreadable)
    # rare (only after two applies raced): a copy is archived only if it holds nothing but
    # what the plan moves out, dashboards included, which the card list cannot show
    for copy in live.collection_copies():
        live.collection_items[int(copy.id)] = list(client.collections.items(copy.id, models=()))
    return live
