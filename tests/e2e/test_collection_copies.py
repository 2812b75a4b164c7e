"""Copies of a managed collection path (left by racing applies) are archived only while empty.

In process, so that mutation testing reaches ``collections._archive_copy`` (the integrity tests
that race real processes reach it only in a subprocess). Metabase moves what a collection holds
to the Trash with it (``src/metabase/collections_rest/api.clj``), so the copy is looked at again
right before it is archived.
"""

from __future__ import annotations

import pytest

from metabase_guard import engine
from metabase_guard.errors import ApplyError
from metabase_guard.reconcile.identity import COLLECTION_MARK
from metabase_guard.reconcile.plan import Change
from tests.e2e.conftest import Env

RACE = "duplicate created by a concurrent apply"


def _applied(env: Env) -> dict[str, int]:
    """Apply the demo; the id of each collection it made, by name."""
    assert env.run("apply", "--yes").code == 0
    with env.client() as client:
        return {c.name: int(c.id) for c in client.collections.list()
                if isinstance(c.id, int) and c.description == COLLECTION_MARK}


def _archived(env: Env, collection_id: int) -> bool:
    with env.client() as client:
        return client.collections.get(collection_id).archived


def test_nested_empty_copies_are_both_archived_and_the_originals_kept(env: Env) -> None:
    made = _applied(env)
    with env.client() as client:
        outer = int(client.collections.create("Health checks",
                                              description=COLLECTION_MARK).id)
        inner = int(client.collections.create("Recommender", parent_id=outer,
                                              description=COLLECTION_MARK).id)
    plan = env.run("plan")
    assert plan.code == 0, plan.err
    assert f"collection Health checks#{outer}" in plan.out
    assert f"collection Health checks/Recommender#{inner}" in plan.out
    assert f"{RACE}: collection #{made['Health checks']}, created first, is kept" in plan.out
    # the outer copy holds the inner one, which goes too: it is not "still holding" anything
    applied = env.run("apply", "--yes")
    assert applied.code == 0, applied.err
    assert _archived(env, outer) and _archived(env, inner)
    assert not _archived(env, made["Health checks"])
    assert not _archived(env, made["Recommender"])
    again = env.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.out


@pytest.mark.parametrize("filed", ["card", "collection"])
def test_a_copy_that_gets_an_item_after_the_plan_is_left_alone(env: Env, filed: str) -> None:
    made = _applied(env)
    with env.client() as client:
        copy = int(client.collections.create("Pipelines", parent_id=made["Health checks"],
                                             description=COLLECTION_MARK).id)
        result = engine.plan(engine.load(["alerts"]), client)
        deletes = [c for c in result.plan.changes if c.kind == "collection"]
        assert [(c.action, c.live_id) for c in deletes] == [("delete", copy)]

        def someone_files_an_item(change: Change, state: str, error: str | None) -> None:
            if change.kind != "collection" or state != "start":
                return
            if filed == "collection":  # someone's own sub-collection, not a copy
                client.collections.create("Drafts", parent_id=copy)
                return
            client.cards.create({
                "name": "Filed meanwhile", "display": "table", "collection_id": copy,
                "visualization_settings": {},
                "dataset_query": {"database": 1, "type": "native",
                                  "native": {"query": "SELECT 1"}},
            })

        with pytest.raises(ApplyError) as raised:
            engine.apply(result, client, progress=someone_files_an_item)
    report = raised.value.report
    assert [(c.live_id, error) for c, error in report.failed] == [(
        copy, f"collection #{copy} is no longer empty (1 item(s)), so it is left alone; "
              "run plan again")]
    assert not _archived(env, copy)
