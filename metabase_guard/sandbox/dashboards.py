"""``/api/dashboard``: create, list, read, update (dashcards and tabs matched by id), delete.

Sources (metabase/metabase, server code): ``src/metabase/dashboards_rest/api.clj`` (the
endpoints; ``src/metabase/dashboards/api.clj`` before the 0.58 module move, same behaviour),
``src/metabase/dashboards/models/dashboard.clj`` (hydration, before-update hooks),
``src/metabase/dashboards/models/dashboard_card.clj`` (what a dashcard update compares),
``src/metabase/dashboards/models/dashboard_tab.clj`` (tab reconciliation) and ``row-diff`` in
``src/metabase/util.cljc``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox.cards import (
    card_json,
    card_readable,
    collection_summary,
    target_collection,
)
from metabase_guard.sandbox.core import (
    ApiFailure,
    Reply,
    Request,
    Row,
    bad_request,
    forbidden,
    nano_id,
    no_content,
    not_found,
    now_iso,
    ok,
)
from metabase_guard.sandbox.store import Store
from metabase_guard.sandbox.validation import (
    MISSING,
    Errors,
    check_bool,
    check_enum,
    check_list,
    check_map,
    check_non_blank,
    check_positive_int,
    field,
    received,
)

if TYPE_CHECKING:
    from metabase_guard.sandbox.app import Router, Sandbox

LIST_FILTERS = ["all", "mine", "archived"]
WIDTHS = ["fixed", "full"]
# ``inline_parameters`` on dashcards (dashboard_card.clj); the release that added the column
# is not pinned: 0.56 is inferred from the shared notes, the CLI's 0.58+ schema requires it.
INLINE_PARAMETERS_SINCE = 56

# dashboards_rest/api.clj (update-dashboard!, u/select-keys-when): applied when present
# (null clears) / applied only when non-null.
PRESENT_KEYS = (
    "description",
    "position",
    "width",
    "collection_id",
    "collection_position",
    "cache_ttl",
    "embedding_type",
)
NON_NIL_KEYS = (
    "name",
    "parameters",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "enable_embedding",
    "embedding_params",
    "archived",
    "auto_apply_filters",
)
# dashboard_card.clj (update-dashboard-card!): the only columns a dashcard update compares.
DASHCARD_UPDATABLE = (
    "action_id",
    "card_id",
    "row",
    "col",
    "size_x",
    "size_y",
    "parameter_mappings",
    "visualization_settings",
    "dashboard_tab_id",
    "inline_parameters",
)
DASHBOARD_COLUMNS = (
    "id",
    "name",
    "description",
    "collection_id",
    "collection_position",
    "creator_id",
    "width",
    "auto_apply_filters",
    "enable_embedding",
    "embedding_params",
    "embedding_type",
    "public_uuid",
    "made_public_by_id",
    "parameters",
    "cache_ttl",
    "archived",
    "archived_directly",
    "position",
    "caveats",
    "points_of_interest",
    "show_in_getting_started",
    "entity_id",
    "created_at",
    "updated_at",
    "view_count",
    "last_viewed_at",
    "archive_operation_id",
    "initially_published_at",
)
DASHCARD_COLUMNS = (
    "id",
    "dashboard_id",
    "card_id",
    "dashboard_tab_id",
    "action_id",
    "row",
    "col",
    "size_x",
    "size_y",
    "visualization_settings",
    "parameter_mappings",
    "entity_id",
    "created_at",
    "updated_at",
)
ARCHIVED = {"message": "The object has been archived.", "error_code": "archived"}
NEEDS_TAB = "This dashboard has tab, makes sure every card has a tab"


def register(router: Router) -> None:
    """Register this module's endpoints."""
    router.add("GET", "/api/dashboard")(list_dashboards)
    router.add("POST", "/api/dashboard")(create_dashboard)
    router.add("GET", "/api/dashboard/:id")(get_dashboard)
    router.add("GET", "/api/dashboard/:entity")(get_dashboard_by_entity_id)
    router.add("PUT", "/api/dashboard/:id")(update_dashboard)
    router.add("DELETE", "/api/dashboard/:id")(delete_dashboard)



# ------------------------------------------------------------------------------ reading
def dashboard_readable(store: Store, dash: Row, user: Row) -> bool:
    """Dashboards follow their collection's permissions, like cards."""
    return store.collection_readable(store.get("collections", dash["collection_id"]), user)


