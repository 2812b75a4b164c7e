"""The typed Metabase REST client."""

from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.models import (
    AlertSpec,
    Card,
    Channel,
    Collection,
    Dashboard,
    Dashcard,
    Database,
    DeliveryFacts,
    HandlerSpec,
    Notification,
    PermissionGroup,
    Pulse,
    PulseChannel,
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
    "Dashboard",
    "Dashcard",
    "Database",
    "DeliveryFacts",
    "HandlerSpec",
    "MetabaseClient",
    "NativeQuery",
    "Notification",
    "PermissionGroup",
    "Pulse",
    "PulseChannel",
    "RecipientSpec",
    "RetryPolicy",
    "ServerVersion",
    "Transport",
    "User",
    "parse_version",
    "read_native",
    "write_native",
]
