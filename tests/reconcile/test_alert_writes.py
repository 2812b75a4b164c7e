"""Alert writes over HTTP against the sandbox: what lands in ``/api/notification``.

The alert kind's ``write``, ``prepare`` and ``settle`` are checked by reading the stored
notifications back from the sandbox (raw JSON, not metabase-guard's own view): the body a
create sends, the PUT of an update, the deactivation of a prune, a create whose answer is lost,
and the alerts a racing apply made before or during this one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.errors import ApiError
from metabase_guard.reconcile.alerts import KIND
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.plan import Change
from metabase_guard.reconcile.writes import WriteContext
from metabase_guard.sandbox import DEMO_SEED, Sandbox, SandboxResponse, load_seed
from metabase_guard.sandbox.server import serve
from metabase_guard.spec.schedule import to_cron

FAST = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.02, max_retry_after=1.0,
                   max_total=5.0)
PM_KEY = "mb_alert_writes_pm_key"
EVERY_DAY = {"every": "day", "at": "08:00"}


SCALAR = "    sql: SELECT 1 AS n\n    display: scalar\n"
LINE = ("    sql: SELECT 'a' AS day, 1 AS n\n    display: line\n"
        "    goal: {value: 3}\n")


def question(key: str, alerts: str = "", shape: str = SCALAR) -> str:
    """One question in ``Alert writes``, with ``alerts`` (YAML list items) if any."""
    return (f"  - key: {key}\n    name: Check {key}\n    collection: Alert writes\n"
            f"    database: Warehouse\n{shape}"
            + (f"    alerts:\n{alerts}" if alerts else ""))


FULL = ("      - when: has_rows\n"
        '        schedule: {every: day, at: "08:00"}\n'
        "        once: true\n"
        "        email: [pm@example.com, Outsider@Example.com]\n"
        "        groups: [Data team]\n"
        '        slack: ["#alerts"]\n'
        "        webhook: [pagerduty]\n")
DAILY = ('      - when: has_rows\n        schedule: {every: day, at: "08:00"}\n'
         "        email: [pm@example.com]\n")


class World:
    """A demo sandbox served on a port, a fast-retrying admin client and a declarations file."""

    def __init__(self, sb: Sandbox, client: MetabaseClient, folder: Path) -> None:
        self.sb = sb
        self.client = client
        self.path = folder / "decl.yaml"

    def declare(self, *questions: str) -> None:
        self.path.write_text("questions:\n" + "".join(questions), encoding="utf-8")

    def plan(self, prune: bool = False) -> engine.PlanResult:
        return engine.plan(engine.load([self.path]), self.client, prune=prune)

    def apply(self, prune: bool = False) -> Any:
        return engine.apply(self.plan(prune), self.client, force=True)

    def raw(self, method: str, path: str, body: dict[str, Any] | None = None,
            key: str | None = None, **query: str) -> Any:
        response = self.sb.handle(method, path, {k: [v] for k, v in query.items()},
                                  {"x-api-key": key or self.sb.admin_api_key},
                                  json.dumps(body).encode() if body is not None else b"")
        assert response.status == 200, response.text
        return response.json()

    def notifications(self) -> list[dict[str, Any]]:
        """Every card alert stored, inactive ones too, by id."""
        found = self.raw("GET", "/api/notification", payload_type="notification/card",
                         include_inactive="true")
        return sorted(found, key=lambda n: n["id"])

    def card_id(self, key: str) -> int:
        (found,) = [c["id"] for c in self.raw("GET", "/api/card", f="all")
                    if f"Check {key}" == c["name"] and not c["archived"]]
        return int(found)

    def copy_of(self, notification: dict[str, Any], key: str | None = None,
                **changes: Any) -> dict[str, Any]:
        """POST a copy of a stored alert (as another run, or as ``key``'s user, would)."""
        body = {k: notification[k] for k in ("payload_type", "payload", "subscriptions",
                                              "handlers")}
        body.update(changes)
        made: dict[str, Any] = self.raw("POST", "/api/notification", body, key=key)
        return made


class FiresAfterLostCreate(Sandbox):
    """A sandbox whose scheduler runs the newest alert once right after a create's answer is
    lost: a ``send_once`` alert is then inactive by the time the client looks for it."""

    def handle(self, method: str, path: str, query: Mapping[str, list[str]],
               headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        response = super().handle(method, path, query, headers, body)
        if (method, path, response.status) == ("POST", "/api/notification", 500):
            admin = {"x-api-key": self.admin_api_key}
            listed = super().handle("GET", "/api/notification", {"include_inactive": ["true"]},
                                    admin, b"").json()
            newest = max(n["id"] for n in listed)
            sent = super().handle("POST", f"/api/notification/{newest}/send", {}, admin, b"{}")
            assert sent.status == 204, sent.text
        return response


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    seed = dict(load_seed(DEMO_SEED))
    seed["users"] = [dict(u, api_key=PM_KEY) if u["email"] == "pm@example.com" else u
                     for u in seed["users"]]
    kind = getattr(request, "param", Sandbox)
    sb = kind(seed=seed)
    with serve(sb) as server, engine.connect(server.url, api_key=sb.admin_api_key,
                                             retry=FAST) as client:
        yield World(sb, client, tmp_path)


def _recipients(handler: dict[str, Any]) -> list[tuple[str, Any]]:
    """The recipients of a stored handler as (type, id or value), sorted (Metabase keeps no
    order: the sandbox shuffles them, see sandbox/notifications.py)."""
    out = []
    for r in handler["recipients"]:
        if r["type"] == "notification-recipient/user":
            out.append((r["type"], r["user_id"]))
        elif r["type"] == "notification-recipient/group":
            out.append((r["type"], r["permissions_group_id"]))
        else:
            out.append((r["type"], r["details"]["value"]))
    return sorted(out, key=str)


def _ids(world: World) -> tuple[int, int, int, int]:
    """The ids of pm@example.com, the admin (our user), 'Data team' and 'pagerduty'."""
    users = {u["email"]: u["id"] for u in world.raw("GET", "/api/user")["data"]}
    me = world.raw("GET", "/api/user/current")["id"]
    (group,) = [g["id"] for g in world.raw("GET", "/api/permissions/group")
                if g["name"] == "Data team"]
    (hook,) = [c["id"] for c in world.raw("GET", "/api/channel") if c["name"] == "pagerduty"]
    return users["pm@example.com"], me, group, hook


def test_a_declared_alert_is_stored_whole_then_updated_in_place_then_deactivated(
    world: World,
) -> None:
    line = LINE
    world.declare(question("full", FULL, line))
    world.apply()
    (stored,) = world.notifications()
    pm, me, group, hook = _ids(world)
    assert stored["active"] is True and stored["creator_id"] == me
    assert stored["payload"]["card_id"] == world.card_id("full")
    assert stored["payload"]["send_condition"] == "has_result"
    assert stored["payload"]["send_once"] is True
    assert [s["cron_schedule"] for s in stored["subscriptions"]] == [to_cron(EVERY_DAY)]
    handlers = {h["channel_type"]: h for h in stored["handlers"]}
    assert sorted(handlers) == ["channel/email", "channel/http", "channel/slack"]
    assert _recipients(handlers["channel/email"]) == [
        ("notification-recipient/group", group),
        ("notification-recipient/raw-value", "outsider@example.com"),
        ("notification-recipient/user", pm),
    ]
    assert _recipients(handlers["channel/slack"]) == [("notification-recipient/raw-value",
                                                        "#alerts")]
    # sent with the channel's Slack id, as the instance lists it, so that a rename is followed
    (field,) = world.raw("GET", "/api/pulse/form_input")["channels"]["slack"]["fields"]
    (slack_id,) = [o["id"] for o in field["options"] if o["displayName"] == "#alerts"]
    assert [r["details"] for r in handlers["channel/slack"]["recipients"]] == [
        {"value": "#alerts", "channel_id": slack_id}]
    assert handlers["channel/http"]["channel_id"] == hook
    assert world.plan().plan.is_empty

    edited = FULL.replace("has_rows", "above_goal").replace("once: true", "once: false")
    world.declare(question("full", edited, line))
    result = world.plan()
    assert [(c.action, c.address) for c in result.plan.changes if c.kind == "alert"] == [
        ("update", "alert 1 of full")]
    engine.apply(result, world.client, force=True)
    (updated,) = world.notifications()
    assert updated["id"] == stored["id"]
    assert updated["payload"]["send_condition"] == "goal_above"
    assert updated["payload"]["send_once"] is False
    assert updated["payload"]["card_id"] == world.card_id("full")
    assert [s["cron_schedule"] for s in updated["subscriptions"]] == [to_cron(EVERY_DAY)]

    world.declare(question("full", "", line))
    kept = world.apply()
    assert not [c for c in kept.done if c.kind == "alert"]
    assert world.notifications()[0]["active"] is True  # without --prune nothing is retired
    pruned = world.apply(prune=True)
    assert [(c.action, c.live_id) for c in pruned.done if c.kind == "alert"] == [
        ("delete", stored["id"])]
    (retired,) = world.notifications()
    assert retired["id"] == stored["id"] and retired["active"] is False


def daily_body(world: World, key: str) -> dict[str, Any]:
    """The body of DAILY on question ``key`` as a create sends it (pm@example.com by id)."""
    return {
        "payload_type": "notification/card",
        "payload": {"card_id": world.card_id(key), "send_condition": "has_result",
                    "send_once": False},
        "subscriptions": [{"type": "notification-subscription/cron",
                           "cron_schedule": to_cron(EVERY_DAY)}],
        "handlers": [{"channel_type": "channel/email", "recipients": [
            {"type": "notification-recipient/user", "user_id": _ids(world)[0]}]}],
    }


def test_an_alert_create_whose_answer_is_lost_is_found_not_made_twice(world: World) -> None:
    world.declare(question("lost"))
    world.apply()
    # the same alert by another user: not ours, so never taken for the one we made
    theirs = world.raw("POST", "/api/notification", daily_body(world, "lost"), key=PM_KEY)
    world.declare(question("lost", DAILY))
    result = world.plan()
    world.sb.inject_failure("POST", "^/api/notification$", 500, after_commit=True)
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.done if c.kind == "alert"] == ["alert 1 of lost"]
    me = _ids(world)[1]
    stored = world.notifications()
    assert [(n["creator_id"] == me, n["active"]) for n in stored] == [(False, True),
                                                                      (True, True)]
    assert stored[0]["id"] == theirs["id"]
    posts = [r for r in world.sb.requests if (r.method, r.path) == ("POST", "/api/notification")]
    assert len(posts) == 2  # theirs, then our one create: its lost answer was looked up
    assert world.plan().plan.is_empty


def test_lost_answers_are_looked_up_on_the_alert_s_own_card(world: World) -> None:
    result = two_on_a_one_on_b(world, first="b")
    # b's create and a's first create lose their answers; a's look-up must not take b's
    # identical alert for its own (it would then count a's real one as a racing apply's and
    # retire a's second alert for it)
    world.sb.inject_failure("POST", "^/api/notification$", 500, after_commit=True, times=2)
    report = engine.apply(result, world.client, force=True, concurrency=1)
    assert sorted(c.address for c in report.done if c.kind == "alert") == [
        "alert 1 of a", "alert 1 of b", "alert 2 of a"]
    active = [n["payload"]["card_id"] for n in world.notifications() if n["active"]]
    assert sorted(active) == sorted([world.card_id("a")] * 2 + [world.card_id("b")])
    assert world.plan().plan.is_empty


def test_an_alert_create_fails_in_words_when_its_card_is_unknown(world: World) -> None:
    world.declare(question("gone"))
    world.apply()
    world.declare(question("gone", DAILY))
    result = world.plan()
    (change,) = [c for c in result.plan.changes if c.kind == "alert"]
    ctx = WriteContext(result.plan, world.client, result.live, 1, None)
    ctx.cards.clear()
    with pytest.raises(ApiError) as raised:
        KIND.write(change, ctx)
    assert str(raised.value) == "card gone does not exist, so its alert cannot be written"
    assert world.notifications() == []


def two_on_a_one_on_b(world: World, first: str = "a") -> engine.PlanResult:
    """Questions a and b made; the plan of two identical alerts on a and one on b (the
    question ``first`` declared first)."""
    world.declare(question("a"), question("b"))
    world.apply()
    declared = {"a": question("a", DAILY + DAILY), "b": question("b", DAILY)}
    world.declare(declared[first], *(v for k, v in declared.items() if k != first))
    return world.plan()


def test_alerts_a_racing_apply_made_after_the_snapshot_are_used_one_for_one(
    world: World,
) -> None:
    result = two_on_a_one_on_b(world)
    assert [c.action for c in result.plan.changes if c.kind == "alert"] == ["create"] * 3
    # a racing run made one of a's two alerts, and one for b that was deactivated since
    raced = world.raw("POST", "/api/notification", daily_body(world, "a"))
    inactive = world.raw("POST", "/api/notification", daily_body(world, "b"))
    world.client.notifications.set_active(inactive["id"], False)
    # and another user made b's alert meanwhile: not ours, so it stands for none of ours
    world.raw("POST", "/api/notification", daily_body(world, "b"), key=PM_KEY)
    world.sb.reset_log()
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.made_elsewhere] == ["alert 1 of a"]
    assert sorted(c.address for c in report.done if c.kind == "alert") == [
        "alert 1 of b", "alert 2 of a"]
    active = [n for n in world.notifications() if n["active"]]
    assert sorted(n["payload"]["card_id"] for n in active) == sorted(
        [world.card_id("a")] * 2 + [world.card_id("b")] * 2)
    assert raced["id"] in {n["id"] for n in active}
    posts = [r for r in world.sb.requests if (r.method, r.path) == ("POST", "/api/notification")]
    assert len(posts) == 2
    assert world.plan().plan.is_empty


