"""Card writes over HTTP against the sandbox: the bodies ``Cards.write`` sends to ``/api/card``.

The card kind's ``write``, ``prepare`` and ``settle`` are checked by the request bodies the
sandbox received and the cards it stored (raw JSON, not metabase-guard's own view): a create
sent whole in the instance's query format, an update that sends only what changed (the PUT
is a partial update: metabase/metabase src/metabase/queries/models/card.clj, update-card!),
a card restored from the Trash, a create whose answer is lost, and the cards a racing apply
made between the plan and the apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.identity import COLLECTION_MARK, compose_description
from metabase_guard.reconcile.plan import Change, FieldChange
from metabase_guard.sandbox import Sandbox, SandboxResponse
from tests.reconcile.test_alert_writes import (
    DAILY,
    LINE,
    PM_KEY,
    World,
    question,
)
from tests.reconcile.test_alert_writes import world as served_world  # noqa: F401  (a fixture)

SECOND_DB = "Archive"


class Recording(Sandbox):
    """The demo sandbox with a second database, keeping the body of every card write."""

    def __init__(self, *, seed: Mapping[str, Any], **kwargs: Any) -> None:
        databases = [*seed["databases"], {"name": SECOND_DB, "engine": "postgres",
                                          "tables": "default"}]
        super().__init__(seed={**seed, "databases": databases}, **kwargs)
        self.card_writes: list[tuple[str, str, Any]] = []
        #: a card name: its next create is made twice, first as a racing apply's, then ours
        self.race_create_of: str | None = None

    def handle(self, method: str, path: str, query: Mapping[str, list[str]],
               headers: Mapping[str, str], body: bytes) -> SandboxResponse:
        if method in ("POST", "PUT") and path.startswith("/api/card"):
            self.card_writes.append((method, path, json.loads(body) if body else None))
        if ((method, path) == ("POST", "/api/card") and self.race_create_of is not None
                and json.loads(body)["name"] == self.race_create_of):
            self.race_create_of = None
            raced = super().handle(method, path, query, headers, body)
            assert raced.status == 200, raced.text
        return super().handle(method, path, query, headers, body)


pytestmark = pytest.mark.parametrize("served_world", [Recording], indirect=True)


@pytest.fixture
def world(served_world: World) -> World:  # noqa: F811  (the fixture under its import name)
    """test_alert_writes' world, served by a :class:`Recording` sandbox."""
    return served_world


def _sandbox(world: World) -> Recording:
    sb = world.sb
    assert isinstance(sb, Recording)
    return sb


def _writes(world: World) -> list[tuple[str, str, Any]]:
    """The card writes received since the last call (the request bodies, parsed)."""
    sb = _sandbox(world)
    out = list(sb.card_writes)
    sb.card_writes.clear()
    return out


def _ids(world: World) -> tuple[dict[str, int], dict[str, int]]:
    """Database ids and collection ids, by name."""
    databases = {d["name"]: d["id"] for d in world.raw("GET", "/api/database")["data"]}
    collections = {c["name"]: c["id"] for c in world.raw("GET", "/api/collection")
                   if isinstance(c["id"], int)}
    return databases, collections


def _mbql5(database: int, sql: str) -> dict[str, Any]:
    return {"lib/type": "mbql/query", "database": database,
            "stages": [{"lib/type": "mbql.stage/native", "native": sql}]}


def _card(world: World, key: str) -> dict[str, Any]:
    card: dict[str, Any] = world.raw("GET", f"/api/card/{world.card_id(key)}")
    return card


def test_a_created_card_is_sent_whole_in_the_instance_query_format(world: World) -> None:
    world.declare(question("made", shape=LINE))
    world.apply()
    databases, collections = _ids(world)
    (write,) = _writes(world)
    assert write[:2] == ("POST", "/api/card")
    # 0.61 stores MBQL 5: docs/compatibility.md promises it is written so from 0.57 on
    assert write[2] == {
        "name": "Check made",
        "type": "question",
        "description": compose_description(None, "made"),
        "display": "line",
        "collection_id": collections["Alert writes"],
        "dataset_query": _mbql5(databases["Warehouse"], "SELECT 'a' AS day, 1 AS n"),
        "visualization_settings": {"graph.show_goal": True, "graph.goal_value": 3.0,
                                   "graph.goal_label": "Goal"},
    }
    stored = _card(world, "made")
    assert (stored["type"], stored["display"], stored["archived"]) == ("question", "line", False)


def _declare(world: World, *, name: str = "Check edit", shape: str = LINE,
             collection: str = "Alert writes", database: str = "Warehouse",
             alerts: str = "") -> None:
    world.declare(question("edit", alerts, shape)
                  .replace("name: Check edit", f"name: {name}")
                  .replace("collection: Alert writes", f"collection: {collection}")
                  .replace("database: Warehouse", f"database: {database}"))


