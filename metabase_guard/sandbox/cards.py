"""``/api/card``: create, read, list, update (with the alert-deleting rules), delete, run."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox import queries
from metabase_guard.sandbox.collections import root_json
from metabase_guard.sandbox.core import (
    ApiFailure,
    OffLock,
    Reply,
    Request,
    Row,
    forbidden,
    nano_id,
    no_content,
    not_found,
    now_iso,
    ok,
)
from metabase_guard.sandbox.misc import NativeJob, bind_native, run_native
from metabase_guard.sandbox.store import Store
from metabase_guard.sandbox.validation import (
    Errors,
    check_bool,
    check_enum,
    check_list,
    check_map,
    check_non_blank,
    check_positive_int,
    field,
)

if TYPE_CHECKING:
    from metabase_guard.sandbox.app import Router, Sandbox

CARD_TYPES = ["question", "model", "metric"]
LIST_FILTERS = [
    "all",
    "mine",
    "bookmarked",
    "database",
    "table",
    "using_model",
    "using_segment",
    "archived",
]
GOAL_DISPLAYS = {"line", "bar", "area", "progress"}
LINE_BAR_AREA = {"line", "bar", "area"}


def register(router: Router) -> None:
    """Register this module's endpoints."""
    router.add("GET", "/api/card")(list_cards)
    router.add("POST", "/api/card")(create_card)
    router.add("GET", "/api/card/:id")(get_card)
    router.add("GET", "/api/card/:entity")(get_card_by_entity_id)
    router.add("PUT", "/api/card/:id")(update_card)
    router.add("DELETE", "/api/card/:id")(delete_card)
    router.add("POST", "/api/card/:id/query")(run_card)



def card_readable(store: Store, card: Row, user: Row) -> bool:
    """Cards follow their collection's permissions."""
    coll = store.get("collections", card["collection_id"])
    return store.collection_readable(coll, user)


def _readable_card(store: Store, card_id: int, user: Row) -> Row:
    card = store.get_or_404("cards", card_id)
    if not card_readable(store, card, user):
        raise forbidden()
    return card


def card_json(
    store: Store, card: Row, user: Row, *, from_get: bool = False, legacy: bool = False
) -> Row:
    """A card with its hydrations (``creator``, ``collection``, ``can_*``...).

    A shallow copy: every caller hands the result straight to ``ok()``, which ``Sandbox.handle``
    encodes to JSON under the sandbox lock, so nested values shared with the stored row are
    never mutated (a deep copy per card made ``GET /api/card`` over 20,000 cards the slowest
    part of a benchmark plan; docs/benchmarks.md).
    """
    out = dict(card)
    if legacy:
        out["dataset_query"] = queries.to_legacy(out["dataset_query"])
    out["visualization_settings"] = queries.normalize_viz_settings(out["visualization_settings"])
    if from_get and card["archived"] and card.get("archived_directly"):
        # metabase/metabase src/metabase/api/common.clj (present-in-trash-if-archived-directly):
        # GET reports the Trash as the collection of a directly archived card.
        out["collection_id"] = store.trash_id
    out["collection"] = collection_summary(store, out["collection_id"])
    out["creator"] = store.user_summary(store.get("users", card["creator_id"]))
    writable = card_readable(store, card, user)
    out.update(
        {
            "can_write": writable,
            "can_run_adhoc_query": True,
            "can_restore": bool(card["archived"] and card.get("archived_directly")),
            "can_delete": writable and bool(card["archived"]),
            "can_manage_db": store.is_superuser(user),
            "dashboard_count": 0,
            "dashboard": None,
            "average_query_time": None,
            "last_query_start": None,
            "parameter_usage_count": 0,
            "moderation_reviews": [],
            "based_on_upload": None,
            "is_remote_synced": False,
            "last-edit-info": {"id": card["creator_id"], "timestamp": card["updated_at"]},
        }
    )
    return out


def collection_summary(store: Store, coll_id: int | None) -> Row:
    """The ``collection`` hydrated on a card or dashboard (the root when ``coll_id`` is null)."""
    coll = store.get("collections", coll_id)
    if coll is None:
        return root_json()
    out = {
        k: coll[k]
        for k in (
            "id",
            "name",
            "slug",
            "location",
            "entity_id",
            "personal_owner_id",
            "authority_level",
            "type",
            "archived",
            "description",
            "namespace",
        )
    }
    out["is_personal"] = store.personal_owner(coll) is not None
    return out