@pytest.mark.parametrize("first", ["a", "b"])  # b first: settle goes on past an alert of b
def test_alerts_raced_before_ours_keep_theirs_and_retire_ours_one_for_one(
    world: World, first: str,
) -> None:
    result = two_on_a_one_on_b(world)
    ctx = WriteContext(result.plan, world.client, result.live, 1, None)
    todo = KIND.prepare([c for c in result.plan.changes if c.kind == "alert"], ctx)
    assert len(todo) == 3
    # the racing run's alert for a lands after prepare looked and before our creates
    theirs = world.raw("POST", "/api/notification", daily_body(world, "a"))
    ctx.phase(sorted(todo, key=lambda c: c.key != first), partial(KIND.write, ctx=ctx))
    assert len(ctx.created_alerts) == 3
    assert ctx.created_alerts[min(ctx.created_alerts)].key == first
    KIND.settle(ctx)
    stored = {n["id"]: n for n in world.notifications()}
    ours_on_a = sorted(i for i, c in ctx.created_alerts.items() if c.key == "a")
    assert stored[theirs["id"]]["active"] is True
    # one of ours on a is retired for theirs (the first made), the other stays; b is untouched
    assert [stored[i]["active"] for i in ours_on_a] == [False, True]
    retired = [c for c in ctx.report.done if c.duplicate]
    assert retired == [Change("delete", "alert", f"alert a#{ours_on_a[0]}", key="a",
                              live_id=ours_on_a[0], duplicate=True,
                              effects=(f"{RACE}: alert #{theirs['id']} is kept",))]
    assert sum(1 for n in stored.values() if n["active"]) == 3


