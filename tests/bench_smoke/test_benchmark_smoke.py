"""The benchmark at N=10 and N=30 with no latency: its request-count invariants, not its times.

The large sizes run on demand (``python benchmarks/run.py``); see docs/benchmarks.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.run import bench_guard, table


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, Any]]:
    return {n: bench_guard(n, latency=0.0, pool=8, hand_cards=200, hand_alerts=20,
                           in_process=True) for n in (10, 30)}


def test_plan_requests_do_not_grow_with_n(runs: dict[int, dict[str, Any]]) -> None:
    counts = {n: r["rows"]["cold plan"]["server_requests"] for n, r in runs.items()}
    assert counts[10] == counts[30] <= 12, counts
    for r in runs.values():
        for label in ("cold plan", "plan, no change"):
            assert r["rows"][label]["writes"] == 0


def test_one_write_per_changed_object_and_none_when_unchanged(
    runs: dict[int, dict[str, Any]],
) -> None:
    for n, r in runs.items():
        rows = r["rows"]
        created = rows["apply, create all"]
        assert created["writes"] == created["changes"] == created["done"]
        # N cards, N alerts and the collections (Benchmarks, Benchmarks/Group 00)
        assert created["changes"] == 2 * n + 2
        assert rows["apply, no change"]["writes"] == 0
        assert rows["apply, no change"]["changes"] == 0
        updated = rows["apply, 10% changed"]
        assert updated["writes"] == updated["changed_objects"] == updated["changes"] > 0
        assert all(row["hand_made_touched"] == 0 for row in rows.values())


def test_the_table_renders(runs: dict[int, dict[str, Any]]) -> None:
    text = table(list(runs.values()), 0.0, 8)
    assert text.count("\n| 10 |") == 5 and text.count("\n| 30 |") == 5