def _validate_common(errors: Errors, body: dict[str, Any], *, create: bool) -> None:
    # metabase/metabase src/metabase/queries_rest/api/card.clj: create / update body schemas.
    field(errors, body, "name", check_non_blank, required=create)
    field(errors, body, "dataset_query", check_map, required=create)
    field(errors, body, "display", check_non_blank, required=create)
    field(errors, body, "visualization_settings", check_map, required=create)
    field(
        errors,
        body,
        "type",
        check_enum(CARD_TYPES),
        description="nullable enum of question, model, metric",
    )
    field(errors, body, "collection_id", check_positive_int)
    field(errors, body, "collection_position", check_positive_int)
    field(errors, body, "parameters", check_list)
    field(errors, body, "parameter_mappings", check_list)
    field(errors, body, "result_metadata", check_list)
    field(errors, body, "cache_ttl", check_positive_int)
    field(errors, body, "dashboard_id", check_positive_int)
    if create:
        # description must be non-blank on create, any string on update.
        field(errors, body, "description", check_non_blank)
        field(errors, body, "entity_id", check_non_blank)
    else:
        if (
            "description" in body
            and body["description"] is not None
            and not isinstance(body["description"], str)
        ):
            errors.add(["description"], "nullable value must be a string.", ["should be a string"])
        field(errors, body, "archived", check_bool)
        field(errors, body, "enable_embedding", check_bool)
        field(errors, body, "collection_preview", check_bool)


def target_collection(store: Store, user: Row, coll_id: Any) -> Row | None:
    """The collection a card or dashboard is saved into (``None`` = root), write-checked."""
    if coll_id is None:
        if not store.collection_writable(None, user):
            raise forbidden()
        return None
    if coll_id == store.trash_id:
        # metabase/metabase test/metabase/queries_rest/api/card_test.clj: moving a card to the
        # Trash through collection_id is a 403.
        raise forbidden()
    coll = store.get("collections", coll_id)
    if coll is None:
        raise not_found()
    # metabase/metabase src/metabase/queries_rest/api/card.clj: saving a card into a
    # collection needs write (curate) permission on it, not read
    if not store.collection_writable(coll, user):
        raise forbidden()
    return coll


def _query_database(store: Store, query: dict[str, Any]) -> int:
    db_id = queries.database_id(query)
    if not isinstance(db_id, int) or isinstance(db_id, bool):
        # MB 58-61 fail at INSERT with the NOT NULL constraint (metabase-api.md 3.7).
        raise ApiFailure(
            500,
            {
                "message": 'ERROR: null value in column "database_id" of relation '
                '"report_card" violates not-null constraint'
            },
        )
    if store.get("databases", db_id) is None:
        raise not_found()
    return db_id


class _MetadataNeeded(Exception):
    """Raised by a first pass of a handler where it would run the card's query."""

    def __init__(self, job: NativeJob) -> None:
        super().__init__("the card's metadata query runs off the lock")
        self.job = job


class _Metadata:
    """Where a card handler gets the ``result_metadata`` of a query it saves.

    Metabase computes it by running the query in a future, before and outside the
    transaction that inserts or updates the card: metabase/metabase
    src/metabase/queries/models/card.clj (create-card! calls
    card.metadata/maybe-async-result-metadata in its ``let``, then ``t2/with-transaction``
    inserts) and src/metabase/queries_rest/api/card.clj (the PUT handler, after its
    permission checks, before update-card!); the future and its 1.5 s wait are in
    src/metabase/queries/models/card/metadata.clj (legacy-result-metadata-future). So a handler
    runs twice here: a first pass, under the sandbox lock, does every check and stops with
    :class:`_MetadataNeeded` where it would run the query; the query runs off the lock; the
    second pass, under the lock again, redoes the checks against the store as it is then and
    uses the metadata computed for the same SQL on the same warehouse (else it runs the query
    itself, under the lock, as before).
    """

    def __init__(self, store: Store, ready: tuple[NativeJob, list[Row] | None] | None) -> None:
        self._store = store
        self._ready = ready

    def of(self, query: dict[str, Any]) -> list[Row] | None:
        """The metadata of ``query`` (first pass: raises :class:`_MetadataNeeded`)."""
        job = bind_native(self._store, query)
        if job.error is not None:
            return None  # nothing to run (no such database, or not native SQL)
        if self._ready is None:
            raise _MetadataNeeded(job)
        done, metadata = self._ready
        if (job.warehouse, job.sql) == (done.warehouse, done.sql):
            return metadata
        return job.metadata()


CardHandler = Callable[["Sandbox", Request, _Metadata], Reply]


def _off_lock(sb: Sandbox, req: Request, handler: CardHandler) -> Reply | OffLock[Any]:
    """Run ``handler`` with its metadata query outside the sandbox lock (see :class:`_Metadata`)."""
    try:
        return handler(sb, req, _Metadata(sb.store, None))
    except _MetadataNeeded as needed:
        job = needed.job

    def finish(metadata: list[Row] | None) -> Reply:
        return handler(sb, req, _Metadata(sb.store, (job, metadata)))

    return OffLock(job.metadata, finish)


