"""Seeds: the initial content of a sandbox (users, groups, databases, channels, settings).

A seed is a mapping (or a YAML file holding one)::

    version: v0.61.2              # optional, overrides Sandbox(version_tag=...)
    email_configured: true        # default true
    slack_channels: ["#general", "#alerts"]   # default these two; [] = Slack not configured
                                  # an entry may be {name: "#x", id: C0123} to fix its id
    slack_list: objects           # form_input's Slack list shape: strings | objects
                                  # (default by version, see validation.SLACK_OBJECT_LIST_SINCE)
    report_timezone: Europe/Berlin
    allowed_domains: [example.com]            # subscription-allowed-domains
    users:
      - {email: pm@example.com, first_name: Priya, last_name: PM, is_superuser: false,
         password: secret, api_key: mb_pm_key, active: true,
         sandboxed: false}       # true: data-sandboxed/impersonated, form_input hides Slack
    groups:
      - {name: Data team, members: [pm@example.com]}
    databases:
      - {name: Warehouse, engine: postgres, tables: default}   # or {table: {columns, rows}}
    webhooks:
      - {name: pagerduty, url: https://events.example/hook}

Whatever the seed says, user 1 is the admin ``admin@example.com`` (password ``admin``) and
user 2 the synthetic user of the admin API key. A seed user's ``api_key`` authenticates as that
user directly (a sandbox convenience: real Metabase keys have their own synthetic user).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from metabase_guard.sandbox.core import nano_id, now_iso
from metabase_guard.sandbox.store import ADMIN_GROUP_ID, Store

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin"
API_KEY_NAME = "metabase-guard sandbox"
DEMO_SEED = Path(__file__).with_name("demo_seed.yaml")
DEFAULT_SLACK_CHANNELS = ("#general", "#alerts")
SEED_KEYS = {
    "version",
    "email_configured",
    "slack_channels",
    "slack_list",
    "report_timezone",
    "allowed_domains",
    "users",
    "groups",
    "databases",
    "webhooks",
    "admin_password",
}
USER_KEYS = {"email", "first_name", "last_name", "is_superuser", "password", "api_key", "active",
             "collection_access", "sandboxed"}


def slack_id(name: str) -> str:
    """A stable Slack-looking id for a channel (``C...``) or user (``U...``) name."""
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    return ("U" if name.startswith("@") else "C") + digest[:10]


def load_seed(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Read and check a seed (mapping or YAML file); ``ValueError`` names the bad field."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"seed file {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValueError(f"seed file {where}: invalid YAML: {problem}") from exc
        if data is None:
            data = {}
    if not isinstance(data, dict):
        raise ValueError("seed: must be a mapping")
    _check(data)
    return data


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"seed {where}: {message}")


def _check_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise _fail(key, "must be a list")
    return value


def _check(data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - SEED_KEYS)
    if unknown:
        raise _fail(unknown[0], f"unknown key (expected one of {', '.join(sorted(SEED_KEYS))})")
    if "version" in data and not isinstance(data["version"], str):
        raise _fail("version", "must be a string like v0.61.2")
    if "email_configured" in data and not isinstance(data["email_configured"], bool):
        raise _fail("email_configured", "must be true or false")
    for i, channel in enumerate(_check_list(data, "slack_channels")):
        if isinstance(channel, dict):
            if set(channel) != {"name", "id"} or not all(
                isinstance(v, str) and v for v in channel.values()
            ):
                raise _fail(f"slack_channels[{i}]", "must be {name: '#alerts', id: C0123}")
        elif not isinstance(channel, str) or not channel:
            raise _fail(f"slack_channels[{i}]", "must be a channel name like #alerts")
    if data.get("slack_list") not in (None, "strings", "objects"):
        raise _fail("slack_list", "must be strings or objects")
    if data.get("report_timezone") is not None and not isinstance(data["report_timezone"], str):
        raise _fail("report_timezone", "must be a zone id like Europe/Berlin")
    domains = data.get("allowed_domains")
    if domains is not None and not isinstance(domains, (str, list)):
        raise _fail("allowed_domains", "must be a list of domains or a comma-separated string")
    emails = {ADMIN_EMAIL}
    for i, user in enumerate(_check_list(data, "users")):
        where = f"users[{i}]"
        if not isinstance(user, dict):
            raise _fail(where, "must be a mapping")
        extra = sorted(set(user) - USER_KEYS)
        if extra:
            raise _fail(f"{where}.{extra[0]}", "unknown key")
        email = user.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise _fail(f"{where}.email", "required, an e-mail address")
        if email.lower() in emails:
            raise _fail(f"{where}.email", f"duplicate user {email}")
        emails.add(email.lower())
        for key in ("first_name", "last_name", "password", "api_key"):
            if user.get(key) is not None and not isinstance(user[key], str):
                raise _fail(f"{where}.{key}", "must be a string")
        for key in ("is_superuser", "active"):
            if key in user and not isinstance(user[key], bool):
                raise _fail(f"{where}.{key}", "must be true or false")
        if user.get("collection_access", "curate") not in ("curate", "view"):
            raise _fail(f"{where}.collection_access", "must be curate or view")
    for i, group in enumerate(_check_list(data, "groups")):
        where = f"groups[{i}]"
        if not isinstance(group, dict) or not isinstance(group.get("name"), str):
            raise _fail(f"{where}.name", "required, a string")
        for j, member in enumerate(group.get("members") or []):
            if not isinstance(member, str) or member.lower() not in emails:
                raise _fail(f"{where}.members[{j}]", f"unknown user {member!r}")
    for i, db in enumerate(_check_list(data, "databases")):
        where = f"databases[{i}]"
        if not isinstance(db, dict) or not isinstance(db.get("name"), str):
            raise _fail(f"{where}.name", "required, a string")
        if not isinstance(db.get("engine", "postgres"), str):
            raise _fail(f"{where}.engine", "must be a string")
        tables = db.get("tables")
        if tables is not None and tables != "default":
            if not isinstance(tables, dict):
                raise _fail(f"{where}.tables", "must be 'default' or a mapping of tables")
            for name, table in tables.items():
                if (
                    not isinstance(table, dict)
                    or not isinstance(table.get("columns"), list)
                    or not isinstance(table.get("rows", []), list)
                ):
                    raise _fail(f"{where}.tables.{name}", "needs columns (list) and rows (list)")
    for i, hook in enumerate(_check_list(data, "webhooks")):
        where = f"webhooks[{i}]"
        if not isinstance(hook, dict) or not isinstance(hook.get("name"), str):
            raise _fail(f"{where}.name", "required, a string")
        if not isinstance(hook.get("url"), str):
            raise _fail(f"{where}.url", "required, a URL")


def _tables(spec: Any) -> dict[str, dict[str, Any]] | str:
    return "default" if spec == "default" else dict(spec or {})


#: The tables of a database seeded with ``tables: default`` (what ``default_tables`` of
#: sandbox/warehouse.py builds, at the first query only: naming them needs no row).
DEFAULT_TABLE_NAMES = ("model_runs", "recommendations")


def apply_seed(
    store: Store, seed: Mapping[str, Any], *, api_key: str, report_timezone: str | None
) -> None:
    """Fill an empty store from a checked seed (ids sequential like a fresh instance)."""
    store.add_group("All Users", "all-internal-users")
    store.add_group("Administrators", "admin")
    trash = store.insert_collection(name="Trash", description=None, parent=None, coll_type="trash")
    store.trash_id = trash["id"]
    store.add_user(
        email=ADMIN_EMAIL,
        first_name="Ada",
        last_name="Admin",
        is_superuser=True,
        password=str(seed.get("admin_password") or ADMIN_PASSWORD),
    )
    store.add_api_key_user(api_key, API_KEY_NAME, ADMIN_GROUP_ID)
    for user in seed.get("users") or []:
        row = store.add_user(
            email=user["email"],
            first_name=user.get("first_name"),
            last_name=user.get("last_name"),
            is_superuser=bool(user.get("is_superuser")),
            active=user.get("active", True),
            password=user.get("password"),
        )
        if user.get("api_key"):
            store.api_keys[user["api_key"]] = row["id"]
        if user.get("collection_access", "curate") == "view":
            store.view_only.add(row["id"])
        if user.get("sandboxed"):
            store.sandboxed.add(row["id"])
    for group in seed.get("groups") or []:
        row = store.add_group(group["name"])
        for email in group.get("members") or []:
            member = store.user_by_email(email)
            assert member is not None
            store.memberships.add((row["id"], member["id"]))
    databases = seed.get("databases")
    if databases is None:
        databases = [
            {"name": "Sample Database", "engine": "h2", "tables": "default", "is_sample": True}
        ]
    table_id = 1
    for db in databases:
        stamp = now_iso()
        row = store.insert(
            "databases",
            {
                "name": db["name"],
                "engine": db.get("engine", "postgres"),
                "is_sample": bool(db.get("is_sample", False)),
                "is_saved_questions": False,
                "initial_sync_status": "complete",
                "description": None,
                "timezone": "UTC",
                "native_permissions": "write",
                "is_full_sync": True,
                "is_on_demand": False,
                "auto_run_queries": True,
                "cache_ttl": None,
                "is_audit": False,
                "features": ["native-parameters", "basic-aggregations", "nested-queries"],
                "details": {},
                "entity_id": nano_id(),
                "created_at": stamp,
                "updated_at": stamp,
                "settings": None,
                "router_database_id": None,
            },
        )
        tables = _tables(db.get("tables"))
        store.database_tables[row["id"]] = tables
        names = []
        for name in sorted(DEFAULT_TABLE_NAMES if tables == "default" else tables):
            names.append((table_id, name))
            table_id += 1
        row["_tables"] = names
    for hook in seed.get("webhooks") or []:
        stamp = now_iso()
        store.insert(
            "channels",
            {
                "name": hook["name"],
                "description": None,
                "type": "channel/http",
                "details": {"url": hook["url"], "auth-method": "none"},
                "active": True,
                "created_at": stamp,
                "updated_at": stamp,
            },
        )
    store.settings["email-configured?"] = bool(seed.get("email_configured", True))
    store.slack_channels = []
    for entry in seed.get("slack_channels", DEFAULT_SLACK_CHANNELS):
        name = entry["name"] if isinstance(entry, dict) else entry
        store.slack_channels.append(name)
        store.slack_ids[name] = entry["id"] if isinstance(entry, dict) else slack_id(name)
    store.slack_list = seed.get("slack_list")
    store.settings["slack-token-valid?"] = bool(store.slack_channels)
    store.settings["report-timezone"] = seed.get("report_timezone", report_timezone)
    domains = seed.get("allowed_domains")
    if isinstance(domains, list):
        domains = ",".join(str(d) for d in domains)
    store.settings["subscription-allowed-domains"] = domains or None
    store.settings["site-url"] = "http://localhost:3000"
    store.settings["site-name"] = "Metabase Sandbox"