def test_settle_does_nothing_after_a_stopped_run(world: World) -> None:
    world.declare(question("a"))
    world.apply()
    world.declare(question("a", DAILY))
    result = world.plan()
    ctx = WriteContext(result.plan, world.client, result.live, 1, None)
    (change,) = KIND.prepare([c for c in result.plan.changes if c.kind == "alert"], ctx)
    first = world.raw("POST", "/api/notification", daily_body(world, "a"))
    KIND.write(change, ctx)
    ctx.stopped = True
    KIND.settle(ctx)
    assert all(n["active"] for n in world.notifications())
    assert first["active"] is True


def test_a_create_that_failed_is_made_again_not_taken_from_another_user_s_alert(
    world: World,
) -> None:
    world.declare(question("retry"))
    world.apply()
    # identical to ours but by another user (in the snapshot), and a different one by them
    # made after it: neither is the alert our failed create may have made
    twin = world.raw("POST", "/api/notification", daily_body(world, "retry"), key=PM_KEY)
    world.declare(question("retry", DAILY))
    result = world.plan()
    other = daily_body(world, "retry")
    other["payload"]["send_condition"] = "goal_above"
    later = world.raw("POST", "/api/notification", other, key=PM_KEY)
    world.sb.inject_failure("POST", "^/api/notification$", 500)  # before anything is stored
    world.sb.reset_log()
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.done if c.kind == "alert"] == ["alert 1 of retry"]
    me = _ids(world)[1]
    stored = world.notifications()
    assert [(n["id"], n["active"]) for n in stored if n["creator_id"] != me] == [
        (twin["id"], True), (later["id"], True)]
    (ours,) = [n for n in stored if n["creator_id"] == me]
    assert ours["active"] is True and ours["payload"]["send_condition"] == "has_result"
    posts = [r for r in world.sb.requests if (r.method, r.path) == ("POST", "/api/notification")]
    assert len(posts) == 2  # the failed one, then the one that made it
    assert world.plan().plan.is_empty