def create_card(sb: Sandbox, req: Request) -> Reply | OffLock[Any]:
    """``POST /api/card``.

    metabase/metabase src/metabase/queries/models/card.clj (create-card!): only a fixed key list
    is copied, ``entity_id`` is always a fresh NanoID, ``creator_id`` is the caller, and
    ``result_metadata``, ``database_id``, ``query_type`` are computed from the query.
    """
    return _off_lock(sb, req, _create_card)


def _create_card(sb: Sandbox, req: Request, metadata: _Metadata) -> Reply:
    store, user = sb.store, req.me
    body = req.json_object()
    errors = Errors()
    _validate_common(errors, body, create=True)
    errors.raise_if_any()
    coll = target_collection(store, user, body.get("collection_id"))
    query = queries.normalize_query(body["dataset_query"], sb.major)
    db_id = _query_database(store, query)
    result_metadata = metadata.of(query)
    stamp = now_iso()
    card = store.insert(
        "cards",
        {
            "name": body["name"],
            "description": body.get("description"),
            "display": body["display"],
            "type": body.get("type") or "question",
            "dataset_query": query,
            "visualization_settings": copy.deepcopy(body["visualization_settings"]),
            "collection_id": coll["id"] if coll else None,
            "collection_position": body.get("collection_position"),
            "collection_preview": True,
            "archived": False,
            "archived_directly": False,
            "database_id": db_id,
            "table_id": None,
            "query_type": queries.query_type(query),
            "creator_id": user["id"],
            "created_at": stamp,
            "updated_at": stamp,
            "entity_id": nano_id(),
            "result_metadata": result_metadata,
            "parameters": body.get("parameters") or [],
            "parameter_mappings": body.get("parameter_mappings") or [],
            "cache_ttl": body.get("cache_ttl"),
            "enable_embedding": False,
            "embedding_params": None,
            "embedding_type": None,
            "public_uuid": None,
            "made_public_by_id": None,
            "initially_published_at": None,
            "cache_invalidated_at": None,
            "view_count": 0,
            "dashboard_id": body.get("dashboard_id"),
            "dashboard_tab_id": None,
            "card_schema": 23,
            "metabase_version": store.version_tag,
            "source_card_id": None,
            "archive_operation_id": None,
            "last_used_at": None,
        },
    )
    return ok(card_json(store, card, user))


