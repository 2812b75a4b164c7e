"""``MetabaseClient``: one object per Metabase instance, with a manager per resource."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from types import TracebackType
from typing import Any

from metabase_guard.api.models import (
    NEWEST_TESTED_MAJOR,
    DeliveryFacts,
    ServerVersion,
    SessionProperties,
    SlackDirectory,
    User,
    parse_version,
)
from metabase_guard.api.query import MBQL5_SINCE
from metabase_guard.api.resources import (
    CardsAPI,
    ChannelsAPI,
    CollectionsAPI,
    DatabasesAPI,
    GroupsAPI,
    NotificationsAPI,
    ServerAPI,
    UsersAPI,
    slack_directory,
)
from metabase_guard.api.transport import RetryPolicy, Transport
from metabase_guard.errors import ApiError, ConfigError, UnsupportedServerError

__all__ = ["NOTIFICATION_API_SINCE", "MetabaseClient"]

NOTIFICATION_API_SINCE = 54


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
        pool_size: int = 8,
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

    def require_notification_api(self) -> None:
        """Raise UnsupportedServerError, saying what to do, on an instance before 0.54."""
        if not self.has_notification_api:
            raise UnsupportedServerError(
                f"Metabase {self.version} keeps alerts in the legacy /api/alert API; "
                "metabase-guard manages alerts through /api/notification, which Metabase "
                "added in 0.54. Upgrade Metabase (0.58 or newer is recommended); nothing was "
                "read or written."
            )

    @property
    def version_warning(self) -> str | None:
        """A sentence when the instance is newer than any version metabase-guard was tested on."""
        if not self.version.newer_than_tested:
            return None
        return (
            f"Metabase {self.version} is newer than 0.{NEWEST_TESTED_MAJOR}, the newest version "
            "this metabase-guard was tested against; it carries on, but check the plan "
            "(docs/compatibility.md)"
        )

    def slack(self, form: dict[str, Any] | None = None) -> SlackDirectory:
        """Slack as the credentials can see it, from ``form_input`` (read here unless given).

        Metabase leaves Slack out of ``form_input`` for sandboxed or impersonated users; then,
        as Metabase's own CLI does (metabase/metabase-cli skill-data/notification/SKILL.md),
        the ``slack-token-valid?`` setting tells whether Slack is set up (it needs a settings
        manager, so it may be hidden too), and ``limit`` says which credential keeps the
        channel list from view.
        """
        if form is None:
            try:
                form = self.server.form_input()
            except ApiError:
                form = {}
        directory = slack_directory(form)
        if directory.configured is not None:
            return directory
        who = "an API key" if self.me.is_api_key else self.me.email
        try:
            valid = self.server.setting("slack-token-valid?")
        except ApiError:
            return SlackDirectory(
                configured=None,
                limit=(f"{who} sees no Slack in /api/pulse/form_input (a sandboxed or "
                       "impersonated user) and may not read the slack-token-valid? setting, "
                       "so whether Slack is set up and its channel names cannot be checked; "
                       "use an admin API key"),
            )
        return SlackDirectory(
            configured=bool(valid),
            limit=(f"{who} sees no Slack channel list in /api/pulse/form_input (a sandboxed or "
                   "impersonated user); Slack is set up according to slack-token-valid?, but "
                   "channel names cannot be checked; use an admin API key"),
        )

    def delivery(self) -> DeliveryFacts:
        """Whether e-mail and Slack are set up, the Slack channels and the webhook channels."""
        try:
            form = self.server.form_input()
        except ApiError:
            form = {}
        slack = self.slack(form)
        email_ok = self.properties.email_configured or bool(
            ((form.get("channels") or {}).get("email") or {}).get("configured")
        )
        return DeliveryFacts(
            email_configured=email_ok,
            slack_configured=slack.configured is not False,
            slack_channels=slack.names,
            webhooks=tuple(self.channels.list()),
            slack_ids=dict(slack.ids),
            slack_limit=slack.limit,
        )

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.transport.request_count
