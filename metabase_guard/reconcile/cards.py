"""The card kind: declared questions as Metabase cards, resolved, diffed and written.

A card is managed when its description ends with the marker line of a key (``identity.py``; a
key claimed twice goes to the card metabase-guard's user created first). Hand-made cards, even
with the same name in the same collection, are never changed. Managed cards whose declaration
is gone are archived, only with ``prune``. Both sides are compared as :class:`CardView`: names
instead of ids, normalised SQL, the goal line read the way Metabase's UI shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from metabase_guard.api.models import Card
from metabase_guard.api.query import NativeQuery, normalise_sql, read_native, write_native
from metabase_guard.api.resources import split_path
from metabase_guard.errors import Problem, ResolveError
from metabase_guard.reconcile.alerts import DesiredAlert, resolve_alerts
from metabase_guard.reconcile.collections import collection_id
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.identity import compose_description, managed_key, mentioned_key
from metabase_guard.reconcile.kind import (
    CardState,
    Defaults,
    Desired,
    Kind,
    PlanWalk,
    made_by_another,
    problem,
    unknown,
)
from metabase_guard.reconcile.live import LiveState, claims_of
from metabase_guard.reconcile.plan import Change, FieldChange, Unmanaged, field_changes
from metabase_guard.reconcile.writes import create_verified, retire_live, write_idempotent
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import Question

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = [
    "GRAPH_DISPLAYS",
    "KIND",
    "CardView",
    "DesiredCard",
    "card_change_deletes_alerts",
    "card_view_of",
    "display_family",
    "resolve",
    "retire_card_copy",
    "settings_to_send",
]

GRAPH_DISPLAYS = frozenset({"line", "bar", "area"})
_CARD_FIELDS = ("name", "description", "collection", "database", "sql", "display", "goal",
                "goal_label")
#: Card fields whose change is written through ``visualization_settings``.
VIZ_FIELDS = frozenset({"goal", "goal_label", "metric", "dimension", "display"})
#: What a copy (racing applies) must share with the managed card to be retired.
_SAME = ("name", "sql", "database", "display", "goal", "collection")


def display_family(display: str) -> str:
    """Metabase's alert families: ``graph`` (line, bar, area), ``progress`` or ``rows``.

    A card whose display moves between families loses its alerts (metabase-api.md 3.10).
    """
    if display in GRAPH_DISPLAYS:
        return "graph"
    return "progress" if display == "progress" else "rows"


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


# -- the desired view ---------------------------------------------------------------------------


def resolve(
    declarations: Declarations,
    live: LiveState,
    defaults: Defaults | None = None,
) -> list[DesiredCard]:
    """Turn the declared questions into desired cards with ids, or raise ResolveError.

    The error lists every miss. Pure: reads only ``live``.
    """
    problems: list[Problem] = []
    out = [_resolve_question(q, declarations, live, defaults or Defaults(), problems)
           for q in declarations.questions]
    if problems:
        raise ResolveError(problems)
    return out


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
        problems.append(problem(
            decls, q.key, "database",
            f"{len(same_name)} databases are named {q.database!r}: {engines}; rename one in "
            "Metabase (Admin > Databases) so the name says which",
        ))
    elif database is None:
        problems.append(
            problem(decls, q.key, "database", unknown("database", q.database, list(databases)))
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
    return DesiredCard(
        key=q.key,
        view=view,
        declared=frozenset(declared),
        collection_path=path,
        query=query,
        alerts=resolve_alerts(q.key, q.alerts, decls, live, defaults, problems),
    )


# -- the diff -----------------------------------------------------------------------------------


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


def _card_fields(old: CardView, desired: DesiredCard) -> list[FieldChange]:
    names = list(_CARD_FIELDS)
    if desired.view.goal is None or desired.view.display == "progress":
        names.remove("goal_label")
    names += [n for n in ("metric", "dimension") if n in desired.declared]
    return field_changes(old.as_dict(), desired.view.as_dict(), names)


def retire_card_copy(key: str, kept: Card, copy: Card, live: LiveState) -> Change | Unmanaged:
    """Archive ``copy`` (a second card carrying ``key``), or say why it is left alone.

    The rule is duplicates.py's: only an identical copy made by metabase-guard's user, with
    no one else's alert on it, is retired.
    """
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


def _alerts_effect(card: Card, kill_reason: str, walk: PlanWalk) -> list[str]:
    """What Metabase does to the card's alerts when this update saves (it deletes them)."""
    live = walk.live
    doomed = [n for n in live.alerts_of(card.id) if n.active]
    if not doomed:
        return []
    foreign = sum(1 for n in doomed if n.creator_id != live.me.id)
    return [
        f"Metabase deletes all {len(doomed)} active alert(s) of this card"
        + (" and e-mails their recipients" if live.email_configured else "")
        + f" because {kill_reason}"
        + (f", including {foreign} not managed by metabase-guard" if foreign else "")
        + "; metabase-guard recreates its own"
    ]