def _readable(store: Store, dash_id: int, user: Row) -> Row:
    dash = store.get_or_404("dashboards", dash_id)
    if not dashboard_readable(store, dash, user):
        raise forbidden()
    return dash


def dashcard_visible(store: Store, dashcard: Row) -> bool:
    """Whether GET shows a dashcard.

    dashboards/models/dashboard.clj (batched-hydrate :dashcards): rows are kept when they have
    no card (text, heading), a card that is not archived, or a dashboard question of this
    dashboard that was archived with it rather than directly. The hidden rows stay stored.
    """
    card = store.get("cards", dashcard["card_id"])
    if card is None:
        return True
    if not card["archived"]:
        return True
    return card.get("dashboard_id") == dashcard["dashboard_id"] and not card.get(
        "archived_directly"
    )


def dashcards_of(store: Store, dash: Row, *, visible_only: bool = True) -> list[Row]:
    """The dashboard's dashcard rows in the order Metabase answers them.

    dashboards/models/dashboard.clj orders by ``created_at`` only, so dashcards created by one
    PUT share a timestamp and come back in no defined order. Each row carries the batch it was
    created in and a random tie-break drawn at insert (seeded RNG), which keeps the order
    stable between reads but unrelated to layout, as terraform-provider-metabase#97 saw.
    """
    rows = store.rows_where("dashcards", "dashboard_id", dash["id"])
    if visible_only:
        rows = [r for r in rows if dashcard_visible(store, r)]
    return sorted(rows, key=lambda r: (r["_batch"], r["_tiebreak"]))


def tabs_of(store: Store, dash: Row) -> list[Row]:
    """Tabs ordered by ``position, id`` (dashboard.clj, batched-hydrate :tabs)."""
    rows = store.rows_where("dashboard_tabs", "dashboard_id", dash["id"])
    return sorted(rows, key=lambda t: (t["position"], t["id"]))


def tab_json(tab: Row) -> Row:
    """A tab as the API shows it."""
    return {k: tab[k] for k in ("id", "dashboard_id", "name", "position", "entity_id",
                                "created_at", "updated_at")}


def dashcard_json(store: Store, dashcard: Row, user: Row, major: int) -> Row:
    """A dashcard with ``card`` and ``series`` hydrated (``card`` is null for virtual ones)."""
    out = {k: copy.deepcopy(dashcard[k]) for k in DASHCARD_COLUMNS}
    if major >= INLINE_PARAMETERS_SINCE:
        out["inline_parameters"] = list(dashcard["inline_parameters"])
    card = store.get("cards", dashcard["card_id"])
    out["card"] = card_json(store, card, user) if card is not None else None
    series = [store.get("cards", card_id) for card_id in dashcard["_series"]]
    out["series"] = [card_json(store, c, user) for c in series if c is not None]
    out["collection_authority_level"] = None
    return out


def dashboard_json(
    store: Store, dash: Row, user: Row, major: int, *, details: bool, from_get: bool = False
) -> Row:
    """A dashboard row, and with ``details`` the hydrations of ``GET /api/dashboard/:id``.

    dashboards_rest/api.clj (hydrate-dashboard-details): dashcards with their card, tabs,
    creator, collection and the ``can_*`` flags; a directly archived dashboard is presented in
    the Trash (api/common.clj, present-in-trash-if-archived-directly).
    """
    out = {k: copy.deepcopy(dash[k]) for k in DASHBOARD_COLUMNS}
    if from_get and dash["archived"] and dash.get("archived_directly"):
        out["collection_id"] = store.trash_id
    writable = store.collection_writable(store.get("collections", dash["collection_id"]), user)
    out["creator"] = store.user_summary(store.get("users", dash["creator_id"]))
    out["last-edit-info"] = {"id": dash["creator_id"], "timestamp": dash["updated_at"]}
    out["can_write"] = writable
    if not details:
        return out
    out["dashcards"] = [dashcard_json(store, dc, user, major) for dc in dashcards_of(store, dash)]
    out["tabs"] = [tab_json(t) for t in tabs_of(store, dash)]
    out["collection"] = collection_summary(store, dash["collection_id"])
    out.update(
        {
            "can_restore": bool(dash["archived"] and dash.get("archived_directly")),
            "can_delete": writable and bool(dash["archived"]),
            "can_set_cache_policy": store.is_superuser(user),
            "collection_authority_level": None,
            "param_fields": None,
            "param_values": None,
            "moderation_reviews": [],
            "is_remote_synced": False,
            "last_used_param_values": {},
        }
    )
    return out


