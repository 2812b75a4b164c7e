"""Every exception metabase-guard raises, grouped by cause.

::

    MetabaseGuardError
    ├── ConfigError                 bad config file, flags or environment
    ├── DeclarationError            bad declarations: a list of located problems
    ├── ResolveError                a name in the declarations matches nothing live
    ├── UnsupportedServerError      the instance is too old for what was asked
    ├── ApiError                    talking to Metabase failed
    │   ├── ApiConnectionError      no answer: refused, reset, DNS, TLS
    │   │   └── ApiTimeoutError     no answer in time
    │   └── ApiStatusError          an answer with an error status
    │       ├── AuthenticationError     401
    │       ├── PermissionDeniedError   403
    │       ├── NotFoundError           404 (an object or, see ``route_missing``, a route)
    │       ├── RequestRejectedError    400, 409, 422 with Metabase's per-field messages
    │       ├── RateLimitError          429
    │       └── ServerError             5xx
    ├── UnsafePlanError             a plan over the change thresholds (needs ``--force``)
    ├── StalePlanError              a saved plan no longer matches the live instance
    └── ApplyError                  an apply stopped part way; carries its report

Messages never contain credentials: request headers are never copied into an exception,
and :func:`redact` is applied to every body excerpt kept here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiStatusError",
    "ApiTimeoutError",
    "ApplyError",
    "AuthenticationError",
    "ConfigError",
    "DeclarationError",
    "MetabaseGuardError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "RateLimitError",
    "RequestRejectedError",
    "ResolveError",
    "ServerError",
    "StalePlanError",
    "UnsafePlanError",
    "UnsupportedServerError",
    "redact",
    "register_secret",
]

_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a credential so that :func:`redact` can blank it out of any text.

    The client registers its API key, password and session token as soon as it learns them.
    Every form the value can take in a message is registered: as given, without surrounding
    whitespace (a CI secret pasted with a trailing newline), and escaped the way ``repr()``
    and JSON write it (requests quotes a header value it refuses, newline escaped).
    """
    if not value:
        return
    for form in {value, value.strip()}:
        for shown in (form, repr(form)[1:-1], json.dumps(form)[1:-1]):
            if len(shown) >= 4:
                _SECRETS.add(shown)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


class MetabaseGuardError(Exception):
    """Base class of every error metabase-guard raises on purpose."""


class ConfigError(MetabaseGuardError):
    """The configuration (file, flags, environment) is incomplete or contradictory."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a declaration file."""

    file: str
    line: int | None
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class DeclarationError(MetabaseGuardError):
    """One or more declaration files are invalid; ``problems`` lists them all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the declarations"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class ResolveError(MetabaseGuardError):
    """A name used in the declarations (database, user, channel...) does not exist live.

    ``problems`` locates each one; the message lists what does exist.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} name{'s' if count != 1 else ''} could not be resolved on the instance"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems))


class UnsupportedServerError(MetabaseGuardError):
    """The Metabase instance lacks an API metabase-guard needs (for example before 0.54)."""


class ApiError(MetabaseGuardError):
    """Talking to Metabase failed."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        where = f" ({method} {url})" if method else ""
        super().__init__(redact(message) + where)


class ApiConnectionError(ApiError):
    """No HTTP answer came back: connection refused or reset, DNS or TLS failure."""


class ApiTimeoutError(ApiConnectionError):
    """No HTTP answer came back within the timeout."""


class ApiStatusError(ApiError):
    """Metabase answered with an error status.

    ``body`` is the decoded JSON body when there was one, else the text (both redacted and cut).
    """

    status: int

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        body: Any = None,
    ) -> None:
        self.status = status
        self.body = body
        super().__init__(message, method=method, url=url)


class AuthenticationError(ApiStatusError):
    """401: no, wrong or expired credentials."""


class PermissionDeniedError(ApiStatusError):
    """403: the credentials are valid but may not do this."""


class NotFoundError(ApiStatusError):
    """404: the object does not exist, or (``route_missing``) the endpoint does not."""

    @property
    def route_missing(self) -> bool:
        """True when Metabase said the endpoint itself does not exist (an older version)."""
        return isinstance(self.body, str) and "API endpoint does not exist" in self.body


class RequestRejectedError(ApiStatusError):
    """400/409/422: Metabase rejected the request body or parameters.

    ``field_errors`` maps a dotted field path to Metabase's messages for it, merged from the
    ``errors`` and ``specific-errors`` parts of its answer.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        body: Any = None,
        field_errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.field_errors = dict(field_errors or {})
        super().__init__(message, status=status, method=method, url=url, body=body)


class RateLimitError(ApiStatusError):
    """429: too many requests; ``retry_after`` is the server's wait in seconds, if given."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        method: str = "",
        url: str = "",
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, method=method, url=url, body=body)


class ServerError(ApiStatusError):
    """5xx: Metabase failed, is starting, or a proxy in front of it did."""


class UnsafePlanError(MetabaseGuardError):
    """The plan changes more than the safety thresholds allow; rerun with ``--force``."""


class StalePlanError(MetabaseGuardError):
    """A saved plan no longer matches what Metabase holds now; plan again."""


class ApplyError(MetabaseGuardError):
    """An apply stopped part way. ``report`` says what was done, failed and not attempted."""

    def __init__(self, message: str, report: Any) -> None:
        self.report = report
        super().__init__(message)
