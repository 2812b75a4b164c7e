"""``read_live`` and ``read_ahead`` (``reconcile/live.py``) against the sandbox over HTTP.

What must hold: the snapshot holds what the instance holds (archived cards apart, card alerts
only, managed dashboards read whole), in its fixed set of requests; a list the credentials may
not read is a warning and an empty list, any other error stops the read; the optional reads
(archived dashboards, subscriptions, the items of collection copies) are made exactly when the
plan needs them; ``read_ahead`` hands over the same snapshot or the error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.errors import ApiStatusError, PermissionDeniedError, UnsupportedServerError
from metabase_guard.reconcile.identity import COLLECTION_MARK, compose_description
from metabase_guard.reconcile.live import READ_WIDTH, LiveState, read_ahead, read_live
from metabase_guard.sandbox import DEMO_SEED, load_seed
from metabase_guard.sandbox.app import SandboxResponse
from metabase_guard.sandbox.pytest_plugin import MountedSandbox

REPO = Path(__file__).resolve().parents[2]
DECLARED = [REPO / "alerts" / "recommender.yaml", REPO / "alerts" / "pipelines.yaml"]
FAST = RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01)
DS_KEY = "mb_ds_key"
#: a bound on waiting for a read ahead, so that a broken one fails instead of hanging the run
NEVER = 20


def _seed() -> dict[str, Any]:
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [dict(u, api_key=DS_KEY) if u["email"] == "ds@example.com" else u
                     for u in seed["users"]] + [{"email": "gone@example.com", "active": False}]
    return seed


@pytest.fixture
def mb(metabase_sandbox_factory: Callable[..., MountedSandbox]) -> MountedSandbox:
    """A demo-seeded sandbox (ds@example.com has an API key of its own)."""
    return metabase_sandbox_factory(seed=_seed())


@pytest.fixture
def client(mb: MountedSandbox) -> Iterator[MetabaseClient]:
    """A client of ``mb``'s admin key, with fast retries."""
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as c:
        yield c


def _applied(client: MetabaseClient) -> set[str]:
    result = engine.plan(engine.load(DECLARED), client)
    assert engine.apply(result, client).ok
    return {d.key for d in result.desired}


def _facts(live: LiveState) -> dict[str, Any]:
    """The snapshot, its lists as sorted ids (the sandbox, like Metabase, orders them freely)."""
    facts = {name: value for name, value in vars(live).items() if not name.startswith("_")}
    for name, value in facts.items():
        if isinstance(value, list) and value and hasattr(value[0], "id"):
            facts[name] = sorted(str(item.id) for item in value)
    return facts


def _http(mb: MountedSandbox, method: str, path: str, body: Any = None,
          key: str | None = None) -> Any:
    response = requests.request(method, mb.url + path, json=body, timeout=10,
                                headers={"x-api-key": key or mb.api_key})
    assert response.ok, response.text
    return response.json() if response.content else None


def _gets(mb: MountedSandbox) -> list[str]:
    return sorted(f"{r.path}" for r in mb.sandbox.requests if r.method == "GET")