def list_dashboards(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/dashboard?f=all|mine|archived``: rows without dashcards, by lower-cased name.

    dashboards_rest/api.clj (GET "/", dashboards-list): ``archived`` lists only archived ones,
    the others only non-archived ones; unreadable dashboards are dropped.
    """
    store, user = sb.store, req.me
    mode = req.arg("f") or "all"
    if mode not in LIST_FILTERS:
        raise ApiFailure(400, {"errors": {"f": "nullable enum of " + ", ".join(LIST_FILTERS)}})
    rows = [
        d
        for d in store.all("dashboards")
        if bool(d["archived"]) == (mode == "archived")
        and (mode != "mine" or d["creator_id"] == user["id"])
        and dashboard_readable(store, d, user)
    ]
    rows.sort(key=lambda d: (d["name"].lower(), d["id"]))
    return ok([dashboard_json(store, d, user, sb.major, details=False) for d in rows])


def get_dashboard(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/dashboard/:id``: the hydrated dashboard."""
    store, user = sb.store, req.me
    dash = _readable(store, req.id_param(), user)
    return ok(dashboard_json(store, dash, user, sb.major, details=True, from_get=True))


def get_dashboard_by_entity_id(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/dashboard/:entity-id``: the route id may be the 21-character entity id."""
    store, user = sb.store, req.me
    for dash in store.all("dashboards"):
        if dash["entity_id"] == req.params["entity"]:
            if not dashboard_readable(store, dash, user):
                raise forbidden()
            return ok(dashboard_json(store, dash, user, sb.major, details=True, from_get=True))
    raise not_found()


# ------------------------------------------------------------------------------ create
def _validate_create(errors: Errors, body: dict[str, Any]) -> None:
    # dashboards_rest/api.clj (defendpoint :post "/"): the declared keys; any other key
    # (dashcards, tabs, width...) is dropped by the decoder, not rejected.
    field(errors, body, "name", check_non_blank, required=True)
    _check_string(errors, body, "description")
    field(errors, body, "parameters", check_list)
    field(errors, body, "cache_ttl", check_positive_int)
    field(errors, body, "collection_id", check_positive_int)
    field(errors, body, "collection_position", check_positive_int)


def _check_string(errors: Errors, body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        errors.add([key], "nullable value must be a string.",
                   [f"should be a string, received: {received(value)}"])


def create_dashboard(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/dashboard``: metadata only; defaults of a fresh dashboard."""
    store, user = sb.store, req.me
    body = req.json_object()
    errors = Errors()
    _validate_create(errors, body)
    errors.raise_if_any()
    coll = target_collection(store, user, body.get("collection_id"))
    stamp = now_iso()
    dash = store.insert(
        "dashboards",
        {
            "name": body["name"],
            "description": body.get("description"),
            "collection_id": coll["id"] if coll else None,
            "collection_position": body.get("collection_position"),
            "creator_id": user["id"],
            # dashboards/models/dashboard.clj and the CLI's e2e expectations: a fresh
            # dashboard is fixed-width, auto-applies filters and is not embedded.
            "width": "fixed",
            "auto_apply_filters": True,
            "enable_embedding": False,
            "embedding_params": None,
            "embedding_type": None,
            "public_uuid": None,
            "made_public_by_id": None,
            "parameters": copy.deepcopy(body.get("parameters") or []),
            "cache_ttl": body.get("cache_ttl"),
            "archived": False,
            "archived_directly": False,
            "position": None,
            "caveats": None,
            "points_of_interest": None,
            "show_in_getting_started": False,
            "entity_id": nano_id(),
            "created_at": stamp,
            "updated_at": stamp,
            "view_count": 0,
            "last_viewed_at": None,
            "archive_operation_id": None,
            "initially_published_at": None,
        },
    )
    return ok(dashboard_json(store, dash, user, sb.major, details=True))


# ------------------------------------------------------------------------------ update
def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any) -> list[str] | None:
    return None if _int(value) else [f"should be an int, received: {received(value)}"]


def _check_non_negative(value: Any) -> list[str] | None:
    if _int(value) and value >= 0:
        return None
    return [f"should be an integer greater or equal to than zero, received: {received(value)}"]


def _validate_items(
    errors: Errors, body: dict[str, Any], key: str, checks: Sequence[tuple[str, Any, bool]]
) -> None:
    """``(ms/maps-with-unique-key [:sequential Item] :id)``: one description for the key."""
    items = body.get(key, MISSING)
    if items is MISSING or items is None:
        return
    description = "nullable value must be seq of maps in which ids are unique"
    if not isinstance(items, list):
        errors.add([key], description, [f"invalid type, received: {received(items)}"])
        return
    item_errors = Errors()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            item_errors.add([index], "", [f"invalid type, received: {received(item)}"])
            continue
        for name, check, required in checks:
            field(item_errors, item, name, check, required=required, path=[index])
    ids = [item.get("id") for item in items if isinstance(item, dict)]
    if item_errors or len(ids) != len(set(map(repr, ids))):
        errors.errors[key] = description
        errors.specific[key] = item_errors.specific or [f"invalid, received: {received(items)}"]


DASHCARD_CHECKS = (
    ("id", _check_int, True),
    ("size_x", check_positive_int, True),
    ("size_y", check_positive_int, True),
    ("row", _check_non_negative, True),
    ("col", _check_non_negative, True),
    ("card_id", check_positive_int, False),
    ("dashboard_tab_id", _check_int, False),
    ("parameter_mappings", check_list, False),
    ("inline_parameters", check_list, False),
    ("series", check_list, False),
    ("visualization_settings", check_map, False),
)
TAB_CHECKS = (("id", _check_int, True), ("name", check_non_blank, True))


def _validate_update(errors: Errors, body: dict[str, Any]) -> None:
    # dashboards_rest/api.clj (DashUpdates).
    field(errors, body, "name", check_non_blank)
    for key in ("description", "caveats", "points_of_interest", "embedding_type"):
        _check_string(errors, body, key)
    for key in ("show_in_getting_started", "enable_embedding", "archived", "auto_apply_filters"):
        field(errors, body, key, check_bool)
    field(errors, body, "embedding_params", check_map)
    field(errors, body, "parameters", check_list)
    for key in ("position", "collection_id", "collection_position", "cache_ttl"):
        field(errors, body, key, check_positive_int)
    field(errors, body, "width", check_enum(WIDTHS), nullable=False,
          description="enum of fixed, full")
    _validate_items(errors, body, "dashcards", DASHCARD_CHECKS)
    _validate_items(errors, body, "tabs", TAB_CHECKS)


def update_dashboard(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/dashboard/:id``: scalar patch, and ``dashcards``/``tabs`` matched by id."""
    store, user = sb.store, req.me
    dash = _readable(store, req.id_param(), user)
    if not store.collection_writable(store.get("collections", dash["collection_id"]), user):
        raise forbidden()
    body = req.json_object()
    errors = Errors()
    _validate_update(errors, body)
    errors.raise_if_any()
    was_archived = bool(dash["archived"])
    changes = {k: body[k] for k in PRESENT_KEYS if k in body}
    changes.update({k: body[k] for k in NON_NIL_KEYS if body.get(k) is not None})
    if changes.get("archived") is True and not was_archived:
        # api/common.clj (updates-with-archived-directly): archiving ignores a collection_id
        # in the same body and marks the dashboard archived directly.
        changes.pop("collection_id", None)
        changes["archived_directly"] = True
    elif changes.get("archived") is False and was_archived:
        changes["archived_directly"] = False
    if "collection_id" in changes:
        coll = target_collection(store, user, changes["collection_id"])
        changes["collection_id"] = coll["id"] if coll else None
    if "dashcards" in body:
        # update-dashboard!: the check reads the dashboard as it was before this request.
        if was_archived:
            raise ApiFailure(404, ARCHIVED)
        _check_tabs_and_refs(store, dash, user, body)
    if changes.get("archived") is True and not was_archived:
        # dashboards/models/dashboard.clj (define-before-update): archiving deletes the
        # dashboard's subscriptions; restoring does not bring them back.
        from metabase_guard.sandbox.pulses import delete_pulses_of

        delete_pulses_of(store, dash["id"])
    dash.update(copy.deepcopy(changes))
    if "dashcards" in body:
        _update_dashcards_and_tabs(sb, dash, body)
    dash["updated_at"] = now_iso()
    if set(body) != {"collection_position"}:
        from metabase_guard.sandbox.pulses import on_dashboard_update

        on_dashboard_update(store, dash)
    return ok(dashboard_json(store, dash, user, sb.major, details=True))


def _check_tabs_and_refs(store: Store, dash: Row, user: Row, body: dict[str, Any]) -> None:
    """The checks of ``update-dashboard!`` that run before anything is written."""
    tabs = body.get("tabs") or []
    dashcards = body["dashcards"] or []
    if len(tabs) == 1:
        only = tabs[0]["id"]
        dashcards = [dc if dc.get("dashboard_tab_id") is not None
                     else {**dc, "dashboard_tab_id": only} for dc in dashcards]
    if tabs and any(dc.get("dashboard_tab_id") is None for dc in dashcards):
        raise bad_request(NEEDS_TAB)
    current = {dc["id"] for dc in dashcards_of(store, dash)}
    for dc in dashcards:
        if dc["id"] in current:
            continue
        # dashboards_rest/api.clj (create-dashcards!): every new dashcard's card must be
        # readable and not archived; series cards likewise (check-new-references).
        refs = [dc.get("card_id")] + [s.get("id") for s in dc.get("series") or []
                                      if isinstance(s, dict)]
        for card_id in refs:
            if card_id is None:
                continue
            card = store.get_or_404("cards", card_id)
            if not card_readable(store, card, user):
                raise forbidden()
            if card["archived"]:
                raise ApiFailure(404, ARCHIVED)
            # assert-new-dashcards-are-not-internal-to-other-dashboards
            if card.get("dashboard_id") not in (None, dash["id"]):
                raise bad_request("Invalid Request.")


def _update_dashcards_and_tabs(sb: Sandbox, dash: Row, body: dict[str, Any]) -> None:
    """Reconcile tabs, then dashcards, as ``update-dashboard!`` does.

    A missing or null ``tabs`` counts as no tabs: every existing tab goes, with its dashcards
    ("tabs are always sent in production as well when dashcards are updated").
    """
    store = sb.store
    new_tabs = [{**t, "position": i} for i, t in enumerate(body.get("tabs") or [])]
    dashcards = [dict(dc) for dc in body["dashcards"] or []]
    if len(new_tabs) == 1:
        for dc in dashcards:
            if dc.get("dashboard_tab_id") is None:
                dc["dashboard_tab_id"] = new_tabs[0]["id"]
    old_to_new, deleted_tabs = _update_tabs(store, dash, new_tabs)
    for dc in dashcards:
        if dc.get("dashboard_tab_id") in old_to_new:
            dc["dashboard_tab_id"] = old_to_new[dc["dashboard_tab_id"]]
    current = [dc for dc in dashcards_of(store, dash)
               if dc["dashboard_tab_id"] not in deleted_tabs]
    for dc in store.rows_where("dashcards", "dashboard_id", dash["id"]):
        if dc["dashboard_tab_id"] in deleted_tabs:
            _delete_dashcard(store, dc)
    # util.cljc (row-diff): a row whose id is not among the current ones is created (negative
    # ids, 0, or an unknown positive id); a current row not sent is deleted.
    by_id = {dc["id"]: dc for dc in current}
    sent_ids = {dc["id"] for dc in dashcards}
    for dc in current:
        if dc["id"] not in sent_ids:
            _delete_dashcard(store, dc)
    batch = store.next_batch()
    for dc in dashcards:
        existing = by_id.get(dc["id"])
        if existing is None:
            _insert_dashcard(sb, dash, dc, batch)
        else:
            _update_dashcard(existing, dc)


def _update_tabs(store: Store, dash: Row, new_tabs: list[Row]) -> tuple[dict[int, int], set[int]]:
    """dashboard_tab.clj (do-update-tabs!): row-diff of tabs; old → new ids, deleted ids."""
    current = {t["id"]: t for t in tabs_of(store, dash)}
    old_to_new: dict[int, int] = {}
    stamp = now_iso()
    for tab in new_tabs:
        existing = current.get(tab["id"])
        if existing is None:
            row = store.insert("dashboard_tabs", {
                "dashboard_id": dash["id"], "name": tab["name"], "position": tab["position"],
                "entity_id": nano_id(), "created_at": stamp, "updated_at": stamp})
            old_to_new[tab["id"]] = row["id"]
        elif (existing["name"], existing["position"]) != (tab["name"], tab["position"]):
            existing.update(name=tab["name"], position=tab["position"], updated_at=stamp)
    deleted = set(current) - {t["id"] for t in new_tabs}
    for tab_id in deleted:
        store.delete("dashboard_tabs", tab_id)
    return old_to_new, deleted


def _series_ids(dc: Row) -> list[int]:
    return [s["id"] for s in dc.get("series") or [] if isinstance(s, dict) and "id" in s]


def _insert_dashcard(sb: Sandbox, dash: Row, dc: Row, batch: int) -> None:
    # dashboard_card.clj (define-before-insert, create-dashboard-cards!): defaults for the
    # mapping, settings and inline-parameter columns.
    stamp = now_iso()
    sb.store.insert("dashcards", {
        "dashboard_id": dash["id"],
        "card_id": dc.get("card_id"),
        "dashboard_tab_id": dc.get("dashboard_tab_id"),
        "action_id": dc.get("action_id"),
        "row": dc["row"],
        "col": dc["col"],
        "size_x": dc["size_x"],
        "size_y": dc["size_y"],
        "visualization_settings": copy.deepcopy(dc.get("visualization_settings") or {}),
        "parameter_mappings": copy.deepcopy(dc.get("parameter_mappings") or []),
        "inline_parameters": list(dc.get("inline_parameters") or []),
        "entity_id": nano_id(),
        "created_at": stamp,
        "updated_at": stamp,
        "_series": _series_ids(dc),
        "_batch": batch,
        "_tiebreak": sb.store.rng.random(),
    })


def _update_dashcard(existing: Row, sent: Row) -> None:
    """dashboard_card.clj (update-dashboard-card!): only sent, changed columns are written.

    ``series`` is the exception: it is compared with ``(:series x [])``, so omitting it clears
    the series.
    """
    changed = False
    for key in DASHCARD_UPDATABLE:
        if key in sent and sent[key] != existing[key]:
            value = sent[key]
            if key in ("parameter_mappings", "inline_parameters") and value is None:
                value = []
            existing[key] = copy.deepcopy(value)
            changed = True
    series = _series_ids(sent)
    if series != existing["_series"]:
        existing["_series"] = series
        changed = True
    if changed:
        existing["updated_at"] = now_iso()


def _delete_dashcard(store: Store, dashcard: Row) -> None:
    """dashboard_card.clj (delete-dashboard-cards!): the dashcard and its pulse cards."""
    for pulse_card in store.rows_where("pulse_cards", "dashboard_card_id", dashcard["id"]):
        store.delete("pulse_cards", pulse_card["id"])
    store.delete("dashcards", dashcard["id"])


def delete_dashboard(sb: Sandbox, req: Request) -> Reply:
    """``DELETE /api/dashboard/:id``: hard delete (204) with dashcards, tabs and pulses."""
    from metabase_guard.sandbox.pulses import delete_pulses_of

    store, user = sb.store, req.me
    dash = _readable(store, req.id_param(), user)
    if not store.collection_writable(store.get("collections", dash["collection_id"]), user):
        raise forbidden()
    for dashcard in dashcards_of(store, dash, visible_only=False):
        _delete_dashcard(store, dashcard)
    for tab in tabs_of(store, dash):
        store.delete("dashboard_tabs", tab["id"])
    delete_pulses_of(store, dash["id"])
    store.delete("dashboards", dash["id"])
    return no_content()


def delete_card_dashcards(store: Store, card_id: int) -> None:
    """A hard-deleted card takes its dashcards (and their pulse cards) with it.

    queries/models/card.clj no longer deletes them itself; the report_dashboardcard foreign
    key cascades (shared notes §2, not verified against the migrations).
    """
    # not rows_where: a dashcard's card_id is updated in place ("Replace" keeps the id)
    for dashcard in [d for d in store.all("dashcards") if d["card_id"] == card_id]:
        _delete_dashcard(store, dashcard)
