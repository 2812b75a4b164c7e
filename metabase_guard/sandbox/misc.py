"""Health, session, users, groups, databases, settings, channels, form_input and ad-hoc queries."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metabase_guard.sandbox import queries
from metabase_guard.sandbox.core import (
    ApiFailure,
    Reply,
    Request,
    Row,
    bad_request,
    forbidden,
    no_content,
    now_iso,
    ok,
    ok_json,
)
from metabase_guard.sandbox.store import Store
from metabase_guard.sandbox.validation import (
    SLACK_OBJECT_LIST_SINCE,
    Errors,
    check_bool,
    check_enum,
    check_map,
    check_non_blank,
    field,
)

if TYPE_CHECKING:
    from metabase_guard.evaluation import QueryResult
    from metabase_guard.sandbox.app import Router, Sandbox
    from metabase_guard.sandbox.warehouse import Warehouse

SCHEDULES = ["hourly", "daily", "weekly", "monthly"]


def register(router: Router) -> None:
    """Register this module's endpoints."""
    router.add("GET", "/api/health", auth=False)(health)
    router.add("GET", "/api/session/properties", auth=False)(session_properties)
    router.add("POST", "/api/session", auth=False)(login)
    router.add("DELETE", "/api/session", auth=False)(logout)
    router.add("GET", "/api/user/current")(current_user)
    router.add("GET", "/api/user")(list_users)
    router.add("GET", "/api/user/:id")(get_user)
    router.add("GET", "/api/permissions/group")(list_groups)
    router.add("GET", "/api/database")(list_databases)
    router.add("GET", "/api/database/:id")(get_database)
    router.add("GET", "/api/setting")(list_settings)
    router.add("GET", "/api/setting/:key")(get_setting)
    router.add("PUT", "/api/setting/:key")(put_setting)
    router.add("GET", "/api/channel", min_major=51)(list_channels)
    router.add("POST", "/api/channel", min_major=51)(create_channel)
    router.add("GET", "/api/channel/:id", min_major=51)(get_channel)
    router.add("PUT", "/api/channel/:id", min_major=51)(update_channel)
    router.add("GET", "/api/pulse/form_input")(form_input)
    router.add("POST", "/api/dataset")(run_dataset)



