"""The typed Metabase REST client."""

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import (
    AlertSpec,
    Card,
    Channel,
    Collection,
    Database,
    DeliveryFacts,
    HandlerSpec,
    Notification,
    PermissionGroup,
    RecipientSpec,
    ServerVersion,
    User,
    parse_version,
)
from metabase_guard.api.query import NativeQuery, read_native, write_native
from metabase_guard.api.transport import RetryPolicy, Transport

__all__ = [
    "AlertSpec",
    "Card",
    "Channel",
    "Collection",
    "Database",
    "DeliveryFacts",
    "HandlerSpec",
    "MetabaseClient",
    "NativeQuery",
    "Notification",
    "PermissionGroup",
    "RecipientSpec",
    "RetryPolicy",
    "ServerVersion",
    "Transport",
    "User",
    "parse_version",
    "read_native",
    "write_native",
]
