"""The :class:`Sandbox`: router, authentication, failure injection and the request log."""

from __future__ import annotations

import collections
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from metabase_guard.sandbox.core import (
    NO_ENDPOINT,
    UNAUTHENTICATED,
    ApiFailure,
    OffLock,
    Reply,
    Request,
    Row,
)
from metabase_guard.sandbox.store import Delivery, Store, parse_major

Handler = Callable[["Sandbox", Request], "Reply | OffLock[Any]"]

T = TypeVar("T")

# Behaviour of the newest release the emulator follows, used for unparseable dev tags.
LATEST_MAJOR = 61
JSON_TYPE = "application/json;charset=utf-8"
TEXT_TYPE = "text/plain;charset=utf-8"


@dataclass(frozen=True)
class SandboxResponse:
    """An answer: status, headers, body; ``dropped`` means close the connection unanswered."""

    status: int
    headers: dict[str, str]
    body: bytes
    dropped: bool = False

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class RequestRecord:
    """One logged request: ``route`` is the matched template (``/api/card/:id``) or ``None``."""

    method: str
    path: str
    route: str | None
    status: int
    injected: bool = False
    dropped: bool = False


@dataclass
class FailureRule:
    """An injected failure (see :meth:`Sandbox.inject_failure`)."""

    method: str | None
    pattern: re.Pattern[str]
    status: int | None
    after_commit: bool
    times: int | None
    probability: float | None
    retry_after: float | None
    body: str | None

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (before the probability draw)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


