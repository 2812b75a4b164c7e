"""How a write phase runs (``WriteContext.phase``) and what a plan is built with (``Plan.build``,
``Plan.raise_if_unsafe``): pure, with plain callables for the writes.

A phase that is not parallel, or has one worker, writes in the caller's thread, one change after
another; a parallel one keeps its pool full, starting the next change as soon as any finishes.
"""

from __future__ import annotations

import threading

import pytest

from metabase_guard.errors import UnsafePlanError
from metabase_guard.reconcile.plan import Change, Plan, Thresholds
from tests.reconcile.test_writes_rules import _change, _ctx


@pytest.mark.parametrize(("concurrency", "parallel"), [(1, True), (4, False)])
def test_a_phase_without_a_pool_writes_in_the_callers_thread(concurrency: int,
                                                           parallel: bool) -> None:
    events: list[tuple[str, str, str | None]] = []
    ctx = _ctx(concurrency, events)
    threads: list[threading.Thread] = []
    ctx.phase([_change(i) for i in range(3)], lambda c: threads.append(threading.current_thread()),
              parallel=parallel)
    assert threads == [threading.current_thread()] * 3
    assert events == [(f"card c{i}", state, None) for i in range(3) for state in ("start", "done")]


def test_a_parallel_phase_starts_the_next_change_as_soon_as_one_finishes() -> None:
    ctx = _ctx(concurrency=2)
    third_started = threading.Event()
    saw: list[bool] = []

    def write(change: Change) -> None:
        assert threading.current_thread() is not threading.main_thread()
        if change.key == "c1":  # held until c2 runs, which needs c0's slot freed
            saw.append(third_started.wait(10))
        if change.key == "c2":
            third_started.set()

    ctx.phase([_change(i) for i in range(3)], write)
    assert saw == [True]
    assert sorted(c.key for c in ctx.report.done) == ["c0", "c1", "c2"] and ctx.report.ok


def test_a_change_written_after_one_made_elsewhere_is_done() -> None:
    ctx = _ctx()
    first, second = _change(0), _change(1)

    def write(change: Change) -> None:
        if change is first:
            ctx.made_elsewhere(change)

    ctx.phase([first, second], write)
    assert ctx.report.made_elsewhere == [first]
    assert ctx.report.done == [second]


def _plan(changes: list[Change], existing: int, **extra: object) -> Plan:
    return Plan.build(url="http://mb", version="v0.61.2", timezone="UTC", changes=changes,
                      existing=existing, **extra)  # type: ignore[arg-type]


def test_a_plan_is_not_a_prune_unless_asked_and_lists_pending_deletes_by_address() -> None:
    pending = [Change("delete", "card", f"card {k}", key=k) for k in ("zeta", "alpha", "mid")]
    plan = _plan([], 3, pending_deletes=pending)
    assert plan.prune is False
    assert [c.key for c in plan.pending_deletes] == ["alpha", "mid", "zeta"]
    assert _plan([], 3, prune=True).prune is True


def test_an_update_share_above_the_threshold_is_refused_in_words() -> None:
    updates = [Change("update", "card", f"card c{i}", key=f"c{i}") for i in range(4)]
    with pytest.raises(UnsafePlanError) as raised:
        _plan(updates, 10).raise_if_unsafe(Thresholds())
    assert str(raised.value) == (
        "the plan would update 4 of 10 managed objects (40%, above the 30% threshold); "
        "review it and rerun with --force if it is intended")
    _plan(updates[:3], 10).raise_if_unsafe(Thresholds())
