"""Two ``apply`` processes started together converge: one card per key, one active alert per
declared alert, one collection per path, after at most one more apply (issue 9)."""

from __future__ import annotations

import time

import pytest

from metabase_guard.reconcile.identity import COLLECTION_MARK, compose_description
from tests.integrity.conftest import PM_KEY, Served

N = 6


def assert_one_of_each(served: Served) -> None:
    names = served.cards_per_name()
    assert names == {f"Race check {i}": 1 for i in range(N)}, names
    per_card = served.active_alerts_per_card()
    race_ids = {c["id"] for c in served.live_cards() if c["name"].startswith("Race")}
    assert {i: per_card.get(i, 0) for i in race_ids} == {i: 1 for i in race_ids}, per_card
    paths = served.collections_per_path()
    assert max(paths.values()) == 1, paths


# a process starts in ~0.4 s and applies in ~1 s at this latency: these offsets put the second
# run's snapshot before, during and after the first run's collection, card and alert creates
@pytest.mark.parametrize("offset", [0.0, 0.1, 0.25, 0.45])
def test_two_racing_applies_and_one_more_leave_one_object_per_key(
    served: Served, offset: float
) -> None:
    served.sb.latency = 0.04
    first = served.start("apply", "--yes")
    time.sleep(offset)
    second = served.start("apply", "--yes")
    for proc in (first, second):
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    served.sb.latency = 0.0
    again = served.run("apply", "--yes")
    assert again.returncode == 0, again.stderr
    assert_one_of_each(served)
    settled = served.run("plan", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout  # and a further run has nothing to do


def _copy_of_everything(served: Served) -> dict[str, int]:
    """What a race leaves when both runs miss each other: a second tree made by our user."""
    top = served.post("/api/collection", {"name": "Race checks", "description": COLLECTION_MARK})
    teams = {i: served.post("/api/collection", {"name": f"Team {i}", "parent_id": top["id"],
                                                "description": COLLECTION_MARK})
             for i in (0, 1)}
    ids: dict[str, int] = {"collection": top["id"]}
    for i in range(N):
        card = served.post("/api/card", {
            "name": f"Race check {i}", "display": "scalar", "visualization_settings": {},
            "collection_id": teams[i % 2]["id"],
            "description": compose_description(None, f"race-{i}"),
            "dataset_query": {"database": 1, "type": "native",
                              "native": {"query": f"SELECT {i} AS n"}},
        })
        ids[f"race-{i}"] = card["id"]
    return ids


def test_copies_by_our_user_are_retired_by_the_next_apply(served: Served) -> None:
    assert served.run("apply", "--yes").returncode == 0
    copies = _copy_of_everything(served)  # newer ids than the first apply's objects
    assert served.cards_per_name()["Race check 0"] == 2
    plan = served.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("duplicate created by a concurrent apply") >= N + 3, plan.stdout
    applied = served.run("apply", "--yes")  # no --prune, no --force: copies are not a prune
    assert applied.returncode == 0, applied.stderr
    assert_one_of_each(served)
    kept = {c["name"]: c["id"] for c in served.live_cards()}
    assert all(kept[f"Race check {i}"] != copies[f"race-{i}"] for i in range(N))  # oldest kept
    assert served.run("plan", "--detailed-exitcode").returncode == 0


def test_a_copy_of_our_alert_is_deactivated_and_the_oldest_kept(served: Served) -> None:
    assert served.run("apply", "--yes").returncode == 0
    alerts = served.get("/api/notification", payload_type="notification/card")
    original = min(alerts, key=lambda n: n["id"])
    body = {k: original[k] for k in ("payload_type", "payload", "subscriptions", "handlers")}
    copy = served.post("/api/notification", body)
    assert served.active_alerts_per_card()[original["payload"]["card_id"]] == 2
    assert served.run("apply", "--yes").returncode == 0
    stored = {n["id"]: n["active"] for n in served.get(
        "/api/notification", payload_type="notification/card", include_inactive="true")}
    assert stored[original["id"]] is True and stored[copy["id"]] is False
    assert_one_of_each(served)


def test_a_copy_made_by_another_user_is_left_alone_and_reported(served: Served) -> None:
    assert served.run("apply", "--yes").returncode == 0
    mine = next(c for c in served.live_cards() if c["name"] == "Race check 0")
    theirs = served.post("/api/card", {
        "name": "Race check 0", "display": "scalar", "visualization_settings": {},
        "description": mine["description"], "collection_id": mine["collection_id"],
        "dataset_query": {"database": 1, "type": "native",
                          "native": {"query": "SELECT 0 AS n"}},
    }, key=PM_KEY)
    plan = served.run("plan", "--prune", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout
    assert f"card #{theirs['id']}" in plan.stdout and "made in the UI" in plan.stdout
    assert served.run("apply", "--yes", "--prune").returncode == 0
    stored = served.get(f"/api/card/{theirs['id']}")
    assert stored["archived"] is False and stored["description"] == mine["description"]
