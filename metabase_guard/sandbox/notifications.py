"""``/api/notification`` (Metabase 0.54+): card alerts, the spec-diff PUT, send and unsubscribe."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox.core import (
    FORBIDDEN,
    ApiFailure,
    Reply,
    Request,
    Row,
    bad_request,
    forbidden,
    json_copy,
    no_content,
    not_found,
    now_iso,
    ok,
)
from metabase_guard.sandbox.store import Delivery, Store
from metabase_guard.sandbox.validation import (
    SLACK_OBJECT_LIST_SINCE,
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

NOTIFICATIONS_SINCE = 54
PAYLOAD_TYPES = [
    "notification/card",
    "notification/dashboard",
    "notification/system-event",
    "notification/testing",
]
SEND_CONDITIONS = ["has_result", "goal_above", "goal_below"]
SUBSCRIPTION_TYPES = ["notification-subscription/cron", "notification-subscription/system-event"]
UI_DISPLAY_TYPES = ["cron/raw", "cron/builder"]
RECIPIENT_TYPES = [
    "notification-recipient/user",
    "notification-recipient/group",
    "notification-recipient/raw-value",
    "notification-recipient/template",
]
# metabase/metabase src/metabase/notification/models.clj (notification-update-spec): compare
# columns of each level of the spec diff. Released versions compare only `active`, so a PUT
# that changes `creator_id` answers 200 and changes nothing; `creator_id` became a compare
# column with PR #72909 (merged mid-2026, backport closed): here from 0.62 on.
NOTIFICATION_COMPARE = ("active", "creator_id")
NOTIFICATION_COMPARE_RELEASED = ("active",)
CREATOR_CHANGE_SINCE = 62
# src/metabase/notification/api/notification.clj (PUT "/:id"): ids taken from the URL and the
# stored payload_id with PR #79821 (merged to master ~2026-08-20; in no release up to 0.63).
PUT_IDS_FROM_URL_SINCE = 64
PAYLOAD_COMPARE = ("send_condition", "send_once")
SUBSCRIPTION_COLS = ("notification_id", "type", "event_name", "cron_schedule", "ui_display_type")
HANDLER_COLS = ("notification_id", "channel_type", "channel_id", "template_id", "active")
RECIPIENT_COLS = ("notification_handler_id", "type", "user_id", "permissions_group_id", "details")


# metabase/metabase src/metabase/notification/api/notification.clj serves these from 0.54;
# docs/developers-guide/api-changelog.md lists /api/notification under 0.54 (PR #55890 moved the
# entry from 0.53): older majors answer the route 404 "API endpoint does not exist.".
def register(router: Router) -> None:
    """Register the endpoints (absent before 0.54: 404 ``API endpoint does not exist.``)."""
    since = NOTIFICATIONS_SINCE
    router.add("GET", "/api/notification", min_major=since)(list_notifications)
    router.add("POST", "/api/notification", min_major=since)(create_notification)
    router.add("GET", "/api/notification/:id", min_major=since)(get_notification)
    router.add("PUT", "/api/notification/:id", min_major=since)(update_notification)
    router.add("POST", "/api/notification/:id/send", min_major=since)(send_notification)
    router.add("POST", "/api/notification/:id/unsubscribe", min_major=since)(unsubscribe)



# ------------------------------------------------------------------------------ hydration
def _rows_of(store: Store, table: str, column: str, value: int) -> list[Row]:
    # Foreign-key lookups only (notification_id, notification_handler_id): indexed.
    return store.rows_where(table, column, value)


def recipients_of(store: Store, handler_id: int) -> list[Row]:
    """Stored recipient rows of a handler."""
    return _rows_of(store, "recipients", "notification_handler_id", handler_id)


def hydrate(store: Store, notification: Row) -> Row:
    """A fully hydrated notification, its lists shuffled.

    metabase/metabase src/metabase/notification/models.clj (hydrate-notification): payload with
    its card, creator, subscriptions, handlers with channel, template and recipients (user
    recipients get ``user``, deactivated users ``null``); never ``internal_id``, which models.clj
    removes after every select. src/metabase/notification/db.clj selects
    without ORDER BY, so the sandbox shuffles every list to keep clients honest.
    """
    out: Row = json_copy(notification)
    out["creator"] = store.user_summary(store.get("users", notification["creator_id"]))
    payload = store.get("notification_cards", notification["payload_id"])
    if payload is not None:
        payload = json_copy(payload)
        card = store.get("cards", payload["card_id"])
        payload["card"] = json_copy(card) if card is not None else None
    out["payload"] = payload
    subs = [
        json_copy(s)
        for s in _rows_of(store, "subscriptions", "notification_id", notification["id"])
    ]
    handlers = []
    for handler in _rows_of(store, "handlers", "notification_id", notification["id"]):
        h = json_copy(handler)
        h["channel"] = json_copy(store.get("channels", handler["channel_id"]))
        h["template"] = None
        recipients = []
        for recipient in recipients_of(store, handler["id"]):
            r = json_copy(recipient)
            if r["type"] == "notification-recipient/user":
                user = store.get("users", r["user_id"])
                r["user"] = store.user_summary(user) if user and user["is_active"] else None
            elif r["type"] == "notification-recipient/group":
                group = store.get("groups", r["permissions_group_id"])
                r["permissions_group"] = (
                    None
                    if group is None
                    else {
                        **group,
                        "members": [
                            store.user_summary(store.get("users", u))
                            for g, u in sorted(store.memberships)
                            if g == group["id"]
                        ],
                    }
                )
            recipients.append(r)
        store.rng.shuffle(recipients)
        h["recipients"] = recipients
        handlers.append(h)
    store.rng.shuffle(subs)
    store.rng.shuffle(handlers)
    out["subscriptions"] = subs
    out["handlers"] = handlers
    return out


def can_read(store: Store, notification: Row, user: Row) -> bool:
    """Admins, the creator and user recipients may read a notification.

    metabase/metabase src/metabase/notification/models.clj (can-read? of :model/Notification).
    """
    if store.is_superuser(user) or notification["creator_id"] == user["id"]:
        return True
    return any(
        r["type"] == "notification-recipient/user" and r["user_id"] == user["id"]
        for h in _rows_of(store, "handlers", "notification_id", notification["id"])
        for r in recipients_of(store, h["id"])
    )


def _get_or_404(store: Store, notification_id: int) -> Row:
    return store.get_or_404("notifications", notification_id)


# ------------------------------------------------------------------------------ validation
def validate_body(body: dict[str, Any], major: int) -> None:
    """The ``FullyHydratedNotification`` request schema.

    metabase/metabase src/metabase/notification/models.clj.
    """
    errors = Errors()
    field(
        errors,
        body,
        "payload_type",
        check_enum(PAYLOAD_TYPES),
        required=True,
        description="enum of " + ", ".join(PAYLOAD_TYPES),
    )
    field(errors, body, "active", check_bool)
    field(errors, body, "creator_id", check_positive_int)
    field(errors, body, "subscriptions", check_list)
    field(errors, body, "handlers", check_list)
    if body.get("payload_type") == "notification/card":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            field(errors, body, "payload", check_map, required=True)
        else:
            field(errors, payload, "card_id", check_positive_int, required=True, path=["payload"])
            field(
                errors,
                payload,
                "send_condition",
                check_enum(SEND_CONDITIONS),
                path=["payload"],
                description="enum of has_result, goal_above, goal_below",
            )
            field(errors, payload, "send_once", check_bool, path=["payload"])
            field(errors, payload, "id", check_positive_int, path=["payload"])
    for i, sub in enumerate(
        body.get("subscriptions") or [] if isinstance(body.get("subscriptions"), list) else []
    ):
        where: list[str | int] = ["subscriptions", i]
        if not isinstance(sub, dict):
            errors.add(where, "Value must be a map.", [f"invalid type, received: {received(sub)}"])
            continue
        field(errors, sub, "type", check_enum(SUBSCRIPTION_TYPES), required=True, path=where)
        field(errors, sub, "ui_display_type", check_enum(UI_DISPLAY_TYPES), path=where)
        if sub.get("type") == "notification-subscription/cron":
            field(errors, sub, "cron_schedule", check_non_blank, required=True, path=where)
            if sub.get("event_name") is not None:
                errors.add(
                    [*where, "event_name"],
                    "must be nil for a cron subscription",
                    [f"should be nil, received: {received(sub['event_name'])}"],
                )
    handlers = body.get("handlers") if isinstance(body.get("handlers"), list) else []
    for i, handler in enumerate(handlers or []):
        where = ["handlers", i]
        if not isinstance(handler, dict):
            errors.add(
                where, "Value must be a map.", [f"invalid type, received: {received(handler)}"]
            )
            continue
        channel_type = handler.get("channel_type")
        if not (isinstance(channel_type, str) and channel_type.startswith("channel/")):
            errors.add(
                [*where, "channel_type"],
                "Must be a namespaced channel. E.g: channel/http",
                [f"should be a namespaced keyword, received: {received(channel_type)}"],
            )
        field(errors, handler, "channel_id", check_positive_int, path=where)
        field(errors, handler, "template_id", check_positive_int, path=where)
        field(errors, handler, "active", check_bool, path=where)
        field(errors, handler, "recipients", check_list, path=where)
        recipients = (
            handler.get("recipients") if isinstance(handler.get("recipients"), list) else []
        )
        for j, recipient in enumerate(recipients or []):
            _validate_recipient(errors, recipient, [*where, "recipients", j], major)
    errors.raise_if_any()


def _validate_recipient(
    errors: Errors, recipient: Any, where: list[str | int], major: int
) -> None:
    # Tagged union on `type` (metabase/metabase src/metabase/notification/models.clj,
    # ::NotificationRecipient).
    if not isinstance(recipient, dict):
        errors.add(
            where, "Value must be a map.", [f"invalid type, received: {received(recipient)}"]
        )
        return
    kind = recipient.get("type")
    if kind not in RECIPIENT_TYPES:
        errors.add(
            [*where, "type"],
            "Invalid dispatch value",
            [f"invalid dispatch value, received: {received(kind)}"],
        )
        return
    details = recipient.get("details")
    if kind == "notification-recipient/user":
        field(errors, recipient, "user_id", check_positive_int, required=True, path=where)
        if recipient.get("permissions_group_id") is not None:
            errors.add([*where, "permissions_group_id"], "nil", ["should be nil"])
        if details not in (None, {}):
            errors.add([*where, "details"], "empty or nil", ["should be empty or nil"])
    elif kind == "notification-recipient/group":
        field(
            errors, recipient, "permissions_group_id", check_positive_int, required=True, path=where
        )
    elif kind == "notification-recipient/raw-value":
        if not isinstance(details, dict) or "value" not in details:
            errors.add(
                [*where, "details", "value"],
                "missing required key",
                ["missing required key, received: nil"],
            )
        else:
            # notification/models.clj: the raw-value details map is closed; channel_id joined
            # it with the Slack channel ids (PR #72223, see SLACK_OBJECT_LIST_SINCE).
            allowed = {"value", "channel_id"} if major >= SLACK_OBJECT_LIST_SINCE else {"value"}
            for extra in sorted(set(details) - allowed):
                errors.add(
                    [*where, "details", extra],
                    "disallowed key",
                    [f"disallowed key, received: {received(details[extra])}"],
                )
    elif not isinstance(details, dict) or not isinstance(details.get("pattern"), str):
        errors.add(
            [*where, "details", "pattern"],
            "missing required key",
            ["missing required key, received: nil"],
        )


def _check_references(store: Store, body: dict[str, Any], user: Row) -> Row | None:
    """Card access, foreign keys and the e-mail allow-list; returns the card."""
    card = None
    if body["payload_type"] == "notification/card":
        card = store.get("cards", body["payload"]["card_id"])
        if card is None:
            raise not_found()
        from metabase_guard.sandbox.cards import card_readable

        if not card_readable(store, card, user):
            raise forbidden()
    for handler in body.get("handlers") or []:
        if (
            handler.get("channel_id") is not None
            and store.get("channels", handler["channel_id"]) is None
        ):
            raise _fk_violation("notification_handler", "channel_id")
        for recipient in handler.get("recipients") or []:
            if (
                recipient["type"] == "notification-recipient/user"
                and store.get("users", recipient["user_id"]) is None
            ):
                raise _fk_violation("notification_recipient", "user_id")
            if (
                recipient["type"] == "notification-recipient/group"
                and store.get("groups", recipient["permissions_group_id"]) is None
            ):
                raise _fk_violation("notification_recipient", "permissions_group_id")
    _check_allowed_domains(store, body.get("handlers") or [])
    return card


def _fk_violation(table: str, column: str) -> ApiFailure:
    return ApiFailure(
        500,
        {
            "message": f'ERROR: insert or update on table "{table}" violates '
            f"foreign key constraint ({column})"
        },
    )


def _check_allowed_domains(store: Store, handlers: list[Any]) -> None:
    """Raw e-mail addresses must match ``subscription-allowed-domains`` when it is set.

    metabase/metabase enterprise/backend/src/metabase_enterprise/advanced_config/models/
    notification.clj
    (validate-email-domains!): a 403 listing the disallowed addresses.
    """
    allowed = store.settings.get("subscription-allowed-domains")
    if not allowed:
        return
    domains = {d.strip().lower() for d in str(allowed).split(",") if d.strip()}
    bad = []
    for handler in handlers:
        if handler.get("channel_type") != "channel/email":
            continue
        for recipient in handler.get("recipients") or []:
            if recipient.get("type") == "notification-recipient/raw-value":
                value = str((recipient.get("details") or {}).get("value", ""))
                if value.rsplit("@", 1)[-1].lower() not in domains:
                    bad.append(value)
    if bad:
        raise forbidden("The following email addresses are not allowed: " + ", ".join(bad))


# ------------------------------------------------------------------------------ writes
def _insert_payload(store: Store, payload: dict[str, Any]) -> Row:
    # metabase/metabase src/metabase/notification/models.clj: before-insert defaults
    # send_condition has_result and send_once false.
    stamp = now_iso()
    return store.insert(
        "notification_cards",
        {
            "card_id": payload.get("card_id"),
            "send_condition": payload.get("send_condition") or "has_result",
            "send_once": bool(payload.get("send_once") or False),
            "created_at": stamp,
            "updated_at": stamp,
        },
    )


def _insert_subscription(store: Store, notification_id: int, sub: dict[str, Any]) -> None:
    store.insert(
        "subscriptions",
        {
            "notification_id": notification_id,
            "type": sub.get("type"),
            "cron_schedule": sub.get("cron_schedule"),
            "event_name": sub.get("event_name"),
            "ui_display_type": sub.get("ui_display_type"),
            "created_at": now_iso(),
        },
    )


def _insert_recipient(store: Store, handler_id: int, recipient: dict[str, Any]) -> None:
    stamp = now_iso()
    store.insert(
        "recipients",
        {
            "notification_handler_id": handler_id,
            "type": recipient.get("type"),
            "user_id": recipient.get("user_id"),
            "permissions_group_id": recipient.get("permissions_group_id"),
            "details": copy.deepcopy(recipient.get("details")),
            "created_at": stamp,
            "updated_at": stamp,
        },
    )


def _insert_handler(store: Store, notification_id: int, handler: dict[str, Any]) -> None:
    stamp = now_iso()
    row = store.insert(
        "handlers",
        {
            "notification_id": notification_id,
            "channel_type": handler.get("channel_type"),
            "channel_id": handler.get("channel_id"),
            "template_id": handler.get("template_id"),
            "active": handler.get("active") if handler.get("active") is not None else True,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    for recipient in handler.get("recipients") or []:
        _insert_recipient(store, row["id"], recipient)


def _insert_notification(
    store: Store, body: dict[str, Any], payload_id: int | None, creator_id: int | None
) -> Row:
    stamp = now_iso()
    row = store.insert(
        "notifications",
        {
            "payload_type": body["payload_type"],
            "payload_id": payload_id,
            "active": body.get("active") if body.get("active") is not None else True,
            "creator_id": creator_id,
            "created_at": stamp,
            "updated_at": stamp,
        },
    )
    for sub in body.get("subscriptions") or []:
        _insert_subscription(store, row["id"], sub)
    for handler in body.get("handlers") or []:
        _insert_handler(store, row["id"], handler)
    return row


def delete_notification(store: Store, notification: Row) -> None:
    """Delete a notification with its payload, subscriptions, handlers and recipients."""
    for handler in _rows_of(store, "handlers", "notification_id", notification["id"]):
        for recipient in recipients_of(store, handler["id"]):
            store.delete("recipients", recipient["id"])
        store.delete("handlers", handler["id"])
    for sub in _rows_of(store, "subscriptions", "notification_id", notification["id"]):
        store.delete("subscriptions", sub["id"])
    if (
        notification.get("payload_id") is not None
        and notification["payload_type"] == "notification/card"
    ):
        store.delete("notification_cards", notification["payload_id"])
    store.delete("notifications", notification["id"])


def card_notifications(store: Store, card_id: int, include_inactive: bool = False) -> list[Row]:
    """Notifications whose payload is ``card_id``."""
    out = []
    for notification in store.all("notifications"):
        payload = store.get("notification_cards", notification["payload_id"])
        if (
            notification["payload_type"] == "notification/card"
            and payload is not None
            and payload["card_id"] == card_id
            and (include_inactive or notification["active"])
        ):
            out.append(notification)
    return out


def delete_card_notifications(
    store: Store, card: Row, user: Row, *, reason: str | None, include_inactive: bool = False
) -> None:
    """Delete a card's (active) notifications, mailing their recipients when e-mail is set up.

    metabase/metabase src/metabase/pulse/update_alerts.clj and
    src/metabase/queries/events/cards_notification_deleted_on_card_save.clj: only active
    notifications are looked up, so inactive ones survive a card change.
    """
    for notification in card_notifications(store, card["id"], include_inactive):
        emails = sorted(email_recipients(store, hydrate(store, notification)))
        if reason is not None and emails and store.email_configured():
            store.record(
                Delivery(
                    "alert-deleted",
                    "channel/email",
                    emails,
                    notification["id"],
                    card["id"],
                    subject=f"Alert deleted: {reason}",
                )
            )
        delete_notification(store, notification)


def email_recipients(store: Store, notification: dict[str, Any]) -> set[str]:
    """E-mail addresses of the e-mail handlers (user and raw-value recipients).

    metabase/metabase src/metabase/notification/api/notification.clj (all-email-recipients).
    """
    out = set()
    for handler in notification.get("handlers") or []:
        if handler.get("channel_type") != "channel/email":
            continue
        for recipient in handler.get("recipients") or []:
            if recipient.get("type") == "notification-recipient/user":
                user = store.get("users", recipient.get("user_id"))
                if user is not None:
                    out.add(user["email"])
            elif recipient.get("type") == "notification-recipient/raw-value":
                value = (recipient.get("details") or {}).get("value")
                if value:
                    out.add(str(value))
    return out


# ------------------------------------------------------------------------------ endpoints
def list_notifications(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/notification``: bare array, active only unless ``include_inactive=true``.

    metabase/metabase src/metabase/notification/api/notification.clj (list-notifications).
    """
    store, user = sb.store, req.me
    creator_id = req.int_arg("creator_id")
    recipient_id = req.int_arg("recipient_id")
    either_id = req.int_arg("creator_or_recipient_id")
    card_id = req.int_arg("card_id")
    include_inactive = req.flag("include_inactive")
    payload_type = req.arg("payload_type")
    if payload_type is not None and payload_type not in PAYLOAD_TYPES:
        raise ApiFailure(
            400, {"errors": {"payload_type": "nullable enum of " + ", ".join(PAYLOAD_TYPES)}}
        )

    def is_recipient(n: Row, uid: int) -> bool:
        return any(
            r["type"] == "notification-recipient/user" and r["user_id"] == uid
            for h in _rows_of(store, "handlers", "notification_id", n["id"])
            for r in recipients_of(store, h["id"])
        )

    out = []
    for n in store.all("notifications"):
        if creator_id is not None and n["creator_id"] != creator_id:
            continue
        if recipient_id is not None and not is_recipient(n, recipient_id):
            continue
        if (
            either_id is not None
            and n["creator_id"] != either_id
            and not is_recipient(n, either_id)
        ):
            continue
        if card_id is not None:
            payload = store.get("notification_cards", n["payload_id"])
            if (
                n["payload_type"] != "notification/card"
                or payload is None
                or payload["card_id"] != card_id
            ):
                continue
        if not include_inactive and not n["active"]:
            continue
        if payload_type is not None and n["payload_type"] != payload_type:
            continue
        if can_read(store, n, user):
            out.append(hydrate(store, n))
    store.rng.shuffle(out)
    return ok(out)


