"""``/api/collection``: list, tree, get, create, update (move, archive), items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox.core import (
    ApiFailure,
    Reply,
    Request,
    Row,
    bad_request,
    forbidden,
    not_found,
    ok,
)
from metabase_guard.sandbox.store import Store
from metabase_guard.sandbox.validation import (
    Errors,
    check_bool,
    check_enum,
    check_non_blank,
    check_positive_int,
    field,
)

if TYPE_CHECKING:
    from metabase_guard.sandbox.app import Router, Sandbox

ITEM_MODELS = [
    "card",
    "dataset",
    "metric",
    "dashboard",
    "collection",
    "pulse",
    "snippet",
    "timeline",
    "document",
    "table",
    "no_models",
]


#: The virtual root collection's id in Metabase's API (``collections_rest/api.clj``).
ROOT_ID = "root"


def register(router: Router) -> None:
    """Register this module's endpoints."""
    router.add("GET", "/api/collection")(list_collections)
    router.add("GET", "/api/collection/tree")(tree)
    router.add("GET", "/api/collection/root")(get_root)
    router.add("GET", "/api/collection/trash")(get_trash)
    router.add("GET", f"/api/collection/{ROOT_ID}/items")(root_items)
    router.add("GET", "/api/collection/:id")(get_collection)
    router.add("GET", "/api/collection/:id/items")(collection_items)
    router.add("POST", "/api/collection")(create_collection)
    router.add("PUT", "/api/collection/:id")(update_collection)



def root_json() -> Row:
    """The virtual root collection."""
    return {
        "id": "root",
        "name": "Our analytics",
        "description": None,
        "authority_level": None,
        "namespace": None,
        "is_personal": False,
        "can_write": True,
        "can_restore": False,
        "can_delete": False,
        "effective_ancestors": [],
        "effective_location": None,
        "parent_id": None,
        "type": None,
    }


def ancestors(store: Store, coll: Row) -> list[Row]:
    """Stored ancestor rows of ``coll``, top first (from its ``location``)."""
    out = []
    for part in coll["location"].strip("/").split("/"):
        if part and (row := store.get("collections", int(part))) is not None:
            out.append(row)
    return out


def parent_id(coll: Row) -> int | None:
    """The id of the direct parent from ``location``, ``None`` at top level."""
    parts = [p for p in coll["location"].strip("/").split("/") if p]
    return int(parts[-1]) if parts else None


def collection_json(store: Store, coll: Row, user: Row, *, full: bool = True) -> Row:
    """A collection with the hydrations of ``GET /api/collection/:id``.

    metabase/metabase src/metabase/collections_rest/api.clj: ``parent_id``,
    ``effective_location`` and ``effective_ancestors`` (root first) derive from ``location``.
    """
    out = dict(coll)
    out["is_personal"] = store.personal_owner(coll) is not None
    out["can_write"] = store.collection_writable(coll, user) and coll.get("type") != "trash"
    out["can_restore"] = bool(coll["archived"] and coll.get("archived_directly"))
    out["can_delete"] = bool(coll["archived"]) and store.is_superuser(user)
    out["is_remote_synced"] = False
    if full:
        readable = [a for a in ancestors(store, coll) if store.collection_readable(a, user)]
        out["parent_id"] = parent_id(coll)
        out["effective_location"] = "/" + "".join(f"{a['id']}/" for a in readable)
        root = {"metabase.collections.models.collection.root/is-root?": True, **root_json()}
        root = {
            k: root[k]
            for k in (
                "metabase.collections.models.collection.root/is-root?",
                "id",
                "name",
                "authority_level",
                "is_personal",
                "can_write",
            )
        }
        out["effective_ancestors"] = [root] + [
            {
                "id": a["id"],
                "name": a["name"],
                "slug": a["slug"],
                "type": a["type"],
                "personal_owner_id": a["personal_owner_id"],
                "authority_level": a["authority_level"],
                "is_personal": store.personal_owner(a) is not None,
                "can_write": True,
                "entity_id": a["entity_id"],
            }
            for a in readable
        ]
    return out