def _puts(world: World, card_id: int) -> list[Any]:
    """Apply, then the bodies of the PUTs of card ``card_id``; the next plan is empty."""
    world.apply()
    sent = [body for method, path, body in _writes(world)
            if (method, path) == ("PUT", f"/api/card/{card_id}")]
    assert world.plan().plan.is_empty
    return sent


def test_an_update_sends_only_what_changed(world: World) -> None:
    _declare(world)
    world.apply()
    card_id = world.card_id("edit")
    databases, _ = _ids(world)
    _writes(world)

    # a rename in the same run as a new alert: the alert goes on the renamed card
    _declare(world, name="Renamed", alerts=DAILY)
    result = world.plan()
    world.sb.reset_log()
    engine.apply(result, world.client, force=True)
    # no card to create: the cards are not listed again for racing applies' copies
    assert [(r.method, r.path) for r in world.sb.requests if r.path.startswith("/api/card")] == [
        ("PUT", f"/api/card/{card_id}")]
    assert [body for _, _, body in _writes(world)] == [{"name": "Renamed"}]
    assert world.raw("GET", f"/api/card/{card_id}")["name"] == "Renamed"
    (alert,) = world.notifications()
    assert alert["payload"]["card_id"] == card_id

    sql = LINE.replace("1 AS n", "2 AS n")
    _declare(world, name="Renamed", shape=sql)
    assert _puts(world, card_id) == [
        {"dataset_query": _mbql5(databases["Warehouse"], "SELECT 'a' AS day, 2 AS n")}]

    _declare(world, name="Renamed", shape=sql, database=SECOND_DB)
    assert _puts(world, card_id) == [
        {"dataset_query": _mbql5(databases[SECOND_DB], "SELECT 'a' AS day, 2 AS n")}]
    assert world.raw("GET", f"/api/card/{card_id}")["database_id"] == databases[SECOND_DB]

    _declare(world, name="Renamed", shape=sql, database=SECOND_DB, collection="Moved cards")
    sent = _puts(world, card_id)
    moved_to = _ids(world)[1]["Moved cards"]
    assert sent == [{"collection_id": moved_to}]
    assert world.raw("GET", f"/api/card/{card_id}")["collection_id"] == moved_to


def _made_then_set_in_the_ui(world: World, settings: dict[str, Any], shape: str = LINE) -> int:
    """Card ``edit`` made, then ``settings`` added to it by hand; the plan stays empty."""
    _declare(world, shape=shape)
    world.apply()
    card_id = world.card_id("edit")
    current = world.raw("GET", f"/api/card/{card_id}")["visualization_settings"]
    world.raw("PUT", f"/api/card/{card_id}",
              {"visualization_settings": {**current, **settings}})
    assert world.plan().plan.is_empty
    _writes(world)
    return card_id


def test_a_goal_or_display_change_sends_the_settings_keeping_keys_not_managed(
    world: World,
) -> None:
    # a key set in the UI that metabase-guard does not manage: no diff, and kept on writes
    card_id = _made_then_set_in_the_ui(world, {"graph.x_axis.title_text": "Day"})

    _declare(world, shape=LINE.replace("value: 3", "value: 5"))
    assert _puts(world, card_id) == [{"visualization_settings": {
        "graph.x_axis.title_text": "Day", "graph.show_goal": True, "graph.goal_value": 5.0,
        "graph.goal_label": "Goal"}}]

    _declare(world, shape=LINE.replace("value: 3", "value: 5").replace("line", "bar"))
    assert _puts(world, card_id) == [{"display": "bar", "visualization_settings": {
        "graph.x_axis.title_text": "Day", "graph.show_goal": True, "graph.goal_value": 5.0,
        "graph.goal_label": "Goal"}}]
    stored = world.raw("GET", f"/api/card/{card_id}")
    assert stored["display"] == "bar"
    assert stored["visualization_settings"]["graph.goal_value"] == 5.0


def test_a_declared_metric_or_dimension_is_written_and_its_change_sent(world: World) -> None:
    shape = LINE + "    metric: n\n    dimension: day\n"
    _declare(world, shape=shape)
    world.apply()
    ((method, _, body),) = _writes(world)
    assert method == "POST"
    assert (body["visualization_settings"]["graph.metrics"],
            body["visualization_settings"]["graph.dimensions"]) == (["n"], ["day"])
    card_id = world.card_id("edit")
    expected = {"graph.show_goal": True, "graph.goal_value": 3.0, "graph.goal_label": "Goal",
                "graph.metrics": ["n"], "graph.dimensions": ["day"]}

    _declare(world, shape=shape.replace("metric: n", "metric: m"))
    assert [c.fields for c in world.plan().plan.changes] == [
        (FieldChange("metric", "n", "m"),)]
    assert _puts(world, card_id) == [{"visualization_settings": {**expected,
                                                                 "graph.metrics": ["m"]}}]

    _declare(world, shape=shape.replace("metric: n", "metric: m").replace("day\n", "week\n"))
    assert [c.fields for c in world.plan().plan.changes] == [
        (FieldChange("dimension", "day", "week"),)]
    assert _puts(world, card_id) == [{"visualization_settings": {
        **expected, "graph.metrics": ["m"], "graph.dimensions": ["week"]}}]


