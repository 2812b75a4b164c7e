"""``MetabaseClient``: one object per Metabase instance, with a manager per resource."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import Any

from metabase_guard.api.models import (
    DeliveryFacts,
    ServerVersion,
    SessionProperties,
    User,
    parse_version,
)
from metabase_guard.api.query import MBQL5_SINCE
from metabase_guard.api.resources import (
    CardsAPI,
    ChannelsAPI,
    CollectionsAPI,
    DashboardsManager,
    DatabasesAPI,
    GroupsAPI,
    NotificationsAPI,
    PulsesManager,
    ServerAPI,
    UsersAPI,
    slack_channel_ids,
    slack_channels,
    slack_status,
)
from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import ApiError, ConfigError, UnsupportedServerError

__all__ = [
    "NEWEST_TESTED",
    "NOTIFICATION_API_SINCE",
    "SLACK_CHANNEL_IDS_SINCE",
    "MetabaseClient",
    "connect",
]

NOTIFICATION_API_SINCE = 54
# The newest Metabase major docs/compatibility.md describes and the sandbox emulates.
NEWEST_TESTED = 63
# Slack channel ids (form_input objects, recipient details.channel_id) came with one change,
# metabase/metabase PR #72223; the first release is inferred, see docs/compatibility.md.
SLACK_CHANNEL_IDS_SINCE = 61


class MetabaseClient:
    """A typed client for one Metabase instance.

    Credentials come from the arguments, else from ``METABASE_URL``, ``METABASE_API_KEY``,
    ``METABASE_USERNAME`` and ``METABASE_PASSWORD``. An API key is preferred; with a username
    and password the client logs in once and logs in again, once, if the session expires.

    Example::

        with MetabaseClient("https://metabase.example.com", api_key=key) as mb:
            print(mb.version, [c.name for c in mb.cards.list()])
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
        retry: RetryPolicy | None = None,
        pool_size: int = 12,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        url = url or env.get("METABASE_URL")
        if not url:
            raise ConfigError("no Metabase URL: pass --url or set METABASE_URL")
        if not (api_key or username or password):
            api_key = env.get("METABASE_API_KEY") or None
            username = env.get("METABASE_USERNAME") or None
            password = env.get("METABASE_PASSWORD") or None
        self.transport = Transport(
            url,
            api_key=api_key,
            username=None if api_key else username,
            password=None if api_key else password,
            timeout=timeout,
            verify=verify,
            retry=retry,
            pool_size=pool_size,
        )
        self.server = ServerAPI(self.transport)
        self.users = UsersAPI(self.transport)
        self.groups = GroupsAPI(self.transport)
        self.databases = DatabasesAPI(self.transport)
        self.collections = CollectionsAPI(self.transport)
        self.cards = CardsAPI(self.transport)
        self.notifications = NotificationsAPI(self.transport)
        self.channels = ChannelsAPI(self.transport)
        self.dashboards = DashboardsManager(self.transport)
        self.pulses = PulsesManager(self.transport)

    def __repr__(self) -> str:
        return f"MetabaseClient({self.transport.base_url!r})"

    def __enter__(self) -> MetabaseClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    @property
    def url(self) -> str:
        """The instance's base URL."""
        return self.transport.base_url

    @cached_property
    def properties(self) -> SessionProperties:
        """Public settings, read once per client."""
        return self.server.properties()

    @cached_property
    def version(self) -> ServerVersion:
        """The instance's version, parsed defensively."""
        return parse_version(str(self.properties.version.get("tag") or ""))

    @cached_property
    def me(self) -> User:
        """The user the credentials act as (for an API key, its synthetic user)."""
        return self.users.current()

    @cached_property
    def has_notification_api(self) -> bool:
        """Whether alerts live in ``/api/notification`` (0.54+); probed for unknown versions."""
        known = self.version.at_least(NOTIFICATION_API_SINCE)
        return known if known is not None else self.server.has_notification_api()

    @property
    def uses_mbql5(self) -> bool:
        """Whether the instance stores queries as MBQL 5 (0.57+; assumed for unknown tags)."""
        known = self.version.at_least(MBQL5_SINCE)
        return True if known is None else known

    def compatibility_warnings(self) -> list[str]:
        """At most one sentence: the instance is newer than metabase-guard was tested on.

        A newer Metabase is never refused; the plan is still computed and shown.
        """
        known = self.version.at_least(NEWEST_TESTED + 1)
        if not known:
            return []
        return [
            f"Metabase {self.version} is newer than the newest version metabase-guard was "
            f"tested on (0.{NEWEST_TESTED}); review this plan closely, and see "
            "docs/compatibility.md"
        ]

    def slack_ids(self, form_input: Mapping[str, Any]) -> dict[str, str]:
        """Slack name -> channel id to send as ``details.channel_id``; empty where unsafe.

        Before the change the recipient ``details`` schema is a closed ``{value}`` map
        (src/metabase/notification/models.clj) and a ``channel_id`` there is a 400, so ids are
        used only when the instance lists them and its version is not known to predate them.
        """
        if self.version.at_least(SLACK_CHANNEL_IDS_SINCE) is False:
            return {}
        return slack_channel_ids(form_input)

    def slack_configured(self, form_input: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Whether Slack is set up, and a note when ``form_input`` could not say.

        Metabase leaves ``slack`` out of ``form_input`` for sandboxed or impersonated users
        (metabase/metabase src/metabase/pulse/api/pulse.clj). Then, as Metabase's CLI does,
        read the ``slack-token-valid?`` setting; the note says which credential hides what.
        """
        status = slack_status(form_input)
        if status is not None:
            return status, None
        # Metabase's CLI reads GET /api/setting/slack-token-valid%3F (its skill-data/
        # notification/SKILL.md); the setting is :visibility :settings-manager (metabase/
        # metabase src/metabase/channel/settings.clj), so other users get a 403. Session
        # properties are read first in case a build publishes it there.
        valid = (self.properties.model_extra or {}).get("slack-token-valid?")
        if valid is None:
            try:
                valid = self.server.setting("slack-token-valid?")
            except ApiError:
                valid = None
        who = self.me.email if not self.me.is_api_key else "this API key"
        if valid is None:
            return False, (
                f"Metabase hides Slack from {who} (a sandboxed or impersonated user), and the "
                "slack-token-valid? setting is not readable either; Slack channels cannot be "
                "checked (use an admin API key)"
            )
        return bool(valid), (
            f"Metabase hides the Slack channel list from {who} (a sandboxed or impersonated "
            "user); Slack set up is taken from the slack-token-valid? setting and channel "
            "names cannot be checked (use an admin API key)"
        )

    def require_notification_api(self) -> None:
        """Raise UnsupportedServerError, saying what to do, on an instance before 0.54."""
        if not self.has_notification_api:
            raise UnsupportedServerError(
                f"Metabase {self.version} keeps alerts in the legacy /api/alert API; "
                "metabase-guard manages alerts through /api/notification, which Metabase "
                "added in 0.54. Upgrade Metabase (0.58 or newer is recommended); nothing was "
                "read or written."
            )

    def delivery(self) -> DeliveryFacts:
        """Whether e-mail and Slack are set up, the Slack channels and the webhook channels."""
        try:
            form = self.server.form_input()
        except ApiError:
            form = {}
        _, channels = slack_channels(form)
        slack_ok, _ = self.slack_configured(form)
        email_ok = self.properties.email_configured or bool(
            ((form.get("channels") or {}).get("email") or {}).get("configured")
        )
        return DeliveryFacts(
            email_configured=email_ok,
            slack_configured=slack_ok,
            slack_channels=channels,
            webhooks=tuple(self.channels.list()),
        )

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.transport.request_count


def connect(
    url: str | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
    verify: bool | str = True,
    concurrency: int = 12,
    retry: RetryPolicy | None = None,
) -> MetabaseClient:
    """A client for one instance (arguments, else the ``METABASE_*`` environment variables)."""
    return MetabaseClient(
        url,
        api_key=api_key,
        username=username,
        password=password,
        timeout=timeout,
        verify=verify,
        pool_size=concurrency,
        retry=retry,
    )