def _sort_key(coll: Row) -> tuple[int, int, str, int]:
    # metabase/metabase src/metabase/collections_rest/api.clj: official first, then type null
    # first, then lower-cased name.
    return (
        0 if coll.get("authority_level") == "official" else 1,
        0 if coll.get("type") is None else 1,
        coll["name"].lower(),
        coll["id"],
    )


def list_collections(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection``: bare array, root prepended unless archived/personal-only."""
    store, user = sb.store, req.me
    archived = req.flag("archived")
    personal_only = req.flag("personal-only")
    exclude_others = req.flag("exclude-other-user-collections")
    rows = []
    for coll in store.all("collections"):
        if not store.collection_readable(coll, user):
            continue
        if coll.get("type") == "trash":
            if archived:
                rows.append(coll)
            continue
        if bool(coll["archived"]) != archived:
            continue
        owner = store.personal_owner(coll)
        if personal_only and owner is None:
            continue
        if exclude_others and owner is not None and owner != user["id"]:
            continue
        rows.append(coll)
    rows.sort(key=_sort_key)
    out = [collection_json(store, c, user, full=False) for c in rows]
    if not archived and not personal_only:
        out.insert(0, root_json())
    return ok(out)


def tree(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/tree``: nested ``children`` with ``here``/``below`` model sets."""
    store, user = sb.store, req.me
    exclude_archived = req.flag("exclude-archived")
    colls = [
        c
        for c in store.all("collections")
        if store.collection_readable(c, user)
        and c.get("type") != "trash"
        and not (exclude_archived and c["archived"])
    ]

    def here(coll_id: int) -> list[str]:
        models = {
            card_model(c)
            for c in store.all("cards")
            if c["collection_id"] == coll_id and not c["archived"]
        }
        return sorted(models)

    def build(pid: int | None) -> list[Row]:
        kids = sorted((c for c in colls if parent_id(c) == pid), key=_sort_key)
        out = []
        for kid in kids:
            node = collection_json(store, kid, user, full=False)
            node["children"] = build(kid["id"])
            node["here"] = here(kid["id"])
            below: set[str] = set()
            for child in node["children"]:
                below |= set(child["here"]) | set(child["below"])
            node["below"] = sorted(below)
            out.append(node)
        return out

    return ok(build(None))


def get_collection(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/:id``."""
    store, user = sb.store, req.me
    coll = store.get_or_404("collections", req.id_param())
    if not store.collection_readable(coll, user):
        raise forbidden()
    return ok(collection_json(store, coll, user))


def get_root(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/root``."""
    return ok(root_json())


def get_trash(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/trash``."""
    store = sb.store
    return ok(collection_json(store, store.get_or_404("collections", store.trash_id), req.me))


def card_model(card: Row) -> str:
    """Collection-item model of a card: ``card``, ``dataset`` (model) or ``metric``."""
    return {"model": "dataset", "metric": "metric"}.get(card.get("type") or "question", "card")


def _items(sb: Sandbox, req: Request, coll: Row | None) -> Reply:
    """Items of a collection (``None`` = root).

    metabase/metabase src/metabase/collections_rest/api.clj and the offset-paging middleware
    (metabase.server.middleware.offset-paging): paging only when ``limit`` or ``offset`` is
    given (defaults 50 / 0), else everything with ``limit``/``offset`` null.
    """
    store, user = sb.store, req.me
    models = req.args("models")
    for model in models:
        if model not in ITEM_MODELS:
            raise ApiFailure(400, {"errors": {"models": "nullable value must be a valid model"}})
    archived = req.flag("archived")
    coll_id = coll["id"] if coll else None
    is_trash = coll is not None and coll.get("type") == "trash"
    items: list[Row] = []
    for child in store.all("collections"):
        if child.get("type") == "trash" or not store.collection_readable(child, user):
            continue
        if is_trash:
            if not (child["archived"] and child.get("archived_directly")):
                continue
        elif parent_id(child) != coll_id or bool(child["archived"]) != archived:
            continue
        if coll is None and child.get("personal_owner_id"):
            continue
        items.append(
            {
                "id": child["id"],
                "name": child["name"],
                "description": child["description"],
                "model": "collection",
                "entity_id": child["entity_id"],
                "location": child["location"],
                "authority_level": child["authority_level"],
                "type": child["type"],
                "archived": child["archived"],
                "can_write": True,
                "personal_owner_id": child["personal_owner_id"],
                "collection_id": coll_id if not is_trash else store.trash_id,
            }
        )
    show_dash_questions = req.flag("show_dashboard_questions")
    for card in store.all("cards"):
        if is_trash:
            if not (card["archived"] and card.get("archived_directly")):
                continue
        elif card["collection_id"] != coll_id or bool(card["archived"]) != archived:
            continue
        if card.get("dashboard_id") and not show_dash_questions:
            continue
        items.append(
            {
                "id": card["id"],
                "name": card["name"],
                "description": card["description"],
                "model": card_model(card),
                "entity_id": card["entity_id"],
                "display": card["display"],
                "collection_position": card["collection_position"],
                "collection_preview": card["collection_preview"],
                "database_id": card["database_id"],
                "dashboard_id": card["dashboard_id"],
                "archived": card["archived"],
                "collection_id": coll_id,
                "can_write": True,
                "last_used_at": None,
                "last-edit-info": {"id": card["creator_id"], "timestamp": card["updated_at"]},
            }
        )
    present = sorted({i["model"] for i in items})
    if models and "no_models" not in models:
        items = [i for i in items if i["model"] in models]
    elif "no_models" in models:
        items = []
    sort_column = req.arg("sort_column") or "name"
    descending = (req.arg("sort_direction") or "asc").lower() == "desc"
    if sort_column == "model":
        items.sort(key=lambda i: (i["model"], i["id"]), reverse=descending)
    elif sort_column == "last_edited_at":
        items.sort(
            key=lambda i: ((i.get("last-edit-info") or {}).get("timestamp") or "", i["id"]),
            reverse=descending,
        )
    else:
        items.sort(key=lambda i: (i["name"].lower(), i["id"]), reverse=descending)
    total: int | None = len(items)
    limit_arg, offset_arg = req.arg("limit"), req.arg("offset")
    limit = offset = None
    if limit_arg is not None or offset_arg is not None:
        limit = _non_negative(limit_arg, "limit", 50)
        offset = _non_negative(offset_arg, "offset", 0)
        items = items[offset : offset + limit]
        if not items:
            total = None  # the window count comes from the first row of the page
    return ok({"total": total, "data": items, "models": present, "limit": limit, "offset": offset})


def _non_negative(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    if value.isdigit():
        return int(value)
    raise ApiFailure(400, {"errors": {name: "value must be a valid integer."}})


def root_items(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/:id/items`` for the virtual root collection (id ``"root"``)."""
    return _items(sb, req, None)


def collection_items(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/collection/:id/items``."""
    store, user = sb.store, req.me
    coll = store.get_or_404("collections", req.id_param())
    if not store.collection_readable(coll, user):
        raise forbidden()
    return _items(sb, req, coll)


def _target_parent(store: Store, user: Row, value: Any) -> Row | None:
    if value is None:
        if not store.collection_writable(None, user):
            raise forbidden()
        return None
    parent = store.get("collections", value)
    if parent is None:
        raise not_found()
    # metabase/metabase src/metabase/collections_rest/api.clj: creating or moving a collection
    # write-checks the parent
    if parent.get("type") == "trash" or not store.collection_writable(parent, user):
        raise forbidden()
    return parent


def create_collection(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/collection``: location = the parent's children location."""
    store, user = sb.store, req.me
    body = req.json_object()
    errors = Errors()
    field(errors, body, "name", check_non_blank, required=True)
    field(errors, body, "description", check_non_blank)
    field(errors, body, "parent_id", check_positive_int)
    field(errors, body, "authority_level", check_enum(["official"]))
    errors.raise_if_any()
    if body.get("authority_level") == "official":
        # Needs the EE feature official-collections, which the sandbox does not have.
        raise forbidden()
    parent = _target_parent(store, user, body.get("parent_id"))
    coll = store.insert_collection(
        name=body["name"],
        description=body.get("description"),
        parent=parent,
        namespace=body.get("namespace"),
    )
    return ok(collection_json(store, coll, user))


def descendants(store: Store, coll: Row) -> list[Row]:
    """Every stored collection below ``coll``."""
    prefix = f"{coll['location']}{coll['id']}/"
    return [c for c in store.all("collections") if c["location"].startswith(prefix)]


def update_collection(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/collection/:id``: rename, move, archive / unarchive.

    metabase/metabase src/metabase/collections_rest/api.clj: ``archived`` has a schema default
    of false, so a body without it un-archives an archived collection; archiving deletes the
    notifications of cards directly in the collection (``maybe-send-archived-notifications!``).
    """
    from metabase_guard.sandbox.notifications import delete_card_notifications

    store, user = sb.store, req.me
    coll = store.get_or_404("collections", req.id_param())
    if coll.get("type") == "trash" or not store.collection_writable(coll, user):
        raise forbidden()
    body = req.json_object()
    errors = Errors()
    field(errors, body, "name", check_non_blank)
    field(errors, body, "description", check_non_blank)
    field(errors, body, "parent_id", check_positive_int)
    field(errors, body, "archived", check_bool)
    errors.raise_if_any()
    archived = bool(body.get("archived") or False)
    if archived and coll.get("personal_owner_id"):
        raise bad_request("You cannot archive a Personal Collection.")
    if body.get("name") is not None:
        coll["name"] = body["name"]
        coll["slug"] = body["name"].lower().replace(" ", "_")
    if "description" in body:
        coll["description"] = body["description"]
    if "parent_id" in body:
        new_parent = _target_parent(store, user, body["parent_id"])
        if new_parent is not None and (
            new_parent["id"] == coll["id"] or new_parent in descendants(store, coll)
        ):
            raise bad_request("You can't move a Collection into itself or one of its descendants.")
        old_children_prefix = f"{coll['location']}{coll['id']}/"
        new_location = "/" if new_parent is None else f"{new_parent['location']}{new_parent['id']}/"
        new_children_prefix = f"{new_location}{coll['id']}/"
        for child in descendants(store, coll):
            child["location"] = new_children_prefix + child["location"][len(old_children_prefix) :]
        coll["location"] = new_location
    if archived and not coll["archived"]:
        coll["archived"], coll["archived_directly"] = True, True
        for child in descendants(store, coll):
            if not child["archived"]:
                child["archived"], child["archived_directly"] = True, False
        inside = {coll["id"], *(c["id"] for c in descendants(store, coll))}
        for card in store.all("cards"):
            if card["collection_id"] in inside and not card["archived"]:
                card["archived"], card["archived_directly"] = True, False
                if card["collection_id"] == coll["id"]:
                    delete_card_notifications(store, card, user, reason="collection archived")
    elif not archived and coll["archived"]:
        coll["archived"], coll["archived_directly"] = False, None
        inside = {coll["id"]}
        for child in descendants(store, coll):
            if child["archived"] and not child.get("archived_directly"):
                child["archived"], child["archived_directly"] = False, None
                inside.add(child["id"])
        for card in store.all("cards"):
            if (
                card["collection_id"] in inside
                and card["archived"]
                and not card.get("archived_directly")
            ):
                card["archived"], card["archived_directly"] = False, None
    return ok(collection_json(store, coll, user))
