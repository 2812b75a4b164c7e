"""One manager per Metabase endpoint family, typed in and out.

Each method's docstring names the verb and path it calls. Managers hold no state beyond the
transport; the client builds them.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import msgspec
from pydantic import TypeAdapter

from metabase_guard._gc import gc_paused
from metabase_guard.api.models import (
    AlertSpec,
    Card,
    Channel,
    Collection,
    Dashboard,
    Database,
    Handler,
    HandlerSpec,
    Notification,
    PermissionGroup,
    Pulse,
    QueryOutcome,
    Recipient,
    RecipientSpec,
    SessionProperties,
    Subscription,
    User,
)
from metabase_guard.api.transport import Transport
from metabase_guard.errors import NotFoundError, RequestRejectedError

__all__ = [
    "CardsAPI",
    "ChannelsAPI",
    "CollectionsAPI",
    "DashboardsManager",
    "DatabasesAPI",
    "GroupsAPI",
    "NotificationsAPI",
    "PulsesManager",
    "ServerAPI",
    "UsersAPI",
    "alert_create_body",
    "merge_alert",
    "slack_channel_ids",
    "slack_channels",
    "slack_option_name",
    "slack_renames",
    "slack_status",
    "spec_of",
    "split_path",
    "subscriptions_cron",
]

_USERS = TypeAdapter(list[User])
_GROUPS = TypeAdapter(list[PermissionGroup])
_DATABASES = TypeAdapter(list[Database])
_COLLECTIONS = TypeAdapter(list[Collection])
_CARDS = TypeAdapter(list[Card])
_NOTIFICATIONS = TypeAdapter(list[Notification])
_RAW_ITEMS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_RAW_FIELDS = msgspec.json.Decoder(dict[str, msgspec.Raw])


def decode_alert_list(data: bytes | bytearray) -> Any:
    """A ``GET /api/notification`` answer as JSON values, without each payload's ``card``.

    Metabase hydrates the whole card into every listed alert (result_metadata and all): about
    three quarters of the list's bytes. Nothing reads it from a list, and a write reads the
    alert afresh (``update``) and drops it anyway (``_put_body``), so it is never decoded:
    msgspec splits items and payloads into raw fields (views of ``data``) and only the others
    become Python values. Any other shape is decoded whole, as before.
    """
    try:
        items = _RAW_ITEMS.decode(data)
    except msgspec.DecodeError:
        if not data.strip():
            return None
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:  # as the transport answers a body that is no JSON
            return data.decode("utf-8", "replace")
    out: list[dict[str, Any]] = []
    with gc_paused():
        for item in items:
            row = {k: msgspec.json.decode(v) for k, v in item.items() if k != "payload"}
            if "payload" in item:
                try:
                    fields = _RAW_FIELDS.decode(item["payload"])
                except msgspec.DecodeError:  # null, or not an object: kept as it is
                    row["payload"] = msgspec.json.decode(item["payload"])
                else:
                    row["payload"] = {k: msgspec.json.decode(v) for k, v in fields.items()
                                      if k != "card"}
            out.append(row)
    return out
_CHANNELS = TypeAdapter(list[Channel])
_DASHBOARDS = TypeAdapter(list[Dashboard])
_PULSES = TypeAdapter(list[Pulse])

_PAGE = 500


class _Manager:
    def __init__(self, transport: Transport) -> None:
        self._t = transport


class ServerAPI(_Manager):
    """Facts about the instance itself."""

    def properties(self) -> SessionProperties:
        """``GET /api/session/properties`` (no auth needed): version, e-mail, report timezone."""
        return SessionProperties.model_validate(
            self._t.request("GET", "/api/session/properties") or {}
        )

    def health(self) -> dict[str, Any]:
        """``GET /api/health``: ``{"status": "ok"}`` once Metabase is up."""
        body = self._t.request("GET", "/api/health")
        return body if isinstance(body, dict) else {"status": str(body)}

    def setting(self, key: str) -> Any:
        """``GET /api/setting/:key`` (admin): the bare value; None when unset (204)."""
        return self._t.request("GET", f"/api/setting/{key.replace('?', '%3F')}")

    def form_input(self) -> dict[str, Any]:
        """``GET /api/pulse/form_input``: which channels are configured, known Slack channels."""
        body = self._t.request("GET", "/api/pulse/form_input")
        return body if isinstance(body, dict) else {}

    def has_notification_api(self) -> bool:
        """Probe ``GET /api/notification``: False when the route does not exist (before 0.54).

        Asks for the alerts of a card id that cannot exist, so the answer is small; a
        rejected parameter still proves the route exists.
        """
        try:
            self._t.request(
                "GET",
                "/api/notification",
                params={"payload_type": "notification/card", "card_id": 2**31 - 1},
            )
        except NotFoundError as exc:
            if exc.route_missing:
                return False
            raise
        except RequestRejectedError:
            return True
        return True


class UsersAPI(_Manager):
    """People: ``/api/user``."""

    def current(self) -> User:
        """``GET /api/user/current``: who the credentials act as (an API key's own user)."""
        return User.model_validate(self._t.request("GET", "/api/user/current"))

    def list(self, *, status: str = "active", query: str | None = None) -> list[User]:
        """``GET /api/user`` (admin), every page; ``status`` active, deactivated or all."""
        users: list[User] = []
        offset = 0
        while True:
            params: dict[str, Any] = {"status": status, "limit": _PAGE, "offset": offset}
            if query:
                params["query"] = query
            body = self._t.request("GET", "/api/user", params=params) or {}
            page = _USERS.validate_python(body.get("data", []) if isinstance(body, dict) else body)
            users.extend(page)
            total = body.get("total") if isinstance(body, dict) else None
            offset += len(page)
            if not page or len(page) < _PAGE or (isinstance(total, int) and offset >= total):
                return users

    def by_email(self, email: str) -> User | None:
        """The active user with this e-mail (case-insensitive), or None."""
        wanted = email.lower()
        for user in self.list(query=email):
            if user.email.lower() == wanted:
                return user
        return None


class GroupsAPI(_Manager):
    """Permission groups: ``/api/permissions/group``."""

    def list(self) -> list[PermissionGroup]:
        """``GET /api/permissions/group`` (admin)."""
        return _GROUPS.validate_python(self._t.request("GET", "/api/permissions/group") or [])


class DatabasesAPI(_Manager):
    """Connected databases: ``/api/database``."""

    def list(self) -> list[Database]:
        """``GET /api/database`` (the ``data`` envelope)."""
        body = self._t.request("GET", "/api/database") or {}
        return _DATABASES.validate_python(body.get("data", []) if isinstance(body, dict) else body)

    def get(self, database_id: int) -> Database:
        """``GET /api/database/:id``."""
        return Database.model_validate(self._t.request("GET", f"/api/database/{database_id}"))

    def by_name(self, name: str) -> Database:
        """The database called ``name``; NotFoundError lists the names that exist."""
        databases = self.list()
        for database in databases:
            if database.name == name:
                return database
        names = ", ".join(sorted(d.name for d in databases)) or "none"
        raise NotFoundError(f"no database named {name!r}; there are: {names}", status=404)


def split_path(path: str) -> list[str]:
    """``"Health checks/Recommender"`` → ``["Health checks", "Recommender"]``."""
    return [part.strip() for part in path.split("/") if part.strip()]


class CollectionsAPI(_Manager):
    """Collections: ``/api/collection``."""

    def list(self, *, archived: bool = False) -> list[Collection]:
        """``GET /api/collection``: every readable collection (the virtual root first)."""
        params = {"archived": "true"} if archived else None
        return _COLLECTIONS.validate_python(
            self._t.request("GET", "/api/collection", params=params) or []
        )

    def tree(self) -> builtins.list[dict[str, Any]]:
        """``GET /api/collection/tree``: nested ``children`` (raw dicts)."""
        body = self._t.request("GET", "/api/collection/tree", params={"exclude-archived": "true"})
        return body if isinstance(body, list) else []

    def get(self, collection_id: int | str) -> Collection:
        """``GET /api/collection/:id`` (``root`` for the root collection)."""
        return Collection.model_validate(
            self._t.request("GET", f"/api/collection/{collection_id}")
        )

    def create(
        self, name: str, *, parent_id: int | None = None, description: str | None = None
    ) -> Collection:
        """``POST /api/collection``; ``description`` must be non-blank or None."""
        body: dict[str, Any] = {"name": name, "parent_id": parent_id}
        if description:
            body["description"] = description
        return Collection.model_validate(self._t.request("POST", "/api/collection", json_body=body))

    def update(self, collection_id: int, *, archived: bool, **changes: Any) -> Collection:
        """``PUT /api/collection/:id`` always with an explicit ``archived``.

        Metabase defaults ``archived`` to false in this PUT, so omitting it would un-archive
        an archived collection (metabase-api.md 4.4).
        """
        body = {**changes, "archived": archived}
        return Collection.model_validate(
            self._t.request("PUT", f"/api/collection/{collection_id}", json_body=body)
        )

    def items(
        self, collection_id: int | str, *, models: Sequence[str] = ("card",), page_size: int = 200
    ) -> Iterator[dict[str, Any]]:
        """``GET /api/collection/:id/items``, page by page."""
        offset = 0
        while True:
            params: dict[str, Any] = {"models": list(models), "limit": page_size, "offset": offset}
            body = self._t.request("GET", f"/api/collection/{collection_id}/items", params=params)
            data = body.get("data", []) if isinstance(body, dict) else []
            yield from data
            offset += len(data)
            total = body.get("total") if isinstance(body, dict) else None
            if len(data) < page_size or (isinstance(total, int) and offset >= total):
                return

    def resolve_path(
        self,
        path: str,
        *,
        create: bool = False,
        known: Sequence[Collection] | None = None,
    ) -> int | None:
        """The id of the collection at ``path`` (None = root), creating missing parts if asked.

        Names are not unique in Metabase; among same-named siblings the lowest id wins.
        Raises NotFoundError naming the missing part when it does not exist and ``create`` is
        false.
        """
        collections = [c for c in (known if known is not None else self.list())
                       if isinstance(c.id, int) and not c.archived and c.personal_owner_id is None]
        parent: int | None = None
        for depth, name in enumerate(parts := split_path(path)):
            siblings = sorted(
                (c for c in collections if c.parent_id == parent and c.name == name),
                key=lambda c: int(c.id),
            )
            if siblings:
                parent = int(siblings[0].id)
                continue
            if not create:
                where = "/".join(parts[:depth]) or "the root collection"
                raise NotFoundError(f"no collection {name!r} in {where}", status=404)
            made = self.create(name, parent_id=parent)
            collections.append(made)
            parent = int(made.id)
        return parent


#: What a card list keeps of cards it was not asked to keep whole.
SLIM_CARD_FIELDS = ("id", "name", "description", "display", "type", "collection_id",
                    "archived", "entity_id", "creator_id", "database_id", "updated_at")

FULL_CARD_FIELDS = (*SLIM_CARD_FIELDS, "dataset_query", "visualization_settings")

_ARRAY_GAP = re.compile(r"[\s,]*")


def iter_json_array(text: str) -> Iterator[Any]:
    """The items of a JSON array, decoded one at a time (never the whole array at once)."""
    decoder = json.JSONDecoder()
    index = _ARRAY_GAP.match(text, 0).end()  # type: ignore[union-attr]
    if text[index:index + 1] != "[":
        raise ValueError("expected a JSON array")
    index += 1
    while True:
        index = _ARRAY_GAP.match(text, index).end()  # type: ignore[union-attr]
        if text[index:index + 1] == "]" or index >= len(text):
            return
        item, index = decoder.raw_decode(text, index)
        yield item


def _listed_card_struct() -> type[msgspec.Struct]:
    """A msgspec Struct of :data:`FULL_CARD_FIELDS`, typed and defaulted as :class:`Card` is.

    Every other field of a card list (``result_metadata`` above all) is skipped by the C
    decoder without becoming a Python object; the query and settings stay undecoded bytes
    (``Raw``) until a card is kept whole.
    """
    fields: builtins.list[tuple[str, Any, Any]] = []
    for name in SLIM_CARD_FIELDS:
        info = Card.model_fields[name]
        if info.is_required():
            fields.insert(0, (name, info.annotation, msgspec.NODEFAULT))
        else:
            fields.append((name, info.annotation, info.default))
    fields += [(name, msgspec.Raw, msgspec.Raw(b"{}"))
               for name in FULL_CARD_FIELDS if name not in SLIM_CARD_FIELDS]
    return msgspec.defstruct("ListedCard", fields)


# strict=False: the lax coercions pydantic allows ("12" for 12) do not send a list to the
# slow path
_CARD_LIST = msgspec.json.Decoder(list[_listed_card_struct()], strict=False)  # type: ignore[misc]


def decode_card_list(
    data: bytes | bytearray, full: Callable[[Mapping[str, Any]], bool]
) -> list[Card]:
    """The cards of a ``GET /api/card`` answer, lean (see :meth:`CardsAPI.list`)."""
    with gc_paused():
        try:
            listed = _CARD_LIST.decode(data)
        except msgspec.DecodeError:
            # not the shape the fast decoder expects (an item that is no card, a null name):
            # the generic path decides, item by item, as it did before
            return _decode_card_list_generic(data, full)
        cards: list[Card] = []
        for item in listed:
            fields = {k: getattr(item, k) for k in SLIM_CARD_FIELDS}
            if full(fields):
                fields["dataset_query"] = msgspec.json.decode(item.dataset_query)
                fields["visualization_settings"] = msgspec.json.decode(
                    item.visualization_settings
                )
            cards.append(Card.model_validate(fields))
        return cards


def _decode_card_list_generic(
    data: bytes | bytearray, full: Callable[[Mapping[str, Any]], bool]
) -> list[Card]:
    cards: list[Card] = []
    for raw in iter_json_array(data.decode("utf-8")):
        if not isinstance(raw, dict):
            continue
        keys = FULL_CARD_FIELDS if full(raw) else SLIM_CARD_FIELDS
        cards.append(Card.model_validate({k: raw[k] for k in keys if k in raw}))
    return cards


class CardsAPI(_Manager):
    """Saved questions: ``/api/card``."""

    def list(
        self, f: str = "all", *, full: Callable[[Mapping[str, Any]], bool] | None = None
    ) -> list[Card]:
        """``GET /api/card?f=…``: every readable card, one request.

        Metabase answers full rows (query, settings, result metadata) for every card, which on
        an instance with tens of thousands of cards is tens of megabytes. With ``full``, only
        :data:`FULL_CARD_FIELDS` are decoded (by msgspec, in C: about five times as fast as
        ``json`` and pydantic, and none of the skipped fields is ever a Python object); cards
        for which ``full(fields)`` is true (``fields``: the :data:`SLIM_CARD_FIELDS` of the
        card) keep their query and settings, the others only :data:`SLIM_CARD_FIELDS`. This
        bounds memory by the cards one cares about, not by the instance.
        """
        if full is None:
            body = self._t.request("GET", "/api/card", params={"f": f})
            return _CARDS.validate_python(body or [])
        data = self._t.request("GET", "/api/card", params={"f": f}, raw=True)
        if not isinstance(data, (bytes, bytearray)):  # not JSON: the validator says what it is
            return _CARDS.validate_python(data or [])
        return decode_card_list(data, full)

    def get(self, card_id: int, *, legacy_mbql: bool = False) -> Card:
        """``GET /api/card/:id`` (``?legacy-mbql=true`` asks 0.57+ for the old query format)."""
        params = {"legacy-mbql": "true"} if legacy_mbql else None
        return Card.model_validate(self._t.request("GET", f"/api/card/{card_id}", params=params))

    def create(self, body: Mapping[str, Any]) -> Card:
        """``POST /api/card``: needs name, dataset_query, display, visualization_settings.

        Never retried once sent: a lost answer would otherwise create the card twice.
        """
        return Card.model_validate(self._t.request("POST", "/api/card", json_body=dict(body)))

    def update(self, card_id: int, changes: Mapping[str, Any]) -> Card:
        """``PUT /api/card/:id`` with only the keys that change.

        ``visualization_settings`` is replaced whole by Metabase: send the full map.
        """
        return Card.model_validate(
            self._t.request("PUT", f"/api/card/{card_id}", json_body=dict(changes))
        )

    def archive(self, card_id: int) -> Card:
        """``PUT /api/card/:id {"archived": true}``: to the Trash; Metabase drops its alerts."""
        return self.update(card_id, {"archived": True})

    def delete(self, card_id: int) -> None:
        """``DELETE /api/card/:id``: hard delete (204)."""
        self._t.request("DELETE", f"/api/card/{card_id}")

    def query(self, card_id: int) -> QueryOutcome:
        """``POST /api/card/:id/query``: run the saved question (read-only for the data)."""
        return _outcome(self._t.request("POST", f"/api/card/{card_id}/query", json_body={}))

    def query_adhoc(self, dataset_query: Mapping[str, Any]) -> QueryOutcome:
        """``POST /api/dataset``: run a query that is not saved."""
        return _outcome(self._t.request("POST", "/api/dataset", json_body=dict(dataset_query)))


class DashboardsManager(_Manager):
    """Dashboards: ``/api/dashboard``."""

    def list(self, f: str = "all") -> list[Dashboard]:
        """``GET /api/dashboard?f=all|mine|archived``: rows without dashcards.

        ``archived`` lists only archived dashboards, the other filters only live ones.
        """
        return _DASHBOARDS.validate_python(
            self._t.request("GET", "/api/dashboard", params={"f": f}) or []
        )

    def get(self, dashboard_id: int) -> Dashboard:
        """``GET /api/dashboard/:id``: with dashcards (creation order, not layout) and tabs.

        Dashcards of archived cards are hidden by Metabase but still stored.
        """
        return Dashboard.model_validate(self._t.request("GET", f"/api/dashboard/{dashboard_id}"))

    def create(self, body: Mapping[str, Any]) -> Dashboard:
        """``POST /api/dashboard``: metadata only (name, description, collection_id...).

        Metabase drops ``dashcards``, ``tabs`` and ``width`` here: follow with :meth:`update`.
        Never retried once sent: a lost answer would otherwise create the dashboard twice.
        """
        return Dashboard.model_validate(
            self._t.request("POST", "/api/dashboard", json_body=dict(body))
        )

    def update(self, dashboard_id: int, body: Mapping[str, Any]) -> Dashboard:
        """``PUT /api/dashboard/:id``: scalars patched; ``dashcards`` replaced, matched by id.

        Omitted dashcards are deleted and negative or unknown ids created; a body with
        ``dashcards`` but no ``tabs`` deletes every tab, so send ``"tabs"`` with it.
        """
        return Dashboard.model_validate(
            self._t.request("PUT", f"/api/dashboard/{dashboard_id}", json_body=dict(body))
        )

    def archive(self, dashboard_id: int) -> Dashboard:
        """``PUT /api/dashboard/:id {"archived": true}``: to the Trash; its subscriptions go."""
        return self.update(dashboard_id, {"archived": True})

    def delete(self, dashboard_id: int) -> None:
        """``DELETE /api/dashboard/:id``: hard delete (204)."""
        self._t.request("DELETE", f"/api/dashboard/{dashboard_id}")


class PulsesManager(_Manager):
    """Dashboard subscriptions: ``/api/pulse``."""

    def list(self, dashboard_id: int | None = None, archived: bool = False) -> list[Pulse]:
        """``GET /api/pulse?dashboard_id=&archived=``: live or (``archived``) archived ones."""
        params: dict[str, Any] = {"archived": "true" if archived else "false"}
        if dashboard_id is not None:
            params["dashboard_id"] = dashboard_id
        return _PULSES.validate_python(self._t.request("GET", "/api/pulse", params=params) or [])

    def get(self, pulse_id: int) -> Pulse:
        """``GET /api/pulse/:id``."""
        return Pulse.model_validate(self._t.request("GET", f"/api/pulse/{pulse_id}"))

    def create(self, body: Mapping[str, Any]) -> Pulse:
        """``POST /api/pulse``: name, dashboard_id, cards (card and dashcard ids), channels.

        Never retried once sent: a lost answer would otherwise subscribe people twice.
        """
        return Pulse.model_validate(self._t.request("POST", "/api/pulse", json_body=dict(body)))

    def update(self, pulse_id: int, body: Mapping[str, Any]) -> Pulse:
        """``PUT /api/pulse/:id``; ``cards`` and ``channels`` replace the stored ones.

        Metabase resets ``archived`` and ``skip_if_empty`` to false when a body omits them, so
        the caller must send both.
        """
        if "archived" not in body or "skip_if_empty" not in body:
            raise ValueError("a pulse update must send archived and skip_if_empty explicitly")
        return Pulse.model_validate(
            self._t.request("PUT", f"/api/pulse/{pulse_id}", json_body=dict(body))
        )

    def archive(self, pulse_id: int, skip_if_empty: bool) -> Pulse:
        """``PUT /api/pulse/:id {"archived": true}`` (there is no DELETE); channels disabled."""
        return self.update(pulse_id, {"archived": True, "skip_if_empty": skip_if_empty})


def _outcome(body: Any) -> QueryOutcome:
    if not isinstance(body, dict):
        return QueryOutcome([], [], error="Metabase returned no result")
    data = body.get("data") or {}
    cols = [c for c in data.get("cols", []) if isinstance(c, dict)]
    rows = [list(r) for r in data.get("rows", [])]
    error = body.get("error") if body.get("status") == "failed" else None
    return QueryOutcome(
        [str(c.get("name")) for c in cols],
        rows,
        error=str(error) if error else None,
        base_types=[str(c["base_type"]) if c.get("base_type") else None for c in cols],
    )


def merge_alert(stored: Notification, spec: AlertSpec) -> dict[str, Any]:
    """The PUT body that turns ``stored`` into ``spec`` while keeping every id.

    Metabase's notification PUT diffs each list by id: a row without a known id is deleted and
    re-inserted, and before 0.62 a body without the notification's or payload's id deletes and
    recreates the whole alert (metabase-api.md 5.6). So the body is the stored notification
    (unknown fields included) with our changes merged in: the top-level and payload ids kept,
    the first subscription kept and re-timed, handlers matched by channel and recipients by
    who they are, so only what really changed gets a new row.
    """
    body = _put_body(stored)
    body["active"] = spec.active
    payload = dict(body.get("payload") or {})
    payload.update(
        card_id=spec.card_id, send_condition=spec.send_condition, send_once=spec.send_once
    )
    body["payload"] = payload

    crons = [s for s in stored.subscriptions if s.type == "notification-subscription/cron"]
    kept = _unstamped(crons[0].wire()) if crons else {"type": "notification-subscription/cron"}
    if kept.get("cron_schedule") != spec.cron:
        kept["cron_schedule"] = spec.cron
        kept["ui_display_type"] = "cron/raw"
    body["subscriptions"] = [kept]

    unused = list(stored.handlers)
    handlers: list[dict[str, Any]] = []
    for wanted in spec.handlers:
        match = _take(unused, lambda h, w=wanted: _same_channel(h, w))
        handlers.append(_merge_handler(match, wanted))
    body["handlers"] = handlers
    return body


def _put_body(stored: Notification) -> dict[str, Any]:
    """The stored alert as a PUT body: every field and id kept, hydrated extras dropped."""
    body = stored.wire()
    # internal_id marks Metabase's own system notifications; models.clj removes it after every
    # select, but a server or proxy that leaks it must not get it written back (a PUT copies
    # the columns it is sent). The rest are hydrated or server-stamped.
    for key in ("creator", "internal_id", *_STAMPS):
        body.pop(key, None)
    if isinstance(body.get("payload"), dict):
        body["payload"] = _unstamped(body["payload"], "card")
    body["subscriptions"] = [_unstamped(s) for s in body.get("subscriptions") or []]
    return body


# Timestamps Metabase sets itself, at every level: no update spec reads them, and a request
# schema that closes its maps (PR #80575 strips undeclared keys, PR #81764 proposes rejecting
# them) would not declare them, so a read-merge-write leaves them out.
_STAMPS = ("created_at", "updated_at")


def _unstamped(row: Mapping[str, Any], *hydrated: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _STAMPS and k not in hydrated}


def _same_channel(live: Handler, wanted: HandlerSpec) -> bool:
    return live.channel_type == wanted.channel_type and (
        wanted.channel_id is None or live.channel_id == wanted.channel_id
    )


def _take(items: list[Any], predicate: Any) -> Any:
    for index, item in enumerate(items):
        if predicate(item):
            return items.pop(index)
    return None


def _merge_handler(live: Handler | None, wanted: HandlerSpec) -> dict[str, Any]:
    if live is None:
        body: dict[str, Any] = {"channel_type": wanted.channel_type, "active": True}
        if wanted.channel_id is not None:
            body["channel_id"] = wanted.channel_id
        body["recipients"] = [r.wire() for r in wanted.recipients]
        return body
    body = _unstamped(live.wire(), "channel", "template")
    body["channel_id"] = wanted.channel_id if wanted.channel_id is not None else live.channel_id
    body["active"] = True
    unused: list[Recipient] = list(live.recipients)
    recipients: list[dict[str, Any]] = []
    for recipient in wanted.recipients:
        match = _take(unused, recipient.matches)
        if match is None:
            recipients.append(recipient.wire())
        else:
            kept = _unstamped(match.wire(), "user", "permissions_group")
            recipients.append(kept)
    body["recipients"] = recipients
    return body


def spec_of(notification: Notification) -> AlertSpec:
    """The write shape of a stored card alert (to copy it)."""
    payload = notification.payload
    if payload is None:
        raise ValueError(f"alert #{notification.id} has no card payload")
    handlers = tuple(
        HandlerSpec(
            h.channel_type,
            channel_id=h.channel_id,
            recipients=tuple(
                RecipientSpec(
                    r.type,
                    user_id=r.user_id,
                    group_id=r.permissions_group_id,
                    value=(r.details or {}).get("value"),
                )
                for r in h.recipients
            ),
        )
        for h in notification.handlers
        if h.active is not False
    )
    return AlertSpec(
        card_id=payload.card_id,
        send_condition=payload.send_condition,
        send_once=payload.send_once,
        cron=subscriptions_cron(notification.subscriptions) or "0 0 * * * ? *",
        handlers=handlers,
        active=notification.active,
    )


def alert_create_body(spec: AlertSpec) -> dict[str, Any]:
    """The POST body for a new card alert."""
    return {
        "payload_type": "notification/card",
        "active": spec.active,
        "payload": {
            "card_id": spec.card_id,
            "send_condition": spec.send_condition,
            "send_once": spec.send_once,
        },
        "subscriptions": [
            {
                "type": "notification-subscription/cron",
                "cron_schedule": spec.cron,
                "ui_display_type": "cron/raw",
            }
        ],
        "handlers": [_merge_handler(None, h) for h in spec.handlers],
    }


class NotificationsAPI(_Manager):
    """Card alerts: ``/api/notification`` (Metabase 0.54+)."""

    def list(
        self,
        *,
        card_id: int | None = None,
        creator_id: int | None = None,
        include_inactive: bool = False,
        payload_type: str = "notification/card",
    ) -> list[Notification]:
        """``GET /api/notification``: every alert the caller may see (admins: all), one request.

        Metabase promises no order, so callers must not depend on it.
        """
        params: dict[str, Any] = {"payload_type": payload_type}
        if card_id is not None:
            params["card_id"] = card_id
        if creator_id is not None:
            params["creator_id"] = creator_id
        if include_inactive:
            params["include_inactive"] = "true"
        data = self._t.request("GET", "/api/notification", params=params, raw=True)
        listed = decode_alert_list(data) if isinstance(data, (bytes, bytearray)) else data
        return _NOTIFICATIONS.validate_python(listed or [])

    def get(self, notification_id: int) -> Notification:
        """``GET /api/notification/:id``."""
        return Notification.model_validate(
            self._t.request("GET", f"/api/notification/{notification_id}")
        )

    def create(self, spec: AlertSpec) -> Notification:
        """``POST /api/notification``; never retried once sent (it would duplicate the alert)."""
        return Notification.model_validate(
            self._t.request("POST", "/api/notification", json_body=alert_create_body(spec))
        )

    def update(self, notification_id: int, spec: AlertSpec) -> Notification:
        """Read-merge-write: ``GET`` then ``PUT /api/notification/:id`` keeping every id."""
        stored = self.get(notification_id)
        body = merge_alert(stored, spec)
        return Notification.model_validate(
            self._t.request("PUT", f"/api/notification/{notification_id}", json_body=body)
        )

    def set_active(self, notification_id: int, active: bool) -> Notification:
        """Archive (``active: false``) or restore an alert, by read-merge-write.

        There is no DELETE for notifications; an inactive alert keeps its rows.
        """
        return self._rewrite(notification_id, active=active)

    def adopt(self, notification_id: int, creator_id: int) -> tuple[Notification, bool]:
        """Make the caller (``creator_id``) own an alert; returns it and whether it was replaced.

        Metabase 0.62+ lets a superuser change ``creator_id``. Released versions before that
        answer 200 and keep the creator (``creator_id`` is not a compare column of their
        notification update spec), so then the alert is replaced: a copy is created by the
        caller and the original is deactivated.
        """
        handed = self._rewrite(notification_id, creator_id=creator_id)
        if handed.creator_id == creator_id:
            return handed, False
        copy = self.create(spec_of(handed))
        self.set_active(notification_id, False)
        return copy, True

    def _rewrite(self, notification_id: int, **changes: Any) -> Notification:
        """GET, change top-level fields, PUT everything back with every id kept."""
        body = _put_body(self.get(notification_id))
        body.update(changes)
        return Notification.model_validate(
            self._t.request("PUT", f"/api/notification/{notification_id}", json_body=body)
        )

    def send(self, notification_id: int) -> None:
        """``POST /api/notification/:id/send`` (204). Metabase still applies the condition."""
        self._t.request("POST", f"/api/notification/{notification_id}/send")


class ChannelsAPI(_Manager):
    """Webhook channels: ``/api/channel`` (Metabase 0.51+)."""

    def list(self, *, include_inactive: bool = False) -> list[Channel]:
        """``GET /api/channel``."""
        params = {"include_inactive": "true"} if include_inactive else None
        try:
            body = self._t.request("GET", "/api/channel", params=params)
        except NotFoundError as exc:
            if exc.route_missing:
                return []
            raise
        return _CHANNELS.validate_python(body or [])


def _slack_options(form_input: Mapping[str, Any]) -> list[Any]:
    slack = (form_input.get("channels") or {}).get("slack") or {}
    options: list[Any] = []
    for field in slack.get("fields") or []:
        if isinstance(field, dict) and field.get("name") == "channel":
            options.extend(field.get("options") or [])
    return options


def slack_option_name(option: Any) -> str | None:
    """The display name (``#channel`` or ``@user``) of one Slack option, in either shape.

    Released Metabase lists plain strings; newer builds list ``{"displayName", "id"}`` objects
    (metabase/metabase src/metabase/pulse/api/pulse.clj, ``form_input``: ``(mapv (fn [{:keys
    [display-name id]}] {:displayName display-name :id id}))``). Anything else is skipped.
    """
    if isinstance(option, str):
        return option
    if isinstance(option, Mapping):
        name = option.get("displayName")
        return name if isinstance(name, str) and name else None
    return None


def slack_channel_ids(form_input: Mapping[str, Any]) -> dict[str, str]:
    """Slack display name → channel id, for instances that list ids (empty for string lists)."""
    ids: dict[str, str] = {}
    for option in _slack_options(form_input):
        name = slack_option_name(option)
        if name is not None and isinstance(option, Mapping) and isinstance(option.get("id"), str):
            ids.setdefault(name, option["id"])
    return ids


def slack_renames(notifications: Sequence[Notification], ids: Mapping[str, str]) -> dict[str, str]:
    """Stored Slack name -> its channel's name now, for recipients whose channel was renamed.

    A recipient stores ``{"value": "#old", "channel_id": "C1"}``; Metabase delivers by id, so the
    alert still reaches the renamed channel, but declarations naming ``#old`` no longer resolve.
    """
    names = {channel_id: name for name, channel_id in ids.items()}
    renames: dict[str, str] = {}
    for notification in notifications:
        for handler in notification.handlers:
            if handler.channel_type != "channel/slack":
                continue
            for recipient in handler.recipients:
                details = recipient.details or {}
                now = names.get(str(details.get("channel_id")))
                value = details.get("value")
                if now is not None and isinstance(value, str) and value != now:
                    renames[value] = now
    return renames


def slack_status(form_input: Mapping[str, Any]) -> bool | None:
    """``slack.configured`` from ``form_input``; None when Metabase left ``slack`` out.

    Metabase drops the ``slack`` key for sandboxed or impersonated users (pulse.clj,
    ``form_input``: ``(dissoc chan-types :slack)``), so its absence says nothing.
    """
    channels = form_input.get("channels")
    if not isinstance(channels, Mapping) or "slack" not in channels:
        return None
    slack = channels.get("slack") or {}
    return bool(slack.get("configured")) if isinstance(slack, Mapping) else None


def slack_channels(form_input: Mapping[str, Any]) -> tuple[bool, tuple[str, ...]]:
    """Whether Slack is configured and the display names it knows, from ``form_input``.

    Names come from either list shape (see :func:`slack_option_name`), each once.
    """
    names: list[str] = []
    for option in _slack_options(form_input):
        name = slack_option_name(option)
        if name is not None and name not in names:
            names.append(name)
    return bool(slack_status(form_input)), tuple(names)


def subscriptions_cron(subscriptions: Sequence[Subscription]) -> str | None:
    """The cron of the first cron subscription, if any."""
    for subscription in subscriptions:
        if subscription.type == "notification-subscription/cron" and subscription.cron_schedule:
            return subscription.cron_schedule
    return None