def test_a_card_an_undeclared_metric_was_set_on_in_the_ui_is_left_as_it_is(
    world: World,
) -> None:
    _made_then_set_in_the_ui(world, {"graph.metrics": ["n"], "graph.dimensions": ["day"]})


def test_a_card_in_a_copy_of_its_collection_is_moved_to_the_kept_one(world: World) -> None:
    _declare(world)
    world.apply()
    card_id = world.card_id("edit")
    kept = _ids(world)[1]["Alert writes"]
    copy = world.raw("POST", "/api/collection", {"name": "Alert writes",
                                                 "description": COLLECTION_MARK})["id"]
    world.raw("PUT", f"/api/card/{card_id}", {"collection_id": copy})
    _writes(world)
    result = world.plan()
    (change,) = [c for c in result.plan.changes if c.kind == "card"]
    assert change.fields == (
        FieldChange("collection", f"Alert writes (copy #{copy})", "Alert writes"),)
    engine.apply(result, world.client, force=True)
    sent = [body for method, path, body in _writes(world) if path == f"/api/card/{card_id}"]
    assert sent == [{"collection_id": kept}]
    assert world.raw("GET", f"/api/card/{card_id}")["collection_id"] == kept


def test_a_card_in_the_trash_is_restored_in_place_into_its_collection(world: World) -> None:
    world.declare(question("trashed", DAILY, LINE))
    world.apply()
    card_id = world.card_id("trashed")
    # renamed in the UI, then moved to the Trash
    world.raw("PUT", f"/api/card/{card_id}", {"name": "Old name"})
    world.raw("PUT", f"/api/card/{card_id}", {"archived": True})
    assert world.notifications() == []  # archiving deletes the card's alerts
    _writes(world)
    result = world.plan()
    (change,) = [c for c in result.plan.changes if c.kind == "card"]
    assert (change.action, change.address) == ("update", "card trashed")
    assert change.fields == (FieldChange("archived", True, False),
                             FieldChange("name", "Old name", "Check trashed"))
    engine.apply(result, world.client, force=True)
    sent = [body for method, path, body in _writes(world) if path == f"/api/card/{card_id}"]
    assert sent == [{"archived": False, "name": "Check trashed",
                     "collection_id": _ids(world)[1]["Alert writes"]}]
    stored = world.raw("GET", f"/api/card/{card_id}")
    assert (stored["archived"], stored["name"]) == (False, "Check trashed")
    (alert,) = world.notifications()  # and its alert is made again
    assert (alert["active"], alert["payload"]["card_id"]) == (True, card_id)
    assert world.plan().plan.is_empty


def _card_posts(world: World) -> int:
    return sum(1 for method, path, _ in _writes(world) if (method, path) == ("POST", "/api/card"))


def _marked(world: World, key: str) -> list[dict[str, Any]]:
    """Every stored card with the mark of ``key``, archived ones too."""
    return [c for c in world.raw("GET", "/api/card", f="all")
            + world.raw("GET", "/api/card", f="archived")
            if c["description"] == compose_description(None, key)]


def _second_question(world: World, key: str) -> None:
    """A managed card ``first`` made, then ``key`` (with an alert) declared after it: a
    look-up by marker then has a card of another key to skip."""
    world.declare(question("first"))
    world.apply()
    world.declare(question("first"), question(key, DAILY))
    _writes(world)


@pytest.mark.parametrize(("landed", "posts"), [(True, 1), (False, 2)])
def test_a_create_answered_by_a_server_error_is_looked_up_and_made_only_if_missing(
    world: World, landed: bool, posts: int,
) -> None:
    _second_question(world, "lost")
    world.sb.inject_failure("POST", r"^/api/card$", 502, after_commit=landed)
    report = world.apply()
    assert report.ok and not report.made_elsewhere
    assert [c.address for c in report.done if c.action == "delete"] == []
    assert _card_posts(world) == posts
    (card,) = _marked(world, "lost")
    assert card["archived"] is False
    (alert,) = world.notifications()
    assert alert["payload"]["card_id"] == card["id"]
    assert world.plan().plan.is_empty


