"""Collection writes and copies over HTTP against the sandbox: what lands in ``/api/collection``.

In process, so that mutation testing reaches ``Collections.write`` and
``retire_collection_copies``: a path another apply made between the plan and the write, a create
whose answer is lost, a create that loses the race to an older one (ids grow with commits, so
the oldest is kept, as ``metabase/metabase src/metabase/collections_rest/api.clj`` gives each
POST its own row), and copies that hold, or no longer hold, anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from metabase_guard import engine
from metabase_guard.api.client import MetabaseClient
from metabase_guard.api.transport import RetryPolicy
from metabase_guard.errors import ApplyError
from metabase_guard.reconcile.duplicates import RACE
from metabase_guard.reconcile.identity import COLLECTION_MARK
from metabase_guard.reconcile.plan import Change, Unmanaged
from metabase_guard.sandbox import DEMO_SEED, Sandbox, SandboxResponse, load_seed
from metabase_guard.sandbox.server import serve

FAST = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.02, max_retry_after=1.0,
                   max_total=5.0)


@dataclass
class Site:
    """A demo sandbox on a port, an admin client, and a declarations file."""

    sb: Sandbox
    client: MetabaseClient
    path: Path

    def declare(self, *paths: str) -> None:
        """One question per path, ``q0``, ``q1``..., in that order."""
        self.path.write_text("questions:\n" + "".join(
            f"  - key: q{i}\n    name: Check q{i}\n    collection: {path}\n"
            "    database: Warehouse\n    sql: SELECT 1 AS n\n    display: scalar\n"
            for i, path in enumerate(paths)), encoding="utf-8")

    def plan(self, prune: bool = False) -> engine.PlanResult:
        return engine.plan(engine.load([self.path]), self.client, prune=prune)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             **query: str) -> Any:
        """A request as another program would send it (not through metabase-guard)."""
        response = self.sb.handle(method, path, {k: [v] for k, v in query.items()},
                                  {"x-api-key": self.sb.admin_api_key},
                                  json.dumps(body).encode() if body is not None else b"")
        assert response.status == 200, response.text
        return response.json()

    def collection(self, name: str, parent: int | None = None, *, marked: bool = True) -> int:
        body: dict[str, Any] = {"name": name, "parent_id": parent}
        if marked:
            body["description"] = COLLECTION_MARK
        return int(self.call("POST", "/api/collection", body)["id"])

    def named(self, name: str) -> list[dict[str, Any]]:
        """Every collection called ``name``, archived ones too, by id."""
        found = [*self.call("GET", "/api/collection"),
                 *self.call("GET", "/api/collection", archived="true")]
        return sorted((c for c in found if c.get("name") == name), key=lambda c: c["id"])

    def card(self, name: str) -> dict[str, Any]:
        (found,) = [c for c in self.call("GET", "/api/card", f="all")
                    if c["name"] == name and not c["archived"]]
        return dict(found)

    def hand_card(self, collection_id: int) -> int:
        return int(self.call("POST", "/api/card", {
            "name": "Someone's own", "display": "table", "collection_id": collection_id,
            "visualization_settings": {},
            "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 1"}},
        })["id"])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    sb = Sandbox(seed=dict(load_seed(DEMO_SEED)))
    with serve(sb) as server, engine.connect(server.url, api_key=sb.admin_api_key,
                                             retry=FAST) as client:
        yield Site(sb, client, tmp_path / "decl.yaml")


def _collection_changes(result: engine.PlanResult) -> list[Change]:
    return [c for c in result.plan.changes if c.kind == "collection"]


def _posts(site: Site) -> int:
    return site.sb.request_counts()[("POST", "/api/collection")]


def test_a_path_shared_by_several_questions_is_created_once_parents_first(site: Site) -> None:
    site.declare("Shared/A", "Shared/A", "Shared/B", "Shared")
    changes = _collection_changes(site.plan())
    assert changes == [
        Change("create", "collection", "collection Shared", values=(("path", "Shared"),)),
        Change("create", "collection", "collection Shared/A", values=(("path", "Shared/A"),)),
        Change("create", "collection", "collection Shared/B", values=(("path", "Shared/B"),)),
    ]


def test_a_path_made_by_another_apply_since_the_plan_is_used_not_made_again(site: Site) -> None:
    site.declare("Raced/Inner")
    result = site.plan()
    assert [c.address for c in _collection_changes(result)] == [
        "collection Raced", "collection Raced/Inner"]
    # not siblings: an archived one of the same name, and one under another parent
    archived = site.collection("Raced")
    site.call("PUT", f"/api/collection/{archived}", {"archived": True})
    site.collection("Raced", site.collection("Elsewhere"))
    theirs = site.collection("Raced")
    later = site.collection("Raced")  # two made meanwhile: the oldest is the one
    before = _posts(site)
    report = engine.apply(result, site.client, force=True)
    assert report.ok, report.failed
    assert report.made_elsewhere == [_collection_changes(result)[0]]
    assert _posts(site) == before + 1  # only Raced/Inner
    (inner,) = site.named("Inner")
    assert inner["location"] == f"/{theirs}/" and not inner["archived"]
    assert site.card("Check q0")["collection_id"] == inner["id"]
    assert [c["archived"] for c in site.named("Raced") if c["id"] == later] == [False]


def test_a_create_whose_answer_is_lost_is_found_and_not_made_twice(site: Site) -> None:
    site.declare("Lost")
    result = site.plan()
    site.sb.inject_failure("POST", "^/api/collection$", 500, after_commit=True)
    report = engine.apply(result, site.client, force=True)
    assert report.ok, report.failed
    (made,) = site.named("Lost")
    assert not made["archived"]
    assert site.card("Check q0")["collection_id"] == made["id"]
    assert [c.address for c in report.done if c.kind == "collection"] == ["collection Lost"]
    assert report.made_elsewhere == []


def test_a_create_that_failed_before_it_committed_is_tried_again(site: Site) -> None:
    site.declare("Retried")
    result = site.plan()
    site.sb.inject_failure("POST", "^/api/collection$", 500)
    report = engine.apply(result, site.client, force=True)
    assert report.ok, report.failed
    (made,) = site.named("Retried")
    assert site.card("Check q0")["collection_id"] == made["id"]
    assert site.sb.request_counts()[("POST", "/api/collection")] == 2


def test_a_create_that_loses_the_race_is_archived_and_the_older_one_used(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = site.collection("Top", marked=False)
    site.declare("Top/Race")
    result = site.plan()
    handle = site.sb.handle
    first: list[int] = []

    def racing(method: str, path: str, query: Any, headers: Any, body: bytes) -> SandboxResponse:
        # the other apply's POST commits just before ours, after our look for siblings
        if method == "POST" and path == "/api/collection" and not first:
            first.append(0)  # before the nested POST, which comes through here too
            first[0] = site.collection("Race", top)
        return handle(method, path, query, headers, body)

    monkeypatch.setattr(site.sb, "handle", racing)
    report = engine.apply(result, site.client, force=True)
    monkeypatch.undo()
    assert report.ok, report.failed
    kept, ours = site.named("Race")
    assert kept["id"] == first[0] and not kept["archived"]
    assert ours["archived"]
    assert site.card("Check q0")["collection_id"] == kept["id"]
    assert [c for c in report.done if c.kind == "collection"] == [
        Change("delete", "collection", f"collection Top/Race#{ours['id']}", live_id=ours["id"],
               effects=(f"{RACE}: collection #{kept['id']} is kept",), duplicate=True),
        Change("create", "collection", "collection Top/Race", values=(("path", "Top/Race"),)),
    ]
    assert site.plan().plan.changes == ()


def test_copies_are_retired_when_the_plan_empties_them_and_kept_when_they_hold_more(
    site: Site,
) -> None:
    site.declare("Copies/Inner")
    assert engine.apply(site.plan(), site.client, force=True).ok
    (kept,) = site.named("Copies")
    (kept_inner,) = site.named("Inner")
    # copies a racing apply left, each at the path Copies: the first two hold someone's things
    holding_card = site.collection("Copies")
    hand = site.hand_card(holding_card)
    holding_drafts = site.collection("Copies")
    drafts = site.collection("Drafts", holding_drafts, marked=False)
    outer = site.collection("Copies")
    inner = site.collection("Inner", outer)
    card = site.card("Check q0")
    site.call("PUT", f"/api/card/{card['id']}", {"collection_id": inner})

    result = site.plan()
    assert sorted(_collection_changes(result), key=lambda c: c.address) == [
        Change("delete", "collection", f"collection Copies#{outer}", live_id=outer,
               values=(("path", "Copies"),), duplicate=True,
               effects=(f"{RACE}: collection #{kept['id']}, created first, is kept",)),
        Change("delete", "collection", f"collection Copies/Inner#{inner}", live_id=inner,
               values=(("path", "Copies/Inner"),), duplicate=True,
               effects=(f"{RACE}: collection #{kept_inner['id']}, created first, is kept",)),
    ]
    assert [u for u in result.plan.unmanaged if u.address.startswith("collection #")] == [
        Unmanaged(f"collection #{copy}",
                  f"was created by metabase-guard at the path 'Copies' of collection "
                  f"#{kept['id']} ({RACE}?) but still holds 1 item(s) that are not managed "
                  "copies: left alone")
        for copy in (holding_card, holding_drafts)
    ]
    report = engine.apply(result, site.client, force=True)
    assert report.ok, report.failed
    archived = {c["id"]: c["archived"] for c in (*site.named("Copies"), *site.named("Inner"))}
    assert archived == {kept["id"]: False, holding_card: False, holding_drafts: False,
                        outer: True, kept_inner["id"]: False, inner: True}
    assert site.card("Check q0")["collection_id"] == kept_inner["id"]
    assert site.card("Someone's own")["id"] == hand
    assert site.call("GET", f"/api/collection/{drafts}")["archived"] is False


def test_a_copy_is_kept_when_it_gets_a_collection_numbered_like_a_card_the_plan_archives(
    site: Site,
) -> None:
    # Metabase numbers cards and collections apart, so a collection may carry the id of a card
    # the plan archives: only collection deletes count as retiring collections
    filler = site.collection("Filler", marked=False)
    while site.hand_card(filler) < _next_collection(site) + 3:
        pass
    site.declare("Copies", "Copies")
    assert engine.apply(site.plan(), site.client, force=True).ok
    gone = site.card("Check q1")["id"]
    site.declare("Copies")
    copy = site.collection("Copies")
    result = site.plan(prune=True)
    assert [(c.action, c.kind, c.live_id) for c in result.plan.changes] == [
        ("delete", "card", gone), ("delete", "collection", copy)]
    filed: list[int] = []

    def someone_files_a_collection(change: Change, state: str, error: str | None) -> None:
        if change.kind == "collection" and state == "start":
            while _next_collection(site) < gone:
                site.collection("Filler", marked=False)
            filed.append(site.collection("Drafts", copy, marked=False))

    with pytest.raises(ApplyError) as raised:
        engine.apply(result, site.client, force=True, progress=someone_files_a_collection)
    assert filed == [gone]
    assert [(c.live_id, e) for c, e in raised.value.report.failed] == [(
        copy, f"collection #{copy} is no longer empty (1 item(s)), so it is left alone; "
              "run plan again")]
    assert site.call("GET", f"/api/collection/{copy}")["archived"] is False


def _next_collection(site: Site) -> int:
    """The id the next collection gets (ids grow by one per table, like a fresh app DB)."""
    every = [*site.call("GET", "/api/collection"),
             *site.call("GET", "/api/collection", archived="true")]
    return max(c["id"] for c in every if isinstance(c["id"], int)) + 1