# ------------------------------------------------------------------------------ health, session
# metabase/metabase src/metabase/server/routes.clj: /api/health is routed outside the
# authenticated API context (no session), 200 {"status": "ok"} once initialised, else 503.
def health(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/health`` → ``{"status": "ok"}``."""
    return ok({"status": "ok"})


def timezone_names(zone: str | None) -> tuple[str, str]:
    """``(long, short)`` names of the report timezone (``report-timezone-long/-short``)."""
    name = zone or "UTC"
    try:
        info = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return name, name
    # Java's short display name is the standard-time abbreviation (CET, not CEST).
    short = dt.datetime(2024, 1, 15, 12, tzinfo=info).tzname() or name
    return name, short


# metabase/metabase src/metabase/session/api.clj (defendpoint :get "/properties"):
# setting/user-readable-values-map of the current user's visibilities, :public when anonymous.
def session_properties(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/session/properties``: public settings, no auth needed.

    metabase/metabase settings with ``:visibility :public``: ``version``, ``token-features``,
    ``email-configured?``, ``report-timezone-long``/``-short`` (fall back to the JVM zone).
    """
    store = sb.store
    long_name, short_name = timezone_names(store.settings.get("report-timezone"))
    return ok(
        {
            "version": {
                "tag": store.version_tag,
                "hash": "5a1dbox",
                "date": "2026-01-01",
                "branch": "release",
            },
            "token-features": {},
            "email-configured?": store.email_configured(),
            "report-timezone-long": long_name,
            "report-timezone-short": short_name,
            "site-url": store.settings.get("site-url"),
            "site-name": "Metabase Sandbox",
            "site-locale": "en",
            "setup-token": None,
            "has-user-setup": True,
            "application-name": "Metabase",
            "anon-tracking-enabled": False,
        }
    )


def login(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/session``: email + password → ``{"id": session}``.

    metabase/metabase src/metabase/session/api.clj: wrong credentials are a 401 with
    ``{"errors": {"password": "did not match stored password"}}``.
    """
    body = req.json_object()
    errors = Errors()
    field(errors, body, "username", check_non_blank, required=True)
    field(errors, body, "password", check_non_blank, required=True)
    errors.raise_if_any()
    store = sb.store
    user = store.user_by_email(str(body["username"]))
    if user is None or not user["is_active"] or store.passwords.get(user["id"]) != body["password"]:
        raise ApiFailure(401, {"errors": {"password": "did not match stored password"}})
    token = str(uuid.uuid4())
    store.sessions[token] = user["id"]
    user["last_login"] = now_iso()
    return ok({"id": token})


def logout(sb: Sandbox, req: Request) -> Reply:
    """``DELETE /api/session``: 204, or 404 when there is no such session."""
    token = req.headers.get("x-metabase-session")
    if not token or token not in sb.store.sessions:
        raise ApiFailure(404, "Not found.")
    del sb.store.sessions[token]
    return no_content()


# ------------------------------------------------------------------------------ users, groups
def user_json(store: Store, user: Row, *, current: bool = False) -> Row:
    """A user as ``GET /api/user/:id`` / ``current`` shows it (no ``type`` key)."""
    out = {
        "id": user["id"],
        "email": user["email"],
        "first_name": user["first_name"],
        "last_name": user["last_name"],
        "common_name": store.common_name(user),
        "is_superuser": store.is_superuser(user),
        "is_active": user["is_active"],
        "is_qbnewb": user["is_qbnewb"],
        "locale": user["locale"],
        "sso_source": user["sso_source"],
        "date_joined": user["date_joined"],
        "last_login": user["last_login"],
        "updated_at": user["updated_at"],
        "login_attributes": None,
        "tenant_id": None,
        "group_ids": store.group_ids(user["id"]),
        "personal_collection_id": user["personal_collection_id"],
    }
    if current:
        out.update(
            {
                "is_installer": user["id"] == 1,
                "has_invited_second_user": len(store.rows["users"]) > 2,
                "has_question_and_dashboard": bool(store.rows["cards"]),
                "first_login": user["date_joined"],
                "custom_homepage": None,
            }
        )
    return out


def current_user(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/user/current``: the caller (the synthetic user for an API key)."""
    return ok(user_json(sb.store, req.me, current=True))


def list_users(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/user``: superusers only; never API-key users.

    metabase/metabase src/metabase/users_rest/api.clj: ``type = personal``; ``query`` matches
    first name, last name or email; ``status`` active (default) | deactivated | all; ordered by
    first name, last name, id; envelope ``{data, total, limit, offset}``.
    """
    store = sb.store
    store.require_superuser(req.me)
    status = req.arg("status")
    if status is None:
        status = "all" if req.flag("include_deactivated") else "active"
    if status not in ("active", "deactivated", "all"):
        raise ApiFailure(400, {"errors": {"status": "nullable enum of active, deactivated, all"}})
    needle = (req.arg("query") or "").lower()
    group_id = req.int_arg("group_id")
    users = [
        u
        for u in store.all("users")
        if u["type"] == "personal"
        and (status == "all" or u["is_active"] == (status == "active"))
        and (
            not needle
            or any(needle in (u.get(k) or "").lower() for k in ("first_name", "last_name", "email"))
        )
        and (group_id is None or (group_id, u["id"]) in store.memberships)
    ]
    users.sort(
        key=lambda u: ((u["first_name"] or "").lower(), (u["last_name"] or "").lower(), u["id"])
    )
    limit, offset = req.int_arg("limit"), _offset(req)
    page = users[offset or 0 :]
    if limit is not None:
        page = page[:limit]
    return ok(
        {
            "data": [user_json(store, u) for u in page],
            "total": len(users),
            "limit": limit,
            "offset": offset,
        }
    )


def _offset(req: Request) -> int | None:
    value = req.arg("offset")
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    raise ApiFailure(
        400,
        {"errors": {"offset": "nullable value must be an integer greater than or equal to zero."}},
    )


def get_user(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/user/:id``: superusers or the user themself."""
    store, caller = sb.store, req.me
    user_id = req.id_param()
    if user_id != caller["id"] and not store.is_superuser(caller):
        raise forbidden()
    return ok(user_json(store, store.get_or_404("users", user_id)))


def list_groups(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/permissions/group``: superusers; ordered by lower-cased name.

    metabase/metabase src/metabase/permissions_rest/api.clj (``GET /group``, ``member_count``).
    """
    store = sb.store
    store.require_superuser(req.me)
    out = []
    for group in store.all("groups"):
        members = [
            u
            for g, u in store.memberships
            if g == group["id"] and (row := store.get("users", u)) is not None and row["is_active"]
        ]
        out.append({**group, "member_count": len(members)})
    out.sort(key=lambda g: (g["name"].lower(), g["id"]))
    return ok(out)


# ------------------------------------------------------------------------------ databases
def database_json(store: Store, db: Row, user: Row, include_tables: bool = False) -> Row:
    """A database; ``details`` only for admins.

    metabase/metabase src/metabase/warehouses_rest/api.clj.
    """
    out = {k: v for k, v in db.items() if k != "details"}
    if store.is_superuser(user):
        out["details"] = db.get("details", {})
    if include_tables:
        out["tables"] = [
            {
                "id": tid,
                "db_id": db["id"],
                "name": name,
                "display_name": name.replace("_", " ").title(),
                "schema": "public",
                "active": True,
                "entity_type": "entity/GenericTable",
            }
            for tid, name in db.get("_tables", [])
        ]
    out.pop("_tables", None)
    return out


def list_databases(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/database``: envelope ``{data, total}``, ordered by name then engine."""
    store, user = sb.store, req.me
    dbs = sorted(store.all("databases"), key=lambda d: (d["name"].lower(), d["engine"], d["id"]))
    include_tables = req.arg("include") == "tables"
    data = [database_json(store, d, user, include_tables) for d in dbs]
    return ok({"data": data, "total": len(data)})


def get_database(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/database/:id``."""
    store = sb.store
    db = store.get_or_404("databases", req.id_param())
    include = req.arg("include") or ""
    return ok(database_json(store, db, req.me, include.startswith("tables")))


# ------------------------------------------------------------------------------ settings
READABLE_SETTINGS = (
    "report-timezone",
    "email-configured?",
    "slack-token-valid?",
    "subscription-allowed-domains",
    "site-url",
    "site-name",
)


SETTING_DESCRIPTIONS = {
    "report-timezone": "Connection timezone to use when executing queries.",
    "email-configured?": "Whether email is enabled and its mandatory settings are configured.",
    "slack-token-valid?": "Whether the current Slack app token, if set, is valid.",
    "subscription-allowed-domains": "Allowed email address domain(s) for new Subscriptions.",
    "site-url": "This URL is used for things like creating links in emails.",
    "site-name": "The name used for this instance of Metabase.",
}


def list_settings(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/setting``: admin-only, one map per setting, env-var values never shown.

    metabase/metabase src/metabase/settings/models/setting.clj (``writable-settings``:
    ``:key :value :is_env_setting :env_name :description :default``).
    """
    store = sb.store
    store.require_superuser(req.me)
    return ok([
        {
            "key": key,
            "value": store.settings.get(key),
            "is_env_setting": False,
            "env_name": "MB_" + key.rstrip("?").replace("-", "_").upper(),
            "description": SETTING_DESCRIPTIONS[key],
            "default": None,
        }
        for key in READABLE_SETTINGS
    ])


# metabase/metabase src/metabase/settings/api.clj (defendpoint :get "/:key"): returns
# setting/user-facing-value, nil for an unset setting; the API answers a nil body 204 No Content.
def get_setting(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/setting/:key``: the bare JSON value; unset → 204 (settings-manager: admins)."""
    store = sb.store
    store.require_superuser(req.me)
    key = req.params["key"]
    if key not in READABLE_SETTINGS:
        raise bad_request(f"Unknown setting: {key}")
    value = store.settings.get(key)
    if value is None:
        return no_content()
    return ok_json(value)


def put_setting(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/setting/:key`` ``{"value": ...}``: 204."""
    store = sb.store
    store.require_superuser(req.me)
    key = req.params["key"]
    if key not in ("report-timezone", "subscription-allowed-domains", "site-url"):
        raise bad_request(f"Unknown setting: {key}")
    value = req.json_object().get("value")
    store.settings[key] = value if value != "" else None
    return no_content()


# ------------------------------------------------------------------------------ channels
AUTH_METHODS = ["none", "header", "query-param", "request-body"]
FORM_TYPES = ["api-key", "bearer", "basic", "none"]
HTTP_METHODS = ["get", "post", "put"]
DETAIL_KEYS = {"url", "auth-method", "auth-info", "fe-form-type", "method"}


def _validate_details(errors: Errors, details: Any) -> None:
    # metabase/metabase src/metabase/channel/impl/http.clj: HTTPDetails is a closed map.
    if not isinstance(details, dict):
        errors.add(["details"], "Invalid channel details", ["invalid type"])
        return
    field(errors, details, "url", check_non_blank, required=True, path=["details"])
    field(
        errors,
        details,
        "auth-method",
        check_enum(AUTH_METHODS),
        required=True,
        path=["details"],
        description="enum of none, header, query-param, request-body",
    )
    field(errors, details, "auth-info", check_map, path=["details"])
    field(errors, details, "fe-form-type", check_enum(FORM_TYPES), path=["details"])
    field(errors, details, "method", check_enum(HTTP_METHODS), path=["details"])
    for extra in sorted(set(details) - DETAIL_KEYS):
        errors.add(
            ["details", extra],
            "disallowed key",
            ["disallowed key, received: " + repr(details[extra])],
        )


def channel_json(store: Store, channel: Row, user: Row) -> Row:
    """A channel; ``details`` removed for users who cannot write it."""
    out = dict(channel)
    if not store.is_superuser(user):
        out.pop("details", None)
    return out


def list_channels(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/channel``: active channels unless ``include_inactive=true``.

    metabase/metabase src/metabase/channel/api/channel.clj.
    """
    store, user = sb.store, req.me
    include_inactive = req.flag("include_inactive")
    return ok(
        [
            channel_json(store, c, user)
            for c in store.all("channels")
            if include_inactive or c["active"]
        ]
    )


def create_channel(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/channel``: duplicate names are a 409.

    metabase/metabase src/metabase/channel/api/channel.clj.
    """
    store, user = sb.store, req.me
    store.require_superuser(user)
    body = req.json_object()
    errors = Errors()
    field(errors, body, "name", check_non_blank, required=True)
    field(
        errors,
        body,
        "type",
        check_enum(["channel/http"]),
        required=True,
        description="Must be a namespaced channel. E.g: channel/http",
    )
    field(errors, body, "description", check_non_blank)
    field(errors, body, "active", check_bool)
    if "details" not in body:
        errors.add(["details"], "Value must be a map.", ["missing required key, received: nil"])
    else:
        _validate_details(errors, body["details"])
    errors.raise_if_any()
    if any(c["name"] == body["name"] for c in store.all("channels")):
        raise ApiFailure(409, {"errors": {"name": "Channel with that name already exists"}})
    return ok(channel_json(store, add_channel(store, body), user))


def add_channel(store: Store, body: dict[str, Any]) -> Row:
    """Insert a channel row from a validated body."""
    stamp = now_iso()
    return store.insert(
        "channels",
        {
            "name": body["name"],
            "description": body.get("description"),
            "type": body["type"],
            "details": body["details"],
            "active": body.get("active", True),
            "created_at": stamp,
            "updated_at": stamp,
        },
    )


def get_channel(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/channel/:id``."""
    store = sb.store
    return ok(channel_json(store, store.get_or_404("channels", req.id_param()), req.me))


def update_channel(sb: Sandbox, req: Request) -> Reply:
    """``PUT /api/channel/:id``: partial update."""
    store, user = sb.store, req.me
    store.require_superuser(user)
    channel = store.get_or_404("channels", req.id_param())
    body = req.json_object()
    errors = Errors()
    field(errors, body, "name", check_non_blank)
    field(errors, body, "type", check_enum(["channel/http"]))
    field(errors, body, "active", check_bool)
    if body.get("details") is not None:
        _validate_details(errors, body["details"])
    errors.raise_if_any()
    if body.get("name") and any(
        c["name"] == body["name"] and c["id"] != channel["id"] for c in store.all("channels")
    ):
        raise ApiFailure(409, {"errors": {"name": "Channel with that name already exists"}})
    for key in ("name", "type", "description", "details", "active"):
        if key in body and (body[key] is not None or key == "description"):
            channel[key] = body[key]
    channel["updated_at"] = now_iso()
    return ok(channel_json(store, channel, user))


# ------------------------------------------------------------------------------ form_input
def form_input(sb: Sandbox, req: Request) -> Reply:
    """``GET /api/pulse/form_input``: which channels are configured, Slack channel options.

    metabase/metabase src/metabase/pulse/api/pulse.clj (form_input) and the pulse_channel
    ``channel-types``; ``http.configured`` = an active ``channel/http`` channel exists.
    """
    store = sb.store
    slack_ok = bool(store.slack_channels)
    shape = store.slack_list or (
        "objects" if store.major >= SLACK_OBJECT_LIST_SINCE else "strings"
    )
    # Newer builds: {displayName, id} per channel and user (pulse.clj form_input, see
    # validation.SLACK_OBJECT_LIST_SINCE); released ones: the display names alone.
    options: list[Any] = (
        [{"displayName": n, "id": store.slack_ids[n]} for n in store.slack_channels]
        if shape == "objects" else list(store.slack_channels)
    )
    reply = ok(
        {
            "channels": {
                "email": {
                    "type": "email",
                    "name": "Email",
                    "allows_recipients": True,
                    "recipients": ["user", "email"],
                    "schedules": SCHEDULES,
                    "configured": store.email_configured(),
                },
                "slack": {
                    "type": "slack",
                    "name": "Slack",
                    "allows_recipients": False,
                    "schedules": SCHEDULES,
                    "fields": [
                        {
                            "name": "channel",
                            "type": "select",
                            "displayName": "Post to",
                            "options": options,
                            "required": True,
                        }
                    ],
                    "configured": slack_ok,
                },
                "http": {
                    "type": "http",
                    "name": "Webhook",
                    "allows_recipients": False,
                    "schedules": SCHEDULES,
                    "configured": any(
                        c["active"] and c["type"] == "channel/http" for c in store.all("channels")
                    ),
                },
            }
        }
    )
    # pulse.clj form_input: ``(perms/sandboxed-or-impersonated-user?) (dissoc chan-types :slack)``.
    if req.me["id"] in store.sandboxed:
        del reply.body["channels"]["slack"]
    return reply


# ------------------------------------------------------------------------------ queries
def base_type(values: list[Any]) -> str:
    """Metabase ``base_type`` guessed from a column's values."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "type/Boolean"
        if isinstance(value, int):
            return "type/BigInteger" if abs(value) > 2**31 else "type/Integer"
        if isinstance(value, float):
            return "type/Float"
        if isinstance(value, dt.datetime):
            return "type/DateTimeWithLocalTZ"
        if isinstance(value, dt.date):
            return "type/Date"
        if isinstance(value, str):
            try:
                dt.date.fromisoformat(value)
                return "type/Date"
            except ValueError:
                pass
            try:
                dt.datetime.fromisoformat(value)
                return "type/DateTime"
            except ValueError:
                return "type/Text"
        return "type/*"
    return "type/*"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class NativeJob:
    """A native query bound to its warehouse under the sandbox lock, to run without it.

    ``error`` is set when the query cannot run at all (no such database, not native SQL);
    otherwise :meth:`execute` runs ``sql`` on ``warehouse``, which has a lock of its own
    (``DuckDatabase``), and reads nothing of the store.
    """

    db_id: Any
    sql: str | None
    warehouse: Warehouse | None
    error: str | None

    def execute(self) -> QueryResult | str:
        """The query's result, or the message of its failure."""
        if self.error is not None:
            return self.error
        assert self.warehouse is not None and self.sql is not None
        from metabase_guard.sandbox.warehouse import SqlError

        try:
            return self.warehouse.run(self.sql)
        except SqlError as exc:
            return str(exc)

    def metadata(self) -> list[Row] | None:
        """The ``result_metadata`` a card with this query gets (``None`` when it fails)."""
        outcome = self.execute()
        return None if isinstance(outcome, str) else native_columns(outcome)[1]


def bind_native(store: Store, query: dict[str, Any]) -> NativeJob:
    """The :class:`NativeJob` of a query; reads the store, so the caller holds the lock."""
    db_id = queries.database_id(query)
    sql = queries.native_sql(query)
    db = store.get("databases", db_id)
    if db is None:
        return NativeJob(db_id, sql, None, f"Database {db_id} does not exist.")
    if sql is None:
        return NativeJob(db_id, sql, None, "Only native queries can run in the sandbox.")
    assert isinstance(db_id, int)
    return NativeJob(db_id, sql, store.warehouse(db_id), None)


def native_columns(result: QueryResult) -> tuple[list[Row], list[Row]]:
    """The ``cols`` of a query's answer and the ``result_metadata`` saved from them."""
    cols: list[Row] = []
    for index, name in enumerate(result.columns):
        known = result.base_types[index] if result.base_types else None
        btype = known or base_type([r[index] for r in result.rows])
        cols.append(
            {
                "name": name,
                "display_name": name,
                "base_type": btype,
                "effective_type": btype,
                "semantic_type": None,
                "source": "native",
                "field_ref": ["field", name, {"base-type": btype}],
            }
        )
    metadata = [
        {
            k: c[k]
            for k in (
                "name",
                "display_name",
                "base_type",
                "effective_type",
                "semantic_type",
                "field_ref",
            )
        }
        | {"fingerprint": None}
        for c in cols
    ]
    return cols, metadata


def run_native(store: Store, query: dict[str, Any], context: str) -> tuple[Row, list[Row] | None]:
    """Run a native query; returns the 202 body and the result metadata (``None`` on failure).

    metabase/metabase src/metabase/query_processor: query failures are still 202 responses with
    ``"status": "failed"`` and the driver's message in ``error``.
    """
    started = now_iso()
    job = bind_native(store, query)
    base: Row = {
        "database_id": job.db_id,
        "started_at": started,
        "json_query": query,
        "average_execution_time": None,
        "context": context,
        "running_time": 0,
    }
    outcome = job.execute()
    if isinstance(outcome, str):
        return {
            **base,
            "status": "failed",
            "error": outcome,
            "error_type": "invalid-query",
            "row_count": 0,
            "data": {"rows": [], "cols": []},
            "via": [],
        }, None
    rows = [[_jsonable(v) for v in row] for row in outcome.rows]
    cols, metadata = native_columns(outcome)
    data = {
        "rows": rows,
        "cols": cols,
        "native_form": {"query": job.sql, "params": None},
        "results_timezone": store.settings.get("report-timezone") or "UTC",
        "results_metadata": {"columns": metadata},
        "insights": None,
    }
    return {**base, "status": "completed", "row_count": len(rows), "data": data}, metadata


def run_dataset(sb: Sandbox, req: Request) -> Reply:
    """``POST /api/dataset``: run an ad-hoc query; 202 even when it fails."""
    body = req.json_object()
    if not isinstance(body.get("database"), int):
        raise ApiFailure(
            400, {"errors": {"database": "value must be an integer greater than zero."}}
        )
    query = queries.normalize_query(body, sb.major)
    result, _ = run_native(sb.store, query, "ad-hoc")
    return ok(result, 202)
