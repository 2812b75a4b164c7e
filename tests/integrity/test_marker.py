"""The marker is ownership only as the description's last line (issue 9)."""

from __future__ import annotations

import json

from metabase_guard.reconcile.identity import compose_description, managed_key, user_description
from tests.integrity.conftest import PM_KEY, Served

MENTION = ("Our alert config lives in git as [metabase-guard: race-0], ask Paula.\n"
           "Hand-written notes.")


def test_only_the_last_line_in_the_written_form_is_a_marker() -> None:
    written = compose_description("Hello", "race-0")
    assert managed_key(written) == "race-0"
    assert managed_key(written + "  \r\n\n") == "race-0"  # trailing whitespace is tolerated
    assert managed_key(MENTION) is None
    assert managed_key("[metabase-guard: race-0]") is None  # not the form metabase-guard writes
    assert managed_key(written + "\nP.S. a later line") is None
    assert managed_key("  " + compose_description(None, "race-0")) is None
    assert user_description(MENTION) == MENTION.strip()  # a mention is the author's text
    assert user_description(written) == "Hello"


def test_a_card_that_mentions_a_marker_is_never_changed_or_pruned(served: Served) -> None:
    hand = served.post("/api/card", {
        "name": "Weekly recommendations (by hand)", "display": "table",
        "visualization_settings": {}, "description": MENTION,
        "dataset_query": {"database": 1, "type": "native",
                          "native": {"query": "SELECT 1 AS hand"}},
    }, key=PM_KEY)
    before = served.get(f"/api/card/{hand['id']}")
    plan = served.run("plan", "--prune")
    assert plan.returncode == 0, plan.stderr
    assert f"card #{hand['id']}" in plan.stdout and "a mention is text" in plan.stdout
    assert served.run("apply", "--yes", "--prune", "--force").returncode == 0
    after = served.get(f"/api/card/{hand['id']}")
    for field in ("name", "description", "display", "collection_id", "archived",
                  "dataset_query"):
        assert after[field] == before[field], field
    assert served.cards_per_name()["Race check 0"] == 1  # its own card was created instead


def _card(served: Served, name: str) -> dict[str, object]:
    return next(c for c in served.live_cards() if c["name"] == name)


def test_a_marker_edited_to_another_declared_key_takes_nothing_over(served: Served) -> None:
    assert served.run("apply", "--yes").returncode == 0
    # the older of two cards gets the other's key: created first, it would win a plain tie
    edited, real = sorted((_card(served, "Race check 0"), _card(served, "Race check 1")),
                          key=lambda c: int(str(c["id"])))
    key = managed_key(str(real["description"]))
    assert key is not None
    served.put(f"/api/card/{edited['id']}", {"description": compose_description(None, key)})
    plan = served.run("plan")
    assert f"card #{edited['id']}" in plan.stdout and "edited by hand" in plan.stdout
    assert f"card {key} will be updated" not in plan.stdout  # the real card keeps its key
    assert served.run("apply", "--yes").returncode == 0
    assert served.get(f"/api/card/{real['id']}")["name"] == real["name"]
    kept = served.get(f"/api/card/{edited['id']}")
    assert kept["name"] == edited["name"] and kept["archived"] is False  # never overwritten
    assert managed_key(str(kept["description"])) == key
    assert served.run("plan", "--detailed-exitcode").returncode == 0


def test_two_cards_one_key_the_one_our_user_created_first_wins(served: Served) -> None:
    # someone else's card, older than ours, gets our card's marker pasted in by hand
    theirs = served.post("/api/card", {
        "name": "Someone's check", "display": "scalar", "visualization_settings": {},
        "description": "by hand",
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 2"}},
    }, key=PM_KEY)
    assert served.run("apply", "--yes").returncode == 0
    ours = _card(served, "Race check 2")
    assert int(str(ours["id"])) > theirs["id"]
    served.put(f"/api/card/{theirs['id']}", {"description": str(ours["description"])})
    served.put(f"/api/card/{ours['id']}", {"name": "Renamed by hand"})
    plan = served.run("plan")
    assert f"card #{theirs['id']}" in plan.stdout and "is the managed one" in plan.stdout
    assert served.run("apply", "--yes").returncode == 0
    assert served.get(f"/api/card/{ours['id']}")["name"] == "Race check 2"  # ours, updated
    untouched = served.get(f"/api/card/{theirs['id']}")
    assert untouched["name"] == "Someone's check" and untouched["archived"] is False


def test_switching_keys_warns_before_every_alert_is_made_twice(served: Served) -> None:
    from metabase_guard.sandbox.store import ADMIN_GROUP_ID

    assert served.run("apply", "--yes").returncode == 0
    with served.sb.lock:
        served.sb.store.add_api_key_user("mb_second_ci_key", "ci-2", ADMIN_GROUP_ID)
    plan = served.run("plan", METABASE_API_KEY="mb_second_ci_key")
    assert plan.returncode == 0, plan.stderr
    warnings = [line for line in plan.stdout.splitlines()
                if "apply will create a second one; run `metabase-guard import --card" in line]
    assert len(warnings) == 6, plan.stdout  # one per declared alert, each naming its twin


def test_non_admin_credentials_are_told_what_they_cannot_see(served: Served) -> None:
    plan = served.run("plan", METABASE_API_KEY=PM_KEY)
    assert plan.returncode == 0, plan.stderr
    assert "not a Metabase admin" in plan.stdout and "6 alert(s) to create" in plan.stdout


def test_a_ui_copy_never_takes_over_a_card_that_went_to_the_trash(served: Served) -> None:
    # the UI's "Duplicate": another user's card with our card's description, marker and all
    assert served.run("apply", "--yes").returncode == 0
    ours = _card(served, "Race check 2")
    copy = served.post("/api/card", {
        "name": "Copy of Race check 2", "display": "table", "visualization_settings": {},
        "description": str(ours["description"]),
        "dataset_query": {"database": 1, "type": "native", "native": {"query": "SELECT 3"}},
    }, key=PM_KEY)
    served.put(f"/api/card/{ours['id']}", {"archived": True})
    plan = served.run("plan")
    assert f"card #{copy['id']}" in plan.stdout and "is in the Trash" in plan.stdout
    assert "archived = true -> false" in plan.stdout  # the original is what comes back
    assert served.run("apply", "--yes").returncode == 0
    assert served.get(f"/api/card/{ours['id']}")["archived"] is False
    left = served.get(f"/api/card/{copy['id']}")
    assert (left["name"], left["display"], left["archived"]) == (
        "Copy of Race check 2", "table", False)  # never rewritten into the declared question
    assert "SELECT 3" in json.dumps(left["dataset_query"])  # the copy's query, either format
    again = served.run("plan", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout
