"""``/api/pulse``: dashboard subscriptions (create, read, list, update, archive).

Sources (metabase/metabase): ``src/metabase/pulse/api/pulse.clj`` (endpoints and body
schemas), ``src/metabase/pulse/models/pulse.clj`` (create/update/retrieve; channels
row-diffed by id, any number of each type), ``src/metabase/pulse/models/pulse_channel.clj``
(recipients: user ids, raw e-mails in ``details.emails``) and
``src/metabase/pulse/events/dashboard_subscription.clj`` (what a dashboard update rewrites).
``GET /api/pulse/form_input`` lives in ``misc.py``.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox.cards import card_readable
from metabase_guard.sandbox.core import (
    ApiFailure,
    Reply,
    Request,
    Row,
    bad_request,
    forbidden,
    nano_id,
    now_iso,
    ok,
)
from metabase_guard.sandbox.dashboards import dashboard_readable
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

CHANNEL_TYPES = ["email", "slack", "http"]
SCHEDULE_TYPES = ["hourly", "daily", "weekly", "monthly"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
FRAMES = ["first", "mid", "last"]
PULSE_COLUMNS = (
    "id",
    "name",
    "entity_id",
    "creator_id",
    "dashboard_id",
    "collection_id",
    "collection_position",
    "skip_if_empty",
    "archived",
    "parameters",
    "alert_condition",
    "alert_first_only",
    "alert_above_goal",
    "disable_links",
    "created_at",
    "updated_at",
)
CHANNEL_COLUMNS = (
    "id",
    "pulse_id",
    "channel_type",
    "channel_id",
    "enabled",
    "schedule_type",
    "schedule_hour",
    "schedule_day",
    "schedule_frame",
    "details",
    "entity_id",
    "created_at",
    "updated_at",
)


def register(router: Router) -> None:
    """Register this module's endpoints."""
    router.add("GET", "/api/pulse")(list_pulses)
    router.add("POST", "/api/pulse")(create_pulse)
    router.add("GET", "/api/pulse/:id")(get_pulse)
    router.add("PUT", "/api/pulse/:id")(update_pulse)



# ------------------------------------------------------------------------------ reading
def _recipients_json(store: Store, channel: Row) -> list[Row]:
    # pulse_channel.clj (recipients hydration): raw addresses from details.emails as
    # {"email": ...}, then the user recipients as short user objects, active users only
    # (pulse/db.clj active-recipients-for-channels).
    out: list[Row] = [{"email": e} for e in channel["details"].get("emails") or []]
    for user_id in channel["_user_ids"]:
        user = store.get("users", user_id)
        if user is not None and user.get("is_active", True):
            out.append(store.user_summary(user) or {})
    return out


def _channel_json(store: Store, channel: Row) -> Row:
    out = {k: copy.deepcopy(channel[k]) for k in CHANNEL_COLUMNS}
    out["recipients"] = _recipients_json(store, channel)
    # pulse_channel.clj (mi/to-json :model/PulseChannel): details.emails stays internal
    out["details"].pop("emails", None)
    return out


def _cards_json(store: Store, pulse: Row) -> list[Row]:
    # pulse.clj (hydrate :cards): the pulse's cards by position, archived cards left out.
    out = []
    refs = sorted(store.rows_where("pulse_cards", "pulse_id", pulse["id"]),
                  key=lambda r: (r["position"], r["id"]))
    for ref in refs:
        card = store.get("cards", ref["card_id"])
        if card is None or card["archived"]:
            continue
        out.append({
            "id": card["id"],
            "name": card["name"],
            "description": card["description"],
            "collection_id": card["collection_id"],
            "display": card["display"],
            "dataset_query": copy.deepcopy(card["dataset_query"]),
            "include_csv": ref["include_csv"],
            "include_xls": ref["include_xls"],
            "format_rows": ref["format_rows"],
            "pivot_results": ref["pivot_results"],
            "dashboard_card_id": ref["dashboard_card_id"],
            "dashboard_id": pulse["dashboard_id"],
            "parameter_mappings": None,
        })
    return out


def pulse_json(store: Store, pulse: Row, user: Row) -> Row:
    """A pulse as ``retrieve-pulse`` hydrates it: creator, cards, channels with recipients."""
    out = {k: copy.deepcopy(pulse[k]) for k in PULSE_COLUMNS}
    out["creator"] = store.user_summary(store.get("users", pulse["creator_id"]))
    out["cards"] = _cards_json(store, pulse)
    channels = sorted(store.rows_where("pulse_channels", "pulse_id", pulse["id"]),
                      key=lambda c: c["id"])
    out["channels"] = [_channel_json(store, c) for c in channels]
    out["can_write"] = _writable(store, pulse, user)
    return out


def _dashboard_of(store: Store, pulse: Row) -> Row | None:
    return store.get("dashboards", pulse["dashboard_id"])


def _readable(store: Store, pulse: Row, user: Row) -> bool:
    dash = _dashboard_of(store, pulse)
    return dash is None or dashboard_readable(store, dash, user)


def _writable(store: Store, pulse: Row, user: Row) -> bool:
    # pulse.clj (can-write?): admins, or the creator of a subscription they can read.
    return store.is_superuser(user) or (
        pulse["creator_id"] == user["id"] and _readable(store, pulse, user)
    )


def _pulse_or_404(store: Store, pulse_id: int) -> Row:
    return store.get_or_404("pulses", pulse_id)