def _racing_card(world: World, key: str, api_key: str | None = None) -> dict[str, Any]:
    """POST the card of ``key`` as a racing apply would (or as ``api_key``'s user)."""
    databases, collections = _ids(world)
    body = {"name": f"Check {key}", "type": "question",
            "description": compose_description(None, key), "display": "scalar",
            "collection_id": collections["Alert writes"] if api_key is None else None,
            "dataset_query": _mbql5(databases["Warehouse"], "SELECT 1 AS n"),
            "visualization_settings": {}}
    made: dict[str, Any] = world.raw("POST", "/api/card", body, key=api_key)
    return made


def test_a_card_a_racing_apply_made_after_the_snapshot_is_used_not_made_again(
    world: World,
) -> None:
    _second_question(world, "raced")
    result = world.plan()
    raced = _racing_card(world, "raced")
    _writes(world)
    report = engine.apply(result, world.client, force=True)
    assert [c.address for c in report.made_elsewhere] == ["card raced"]
    assert _card_posts(world) == 0
    assert [c["id"] for c in _marked(world, "raced")] == [raced["id"]]
    (alert,) = world.notifications()
    assert alert["payload"]["card_id"] == raced["id"]


def test_a_marked_card_another_user_made_after_the_snapshot_is_not_taken(
    world: World,
) -> None:
    _second_question(world, "theirs")
    result = world.plan()
    theirs = _racing_card(world, "theirs", api_key=PM_KEY)
    _writes(world)
    report = engine.apply(result, world.client, force=True)
    assert report.ok and not report.made_elsewhere
    assert _card_posts(world) == 1
    me = world.raw("GET", "/api/user/current")["id"]
    (ours,) = [c for c in _marked(world, "theirs") if c["id"] != theirs["id"]]
    assert ours["creator_id"] == me and theirs["creator_id"] != me
    (alert,) = world.notifications()
    assert alert["payload"]["card_id"] == ours["id"]


def test_a_card_a_racing_apply_made_first_during_the_create_is_kept_and_ours_retired(
    world: World,
) -> None:
    # two new cards; the second in key order is the raced one, so the first is settled too
    world.declare(question("a-plain"), question("both", DAILY))
    _sandbox(world).race_create_of = "Check both"
    report = world.apply()
    assert report.ok
    assert [c["archived"] for c in _marked(world, "a-plain")] == [False]
    first, second = sorted(_marked(world, "both"), key=lambda c: c["id"])
    assert (first["archived"], second["archived"]) == (False, True)
    (retired,) = [c for c in report.done if c.action == "delete"]
    assert retired == Change(
        "delete", "card", f"card both#{second['id']}", key="both", live_id=second["id"],
        effects=(f"{RACE}: card #{first['id']}, created first, is kept",), duplicate=True)
    (alert,) = world.notifications()
    assert alert["payload"]["card_id"] == first["id"]
    assert world.plan().plan.is_empty


def test_the_settings_sent_touch_only_the_goal_keys_of_the_display_family(world: World) -> None:
    progress = "    sql: SELECT 1 AS n\n    display: progress\n    goal: {value: 30}\n"
    # a graph goal left over from when it was a line: not this family's, so kept as it is
    leftover = {"graph.goal_value": 9, "graph.show_goal": True, "graph.goal_label": "Old"}
    card_id = _made_then_set_in_the_ui(world, leftover, progress)
    assert world.raw("GET", f"/api/card/{card_id}")["visualization_settings"] == {
        **leftover, "progress.goal": 30.0}
    _declare(world, shape=progress.replace("30", "40"))
    assert _puts(world, card_id) == [{"visualization_settings": {**leftover,
                                                                 "progress.goal": 40.0}}]
    # its goal removed: the progress goal goes, the leftover stays
    _declare(world, shape=progress.replace("    goal: {value: 30}\n", ""))
    assert _puts(world, card_id) == [{"visualization_settings": leftover}]

    labelled = LINE.replace("{value: 3}", "{value: 3, label: Target}")
    world.declare(question("line", shape=labelled))
    world.apply()
    ((_, _, body),) = _writes(world)
    assert body["visualization_settings"] == {"graph.show_goal": True, "graph.goal_value": 3.0,
                                              "graph.goal_label": "Target"}
    line_id = world.card_id("line")
    settings = world.raw("GET", f"/api/card/{line_id}")["visualization_settings"]
    world.raw("PUT", f"/api/card/{line_id}",
              {"visualization_settings": {**settings, "progress.goal": 7}})
    _writes(world)
    # the goal removed: the graph goal keys go, the progress one stays
    world.declare(question("line", shape=LINE.replace("    goal: {value: 3}\n", "")))
    assert _puts(world, line_id) == [{"visualization_settings": {"progress.goal": 7}}]