def get_notification(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/notification/:id``."""
    store, user = sb.store, req.me
    notification = _get_or_404(store, req.id_param())
    if not can_read(store, notification, user):
        raise forbidden()
    return ok(hydrate(store, notification))


def create_notification(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/notification``: ``creator_id`` is always the caller; 200 hydrated.

    metabase/metabase src/metabase/notification/api/notification.clj (POST "/") and
    src/metabase/notification/models.clj (create-notification!).
    """
    store, user = sb.store, req.me
    body = req.json_object()
    validate_body(body, store.major)
    _check_references(store, body, user)
    payload_id = None
    if body["payload_type"] == "notification/card":
        payload_id = _insert_payload(store, body["payload"])["id"]
    notification = _insert_notification(store, body, payload_id, user["id"])
    hydrated = hydrate(store, notification)
    if body["payload_type"] == "notification/card" and store.email_configured():
        others = sorted(email_recipients(store, hydrated) - {user["email"]})
        if others:
            store.record(
                Delivery(
                    "added-to-alert",
                    "channel/email",
                    others,
                    notification["id"],
                    body["payload"]["card_id"],
                    subject="You were added to an alert",
                )
            )
    return ok(hydrated)


def _present(row: dict[str, Any], cols: tuple[str, ...]) -> dict[str, Any]:
    return {c: row[c] for c in cols if c in row}


def _diff_rows(
    store: Store,
    table: str,
    existing: list[Row],
    new_rows: list[dict[str, Any]],
    cols: tuple[str, ...],
    fk: tuple[str, int],
    insert: Any,
    nested: Any = None,
) -> None:
    """One multi-row level of metabase/metabase src/metabase/models/util/spec_update.clj.

    Rows are matched by ``id``: unmatched body rows are inserted (new ids), stored rows absent
    from the body deleted, matched rows updated when a compare column present in the body
    differs (only the present columns are written). ``nested`` handles a matched row's children
    only when the body row carries that key.
    """
    by_id = {row["id"]: row for row in existing}
    seen = set()
    for body_row in new_rows:
        body_row = {**body_row, fk[0]: fk[1]}
        stored = by_id.get(body_row.get("id"))
        if stored is None:
            insert(store, fk[1], body_row)
            continue
        seen.add(stored["id"])
        if _present(body_row, cols) != _present(stored, cols):
            stored.update(_present(body_row, cols))
            if "updated_at" in stored:
                stored["updated_at"] = now_iso()
        if nested is not None:
            nested(stored, body_row)
    for row in existing:
        if row["id"] not in seen:
            if table == "handlers":
                for recipient in recipients_of(store, row["id"]):
                    store.delete("recipients", recipient["id"])
            store.delete(table, row["id"])


def update_notification(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/notification/:id``, as released Metabase up to 0.63 (PR #79821 from 0.64).

    metabase/metabase src/metabase/notification/api/notification.clj (PUT "/:id"),
    src/metabase/notification/models.clj (notification-update-spec, before-update) and
    src/metabase/models/util/spec_update.clj (do-update!): the body's ``id`` is trusted; a
    different or missing ``id`` deletes the notification and inserts a replacement, and the
    endpoint then re-reads the URL id and answers 404. Omitted ``subscriptions``/``handlers``
    are deleted. A payload without the stored payload id is deleted and re-inserted unlinked,
    leaving ``payload: null``.
    """
    store, user = sb.store, req.me
    existing = _get_or_404(store, req.id_param())
    superuser = store.is_superuser(user)
    if not (superuser or existing["creator_id"] == user["id"]):
        raise forbidden()
    body = req.json_object()
    validate_body(body, store.major)
    _check_references(store, body, user)
    before = hydrate(store, existing)
    if store.major >= PUT_IDS_FROM_URL_SINCE:
        # PR #79821 (notification.clj, PUT "/:id"): the URL id and the stored payload_id win
        # over the body's, so a body without ids can no longer recreate or orphan anything.
        body["id"] = existing["id"]
        if isinstance(body.get("payload"), dict):
            body["payload"] = {**body["payload"], "id": existing["payload_id"]}
    body_payload = body.get("payload") if isinstance(body.get("payload"), dict) else None

    if body.get("id") != existing["id"]:
        delete_notification(store, existing)
        _insert_notification(store, body, body.get("payload_id"), body.get("creator_id"))
        if body_payload is not None:
            _insert_payload(store, body_payload)  # created by the spec diff, linked to nothing
        _notify_updates(store, body, before, user)
        raise not_found()

    compare = (NOTIFICATION_COMPARE if store.major >= CREATOR_CHANGE_SINCE
               else NOTIFICATION_COMPARE_RELEASED)
    compare_new = _present(body, compare)
    if compare_new != _present(existing, compare):
        # before-update hook of :model/Notification.
        if body.get("payload_type", existing["payload_type"]) != existing["payload_type"]:
            raise bad_request("Update payload_type is not allowed.")
        if "payload_id" in body and body["payload_id"] != existing["payload_id"]:
            raise bad_request("Update payload_id is not allowed.")
        if "creator_id" in body and body["creator_id"] != existing["creator_id"] and not superuser:
            raise ApiFailure(403, FORBIDDEN)
        existing.update(compare_new)
        existing["updated_at"] = now_iso()

    stored_payload = store.get("notification_cards", existing["payload_id"])
    if body_payload is not None:
        if stored_payload is None or body_payload.get("id") != stored_payload["id"]:
            if stored_payload is not None:
                store.delete("notification_cards", stored_payload["id"])
            _insert_payload(store, body_payload)
        elif _present(body_payload, PAYLOAD_COMPARE) != _present(stored_payload, PAYLOAD_COMPARE):
            stored_payload.update(_present(body_payload, (*PAYLOAD_COMPARE, "card_id")))
            stored_payload["updated_at"] = now_iso()

    notification_id = existing["id"]

    def insert_sub(st: Store, nid: int, row: dict[str, Any]) -> None:
        _insert_subscription(st, nid, row)

    def insert_handler(st: Store, nid: int, row: dict[str, Any]) -> None:
        _insert_handler(st, nid, row)

    def nested_recipients(stored: Row, body_row: dict[str, Any]) -> None:
        if "recipients" not in body_row:
            return
        _diff_rows(
            store,
            "recipients",
            recipients_of(store, stored["id"]),
            list(body_row.get("recipients") or []),
            RECIPIENT_COLS,
            ("notification_handler_id", stored["id"]),
            lambda st, hid, row: _insert_recipient(st, hid, row),
        )

    _diff_rows(
        store,
        "subscriptions",
        _rows_of(store, "subscriptions", "notification_id", notification_id),
        list(body.get("subscriptions") or []),
        SUBSCRIPTION_COLS,
        ("notification_id", notification_id),
        insert_sub,
    )
    _diff_rows(
        store,
        "handlers",
        _rows_of(store, "handlers", "notification_id", notification_id),
        list(body.get("handlers") or []),
        HANDLER_COLS,
        ("notification_id", notification_id),
        insert_handler,
        nested_recipients,
    )
    _notify_updates(store, body, before, user)
    return ok(hydrate(store, existing))


def _notify_updates(store: Store, body: dict[str, Any], before: Row, user: Row) -> None:
    """E-mails of an update.

    metabase/metabase src/metabase/notification/api/notification.clj
    (notify-notification-updates!).

    ``is-active?`` is read from the body, so a body without ``active`` counts as a deactivation.
    """
    if before["payload_type"] != "notification/card" or not store.email_configured():
        return
    was_active, is_active = bool(before["active"]), bool(body.get("active"))
    old, new = email_recipients(store, before), email_recipients(store, body)
    card_id = (before.get("payload") or {}).get("card_id")
    if was_active and not is_active:
        if old:
            store.record(
                Delivery(
                    "removed-from-alert",
                    "channel/email",
                    sorted(old),
                    before["id"],
                    card_id,
                    subject="You were removed from an alert",
                )
            )
    elif not was_active and is_active:
        if new:
            store.record(
                Delivery(
                    "added-to-alert",
                    "channel/email",
                    sorted(new),
                    before["id"],
                    card_id,
                    subject="You were added to an alert",
                )
            )
    elif old != new:
        if old - new:
            store.record(
                Delivery(
                    "removed-from-alert",
                    "channel/email",
                    sorted(old - new),
                    before["id"],
                    card_id,
                    subject="You were removed from an alert",
                )
            )
        if new - old:
            store.record(
                Delivery(
                    "added-to-alert",
                    "channel/email",
                    sorted(new - old),
                    before["id"],
                    card_id,
                    subject="You were added to an alert",
                )
            )


def _handler_targets(store: Store, handler: Row) -> list[str]:
    targets: list[str] = []
    if handler["channel_type"] == "channel/http":
        channel = store.get("channels", handler["channel_id"])
        return [str(channel["details"].get("url"))] if channel else []
    for recipient in recipients_of(store, handler["id"]):
        if recipient["type"] == "notification-recipient/user":
            user = store.get("users", recipient["user_id"])
            if user is not None and user["is_active"]:
                targets.append(user["email"])
        elif recipient["type"] == "notification-recipient/group":
            for group_id, user_id in sorted(store.memberships):
                member = store.get("users", user_id)
                if (
                    group_id == recipient["permissions_group_id"]
                    and member
                    and member["is_active"]
                    and member["type"] == "personal"
                ):
                    targets.append(member["email"])
        elif recipient["type"] == "notification-recipient/raw-value":
            details = recipient["details"] or {}
            # PR #72223: at send time a stored Slack channel id wins over the name, so an alert
            # keeps posting to a channel renamed in Slack.
            renamed = [n for n, i in store.slack_ids.items()
                       if details.get("channel_id") and i == details["channel_id"]]
            targets.append(renamed[0] if renamed else str(details.get("value")))
    return targets


def send_notification(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/notification/:id/send``: run now, honouring the send condition; 204.

    metabase/metabase src/metabase/notification/send.clj and
    src/metabase/notification/payload/impl/card.clj: the card runs, delivery is skipped when
    ``has_result`` has no rows, the goal is not crossed or the card is archived; a goal that
    cannot be computed throws (a 500 from this synchronous send). ``send_once`` deactivates the
    alert after a non-skipped send on 0.56+ (PR #61586), after any run on 0.54-0.55.
    """
    from metabase_guard.evaluation import QueryResult, evaluate
    from metabase_guard.sandbox.warehouse import SqlError

    store, user = sb.store, req.me
    notification = _get_or_404(store, req.id_param())
    if not can_read(store, notification, user):
        raise forbidden()
    body = req.json_object()
    handler_ids = body.get("handler_ids")
    if handler_ids is not None and not (
        isinstance(handler_ids, list) and all(isinstance(h, int) for h in handler_ids)
    ):
        raise ApiFailure(
            400,
            {
                "errors": {
                    "handler_ids": "nullable sequence of value must be an "
                    "integer greater than zero."
                }
            },
        )
    payload = store.get("notification_cards", notification["payload_id"])
    card = store.get("cards", payload["card_id"]) if payload else None
    if payload is None or card is None:
        raise ApiFailure(500, {"message": "Notification has no card payload."})
    from metabase_guard.sandbox import queries

    sql = queries.native_sql(card["dataset_query"])
    try:
        if sql is None:
            raise SqlError("only native queries run in the sandbox")
        result = store.warehouse(card["database_id"]).run(sql)
    except SqlError:
        result = QueryResult(columns=[], rows=[])
    verdict = evaluate(
        card["display"],
        card["visualization_settings"] or {},
        payload["send_condition"],
        result,
        archived=bool(card["archived"]),
    )
    store.send_log.append(
        {
            "notification_id": notification["id"],
            "card_id": card["id"],
            "sent": verdict.sends,
            "reason": verdict.reason,
        }
    )
    if verdict.error:
        raise ApiFailure(
            500,
            {"message": "Unable to compare results to goal for alert.", "reason": verdict.reason},
        )
    if verdict.sends:
        for handler in _rows_of(store, "handlers", "notification_id", notification["id"]):
            if not handler["active"] or (handler_ids and handler["id"] not in handler_ids):
                continue
            store.record(
                Delivery(
                    "alert",
                    handler["channel_type"],
                    _handler_targets(store, handler),
                    notification["id"],
                    card["id"],
                    subject=card["name"],
                    details={"reason": verdict.reason, "row_count": len(result.rows)},
                )
            )
    if payload["send_once"] and (verdict.sends or store.major < 56):
        notification["active"] = False
        notification["updated_at"] = now_iso()
    return no_content()


def unsubscribe(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/notification/:id/unsubscribe``: drop the caller's recipients; 403 if none."""
    store, user = sb.store, req.me
    notification = _get_or_404(store, req.id_param())
    mine = [
        r
        for h in _rows_of(store, "handlers", "notification_id", notification["id"])
        for r in recipients_of(store, h["id"])
        if r["type"] == "notification-recipient/user" and r["user_id"] == user["id"]
    ]
    if not mine:
        raise forbidden()
    for recipient in mine:
        store.delete("recipients", recipient["id"])
    return no_content()
