"""Collections are created level by level (siblings concurrently), each under the right parent."""

from __future__ import annotations

from metabase_guard.api.models import Collection
from tests.e2e.conftest import Env

PATHS = ["Checks/A/X", "Checks/B", "Checks/C", "Other", "Checks/A/Y"]


def _question(i: int, path: str) -> str:
    return "\n".join([
        f"  - key: level-{i}",
        f"    name: Level check {i}",
        f"    collection: {path}",
        "    database: Warehouse",
        "    sql: SELECT count(*) AS c FROM recommendations",
        "    display: scalar",
        "",
    ])


def test_nested_paths_are_made_once_each_under_their_parent(env: Env) -> None:
    for old in env.alerts.glob("*.yaml"):
        old.unlink()
    (env.alerts / "levels.yaml").write_text(
        "questions:\n" + "".join(_question(i, p) for i, p in enumerate(PATHS)))
    applied = env.run("apply", "--yes", "--concurrency", "4")
    assert applied.code == 0, applied.err
    client = env.client()
    made = [c for c in client.collections.list() if not c.archived and isinstance(c.id, int)
            and c.personal_owner_id is None]
    by_id = {int(c.id): c for c in made}

    def path_of(c: Collection) -> str:
        parts = [c.name]
        parent = c.parent_id
        while parent is not None:
            parts.insert(0, by_id[parent].name)
            parent = by_id[parent].parent_id
        return "/".join(parts)

    paths = sorted(path_of(c) for c in made)
    expected = ["Checks", "Checks/A", "Checks/A/X", "Checks/A/Y", "Checks/B", "Checks/C",
                "Other"]
    assert [p for p in paths if p in expected] == expected  # each once, under its parent
    cards = {c.name: c for c in client.cards.list()}
    for i, path in enumerate(PATHS):
        assert path_of(by_id[cards[f"Level check {i}"].collection_id]) == path
    before = env.writes()
    assert env.run("apply", "--yes").code == 0
    assert env.writes() == before
