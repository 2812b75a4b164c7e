"""In-memory Metabase state: tables of rows, sequential ids, users, groups and settings.

Like a moto backend it knows nothing of HTTP. Rows are plain dicts shaped like Metabase's
application-database rows; the resource modules add the domain rules and the hydration.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metabase_guard.sandbox.core import Row, forbidden, nano_id, not_found, now_iso

if TYPE_CHECKING:
    from metabase_guard.sandbox.warehouse import Warehouse

ALL_USERS_GROUP_ID = 1
ADMIN_GROUP_ID = 2

TABLES = (
    "users",
    "groups",
    "collections",
    "cards",
    "databases",
    "channels",
    "notifications",
    "notification_cards",
    "subscriptions",
    "handlers",
    "recipients",
    "dashboards",
    "dashcards",
    "dashboard_tabs",
    "pulses",
    "pulse_cards",
    "pulse_channels",
)


def parse_major(version_tag: str) -> int | None:
    """Metabase major from a tag like ``v0.61.2`` / ``v1.60.3``; ``None`` when unparseable.

    Mirrors the CLI's rule: the first number must be 0 or 1 and the second is the major
    (metabase/metabase-cli src/core/version/tag.ts).
    """
    match = re.match(r"^v?([01])\.(\d+)", version_tag.strip())
    return int(match.group(2)) if match else None


@dataclass
class Delivery:
    """One message the emulator 'sent' (alert deliveries and 'you were added' emails)."""

    kind: str
    channel: str
    recipients: list[str]
    notification_id: int | None = None
    card_id: int | None = None
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Store:
    """All tables of one emulated Metabase instance."""

    def __init__(self, *, version_tag: str, major: int, rng_seed: int | None) -> None:
        self.version_tag = version_tag
        self.major = major
        self.rows: dict[str, dict[int, Row]] = {name: {} for name in TABLES}
        self._next: dict[str, int] = dict.fromkeys(TABLES, 1)
        self.memberships: set[tuple[int, int]] = set()  # (group_id, user_id)
        self.passwords: dict[int, str] = {}
        self.view_only: set[int] = set()
        self.sandboxed: set[int] = set()  # data-sandboxed or impersonated users
        self.api_keys: dict[str, int] = {}
        self.sessions: dict[str, int] = {}
        self.settings: dict[str, Any] = {}
        self.slack_channels: list[str] = []
        self.slack_ids: dict[str, str] = {}  # display name -> Slack channel id
        self.slack_list: str | None = None  # seed override of the form_input list shape
        self.warehouses: dict[int, Warehouse] = {}
        # A mapping of tables, or "default" for the shared default warehouse.
        self.database_tables: dict[int, dict[str, dict[str, Any]] | str] = {}
        self.outbox: list[Delivery] = []
        self.send_log: list[dict[str, Any]] = []
        self.rng = random.Random(rng_seed)
        self.trash_id = 0
        self._batches = 0
        # Per-column indexes for ``rows_where``, kept up to date by insert and delete.
        self._indexes: dict[tuple[str, str], tuple[int, dict[Any, list[Row]]]] = {}

    # ---------------------------------------------------------------- rows and ids
    def insert(self, table: str, row: Row) -> Row:
        """Insert ``row`` under the next sequential id (ids start at 1 like a fresh app DB)."""
        row_id = self._next[table]
        self._next[table] = row_id + 1
        row["id"] = row_id
        self.rows[table][row_id] = row
        for (name, column), (_, index) in self._indexes.items():
            if name == table:  # ids only grow: appending keeps each list in id order
                index.setdefault(row.get(column), []).append(row)
        return row

    def get(self, table: str, row_id: Any) -> Row | None:
        """The row with ``row_id`` or ``None``."""
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            return None
        return self.rows[table].get(row_id)

    def get_or_404(self, table: str, row_id: Any) -> Row:
        """The row with ``row_id`` or a 404 ``Not found.`` failure."""
        row = self.get(table, row_id)
        if row is None:
            raise not_found()
        return row

    def delete(self, table: str, row_id: int) -> None:
        """Remove a row if present."""
        row = self.rows[table].pop(row_id, None)
        if row is not None:
            for (name, column), (_, index) in self._indexes.items():
                if name == table:
                    index[row.get(column)] = [r for r in index.get(row.get(column), [])
                                              if r is not row]

    def rows_where(self, table: str, column: str, value: Any) -> list[Row]:
        """Rows of ``table`` whose ``column`` equals ``value``, in id order.

        Served from an index built on first use and kept up to date by :meth:`insert` and
        :meth:`delete`, so hydrating every notification of a big instance is linear, not
        quadratic (docs/benchmarks.md). Only for columns that no update rewrites in place
        (foreign keys); rows must be added and removed through ``insert``/``delete``.
        """
        cached = self._indexes.get((table, column))
        if cached is None:
            index: dict[Any, list[Row]] = {}
            for row in self.rows[table].values():
                index.setdefault(row.get(column), []).append(row)
            cached = (0, index)
            self._indexes[(table, column)] = cached
        return list(cached[1].get(value, ()))

    def next_batch(self) -> int:
        """A new write-batch number: rows written by one request share it, like a timestamp."""
        self._batches += 1
        return self._batches

    def all(self, table: str) -> list[Row]:
        """Rows of ``table`` in insertion (id) order."""
        return list(self.rows[table].values())

    # ---------------------------------------------------------------- users and groups
    def add_group(self, name: str, magic_group_type: str | None = None) -> Row:
        """Create a permissions group."""
        return self.insert(
            "groups",
            {
                "name": name,
                "magic_group_type": magic_group_type,
                "entity_id": nano_id(),
                "is_tenant_group": False,
            },
        )

    def add_user(
        self,
        *,
        email: str,
        first_name: str | None,
        last_name: str | None,
        is_superuser: bool = False,
        user_type: str = "personal",
        active: bool = True,
        password: str | None = None,
    ) -> Row:
        """Create a user in All Users (and Administrators) with a personal collection."""
        stamp = now_iso()
        user = self.insert(
            "users",
            {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "is_active": active,
                "is_qbnewb": True,
                "locale": None,
                "sso_source": None,
                "date_joined": stamp,
                "last_login": None,
                "updated_at": stamp,
                "type": user_type,
                "personal_collection_id": None,
            },
        )
        self.memberships.add((ALL_USERS_GROUP_ID, user["id"]))
        if is_superuser:
            self.memberships.add((ADMIN_GROUP_ID, user["id"]))
        if password is not None:
            self.passwords[user["id"]] = password
        if user_type == "personal":
            name = " ".join(p for p in (first_name, last_name) if p) or email
            coll = self.insert_collection(
                name=f"{name}'s Personal Collection",
                description=None,
                parent=None,
                personal_owner_id=user["id"],
            )
            user["personal_collection_id"] = coll["id"]
        return user

    def add_api_key_user(self, key: str, key_name: str, group_id: int) -> Row:
        """Create the synthetic user behind an API key.

        metabase/metabase src/metabase/api_keys/models/api_key.clj (create-api-key-with-new-user!):
        type api-key, email api-key-user-<uuid>@api-key.invalid, first name = key name,
        last name "", groups All Users + the key's group.
        """
        user = self.add_user(
            email=f"api-key-user-{uuid.uuid4()}@api-key.invalid",
            first_name=key_name,
            last_name="",
            user_type="api-key",
        )
        self.memberships.add((group_id, user["id"]))
        self.api_keys[key] = user["id"]
        return user

    def is_superuser(self, user: Row) -> bool:
        """Membership in Administrators makes a superuser.

        metabase/metabase src/metabase/models/permissions_group_membership.clj: joining the
        admin group sets ``is_superuser``.
        """
        return (ADMIN_GROUP_ID, user["id"]) in self.memberships

    def group_ids(self, user_id: int) -> list[int]:
        """Ids of the groups ``user_id`` belongs to, ascending."""
        return sorted(g for g, u in self.memberships if u == user_id)

    def user_by_email(self, email: str) -> Row | None:
        """Case-insensitive user lookup by email."""
        for user in self.rows["users"].values():
            if user["email"].lower() == email.lower():
                return user
        return None

    @staticmethod
    def common_name(user: Row) -> str:
        """``first last`` (or the email when both are blank), like Metabase's ``common_name``."""
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
        return name or str(user["email"])

    def user_summary(self, user: Row | None) -> Row | None:
        """The short user object Metabase hydrates as ``creator`` / recipient ``user``."""
        if user is None:
            return None
        return {
            "id": user["id"],
            "email": user["email"],
            "first_name": user["first_name"],
            "last_name": user["last_name"],
            "common_name": self.common_name(user),
            "is_superuser": self.is_superuser(user),
            "is_qbnewb": user["is_qbnewb"],
            "last_login": user["last_login"],
            "date_joined": user["date_joined"],
            "locale": user["locale"],
            "tenant_id": None,
        }

    def require_superuser(self, user: Row) -> None:
        """403 unless ``user`` is an admin."""
        if not self.is_superuser(user):
            raise forbidden()

    # ---------------------------------------------------------------- collections
    def insert_collection(
        self,
        *,
        name: str,
        description: str | None,
        parent: Row | None,
        personal_owner_id: int | None = None,
        coll_type: str | None = None,
        authority_level: str | None = None,
        namespace: str | None = None,
    ) -> Row:
        """Create a collection under ``parent`` (``None`` = root)."""
        location = "/" if parent is None else f"{parent['location']}{parent['id']}/"
        return self.insert(
            "collections",
            {
                "name": name,
                "description": description,
                "archived": False,
                "archived_directly": None,
                "archive_operation_id": None,
                "location": location,
                "slug": slugify(name),
                "entity_id": nano_id(),
                "personal_owner_id": personal_owner_id,
                "namespace": namespace,
                "authority_level": authority_level,
                "type": coll_type,
                "created_at": now_iso(),
                "is_sample": False,
            },
        )

    def collection_writable(self, coll: Row | None, user: Row) -> bool:
        """Whether ``user`` may save into a collection: readable, and not a view-only user.

        A seed user with ``collection_access: view`` stands for a group granted *View* (not
        *Curate*) on collections in Metabase's permission graph.
        """
        if self.is_superuser(user):
            return True
        return self.collection_readable(coll, user) and user["id"] not in self.view_only

    def collection_readable(self, coll: Row | None, user: Row) -> bool:
        """Whether ``user`` may read a collection (root when ``None``).

        Simplified permission graph of a fresh instance: All Users curate the root and every
        non-personal collection; personal collections belong to their owner (and admins).
        """
        if coll is None or self.is_superuser(user):
            return True
        owner = self.personal_owner(coll)
        return owner is None or owner == user["id"]

    def personal_owner(self, coll: Row) -> int | None:
        """The owner id of the personal collection ``coll`` is (or lives) in."""
        if coll.get("personal_owner_id"):
            return int(coll["personal_owner_id"])
        for part in coll["location"].strip("/").split("/"):
            if part:
                ancestor = self.get("collections", int(part))
                if ancestor is not None and ancestor.get("personal_owner_id"):
                    return int(ancestor["personal_owner_id"])
        return None

    # ---------------------------------------------------------------- warehouses
    def warehouse(self, database_id: int) -> Warehouse:
        """The DuckDB warehouse of a database, built on first use.

        Databases seeded with ``tables: default`` share one process-wide warehouse (building the
        year of rows takes about a second); card SQL is expected to only read it.
        """
        if database_id not in self.warehouses:
            from metabase_guard.sandbox.warehouse import Warehouse

            tables = self.database_tables.get(database_id, {})
            if tables == "default":
                self.warehouses[database_id] = shared_default_warehouse()
            else:
                assert isinstance(tables, dict)
                self.warehouses[database_id] = Warehouse(tables)
        return self.warehouses[database_id]

    def record(self, delivery: Delivery) -> None:
        """Append a delivery to the outbox."""
        self.outbox.append(delivery)

    def email_configured(self) -> bool:
        """Whether an SMTP server is 'configured'."""
        return bool(self.settings.get("email-configured?"))


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def shared_default_warehouse() -> Warehouse:
    """One warehouse over today's ``default_tables()`` per process."""
    import datetime as dt

    from metabase_guard.sandbox.warehouse import default_warehouse

    today = dt.date.today()
    key = today.isoformat()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED.clear()
            _SHARED[key] = default_warehouse(today)
        warehouse: Warehouse = _SHARED[key]
        return warehouse


def slugify(name: str) -> str:
    """Metabase-style slug: lower case, non alphanumerics to ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