class Cards(Kind):
    """Cards: written once their collections exist; their alerts come after them."""

    name = "card"
    retired_as = "archive those cards"
    depends_on = ("collection",)

    def resolve(self, decls: Declarations, live: LiveState, defaults: Defaults,
                problems: list[Problem], desired: Desired) -> Desired:
        """The declared questions, with their alerts, as desired cards."""
        cards = tuple(_resolve_question(q, decls, live, defaults, problems)
                      for q in decls.questions)
        return replace(desired, cards=cards)

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Creates and updates of declared cards; copies retired; hand-made cards reported."""
        live = walk.live
        claims = _without_moved_marks(live.claims(), desired.cards, live, walk.unmanaged)
        walk.managed_cards = {key: cards[0] for key, cards in claims.items()}
        archived = live.archived_managed_cards()
        for key, (original, copies) in sorted(live.copies_of_trashed().items()):
            for copy in copies:
                walk.unmanaged.append(Unmanaged(
                    f"card #{copy.id}",
                    f"carries the mark of {key!r} but card #{original.id}, the managed one, is "
                    f"in the Trash (a duplicate made in the UI?, created by "
                    f"{live.user_label(copy.creator_id)}): a copy never takes a card over, so "
                    "it is never changed; restore the original, or remove the mark from the "
                    "copy",
                ))
        for key, (kept, *copies) in sorted(claims.items()):
            for copy in copies:
                verdict = retire_card_copy(key, kept, copy, live)
                if isinstance(verdict, Unmanaged):
                    walk.unmanaged.append(verdict)
                    continue
                walk.changes.append(verdict)
                walk.leaving.add(copy.id)
        for hand in live.cards:
            mentioned = mentioned_key(hand.description)
            if mentioned is not None:
                walk.unmanaged.append(Unmanaged(
                    f"card #{hand.id}",
                    f"mentions the mark of {mentioned!r} in its description, but not as its "
                    "last line: a mention is text, so the card is not managed and never changed",
                ))
        for item in desired.cards:
            card = walk.managed_cards.get(item.key)
            restoring = card is None and item.key in archived
            if restoring:
                card = archived[item.key]
            if card is None:
                walk.changes.append(Change(
                    "create", "card", f"card {item.key}", key=item.key, card=item,
                    values=tuple((k, v) for k, v in item.view.as_dict().items()
                                 if v is not None or k in ("goal",)),
                ))
                _hand_made_twin(item, live, walk.unmanaged)
                walk.card_states[item.key] = CardState(None)
                continue
            walk.card_states[item.key] = self._update(item, card, restoring, walk)

    @staticmethod
    def _update(item: DesiredCard, card: Card, restoring: bool, walk: PlanWalk) -> CardState:
        """The update of a live card (if any field differs), and what it means for alerts."""
        live = walk.live
        walk.existing += 1
        old_view = card_view_of(card, live)
        kept_collection = live.collection_id("/".join(item.collection_path))
        if (not restoring and old_view.collection == item.view.collection
                and card.collection_id != kept_collection):
            # same path, but a copy of the collection (racing applies): move to the kept one
            walk.leaving.add(card.id)
            old_view = replace(old_view, collection=f"{old_view.collection} "
                               f"(copy #{card.collection_id})")
        fields = _card_fields(old_view, item)
        if restoring:
            fields.insert(0, FieldChange("archived", True, False))
        if not fields:
            return CardState(card, restoring)
        sent = settings_to_send(item, card.visualization_settings, {f.field for f in fields})
        kill_reason = None if restoring else card_change_deletes_alerts(
            card.display,
            item.view.display,
            card.visualization_settings,
            card.visualization_settings if sent is None else sent,
        )
        effects = _alerts_effect(card, kill_reason, walk) if kill_reason else []
        walk.changes.append(Change("update", "card", f"card {item.key}", key=item.key,
                                   live_id=card.id, fields=tuple(fields), effects=tuple(effects),
                                   card=item))
        return CardState(card, restoring, kills_alerts=kill_reason is not None)

    def retire(self, desired: Desired, walk: PlanWalk) -> None:
        """Managed cards no longer declared are archived (with ``prune``) if we made them."""
        live = walk.live
        declared = {d.key for d in desired.cards}
        for key, stale in sorted(walk.managed_cards.items()):
            if key in declared:
                continue
            if stale.creator_id != live.me.id:
                walk.unmanaged.append(made_by_another(
                    f"card #{stale.id}", key, live.user_label(stale.creator_id)))
                continue
            alive = [n for n in live.alerts_of(stale.id) if n.active]
            ours = sum(1 for n in alive if n.creator_id == live.me.id)
            walk.existing += 1 + ours
            walk.delete(Change(
                "delete", "card", f"card {key}", key=key, live_id=stale.id, retires=1 + ours,
                values=(("name", stale.name),
                        ("collection", live.collection_path(stale.collection_id))),
                effects=(
                    (f"Metabase deletes the card's {len(alive)} active alert(s) when it is "
                     "archived",) if alive else ()
                ),
            ))

    # -- writes -----------------------------------------------------------------------------

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Create, update (only the changed fields) or archive one card."""
        if change.action == "delete":
            retire_live(change, ctx.client.cards.archive)
            return
        item = change.card
        assert item is not None
        view = item.view
        query = write_native(item.query, mbql5=ctx.live.mbql5)
        target = collection_id(ctx, item.collection_path)
        if change.action == "create":
            payload = {
                "name": view.name,
                "type": "question",
                "description": view.description,
                "display": view.display,
                "collection_id": target,
                "dataset_query": query,
                "visualization_settings": item.visualization(None),
            }

            def find() -> Any:
                return next((c for c in ctx.client.cards.list()
                             if managed_key(c.description) == item.key), None)

            made = create_verified(lambda: ctx.client.cards.create(payload), find)
            with ctx.lock:
                ctx.cards[item.key] = made.id
                ctx.created_cards[item.key] = made.id
            return
        assert change.live_id is not None
        live_id = change.live_id
        current = ctx.live_cards[live_id]
        changed = {f.field for f in change.fields}
        body: dict[str, Any] = {}
        if "archived" in changed:
            body["archived"] = False
        if "name" in changed:
            body["name"] = view.name
        if "description" in changed:
            body["description"] = view.description
        if "collection" in changed or "archived" in changed:
            body["collection_id"] = target
        if changed & {"sql", "database"}:
            body["dataset_query"] = query
        if "display" in changed:
            body["display"] = view.display
        settings = settings_to_send(item, current.visualization_settings, changed)
        if settings is not None:
            body["visualization_settings"] = settings
        write_idempotent(lambda: ctx.client.cards.update(live_id, body))
        with ctx.lock:
            ctx.cards[item.key] = live_id

    # -- racing applies (docs/ci.md#concurrency) -------------------------------------------

    @staticmethod
    def _claims_now(ctx: WriteContext) -> dict[str, list[Any]]:
        # A racing apply runs with the same credentials, so its cards are this user's:
        # f=mine finds them without reading every card of the instance again (the snapshot
        # already judged everyone else's).
        cards = [c for c in ctx.client.cards.list("mine", full=lambda raw: False)
                 if not c.archived]
        return claims_of(cards, ctx.live.me.id)

    def prepare(self, changes: list[Change], ctx: WriteContext) -> list[Change]:
        """Card creates still to make: a key another apply created since the snapshot is used."""
        if not any(c.action == "create" for c in changes):
            return changes
        claims = self._claims_now(ctx)

        def taken(change: Change) -> bool:
            found = claims.get(change.key)
            if found:
                ctx.cards[change.key] = found[0].id
            return bool(found)

        return ctx.skip_made_elsewhere(changes, taken)

    def settle(self, ctx: WriteContext) -> None:
        """After the creates: a key that a racing apply created first keeps that card only.

        Ids grow with commits, so the run that created second always sees the first card here;
        both runs keep the oldest, and the loser archives its own before any alert goes on it.
        """
        if not ctx.created_cards or ctx.stopped:
            return
        claims = self._claims_now(ctx)
        for key, mine in sorted(ctx.created_cards.items()):
            kept = (claims.get(key) or [None])[0]
            if kept is None or kept.id == mine:
                continue
            write_idempotent(partial(ctx.client.cards.archive, mine))
            ctx.cards[key] = kept.id
            ctx.retired(Change("delete", "card", f"card {key}#{mine}", key=key, live_id=mine,
                               effects=(f"{RACE}: card #{kept.id}, created first, is kept",)))


KIND = Cards()
