"""The dashboard kind: declared dashboards of health-check cards, diffed and written in place.

A dashboard is managed when its description ends with the marker line of a key, the rule of
cards (``identity.py``); hand-made dashboards, even with the same name, are never touched. The
items are laid out by ``spec.layout`` (a pure function of the YAML), and compared with the live
dashcards order-independently: question items by card, headings and texts by their text, then
in order among the rest of the same display. A matched dashcard keeps its id (moved, resized or
edited in place); Metabase deletes the ones a PUT leaves out and creates those with a negative
id (metabase-dashboards.md 1.3; metabase/metabase src/metabase/dashboards_rest/api.clj
``do-update-dashcards!``). A managed dashboard that gained tabs by hand is reported and its
layout left alone: a PUT of ``dashcards`` would delete the tabs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from metabase_guard.api.models import Dashboard, Dashcard
from metabase_guard.api.resources import split_path
from metabase_guard.errors import ApiError, Problem
from metabase_guard.reconcile.collections import collection_id
from metabase_guard.reconcile.identity import compose_description, managed_key
from metabase_guard.reconcile.kind import (
    DashboardState,
    Defaults,
    Desired,
    Kind,
    PlanWalk,
    made_by_another,
)
from metabase_guard.reconcile.live import LiveState, pulse_audience
from metabase_guard.reconcile.plan import Change, FieldChange, Unmanaged, field_changes
from metabase_guard.reconcile.writes import create_verified, retire_live, write_idempotent
from metabase_guard.spec.layout import Placement, layout
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import HeadingItem, QuestionItem

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = ["KIND", "DashboardWrite", "DesiredDashboard", "DesiredItem", "dashboard_claims",
           "item_of_dashcard"]

_FIELDS = ("name", "description", "collection", "width")


@dataclass(frozen=True)
class DesiredItem:
    """One dashcard as compared: a question (by key) or a heading/text, and where it goes."""

    display: str  # "card", "heading" or "text"
    content: str  # the question key, or the text
    place: Placement

    def what(self) -> str:
        """``weekly-recommendations``, or ``heading 'Weekly pushes'`` (shortened)."""
        if self.display == "card":
            return self.content
        return f"{self.display} {_short(self.content)!r}"

    def place_words(self) -> str:
        """``row 1 col 0, 12x6``."""
        p = self.place
        return f"row {p.row} col {p.col}, {p.size_x}x{p.size_y}"

    def describe(self) -> str:
        """``weekly-recommendations at row 1, col 0, 12x6`` (plan output)."""
        what = self.content if self.display == "card" else f"{self.display} {self.content!r}"
        p = self.place
        return f"{what} at row {p.row}, col {p.col}, {p.size_x}x{p.size_y}"


@dataclass(frozen=True)
class DesiredDashboard:
    """One declared dashboard, resolved: its fields and its laid-out items in reading order."""

    key: str
    name: str
    description: str
    collection: str
    collection_path: tuple[str, ...]
    width: str | None
    items: tuple[DesiredItem, ...]

    def view(self) -> dict[str, Any]:
        """The compared fields (``width`` only when declared)."""
        return {"name": self.name, "description": self.description,
                "collection": self.collection, "width": self.width}


@dataclass(frozen=True)
class DashboardWrite:
    """What apply writes: the dashboard, and the live dashcard id kept for each item."""

    desired: DesiredDashboard
    dashcard_ids: tuple[int | None, ...]
    layout_changes: bool


def item_of_dashcard(dashcard: Dashcard, keys: dict[int, str]) -> DesiredItem:
    """The comparable view of a live dashcard; ``keys`` maps managed card ids to their keys."""
    place = Placement(dashcard.row, dashcard.col, dashcard.size_x, dashcard.size_y)
    if dashcard.card_id is not None:
        return DesiredItem("card", keys.get(dashcard.card_id, f"card #{dashcard.card_id}"), place)
    settings = dashcard.visualization_settings or {}
    virtual = settings.get("virtual_card") or {}
    display = str(virtual.get("display") or "text")
    return DesiredItem(display, str(settings.get("text") or ""), place)


def _match(desired: Sequence[DesiredItem], live: Sequence[tuple[Dashcard, DesiredItem]]
           ) -> list[tuple[Dashcard, DesiredItem] | None]:
    """For each desired item, the live dashcard it keeps (same card or text, then in order)."""
    free = sorted(live, key=lambda dv: (dv[1].place.row, dv[1].place.col, dv[0].id))
    out: list[tuple[Dashcard, DesiredItem] | None] = [None] * len(desired)
    for exact in (True, False):
        for i, item in enumerate(desired):
            if out[i] is not None or (not exact and item.display == "card"):
                continue
            for j, (_, seen) in enumerate(free):
                if seen.display == item.display and (not exact or seen.content == item.content):
                    out[i] = free.pop(j)
                    break
    return out


def _layout_fields(desired: DesiredDashboard, matched: Sequence[tuple[Dashcard, DesiredItem]
                   | None], live: Sequence[tuple[Dashcard, DesiredItem]]) -> list[FieldChange]:
    """Items added, removed, moved, resized or edited, in reading order, then removals."""
    fields: list[FieldChange] = []
    kept = {m[0].id for m in matched if m is not None}
    for item, found in zip(desired.items, matched, strict=True):
        if found is None:
            fields.append(FieldChange("cards", None, item.describe(),
                                      f"added {item.what()} at {item.place_words()}"))
        elif found[1] != item:
            fields.append(FieldChange("cards", found[1].describe(), item.describe(),
                                      layout_phrase(found[1], item)))
    for dashcard, seen in sorted(live, key=lambda dv: (dv[1].place.row, dv[1].place.col)):
        if dashcard.id not in kept:
            fields.append(FieldChange("cards", seen.describe(), None,
                                      f"removed {seen.what()} (dashcard #{dashcard.id})"))
    return fields


def layout_phrase(old: DesiredItem, new: DesiredItem) -> str:
    """``moved weekly-recommendations (row 1 col 0 -> row 7 col 0)``, resized, text edited."""
    parts: list[str] = []
    if old.content != new.content:
        parts.append(f"edited {old.what()} -> {_short(new.content)!r}")
    moved = (old.place.row, old.place.col) != (new.place.row, new.place.col)
    resized = (old.place.size_x, old.place.size_y) != (new.place.size_x, new.place.size_y)
    what = "" if parts else f" {new.what()}"
    if moved and resized:
        parts.append(f"moved and resized{what} ({old.place_words()} -> {new.place_words()})")
    elif moved:
        parts.append(f"moved{what} (row {old.place.row} col {old.place.col} -> "
                     f"row {new.place.row} col {new.place.col})")
    elif resized:
        parts.append(f"resized{what} ({old.place.size_x}x{old.place.size_y} -> "
                     f"{new.place.size_x}x{new.place.size_y})")
    return ", ".join(parts)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _missing_card(key: str, live: LiveState) -> str:
    """Why a question item cannot be shown: its card is archived, or there is none."""
    if key in live.archived_managed_cards():
        card = live.archived_managed_cards()[key]
        return (f"question {key!r} is card #{card.id}, which is archived (in the Trash), and "
                "these declarations do not declare it, so it would not be restored; Metabase "
                "refuses archived cards on a dashboard: declare the question or remove the item")
    return (f"question {key!r} is not declared here and has no card in Metabase; declare it "
            "or remove the item")


def _audience_effect(dash: Dashboard, live: LiveState) -> str:
    """What archiving ``dash`` does to its subscriptions, and whom they sent to."""
    pulses = live.pulses_of(dash.id)
    whom = sorted({who for p in pulses for who in pulse_audience(p)})
    said = (f"its {len(pulses)} subscription(s) stop sending to {', '.join(whom)}" if whom
            else "its subscriptions stop sending" if pulses else "it has none now")
    return ("Metabase deletes every subscription of this dashboard when it is archived "
            f"(src/metabase/dashboards/models/dashboard.clj): {said}")


def _dashcard_body(item: DesiredItem, dashcard_id: int, ctx: WriteContext,
                   live: Dashcard | None) -> dict[str, Any]:
    p = item.place
    body: dict[str, Any] = {"id": dashcard_id, "row": p.row, "col": p.col, "size_x": p.size_x,
                            "size_y": p.size_y}
    if item.display == "card":
        card_id = ctx.cards.get(item.content)
        if card_id is None:
            raise ApiError(f"card {item.content} does not exist, so it cannot go on a dashboard")
        body["card_id"] = card_id
    else:
        body["card_id"] = None
        # the frontend's virtual card shape (frontend/src/metabase/dashboard/utils.ts
        # createVirtualCard); headings carry dashcard.background false as the UI sets it
        settings: dict[str, Any] = {
            "virtual_card": {"name": None, "display": item.display, "visualization_settings": {},
                             "dataset_query": {}, "archived": False},
            "text": item.content,
        }
        if item.display == "heading":
            settings["dashcard.background"] = False
        body["visualization_settings"] = settings
    # omitting series clears it (dashboard_card.clj update-dashboard-card! compares with [])
    body["series"] = [{"id": s["id"]} for s in (live.series if live else []) if "id" in s]
    body["parameter_mappings"] = list(live.parameter_mappings) if live else []
    return body


def dashboard_claims(live: LiveState) -> tuple[dict[str, Dashboard], list[Unmanaged]]:
    """The managed dashboard of each key, and every other live claimant, reported.

    Metabase's "Duplicate" copies the description, marker included, under the copier's
    ``creator_id`` (src/metabase/dashboards_rest/copy.clj ``dashboard-data``), so a marker
    alone does not make a dashboard ours. The managed one is, in this order:

    1. the oldest live claimant created by metabase-guard's user;
    2. when no claimant of the key, live or archived, was created by that user (a dashboard
       adopted with ``import`` keeps its creator): the oldest claimant, if it is live;
    3. else none, and the plan creates one: a copy never takes over from a dashboard in the
       Trash, whoever made that one.

    Every other live claimant is left alone and listed (docs/identity.md#dashboards).
    """
    me = live.me.id
    claims: dict[str, list[Dashboard]] = {}
    for dash in sorted([*live.dashboards, *live.archived_dashboards], key=lambda d: d.id):
        key = managed_key(dash.description)
        if key is not None:
            claims.setdefault(key, []).append(dash)
    managed: dict[str, Dashboard] = {}
    left: list[Unmanaged] = []
    for key, dashes in sorted(claims.items()):
        alive = [d for d in dashes if not d.archived]
        ours = [d for d in alive if d.creator_id == me]
        kept = (ours[0] if ours else None if any(d.creator_id == me for d in dashes)
                else dashes[0] if not dashes[0].archived else None)
        if kept is not None:
            managed[key] = kept
        original = kept or next((d for d in dashes if d.creator_id == me), dashes[0])
        for dash in alive:
            if dash is not kept:
                left.append(Unmanaged(f"dashboard #{dash.id}",
                                      _claimant_reason(key, dash, kept, original, live)))
    return managed, left


def _claimant_reason(key: str, dash: Dashboard, kept: Dashboard | None, original: Dashboard,
                     live: LiveState) -> str:
    """Why a live dashboard carrying ``key``'s mark is not the managed one."""
    who = f"created by {live.user_label(dash.creator_id)}"
    if kept is not None:
        return (f"carries the mark of {key!r} but dashboard #{kept.id} is the managed one "
                f"(a copy made in the UI?, {who}); it is never changed: remove the mark from "
                "its description")
    return (f"carries the mark of {key!r} ({who}), but dashboard #{original.id}, which had "
            "the mark first, is in the Trash: a copy never takes a dashboard over, so it is "
            f"left alone and never changed (a declared {key!r} gets a new dashboard). Restore "
            f"#{original.id} instead, or delete it from the Trash for good to make this one the "
            "managed dashboard, or remove the mark from this one")


def _unchanged_since_plan(ctx: WriteContext, dashboard_id: int, want: DesiredDashboard
                          ) -> dict[int, Dashcard] | None:
    """The dashcards now, by id, once sure that nobody added or removed one, or a tab.

    The ``PUT`` of ``dashcards`` deletes every dashcard and tab it leaves out, so one that a
    person added between plan and apply would be lost with the pulse cards that show it.
    None when the dashboard already has the planned layout (an apply killed after its ``PUT``
    was sent, or a concurrent one): nothing is left to write.
    """
    then = next((d for d in ctx.live.dashboards if d.id == dashboard_id), None)
    now = ctx.client.dashboards.get(dashboard_id)
    keys = {card_id: key for key, card_id in ctx.cards.items()}
    if not now.tabs and (Counter(item_of_dashcard(d, keys) for d in now.dashcards)
                         == Counter(want.items)):
        return None
    seen = (sorted(d.id for d in then.dashcards) if then else [],
            sorted(t.get("id") or 0 for t in then.tabs) if then else [])
    if (sorted(d.id for d in now.dashcards), sorted(t.get("id") or 0 for t in now.tabs)) != seen:
        raise ApiError(f"dashboard {want.key} (#{dashboard_id}) changed since plan (its cards "
                       "or tabs were edited in Metabase meanwhile), so its layout was not "
                       "written: run plan again")
    return {d.id: d for d in now.dashcards}


class Dashboards(Kind):
    """Dashboards: after the cards they show; before the subscriptions that send them."""

    name = "dashboard"
    retired_as = "archive those dashboards"
    depends_on = ("collection", "card")
    parallel = True

    def resolve(self, decls: Declarations, live: LiveState, defaults: Defaults,
                problems: list[Problem], desired: Desired) -> Desired:
        """The declared dashboards with their items laid out on the 24-column grid."""
        displays = {q.key: q.display for q in decls.questions}
        declared = {card.key for card in desired.cards}
        out: list[DesiredDashboard] = []
        for dash in decls.dashboards:
            places = layout(dash.cards, lambda key: displays.get(key, "table"))
            items = []
            for index, (item, place) in enumerate(zip(dash.cards, places, strict=True)):
                if isinstance(item, QuestionItem):
                    if item.question not in declared:
                        where = decls.locate_dashboard(dash.key, f"cards[{index}]")
                        problems.append(Problem(where.file, where.line, f"cards[{index}]",
                                                f"dashboard {dash.key!r}: "
                                                + _missing_card(item.question, live)))
                    items.append(DesiredItem("card", item.question, place))
                elif isinstance(item, HeadingItem):
                    items.append(DesiredItem("heading", item.heading, place))
                else:
                    items.append(DesiredItem("text", item.text, place))
            path = (tuple(split_path(defaults.collection or ""))
                    + tuple(split_path(dash.collection or "")))
            out.append(DesiredDashboard(
                key=dash.key, name=dash.name,
                description=compose_description(dash.description, dash.key),
                collection="/".join(path), collection_path=path, width=dash.width,
                items=tuple(items)))
        return replace(desired, dashboards=tuple(out))

    @staticmethod
    def managed(live: LiveState) -> dict[str, Dashboard]:
        """Live managed dashboards by key (the rule of :func:`dashboard_claims`)."""
        return dashboard_claims(live)[0]

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Creates and in-place updates of declared dashboards; hand-made ones reported."""
        live = walk.live
        managed, left_alone = dashboard_claims(live)
        walk.unmanaged.extend(left_alone)
        keys = {card.id: key for key, card in walk.managed_cards.items()}
        for want in desired.dashboards:
            dash = managed.get(want.key)
            address = f"dashboard {want.key}"
            if dash is None:
                walk.dashboard_states[want.key] = DashboardState(None, (None,) * len(want.items))
                self._hand_made_twins(want, live, walk)
                walk.changes.append(Change(
                    "create", "dashboard", address, key=want.key,
                    values=(*((k, v) for k, v in want.view().items() if v is not None),
                            ("cards", [i.describe() for i in want.items])),
                    payload=DashboardWrite(want, (None,) * len(want.items), True)))
                continue
            walk.existing += 1
            old = {"name": dash.name, "description": dash.description or "",
                   "collection": live.collection_path(dash.collection_id), "width": dash.width}
            names = [f for f in _FIELDS if f != "width" or want.width is not None]
            fields = field_changes(old, want.view(), names)
            ids: tuple[int | None, ...] = (None,) * len(want.items)
            layout_changes: list[FieldChange] = []
            seen = [(d, item_of_dashcard(d, keys)) for d in dash.dashcards]
            matched = _match(want.items, seen)
            walk.dashboard_states[want.key] = DashboardState(
                dash, tuple(m[0].id if m else None for m in matched))
            if dash.tabs:
                walk.unmanaged.append(Unmanaged(
                    f"tabs of dashboard {want.key}",
                    f"dashboard #{dash.id} has {len(dash.tabs)} tab(s) made by hand: its cards "
                    "are left as they are (metabase-guard lays out dashboards without tabs and "
                    "does not flatten them); remove the tabs in Metabase to manage its layout",
                ))
            else:
                layout_changes = _layout_fields(want, matched, seen)
                ids = tuple(m[0].id if m else None for m in matched)
            if fields or layout_changes:
                walk.changes.append(Change(
                    "update", "dashboard", address, key=want.key, live_id=dash.id,
                    fields=(*fields, *layout_changes),
                    payload=DashboardWrite(want, ids, bool(layout_changes))))

    @staticmethod
    def _hand_made_twins(want: DesiredDashboard, live: LiveState, walk: PlanWalk) -> None:
        for dash in live.dashboards:
            if dash.name == want.name and managed_key(dash.description) is None:
                walk.unmanaged.append(Unmanaged(
                    f"dashboard #{dash.id}",
                    f"has the name {dash.name!r} but no metabase-guard mark (made by hand): it "
                    f"is left alone and a new dashboard is created for {want.key!r}",
                ))

    def retire(self, desired: Desired, walk: PlanWalk) -> None:
        """Managed dashboards no longer declared are archived (with ``prune``) if we made them."""
        live = walk.live
        declared = {d.key for d in desired.dashboards}
        for key, dash in sorted(self.managed(live).items()):
            if key in declared:
                continue
            if dash.creator_id != live.me.id:
                walk.unmanaged.append(made_by_another(
                    f"dashboard #{dash.id}", key, live.user_label(dash.creator_id)))
                continue
            walk.existing += 1
            walk.delete(Change(
                "delete", "dashboard", f"dashboard {key}", key=key, live_id=dash.id,
                values=(("name", dash.name),
                        ("collection", live.collection_path(dash.collection_id))),
                effects=(_audience_effect(dash, live),),
            ))

    # -- writes -----------------------------------------------------------------------------

    def write(self, change: Change, ctx: WriteContext) -> None:
        """Create (POST then PUT), update in place (one PUT) or archive one dashboard."""
        if change.action == "delete":
            retire_live(change, ctx.client.dashboards.archive)
            return
        plan = change.payload
        assert isinstance(plan, DashboardWrite)
        want = plan.desired
        target = collection_id(ctx, want.collection_path)
        if change.action == "create":
            made = create_verified(
                lambda: ctx.client.dashboards.create({
                    "name": want.name, "description": want.description,
                    "collection_id": target}),
                lambda: next((d for d in ctx.client.dashboards.list("mine")
                              if managed_key(d.description) == want.key), None),
            )
            dashboard_id = made.id
            body: dict[str, Any] = {"width": want.width} if want.width is not None else {}
            current: dict[int, Dashcard] | None = {}
        else:
            assert change.live_id is not None
            dashboard_id = change.live_id
            changed = {f.field for f in change.fields}
            body = {k: v for k, v in (("name", want.name), ("description", want.description))
                    if k in changed}
            if "collection" in changed:
                body["collection_id"] = target
            if "width" in changed:
                body["width"] = want.width
            current = (_unchanged_since_plan(ctx, dashboard_id, want)
                       if plan.layout_changes else {})
        if plan.layout_changes and current is not None:
            body["tabs"] = []  # sent with dashcards, or Metabase deletes every tab
            body["dashcards"] = [
                _dashcard_body(item, kept if kept is not None else -(n + 1), ctx,
                               current.get(kept) if kept is not None else None)
                for n, (item, kept) in enumerate(zip(want.items, plan.dashcard_ids, strict=True))
            ]
        with ctx.lock:
            ctx.dashboards[want.key] = dashboard_id
        if body:
            write_idempotent(lambda: ctx.client.dashboards.update(dashboard_id, body))


KIND = Dashboards()
