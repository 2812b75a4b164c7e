"""Pydantic models of what Metabase sends back.

Wire models are tolerant: they keep fields they do not declare (``extra="allow"``), because
Metabase's API is not versioned and adds fields freely; a read-merge-write then sends back
everything the server gave. Only fields metabase-guard uses are declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertSpec",
    "Card",
    "Channel",
    "Collection",
    "Dashboard",
    "Dashcard",
    "Database",
    "DeliveryFacts",
    "Handler",
    "HandlerSpec",
    "Notification",
    "NotificationPayload",
    "PermissionGroup",
    "Pulse",
    "PulseChannel",
    "QueryOutcome",
    "Recipient",
    "RecipientSpec",
    "ServerVersion",
    "SessionProperties",
    "Subscription",
    "User",
    "parse_version",
]


class WireModel(BaseModel):
    """Base of wire models: unknown fields kept, names as Metabase spells them."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The object as Metabase spelled it, unknown fields included."""
        return self.model_dump(by_alias=True, mode="json")


class User(WireModel):
    """A Metabase user (``GET /api/user``, ``GET /api/user/current``)."""

    id: int
    email: str
    first_name: str | None = None
    last_name: str | None = None
    common_name: str | None = None
    is_superuser: bool = False
    is_active: bool = True

    @property
    def is_api_key(self) -> bool:
        """True for the synthetic user an API key acts as (``…@api-key.invalid``)."""
        return self.email.lower().endswith("@api-key.invalid")

    @property
    def display_name(self) -> str:
        """The name people see in Metabase."""
        if self.common_name:
            return self.common_name
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.email


class PermissionGroup(WireModel):
    """A permission group (``GET /api/permissions/group``)."""

    id: int
    name: str
    member_count: int | None = None
    magic_group_type: str | None = None


class Database(WireModel):
    """A connected database (``GET /api/database``)."""

    id: int
    name: str
    engine: str | None = None
    is_sample: bool = False


