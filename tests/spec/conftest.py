"""Fixtures for the declaration tests."""

from __future__ import annotations

import pytest

from metabase_guard.spec import schedule


@pytest.fixture(autouse=True)
def _fresh_cron_memo() -> None:
    """Empty ``schedule._canonical_cron``'s memo before each test.

    mutmut forks each mutant from a process that already ran the tests: with the memo warm, a
    mutated ``_canonical_field`` (or anything it calls) never ran for an expression seen before,
    and its mutant "survived" (the same trap as lint's ``cron_slots``, docs/testing.md).
    """
    schedule._canonical_cron.cache_clear()