@pytest.mark.parametrize("world", [FiresAfterLostCreate], indirect=True)
def test_a_lost_create_is_found_even_once_its_alert_has_fired_and_gone_inactive(
    world: World,
) -> None:
    world.declare(question("once"))
    world.apply()
    world.declare(question("once", DAILY + "        once: true\n"))
    result = world.plan()
    world.sb.inject_failure("POST", "^/api/notification$", 500, after_commit=True)
    world.sb.reset_log()
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.done if c.kind == "alert"] == ["alert 1 of once"]
    (stored,) = world.notifications()
    assert stored["active"] is False and stored["payload"]["send_once"] is True
    posts = [r for r in world.sb.requests if (r.method, r.path) == ("POST", "/api/notification")]
    assert len(posts) == 1  # looked up among the inactive alerts too, so never sent twice
    assert world.plan().plan.is_empty  # a send-once alert that fired is not reactivated


def test_lost_answers_of_identical_alerts_on_one_card_are_each_found_once(
    world: World,
) -> None:
    world.declare(question("c"))
    world.apply()
    world.declare(question("c", DAILY * 3))
    result = world.plan()
    # the first two creates lose their answers: the second look-up must not take the first
    # alert for its own (then the second is counted as a racing apply's, older than the
    # third, and settle retires the third)
    world.sb.inject_failure("POST", "^/api/notification$", 500, after_commit=True, times=2)
    report = engine.apply(result, world.client, force=True, concurrency=1)
    assert sorted(c.address for c in report.done if c.kind == "alert") == [
        "alert 1 of c", "alert 2 of c", "alert 3 of c"]
    assert [n["active"] for n in world.notifications()] == [True] * 3
    assert world.plan().plan.is_empty


def test_a_failed_create_is_made_again_despite_an_identical_alert_of_ours_on_another_card(
    world: World,
) -> None:
    world.declare(question("a"), question("b"))
    world.apply()
    world.declare(question("a"), question("b", DAILY))
    result = world.plan()
    # made meanwhile with our credentials on card a (by hand, or by a racing run): the same
    # alert in every compared field, but not on b, so not the one b's failed create may have made
    elsewhere = world.raw("POST", "/api/notification", daily_body(world, "a"))
    world.sb.inject_failure("POST", "^/api/notification$", 500)  # before anything is stored
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.done if c.kind == "alert"] == ["alert 1 of b"]
    by_card = {n["payload"]["card_id"]: n["id"] for n in world.notifications() if n["active"]}
    assert sorted(by_card) == sorted([world.card_id("a"), world.card_id("b")])
    assert by_card[world.card_id("a")] == elsewhere["id"]