class Collection(WireModel):
    """A collection (``GET /api/collection``); ``id`` is ``"root"`` for the virtual root."""

    id: int | str
    name: str
    description: str | None = None
    archived: bool = False
    location: str | None = None
    entity_id: str | None = None
    personal_owner_id: int | None = None
    type: str | None = None
    namespace: str | None = None

    @property
    def parent_id(self) -> int | None:
        """The parent's id, read from ``location`` (``/4/7/`` → 7); None at top level."""
        parts = [p for p in (self.location or "/").split("/") if p]
        return int(parts[-1]) if parts else None

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the top level down to the parent."""
        return [int(p) for p in (self.location or "/").split("/") if p]


class Card(WireModel):
    """A saved question (``GET /api/card``)."""

    id: int
    name: str
    description: str | None = None
    display: str = "table"
    type: str | None = "question"
    dataset_query: dict[str, Any] = Field(default_factory=dict)
    visualization_settings: dict[str, Any] = Field(default_factory=dict)
    collection_id: int | None = None
    archived: bool = False
    entity_id: str | None = None
    creator_id: int | None = None
    database_id: int | None = None
    updated_at: str | None = None


class Dashcard(WireModel):
    """One card on a dashboard grid (``dashcards`` of ``GET /api/dashboard/:id``).

    ``card_id`` is null for virtual cards (text, heading); their text is in
    ``visualization_settings``. ``series`` arrives as the hydrated cards.
    """

    id: int
    card_id: int | None = None
    dashboard_tab_id: int | None = None
    row: int = 0
    col: int = 0
    size_x: int = 1
    size_y: int = 1
    visualization_settings: dict[str, Any] = Field(default_factory=dict)
    series: list[dict[str, Any]] = Field(default_factory=list)
    parameter_mappings: list[dict[str, Any]] = Field(default_factory=list)


class Dashboard(WireModel):
    """A dashboard; list rows (``GET /api/dashboard``) carry no ``dashcards`` or ``tabs``."""

    id: int
    name: str
    description: str | None = None
    collection_id: int | None = None
    archived: bool = False
    creator_id: int | None = None
    width: str = "fixed"
    entity_id: str | None = None
    dashcards: list[Dashcard] = Field(default_factory=list)
    tabs: list[dict[str, Any]] = Field(default_factory=list)


class PulseChannel(WireModel):
    """How and when a dashboard subscription delivers.

    A pulse may have several channels, of one type too: Metabase row-diffs the ``channels`` a
    write sends by ``id`` (src/metabase/pulse/models/pulse.clj
    ``update-notification-channels!``), so a channel sent without an id is created and one of
    the pulse's that is not sent is deleted.
    """

    channel_type: str
    enabled: bool = True
    schedule_type: str | None = None
    schedule_hour: int | None = None
    schedule_day: str | None = None
    schedule_frame: str | None = None
    recipients: list[dict[str, Any]] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class Pulse(WireModel):
    """A dashboard subscription (``/api/pulse``); Metabase rewrites ``name`` from the dashboard."""

    id: int
    name: str | None = None
    dashboard_id: int | None = None
    creator_id: int | None = None
    archived: bool = False
    skip_if_empty: bool = False
    cards: list[dict[str, Any]] = Field(default_factory=list)
    channels: list[PulseChannel] = Field(default_factory=list)


class NotificationPayload(WireModel):
    """The card part of a card alert."""

    id: int | None = None
    card_id: int
    send_condition: str = "has_result"
    send_once: bool = False


class Subscription(WireModel):
    """When an alert runs: a Quartz cron."""

    id: int | None = None
    type: str = "notification-subscription/cron"
    cron_schedule: str | None = None
    ui_display_type: str | None = None


class Recipient(WireModel):
    """Who a handler delivers to: a user, a group or a raw value (an address, a channel)."""

    id: int | None = None
    type: str
    user_id: int | None = None
    permissions_group_id: int | None = None
    details: dict[str, Any] | None = None


class Handler(WireModel):
    """Where an alert delivers: e-mail, Slack or a webhook channel."""

    id: int | None = None
    channel_type: str
    channel_id: int | None = None
    template_id: int | None = None
    active: bool | None = True
    recipients: list[Recipient] = Field(default_factory=list)


class Notification(WireModel):
    """A card alert (``/api/notification``, Metabase 0.54+)."""

    id: int
    payload_type: str
    active: bool = True
    creator_id: int | None = None
    payload: NotificationPayload | None = None
    subscriptions: list[Subscription] = Field(default_factory=list)
    handlers: list[Handler] = Field(default_factory=list)


class Channel(WireModel):
    """A webhook channel (``/api/channel``, Metabase 0.51+)."""

    id: int
    name: str
    type: str = "channel/http"
    active: bool = True


class SessionProperties(WireModel):
    """The public settings (``GET /api/session/properties``) metabase-guard reads."""

    version: dict[str, Any] = Field(default_factory=dict)
    email_configured: bool = Field(default=False, alias="email-configured?")
    report_timezone_long: str | None = Field(default=None, alias="report-timezone-long")
    report_timezone_short: str | None = Field(default=None, alias="report-timezone-short")
    token_features: dict[str, Any] = Field(default_factory=dict, alias="token-features")


@dataclass(frozen=True)
class ServerVersion:
    """A parsed version tag: ``v0.61.2`` (open source) or ``v1.61.2`` (Enterprise build).

    ``major`` is the second number (61); None when the tag could not be parsed (dev builds).
    """

    tag: str
    edition: str
    major: int | None
    minor: int | None = None

    def __str__(self) -> str:
        return self.tag or "unknown"

    def at_least(self, major: int) -> bool | None:
        """Whether this is ``major`` or newer; None when the version is unknown."""
        return None if self.major is None else self.major >= major


# A release tag: v0.61.2, v1.58.15, v0.46.6.1 (hotfix), v0.63.0-beta / -RC2 (pre-releases).
# Dev builds (v0.62.0-SNAPSHOT, vLOCAL_DEV, vUNKNOWN) report no reliable major: unknown.
_TAG = re.compile(r"^v?([01])\.(\d+)(?:\.(\d+))?(?:\.\d+)?(?:-(?:beta|rc)\d*)?$", re.IGNORECASE)


def parse_version(tag: str | None) -> ServerVersion:
    """Parse a Metabase version tag defensively; dev tags (``-SNAPSHOT``...) give major None."""
    text = (tag or "").strip()
    match = _TAG.match(text)
    if not match:
        return ServerVersion(tag=text, edition="unknown", major=None)
    edition = "enterprise" if match.group(1) == "1" else "oss"
    minor = int(match.group(3)) if match.group(3) else None
    return ServerVersion(tag=text, edition=edition, major=int(match.group(2)), minor=minor)


@dataclass(frozen=True)
class DeliveryFacts:
    """What the instance can deliver: e-mail and Slack set up, known Slack channels, webhooks."""

    email_configured: bool
    slack_configured: bool
    slack_channels: tuple[str, ...]
    webhooks: tuple[Channel, ...]


@dataclass(frozen=True)
class QueryOutcome:
    """The result of running a question: column names and rows, or the error."""

    columns: list[str]
    rows: list[list[Any]]
    error: str | None = None
    base_types: list[str | None] | None = None


# -- what metabase-guard writes -------------------------------------------------------------


@dataclass(frozen=True)
class RecipientSpec:
    """A recipient to write: a user id, a group id, or a raw value (address, Slack channel)."""

    type: str
    user_id: int | None = None
    group_id: int | None = None
    value: str | None = None
    # The Slack channel id, sent as details.channel_id where the instance lists ids, so the
    # alert follows a channel rename like UI-made ones. Not compared: plans compare by name.
    slack_id: str | None = field(default=None, compare=False)

    def wire(self) -> dict[str, Any]:
        """The recipient body Metabase's schema accepts for this ``type``."""
        body: dict[str, Any] = {"type": self.type}
        if self.type == "notification-recipient/user":
            body["user_id"] = self.user_id
        elif self.type == "notification-recipient/group":
            body["permissions_group_id"] = self.group_id
        else:
            body["details"] = {"value": self.value}
            if self.slack_id is not None:
                body["details"]["channel_id"] = self.slack_id
        return body

    def matches(self, live: Recipient) -> bool:
        """Whether a stored recipient is this one (to keep its id on update)."""
        if live.type != self.type:
            return False
        if self.type == "notification-recipient/user":
            return live.user_id == self.user_id
        if self.type == "notification-recipient/group":
            return live.permissions_group_id == self.group_id
        return (live.details or {}).get("value") == self.value


@dataclass(frozen=True)
class HandlerSpec:
    """A handler to write: channel type, webhook channel id, recipients."""

    channel_type: str
    channel_id: int | None = None
    recipients: tuple[RecipientSpec, ...] = ()


@dataclass(frozen=True)
class AlertSpec:
    """A whole card alert as metabase-guard writes it."""

    card_id: int
    send_condition: str
    send_once: bool
    cron: str
    handlers: tuple[HandlerSpec, ...]
    active: bool = True
