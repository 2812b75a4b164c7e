"""Card creates and query edits run their metadata query off the sandbox's lock, and overlap.

As Metabase does: metabase/metabase src/metabase/queries/models/card.clj (create-card!
computes the result metadata in its ``let``, before ``t2/with-transaction`` inserts),
src/metabase/queries_rest/api/card.clj (the PUT handler, after its permission checks) and
src/metabase/queries/models/card/metadata.clj (legacy-result-metadata-future).

A gated warehouse stands in for database 1: every query the sandbox runs on it enters
``Gate.run``, which counts how many are inside at once. Overlap is proven by that count (a
barrier that only fills when ``N`` queries are inside together), never by wall time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from metabase_guard.evaluation import QueryResult
from metabase_guard.sandbox import DEMO_SEED, Sandbox, SandboxServer, load_seed, serve
from metabase_guard.sandbox.store import ALL_USERS_GROUP_ID
from metabase_guard.sandbox.warehouse import Warehouse

N = 4
SQL = "SELECT n, label FROM t"
# A broken barrier means the N queries never were inside together: the creates were serialised.
# The bound only ends a failing test; a passing one never waits for it.
NEVER = 60.0
METADATA = [
    {"name": "n", "display_name": "n", "base_type": "type/BigInteger",
     "effective_type": "type/BigInteger", "semantic_type": None,
     "field_ref": ["field", "n", {"base-type": "type/BigInteger"}], "fingerprint": None},
    {"name": "label", "display_name": "label", "base_type": "type/Text",
     "effective_type": "type/Text", "semantic_type": None,
     "field_ref": ["field", "label", {"base-type": "type/Text"}], "fingerprint": None},
]


class Gate(Warehouse):
    """A warehouse whose queries count themselves in and may wait at a barrier or an event."""

    def __init__(self) -> None:
        super().__init__({"t": {"columns": {"n": "BIGINT", "label": "VARCHAR"},
                                "rows": [[1, "one"]]}})
        self._count = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.entries = 0
        self.barrier: threading.Barrier | None = None
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def run(self, sql: str, max_rows: int = 2000) -> QueryResult:
        with self._count:
            self.inside += 1
            self.entries += 1
            self.peak = max(self.peak, self.inside)
        self.entered.set()
        try:
            if self.barrier is not None:
                self.barrier.wait(NEVER)
            if self.hold is not None:
                assert self.hold.wait(NEVER), "the test never released the query"
            return super().run(sql, max_rows)
        finally:
            with self._count:
                self.inside -= 1


@pytest.fixture
def gated() -> Iterator[tuple[Sandbox, SandboxServer, Gate]]:
    sandbox = Sandbox(seed=load_seed(DEMO_SEED))
    gate = Gate()
    sandbox.store.warehouses[1] = gate  # database 1's queries now run on the gate
    with serve(sandbox) as server:
        yield sandbox, server, gate


def _session(server: SandboxServer) -> requests.Session:
    session = requests.Session()
    session.headers["x-api-key"] = server.api_key
    return session


def _card(name: str, sql: str = SQL, **extra: Any) -> dict[str, Any]:
    return {"name": name, "display": "table", "visualization_settings": {},
            "dataset_query": {"database": 1, "type": "native", "native": {"query": sql}}, **extra}


def _create(server: SandboxServer, body: dict[str, Any]) -> requests.Response:
    return _session(server).post(server.url + "/api/card", json=body, timeout=NEVER * 2)


def test_concurrent_creates_run_their_metadata_queries_at_once(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    sandbox, server, gate = gated
    gate.barrier = threading.Barrier(N)

    with ThreadPoolExecutor(N) as pool:
        answers = list(pool.map(lambda i: _create(server, _card(f"Card {i}")), range(N)))
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    assert gate.peak == N and not gate.barrier.broken
    made = [a.json() for a in answers]
    assert all(card["result_metadata"] == METADATA for card in made)
    # ids are handed out under the lock, one each, in the order the inserts happened
    ids = sorted(card["id"] for card in made)
    assert ids == list(range(ids[0], ids[0] + N))
    stored = {card["id"]: sandbox.store.rows["cards"][card["id"]]["name"] for card in made}
    assert stored == {card["id"]: card["name"] for card in made}
    assert [(r.method, r.route, r.status, r.injected) for r in sandbox.requests] == [
        ("POST", "/api/card", 200, False)] * N


def test_a_create_answers_as_before_without_concurrency(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    _, server, gate = gated
    card = _create(server, _card("Alone")).json()
    assert card["result_metadata"] == METADATA and gate.entries == 1
    read = _session(server).get(server.url + f"/api/card/{card['id']}", timeout=NEVER).json()
    assert read["result_metadata"] == METADATA
    failing = _create(server, _card("Bad", "SELECT nope FROM t"))
    assert failing.status_code == 200 and failing.json()["result_metadata"] is None


def test_validation_and_permission_errors_come_before_any_query(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    _, server, gate = gated
    no_name = _create(server, _card(""))
    assert no_name.status_code == 400 and "name" in no_name.json()["errors"]
    missing = _create(server, _card("X", collection_id=999_999))
    assert (missing.status_code, missing.text) == (404, "Not found.")
    body = _card("X")
    body["dataset_query"]["database"] = 999
    assert _create(server, body).status_code == 404
    assert gate.entries == 0


def test_a_database_gone_while_the_query_ran_is_a_404_and_no_card(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    sandbox, server, gate = gated
    gate.hold = threading.Event()
    before = len(sandbox.store.rows["cards"])
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_create, server, _card("Late"))
        assert gate.entered.wait(NEVER)
        with sandbox.lock:  # the query is running and holds no lock of the sandbox
            sandbox.store.delete("databases", 1)
        gate.hold.set()
        answer = pending.result()
    assert (answer.status_code, answer.text) == (404, "Not found.")
    assert len(sandbox.store.rows["cards"]) == before


def test_write_permission_lost_while_the_query_ran_is_a_403_and_no_card(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    sandbox, server, gate = gated
    with sandbox.lock:
        analyst = sandbox.store.add_api_key_user("mb_analyst_key", "analyst", ALL_USERS_GROUP_ID)
    session = requests.Session()
    session.headers["x-api-key"] = "mb_analyst_key"
    gate.hold = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(session.post, server.url + "/api/card", json=_card("Late"),
                              timeout=NEVER * 2)
        assert gate.entered.wait(NEVER)
        with sandbox.lock:  # now a View-only user (a group's Curate taken away)
            sandbox.store.view_only.add(analyst["id"])
        gate.hold.set()
        answer = pending.result()
    assert (answer.status_code, answer.text) == (403, "You don't have permissions to do that.")
    assert all(c["name"] != "Late" for c in sandbox.store.rows["cards"].values())


def test_a_query_edit_runs_off_the_lock_and_other_edits_do_not_query(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    _, server, gate = gated
    card = _create(server, _card("Edited")).json()
    renamed = _session(server).put(server.url + f"/api/card/{card['id']}", json={"name": "Renamed"},
                          timeout=NEVER)
    assert renamed.status_code == 200 and gate.entries == 1
    gate.barrier = threading.Barrier(2)

    def edit(sql: str) -> requests.Response:
        return _session(server).put(server.url + f"/api/card/{card['id']}", json={
            "dataset_query": {"database": 1, "type": "native", "native": {"query": sql}}},
            timeout=NEVER * 2)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(edit, ["SELECT n FROM t", "SELECT label FROM t"]))
    assert [a.status_code for a in answers] == [200, 200] and gate.peak == 2
    assert [a.json()["result_metadata"] for a in answers] == [METADATA[:1], METADATA[1:]]


def test_an_after_commit_failure_on_a_create_keeps_the_card(
    gated: tuple[Sandbox, SandboxServer, Gate],
) -> None:
    sandbox, server, _ = gated
    sandbox.inject_failure("POST", r"^/api/card$", 502, after_commit=True)
    answer = _create(server, _card("Kept"))
    assert (answer.status_code, answer.text) == (502, "Injected failure (502)")
    assert [c["result_metadata"] for c in sandbox.store.rows["cards"].values()
            if c["name"] == "Kept"] == [METADATA]
    assert [(r.route, r.status, r.injected) for r in sandbox.requests] == [
        ("/api/card", 502, True)]