def list_pulses(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/pulse?dashboard_id=&archived=``: subscriptions the caller may write.

    pulse.clj (retrieve-pulses): ``archived`` (default false) swaps the set rather than adding
    to it; only dashboard subscriptions are listed.
    """
    store, user = sb.store, req.me
    archived = req.flag("archived")
    dashboard_id = req.int_arg("dashboard_id")
    rows = [
        p
        for p in store.all("pulses")
        if bool(p["archived"]) == archived
        and (dashboard_id is None or p["dashboard_id"] == dashboard_id)
        and _writable(store, p, user)
    ]
    return ok([pulse_json(store, p, user) for p in rows])


def get_pulse(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/pulse/:id``."""
    store, user = sb.store, req.me
    pulse = _pulse_or_404(store, req.id_param())
    if not _readable(store, pulse, user):
        raise forbidden()
    return ok(pulse_json(store, pulse, user))


# ------------------------------------------------------------------------------ validation
def _check_hour(value: Any) -> list[str] | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23:
        return None
    return [f"should be at most 23 and at least 0, received: {received(value)}"]


def _validate_cards(errors: Errors, body: dict[str, Any], *, required: bool) -> None:
    cards = body.get("cards", MISSING)
    if cards is MISSING and not required:
        return
    if cards is None and not required:
        return
    description = "non-empty sequence of card references"
    if not isinstance(cards, list) or not cards:
        errors.add(["cards"], description, [f"should have at least 1 elements, received: "
                                            f"{received(None if cards is MISSING else cards)}"])
        return
    for index, card in enumerate(cards):
        if not isinstance(card, dict):
            errors.add(["cards", index], description, [f"invalid type, received: {received(card)}"])
            continue
        field(errors, card, "id", check_positive_int, required=True, path=["cards", index])
        # pulse.clj (CardBase): include_csv and include_xls are required
        for key in ("include_csv", "include_xls", "format_rows", "pivot_results"):
            field(errors, card, key, check_bool, path=["cards", index],
                  required=key in ("include_csv", "include_xls"))
        field(errors, card, "dashboard_card_id", check_positive_int, path=["cards", index])


def _validate_channels(errors: Errors, body: dict[str, Any], *, required: bool) -> None:
    channels = body.get("channels", MISSING)
    if channels in (MISSING, None) and not required:
        return
    if not isinstance(channels, list) or not channels:
        shown = None if channels is MISSING else channels
        errors.add(["channels"], "non-empty sequence of channels",
                   [f"should have at least 1 elements, received: {received(shown)}"])
        return
    for index, channel in enumerate(channels):
        where: list[str | int] = ["channels", index]
        if not isinstance(channel, dict):
            errors.add(where, "map", [f"invalid type, received: {received(channel)}"])
            continue
        field(errors, channel, "channel_type", check_enum(CHANNEL_TYPES), required=True,
              path=where, description="enum of email, slack, http")
        field(errors, channel, "schedule_type", check_enum(SCHEDULE_TYPES), path=where,
              description="nullable enum of hourly, daily, weekly, monthly")
        field(errors, channel, "schedule_day", check_enum(DAYS), path=where,
              description="nullable enum of sun, mon, tue, wed, thu, fri, sat")
        field(errors, channel, "schedule_frame", check_enum(FRAMES), path=where,
              description="nullable enum of first, mid, last")
        field(errors, channel, "schedule_hour", _check_hour, path=where,
              description="nullable integer between 0 and 23")
        field(errors, channel, "details", check_map, path=where)
        field(errors, channel, "recipients", check_list, path=where)


def _validate(errors: Errors, body: dict[str, Any], *, create: bool) -> None:
    # pulse.clj (defendpoint :post "/" and :put "/:id").
    field(errors, body, "name", check_non_blank, required=create)
    _validate_cards(errors, body, required=create)
    _validate_channels(errors, body, required=create)
    field(errors, body, "skip_if_empty", check_bool)
    field(errors, body, "archived", check_bool)
    for key in ("collection_id", "collection_position", "dashboard_id"):
        field(errors, body, key, check_positive_int)
    field(errors, body, "parameters", check_list)


def _check_schedule(channel: Row) -> None:
    """pulse_channel.clj (valid-schedule?): the parts each schedule type needs.

    Metabase asserts this in the model; the 400 and its wording here are the sandbox's own.
    """
    kind = channel.get("schedule_type")
    hour, day, frame = (channel.get(k) for k in ("schedule_hour", "schedule_day",
                                                  "schedule_frame"))
    valid = {
        "hourly": True,
        "daily": hour is not None,
        "weekly": hour is not None and day is not None,
        "monthly": hour is not None and frame is not None and not (frame == "mid" and day),
    }.get(kind or "", False)
    if not valid:
        raise bad_request(f"Invalid schedule for a {channel['channel_type']} channel.")


def _check_references(store: Store, body: dict[str, Any], user: Row) -> None:
    if body.get("dashboard_id") is not None:
        dash = store.get_or_404("dashboards", body["dashboard_id"])
        if not dashboard_readable(store, dash, user):
            raise forbidden()
    for ref in body.get("cards") or []:
        card = store.get_or_404("cards", ref["id"])
        if not card_readable(store, card, user):
            raise forbidden()
    for channel in body.get("channels") or []:
        # pulse_channel.clj (create-pulse-channel!, update-pulse-channel!): the precondition
        # (boolean? enabled) throws an AssertionError, which Metabase answers with a 500
        if not isinstance(channel.get("enabled"), bool):
            raise ApiFailure(500, {"message": "Assert failed: (boolean? enabled)"})
        _check_schedule(channel)
        for recipient in channel.get("recipients") or []:
            if isinstance(recipient, dict) and recipient.get("id") is not None:
                store.get_or_404("users", recipient["id"])


# ------------------------------------------------------------------------------ writing
def _insert_cards(store: Store, pulse: Row, refs: list[Row]) -> None:
    for position, ref in enumerate(refs):
        store.insert("pulse_cards", {
            "pulse_id": pulse["id"],
            "card_id": ref["id"],
            "dashboard_card_id": ref.get("dashboard_card_id"),
            "include_csv": bool(ref.get("include_csv")),
            "include_xls": bool(ref.get("include_xls")),
            "format_rows": ref.get("format_rows", True) is not False,
            "pivot_results": bool(ref.get("pivot_results")),
            "position": position,
            "entity_id": nano_id(),
        })


def _replace_cards(store: Store, pulse: Row, refs: list[Row]) -> None:
    """pulse.clj (``update-notification!``): a PUT that carries ``cards`` rewrites them all.

    Metabase means to rewrite them only when the refs changed
    (``update-notification-cards-if-changed!``), but it compares the stored refs, selected
    with four keys (id, include_csv, include_xls, dashboard_card_id), with the new ones made
    by ``card->ref``, which have six (format_rows, pivot_results too): never equal, so every
    PUT with ``cards`` writes them anew, and a ``format_rows`` or ``pivot_results`` left out
    goes back to its default.
    """
    current = store.rows_where("pulse_cards", "pulse_id", pulse["id"])
    for row in current:
        store.delete("pulse_cards", row["id"])
    _insert_cards(store, pulse, refs)


def _channel_fields(channel: Row) -> Row:
    """pulse_channel.clj (create-pulse-channel!, update-pulse-channel!): the stored fields.

    Raw e-mail recipients go to ``details.emails`` of an e-mail channel (the one type that
    allows recipients), user recipients to ``_user_ids``; an omitted ``details`` is ``{}``;
    schedule parts the schedule type does not use are dropped.
    """
    recipients = [r for r in channel.get("recipients") or [] if isinstance(r, dict)]
    details = copy.deepcopy(channel.get("details") or {})
    kind = channel.get("schedule_type")
    if channel["channel_type"] == "email":
        emails = [r["email"] for r in recipients if r.get("id") is None and r.get("email")]
        details.pop("emails", None)
        if emails:
            details["emails"] = emails
    return {
        "enabled": channel["enabled"],
        "schedule_type": kind,
        "schedule_hour": channel.get("schedule_hour") if kind != "hourly" else None,
        "schedule_day": channel.get("schedule_day") if kind in ("weekly", "monthly") else None,
        "schedule_frame": channel.get("schedule_frame") if kind == "monthly" else None,
        "details": details,
        "_user_ids": ([r["id"] for r in recipients if r.get("id") is not None]
                      if channel["channel_type"] == "email" else []),
    }


def _write_channels(store: Store, pulse: Row, channels: list[Row]) -> None:
    """pulse.clj (update-notification-channels!): the sent channels are all of them.

    Row-diff by ``id``: a channel sent without an id (or with one the pulse does not have)
    is created, a sent one the pulse has is updated (its ``channel_type`` kept), and every
    channel of the pulse that is not sent is deleted. Several channels of one type are kept.
    """
    existing = {c["id"]: c for c in store.rows_where("pulse_channels", "pulse_id", pulse["id"])}
    ids = [c.get("id") if isinstance(c.get("id"), int) else None for c in channels]
    sent = set(ids)
    for channel_id in [i for i in existing if i not in sent]:
        store.delete("pulse_channels", channel_id)
    stamp = now_iso()
    for channel, channel_id in zip(channels, ids, strict=True):
        row = existing.get(channel_id) if channel_id is not None else None
        if row is not None:
            fields = _channel_fields({**channel, "channel_type": row["channel_type"]})
            if any(row[k] != v for k, v in fields.items()):
                row.update(fields, updated_at=stamp)
            continue
        store.insert("pulse_channels", {
            "pulse_id": pulse["id"],
            "channel_type": channel["channel_type"],
            "channel_id": channel.get("channel_id"),
            **_channel_fields(channel),
            "entity_id": nano_id(),
            "created_at": stamp,
            "updated_at": stamp,
        })


def _delete_channels(store: Store, pulse_id: int) -> None:
    for channel in store.rows_where("pulse_channels", "pulse_id", pulse_id):
        store.delete("pulse_channels", channel["id"])


def create_pulse(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/pulse``: name, at least one card and one channel; the caller is creator."""
    store, user = sb.store, req.me
    body = req.json_object()
    errors = Errors()
    _validate(errors, body, create=True)
    errors.raise_if_any()
    _check_references(store, body, user)
    stamp = now_iso()
    pulse = store.insert("pulses", {
        "name": body["name"],
        "entity_id": nano_id(),
        "creator_id": user["id"],
        "dashboard_id": body.get("dashboard_id"),
        # pulse.clj (define-before-insert :model/Pulse): a subscription takes its dashboard's
        # collection, whatever the body says
        "collection_id": (store.get_or_404("dashboards", body["dashboard_id"])["collection_id"]
                          if body.get("dashboard_id") is not None
                          else body.get("collection_id")),
        "collection_position": body.get("collection_position"),
        "skip_if_empty": bool(body.get("skip_if_empty")),
        "archived": False,
        "parameters": copy.deepcopy(body.get("parameters") or []),
        "alert_condition": None,
        "alert_first_only": None,
        "alert_above_goal": None,
        "disable_links": False,
        "created_at": stamp,
        "updated_at": stamp,
    })
    _insert_cards(store, pulse, body["cards"])
    _write_channels(store, pulse, body["channels"])
    return ok(pulse_json(store, pulse, user))


def update_pulse(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/pulse/:id``.

    pulse.clj: ``skip_if_empty`` and ``archived`` have schema defaults of false, so a body
    without them un-archives the subscription and clears the flag; ``cards`` replace the stored
    ones, ``channels`` are row-diffed by id (:func:`_write_channels`); archiving disables every
    channel and un-archiving enables every one.
    """
    store, user = sb.store, req.me
    pulse = _pulse_or_404(store, req.id_param())
    if not _writable(store, pulse, user):
        raise forbidden()
    body = req.json_object()
    errors = Errors()
    _validate(errors, body, create=False)
    errors.raise_if_any()
    _check_references(store, {k: v for k, v in body.items() if k != "dashboard_id"}, user)
    for key in ("name", "collection_id", "collection_position", "parameters"):
        if body.get(key) is not None:
            pulse[key] = copy.deepcopy(body[key])
    pulse["skip_if_empty"] = bool(body.get("skip_if_empty") or False)
    archived = bool(body.get("archived") or False)
    if archived != pulse["archived"]:
        # pulse.clj (define-before-update :model/Pulse): archiving disables every channel,
        # un-archiving enables every one; the channels sent are written after that
        for channel in store.rows_where("pulse_channels", "pulse_id", pulse["id"]):
            channel["enabled"] = not archived
    pulse["archived"] = archived
    if body.get("cards"):
        _replace_cards(store, pulse, body["cards"])
    if body.get("channels"):
        _write_channels(store, pulse, body["channels"])
    pulse["updated_at"] = now_iso()
    return ok(pulse_json(store, pulse, user))


# ------------------------------------------------------------------------------ dashboard hooks
def delete_pulses_of(store: Store, dashboard_id: int) -> None:
    """Delete every pulse of a dashboard with its cards and channels.

    dashboards/models/dashboard.clj (define-before-update, when ``archived`` changes) and the
    pulse.dashboard_id foreign key on a hard delete.
    """
    for pulse in store.rows_where("pulses", "dashboard_id", dashboard_id):
        for ref in store.rows_where("pulse_cards", "pulse_id", pulse["id"]):
            store.delete("pulse_cards", ref["id"])
        _delete_channels(store, pulse["id"])
        store.delete("pulses", pulse["id"])


def on_dashboard_update(store: Store, dash: Row) -> None:
    """pulse/events/dashboard_subscription.clj, on ``:event/dashboard-update``.

    Every pulse of the dashboard takes the dashboard's name and collection (``updated_at``
    untouched), and cards on the dashboard that no pulse of it has yet are appended to each
    pulse, with the id of one dashcard showing them. Dashcard rows of archived cards count,
    as the event's query does not filter them.
    """
    pulses = store.rows_where("pulses", "dashboard_id", dash["id"])
    if not pulses:
        return
    stale = {ref["card_id"] for p in pulses
             for ref in store.rows_where("pulse_cards", "pulse_id", p["id"])}
    card_to_dashcard: dict[int, int] = {}
    for dashcard in store.rows_where("dashcards", "dashboard_id", dash["id"]):
        card_id = dashcard["card_id"]
        if card_id is not None and card_id not in stale:
            card_to_dashcard.setdefault(card_id, dashcard["id"])
    for pulse in pulses:
        pulse["name"], pulse["collection_id"] = dash["name"], dash["collection_id"]
        refs = store.rows_where("pulse_cards", "pulse_id", pulse["id"])
        position = max((r["position"] for r in refs), default=-1) + 1
        for offset, (card_id, dashcard_id) in enumerate(sorted(card_to_dashcard.items())):
            store.insert("pulse_cards", {
                "pulse_id": pulse["id"], "card_id": card_id, "dashboard_card_id": dashcard_id,
                "include_csv": False, "include_xls": False, "format_rows": True,
                "pivot_results": False, "position": position + offset,
                "entity_id": nano_id(),
            })
