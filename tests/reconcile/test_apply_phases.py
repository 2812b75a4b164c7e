"""``apply_plan`` (``reconcile/apply.py``) against the sandbox over HTTP: its phases and report.

What must hold: the kinds are written in dependency order, each after its look-up for what a
racing apply made; deletes come last, dependants first; the report counts every request of
the run; on the first failure the writes in flight finish, no other starts (later kinds are
not even looked up), and the error says how many changes were done, failed and not attempted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.errors import ApplyError
from metabase_guard.reconcile.apply import apply_plan
from metabase_guard.reconcile.plan import Change
from metabase_guard.sandbox import DEMO_SEED
from metabase_guard.sandbox.app import Sandbox, SandboxResponse
from metabase_guard.sandbox.server import SandboxServer, serve

REPO = Path(__file__).resolve().parents[2]
DECLARED = [REPO / "alerts" / "recommender.yaml", REPO / "alerts" / "pipelines.yaml"]
FAST = RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01)
#: the longest a held request waits for the test to let it go (only a broken build waits)
HOLD = 10
ORDER = {"collection": 0, "card": 1, "alert": 2, "dashboard": 3, "subscription": 4}


@pytest.fixture
def mb() -> Iterator[SandboxServer]:
    """A demo-seeded sandbox on a threaded server (requests can be held side by side)."""
    with serve(Sandbox(seed=DEMO_SEED)) as server:
        yield server


@pytest.fixture
def client(mb: SandboxServer) -> Iterator[MetabaseClient]:
    """A client of ``mb``'s admin key, with fast retries."""
    with MetabaseClient(mb.url, api_key=mb.api_key, retry=FAST) as c:
        yield c


def _routes(mb: SandboxServer) -> list[tuple[str, str | None]]:
    return [(r.method, r.route) for r in mb.sandbox.requests]


def test_kinds_are_written_in_order_each_after_its_look_up_and_every_request_is_counted(
        mb: SandboxServer, client: MetabaseClient) -> None:
    result = engine.plan(engine.load(DECLARED), client)
    events: list[tuple[str, str]] = []
    mb.sandbox.reset_log()
    report = apply_plan(result.plan, client, result.live,
                        progress=lambda change, status, _: events.append((change.kind, status)))
    assert report.ok and report.requests == len(mb.sandbox.requests) > 0
    assert sorted(c.address for c in report.done) == sorted(c.address for c in result.plan.changes)
    assert len(report.done) == len(result.plan.changes)
    started = [ORDER[kind] for kind, status in events if status == "start"]
    assert started == sorted(started) and set(started) == set(ORDER.values())
    routes = _routes(mb)
    # cards: the look-up for a racing apply's creates, the creates, the look-up to settle
    card_lists = [i for i, r in enumerate(routes) if r == ("GET", "/api/card")]
    card_posts = [i for i, r in enumerate(routes) if r == ("POST", "/api/card")]
    assert len(card_lists) == 2
    assert card_lists[0] < min(card_posts) < max(card_posts) < card_lists[1]
    alert_lists = [i for i, r in enumerate(routes) if r == ("GET", "/api/notification")]
    alert_posts = [i for i, r in enumerate(routes) if r == ("POST", "/api/notification")]
    assert len(alert_lists) == 2 and alert_lists[0] < min(alert_posts)
    assert max(card_posts) < alert_lists[0]
    assert engine.plan(engine.load(DECLARED), client).plan.is_empty


