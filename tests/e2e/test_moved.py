"""``moved:`` through the CLI against the sandbox: a move writes the card it re-keys, or nothing.

A move is planned on a snapshot in which the old card already carries its new key. When the
plan then pairs the new key with another card (a second move to the same key, or the key's
card restored from the Trash), the marker rewrite would land on that other card while the
re-keyed one keeps its old key: plan and apply refuse, naming both cards, and write nothing.
"""

from __future__ import annotations

from pathlib import Path

from metabase_guard.api.client import MetabaseClient
from metabase_guard.reconcile.identity import compose_description, managed_key
from tests.e2e.conftest import Env


def _question(key: str, name: str, number: int) -> str:
    return (f"  - key: {key}\n    name: {name}\n    collection: Health checks\n"
            f"    database: Warehouse\n    sql: SELECT {number} AS n\n    display: scalar\n")


def _declare(folder: Path, *questions: str, moves: tuple[tuple[str, str], ...] = ()) -> Path:
    folder.mkdir(exist_ok=True)
    text = "questions:\n" + "".join(questions)
    if moves:
        text += "moved:\n" + "".join(f"  - {{from: {a}, to: {b}}}\n" for a, b in moves)
    (folder / "checks.yaml").write_text(text)
    return folder


def _keys(env: Env) -> dict[int, str | None]:
    with env.client() as client:
        return {c.id: managed_key(c.description) for c in client.cards.list()}


def _ids(env: Env) -> dict[str, int]:
    return {key: card_id for card_id, key in _keys(env).items() if key}


def test_two_moves_to_one_key_are_refused_naming_both_cards(env: Env, tmp_path: Path) -> None:
    folder = _declare(tmp_path / "decl", _question("first", "First", 1),
                      _question("second", "Second", 2))
    assert env.run("apply", "--yes", str(folder)).code == 0
    ids = _ids(env)
    _declare(folder, _question("merged", "Merged", 3),
             moves=(("first", "merged"), ("second", "merged")))
    before, keys = env.writes(), _keys(env)

    # the plan gives 'merged' to the older card (lowest id); the apply created the two cards
    # side by side, so either may be older, and the move of the younger one is refused
    older, younger = sorted(ids.values())
    refused = next(key for key, card_id in ids.items() if card_id == younger)
    for command in (("plan",), ("apply", "--yes")):
        result = env.run(*command, str(folder))
        assert result.code == 1, result.both
        assert (f"moved: {refused!r} -> 'merged': the plan writes 'merged' to card #{older}, "
                f"not to card #{younger}, the card this move re-keys") in result.err, result.err
        assert "Traceback" not in result.err
    assert env.writes() == before
    assert _keys(env) == keys


def test_a_move_onto_a_key_restored_from_the_trash_is_refused(env: Env, tmp_path: Path) -> None:
    # 'target' was ours and is in the Trash; the PM's card, adopted as 'adopted', moves onto it.
    # The key's card in the Trash is the one the plan restores: the move would rewrite that one.
    folder = _declare(tmp_path / "decl", _question("target", "Target", 1))
    assert env.run("apply", "--yes", str(folder)).code == 0
    ours = _ids(env)["target"]
    pm = MetabaseClient(env.mb.url, username="pm@example.com", password="priya")
    with pm, env.client() as client:
        client.cards.archive(ours)
        theirs = pm.cards.create({
            "name": "Clicked", "display": "scalar",
            "description": compose_description("Made in the UI", "adopted"),
            "dataset_query": {"type": "native", "database": pm.databases.by_name("Warehouse").id,
                              "native": {"query": "SELECT 2 AS n"}},
            "visualization_settings": {}}).id
    _declare(folder, _question("target", "Target", 1), moves=(("adopted", "target"),))
    before = env.writes()

    result = env.run("apply", "--yes", str(folder))

    assert result.code == 1, result.both
    assert (f"moved: 'adopted' -> 'target': the plan writes 'target' to card #{ours}, not to "
            f"card #{theirs}, the card this move re-keys") in result.err, result.err
    assert env.writes() == before
    with env.client() as client:
        assert client.cards.get(ours).archived
        assert managed_key(client.cards.get(theirs).description) == "adopted"
