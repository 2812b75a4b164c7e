"""The one place that talks HTTP to Metabase.

Everything here is about the wire: authentication headers, the session login, timeouts, TLS,
the retry policy and turning error answers into the exceptions of :mod:`metabase_guard.errors`.
No ``requests`` exception ever leaves this module.

Retry policy (tenacity): connection errors, 429 (waiting what ``Retry-After`` asks, capped),
502, 503 and 504 are retried with capped exponential backoff and jitter, a bounded number of
times, for GET, PUT and DELETE. A POST is retried only when it surely never reached Metabase: the
connection could not be opened, or the answer was 429 (rate limited before any work). A POST
whose answer was lost after sending, or a 5xx (which a proxy may send after Metabase got the
request), is never replayed here, because Metabase would create the object twice; apply looks
for the object first (``reconcile.apply.create_verified``).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from metabase_guard._version import __version__
from metabase_guard.errors import (
    ApiConnectionError,
    ApiError,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestRejectedError,
    ServerError,
    redact,
    register_secret,
)

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "Transport"]

log = logging.getLogger("metabase_guard.http")

_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# 429 is refused before any work; a 503 may come from a proxy after Metabase got the request
_POST_SAFE_STATUSES = frozenset({429})
_EXCERPT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff bounds and the longest total wait."""

    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 8.0
    max_retry_after: float = 60.0
    max_total: float = 120.0


#: The policy of a transport built without one (the CLI's). Tests that drive the CLI against a
#: failing sandbox swap it for a fast one (``monkeypatch.setattr``) instead of waiting minutes.
DEFAULT_RETRY = RetryPolicy()


class _Retryable(Exception):
    """Internal marker: this failure may be retried (wraps the real error)."""

    def __init__(self, error: ApiError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def _is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_READ_STEP = 1 << 20


def _read_whole(response: requests.Response) -> bytearray:
    """A streamed body read into one buffer, sized by Content-Length when it can be trusted.

    ``response.content`` joins the body from 10 KB pieces: at the peak both the pieces and the
    joined copy are alive, twice the body (a card list is tens of megabytes). Here the body
    grows in place, one megabyte read at a time, and the connection goes back to the pool.
    """
    length = response.headers.get("Content-Length", "")
    plain = not response.headers.get("Content-Encoding") and length.isdigit()
    body = bytearray(int(length)) if plain else bytearray()
    filled = 0
    try:
        for piece in response.iter_content(_READ_STEP):
            end = filled + len(piece)
            body[filled:end] = piece
            filled = end
    finally:
        response.close()
    if filled != len(body):  # a short body (or no usable length): keep what arrived
        del body[filled:]
    return body


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten Metabase's nested ``errors`` / ``specific-errors`` into dotted paths."""
    out: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            for sub, messages in _flatten(value, path).items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(errors, list):
        if all(not isinstance(item, (Mapping, list)) for item in errors):
            out[prefix or "body"] = [str(item) for item in errors if item is not None]
        else:
            for index, item in enumerate(errors):
                for sub, messages in _flatten(item, f"{prefix}[{index}]").items():
                    out.setdefault(sub, []).extend(messages)
    elif errors is not None:
        out[prefix or "body"] = [str(errors)]
    return out


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _html_words(text: str) -> str | None:
    """``an HTML page titled '...'`` for a body that is a web page, else None.

    Metabase's API answers JSON or plain text; a page means the URL reaches another server
    (a proxy's error page, a web server at the wrong port), whose markup is no use in an error.
    """
    if not text.lstrip().startswith("<"):
        return None
    title = _TITLE.search(text)
    name = " ".join(title.group(1).split())[:_EXCERPT] if title else ""
    return f"an HTML page titled {name!r}" if name else "an HTML page"


def _message_of(body: Any) -> str:
    if body is None:  # _decode's empty body; json.dumps would print it as "null"
        return "(empty body)"
    if isinstance(body, str):
        page = _html_words(body)
        if page is not None:
            return f"the server answered {page}, not Metabase's API"
        return body.strip()[:_EXCERPT] or "(empty body)"
    if isinstance(body, Mapping):
        for key in ("message", "error", "error_message"):
            if isinstance(body.get(key), str):
                return str(body[key])[:_EXCERPT]
        if "errors" in body:
            return "; ".join(
                f"{field}: {', '.join(msgs)}" for field, msgs in _flatten(body["errors"]).items()
            )[:_EXCERPT]
    return json.dumps(body)[:_EXCERPT]


def error_from_response(
    status: int, body: Any, *, method: str, url: str, retry_after: float | None = None
) -> ApiStatusError:
    """Map an error answer to the exception of its cause.

    ``body`` is the decoded JSON when Metabase answered JSON, else the text: Metabase answers
    plain text for 401/403/404 and JSON for validation errors (``errors``/``specific-errors``).
    """
    message = _message_of(body)
    kwargs: dict[str, Any] = {"status": status, "method": method, "url": url, "body": body}
    if status == 401:
        return AuthenticationError(f"Metabase refused the credentials: {message}", **kwargs)
    if status == 403:
        return PermissionDeniedError(f"Permission denied: {message}", **kwargs)
    if status == 404:
        page = _html_words(body) if isinstance(body, str) else None
        if page is not None or (isinstance(body, str) and "API endpoint does not exist" in body):
            answered = f": the server answered {page}" if page else ""
            return NotFoundError(
                f"no such API endpoint{answered} (is the Metabase URL right, with no path "
                "after the host unless Metabase is served under one? or is this Metabase "
                "older than metabase-guard supports?)",
                **kwargs,
            )
        return NotFoundError(f"Not found: {message}", **kwargs)
    if status == 429:
        return RateLimitError(f"Rate limited: {message}", retry_after=retry_after, **kwargs)
    if status in (400, 409, 422) or 400 <= status < 500:
        fields: dict[str, list[str]] = {}
        if isinstance(body, Mapping):
            for part in ("specific-errors", "errors"):
                for field, messages in _flatten(body.get(part)).items():
                    known = fields.setdefault(field, [])
                    known.extend(m for m in messages if m not in known)
        detail = "; ".join(f"{f}: {'; '.join(m)}" for f, m in fields.items()) or message
        return RequestRejectedError(
            f"Metabase rejected the request ({status}): {detail}", field_errors=fields, **kwargs
        )
    return ServerError(f"Metabase failed ({status}): {message}", **kwargs)


class Transport:
    """HTTP to one Metabase: auth, timeouts, TLS, retries and error mapping.

    Args:
        url: base URL of the instance, e.g. ``https://metabase.example.com``.
        api_key: an API key (header ``x-api-key``); preferred over a password.
        username: login e-mail for a session (``POST /api/session``), with ``password``.
        password: the password for ``username``.
        timeout: seconds to wait for an answer (connecting waits at most 10 s).
        verify: TLS verification on (``True``), off (``False``) or a CA bundle path.
        retry: the retry policy.
        pool_size: connections kept open (match the apply concurrency).

    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        verify: bool | str = True,
        retry: RetryPolicy | None = None,
        pool_size: int = 12,
    ) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - parses the port: "http://h:x" fails here, not later
        except ValueError as exc:
            raise ConfigError(f"the Metabase URL {url!r} is not a valid URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"the Metabase URL must start with http:// or https://, got {url!r}")
        if "@" in parts.netloc:
            # it would be printed in every plan and error message
            raise ConfigError(
                "the Metabase URL carries a user name or password (user:pass@host); remove "
                "them: metabase-guard prints its URL in plans and errors"
            )
        for secret in (api_key, password):
            register_secret(secret)  # both forms, before anything can print one
        api_key, password = _stripped(api_key, "API key"), _stripped(password, "password")
        if not api_key and not (username and password):
            raise ConfigError(
                "no credentials: give an API key (METABASE_API_KEY) or a username and password "
                "(METABASE_USERNAME, METABASE_PASSWORD)"
            )
        self.base_url = url.rstrip("/")
        if self.base_url.endswith("/api"):
            # a URL copied from an API call: every path below already starts with /api
            self.base_url = self.base_url[: -len("/api")]
        self.timeout = timeout
        self.retry = retry or DEFAULT_RETRY
        self._api_key = api_key
        self._username = username
        self._password = password
        self._session_token: str | None = None
        self._login_lock = threading.Lock()
        self._http = requests.Session()
        self._http.verify = verify
        self._http.trust_env = True
        # a snapshot read keeps up to 11 requests in flight (reconcile.live.READ_WIDTH) even
        # when writes use fewer: each keeps its connection instead of one being discarded
        adapter = requests.adapters.HTTPAdapter(pool_connections=2,
                                                pool_maxsize=max(pool_size, 12))
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._http.headers.update(
            {"User-Agent": f"metabase-guard/{__version__}", "Accept": "application/json"}
        )
        self.request_count = 0
        self._count_lock = threading.Lock()
        # Until the server has answered once, a refused connection means a wrong URL or a
        # stopped Metabase: say so at once instead of after a round of backoff.
        self._answered = False
        if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
            log.warning(
                "%s is plain http: the %s travels in clear text",
                self.base_url,
                "API key" if api_key else "password",
            )

    def __repr__(self) -> str:
        auth = "api-key" if self._api_key else "session"
        return f"Transport({self.base_url!r}, auth={auth})"

    @property
    def uses_api_key(self) -> bool:
        """True when authenticating with an API key rather than a login session."""
        return bool(self._api_key)

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    # -- auth -------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self._api_key:
            return {"x-api-key": self._api_key}
        if self._session_token is None:
            self._login()
        assert self._session_token is not None
        return {"X-Metabase-Session": self._session_token}

    def _login(self, stale: str | None = None) -> None:
        with self._login_lock:
            if self._session_token is not None and self._session_token != stale:
                return  # another thread logged in meanwhile
            body = self._send(
                "POST",
                "/api/session",
                params=None,
                json_body={"username": self._username, "password": self._password},
                headers={},
            )
            token = body.get("id") if isinstance(body, Mapping) else None
            if not isinstance(token, str):
                raise AuthenticationError(
                    "Metabase did not return a session (is multi-factor login required for "
                    "this user? use an API key)",
                    status=200,
                    method="POST",
                    url=self.base_url + "/api/session",
                )
            register_secret(token)
            self._session_token = token

    # -- requests ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        raw: bool = False,
    ) -> Any:
        """Send one request and return the decoded body (``None`` for 204 or empty).

        With ``raw`` a successful JSON answer is returned as its undecoded bytes, for callers
        that decode a large list with their own decoder. Retries per the policy; re-logs in
        once when a session expired; raises the :mod:`metabase_guard.errors` exception of the
        cause.
        """
        method = method.upper()
        try:
            return self._with_retries(method, path, params, json_body, raw)
        except AuthenticationError:
            if self._api_key or path == "/api/session" or self._session_token is None:
                raise  # the login itself failed: trying again costs a throttled attempt
            stale = self._session_token
            log.debug("session rejected; logging in again")
            self._login(stale=stale)
            return self._with_retries(method, path, params, json_body, raw)

    def _with_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        raw: bool = False,
    ) -> Any:
        policy = self.retry

        def wait(state: RetryCallState) -> float:
            # capped exponential backoff, plus jitter so parallel writers do not retry in step
            exponential = policy.initial_wait * 2.0 ** (state.attempt_number - 1)
            base = min(policy.max_wait, exponential) + random.uniform(0, policy.initial_wait)
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            if isinstance(error, _Retryable) and error.retry_after is not None:
                return min(max(error.retry_after, 0.0), policy.max_retry_after)
            return base

        retrying = Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)),
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_total),
            wait=wait,
            reraise=True,
            before_sleep=lambda s: log.debug(
                "retrying %s %s (attempt %d): %s",
                method,
                path,
                s.attempt_number + 1,
                s.outcome.exception() if s.outcome else "",
            ),
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, path, params, json_body, raw)
        except _Retryable as exhausted:
            raise exhausted.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        raw: bool = False,
    ) -> Any:
        headers = self._auth_headers()
        return self._send(
            method, path, params=params, json_body=json_body, headers=headers, raw=raw
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str],
        raw: bool = False,
    ) -> Any:
        url = self.base_url + path
        started = time.monotonic()
        with self._count_lock:
            self.request_count += 1
        failure: ApiError | _Retryable | None = None
        response: requests.Response | None = None
        try:
            response = self._http.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=dict(headers),
                auth=_NO_NETRC,
                timeout=(min(10.0, self.timeout), self.timeout),
                allow_redirects=False,
                stream=raw,
            )
        except requests.exceptions.RequestException as exc:
            failure = _failure(exc, method, url, self.timeout, self.base_url, self._answered)
        if failure is not None:
            # raised outside the except block, so neither __cause__ nor __context__ holds the
            # requests/urllib3 exception (whose text may quote a header value)
            raise failure
        assert response is not None

        self._answered = True
        elapsed = (time.monotonic() - started) * 1000
        log.debug("%s %s -> %d (%.0f ms)", method, path, response.status_code, elapsed)
        if 300 <= response.status_code < 400:
            raise ApiError(
                f"Metabase answered a redirect ({response.status_code}) to "
                f"{response.headers.get('Location', '?')}: use the final URL (often https://) "
                "as the Metabase URL",
                method=method,
                url=url,
            )
        if raw and response.status_code < 400 and "json" in response.headers.get(
            "Content-Type", ""
        ):
            try:
                return _read_whole(response)
            except requests.exceptions.RequestException as exc:
                failure = _failure(exc, method, url, self.timeout, self.base_url, self._answered)
            raise failure
        body = _decode(response)
        if response.status_code < 400:
            if isinstance(body, str) and body.lstrip()[:1] == "<":
                raise ApiError(
                    "expected JSON but got an HTML page: is the URL Metabase itself, not a "
                    "login page or proxy in front of it?",
                    method=method,
                    url=url,
                )
            return body
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        error = error_from_response(
            response.status_code, _redacted(body), method=method, url=url, retry_after=retry_after
        )
        retryable = response.status_code in _RETRY_STATUSES and (
            method in _IDEMPOTENT or response.status_code in _POST_SAFE_STATUSES
        )
        if retryable:
            raise _Retryable(error, retry_after=retry_after)
        raise error


class _NoNetrc(requests.auth.AuthBase):
    """An auth object that adds nothing: Metabase's header goes in ``headers`` as before.

    With no auth object, requests looks the host up in ``~/.netrc`` on every request (about an
    eighth of the client's CPU per write in a profile), and a matching entry even added a Basic
    header beside the Metabase one; with one it does not. ``trust_env`` stays on, so
    ``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE`` still apply. The auth header is not
    set here: requests checks ``headers`` before sending (a key with a newline inside is refused
    as a requests error, never quoted), and an auth hook runs after that check.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


_NO_NETRC = _NoNetrc()


def _connection_words(exc: requests.exceptions.ConnectionError, where: str) -> str:
    """A failed connection in words, without urllib3's pool and retry text."""
    text = repr(exc)
    if "NameResolutionError" in text or "Name or service not known" in text:
        return f"cannot find the host of {where}: the name does not resolve (a typo?)"
    if "Connection refused" in text or "NewConnectionError" in text:
        return (f"cannot connect to {where}: the connection was refused (is Metabase "
                "running there, and is the port right?)")
    if "RemoteDisconnected" in text or "Connection aborted" in text or "reset" in text:
        return f"{where} closed the connection without answering"
    return f"cannot connect to {where}: {str(exc).split('(Caused by ', 1)[-1][:200]}"


def _tls_words(exc: Exception) -> str:
    """A TLS failure in words; urllib3's text names OpenSSL's reason codes."""
    text = str(exc)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return ("TLS handshake failed: the server does not speak https on this port (is the "
                "URL http://, or the port the one of a plain-http Metabase?)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        reason = text.split("certificate verify failed:", 1)[-1].split("(")[0].strip(" )'\"")
        return (f"TLS certificate not trusted ({reason or 'verify failed'}): give the CA "
                "bundle (REQUESTS_CA_BUNDLE) or, for a test instance only, --insecure")
    return "TLS failed: " + text.split("(Caused by ", 1)[-1].rstrip(")")[:200]


def _failure(
    exc: requests.exceptions.RequestException, method: str, url: str, timeout: float,
    base_url: str, answered: bool,
) -> ApiError | _Retryable:
    """The error (or retryable wrapper) for a request that got no answer.

    Until the server has answered once (``answered``), a refused connection means a wrong URL
    or a stopped Metabase: it is said at once instead of after a round of backoff.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Retryable(
            ApiTimeoutError(f"could not connect in time: {exc}", method=method, url=url)
        )
    if isinstance(exc, requests.exceptions.Timeout):
        error: ApiError = ApiTimeoutError(
            f"no answer within {timeout:g} s: {exc}", method=method, url=url
        )
        return _Retryable(error) if method in _IDEMPOTENT else error
    if isinstance(exc, requests.exceptions.SSLError):
        return ApiConnectionError(_tls_words(exc), method=method, url=url)
    if _stalled_mid_body(exc):
        error = ApiTimeoutError(
            f"the answer stopped for over {timeout:g} s before it was whole", method=method,
            url=url,
        )
        return _Retryable(error) if method in _IDEMPOTENT else error
    if isinstance(exc, requests.exceptions.ConnectionError):
        error = ApiConnectionError(_connection_words(exc, base_url), method=method, url=url)
        if not answered and _never_sent(exc):
            return error
        return _Retryable(error) if method in _IDEMPOTENT or _never_sent(exc) else error
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        # the answer began and broke off (a proxy or Metabase restarting mid-body): a GET is
        # asked again; a write may have landed, so it is not
        error = ApiConnectionError(
            "the connection closed before the whole answer arrived", method=method, url=url
        )
        return _Retryable(error) if method in _IDEMPOTENT else error
    return ApiConnectionError(f"request failed: {exc}", method=method, url=url)


def _stalled_mid_body(exc: requests.exceptions.RequestException) -> bool:
    """True for a read timeout while a streamed body arrived (``Response.iter_content``).

    requests wraps urllib3's ``ReadTimeoutError`` there in a ``ConnectionError``, not in a
    ``Timeout`` as it does while waiting for the headers.
    """
    return isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args
    )


def _stripped(secret: str | None, what: str) -> str | None:
    """A credential without surrounding whitespace, saying so once (never showing it).

    A CI secret pasted with its trailing newline (or a leading tab) is a header value that
    requests refuses, quoting it in full; Metabase keys and passwords never start or end with
    whitespace.
    """
    if secret is None or secret == secret.strip():
        return secret
    log.warning("the %s had whitespace around it (%s); it was stripped", what,
                _whitespace_words(secret))
    return secret.strip() or None


def _whitespace_words(secret: str) -> str:
    names = {"\n": "newline", "\r": "carriage return", "\t": "tab", " ": "space"}
    ends = [("leading", secret[: len(secret) - len(secret.lstrip())]),
            ("trailing", secret[len(secret.rstrip()):])]
    return ", ".join(
        f"{side} {'+'.join(names.get(ch, 'whitespace') for ch in chars)}"
        for side, chars in ends if chars
    )


class _RedactingFilter(logging.Filter):
    """Blank registered secrets out of debug lines (exception texts are formatted into them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


log.addFilter(_RedactingFilter())


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so the server saw nothing."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "NameResolutionError")
    )


def _decode(response: requests.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    ctype = response.headers.get("Content-Type", "")
    text = response.text
    if "json" in ctype:
        try:
            return json.loads(text)
        except ValueError:
            return text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and response.status_code >= 400:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _redacted(body: Any) -> Any:
    if isinstance(body, str):
        return redact(body)
    try:
        return json.loads(redact(json.dumps(body)))
    except (TypeError, ValueError):
        return body