def test_deletes_come_after_every_write_alerts_before_their_cards(
        mb: SandboxServer, client: MetabaseClient, tmp_path: Path) -> None:
    assert engine.apply(engine.plan(engine.load(DECLARED), client), client).ok
    # the pipeline questions go (cards archived), and so do the weekly alert and the
    # dashboard's subscriptions; a query changes (an update before every delete)
    recommender = (REPO / "alerts" / "recommender.yaml").read_text()
    weekly_alerts = recommender[recommender.index("    alerts:"):recommender.index("\n\n  #")]
    recommender = recommender.replace(weekly_alerts, "").replace("SELECT", "SELECT /* v2 */", 1)
    kept = tmp_path / "recommender.yaml"
    kept.write_text(recommender[:recommender.index("    subscriptions:")])
    result = engine.plan(engine.load([kept]), client, prune=True)
    actions = sorted({(c.action, c.kind) for c in result.plan.changes})
    assert actions == [("delete", "alert"), ("delete", "card"), ("delete", "subscription"),
                       ("update", "card")]
    events: list[tuple[str, str, str]] = []
    report = apply_plan(result.plan, client, result.live, concurrency=1,
                        progress=lambda c, status, _: events.append((c.action, c.kind, status)))
    assert report.ok and len(report.done) == len(result.plan.changes)
    started = [(action, kind) for action, kind, status in events if status == "start"]
    first_delete = next(i for i, (action, _) in enumerate(started) if action == "delete")
    assert all(action != "delete" for action, _ in started[:first_delete])
    assert all(action == "delete" for action, _ in started[first_delete:])
    deletes = [kind for _, kind in started[first_delete:]]
    assert deletes == sorted(deletes, key=lambda kind: -ORDER[kind])
    assert engine.plan(engine.load([kept]), client, prune=True).plan.is_empty


def _questions(count: int) -> str:
    body = "questions:\n"
    for n in range(count):
        body += (f"  - key: check-{n:02}\n    name: Check {n:02}\n    collection: Checks\n"
                 "    database: Warehouse\n    sql: SELECT count(*) AS n FROM recommendations\n")
        if n == 0:
            body += ("    alerts:\n      - when: has_rows\n"
                     "        schedule: {every: day, at: \"09:00\"}\n"
                     "        email: [pm@example.com]\n")
    return body


def test_the_first_failure_lets_writes_in_flight_finish_and_starts_no_other(
        mb: SandboxServer, client: MetabaseClient, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 13 card creates, one more than the default pool of 12: the first POST to arrive is
    # refused once all 12 are in flight, and the other 11 are held until the failure is
    # recorded, so the 13th is the one never started (and the alert behind it: its kind is
    # not even looked up)
    (tmp_path / "checks.yaml").write_text(_questions(13))
    result = engine.plan(engine.load([tmp_path]), client)
    assert [c.kind for c in result.plan.changes].count("card") == 13
    all_in, failed, lock = threading.Event(), threading.Event(), threading.Lock()
    posts: list[str] = []
    handle = mb.sandbox.handle

    def refuse_first(method: str, path: str, *args: Any) -> SandboxResponse:
        if (method, path) == ("POST", "/api/card"):
            with lock:
                posts.append(path)
                first = len(posts) == 1
                if len(posts) == 12:
                    all_in.set()
            if first:
                all_in.wait(HOLD)
                return SandboxResponse(400, {"Content-Type": "text/plain"}, b"refused")
            failed.wait(HOLD)
        return handle(method, path, *args)

    def progress(change: Change, status: str, error: str | None) -> None:
        if status == "failed":
            failed.set()

    monkeypatch.setattr(mb.sandbox, "handle", refuse_first)
    mb.sandbox.reset_log()
    with pytest.raises(ApplyError) as raised:
        apply_plan(result.plan, client, result.live, progress=progress)
    report = raised.value.report
    assert str(raised.value) == ("apply stopped: 12 change(s) done, 1 failed, 2 not attempted; "
                                 "run apply again to finish")
    assert [c.kind for c in report.done] == ["collection"] + ["card"] * 11
    assert [c.kind for c, _ in report.failed] == ["card"] and "refused" in report.failed[0][1]
    assert sorted(c.kind for c in report.not_attempted) == ["alert", "card"]
    # the refused POST was answered here, not by the sandbox: it is not in the sandbox's log
    assert len(posts) == 12 and report.requests == len(mb.sandbox.requests) + 1
    # no look-up after the failure: neither the cards' settle nor the alerts' prepare
    assert _routes(mb).count(("GET", "/api/card")) == 1
    assert ("GET", "/api/notification") not in _routes(mb)