@dataclass
class Route:
    """One endpoint: method, template, handler and its access rules."""

    method: str
    template: str
    handler: Handler
    auth: bool = True
    min_major: int = 0
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.template.strip("/").split("/"):
            if segment.startswith(":"):
                name = segment[1:]
                parts.append(rf"(?P<{name}>\d+)" if name.endswith("id") else rf"(?P<{name}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        self.regex = re.compile("^/" + "/".join(parts) + "/?$")


class Router:
    """Route table; resource modules register their endpoints on it."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, method: str, template: str, *, auth: bool = True, min_major: int = 0
    ) -> Callable[[Handler], Handler]:
        """Decorator registering ``handler`` for ``method template``."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), template, handler, auth, min_major))
            return handler

        return register

    def match(self, method: str, path: str, major: int) -> tuple[Route, dict[str, str]] | None:
        """The route for a request and its path parameters, or ``None``."""
        for route in self.routes:
            if route.method != method.upper() or major < route.min_major:
                continue
            found = route.regex.match(path)
            if found:
                return route, found.groupdict()
        return None


def _build_router() -> Router:
    from metabase_guard.sandbox import (
        cards,
        collections,
        dashboards,
        misc,
        notifications,
        peers,
        pulses,
    )

    router = Router()
    for module in (misc, collections, cards, notifications, dashboards, pulses, peers):
        module.register(router)
    return router


_ROUTER: Router | None = None


def router() -> Router:
    """The shared route table (built on first use)."""
    global _ROUTER
    if _ROUTER is None:
        _ROUTER = _build_router()
    return _ROUTER


class Sandbox:
    """An in-memory Metabase: call :meth:`handle`, or mount it with an adapter.

    Args:
        version_tag: the ``version.tag`` it reports (``v0.61.2``, ``v1.60.3``...); its major
            decides version-dependent behaviour (notifications from 54, MBQL 5 from 57).
        api_key: the admin API key (its synthetic user is user 2, in Administrators).
        seed: ``None`` (defaults), a seed dict, or a path to a seed YAML (see ``seed.py``).
        report_timezone: the ``report-timezone`` setting unless the seed sets one.
        rng_seed: seed of the RNG used for shuffling lists and failure probabilities.
        major: override the major parsed from ``version_tag``.

    """

    def __init__(
        self,
        version_tag: str = "v0.61.2",
        api_key: str = "mb_sandbox_admin_key",
        seed: Mapping[str, Any] | str | Path | None = None,
        report_timezone: str | None = "UTC",
        *,
        rng_seed: int | None = 0,
        major: int | None = None,
    ) -> None:
        from metabase_guard.sandbox.seed import apply_seed, load_seed

        seed_data = load_seed(seed) if seed is not None else {}
        tag = str(seed_data.get("version") or version_tag)
        self.version_tag = tag
        self.major = major if major is not None else (parse_major(tag) or LATEST_MAJOR)
        self.store = Store(version_tag=tag, major=self.major, rng_seed=rng_seed)
        self._api_key = api_key
        self.lock = threading.RLock()
        self.latency = 0.0
        self._failures: list[FailureRule] = []
        self._fault_rng = random.Random(rng_seed)
        self._log: list[RequestRecord] = []
        apply_seed(self.store, seed_data, api_key=api_key, report_timezone=report_timezone)

    # ---------------------------------------------------------------- public helpers
    @property
    def admin_api_key(self) -> str:
        """The API key of the synthetic admin user."""
        return self._api_key

    @property
    def outbox(self) -> list[Delivery]:
        """Every delivery the sandbox made (alert sends and notification emails)."""
        return self.store.outbox

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log."""
        with self.lock:
            return list(self._log)

    def request_counts(self) -> collections.Counter[tuple[str, str]]:
        """``(method, route)`` → count over the log (unknown routes count as ``"?"``)."""
        with self.lock:
            return collections.Counter((r.method, r.route or "?") for r in self._log)

    def reset_log(self) -> None:
        """Forget logged requests."""
        with self.lock:
            self._log.clear()

    def user_by_email(self, email: str) -> Row | None:
        """The stored user row with that email (case-insensitive), for tests."""
        with self.lock:
            return self.store.user_by_email(email)

    def users_by_email(self) -> dict[str, Row]:
        """Every stored user keyed by email, for tests."""
        with self.lock:
            return {u["email"]: u for u in self.store.all("users")}

    def inject_failure(
        self,
        method: str | None = None,
        path: str = ".*",
        status: int | None = 500,
        *,
        after_commit: bool = False,
        times: int | None = 1,
        probability: float | None = None,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> None:
        """Make matching requests fail.

        Args:
            method: HTTP method to match (any when ``None``).
            path: regex searched in the request path.
            status: status to answer; ``None`` drops the connection without an answer.
            after_commit: run the real handler first (its writes stay) and then fail.
            times: how many requests to fail (``None`` = forever).
            probability: fail only this share of matching requests (seeded RNG).
            retry_after: seconds for a ``Retry-After`` header.
            body: plain-text body instead of the default message.

        """
        with self.lock:
            self._failures.append(
                FailureRule(
                    method,
                    re.compile(path),
                    status,
                    after_commit,
                    times,
                    probability,
                    retry_after,
                    body,
                )
            )

    def clear_failures(self) -> None:
        """Remove every injected failure."""
        with self.lock:
            self._failures.clear()

    # ---------------------------------------------------------------- the entry point
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SandboxResponse:
        """Answer one HTTP request the way Metabase would."""
        if self.latency > 0:
            time.sleep(self.latency)
        method = method.upper()
        lowered = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            matched = router().match(method, path, self.major)
            route = matched[0].template if matched else None
            rule = self._pick_failure(method, path)
            if rule is not None and not rule.after_commit:
                return self._logged(method, path, route, rule, self._failure_response(rule))
            step = self._dispatch(matched, method, path, query, lowered, body)
            if isinstance(step, SandboxResponse):
                return self._logged(method, path, route, rule, step)
        # The one piece of slow work a request may do off the lock (a card's metadata query),
        # so that concurrent requests overlap as on a real Metabase; finish() re-checks.
        done = step.work()
        with self.lock:
            return self._logged(method, path, route, rule, _encode(self._finish(step, done)))

    def _logged(
        self,
        method: str,
        path: str,
        route: str | None,
        rule: FailureRule | None,
        response: SandboxResponse,
    ) -> SandboxResponse:
        # under the lock: an after-commit failure replaces the real answer, and the log grows
        if rule is not None:
            response = self._failure_response(rule)
        self._log.append(
            RequestRecord(method, path, route, response.status, rule is not None, response.dropped)
        )
        return response

    @staticmethod
    def _finish(step: OffLock[T], done: T) -> Reply:
        try:
            return step.finish(done)
        except ApiFailure as failure:
            return Reply(failure.status, failure.body)

    def _pick_failure(self, method: str, path: str) -> FailureRule | None:
        for rule in self._failures:
            if not rule.matches(method, path):
                continue
            if rule.probability is not None and self._fault_rng.random() >= rule.probability:
                continue
            if rule.times is not None:
                rule.times -= 1
            return rule
        return None

    @staticmethod
    def _failure_response(rule: FailureRule) -> SandboxResponse:
        if rule.status is None:
            return SandboxResponse(0, {}, b"", dropped=True)
        headers = {"Content-Type": TEXT_TYPE}
        if rule.retry_after is not None:
            headers["Retry-After"] = f"{rule.retry_after:g}"
        text = rule.body if rule.body is not None else f"Injected failure ({rule.status})"
        return SandboxResponse(rule.status, headers, text.encode("utf-8"))

    def _dispatch(
        self,
        matched: tuple[Route, dict[str, str]] | None,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SandboxResponse | OffLock[Any]:
        if matched is None:
            return _encode(Reply(404, NO_ENDPOINT))
        route, params = matched
        request = Request(method, path, query, headers, body, params)
        try:
            if route.auth:
                request.user = self._authenticate(headers)
            reply = route.handler(self, request)
        except ApiFailure as failure:
            reply = Reply(failure.status, failure.body)
        return reply if isinstance(reply, OffLock) else _encode(reply)

    def _authenticate(self, headers: Mapping[str, str]) -> Row:
        # metabase/metabase src/metabase/server/middleware/session.clj: x-api-key or
        # X-Metabase-Session identify the user; anything else is a 401 "Unauthenticated"
        # (src/metabase/api/response.clj).
        store = self.store
        user_id: int | None = None
        if headers.get("x-api-key"):
            user_id = store.api_keys.get(headers["x-api-key"])
        elif headers.get("x-metabase-session"):
            user_id = store.sessions.get(headers["x-metabase-session"])
        user = store.get("users", user_id) if user_id is not None else None
        if user is None or not user["is_active"]:
            raise ApiFailure(401, UNAUTHENTICATED)
        return user


def _encode(reply: Reply) -> SandboxResponse:
    # metabase/metabase src/metabase/server/middleware/misc.clj (add-content-type): string
    # bodies are text/plain, everything else is JSON.
    headers = dict(reply.headers)
    if reply.empty:
        return SandboxResponse(reply.status, headers, b"")
    if isinstance(reply.body, str) and not reply.force_json:
        headers.setdefault("Content-Type", TEXT_TYPE)
        return SandboxResponse(reply.status, headers, reply.body.encode("utf-8"))
    headers.setdefault("Content-Type", JSON_TYPE)
    return SandboxResponse(reply.status, headers, json.dumps(reply.body).encode("utf-8"))
