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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from metabase_guard.api.models import Dashboard, Dashcard
from metabase_guard.api.resources import split_path
from metabase_guard.errors import ApiError, Problem
from metabase_guard.reconcile.collections import collection_id
from metabase_guard.reconcile.identity import compose_description, managed_key
from metabase_guard.reconcile.kind import Defaults, Desired, Kind, PlanWalk
from metabase_guard.reconcile.live import LiveState
from metabase_guard.reconcile.plan import Change, FieldChange, Unmanaged, field_changes
from metabase_guard.reconcile.writes import create_verified, retire_live, write_idempotent
from metabase_guard.spec.layout import Placement, layout
from metabase_guard.spec.loader import Declarations
from metabase_guard.spec.models import HeadingItem, QuestionItem

if TYPE_CHECKING:
    from metabase_guard.reconcile.writes import WriteContext

__all__ = ["KIND", "DashboardWrite", "DesiredDashboard", "DesiredItem", "item_of_dashcard"]

_FIELDS = ("name", "description", "collection", "width")


@dataclass(frozen=True)
class DesiredItem:
    """One dashcard as compared: a question (by key) or a heading/text, and where it goes."""

    display: str  # "card", "heading" or "text"
    content: str  # the question key, or the text
    place: Placement

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
    for index, (item, found) in enumerate(zip(desired.items, matched, strict=True)):
        label = f"cards[{index}]"
        if found is None:
            fields.append(FieldChange(label, None, item.describe()))
        elif found[1] != item:
            fields.append(FieldChange(label, found[1].describe(), item.describe()))
    for dashcard, seen in sorted(live, key=lambda dv: (dv[1].place.row, dv[1].place.col)):
        if dashcard.id not in kept:
            fields.append(FieldChange(f"dashcard #{dashcard.id}", seen.describe(), None))
    return fields


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


class Dashboards(Kind):
    """Dashboards: after the cards they show; before the subscriptions that send them."""

    name = "dashboard"
    depends_on = ("collection", "card")
    parallel = True

    def resolve(self, decls: Declarations, live: LiveState, defaults: Defaults,
                problems: list[Problem], desired: Desired) -> Desired:
        """The declared dashboards with their items laid out on the 24-column grid."""
        displays = {q.key: q.display for q in decls.questions}
        out: list[DesiredDashboard] = []
        for dash in decls.dashboards:
            places = layout(dash.cards, lambda key: displays.get(key, "table"))
            items = []
            for item, place in zip(dash.cards, places, strict=True):
                if isinstance(item, QuestionItem):
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
        """Live managed dashboards by key, the oldest first when a key is claimed twice."""
        out: dict[str, Dashboard] = {}
        for dash in sorted(live.dashboards, key=lambda d: (d.creator_id != live.me.id, d.id)):
            key = managed_key(dash.description)
            if key is not None:
                out.setdefault(key, dash)
        return out

    def diff(self, desired: Desired, walk: PlanWalk) -> None:
        """Creates and in-place updates of declared dashboards; hand-made ones reported."""
        live = walk.live
        managed = self.managed(live)
        keys = {card.id: key for key, card in walk.managed_cards.items()}
        for want in desired.dashboards:
            dash = managed.get(want.key)
            address = f"dashboard {want.key}"
            if dash is None:
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
            if dash.tabs:
                walk.unmanaged.append(Unmanaged(
                    f"tabs of dashboard {want.key}",
                    f"dashboard #{dash.id} has {len(dash.tabs)} tab(s) made by hand: its cards "
                    "are left as they are (metabase-guard lays out dashboards without tabs and "
                    "does not flatten them); remove the tabs in Metabase to manage its layout",
                ))
            else:
                seen = [(d, item_of_dashcard(d, keys)) for d in dash.dashcards]
                matched = _match(want.items, seen)
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
                walk.unmanaged.append(Unmanaged(
                    f"dashboard #{dash.id}",
                    f"carries the mark of {key!r}, which these declarations do not have, but "
                    f"was created by {live.user_label(dash.creator_id)}: never archived from "
                    "here, even with --prune",
                ))
                continue
            walk.existing += 1
            walk.delete(Change(
                "delete", "dashboard", f"dashboard {key}", key=key, live_id=dash.id,
                values=(("name", dash.name),
                        ("collection", live.collection_path(dash.collection_id))),
                effects=("Metabase deletes every subscription of this dashboard when it is "
                         "archived (src/metabase/dashboards/models/dashboard.clj), and their "
                         "recipients stop receiving it",),
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
            current: dict[int, Dashcard] = {}
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
            current = {d.id: d for live in ctx.live.dashboards if live.id == dashboard_id
                       for d in live.dashcards}
        if plan.layout_changes:
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