def _rewrite(mb: MountedSandbox, path: str, change: Callable[[dict[str, Any]], None],
             monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer ``GET path`` as the sandbox does, with ``change`` applied to the JSON body."""
    sandbox = mb.sandbox
    handle = sandbox.handle

    def rewritten(method: str, where: str, *args: Any) -> SandboxResponse:
        response = handle(method, where, *args)
        if method == "GET" and where == path:
            body = response.json()
            change(body)
            return SandboxResponse(response.status, response.headers, json.dumps(body).encode())
        return response

    monkeypatch.setattr(sandbox, "handle", rewritten)


# -- the snapshot ----------------------------------------------------------------------------

def test_the_snapshot_holds_the_instance_in_its_fixed_requests(mb: MountedSandbox,
                                                                client: MetabaseClient) -> None:
    keys = _applied(client)
    mb.sandbox.reset_log()
    live = read_live(client)
    store = mb.sandbox.store
    # the client read the session properties and its user once, before (cached)
    assert _gets(mb) == sorted([
        "/api/card", "/api/card", "/api/collection", "/api/database", "/api/dashboard",
        f"/api/dashboard/{live.dashboards[0].id}", "/api/notification", "/api/pulse",
        "/api/pulse/form_input", "/api/channel", "/api/permissions/group", "/api/user",
    ])
    assert (live.version.tag, live.report_timezone, live.me.id) == ("v0.61.2", "Europe/Berlin", 2)
    assert set(live.managed_cards()) == keys and len(keys) == len(store.all("cards"))
    assert sorted(c.id for c in live.cards) == sorted(c["id"] for c in store.all("cards"))
    assert live.archived_cards == []
    assert {c.name for c in live.collections} >= {"Health checks", "Recommender"}
    assert len(live.notifications) == len(store.all("notifications")) > 0
    assert [d.name for d in live.databases] == ["Warehouse"]
    assert {u.email for u in live.users} >= {"pm@example.com", "ds@example.com",
                                             "admin@example.com", "gone@example.com"}
    assert [u.is_active for u in live.users if u.email == "gone@example.com"] == [False]
    assert {g.name for g in live.groups} >= {"Data team", "All Users"}
    assert [w.name for w in live.webhooks] == ["pagerduty"]
    assert (live.email_configured, live.slack_configured, live.mbql5) == (True, True, True)
    assert live.slack_channels == ("#general", "#alerts", "#ml-alerts")  # as the form lists them
    assert set(live.slack_ids) == {"#alerts", "#general", "#ml-alerts"}
    assert (live.warnings, live.unreadable) == ([], frozenset())
    [dashboard] = live.dashboards
    assert dashboard.name == "Recommender health" and dashboard.dashcards  # read whole
    assert len(live.pulses) == 2 and {p.dashboard_id for p in live.pulses} == {dashboard.id}
    assert (live.archived_dashboards, live.collection_items) == ([], {})
    # one worker at least, and the same snapshot
    assert _facts(read_live(client, workers=0)) == _facts(live)
    assert READ_WIDTH == 11  # docs/benchmarks.md: the eleven list reads all in flight at once


def test_a_fresh_instance_needs_no_dashboard_subscription_or_item_reads(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    live = read_live(client)
    assert "/api/pulse" not in _gets(mb) and "/api/dashboard?f=archived" not in _gets(mb)
    assert (live.cards, live.notifications, live.dashboards, live.pulses) == ([], [], [], [])
    assert len([r for r in mb.sandbox.requests if r.path == "/api/dashboard"]) == 1


def test_archived_cards_are_apart_and_unmarked_cards_are_kept_by_name_and_place(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    _applied(client)
    managed = read_live(client).managed_cards()
    gone = managed.pop("daily-recommendations")
    client.cards.archive(gone.id)
    plain, binned = (_http(mb, "POST", "/api/card", {
        "name": name, "display": "table", "visualization_settings": {"k": 1},
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 1"}}})
        for name in ("By hand", "Binned by hand"))
    client.cards.archive(binned["id"])
    live = read_live(client)
    assert gone.id not in [c.id for c in live.cards]
    assert sorted(c.id for c in live.archived_cards) == [gone.id, binned["id"]]
    [binned_row] = [c for c in live.archived_cards if c.id == binned["id"]]
    assert binned_row.visualization_settings == {}  # archived and unmarked: a slim row too
    assert live.archived_managed_cards()["daily-recommendations"].dataset_query  # whole
    [by_hand] = [c for c in live.cards if c.id == plain["id"]]
    assert (by_hand.name, by_hand.visualization_settings) == ("By hand", {})  # a slim row
    assert all(c.dataset_query for c in live.cards if c.id in {m.id for m in managed.values()})


def test_only_card_alerts_are_in_the_snapshot(mb: MountedSandbox, client: MetabaseClient) -> None:
    _applied(client)
    before = read_live(client).notifications
    _http(mb, "POST", "/api/notification", {
        "payload_type": "notification/system-event", "payload": {"event_name": "mb-event/x"},
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/raw-value", "details": {"value": "a@example.com"}}
        ]}]})
    after = read_live(client).notifications
    assert sorted(n.id for n in after) == sorted(n.id for n in before)
    assert {n.payload_type for n in after} == {"notification/card"}


def test_inactive_alerts_and_renamed_slack_channels_are_in_the_snapshot(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    _applied(client)
    [first, *_] = sorted(read_live(client).notifications, key=lambda n: n.id)
    client.notifications.set_active(first.id, False)
    store = mb.sandbox.store
    store.slack_channels = [("#ml-ops" if c == "#ml-alerts" else c) for c in store.slack_channels]
    store.slack_ids["#ml-ops"] = store.slack_ids.pop("#ml-alerts")
    live = read_live(client)
    assert [n.active for n in live.notifications if n.id == first.id] == [False]
    assert live.slack_renames == {"#ml-alerts": "#ml-ops"}
    assert live.slack_ids["#ml-ops"] == store.slack_ids["#ml-ops"]


# -- what the credentials may not read ---------------------------------------------------------

WORDS = ("the credentials may not list {0}; names in the declarations that refer to {0} cannot "
         "be checked (use an admin API key)")


def test_lists_the_credentials_may_not_read_are_warnings_and_empty(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    for path in ("^/api/user$", "^/api/permissions/group$", "^/api/channel$",
                 "^/api/pulse/form_input$"):
        mb.sandbox.inject_failure("GET", path, 403, times=None)
    live = read_live(client)
    assert (live.users, live.groups, live.webhooks, live.slack_channels) == ([], [], [], ())
    assert live.unreadable == {"users", "groups", "webhook channels", "delivery channels"}
    assert live.email_configured  # from the session properties
    [slack_note] = [w for w in live.warnings if not w.startswith("the credentials")]
    assert "hides the Slack channel list" in slack_note  # the form said nothing of Slack
    assert live.warnings == sorted([slack_note, *(
        WORDS.format(what) for what in ("users", "groups", "webhook channels",
                                        "delivery channels"))])


def test_subscriptions_the_credentials_may_not_read_are_a_warning(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    _applied(client)
    mb.sandbox.inject_failure("GET", "^/api/pulse$", 403, times=None)
    mb.sandbox.inject_failure("GET", "^/api/user$", 403, times=None)
    live = read_live(client)
    assert live.pulses == [] and live.dashboards
    assert live.unreadable == {"dashboard subscriptions", "users"}
    assert live.warnings == [WORDS.format("dashboard subscriptions"), WORDS.format("users")]


@pytest.mark.parametrize("path", ["^/api/card$", "^/api/collection$", "^/api/notification$"])
def test_any_other_refusal_stops_the_read(mb: MountedSandbox, client: MetabaseClient,
                                          path: str) -> None:
    mb.sandbox.inject_failure("GET", path, 403, times=None)
    with pytest.raises(PermissionDeniedError):
        read_live(client)


def test_an_error_of_a_list_read_stops_the_read(mb: MountedSandbox,
                                                client: MetabaseClient) -> None:
    mb.sandbox.inject_failure("GET", "^/api/database$", 400, times=None)
    with pytest.raises(ApiStatusError):
        read_live(client, workers=1)


# -- settings the snapshot derives ---------------------------------------------------------------

def test_email_set_up_in_the_delivery_form_alone_counts(mb: MountedSandbox,
                                                         client: MetabaseClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def unset(body: dict[str, Any]) -> None:
        body["email-configured?"] = False
        body["report-timezone-long"] = None

    _rewrite(mb, "/api/session/properties", unset, monkeypatch)
    live = read_live(client)
    assert (live.email_configured, live.report_timezone) == (True, "UTC")


def test_email_set_up_in_neither_place_is_not_set_up(
        metabase_sandbox_factory: Callable[..., MountedSandbox]) -> None:
    mb = metabase_sandbox_factory(seed={**_seed(), "email_configured": False,
                                        "slack_channels": []})
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as client:
        live = read_live(client)
    assert (live.email_configured, live.slack_configured, live.slack_channels) == (
        False, False, ())


def test_email_set_up_in_the_properties_alone_counts(mb: MountedSandbox,
                                                      client: MetabaseClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def unset(body: dict[str, Any]) -> None:
        body["channels"]["email"]["configured"] = False

    _rewrite(mb, "/api/pulse/form_input", unset, monkeypatch)
    assert read_live(client).email_configured


def test_a_form_without_channels_is_no_email(mb: MountedSandbox, client: MetabaseClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _rewrite(mb, "/api/session/properties", lambda body: body.update({"email-configured?": False}),
             monkeypatch)
    _rewrite(mb, "/api/pulse/form_input", lambda body: body.pop("channels"), monkeypatch)
    live = read_live(client)
    assert not live.email_configured


def test_a_newer_instance_and_a_renamed_slack_channel_are_in_the_snapshot(
        metabase_sandbox_factory: Callable[..., MountedSandbox]) -> None:
    mb = metabase_sandbox_factory(seed={**_seed(), "version": "v0.99.1"})
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as client:
        live = read_live(client)
    assert len(live.warnings) == 1 and "newer than the newest version" in live.warnings[0]


def test_an_instance_before_mbql_5_is_read_as_legacy_mbql(
        metabase_sandbox_factory: Callable[..., MountedSandbox]) -> None:
    mb = metabase_sandbox_factory(seed={**_seed(), "version": "v0.56.3"})
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as client:
        assert read_live(client).mbql5 is False


# -- dashboards -------------------------------------------------------------------------------

def _dashboard(mb: MountedSandbox, name: str, key: str | None = None,
               api_key: str | None = None, archived: bool = False) -> int:
    description = compose_description("by hand", key) if key else "by hand"
    made = _http(mb, "POST", "/api/dashboard", {"name": name, "description": description},
                 key=api_key)
    if archived:
        _http(mb, "PUT", f"/api/dashboard/{made['id']}", {"archived": True}, key=api_key)
    return int(made["id"])


def test_archived_dashboards_are_read_only_when_a_key_has_no_claimant_of_ours(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    def archived_read() -> bool:  # the list of live dashboards, then that of archived ones
        lists = [r for r in mb.sandbox.requests if (r.method, r.path) == ("GET", "/api/dashboard")]
        return len(lists) == 2

    trashed = _dashboard(mb, "Trashed", "recommender-health", DS_KEY, archived=True)
    _dashboard(mb, "Not managed", None, DS_KEY)
    mb.sandbox.reset_log()
    live = read_live(client)
    assert not archived_read() and live.archived_dashboards == []
    assert [d.name for d in live.dashboards] == ["Not managed"] and not live.dashboards[0].dashcards
    # a dashboard not ours is kept as its list row: no GET of it whole
    assert [p for p in _gets(mb) if p.startswith("/api/dashboard/")] == []
    assert "/api/pulse" not in _gets(mb)  # no managed dashboard: no subscription can matter

    _applied(client)  # ours: recommender-health
    _dashboard(mb, "A copy", "recommender-health", DS_KEY)
    mb.sandbox.reset_log()
    live = read_live(client)
    assert not archived_read() and live.archived_dashboards == []

    foreign = _dashboard(mb, "Someone else's", "their-key", DS_KEY)
    mb.sandbox.reset_log()
    live = read_live(client)
    assert archived_read()
    assert [d.id for d in live.archived_dashboards] == [trashed]
    assert foreign in [d.id for d in live.dashboards]


def test_a_foreign_managed_dashboard_alone_reads_the_archived_ones(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    trashed = _dashboard(mb, "Trashed", "recommender-health", archived=True)
    _dashboard(mb, "Theirs", "their-key", DS_KEY)
    live = read_live(client)
    assert [d.id for d in live.archived_dashboards] == [trashed]
    assert "/api/pulse" in _gets(mb)


# -- copies of collections ---------------------------------------------------------------------

def test_the_items_of_collection_copies_are_read_and_no_others(
        mb: MountedSandbox, client: MetabaseClient) -> None:
    _applied(client)
    live = read_live(client)
    assert live.collection_items == {}
    assert not any(r.path.endswith("/items") for r in mb.sandbox.requests)
    original = live.collection_id("Health checks")
    copy = _http(mb, "POST", "/api/collection",
                 {"name": "Health checks", "description": COLLECTION_MARK})
    _http(mb, "POST", "/api/collection", {"name": "Inside", "parent_id": copy["id"]})
    _http(mb, "POST", "/api/card", {
        "name": "By hand", "display": "table", "visualization_settings": {},
        "collection_id": copy["id"],
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 1"}}})
    live = read_live(client)
    assert live.collection_id("Health checks") == original
    [(copy_id, items)] = live.collection_items.items()
    assert copy_id == copy["id"]  # every model: a child collection too, not only cards
    assert sorted((i["model"], i["name"]) for i in items) == [("card", "By hand"),
                                                              ("collection", "Inside")]


# -- read ahead --------------------------------------------------------------------------------

def test_a_read_ahead_holds_the_snapshot_read_on_a_daemon_thread(
        mb: MountedSandbox, client: MetabaseClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _applied(client)
    arrived, gate = threading.Event(), threading.Event()
    handle = mb.sandbox.handle

    def held(*args: Any) -> SandboxResponse:
        arrived.set()
        gate.wait(NEVER)
        return handle(*args)

    monkeypatch.setattr(mb.sandbox, "handle", held)
    future = read_ahead(client)
    try:
        assert arrived.wait(NEVER)  # the read is under way, held at its first request
        readers = [t for t in threading.enumerate() if t.name == "read-ahead"]
        assert future.running() and [t.daemon for t in readers] == [True]
    finally:
        gate.set()
    ahead = future.result(timeout=NEVER)
    monkeypatch.undo()
    assert isinstance(ahead, LiveState) and _facts(ahead) == _facts(read_live(client))


def test_a_read_ahead_hands_over_the_error(
        metabase_sandbox_factory: Callable[..., MountedSandbox]) -> None:
    mb = metabase_sandbox_factory(version_tag="v0.53.9")
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as client:
        future = read_ahead(client)
        with pytest.raises(UnsupportedServerError, match="legacy /api/alert API"):
            future.result(timeout=NEVER)