def get_card(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/card/:id`` (``?legacy-mbql=true`` on 0.57+ converts the query back)."""
    store, user = sb.store, req.me
    card = _readable_card(store, req.id_param(), user)
    legacy = sb.major >= 57 and req.flag("legacy-mbql")
    return ok(card_json(store, card, user, from_get=True, legacy=legacy))


def get_card_by_entity_id(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/card/:entity-id`` (newer versions accept the 21-char entity id)."""
    store, user = sb.store, req.me
    wanted = req.params["entity"]
    for card in store.all("cards"):
        if card["entity_id"] == wanted:
            if not card_readable(store, card, user):
                raise forbidden()
            return ok(card_json(store, card, user, from_get=True))
    raise not_found()


def list_cards(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/card?f=...``: full rows, ordered by lower-cased name.

    metabase/metabase src/metabase/queries_rest/api/card.clj (cards-for-filter-option): every
    filter but ``archived`` returns only non-archived cards; unreadable cards are dropped.
    """
    store, user = sb.store, req.me
    mode = req.arg("f") or "all"
    if mode not in LIST_FILTERS:
        raise ApiFailure(400, {"errors": {"f": "nullable enum of " + ", ".join(LIST_FILTERS)}})
    model_id = req.int_arg("model_id")
    if mode in ("database", "table", "using_model", "using_segment") and model_id is None:
        raise ApiFailure(
            400,
            {
                "errors": {
                    "model_id": f"model_id is a required parameter when filter mode is '{mode}'"
                }
            },
        )
    cards = []
    for card in store.all("cards"):
        if bool(card["archived"]) != (mode == "archived"):
            continue
        if mode == "mine" and card["creator_id"] != user["id"]:
            continue
        if mode == "database" and card["database_id"] != model_id:
            continue
        if mode in ("bookmarked", "table", "using_model", "using_segment"):
            continue
        if card_readable(store, card, user):
            cards.append(card)
    cards.sort(key=lambda c: (c["name"].lower(), c["id"]))
    return ok([card_json(store, c, user) for c in cards])


# metabase/metabase src/metabase/queries/api/card.clj (defendpoint :put "/:id") and
# src/metabase/queries/models/card.clj (update-card!): the keys a PUT may change; the ones in
# NULLABLE_KEYS are written even when null, the others ignored when null.
UPDATE_KEYS = (
    "name",
    "parameters",
    "parameter_mappings",
    "dataset_query",
    "type",
    "display",
    "description",
    "visualization_settings",
    "archived",
    "enable_embedding",
    "embedding_type",
    "embedding_params",
    "collection_id",
    "collection_position",
    "result_metadata",
    "cache_ttl",
    "collection_preview",
    "dashboard_id",
    "dashboard_tab_id",
)
# metabase/metabase src/metabase/queries/models/card.clj (update-card!): these are written even
# when the body sends null; every other key is ignored when null.
NULLABLE_KEYS = {"collection_id", "collection_position", "description", "cache_ttl", "dashboard_id"}


def update_card(sb: Sandbox, req: Request) -> Reply | OffLock[Any]:
    """``PUT /api/card/:id``: partial update with Metabase's null rules and side effects."""
    return _off_lock(sb, req, _update_card)


def _update_card(sb: Sandbox, req: Request, metadata: _Metadata) -> Reply:
    from metabase_guard.sandbox.notifications import delete_card_notifications

    store, user = sb.store, req.me
    card = _readable_card(store, req.id_param(), user)
    # metabase/metabase src/metabase/queries_rest/api/card.clj: PUT write-checks the card,
    # that is its collection
    if not store.collection_writable(store.get("collections", card["collection_id"]), user):
        raise forbidden()
    body = req.json_object()
    errors = Errors()
    _validate_common(errors, body, create=False)
    errors.raise_if_any()
    changes = {
        k: body[k] for k in UPDATE_KEYS if k in body and (body[k] is not None or k in NULLABLE_KEYS)
    }
    if changes.get("archived") is True:
        # metabase/metabase src/metabase/queries_rest/api/card.clj: archiving ignores a
        # collection_id sent in the same body and marks the card archived_directly.
        changes.pop("collection_id", None)
    if "collection_id" in changes:
        coll = target_collection(store, user, changes["collection_id"])
        changes["collection_id"] = coll["id"] if coll else None
    old = copy.deepcopy(card)
    if "dataset_query" in changes:
        query = queries.normalize_query(changes["dataset_query"], sb.major)
        changes["dataset_query"] = query
        changes["database_id"] = _query_database(store, query)
        changes["query_type"] = queries.query_type(query)
        changes["result_metadata"] = metadata.of(query)
    if "visualization_settings" in changes:
        changes["visualization_settings"] = copy.deepcopy(changes["visualization_settings"])
    if changes.get("type") == "model" and (changes.get("display") or card["display"]) != "list":
        changes["display"] = "table"
    if "archived" in changes:
        if changes["archived"] and not card["archived"]:
            changes["archived_directly"] = True
        elif not changes["archived"] and card["archived"]:
            changes["archived_directly"] = False
    card.update(changes)
    card["updated_at"] = now_iso()
    if _alerts_must_go(old, card):
        delete_card_notifications(store, card, user, reason="card changed")
    return ok(card_json(store, card, user))


def _alerts_must_go(old: Row, new: Row) -> bool:
    """Whether a card edit deletes the card's active alerts.

    metabase/metabase src/metabase/pulse/update_alerts.clj (and
    src/metabase/queries/events/cards_notification_deleted_on_card_save.clj): archiving, a display
    change across the rows / line-bar-area / progress families, or losing ``graph.goal_value``.
    The multiple-breakouts rule needs MBQL breakouts, which native cards never have.
    """
    if new["archived"] and not old["archived"]:
        return True
    old_display, new_display = old["display"], new["display"]
    old_rows, new_rows = old_display not in GOAL_DISPLAYS, new_display not in GOAL_DISPLAYS
    if (
        (old_rows and not new_rows)
        or (old_display in LINE_BAR_AREA and new_display not in LINE_BAR_AREA)
        or (old_display == "progress" and new_display != "progress")
    ):
        return True
    old_goal = (old.get("visualization_settings") or {}).get("graph.goal_value")
    new_goal = (new.get("visualization_settings") or {}).get("graph.goal_value")
    return old_goal is not None and new_goal is None


def delete_card(sb: Sandbox, req: Request) -> Reply:
    """``DELETE /api/card/:id``: hard delete (204); its notifications and dashcards go with it."""
    from metabase_guard.sandbox.dashboards import delete_card_dashcards
    from metabase_guard.sandbox.notifications import delete_card_notifications

    store, user = sb.store, req.me
    card = _readable_card(store, req.id_param(), user)
    delete_card_notifications(store, card, user, reason=None, include_inactive=True)
    delete_card_dashcards(store, card["id"])
    store.delete("cards", card["id"])
    return no_content()


def run_card(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/card/:id/query``: 202 with results, or 202 ``status: failed``."""
    store, user = sb.store, req.me
    card = _readable_card(store, req.id_param(), user)
    result, _ = run_native(store, card["dataset_query"], "question")
    result["card_id"] = card["id"]
    return ok(result, 202)
